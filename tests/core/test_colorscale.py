"""Heat levels: percentile reference, gamma, threshold, quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from liqtui.core.colorscale import MAX_LEVELS, heat_levels, percentile_of_positive


def test_levels_monotonic_bounded_uint8():
    v = np.linspace(0, 100, 1001)
    h = heat_levels(v)
    assert h.dtype == np.uint8 and h.shape == v.shape
    assert h[0] == 0 and h.max() == MAX_LEVELS - 1 and h.min() == 0
    assert np.all(np.diff(h.astype(int)) >= 0)
    assert len(np.unique(h)) <= MAX_LEVELS


def test_gamma_below_one_is_more_heat():
    v = np.random.default_rng(0).exponential(1.0, (40, 50))
    cold, hot = heat_levels(v, gamma=1.0), heat_levels(v, gamma=0.5)
    assert np.all(hot >= cold) and hot.mean() > cold.mean()


def test_threshold_hides_weak_buckets():
    v = np.arange(1, 101, dtype=float)
    h = heat_levels(v, threshold_pct=50)
    assert np.all(h[v < np.percentile(v, 50)] == 0) and np.all(h[v >= np.percentile(v, 50)] >= 1)


def test_reference_percentile_and_override():
    v = np.concatenate([np.ones(999), [1000.0]])  # one outlier does not wash everything out
    assert heat_levels(v)[0] > 1
    assert percentile_of_positive(v, 50) == 1.0
    assert np.all(heat_levels(v, ref=1e9)[:999] == 1)


def test_empty_and_zero():
    assert heat_levels(np.zeros((3, 3))).sum() == 0
    assert heat_levels(np.array([])).size == 0


@pytest.mark.parametrize(
    "kw, match", [({"gamma": 0}, "gamma"), ({"levels": 65}, "levels"), ({"threshold_pct": 120}, "percentile")]
)
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        heat_levels(np.ones(4) if "threshold_pct" not in kw else np.arange(1.0, 5.0), **kw)
