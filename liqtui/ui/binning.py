"""Pure numbers for the picture: heat scaling, price rows, profile binning, candles per column.

numpy only (no textual, no rich): :mod:`liqtui.ui.view` builds a frame from these and is tested without a
terminal; :mod:`liqtui.ui.render` turns them into segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqtui.core.colorscale import heat_levels

__all__ = ["CandleCols", "HeatScale", "bin_profile", "candle_columns", "price_rows", "row_of"]


# ------------------------------------------------------------------------------------------------ scaling
@dataclass(frozen=True)
class HeatScale:
    """How USD values become heat levels (delegates to :func:`liqtui.core.colorscale.heat_levels`):
    intensity relative to a high percentile, ``gamma`` < 1 is "more heat", values below the
    ``threshold_pct`` percentile of the positive ones are hidden (level 0)."""

    threshold_pct: float = 50.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold_pct <= 100.0:
            raise ValueError(f"threshold_pct must be within 0..100, got {self.threshold_pct}")

    def levels(self, values: np.ndarray, n_levels: int) -> np.ndarray:
        """Heat level (uint8, 0..n_levels-1) of every value."""
        return heat_levels(values, gamma=self.gamma, threshold_pct=self.threshold_pct, levels=n_levels)


# ------------------------------------------------------------------------------------------ price → rows
def price_rows(price_lo: float, price_hi: float, n_rows: int) -> np.ndarray:
    """Edges (n_rows + 1, descending: top = high) of ``n_rows`` equal price rows."""
    if not price_hi > price_lo:
        raise ValueError(f"price_hi must exceed price_lo, got {price_lo}..{price_hi}")
    if n_rows < 1:
        raise ValueError(f"need at least one row, got {n_rows}")
    return np.linspace(price_hi, price_lo, n_rows + 1)


def row_of(price: float, price_lo: float, price_hi: float, n_rows: int) -> int | None:
    """Index of the row (0 = top) holding ``price``, or None outside the window."""
    if not (price_lo <= price <= price_hi) or not price_hi > price_lo:
        return None
    r = int((price_hi - price) / (price_hi - price_lo) * n_rows)
    return min(r, n_rows - 1)


def bin_profile(
    edges: np.ndarray, values: np.ndarray, price_lo: float, price_hi: float, n_rows: int
) -> np.ndarray:
    """Sum bucket ``values`` (..., n_buckets) with bucket ``edges`` (n_buckets + 1, ascending) into
    ``n_rows`` equal display rows (top = high) → (..., n_rows). Partial buckets count pro rata (linear
    inside a bucket), so rows narrower than a bucket are not empty and the total is conserved."""
    e = np.asarray(edges, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if e.ndim != 1 or e.size != vals.shape[-1] + 1:
        raise ValueError(f"need n_buckets + 1 edges; got {e.size} edges for {vals.shape[-1]} buckets")
    row_edges = price_rows(price_lo, price_hi, n_rows)
    flat = vals.reshape(-1, vals.shape[-1])
    out = np.empty((flat.shape[0], n_rows), dtype=np.float64)
    for i in range(flat.shape[0]):
        cs = np.concatenate(([0.0], np.cumsum(flat[i])))
        at = np.interp(row_edges, e, cs)
        out[i] = at[:-1] - at[1:]
    return out.reshape(vals.shape[:-1] + (n_rows,))


# ---------------------------------------------------------------------------------------------- candles
@dataclass(frozen=True)
class CandleCols:
    """Candles aggregated to heatmap columns (only columns that have one)."""

    cols: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def candle_columns(ohlc: np.ndarray, ts: np.ndarray, t0: int, t1: int, n_cols: int) -> CandleCols:
    """Aggregate bars (``ohlc`` (n, 4), ``ts`` open times ms, ascending) into ``n_cols`` columns over
    [t0, t1): per column first open, max high, min low, last close."""
    empty = np.zeros(0)
    ts = np.asarray(ts, dtype=np.int64)
    if ts.size == 0 or t1 <= t0 or n_cols < 1:
        return CandleCols(np.zeros(0, dtype=np.int64), empty, empty, empty, empty)
    keep = (ts >= t0) & (ts < t1)
    ts, o = ts[keep], np.asarray(ohlc, dtype=np.float64)[keep]
    if ts.size == 0:
        return CandleCols(np.zeros(0, dtype=np.int64), empty, empty, empty, empty)
    col = ((ts - t0) * n_cols // (t1 - t0)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:], col.size] - 1
    return CandleCols(
        cols=col[starts],
        open=o[starts, 0],
        high=np.maximum.reduceat(o[:, 1], starts),
        low=np.minimum.reduceat(o[:, 2], starts),
        close=o[ends, 3],
    )
