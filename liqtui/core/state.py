"""ModelState: everything a running :class:`~liqtui.core.model.HeatModel` changes, declared once.

The checkpoint (:mod:`liqtui.core.checkpoint`) saves and restores exactly these fields, walking them
by their declared types: adding a piece of state means adding a field here (or to one of the nested
dataclasses), nothing else. What the config fixes (:class:`~liqtui.core.layout.Layout`) and caches of
what can be recomputed are not state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liqtui.core.cohorts import Windows
from liqtui.core.grid import PriceGrid
from liqtui.core.history_ring import HistoryRing
from liqtui.core.layout import Layout
from liqtui.core.ledger import Stats
from liqtui.core.model_config import ModelConfig
from liqtui.core.zones.forecast import Activity

__all__ = ["ModelState"]


@dataclass
class ModelState:
    """The estimator's state (see the module docstring). ``grid`` is None until the first price."""

    grid: PriceGrid | None
    lnD: np.ndarray  # (T,) running log decay product per tier
    lnC: np.ndarray  # (2,) running log closing product per side
    windows: Windows  # the cohort log, the lookback arrays and the consumption epochs
    ring: HistoryRing  # the time × price history
    stats: Stats = field(default_factory=Stats)  # the USD ledger
    activity: Activity = field(default_factory=Activity)  # recent volatility and opening rate
    oi_base: float | None = None  # open interest (base units) of the last bar that had it
    long_hi: int = -1  # highest bucket that may hold long mass
    short_lo: int = 1 << 40  # lowest bucket that may hold short mass
    version: int = 0  # bumps on every change a reader can see
    price: float = math.nan  # close of the last bar
    last_ts: int = 0  # open time of the last bar applied
    last_close_ts: int = 0  # its close time: a later bar opening before this overlaps it

    @classmethod
    def fresh(cls, cfg: ModelConfig, lay: Layout) -> ModelState:
        """The state of a model that has seen nothing (no grid yet)."""
        T = lay.n_tiers
        return cls(
            grid=None,
            lnD=np.zeros(T),
            lnC=np.zeros(2),
            windows=Windows.empty(lay, 0),
            ring=HistoryRing.empty(HistoryRing.slices_for(cfg.history_slice_s), 0),
        )

    def start_grid(self, cfg: ModelConfig, lay: Layout, price: float) -> None:
        """Lay the grid around the first price, with empty arrays on it."""
        self.grid = g = PriceGrid(price, cfg.bucket_pct, cfg.range_pct)
        self.windows.resized(g.n, lay.n_tiers)
        self.ring.resized(g.n)
