"""Where alerts go: terminal sequences (captured through the writer), tmux passthrough, and real subprocesses for
the user command (JSON on stdin) and ``tmux display-message``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import msgspec
import pytest

from liqtui.alerts.actions import Notifier, osc_sequences, tmux_passthrough
from liqtui.alerts.evaluator import Alert
from liqtui.alerts.rules import AlertRule

ALERT = Alert(
    ts=1_700_000_000_000, symbol="BTC", kind="near_zone", rule=0, name="near_zone", side="above",
    text="BTC 97,235: 0.80% from the $182M squeeze zone 98,010–98,900", price=97235.0, zone_low=98010.0,
    zone_high=98900.0, distance_pct=0.8, usd=182e6,
)  # fmt: skip


def rule(*actions: str, **kw: object) -> AlertRule:
    return AlertRule(kind="near_zone", actions=list(actions), **kw)  # type: ignore[arg-type]  # Struct kwargs


def test_osc_sequences_exact() -> None:
    assert osc_sequences("liqtui BTC", "near; zone", [9]) == ["\x1b]9;liqtui BTC: near; zone\a"]
    assert osc_sequences("liqtui BTC", "near; zone", [777]) == ["\x1b]777;notify;liqtui BTC;near, zone\a"]
    assert osc_sequences("t", "b", [99]) == [
        "\x1b]99;i=liqtui:d=0:p=title;t\x1b\\",
        "\x1b]99;i=liqtui:d=1:p=body;b\x1b\\",
    ]
    # control characters cannot end the sequence early
    assert osc_sequences("t", "a\x07b\x1b]c", [9]) == ["\x1b]9;t: a b ]c\a"]
    with pytest.raises(ValueError, match="unknown OSC notification code 8; allowed: 9, 777, 99"):
        osc_sequences("t", "b", [8])


def test_tmux_passthrough_doubles_escapes() -> None:
    assert tmux_passthrough("\x1b]9;hi\a") == "\x1bPtmux;\x1b\x1b]9;hi\a\x1b\\"
    assert tmux_passthrough("\x1b]99;p\x1b\\") == "\x1bPtmux;\x1b\x1b]99;p\x1b\x1b\\\x1b\\"


def test_bell_osc_and_toast_outside_tmux() -> None:
    out: list[str] = []
    toasts: list[Alert] = []
    n = Notifier(write=out.append, toast=toasts.append, env={})
    n.fire(ALERT, rule("toast", "bell", "osc", osc=[9, 777]))
    assert toasts == [ALERT]
    assert out == [
        "\a",
        f"\x1b]9;liqtui BTC: near_zone: {ALERT.text}\a\x1b]777;notify;liqtui BTC: near_zone;{ALERT.text}\a",
    ]


def test_osc_wrapped_inside_tmux_and_bell_left_plain() -> None:
    out: list[str] = []
    n = Notifier(write=out.append, env={"TMUX": "/tmp/tmux-0/default,1,0"})
    n.fire(ALERT, rule("bell", "osc"))
    plain = f"\x1b]9;liqtui BTC: near_zone: {ALERT.text}\a"
    assert out == ["\a", "\x1bPtmux;" + plain.replace("\x1b", "\x1b\x1b") + "\x1b\\"]


def _recorder(tmp_path: Path, exit_code: int = 0, sleep_s: float = 0.0) -> str:
    """A real command: copies its stdin to a file, optionally sleeps, exits with ``exit_code``."""
    script = tmp_path / "rec.py"
    script.write_text(
        "import sys, time, pathlib\n"
        "data = sys.stdin.buffer.read()\n"
        f"pathlib.Path({str(tmp_path / 'got.json')!r}).write_bytes(data)\n"
        f"time.sleep({sleep_s})\n"
        f"sys.exit({exit_code})\n"
    )
    return f"{sys.executable} {script}"


async def test_command_receives_the_alert_as_one_json_object(tmp_path: Path) -> None:
    n = Notifier(write=lambda s: None, env={})
    t0 = time.monotonic()
    n.fire(ALERT, rule("command", command=_recorder(tmp_path)))
    assert time.monotonic() - t0 < 0.5  # fire returns at once; the command runs in the background
    await n.drain(timeout=30)
    doc = json.loads((tmp_path / "got.json").read_text())
    assert doc == msgspec.to_builtins(ALERT)
    assert (doc["symbol"], doc["zone_low"], doc["zone_high"], doc["usd"], doc["distance_pct"]) == (
        "BTC", 98010.0, 98900.0, 182e6, 0.8,
    )  # fmt: skip
    assert n.failures == 0


async def test_a_failing_command_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier(write=lambda s: None, env={})
    with caplog.at_level(logging.WARNING, logger="liqtui.alerts"):
        n.fire(ALERT, rule("command", command=_recorder(tmp_path, exit_code=7)))
        n.fire(ALERT, rule("command", command=str(tmp_path / "no-such-program")))
        await n.drain(timeout=30)
    assert n.failures == 2
    assert "exit status 7" in caplog.text and "cannot start" in caplog.text


async def test_a_hanging_command_is_killed_at_its_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier(write=lambda s: None, env={})
    with caplog.at_level(logging.WARNING, logger="liqtui.alerts"):
        n.fire(ALERT, rule("command", command=_recorder(tmp_path, sleep_s=60), command_timeout_s=0.5))
        t0 = time.monotonic()
        await n.drain(timeout=30)
    assert time.monotonic() - t0 < 20
    assert n.failures == 1 and "no exit within 0.5s; killed" in caplog.text


def test_command_without_an_event_loop_runs_in_a_thread(tmp_path: Path) -> None:
    n = Notifier(write=lambda s: None, env={})
    n.fire(ALERT, rule("command", command=_recorder(tmp_path)))
    asyncio.run(n.drain(timeout=30))
    assert json.loads((tmp_path / "got.json").read_text())["text"] == ALERT.text


async def test_tmux_display_message_only_inside_tmux(tmp_path: Path) -> None:
    log = tmp_path / "argv.json"
    fake = tmp_path / "tmux"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake.chmod(0o755)
    outside = Notifier(write=lambda s: None, env={}, tmux=str(fake))
    outside.fire(ALERT, rule("tmux"))
    await outside.drain(timeout=30)
    assert not log.exists() and outside.runs == 0
    inside = Notifier(write=lambda s: None, env={"TMUX": "x"}, tmux=str(fake))
    inside.fire(ALERT, rule("tmux"))
    await inside.drain(timeout=30)
    assert json.loads(log.read_text()) == ["display-message", "-d", "5000", ALERT.text]
    assert inside.failures == 0
