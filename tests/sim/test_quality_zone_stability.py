"""The sim engineer's finding, as a test: the demo market's mixed-resolution history stepped in one batch
(``step_many``, the backfill path) and bar by bar (the live path) gives the same zones, to the cent."""

from __future__ import annotations

import pytest

from liqtui.core.model import HeatModel
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import model_bars
from tests.core.test_zone_stability import cents

from .conftest import START_MS


@pytest.mark.parametrize("lookback", ["12h", "1d", "7d"])
def test_sim_history_batch_vs_per_bar_zones(lookback: str, _models: tuple[HeatModel, HeatModel]) -> None:
    batch, per_bar = _models
    a, b = cents(batch.zones(lookback)), cents(per_bar.zones(lookback))
    assert a["above"] and a["below"]
    assert a == b


@pytest.fixture(scope="module")
def _models() -> tuple[HeatModel, HeatModel]:
    bars = model_bars(MarketSim(seed=0, start_ms=START_MS, history_days=60))
    batch, per_bar = HeatModel(), HeatModel()
    batch.step_many(bars)
    for row in bars:
        per_bar.step_many(row[None])
    return batch, per_bar
