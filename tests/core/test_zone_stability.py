"""Zones are a function of the estimate, not of float noise: a batch backfill and bar-by-bar steps over the
same bars (profiles equal to ~1e-5 USD, crumbs of 1e-12 USD where the other path has zeros) give the same
zone reports, to the cent."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from liqtui.core.model import HeatModel
from liqtui.core.zones import ZoneReport, find_zones

from .conftest import make_bars

_USD_FIELDS = {"usd", "cum_usd", "total_above", "total_below"}


def cents(report: ZoneReport) -> Any:
    """The report as builtins with USD rounded to cents and every other float to 1e-9 (relative)."""

    def walk(x: Any, key: str = "") -> Any:
        if isinstance(x, dict):
            return {k: walk(v, k if key != "tiers" else "usd") for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, key) for v in x]
        if isinstance(x, float):
            return round(x, 2) if key in _USD_FIELDS else float(f"{x:.9g}")
        return x

    return walk(msgspec.to_builtins(report))


def _batch_and_per_bar(bars: np.ndarray) -> tuple[HeatModel, HeatModel]:
    a, b = HeatModel(), HeatModel()
    a.step_many(bars)
    for row in bars:
        b.step_many(row[None])
    return a, b


@pytest.mark.parametrize(("n", "interval_s"), [(3000, 60), (1000, 900)])
def test_batch_and_per_bar_give_the_same_zones(n: int, interval_s: int) -> None:
    a, b = _batch_and_per_bar(make_bars(n, seed=3, interval_s=interval_s))
    differing = 0
    for lb in ("12h", "1d", "7d", "1M"):
        pa, pb = np.stack(a.profile(lb)), np.stack(b.profile(lb))
        assert np.allclose(pa, pb, rtol=1e-9, atol=1e-3)  # the same estimate ...
        differing += int(np.count_nonzero((pa > 0) != (pb > 0)))  # ... up to crumbs
        ra, rb = cents(a.zones(lb)), cents(b.zones(lb))
        assert ra["above"] or ra["below"], lb
        assert ra == rb, lb
    assert differing > 0  # the paths really do differ in float noise (else this test proves nothing)


def test_noise_below_a_cent_cannot_move_a_zone() -> None:
    rng = np.random.default_rng(5)
    edges = 100.0 * 1.001 ** np.arange(-300, 301)
    base = np.round(rng.choice([0.0, 0.0, 40.0, 80.0, 200.0], size=(2, 600)), 2)  # many exact ties
    for _ in range(20):
        noisy = [np.where(base[i] > 0, base[i] + rng.normal(0, 2e-5, 600), rng.uniform(0, 1e-9, 600))
                 for i in range(2)]  # fmt: skip
        r0 = find_zones(edges, base[:1], base[1:], 100.0)
        r1 = find_zones(edges, noisy[0][None], noisy[1][None], 100.0)
        assert cents(r0) == cents(r1)


def test_equal_zones_rank_nearest_first() -> None:
    edges = 100.0 * 1.01 ** np.arange(-50, 51)
    short = np.zeros((1, 100))
    short[0, [60, 70, 80]] = 10.0
    rep = find_zones(edges, np.zeros((1, 100)), short, 100.0, smooth_pct=0.0, gap_pct=0.0)
    assert [z.low for z in rep.above] == sorted(z.low for z in rep.above)


def test_bad_quantum_is_refused() -> None:
    with pytest.raises(ValueError, match="quantum_usd"):
        find_zones(np.arange(1.0, 4.0), np.zeros((1, 2)), np.zeros((1, 2)), 2.0, quantum_usd=float("nan"))
