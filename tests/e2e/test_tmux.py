"""End to end: the real ``liqtui --demo`` command in a real terminal (tmux), driven by keys, read back with
capture-pane. Uses a private tmux socket so it never touches anyone's sessions; skips without tmux."""

from __future__ import annotations

import re

import pytest

from .tmuxkit import TMUX, Pane, clean_env, demo_shell

pytestmark = pytest.mark.e2e

FIRST_FRAME_TIMEOUT = 90.0
ZONE_ROW = re.compile(r"\d[\d,.]*k?–\d[\d,.]*k?\s+\$\d[\d.]*[KMB]")


@pytest.fixture
def pane(tmp_path):
    if TMUX is None:
        pytest.skip("tmux is not installed")
    p = Pane("e2e")
    try:
        p.start(demo_shell(clean_env(tmp_path), tmp_path / "liqtui.log"), 160, 48)
        yield p
    finally:
        p.kill()


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

    # the alert and spent-zone logs at 80 columns: their compact columns, inside the box
    pane.press("a")
    screen = pane.wait_for(lambda t: "Esc closes. Rules" in t, "the alert log at 80 columns")
    header = next(line for line in screen.splitlines() if "time (UTC)" in line)
    assert "alert" in header and "rule" not in header and "side" not in header, header
    pane.press("Escape")
    pane.wait_for(lambda t: "Esc closes" not in t and "▲ Above — squeeze" in t, "the alert log to close")
    pane.press("l")
    screen = pane.wait_for(lambda t: "Spent zones — BTC" in t, "the spent-zone log at 80 columns")
    header = next(line for line in screen.splitlines() if "time (UTC)" in line)
    assert "liq." in header and "60m" in header, header
    assert max(len(line) for line in screen.splitlines()) <= 80
    pane.press("Escape")
    pane.wait_for(
        lambda t: "Spent zones" not in t and "▲ Above — squeeze" in t, "the spent-zone log to close"
    )

    pane.press("q")
    screen = pane.wait_for(lambda t: "LIQTUI_EXIT=" in t, "the process to exit", 30.0)
    assert "LIQTUI_EXIT=0" in screen
    assert "Traceback" not in screen
    assert "Above price" not in screen  # the alternate screen is gone: the terminal is left clean
