"""End to end: the real ``liqtui --demo`` command in a real terminal (tmux), driven by keys, read back with
capture-pane. Uses a private tmux socket so it never touches anyone's sessions; skips without tmux."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
FIRST_FRAME_TIMEOUT = 90.0
KEY_TIMEOUT = 20.0
ZONE_ROW = re.compile(r"\d[\d,.]*k?–\d[\d,.]*k?\s+\$\d[\d.]*[KMB]")


class Pane:
    """One detached tmux session on a private socket."""

    def __init__(self, socket: str, session: str) -> None:
        self.socket, self.session = socket, session

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            [TMUX, "-L", self.socket, *args], check=False, capture_output=True, text=True, timeout=15
        )
        return out.stdout

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def press(self, *keys: str) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", self.session, k)

    def wait_for(self, predicate, what: str, timeout: float = KEY_TIMEOUT) -> str:
        """Poll capture-pane until ``predicate(text)`` holds (no fixed sleeps); fail with the screen."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{text}")


@pytest.fixture
def pane(tmp_path):
    if TMUX is None:
        pytest.skip("tmux is not installed")
    liqtui = shutil.which("liqtui")
    cmd = [liqtui] if liqtui else [sys.executable, "-m", "liqtui"]
    cfg = Path(os.environ["LIQTUI_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("", encoding="utf-8")  # an empty config: all defaults, never the developer's own
    env = {
        "TERM": "xterm-256color",
        "LIQTUI_CONFIG": str(cfg),
        "LIQTUI_DATA": os.environ["LIQTUI_DATA"],
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    shell = " ".join(
        [
            "env",
            "-i",
            *(shlex.quote(f"{k}={v}") for k, v in env.items()),
            *map(shlex.quote, cmd),
            "--demo",
            "--seed",
            "7",
            "--no-store",
            "--log-file",
            shlex.quote(str(tmp_path / "liqtui.log")),
        ]
    )
    p = Pane(f"liqtui-e2e-{uuid.uuid4().hex[:8]}", "e2e")
    p.tmux(
        "new-session",
        "-d",
        "-s",
        p.session,
        "-x",
        "160",
        "-y",
        "48",
        f"{shell}; echo LIQTUI_EXIT=$?; sleep 600",
    )
    socket_path = p.tmux("display-message", "-p", "#{socket_path}").strip()
    try:
        yield p
    finally:
        p.tmux("kill-server")
        if socket_path.endswith(p.socket):  # our private socket only: tmux leaves the file behind
            Path(socket_path).unlink(missing_ok=True)


def test_demo_first_frame_keys_zones_and_clean_quit(pane):
    screen = pane.wait_for(
        lambda t: "lookback 1d" in t and "Above price — squeeze zones" in t and bool(ZONE_ROW.search(t)),
        "the first frame with zones",
        FIRST_FRAME_TIMEOUT,
    )
    assert "Below price — flush zones" in screen
    assert "live price" in screen  # the anchor label
    assert "binance" in screen

    pane.press("3")
    pane.wait_for(lambda t: "lookback 3d" in t, "lookback 3d")
    pane.press("1")
    screen = pane.wait_for(lambda t: "lookback 12h" in t, "lookback 12h")
    above, _, below = screen.partition("Below price — flush zones")
    assert "Above price — squeeze zones" in above and below.strip()

    pane.press("f")
    pane.wait_for(lambda t: "FROZEN" in t, "FROZEN")
    pane.press("f")
    pane.wait_for(lambda t: "FROZEN" not in t, "unfrozen")

    pane.press("T")
    pane.wait_for(lambda t: "thr 60%" in t, "threshold up")
    pane.press("?")
    pane.wait_for(lambda t: "liqtui — keys" in t, "the help screen")
    pane.press("Escape")
    pane.wait_for(lambda t: "liqtui — keys" not in t, "help closed")

    # live resize to 80x24: the compact layout keeps the anchor, the heatmap and the top zones
    pane.tmux("resize-window", "-t", pane.session, "-x", "80", "-y", "24")
    # wait for the whole compact frame (zones, the anchor label and the anchor row on the axis): the panels
    # re-render one after another after a resize, so any one of them alone can be a frame early
    screen = pane.wait_for(
        lambda t: "▲ Above — squeeze" in t and "▼ Below — flush" in t and "live price" in t and "◀" in t,
        "the compact layout with the price anchor",
    )
    assert max(len(line) for line in screen.splitlines()) <= 80

    pane.press("q")
    screen = pane.wait_for(lambda t: "LIQTUI_EXIT=" in t, "the process to exit", 30.0)
    assert "LIQTUI_EXIT=0" in screen
    assert "Traceback" not in screen
    assert "Above price" not in screen  # the alternate screen is gone: the terminal is left clean
