"""HeatModel: the liquidation-level estimator over eight incremental lookbacks.

The model is split by job; this module is the façade the app uses:

* :mod:`liqtui.core.model_config` — :class:`ModelConfig` (every choice, checked once) and the lookbacks;
* :mod:`liqtui.core.bars` — :data:`BAR_DTYPE` and checking a batch of bars;
* :mod:`liqtui.core.layout` — what the config fixes (tiers, kernel, brackets, log columns) and the level maths;
* :mod:`liqtui.core.cohorts` — the cohort log and the exact incremental lookback windows;
* :mod:`liqtui.core.stepping` — stepping bars, growing the grid, live consumption;
* :mod:`liqtui.core.ledger` — the USD ledger;
* :mod:`liqtui.core.history_ring` — the time × price history;
* :mod:`liqtui.core.zones` — the zone finder and the reach forecast;
* :mod:`liqtui.core.state` / :mod:`liqtui.core.checkpoint` — the declared state and its checkpoint.
"""

from __future__ import annotations

import math

import numpy as np

from liqtui.core import checkpoint
from liqtui.core.bars import BAR_DTYPE, bars_from_arrays
from liqtui.core.cohorts import ALL, KEYS
from liqtui.core.grid import PriceGrid
from liqtui.core.history_ring import picture
from liqtui.core.layout import Layout, values
from liqtui.core.model_config import LOOKBACK_MS, LOOKBACKS, ModelConfig
from liqtui.core.state import ModelState
from liqtui.core.stepping import Stepper
from liqtui.core.zones import ZoneReport, find_zones
from liqtui.core.zones.forecast import horizon_sd

__all__ = ["BAR_DTYPE", "LOOKBACKS", "LOOKBACK_MS", "HeatModel", "ModelConfig", "bars_from_arrays"]


def _check_lookback(lookback: str) -> None:
    if lookback not in LOOKBACK_MS:
        raise ValueError(f"lookback must be one of {', '.join(LOOKBACKS)}; got {lookback!r}")


class HeatModel:
    """Estimated liquidation levels per side, leverage tier and price bucket, over eight lookbacks.

    ``profile(lb)`` / ``profile_by_tier(lb)`` read the current USD per bucket; ``history(...)`` the
    time × price picture; ``zones(lb)`` ranked zones; ``stats()`` the conservation ledger. All that
    changes lives in ``state`` (:class:`~liqtui.core.state.ModelState`).
    """

    _MAGIC = checkpoint.MAGIC

    def __init__(self, config: ModelConfig | None = None, price: float | None = None):
        self.config = cfg = config if config is not None else ModelConfig()
        self.layout = lay = Layout(cfg)
        self.tiers = lay.tiers
        self.tier_names = lay.tier_names
        self.state = ModelState.fresh(cfg, lay)
        self._stepper = Stepper(cfg, lay, self.state)
        self._cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        if price is not None:
            self.state.start_grid(cfg, lay, float(price))
            self.state.price = float(price)

    def _adopt(self, state: ModelState) -> None:
        self.state = state
        self._stepper = Stepper(self.config, self.layout, state)
        self._cache.clear()

    # -- read-only views of the state ------------------------------------------------------------
    @property
    def grid(self) -> PriceGrid | None:
        return self.state.grid

    @property
    def version(self) -> int:
        """Bumps on every change a reader can see."""
        return self.state.version

    @property
    def price(self) -> float:
        return self.state.price

    @property
    def last_ts(self) -> int:
        """Open time of the last bar applied (0: none)."""
        return self.state.last_ts

    @property
    def last_close_ts(self) -> int:
        """Close time of the last bar: a later bar opening before this overlaps it."""
        return self.state.last_close_ts

    # -- stepping --------------------------------------------------------------------------------
    def step(
        self,
        ts: int,
        open: float,
        high: float,
        low: float,
        close: float,
        *,
        volume: float = 0.0,
        vwap: float | None = None,
        taker_buy_share: float | None = None,
        oi_usd: float | None = None,
        interval_s: int = 60,
    ) -> None:
        """Apply one closed bar (any interval). The first bar with OI only sets the OI baseline."""
        bar = np.zeros(1, dtype=BAR_DTYPE)
        try:
            bar[0] = (
                int(ts), open, high, low, close, volume,
                np.nan if vwap is None else vwap,
                np.nan if taker_buy_share is None else taker_buy_share,
                np.nan if oi_usd is None else oi_usd,
                int(interval_s),
            )  # fmt: skip
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"bad bar at ts={ts!r}: {exc}") from exc
        self.step_many(bar)

    def step_many(self, bars: np.ndarray, *, until_ts: int | None = None) -> None:
        """Apply many closed bars in time order: the vectorised path for backfill and replay.

        ``bars`` is a :data:`BAR_DTYPE` structured array (see :func:`bars_from_arrays`) or a 2-D
        float array with the columns of BAR_DTYPE in order. Bars must be strictly after ``last_ts``.
        One call on the whole history is fastest; when a backfill arrives in chunks, pass the time
        the whole sequence will reach as ``until_ts`` so history slices that later chunks would
        overwrite are not drawn (the result is the same, the work much smaller).
        """
        self._stepper.step_many(bars, until_ts)
        self._cache.clear()

    def rebase_oi(self) -> None:
        """Forget the open-interest baseline: the next bar's OI only sets it (no seeding or closing).

        For when the OI series jumps for reasons other than positions opening or closing, e.g. a
        venue joining or leaving a summed total.
        """
        self.state.oi_base = None

    def consume(self, low: float, high: float, ts: int) -> None:
        """Live: spend every level the mark price crossed since the last tick (``low``..``high``)."""
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
            raise ValueError(f"consume needs 0 < low <= high, got low={low!r} high={high!r}")
        if self._stepper.consume(low, high):
            self._cache.clear()

    # -- reading --------------------------------------------------------------------------------
    def _current(self, key: str) -> np.ndarray:
        """USD per (side, tier, level bucket) standing within ``key`` (ALL or a lookback), unsmeared."""
        st = self.state
        assert st.grid is not None
        return values(st.windows.sync_to(key, st.last_ts, st.grid, self.layout), st.lnD, st.lnC)

    def profile_by_tier(self, lookback: str) -> tuple[np.ndarray, np.ndarray]:
        """(long_usd, short_usd), each (n_tiers, n_buckets), standing within ``lookback``."""
        _check_lookback(lookback)
        if self.grid is None:
            z = np.zeros((len(self.tiers), 0))
            return z, z.copy()
        key = (lookback, self.version)
        hit = self._cache.get(key)
        if hit is None:
            vals = self.layout.smear(self._current(lookback))
            hit = (vals[0], vals[1])
            self._cache[key] = hit
        return hit

    def profile(self, lookback: str) -> tuple[np.ndarray, np.ndarray]:
        """(long_usd, short_usd) per bucket standing within ``lookback``."""
        lt, st = self.profile_by_tier(lookback)
        return lt.sum(axis=0), st.sum(axis=0)

    def history(
        self, lookback: str, n_cols: int, price_lo: float, price_hi: float, n_rows: int
    ) -> np.ndarray:
        """USD per (price row, time column) over ``lookback``: rows top = ``price_hi``, columns oldest → newest.

        Each column shows the levels standing at the end of its time span (the last column is live,
        so consumption shows at once); a row sums the USD of the price band it covers.
        """
        _check_lookback(lookback)
        if not (
            isinstance(n_cols, int)
            and isinstance(n_rows, int)
            and 1 <= n_cols <= 10_000
            and 1 <= n_rows <= 10_000
        ):
            raise ValueError(f"n_cols and n_rows must be ints in [1, 10000]; got {n_cols!r}, {n_rows!r}")
        if not (math.isfinite(price_lo) and math.isfinite(price_hi) and 0 < price_lo < price_hi):
            raise ValueError(f"history needs 0 < price_lo < price_hi; got {price_lo!r}, {price_hi!r}")
        g = self.grid
        if g is None:
            return np.zeros((n_rows, n_cols), np.float32)
        span = LOOKBACK_MS[lookback]
        t0 = self.last_ts - span
        slices, s_ts = self.state.ring.slices(lookback, t0, self.last_ts)
        live = self._current(lookback).sum(axis=(0, 1))
        slices = self.layout.smear(np.vstack([slices, live[None, :]]))
        s_ts = np.concatenate([s_ts, [self.last_ts]])
        return picture(slices, s_ts, g, t0, span, n_cols, np.linspace(price_hi, price_lo, n_rows + 1))

    def zones(
        self,
        lookback: str,
        *,
        threshold_pct: float = 50.0,
        top_n: int = 5,
        smooth_pct: float = 0.5,
        gap_pct: float = 0.5,
        order: str = "strength",
    ) -> ZoneReport:
        """The strongest zones above (short liquidations) and below (long liquidations) the price.

        Zones are found on the standing estimate of ``lookback`` and ranked by its USD, ``top_n`` per side:
        a long lookback shows the macro pools, a short one the near traps. Each zone carries its ``reach``,
        the chance the price touches it within ``zone_horizon_h`` at the recent volatility; ``order``
        ("strength" | "reach") says how the list is ordered. See :func:`liqtui.core.zones.find_zones` for
        ``threshold_pct``, ``smooth_pct`` and ``gap_pct``.
        """
        lt, st = self.profile_by_tier(lookback)
        g = self.grid
        edges = g.edges if g is not None else np.zeros(1)
        sd = horizon_sd(self.config, self.state.activity)
        return find_zones(
            edges, lt, st, self.price, tier_names=self.tier_names, threshold_pct=threshold_pct,
            top_n=top_n, lookback=lookback, ts=self.last_ts, smooth_pct=smooth_pct, gap_pct=gap_pct,
            max_width_pct=self.config.zone_max_width_pct, valley_ratio=self.config.zone_valley_ratio,
            horizon_sd=sd, order=order,
        )  # fmt: skip

    def activity(self) -> dict[str, float]:
        """Recent market activity the zone forecast uses: ``vol_per_h`` (log-price standard deviation per
        hour) and ``long_usd_per_h`` / ``short_usd_per_h`` (new positions seeded per hour), exponentially
        weighted over ``activity_half_life_h``; zeros before any bar."""
        return self.state.activity.rates()

    def stats(self) -> dict[str, float]:
        """USD ledger: seeded = standing + consumed + closed + decayed (+ trimmed, 0 unless the grid cut)."""
        standing_ls = [0.0, 0.0]
        if self.grid is not None:
            v = self._current(ALL)
            standing_ls = [float(v[0].sum()), float(v[1].sum())]
        s = self.state.stats
        return {
            "seeded": s.seeded,
            "standing": standing_ls[0] + standing_ls[1],
            "consumed": s.consumed,
            "closed": s.closed,
            "decayed": s.decayed,
            "trimmed": s.trimmed,
            "standing_long": standing_ls[0],
            "standing_short": standing_ls[1],
        }

    # -- checkpoint -----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A self-contained checkpoint (config and state); :meth:`from_bytes` restores it."""
        st = self.state
        if st.grid is not None:
            st.windows.sync_all(st.last_ts, st.grid, self.layout)
        st.windows.log.shrink()
        return checkpoint.encode(self.config, st)

    @classmethod
    def from_bytes(cls, b: bytes) -> HeatModel:
        """Restore a model written by :meth:`to_bytes`; raises ``ValueError`` on anything else (including
        checkpoints of an older format, which the caller rebuilds from history)."""
        config, state = checkpoint.decode(b)
        model = cls(config)
        _check_shapes(model.layout, model.state, state)
        model._adopt(state)
        return model


def _check_shapes(lay: Layout, fresh: ModelState, st: ModelState) -> None:
    """A decoded state fits the model of its config (``fresh``): array keys, shapes and dtypes."""
    n = 0 if st.grid is None else st.grid.n
    T, n_slices = lay.n_tiers, fresh.ring.n_slices
    want: dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]] = {
        "lnD": ((T,), np.dtype(np.float64)),
        "lnC": ((2,), np.dtype(np.float64)),
        "epoch": ((2, n), np.dtype(np.int32)),
    }
    got: dict[str, np.ndarray] = {"lnD": st.lnD, "lnC": st.lnC, "epoch": st.windows.epoch}
    if (
        set(st.windows.arr) != set(KEYS)
        or set(st.ring.ring) != set(LOOKBACKS)
        or set(st.ring.ring_ts) != set(LOOKBACKS)
    ):
        raise ValueError("corrupt HeatModel checkpoint: lookback arrays missing")
    for key, arr in st.windows.arr.items():
        want[f"arr[{key}]"], got[f"arr[{key}]"] = ((2, T, n), np.dtype(np.float64)), arr
    for lb in LOOKBACKS:
        want[f"ring[{lb}]"], got[f"ring[{lb}]"] = ((n_slices, n), np.dtype(np.float32)), st.ring.ring[lb]
        want[f"ring_ts[{lb}]"], got[f"ring_ts[{lb}]"] = ((n_slices,), np.dtype(np.int64)), st.ring.ring_ts[lb]
    log = st.windows.log
    want["log.k"], got["log.k"] = ((log.size, lay.width), np.dtype(np.int32)), log.k
    want["log.amt"], got["log.amt"] = ((log.size, lay.width), np.dtype(np.float64)), log.amt
    want["log.ts"], got["log.ts"] = ((log.size,), np.dtype(np.int64)), log.ts
    want["log.seq"], got["log.seq"] = ((log.size,), np.dtype(np.int32)), log.seq
    for name, (shape, dtype) in want.items():
        if got[name].shape != shape or got[name].dtype != dtype:
            raise ValueError(
                f"corrupt HeatModel checkpoint: {name} is {got[name].dtype}{got[name].shape}, "
                f"expected {dtype}{shape}"
            )
