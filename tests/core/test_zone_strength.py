"""Zones are the strongest levels (issue 11): ranked by standing USD above and below the price, each with
its chance to be reached within the horizon, listed by strength or by reach."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqtui.core.model import HeatModel
from liqtui.core.zones import find_zones, reach_of

from .conftest import make_bars


def _pools(price: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Short levels: a big pool 12 % above the price and a small one 2 % above."""
    edges = price * 1.001 ** np.arange(-3000, 3001)
    centers = np.sqrt(edges[:-1] * edges[1:])
    short = np.zeros(len(centers))
    short[np.abs(centers / price - 1.12) < 0.002] = 10.0
    short[np.abs(centers / price - 1.02) < 0.002] = 5.0
    return edges, np.zeros((1, len(centers))), short[None, :]


def test_a_bigger_pool_outranks_a_nearer_small_one() -> None:
    edges, lt, st = _pools()
    rep = find_zones(edges, lt, st, 100.0, smooth_pct=0.0, horizon_sd=0.02)
    far, near = rep.above
    assert round(far.distance_pct) == 12 and round(near.distance_pct) == 2
    assert far.usd > near.usd
    assert near.reach > far.reach  # but the near one is likelier to be reached
    by_reach = find_zones(edges, lt, st, 100.0, smooth_pct=0.0, horizon_sd=0.02, order="reach")
    assert by_reach.above == [near, far]  # the same zones, the other order


def test_reach_is_a_probability_falling_with_distance() -> None:
    assert reach_of(0.0, 0.02) == 1.0 and reach_of(0.0, None) == 1.0  # at the price: reached
    assert reach_of(5.0, None) == 0.0 and reach_of(5.0, 0.0) == 0.0  # no volatility known: not reached
    # a driftless walk with sd 2 % touches +2 % (one sd) within the horizon with probability erfc(1/√2)
    assert reach_of(2.0, 0.02) == pytest.approx(math.erfc(math.log(1.02) / 0.02 / math.sqrt(2)))
    dists = [0.5, 1.0, 2.0, 5.0, 10.0, 30.0]
    for sd in (0.005, 0.02, 0.1):
        up = [reach_of(d, sd) for d in dists]
        down = [reach_of(-d, sd) for d in dists]
        assert all(0.0 <= r <= 1.0 for r in up + down)
        assert up == sorted(up, reverse=True) and up[0] > up[-1]
        assert down == sorted(down, reverse=True)


@pytest.fixture(scope="module")
def model() -> HeatModel:
    m = HeatModel()
    m.step_many(make_bars(20_000, seed=5))
    return m


@pytest.mark.parametrize("lookback", ["12h", "3d", "7d"])
def test_model_zones_are_ranked_by_standing_usd(model: HeatModel, lookback: str) -> None:
    rep = model.zones(lookback)
    for side in (rep.above, rep.below):
        assert side, lookback
        usd = [z.usd for z in side]
        assert usd == sorted(usd, reverse=True)
        assert all(0.0 < z.reach <= 1.0 for z in side)
        # at equal volatility, the nearer zone is the likelier to be reached
        by_dist = sorted(side, key=lambda z: abs(z.distance_pct))
        reach = [z.reach for z in by_dist]
        assert reach == sorted(reach, reverse=True)


def test_order_reach_lists_the_same_zones_by_reach(model: HeatModel) -> None:
    strong = model.zones("7d")
    by_reach = model.zones("7d", order="reach")
    for a, b in ((strong.above, by_reach.above), (strong.below, by_reach.below)):
        assert sorted(a, key=lambda z: z.low) == sorted(b, key=lambda z: z.low)
        r = [z.reach for z in b]
        assert r == sorted(r, reverse=True)
    assert strong.above != by_reach.above or strong.below != by_reach.below  # the order key does something


def test_a_bad_order_is_refused(model: HeatModel) -> None:
    with pytest.raises(ValueError, match=r"order must be one of 'strength', 'reach'; got 'usd'"):
        model.zones("1d", order="usd")
