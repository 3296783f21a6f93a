"""The view state and the frame, without Textual: plain pytest on a real engine (no App, no terminal)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from liqtui.config import GAMMA, THRESHOLD, UIConfig
from liqtui.core.engine import Engine
from liqtui.core.events import FeedState, FeedStatus, FundingRate, Venue
from liqtui.core.model import HeatModel
from liqtui.ui.view import (
    LOOKBACK_SPAN_PCT,
    SPAN_RANGE,
    EngineView,
    ViewState,
    build_frame,
    current_price,
    market_status,
)

SIZE = (80, 20)


def test_the_view_module_needs_no_textual_nor_rich():
    code = "import sys, liqtui.ui.view; print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_engine_satisfies_the_protocol(engine):
    view: EngineView = engine  # mypy checks the same in liqtui.commands.ui
    assert current_price(view) == engine.price


def test_view_state_starts_from_checked_settings_and_clamps_every_step():
    v = ViewState.from_settings(UIConfig(lookback="3d", threshold_pct=90.0, heat_gamma=0.2, klines=False))
    assert (v.lookback, v.threshold_pct, v.gamma, v.klines) == ("3d", 90.0, 0.2, False)
    v.step_threshold(1)
    v.step_threshold(1)
    assert v.threshold_pct == THRESHOLD.hi == 95.0  # the config's limit, not one of its own
    for _ in range(12):
        v.step_threshold(-1)
    assert v.threshold_pct == THRESHOLD.lo
    for _ in range(20):
        v.step_heat(1)
    assert v.gamma == GAMMA.lo
    for _ in range(20):
        v.step_heat(-1)
    assert v.gamma == GAMMA.hi
    for _ in range(40):
        v.step_zoom(1)
    assert v.span_pct == pytest.approx(SPAN_RANGE[0])
    for _ in range(40):
        v.step_zoom(-1)
    assert v.span_pct == pytest.approx(SPAN_RANGE[1])
    assert v.set_lookback("7d") and not v.set_lookback("7d") and not v.set_lookback("2w")
    v.toggle_klines()
    assert v.klines


def test_window_follows_the_price_out_of_view():
    v = ViewState(lookback="1d")
    assert v.window(None) is None
    lo, hi = v.window(100.0)
    assert (lo, hi) == pytest.approx((94.0, 106.0))  # 1d: ±6 %
    assert v.window(103.0) == (lo, hi)  # inside: the centre stays
    lo2, hi2 = v.window(120.0)  # outside: recentred on the price
    assert v.center == 120.0 and lo2 < 120.0 < hi2
    v.recentre(None)
    assert v.window(None) is None


def test_no_price_no_picture():
    frame = build_frame(Engine(HeatModel()), ViewState(), SIZE, 0)
    assert frame.window is None and frame.heat is None and frame.zones is None


def test_frame_holds_heat_profile_zones_and_status(engine, frozen_clock):
    now = frozen_clock()
    engine.apply(FeedStatus(venue=Venue.BYBIT, symbol="BTCUSDT", ts=now, recv_ts=now, state=FeedState.STALE))
    engine.apply(FundingRate(venue=Venue.BYBIT, symbol="BTCUSDT", ts=now, recv_ts=now, rate=0.0002))
    view = ViewState(lookback="12h", threshold_pct=0.0)
    frame = build_frame(engine, view, SIZE, now)
    lo, hi = frame.window
    assert lo < frame.price < hi
    assert (hi - lo) / (hi + lo) * 100 == pytest.approx(LOOKBACK_SPAN_PCT["12h"])
    heat = frame.heat
    assert heat.values.shape == (2 * SIZE[1], SIZE[0]) and heat.values.max() > 0
    assert heat.candles is not None and len(heat.candles.cols) > 0
    assert frame.profile.shape[-1] == SIZE[1] and frame.profile.sum() > 0
    assert frame.anchor_row is not None and 0 <= frame.anchor_row < SIZE[1]
    assert frame.zones.above or frame.zones.below
    assert frame.status.venues["bybit"] == ("stale", 0)
    rates = list(engine.funding.values())
    assert 0.0002 in rates and frame.status.funding == pytest.approx(sum(rates) / len(rates))
    assert frame.status == market_status(engine)


def test_unchanged_parts_are_reused_and_changes_rebuild(engine, frozen_clock):
    now = frozen_clock()
    view = ViewState(lookback="12h")
    first = build_frame(engine, view, SIZE, now)
    same = build_frame(engine, view, SIZE, now, previous=first)
    assert same.heat is first.heat and same.zones is first.zones
    view.step_threshold(1)  # the view changed: a new picture and new zones
    stricter = build_frame(engine, view, SIZE, now, previous=same)
    assert stricter.heat is not same.heat and stricter.zones is not same.zones
    assert (stricter.heat.values > 0).sum() == (same.heat.values > 0).sum()  # same USD, another scale
    assert stricter.heat.scale.threshold_pct == 60.0
    view.toggle_klines()
    assert build_frame(engine, view, SIZE, now, previous=stricter).heat.candles is None
    wider = build_frame(engine, view, (SIZE[0] + 10, SIZE[1]), now, previous=stricter)
    assert wider.heat.values.shape[1] == SIZE[0] + 10
    assert wider.zones is stricter.zones  # the zones do not depend on the size


def test_zero_size_area_gets_zones_but_no_heat(engine, frozen_clock):
    frame = build_frame(engine, ViewState(), (0, 0), frozen_clock())
    assert frame.heat is None and frame.profile is None and frame.zones is not None


def test_frame_matches_the_model_directly(engine, frozen_clock):
    view = ViewState(lookback="1d", threshold_pct=30.0, top_n=3)
    frame = build_frame(engine, view, SIZE, frozen_clock())
    lo, hi = frame.window
    np.testing.assert_array_equal(frame.heat.values, engine.model.history("1d", SIZE[0], lo, hi, 2 * SIZE[1]))
    assert frame.zones == engine.model.zones("1d", threshold_pct=30.0, top_n=3)
