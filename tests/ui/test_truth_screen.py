"""The truth scorecard on the demo (issue 11): the tracker, its lines, and the ``v`` screen."""

from __future__ import annotations

import asyncio

import pytest

from liqtui.core.engine import Engine
from liqtui.core.events import Venue
from liqtui.core.model import HeatModel
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS, model_bars, naive_report, score
from liqtui.sim.truth import demo_truth
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.truth_screen import TruthScreen, TruthTracker, truth_lines
from tests.ui.test_app_keys import settle

HOUR = 3_600_000


def _demo(seed: int = 4) -> tuple[HeatModel, MarketSim]:
    market = MarketSim(seed, start_ms=DEFAULT_START_MS, history_days=9)
    model = HeatModel()  # the current defaults
    model.step_many(model_bars(market))
    return model, market


@pytest.fixture(scope="module")
def demo():
    return _demo()


def test_tracker_scores_the_map_and_then_the_liquidations_that_follow():
    model, market = _demo()
    tracker = TruthTracker()
    first = tracker.measure(model, market, "7d")
    assert first.card == demo_truth(model, market, ("7d",))["lookbacks"]["7d"]
    assert first.current is None and first.last_complete is None
    kept = model.zones("7d", top_n=5)  # what the tracker keeps for the realized line
    t0, n0 = market.now_ms, len(market.realized)
    market.fast_forward(t0 + 3 * HOUR)
    second = tracker.measure(model, market, "7d")
    line = second.current
    assert line is not None and not line.complete and line.start_ms == t0 and line.end_ms == t0 + 3 * HOUR
    liqs = market.realized[n0:]
    assert liqs, "the simulator liquidates something in 3 hours"
    want = score(kept, liqs, start_ms=t0, end_ms=t0 + 3 * HOUR, top_n=5)
    assert want.realized_usd > 0 and line.realized_usd == pytest.approx(want.realized_usd)
    assert line.share == pytest.approx(want.share)
    naive = score(naive_report(kept), liqs, start_ms=t0, end_ms=t0 + 3 * HOUR, top_n=5)
    assert line.naive_share == pytest.approx(naive.share)
    # past the forecast horizon the window is complete, and a new one starts
    market.fast_forward(t0 + 13 * HOUR)
    third = tracker.measure(model, market, "7d")
    done = third.last_complete
    assert third.current is None and done is not None and done.complete
    assert done.end_ms == t0 + int(model.config.zone_horizon_h * HOUR)
    assert done.realized_usd >= line.realized_usd
    fourth = tracker.measure(model, market, "7d")
    assert fourth.current is not None and fourth.current.start_ms == third.ts and fourth.last_complete == done
    # another market (a ticker switch) starts afresh
    other_model, other_market = _demo(5)
    fresh = tracker.measure(other_model, other_market, "7d")
    assert fresh.current is None and fresh.last_complete is None


def test_truth_lines_show_both_sides_beside_the_baseline_within_80_columns(demo):
    model, market = demo
    view = TruthTracker().measure(model, market, "7d")
    lines = truth_lines(view, "BTC")
    assert all(len(ln) <= 76 for ln in lines), max(lines, key=len)
    text = "\n".join(lines)
    assert "lookback 7d" in text and "correlation" in text and "top-5 recall" in text and "EMD" in text
    for side, title in (("long", "long (below)"), ("short", "short (above)")):
        row = next(ln for ln in lines if ln.startswith(title))
        c = view.card[side]
        for value in (
            f"{c['corr']:.2f}",
            f"{c['naive_corr']:.2f}",
            f"{c['recall']:.0%}",
            f"{c['emd_pct']:.2f}",
        ):
            assert value in row
    assert "realized notional" in text and "kept from now" in text
    empty = TruthTracker().measure(HeatModel(), market, "7d")
    assert empty.card is None and "no map yet" in "\n".join(truth_lines(empty))


class _DemoSource:
    """What the app reads of a demo source: ``.demo.market``; runs until cancelled."""

    def __init__(self, market: MarketSim | None) -> None:
        self.demo = type("Demo", (), {"market": market})()

    async def __call__(self, sink) -> None:
        await asyncio.Event().wait()


def _app(model: HeatModel, market: MarketSim | None) -> LiqtuiApp:
    engine = Engine(model, symbol="BTC", reference=Venue.BINANCE)
    clock = (lambda: market.now_ms) if market is not None else (lambda: int(model.last_ts))
    return LiqtuiApp(engine, source=_DemoSource(market), clock=clock, colors="truecolor", lookback="7d")


async def test_v_shows_the_truth_of_the_lookback_on_screen_and_r_measures_again(demo):
    model, market = demo
    app = _app(model, market)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot, app)
        assert any("Truth scorecard" in title for title, _a, _h in app.command_list())
        await pilot.press("v")
        await settle(pilot, app, lambda: isinstance(app.screen, TruthScreen))
        screen = app.screen
        body = str(screen.query_one("#truth-body").render())
        card = demo_truth(model, market, ("7d",))["lookbacks"]["7d"]
        assert "lookback 7d" in body and f"{card['long']['corr']:.2f}" in body
        assert f"{card['short']['naive_corr']:.2f}" in body
        await pilot.press("r")
        await settle(pilot, app, lambda: screen.measures == 2)
        await pilot.press("escape")
        await settle(pilot, app, lambda: not isinstance(app.screen, TruthScreen))


async def test_v_outside_the_demo_says_why_and_opens_nothing(demo):
    model, _market = demo
    app = _app(model, None)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot, app)
        assert not any("Truth" in title for title, _a, _h in app.command_list())
        await pilot.press("v")
        await settle(pilot, app, lambda: any("needs the demo" in n.message for n in app._notifications))
        assert not isinstance(app.screen, TruthScreen)


def test_realized_lines_fit_80_columns(demo):
    model, market = _demo()
    tracker = TruthTracker()
    tracker.measure(model, market, "7d")
    market.fast_forward(market.now_ms + 13 * HOUR)
    tracker.measure(model, market, "7d")
    market.fast_forward(market.now_ms + 2 * HOUR)
    view = tracker.measure(model, market, "7d")
    assert view.current is not None and view.last_complete is not None
    lines = truth_lines(view, "BTC")
    assert all(len(ln) <= 76 for ln in lines), max(lines, key=len)
    text = "\n".join(lines)
    assert "the whole 12 h window" in text and "of the 12 h window" in text and "fixed-distance" in text
