"""Snapshot tests (pytest-textual-snapshot) at 80×24 and 160×48, fed by the seeded synthetic stream into the
real Engine, with the clock frozen and the frames/s counter stopped so every run draws the same screen.

Update after an intended visual change: ``pytest tests/ui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from liqtui.ui.app import LiqtuiApp
from liqtui.ui.synthetic import long_history_engine


def _app(engine, clock, **kw) -> LiqtuiApp:
    return LiqtuiApp(engine, clock=clock, colors="truecolor", lookback="12h", **kw)


async def _freeze_time(pilot) -> None:
    """Stop the UI timer (fps) and draw once more with the frozen clock."""
    app: LiqtuiApp = pilot.app
    app._timer.pause()
    await pilot.pause()
    app._frame_times.clear()
    app._tick()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_default(snap_compare, engine, frozen_clock, size):
    assert snap_compare(_app(engine, frozen_clock), terminal_size=size, run_before=_freeze_time)


def test_snapshot_3d_more_heat_no_klines_160x48(snap_compare, engine, frozen_clock):
    async def before(pilot):
        await pilot.press("3", "H", "H", "t", "k")
        await _freeze_time(pilot)

    assert snap_compare(_app(engine, frozen_clock), terminal_size=(160, 48), run_before=before)


def test_snapshot_light_theme_80x24(snap_compare, engine, frozen_clock):
    app = _app(engine, frozen_clock, theme="light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_freeze_time)


def test_snapshot_6m_bands_older_than_a_week_stand_160x48(snap_compare):
    """6M on the demo simulator's half year with the current model (no decay): bands that began weeks and months
    ago still stand where price has not consumed them, and the time axis says when they began."""
    engine = long_history_engine()
    end = int(engine.model.last_ts) + 60_000
    app = LiqtuiApp(engine, clock=lambda: end, colors="truecolor", lookback="6M")
    assert snap_compare(app, terminal_size=(160, 48), run_before=_freeze_time)
