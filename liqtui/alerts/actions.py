"""Where an alert goes: a toast (handed back to the UI), the terminal bell, a desktop notification through OSC
9 / 777 / 99 escape sequences (wrapped for tmux passthrough inside tmux), ``tmux display-message``, and a
command of the user's that receives the alert as one JSON object on stdin.

Nothing here blocks the caller: terminal writes are one short string through ``write``; ``tmux`` and the user
command run as asyncio subprocesses (a thread when no loop runs), each with a timeout; a failure is logged,
never raised. Inside tmux, the OSC sequences reach the outer terminal only with ``set -g allow-passthrough on``
(tmux ≥ 3.3); the bell needs nothing (tmux turns it into its bell flag).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

import msgspec

from liqtui.alerts.evaluator import Alert
from liqtui.alerts.rules import AlertRule

__all__ = ["Notifier", "osc_sequences", "tmux_passthrough"]

log = logging.getLogger("liqtui.alerts")

BEL = "\a"
ST = "\x1b\\"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str, *, semicolons: bool = True) -> str:
    """Text safe inside an OSC string: no control characters (no way to end the sequence early)."""
    out = _CONTROL.sub(" ", text)
    return out if semicolons else out.replace(";", ",")


def osc_sequences(title: str, body: str, codes: Sequence[int] = (9,)) -> list[str]:
    """The desktop-notification escape sequences for ``codes``: OSC 9 (iTerm2, WezTerm, kitty, foot, Windows
    Terminal, ghostty), OSC 777 (``notify;title;body``: rxvt-unicode, foot, WezTerm, ghostty), OSC 99 (kitty's
    protocol, title and body as two parts of one notification)."""
    out = []
    for code in codes:
        if code == 9:
            out.append(f"\x1b]9;{_clean(title)}: {_clean(body)}{BEL}")
        elif code == 777:
            out.append(
                f"\x1b]777;notify;{_clean(title, semicolons=False)};{_clean(body, semicolons=False)}{BEL}"
            )
        elif code == 99:
            out.append(f"\x1b]99;i=liqtui:d=0:p=title;{_clean(title)}{ST}")
            out.append(f"\x1b]99;i=liqtui:d=1:p=body;{_clean(body)}{ST}")
        else:
            raise ValueError(f"unknown OSC notification code {code}; allowed: 9, 777, 99")
    return out


def tmux_passthrough(seq: str) -> str:
    """``seq`` wrapped so tmux hands it to the outer terminal: ``ESC P tmux; <seq, ESC doubled> ESC \\``."""
    return "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + ST


def _stdout_write(text: str) -> None:
    stream = sys.__stdout__
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(text)
        stream.flush()


class Notifier:
    """Runs a rule's actions for an alert.

    ``write`` receives what goes to the terminal (bell, OSC); default: the real stdout. ``toast`` receives the
    alert for the UI's notification (``app.notify``) — without it, toasts are dropped. ``env`` decides whether
    we are inside tmux (``$TMUX``). ``tmux`` is the tmux executable. Commands and tmux calls run in the
    background; :meth:`drain` waits for them (tests, shutdown). ``failures`` counts the failed ones.
    """

    def __init__(
        self,
        *,
        write: Callable[[str], None] | None = None,
        toast: Callable[[Alert], None] | None = None,
        env: Mapping[str, str] | None = None,
        tmux: str = "tmux",
    ) -> None:
        self.write = write or _stdout_write
        self.toast = toast
        self.env = os.environ if env is None else env
        self.tmux = tmux
        self.failures = 0
        self.runs = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads: list[threading.Thread] = []

    @property
    def in_tmux(self) -> bool:
        return bool(self.env.get("TMUX"))

    def fire(self, alert: Alert, rule: AlertRule) -> None:
        """Every action of ``rule`` for ``alert``; returns at once (subprocesses run in the background)."""
        title = f"liqtui {alert.symbol}: {alert.name}"
        for action in rule.actions:
            try:
                if action == "toast":
                    if self.toast is not None:
                        self.toast(alert)
                elif action == "bell":
                    self.write(BEL)
                elif action == "osc":
                    seqs = osc_sequences(title, alert.text, rule.osc)
                    if self.in_tmux:
                        seqs = [tmux_passthrough(s) for s in seqs]
                    self.write("".join(seqs))
                elif action == "tmux":
                    if self.in_tmux:
                        argv = [self.tmux, "display-message", "-d", "5000", alert.text.replace("#", "##")]
                        self._spawn(argv, None, 5.0, "tmux display-message")
                elif action == "command":
                    payload = msgspec.json.encode(alert) + b"\n"
                    self._spawn(
                        rule.command, payload, rule.command_timeout_s, f"alert command {rule.command!r}"
                    )
            except Exception:  # an action never takes the caller down
                self.failures += 1
                log.exception("alert action %s failed", action)

    # ------------------------------------------------------------------------------------ subprocesses
    def _spawn(self, cmd: str | list[str], stdin: bytes | None, timeout: float, what: str) -> None:
        self.runs += 1
        argv = shlex.split(cmd) if isinstance(cmd, str) else cmd
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            t = threading.Thread(target=self._run_sync, args=(argv, stdin, timeout, what), daemon=True)
            self._threads.append(t)
            t.start()
            return
        task = loop.create_task(self._run_async(argv, stdin, timeout, what), name=f"alert:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, what: str, why: str) -> None:
        self.failures += 1
        log.warning("%s failed: %s", what, why)

    async def _run_async(self, argv: list[str], stdin: bytes | None, timeout: float, what: str) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._failed(what, f"cannot start: {exc}")
            return
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancel on 3.11
                _, err = await proc.communicate(stdin)
        except TimeoutError:
            self._failed(what, f"no exit within {timeout:g}s; killed")
            return
        except (BrokenPipeError, ConnectionResetError) as exc:  # the command did not read its stdin
            await proc.wait()
            if proc.returncode:
                self._failed(what, f"exit status {proc.returncode} ({exc})")
            return
        finally:
            if proc.returncode is None:  # timed out or cancelled: never leave it running
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(proc.wait())
        if proc.returncode:
            tail = err.decode(errors="replace").strip()[-300:]
            self._failed(what, f"exit status {proc.returncode}" + (f": {tail}" if tail else ""))

    def _run_sync(self, argv: list[str], stdin: bytes | None, timeout: float, what: str) -> None:
        try:
            res = subprocess.run(
                argv,
                input=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self._failed(what, f"no exit within {timeout:g}s; killed")
        except OSError as exc:
            self._failed(what, f"cannot start: {exc}")
        else:
            if res.returncode:
                tail = res.stderr.decode(errors="replace").strip()[-300:]
                self._failed(what, f"exit status {res.returncode}" + (f": {tail}" if tail else ""))

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the background commands (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for t in list(self._threads):
            await asyncio.to_thread(t.join, timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def cancel(self) -> None:
        """Stop waiting for background commands (their processes are killed when the task is cancelled)."""
        for t in list(self._tasks):
            t.cancel()
