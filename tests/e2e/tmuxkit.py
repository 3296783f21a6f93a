"""What the end-to-end tests share: a tmux server on a private socket (never anyone's own sessions, no user
tmux.conf), the real ``liqtui`` command with a clean environment, and waiting for what a pane shows."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

TMUX = shutil.which("tmux")
KEY_TIMEOUT = 20.0


def liqtui_cmd() -> list[str]:
    """The ``liqtui`` entry point installed beside this interpreter (not whichever is first on PATH: another
    environment's may be older or broken), else this interpreter's ``-m liqtui``."""
    here = Path(sys.executable).parent / "liqtui"
    if here.is_file():
        return [str(here)]
    return [sys.executable, "-m", "liqtui"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment the app runs in: an empty config (all defaults, never the developer's own) and the
    test's data dir (the autouse fixture in tests/conftest.py points ``LIQTUI_DATA`` at a temporary folder)."""
    cfg = Path(os.environ["LIQTUI_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("", encoding="utf-8")
    return {
        "TERM": "xterm-256color",
        "LIQTUI_CONFIG": str(cfg),
        "LIQTUI_DATA": os.environ["LIQTUI_DATA"],
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }


def demo_shell(env: dict[str, str], log_file: Path) -> str:
    """A shell line running ``liqtui --demo --seed 7 --no-store`` under ``env`` only (``env -i``: no TMUX, so
    the app does not send its own tmux messages), then printing its exit code and staying open to be read."""
    return " ".join(
        [
            "env",
            "-i",
            *(shlex.quote(f"{k}={v}") for k, v in env.items()),
            *map(shlex.quote, liqtui_cmd()),
            "--demo",
            "--seed",
            "7",
            "--no-store",
            "--log-file",
            shlex.quote(str(log_file)),
            "; echo LIQTUI_EXIT=$?; sleep 600",
        ]
    )


class Pane:
    """One session of a tmux server on a private socket (``-L``), started without any tmux.conf."""

    def __init__(self, session: str, prefix: str = "liqtui-e2e") -> None:
        self.socket, self.session = f"{prefix}-{uuid.uuid4().hex[:8]}", session
        self.socket_path: str | None = None

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        out = subprocess.run(
            [TMUX, "-f", "/dev/null", "-L", self.socket, *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=15,
        )
        return out.stdout

    def start(self, command: str, width: int, height: int, *env: str) -> None:
        """``new-session`` running ``command`` (``env``: ``NAME=value`` for the session environment)."""
        extra = [a for kv in env for a in ("-e", kv)]
        self.tmux(
            "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), *extra, command
        )
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip() or None

    def kill(self) -> None:
        """Stop the server and remove its socket file (tmux leaves it behind); our private socket only."""
        self.tmux("kill-server")
        if self.socket_path and self.socket_path.endswith(self.socket):
            Path(self.socket_path).unlink(missing_ok=True)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def press(self, *keys: str) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", self.session, k)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = KEY_TIMEOUT) -> str:
        """Poll capture-pane until ``predicate(text)`` holds (no fixed sleeps); fail with the screen."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; screen was:\n{text}")
