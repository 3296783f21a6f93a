"""The observed profile, its coverage, crossing, calibration and the leverage fit (pure core)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from liqtui.core.grid import PriceGrid
from liqtui.core.model import ModelConfig
from liqtui.core.observed import (
    ObservedBook,
    ObservedPosition,
    calibrate,
    fit_tiers,
    observed_json,
    tier_config_fields,
)


def pos(addr: str, side: int, size: float, liq: float | None, lev: float = 10, margin: str = "isolated"):
    return ObservedPosition(
        address=addr, coin="BTC", side=side, size=size, entry_px=100_000.0, leverage=lev, margin=margin,
        liq_px=liq, value_usd=size * 100_000.0, ts=1_000,
    )  # fmt: skip


@pytest.fixture
def grid() -> PriceGrid:
    return PriceGrid(100_000.0, bucket_pct=0.1, range_pct=30.0)


def test_profile_puts_size_times_liquidation_price_in_the_grid_buckets(grid: PriceGrid) -> None:
    ob = ObservedBook("BTC")
    ob.update("a", [pos("a", 1, 2.0, 91_000.0)], 1_000)
    ob.update("b", [pos("b", -1, 1.0, 109_500.0, margin="cross")], 1_000)
    ob.update("c", [pos("c", 1, 5.0, None, lev=2, margin="cross")], 1_000)  # no liquidation price
    ob.update("d", [], 1_000)  # flat
    ob.update("e", [msgspec.structs.replace(pos("e", 1, 1.0, 90_000.0), coin="ETH")], 1_000)  # another coin
    long_, short = ob.profile(grid.edges)
    assert long_.sum() == pytest.approx(2.0 * 91_000.0)
    assert long_[grid.index(91_000.0)] == pytest.approx(182_000.0)
    assert short[grid.index(109_500.0)] == pytest.approx(109_500.0)
    assert short.sum() == pytest.approx(109_500.0)
    cov = ob.coverage(61_000, 100_000.0, oi_usd=1_000_000.0, accounts_seen=10)
    assert (cov.accounts_seen, cov.accounts_polled, cov.accounts_with_position) == (10, 5, 3)
    assert cov.positions_no_liq == 1
    assert cov.observed_usd == pytest.approx(0.5 * (7.0 + 1.0) * 100_000.0)
    assert cov.coverage == pytest.approx(0.4)
    assert cov.age_s == pytest.approx(60.0)
    assert ob.coverage(0, 100_000.0, oi_usd=None, accounts_seen=0).coverage is None


def test_crossing_consumes_levels_marks_them_realized_and_a_poll_refreshes(grid: PriceGrid) -> None:
    ob = ObservedBook("BTC")
    ob.update("a", [pos("a", 1, 2.0, 95_000.0)], 0)
    ob.update("b", [pos("b", -1, 1.0, 104_000.0)], 0)
    assert ob.cross(96_000.0, 103_000.0, 5) == []
    got = ob.cross(94_900.0, 100_000.0, 10)
    assert [(r.address, r.side, r.price) for r in got] == [("a", 1, 95_000.0)]
    assert ob.profile(grid.edges)[0].sum() == 0.0
    assert list(ob.realized)[-1].usd == pytest.approx(190_000.0)
    got = ob.cross(100_000.0, 104_000.0, 11)  # a short's level reached exactly
    assert [r.address for r in got] == ["b"]
    ob.update("a", [pos("a", 1, 1.0, 93_000.0)], 20)  # the poll shows a new position
    assert ob.profile(grid.edges)[0].sum() == pytest.approx(93_000.0)
    assert "a" not in ob.consumed


def test_zones_and_calibration_of_a_profile_against_itself_and_a_shifted_one(grid: PriceGrid) -> None:
    ob = ObservedBook("BTC")
    rng = np.random.default_rng(1)
    for i in range(200):
        side = 1 if i % 2 else -1
        centre = 92_000.0 if side > 0 else 108_000.0
        liq = centre * (1 + 0.004 * rng.standard_normal()) if i % 5 else centre * (1 - side * 0.04)
        ob.update(
            f"a{i}", [pos(f"a{i}", side, 1.0 + rng.random(), liq, lev=float(rng.choice([5, 10, 25])))], 0
        )
    rep = ob.zones(grid.edges, 100_000.0, ts=1)
    assert rep.above and rep.below
    assert abs(rep.above[0].peak / 108_000.0 - 1) < 0.01 and abs(rep.below[0].peak / 92_000.0 - 1) < 0.01
    assert all(z.usd > 0 for z in rep.above + rep.below)
    assert set(rep.above[0].tiers) <= {
        "2x",
        "3x",
        "5x",
        "10x",
        "15x",
        "20x",
        "25x",
        "40x",
        "50x",
        "75x",
        "100x",
    }
    prof = ob.profile(grid.edges)
    same = calibrate(grid.edges, 100_000.0, prof, prof, estimate_zones=rep, observed_zones=rep)
    assert same.corr_long == pytest.approx(1.0) and same.corr_short == pytest.approx(1.0)
    assert same.recall_top5 == 1.0 and same.distance_pct == 0.0
    shifted = (np.roll(prof[0], -60), np.roll(prof[1], 60))  # 6 % away
    bad = calibrate(grid.edges, 100_000.0, shifted, prof)
    assert bad.corr_long is not None and bad.corr_long < 0.5
    empty = calibrate(grid.edges, 100_000.0, prof, (np.zeros(grid.n), np.zeros(grid.n)))
    assert empty.corr_long is None and empty.recall_top5 is None


def test_tier_fit_is_notional_weighted_and_usable_as_a_model_config() -> None:
    ps = [pos(f"a{i}", 1, 1.0, 90_000.0, lev=20) for i in range(30)]
    ps += [pos(f"b{i}", 1, 3.0, 90_000.0, lev=5) for i in range(10)]
    ps += [pos("w", -1, 0.01, 110_000.0, lev=40)]
    fit = fit_tiers(ps, max_tiers=2)
    assert fit is not None
    assert fit.custom_tiers == pytest.approx({"5": 0.5, "20": 0.5})
    assert fit.kept_share == pytest.approx(60 / 60.01)
    assert fit.rebin_error == 0.0 and fit.quality == "good"
    cfg = msgspec.structs.replace(ModelConfig(), **tier_config_fields(fit))
    lev, w = cfg.resolved_tiers()
    assert lev == (5.0, 20.0) and w == pytest.approx((0.5, 0.5))
    # the opening mix: equal standing notional, but 20x lives half as long as 5x, so twice as much opened
    opening = fit_tiers(ps, max_tiers=2, half_life_h={"5": 48.0, "20": 24.0})
    assert opening is not None and opening.custom_tiers == pytest.approx({"5": 1 / 3, "20": 2 / 3})
    assert opening.kept_share == pytest.approx(fit.kept_share)
    assert fit_tiers(ps[:2]) is None
    with pytest.raises(ValueError, match="max_tiers"):
        fit_tiers(ps, max_tiers=0)


def test_json_piece_has_the_documented_keys_and_nulls(grid: PriceGrid) -> None:
    doc = observed_json(None, None, None)
    assert doc == {
        "observed": {"accounts_seen": 0, "accounts_polled": 0, "coverage": None, "age_s": None,
                     "above": [], "below": []},
        "calibration": {"corr_long": None, "corr_short": None, "recall_top5": None},
    }  # fmt: skip
    ob = ObservedBook("BTC")
    ob.update("a", [pos("a", 1, 2.0, 91_000.0)], 0)
    cov = ob.coverage(1_000, 100_000.0, oi_usd=1e6, accounts_seen=3)
    doc = observed_json(cov, ob.zones(grid.edges, 100_000.0), None, notes=["n"])
    assert doc["observed"]["coverage"] == 0.1 and doc["observed"]["below"][0]["side"] == "long"
    assert doc["observed"]["notes"] == ["n"]
    msgspec.json.encode(doc)  # serialisable as is
