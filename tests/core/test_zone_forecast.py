"""The zone forecast as information (ModelConfig.zone_horizon_h / activity_half_life_h): recent activity is
tracked and kept by the checkpoint, a ``strength`` array can still re-rank find_zones, and the model's zones
are the standing-USD zones whatever the horizon — the horizon only sets each zone's reach."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqtui.core.model import HeatModel, ModelConfig, bars_from_arrays
from liqtui.core.zones import find_zones

from .conftest import T0, make_bars


def test_activity_tracks_volatility_and_opening_rate() -> None:
    m = HeatModel()
    assert m.activity() == {"vol_per_h": 0.0, "long_usd_per_h": 0.0, "short_usd_per_h": 0.0}
    n = 3000
    ts = T0 + np.arange(n, dtype=np.int64) * 60_000
    p = np.full(n, 50_000.0)
    oi = 1e9 + np.arange(n) * 1e5  # +$100k of OI per minute: $12M per hour of new positions, both sides
    bars = bars_from_arrays(ts, p, p * 1.001, p / 1.001, p, taker_buy_share=np.full(n, 0.75), oi_usd=oi)
    m.step_many(bars)
    act = m.activity()
    per_min = math.log(1.001**2) / math.sqrt(4 * math.log(2))  # Parkinson's sd of one bar
    assert act["vol_per_h"] == pytest.approx(per_min * math.sqrt(60), rel=1e-6)
    assert act["long_usd_per_h"] == pytest.approx(2 * 6e6 * 0.75, rel=0.02)  # 2·ΔOI split by taker share
    assert act["short_usd_per_h"] == pytest.approx(2 * 6e6 * 0.25, rel=0.02)
    clone = HeatModel.from_bytes(m.to_bytes())  # the checkpoint keeps it
    assert clone.activity() == act


def _two_clusters(price: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = price * 1.001 ** np.arange(-3000, 3001)
    centers = np.sqrt(edges[:-1] * edges[1:])
    short = np.zeros(len(centers))
    short[np.abs(centers / price - 1.12) < 0.002] = 10.0  # far: +12 %
    short[np.abs(centers / price - 1.02) < 0.002] = 5.0  # near: +2 %, half the USD
    return edges, np.zeros((1, len(centers))), short[None, :]


def test_strength_ranks_reachable_zones_first_and_keeps_usd() -> None:
    edges, lt, st = _two_clusters()
    plain = find_zones(edges, lt, st, 100.0, smooth_pct=0.0)
    assert [round(z.distance_pct) for z in plain.above] == [12, 2]  # raw USD: the far cluster first
    x = np.log(np.sqrt(edges[:-1] * edges[1:]) / 100.0)
    reach = np.asarray([math.erfc(v) for v in (np.abs(x) / (0.05 * math.sqrt(2))).tolist()])
    fc = find_zones(edges, lt, st, 100.0, smooth_pct=0.0, strength=(lt[0] * reach, st[0] * reach))
    assert [round(z.distance_pct) for z in fc.above] == [2]  # the far one is not a zone within reach
    assert fc.above[0].usd == pytest.approx(plain.above[1].usd)  # USD is still the standing estimate
    with pytest.raises(ValueError, match="strength"):
        find_zones(edges, lt, st, 100.0, strength=(np.zeros(3), np.zeros(3)))


def test_the_horizon_only_sets_reach() -> None:
    """Zones are the standing-USD zones (issue 11): the forecast horizon changes each zone's reach, never which
    zones there are or their order. (Until issue 11 the horizon re-ranked zones by a 12 h reach forecast.)"""
    bars = make_bars(3000, seed=11)
    a, b = HeatModel(ModelConfig(zone_horizon_h=0.0)), HeatModel()
    a.step_many(bars)
    b.step_many(bars)
    lt, st = a.profile_by_tier("1d")
    plain = find_zones(a.grid.edges, lt, st, a.price, tier_names=a.tier_names, lookback="1d", ts=a.last_ts)
    assert a.zones("1d") == plain  # horizon 0: nothing away from the price can be reached, reach 0
    fc = b.zones("1d")
    strip = [(z.low, z.high, z.usd) for z in fc.above + fc.below]
    assert strip == [(z.low, z.high, z.usd) for z in plain.above + plain.below]
    assert all(z.reach == 0.0 for z in plain.above + plain.below if z.distance_pct != 0.0)
    assert all(0.0 < z.reach <= 1.0 for z in fc.above + fc.below)
    sd = b.activity()["vol_per_h"] * math.sqrt(12.0)
    assert fc == find_zones(
        b.grid.edges, *b.profile_by_tier("1d"), b.price, tier_names=b.tier_names, lookback="1d", ts=b.last_ts,
        horizon_sd=sd,
    )  # fmt: skip
