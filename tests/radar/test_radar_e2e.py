"""End to end in tmux: ``liqtui --demo``, ``r`` lists 200+ symbols, Enter opens one (BTC, then one of the light
symbols, served in full), Esc returns; and ``liqtui radar --demo`` opens on the radar. Private tmux socket;
skips without tmux."""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from liqtui.sim.multi import light_names
from tests.e2e.test_tmux import FIRST_FRAME_TIMEOUT, TMUX, Pane
from tests.e2e.tmuxkit import liqtui_cmd

pytestmark = pytest.mark.e2e

HEAD = re.compile(r"Radar — (\d+)/(\d+) symbols")


def _start(tmp_path: Path, *args: str) -> Iterator[Pane]:
    if TMUX is None:
        pytest.skip("tmux is not installed")
    cmd = liqtui_cmd()
    cfg = Path(os.environ["LIQTUI_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("", encoding="utf-8")
    env = {
        "TERM": "xterm-256color",
        "LIQTUI_CONFIG": str(cfg),
        "LIQTUI_DATA": os.environ["LIQTUI_DATA"],
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    shell = " ".join(
        ["env", "-i", *(shlex.quote(f"{k}={v}") for k, v in env.items()), *map(shlex.quote, cmd), *args,
         "--seed", "7", "--no-store", "--log-file", shlex.quote(str(tmp_path / "liqtui.log"))]
    )  # fmt: skip
    p = Pane(f"liqtui-radar-{uuid.uuid4().hex[:8]}", "e2e")
    p.tmux(
        "new-session",
        "-d",
        "-s",
        p.session,
        "-x",
        "140",
        "-y",
        "40",
        f"{shell}; echo LIQTUI_EXIT=$?; sleep 600",
    )
    socket_path = p.tmux("display-message", "-p", "#{socket_path}").strip()
    try:
        yield p
    finally:
        p.tmux("kill-server")
        if socket_path.endswith(p.socket):
            Path(socket_path).unlink(missing_ok=True)


@pytest.fixture
def demo_pane(tmp_path: Path) -> Iterator[Pane]:
    yield from _start(tmp_path, "--demo")


@pytest.fixture
def radar_pane(tmp_path: Path) -> Iterator[Pane]:
    yield from _start(tmp_path, "radar", "--demo")


def _listed(text: str) -> int:
    m = HEAD.search(text)
    return int(m.group(1)) if m else 0


def test_demo_radar_lists_every_symbol_enter_opens_esc_returns(demo_pane: Pane) -> None:
    pane = demo_pane
    pane.wait_for(lambda t: "lookback 1d" in t, "the first frame", FIRST_FRAME_TIMEOUT)
    pane.press("r")
    screen = pane.wait_for(lambda t: _listed(t) >= 200, "the radar with 200+ symbols", 60.0)
    assert "Squeeze" in screen and "Flush" in screen and "Trend" in screen
    pane.press("/", "b", "t", "c", "Enter")
    pane.wait_for(lambda t: _listed(t) == 1 and "BTCUSDT" in t, "the filter keeping BTCUSDT")
    pane.press("Enter")
    pane.wait_for(lambda t: "Radar —" not in t and "lookback 1d" in t, "BTC's heatmap")
    pane.press("Escape")
    pane.wait_for(lambda t: "Radar —" in t, "back on the radar")
    # a light symbol (one of the 200, not BTC ETH SOL): its own full market, anchored at its radar row
    names = light_names(200, 7)
    light = next(s for s in names[10:] if sum(s in o for o in names) == 1)  # the filter keeps it alone
    ticker = light.removesuffix("USDT")
    pane.press("/", "BSpace", "BSpace", "BSpace", *light.lower(), "Enter")
    pane.wait_for(lambda t: _listed(t) == 1 and light in t, f"the filter keeping {light}")
    pane.press("Enter")
    pane.wait_for(
        lambda t: "Radar —" not in t and "lookback 1d" in t and f" {ticker} " in t,
        f"{ticker}'s heatmap",
        60.0,
    )
    pane.press("Escape")
    pane.wait_for(lambda t: _listed(t) >= 200, "back on the radar")
    pane.press("/", *light.lower(), "Enter")
    pane.wait_for(lambda t: _listed(t) == 1 and light in t, f"{light}'s row still there (its full market's)")
    pane.press("Escape")
    pane.wait_for(lambda t: "Radar —" not in t and "lookback 1d" in t, "the heatmap again")
    pane.press("q")
    screen = pane.wait_for(lambda t: "LIQTUI_EXIT=" in t, "the process to exit", 30.0)
    assert "LIQTUI_EXIT=0" in screen and "Traceback" not in screen


def test_radar_command_opens_on_the_radar(radar_pane: Pane) -> None:
    pane = radar_pane
    pane.wait_for(lambda t: _listed(t) >= 200, "the radar with 200+ symbols", FIRST_FRAME_TIMEOUT)
    pane.press("q")
    screen = pane.wait_for(lambda t: "LIQTUI_EXIT=" in t, "the process to exit", 30.0)
    assert "LIQTUI_EXIT=0" in screen and "Traceback" not in screen
