"""PriceGrid: lattice round trips, coverage, growth planning, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.core.grid import PriceGrid

prices = st.floats(min_value=1e-4, max_value=1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(anchor=prices, bucket=st.sampled_from([0.01, 0.05, 0.1, 0.5, 1.0]), frac=st.floats(0.0, 1.0))
def test_round_trips(anchor, bucket, frac):
    g = PriceGrid(anchor, bucket_pct=bucket, range_pct=60.0)
    assert g.contains(anchor) and g.edges[0] <= anchor * 0.4 * 1.0001 and g.edges[-1] >= anchor * 1.6 * 0.9999
    # every price maps to the bucket whose edges hold it, and a bucket's centre maps back to it
    lo, hi = g.edges[0], g.edges[-1]
    p = lo * (hi / lo) ** (frac * 0.999999)
    i = g.index(p)
    assert g.edges[i] * (1 - 1e-12) <= p < g.edges[i + 1] * (1 + 1e-12)
    j = min(g.n - 1, int(frac * g.n))
    assert g.index(float(g.centers[j])) == j
    assert g.index(float(g.centers[j])) == g.k_of(float(g.centers[j])) - g.k0
    # log-spaced: every bucket has the same relative width
    ratio = g.edges[1:] / g.edges[:-1]
    assert np.allclose(ratio, 1 + bucket / 100, rtol=1e-9)


def test_size_for_defaults():
    g = PriceGrid(60_000.0)
    assert 1350 <= g.n <= 1400  # ±60 % in 0.1 % buckets
    assert g.index(1.0) == 0 and g.index(1e9) == g.n - 1  # clipped outside


@given(anchor=prices, shift=st.floats(-0.9, 5.0))
@settings(max_examples=100, deadline=None)
def test_growing_keeps_every_bucket_on_the_lattice(anchor, shift):
    g = PriceGrid(anchor)
    new_price = anchor * (1 + shift)
    k_lo, k_hi = g.span_for(new_price)
    lo, hi = g.plan_cover(k_lo, k_hi, max_buckets=100_000)
    assert lo <= min(g.k0, k_lo) and hi >= max(g.k0 + g.n, k_hi)
    g2 = g.moved(lo, hi)
    # the old buckets sit at the same prices, shifted by an integer offset
    off = g.k0 - g2.k0
    assert np.allclose(g2.edges[off : off + g.n + 1], g.edges, rtol=1e-12)
    assert g2.contains(new_price)


def test_plan_cover_respects_the_cap():
    g = PriceGrid(100.0)
    cap = 2 * g.n
    lo, hi = g.plan_cover(g.k0 + 3 * g.n, g.k0 + 4 * g.n, cap)  # far above: keep the top, cut the bottom
    assert hi - lo == cap and hi == g.k0 + 4 * g.n
    lo, hi = g.plan_cover(g.k0 - 3 * g.n, g.k0 - 2 * g.n, cap)
    assert hi - lo == cap and lo == g.k0 - 3 * g.n
    lo, hi = g.plan_cover(g.k0 - 10 * g.n, g.k0 + 10 * g.n, cap)  # the request alone is too wide
    assert hi - lo == cap


def test_needs_reanchor():
    g = PriceGrid(100.0)
    assert not g.needs_reanchor(100.0)
    assert g.needs_reanchor(150.0) and g.needs_reanchor(60.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"anchor": 0.0}, "anchor"),
        ({"anchor": math.nan}, "anchor"),
        ({"anchor": 1.0, "bucket_pct": 0.0}, "bucket_pct"),
        ({"anchor": 1.0, "range_pct": 100.0}, "range_pct"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PriceGrid(**kwargs)
    with pytest.raises(ValueError, match="price"):
        PriceGrid(1.0).k_of(-1.0)
