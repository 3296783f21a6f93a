"""Zones: threshold, merging, ranking, per-side totals, cumulative USD, tiers and confluence."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.core.zones import find_zones as _find_zones

# the merge/rank tests below run on a coarse 1 % grid: cluster splitting (tested on its own at the end) is off
find_zones = functools.partial(_find_zones, max_width_pct=0.0, valley_ratio=0.0)
EDGES = 100.0 * 1.01 ** np.arange(-50, 51)  # 100 buckets around 100
CENTERS = np.sqrt(EDGES[:-1] * EDGES[1:])
NAMES = ("10x", "25x")


def profile(spec: dict[int, float], n_tiers: int = 2, tier: int | None = None) -> np.ndarray:
    out = np.zeros((n_tiers, len(CENTERS)))
    for b, v in spec.items():
        if tier is None:
            out[:, b] = v / n_tiers
        else:
            out[tier, b] = v
    return out


def test_merging_ranking_totals_and_distances():
    short = profile({60: 5, 61: 6, 62: 5, 70: 20, 90: 1})  # above price (price ~ 100 at bucket 50)
    long_ = profile({40: 30, 45: 5, 46: 5, 10: 1})
    r = find_zones(EDGES, long_, short, 100.0, tier_names=NAMES, threshold_pct=40, top_n=5)
    assert [z.usd for z in r.above] == [20, 16]  # ranked; 60..62 merged; the weak 90 hidden
    z0, z1 = r.above
    assert z1.low == pytest.approx(EDGES[60]) and z1.high == pytest.approx(EDGES[63])
    assert z0.distance_pct == pytest.approx((EDGES[70] - 100) / 100 * 100)
    assert z0.cum_usd == pytest.approx(16)  # the 60..62 zone stands between price and it
    assert z1.cum_usd == 0.0
    assert r.total_above == 37 and r.total_below == 41
    assert r.imbalance == pytest.approx((37 - 41) / 78)
    assert r.below[0].usd == 30 and r.below[0].distance_pct < 0
    assert r.below[0].share == pytest.approx(30 / 41)
    assert r.below[1].usd == 10 and len(r.below) == 2  # 45 and 46 merged; the weak 10 hidden
    assert r.below[1].cum_usd == 0 and r.below[0].cum_usd == pytest.approx(10)
    assert r.below[0].peak == pytest.approx(CENTERS[40])


def test_top_n_and_threshold():
    short = profile({55 + 3 * i: float(i + 1) for i in range(10)})
    r = find_zones(EDGES, profile({}), short, 100.0, tier_names=NAMES, threshold_pct=0, top_n=3, gap=0)
    assert [z.usd for z in r.above] == [10, 9, 8]
    r = find_zones(EDGES, profile({}), short, 100.0, tier_names=NAMES, threshold_pct=75, top_n=10, gap=0)
    assert all(z.usd >= 7 for z in r.above) and len(r.above) == 3


def test_gap_merges_small_holes():
    short = profile({60: 5, 62: 5})
    assert (
        len(find_zones(EDGES, profile({}), short, 100.0, tier_names=NAMES, threshold_pct=0, gap=0).above) == 2
    )
    assert (
        len(find_zones(EDGES, profile({}), short, 100.0, tier_names=NAMES, threshold_pct=0, gap=1).above) == 1
    )


def test_tiers_and_confluence():
    short = (
        profile({60: 10}, tier=0)
        + profile({60: 10}, tier=1)
        + profile({70: 30}, tier=0)
        + profile({70: 1}, tier=1)
    )
    r = find_zones(EDGES, profile({}), short, 100.0, tier_names=NAMES, threshold_pct=0, gap=0)
    z70, z60 = r.above
    assert z60.tiers == {"10x": 10, "25x": 10} and z60.confluence
    assert z70.tiers["10x"] == 30 and not z70.confluence


def test_sides_do_not_cross_the_price():
    # short mass below the price and long mass above it are not zones (they would be liquidated already)
    r = find_zones(EDGES, profile({70: 50}), profile({30: 50}), 100.0, tier_names=NAMES, threshold_pct=0)
    assert r.above == [] and r.below == [] and r.total_above == 0 and r.imbalance == 0


@pytest.mark.parametrize(
    "kw, match", [({"threshold_pct": 101}, "threshold_pct"), ({"top_n": -1}, "top_n"), ({"gap": -2}, "gap")]
)
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        find_zones(EDGES, profile({}), profile({}), 100.0, **kw)
    with pytest.raises(ValueError, match="do not match"):
        find_zones(EDGES[:-3], profile({}), profile({}), 100.0)


def test_no_price_gives_an_empty_report():
    r = find_zones(EDGES, profile({40: 1}), profile({60: 1}), float("nan"))
    assert r.above == [] and r.below == []


@settings(max_examples=60, deadline=None)
@given(
    vals=st.lists(st.floats(0, 1e6), min_size=100, max_size=100),
    price_b=st.integers(5, 95),
    thr=st.floats(0, 100),
    top=st.integers(0, 8),
)
def test_zone_ordering_properties(vals, price_b, thr, top):
    v = np.asarray(vals)
    price = float(CENTERS[price_b]) * 1.0001
    r = find_zones(
        EDGES,
        profile(dict(enumerate(v))),
        profile(dict(enumerate(v))),
        price,
        tier_names=NAMES,
        threshold_pct=thr,
        top_n=top,
    )
    for zs, side in ((r.above, "short"), (r.below, "long")):
        assert len(zs) <= top
        assert all(a.usd >= b.usd for a, b in itertools.pairwise(zs))  # strongest first
        assert sum(z.share for z in zs) <= 1 + 1e-9
        for z in zs:
            assert z.side == side and z.low < z.high and z.low <= z.peak <= z.high
            assert sum(z.tiers.values()) == pytest.approx(z.usd)
            if side == "short":
                assert z.peak > price and z.distance_pct >= 0
            else:
                assert z.peak < price and z.distance_pct <= 0
        # nearer zones have less USD standing between them and the price
        near = sorted(zs, key=lambda z: abs(z.distance_pct))
        assert all(a.cum_usd <= b.cum_usd + 1e-6 for a, b in itertools.pairwise(near))
    assert -1 <= r.imbalance <= 1


def test_a_wide_run_is_cut_into_clusters_at_its_valleys():
    """Two stacks joined by a weak saddle are two zones; a band wider than the limit is cut even without one."""
    fine = 100.0 * 1.001 ** np.arange(-500, 501)  # 0.1 % buckets
    n = len(fine) - 1
    short = np.zeros((1, n))
    short[0, 540:560] = 10.0  # a stack ~4-6 % above the price (bucket 500)
    short[0, 560:570] = 3.0  # the saddle: above the threshold, but a valley
    short[0, 570:590] = 10.0
    joined = _find_zones(fine, np.zeros((1, n)), short, 100.0, threshold_pct=0, smooth_pct=0.0,
                         max_width_pct=0.0, valley_ratio=0.0)  # fmt: skip
    assert len(joined.above) == 1
    split = _find_zones(fine, np.zeros((1, n)), short, 100.0, threshold_pct=0, smooth_pct=0.0,
                        max_width_pct=0.0, valley_ratio=0.6)  # fmt: skip
    assert len(split.above) == 2 and all(z.usd >= 200 for z in split.above)
    assert all(z.high <= fine[570] or z.low >= fine[560] for z in split.above)  # no zone spans the saddle
    band = np.zeros((1, n))
    band[0, 510:560] = 5.0  # a flat band 1-6 % above the price, no valley at all
    cut = _find_zones(fine, np.zeros((1, n)), band, 100.0, threshold_pct=0, smooth_pct=0.0, max_width_pct=1.5)
    assert len(cut.above) >= 4
    assert all((z.high / z.low - 1) * 100 <= 1.5 + 1e-9 for z in cut.above)
    assert sum(z.usd for z in cut.above) == pytest.approx(250.0)  # a flat band loses nothing to the cuts


def test_split_parameters_are_checked():
    with pytest.raises(ValueError, match="valley_ratio"):
        _find_zones(EDGES, profile({}), profile({60: 1}), 100.0, valley_ratio=2.0)
