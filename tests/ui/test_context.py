"""The context series (pure) and the context charts panel (Pilot): sampling, bounds, liquidation totals,
the ``o`` toggle, the default by terminal size, and the charts showing the synthetic stream."""

from __future__ import annotations

import asyncio
import math
from typing import ClassVar

import numpy as np
import pytest
from textual.drivers.headless_driver import HeadlessDriver

from liqtui.core.engine import Engine
from liqtui.core.events import FundingRate, Liquidation, OpenInterest, PositionSide, Venue
from liqtui.core.model import HeatModel
from liqtui.ui.app import CONTEXT_REDRAW_MS, LiqtuiApp
from liqtui.ui.context import ContextSeries, decimate, time_unit
from liqtui.ui.render import fmt_usd
from liqtui.ui.synthetic import MODEL_CONFIG, end_ts, live_events
from liqtui.ui.widgets.context import usd_scale

B = Venue.BINANCE
T = 1_767_225_600_000


def _liq(ts: int, side: PositionSide, usd: float) -> Liquidation:
    return Liquidation(
        venue=B,
        symbol="BTCUSDT",
        ts=ts,
        recv_ts=ts + 5,
        side=side,
        price=70_000.0,
        qty=usd / 70_000.0,
        usd=usd,
    )


def _oi(venue: Venue, ts: int, usd: float) -> OpenInterest:
    return OpenInterest(venue=venue, symbol="BTCUSDT", ts=ts, recv_ts=ts + 5, base=usd / 70_000.0, usd=usd)


def _engine(**kw) -> Engine:
    return Engine(HeatModel(MODEL_CONFIG), symbol="BTC", reference=B, **kw)


# ------------------------------------------------------------------------------------------- pure
def test_nothing_is_stored_before_any_context_data():
    s = ContextSeries(interval_ms=1000)
    assert s.update(_engine(), T) is False
    assert len(s) == 0 and len(s.view()) == 0


def test_one_sample_per_interval_with_summed_oi_and_mean_funding():
    eng = _engine()
    s = ContextSeries(interval_ms=5_000)
    eng.apply(_oi(B, T, 6e9))
    eng.apply(_oi(Venue.BYBIT, T, 2e9))
    eng.apply(FundingRate(venue=B, symbol="BTCUSDT", ts=T, recv_ts=T, rate=0.0001))
    eng.apply(FundingRate(venue=Venue.BYBIT, symbol="BTCUSDT", ts=T, recv_ts=T, rate=0.0003))
    stored = [s.update(eng, T + i * 1_000) for i in range(21)]  # 20 s at 1 s ticks
    assert sum(stored) == 5 and stored[0] and stored[5] and not stored[4]
    v = s.view()
    assert v.ts.tolist() == [T, T + 5_000, T + 10_000, T + 15_000, T + 20_000]
    assert v.oi_usd.tolist() == [8e9] * 5
    assert v.funding[-1] == pytest.approx(0.0002)
    version = s.version
    assert not s.update(eng, T + 24_000) and s.version == version  # no sample: the charts need no redraw
    assert s.update(eng, T + 25_000) and s.version == version + 1


def test_unknown_values_are_nan_and_a_clock_going_back_stores_nothing():
    eng = _engine()
    s = ContextSeries(interval_ms=1_000)
    eng.apply(_liq(T, PositionSide.LONG, 1e5))
    assert s.update(eng, T)
    v = s.view()
    assert math.isnan(v.oi_usd[0]) and math.isnan(v.funding[0]) and v.liq_long_usd[0] == 1e5
    assert s.update(eng, T - 60_000) is False and len(s) == 1
    with pytest.raises(ValueError, match="older than the last one"):
        s.append(T - 1, None, None, 0.0, 0.0)


def test_liquidations_are_counted_once_by_side_even_past_the_bounded_tape():
    eng = _engine(max_liquidations=3)
    s = ContextSeries(interval_ms=1_000)
    eng.apply(_liq(T, PositionSide.LONG, 100.0))
    eng.apply(_liq(T, PositionSide.SHORT, 40.0))
    s.update(eng, T)
    s.update(eng, T + 10)  # same tape, no sample: nothing counted twice
    assert (s.liq_long_usd, s.liq_short_usd) == (100.0, 40.0)
    for i in range(5):  # 5 new ones, the tape keeps 3: two are lost before the next look
        eng.apply(_liq(T + i, PositionSide.LONG, 1.0 + i))
    s.update(eng, T + 1_000)
    assert s.liq_long_usd == 100.0 + 3.0 + 4.0 + 5.0 and s.liq_missed == 2
    assert s.view().liq_long_usd[-1] == s.liq_long_usd and s.view().liq_short_usd[-1] == 40.0


def test_a_new_engine_starts_the_series_afresh():
    s = ContextSeries(interval_ms=1_000)
    a = _engine()
    a.apply(_liq(T, PositionSide.SHORT, 500.0))
    a.apply(_oi(B, T, 1e9))
    s.update(a, T)
    b = _engine()
    b.apply(_oi(B, T, 2e9))
    s.update(b, T + 10)  # within the interval of the old series, but a new one: stored at once
    v = s.view()
    assert len(v) == 1 and v.oi_usd[0] == 2e9 and s.liq_short_usd == 0.0


def test_a_full_ring_halves_and_doubles_its_interval_keeping_the_start():
    s = ContextSeries(interval_ms=1_000, capacity=8)
    eng = _engine()
    eng.apply(_oi(B, T, 1e9))
    for i in range(100):
        s.update(eng, T + i * 1_000)
    v = s.view()
    assert len(v) <= 8 and v.ts[0] == T  # bounded, still reaching back to the start
    assert s.interval_ms > 1_000
    steps = np.diff(v.ts)
    assert steps.min() >= 1_000 and (steps[:-1] == steps[0]).all()  # evenly spaced after coarsening
    assert T + 99_000 - v.ts[-1] < s.interval_ms  # and up to date


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"interval_ms": 0}, "interval_ms must be"),
        ({"capacity": 7}, "capacity must be an even"),
        ({"interval_ms": 1.5}, "interval_ms must be"),
    ],
)
def test_bad_settings_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ContextSeries(**kw)


def test_decimate_keeps_spikes_and_bounds_the_points():
    rng = np.random.default_rng(5)
    x = np.arange(10_000, dtype=float)
    y = rng.normal(0.0, 1.0, 10_000)
    y[1234], y[8765] = 50.0, -40.0
    y[77] = np.nan
    xs, ys = decimate(x, y, 40)
    assert len(xs) <= 80 and (np.diff(xs) > 0).all()
    assert ys.max() == 50.0 and ys.min() == -40.0 and np.isfinite(ys).all()
    small_x, _small_y = decimate(x[:10], y[:10], 40)  # few points: kept as they are
    assert small_x.tolist() == x[:10].tolist()
    with pytest.raises(ValueError, match="n_cols must be"):
        decimate(x, y, 0)


def test_time_unit_and_usd_scale():
    assert time_unit(30_000) == (1_000.0, "s")
    assert time_unit(2 * 3_600_000) == (60_000.0, "min")
    assert time_unit(30 * 3_600_000) == (3_600_000.0, "h")
    assert time_unit(10 * 86_400_000) == (86_400_000.0, "d")
    assert usd_scale(np.array([np.nan, 8.1e9])) == (1e9, "$B")
    assert usd_scale(np.array([2.5e6, 1.0])) == (1e6, "$M")
    assert usd_scale(np.array([np.nan])) == (1.0, "$")


# ------------------------------------------------------------------------------------------ Pilot
class CapturingDriver(HeadlessDriver):
    """Lets Textual render (not headless) and keeps what it writes to the terminal."""

    out: ClassVar[list[str]] = []

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CapturingDriver.out.append(data)


async def _until(pilot, cond, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await pilot.pause(0.02)


def _app(engine, clock, **kw) -> LiqtuiApp:
    return LiqtuiApp(engine, clock=clock, colors="truecolor", lookback="12h", **kw)


@pytest.mark.parametrize(
    "size, shown",
    [((160, 48), True), ((250, 70), True), ((159, 48), False), ((120, 30), False), ((80, 24), False)],
)
async def test_charts_show_by_default_only_on_a_large_terminal(engine, frozen_clock, size, shown):
    app = _app(engine, frozen_clock)
    async with app.run_test(size=size) as pilot:
        await _until(pilot, lambda: app.heatmap.frames_drawn > 0)
        assert app.context_panel.display is shown
        if shown:
            await _until(pilot, lambda: app.context_panel.oi.draws > 0)
            assert app.context_panel.outer_size.height == 12 and app.heatmap.size.height > 20
        elif size == (80, 24):
            assert app.screen.has_class("compact") and app.zones.size.width > 0


async def test_o_toggles_the_charts_and_the_compact_layout_never_gets_them(engine, frozen_clock):
    app = _app(engine, frozen_clock, keymap={"context": "g"})
    async with app.run_test(size=(130, 36)) as pilot:
        await _until(pilot, lambda: app.heatmap.frames_drawn > 0)
        assert not app.context_panel.display
        tall = app.heatmap.size.height
        await pilot.press("o")  # remapped: "o" does nothing now
        assert not app.context_panel.display
        await pilot.press("g")
        await _until(
            pilot,
            lambda: (
                app.context_panel.display
                and app.context_panel.oi.draws > 0
                and app.heatmap.size.height < tall
            ),
        )
        await pilot.resize_terminal(80, 24)  # the user's choice never breaks the compact layout
        await _until(pilot, lambda: app.size.width == 80 and not app.context_panel.display)
        await pilot.resize_terminal(130, 36)  # and comes back with the room
        await _until(pilot, lambda: app.size.width == 130 and app.context_panel.display)
        await pilot.press("g")
        await _until(pilot, lambda: not app.context_panel.display and app.heatmap.size.height == tall)
        assert (
            "g",
            "context charts on/off (open interest, funding, cumulative liquidations)",
        ) in app.help_rows()
        assert any(action == "context" for _, action, _ in app.command_list())


async def test_o_in_the_compact_layout_explains_why_nothing_shows(engine, frozen_clock):
    app = _app(engine, frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: app.heatmap.frames_drawn > 0)
        await pilot.press("o")
        assert not app.context_panel.display and app.context_pref is True
        await _until(pilot, lambda: any("need at least 120×30" in str(n.message) for n in app._notifications))


async def test_charts_show_the_stream_and_redraw_at_most_once_a_second(engine):
    now = [end_ts(720)]
    app = _app(engine, lambda: now[0])
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.context_panel
        await _until(pilot, lambda: panel.oi.draws > 0)
        app._timer.pause()  # the test steps the ticks itself
        app.context_series = ContextSeries(interval_ms=100)  # a sample every tick: only the 1 s cap limits
        liq0 = (
            sum(q.usd for q in engine.liquidations if q.side == PositionSide.LONG),
            sum(q.usd for q in engine.liquidations if q.side == PositionSide.SHORT),
        )
        drawn0 = panel.oi.draws
        fed_long = fed_short = 0.0
        versions = set()
        for _ in range(300):  # 30 s of live traffic in 100 ms ticks
            for ev in live_events(now[0], float(engine.price), 100):
                app._sink(ev)
                if isinstance(ev, Liquidation):
                    if ev.side == PositionSide.LONG:
                        fed_long += ev.usd
                    else:
                        fed_short += ev.usd
            now[0] += 100
            app._tick()
            versions.add(panel.drawn_version)
        await pilot.pause()
        series = app.context_series
        assert len(series) >= 290  # one sample per tick
        # 30 s of clock: at most one draw per second, not one per tick
        assert 25 <= panel.oi.draws - drawn0 <= 31 and len(versions) <= 32
        assert series.liq_long_usd == pytest.approx(liq0[0] + fed_long)
        assert series.liq_short_usd == pytest.approx(liq0[1] + fed_short)
        assert fed_long > 0
        view = series.view()
        assert view.oi_usd[-1] == pytest.approx(engine.oi_usd_total)
        oi_title, funding_title, liq_title = panel.titles
        assert fmt_usd(float(view.oi_usd[-1])) in oi_title and "open interest $B" in oi_title
        assert "0.0100%" in funding_title  # live_events sends a 0.0001 funding rate
        assert f"longs {fmt_usd(series.liq_long_usd)}" in liq_title
        text = str(panel.oi.render())
        assert any("\u2800" < ch <= "\u28ff" for ch in text)  # braille line drawn
        assert "now" in text and "s" in text

        # frozen: the picture stays (samples go on being taken)
        drawn = panel.oi.draws
        app.action_freeze()
        for ev in live_events(now[0], float(engine.price), 10_000):
            app._sink(ev)
        now[0] += 10_000
        app._tick()
        assert panel.oi.draws == drawn and series.version > panel.drawn_version
        app.action_freeze()  # thawed: the next tick feeds it (its last draw is > 1 s of clock ago)
        assert panel.oi.draws == drawn + 1 and panel.drawn_version == series.version
        now[0] += CONTEXT_REDRAW_MS // 2
        app._tick()  # a new sample, but too soon after the last draw
        assert panel.oi.draws == drawn + 1 and series.version > panel.drawn_version
        now[0] += CONTEXT_REDRAW_MS // 2
        app._tick()
        assert panel.oi.draws == drawn + 2


async def test_charts_follow_a_theme_change(engine, frozen_clock):
    app = _app(engine, frozen_clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: app.context_panel.oi.draws > 0)
        before = app.context_panel.oi.draws
        app.theme = "liqtui-light"
        await _until(pilot, lambda: app.context_panel.oi.draws > before)
        assert app.context_panel._pal is app.palette


_COLOUR_PROBE = """
import asyncio, sys
from textual.drivers.headless_driver import HeadlessDriver
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.synthetic import end_ts, make_engine

out = []

class Capturing(HeadlessDriver):
    @property
    def is_headless(self):
        return False

    def write(self, data):
        out.append(data)

app = LiqtuiApp(make_engine(1440), clock=lambda: end_ts(1440), colors=sys.argv[1], lookback="12h",
                driver_class=Capturing)

def drawn():
    w = "".join(out)
    return "liquidations $M" in w and any("\\u2800" < ch <= "\\u28ff" for ch in w)

async def drive(pilot):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not (app.context_panel.liqs.draws > 0 and drawn()):
        assert loop.time() < deadline, "charts never reached the terminal"
        await pilot.pause(0.05)
    app.exit()

app.run(size=(160, 48), auto_pilot=drive)
sys.stdout.write("".join(out))
"""


@pytest.mark.parametrize("colors, never", [("16", ("38;2;", "38;5;")), ("256", ("38;2;",))])
def test_charts_reach_a_16_or_256_colour_terminal_in_its_own_colours(colors, never):
    """In a process of its own: rich caches each Style's escape codes on the Style object the first time it is
    rendered, so an app drawn earlier in this process in another colour system would leak its codes here (one app
    per process, as in real use, has no such leak)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _COLOUR_PROBE, colors], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = proc.stdout
    assert "liquidations $M" in written and any("\u2800" < ch <= "\u28ff" for ch in written)
    leaked = [written[max(0, i - 60) : i + 20] for code in never if (i := written.find(code)) >= 0]
    assert not leaked, leaked


@pytest.mark.parametrize(("setting", "shown"), [("on", True), ("off", False), ("auto", True)])
async def test_config_ui_context_setting(engine, frozen_clock, setting, shown):
    from liqtui.config import UIConfig

    app = LiqtuiApp(engine, clock=frozen_clock, ui=UIConfig(context=setting), colors="truecolor")
    async with app.run_test(size=(170, 50)) as pilot:
        await _until(pilot, lambda: app.context_panel.display is shown)
        assert app.context_pref is {"on": True, "off": False}.get(setting)
