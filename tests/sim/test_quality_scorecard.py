"""The estimator earns its keep: over several seeded simulated markets (history → model → zones, then the
market runs on), the model's top-5 zones catch more of the liquidated notional than the naive baseline of
zones as wide at fixed distances from the price — and a broken estimator does not.

Measured (2026-11-22, 10 seeds, 183 days, run_scorecard defaults 1d / next 12 h): model 0.855 vs naive
0.832 (forecast zones); raw-USD zones (zone_horizon_h = 0) 0.718 vs 0.738. This test (6 seeds, 60 days,
1d/7d x 12/24 h): 0.914 vs 0.815; with zone_horizon_h = 0 it would fail (0.73 vs 0.80).
Since zones are cut into clusters (zone_max_width_pct 1.5, zone_valley_ratio 0.6; mean zone width 8.6 % → 1.0 %):
6 seeds × 60 days, 12h/1d/7d × 12/24 h: model 0.713 vs naive 0.538; 4 seeds × 183 days: 0.834 vs 0.714.
Zones ranked by standing USD (model branch of 2026-11-29, issue 11), this test's cells: 0.555 vs 0.527."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from liqtui.core.events import Liquidation
from liqtui.core.model import HeatModel, ModelConfig
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import model_bars, naive_report, score

from .conftest import START_MS

SEEDS = range(6)
CELLS = (("1d", 12), ("1d", 24), ("7d", 12), ("7d", 24))  # (lookback, horizon h)
HISTORY_DAYS = 60  # enough for the 7d lookback; keeps the test well under 30 s


@dataclass
class _Case:
    bars: np.ndarray
    t0: int
    realized: list[Liquidation]


@pytest.fixture(scope="module")
def cases() -> list[_Case]:
    out = []
    for seed in SEEDS:
        market = MarketSim(seed, start_ms=START_MS, history_days=HISTORY_DAYS)
        bars, t0, n0 = model_bars(market), market.now_ms, len(market.realized)
        market.fast_forward(t0 + max(h for _, h in CELLS) * 3_600_000)
        out.append(_Case(bars, t0, market.realized[n0:]))
    return out


def _shares(cases: list[_Case], config: ModelConfig | None) -> tuple[float, float]:
    """Mean share (model, naive) over every seed and cell that saw liquidations."""
    model, naive = [], []
    for c in cases:
        m = HeatModel(config)
        m.step_many(c.bars)
        for lookback, horizon_h in CELLS:
            report = m.zones(lookback)
            end = c.t0 + horizon_h * 3_600_000
            card = score(report, c.realized, start_ms=c.t0, end_ms=end)
            if card.share is None:
                continue
            model.append(card.share)
            naive.append(score(naive_report(report), c.realized, start_ms=c.t0, end_ms=end).share or 0.0)
    assert len(model) >= len(CELLS) * 3  # most seeds liquidate something within a day
    return float(np.mean(model)), float(np.mean(naive))


def test_the_model_beats_the_naive_baseline(cases: list[_Case]) -> None:
    model, naive = _shares(cases, None)
    # The realized share is the second line since issue 11 (zones are the strongest standing levels, judged
    # first by liqtui.sim.truth against the true positions), so its old >= 0.7 goal, which only a 12 h reach
    # ranking met, is not asserted; beating zones at fixed distances still is.
    assert model > naive + 0.01, (model, naive)


def test_a_broken_estimator_does_not(cases: list[_Case]) -> None:
    # levels of 3-25x positions only, ranked by raw USD: far from where the next liquidations happen
    model, naive = _shares(cases, ModelConfig(tiers="swing", zone_horizon_h=0.0))
    assert model < naive and model < 0.5, (model, naive)
