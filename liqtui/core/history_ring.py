"""The time × price history: per lookback, a ring of snapshots of the standing levels.

Every lookback keeps the same number of slices (``12 h / history_slice_s``), so a slice of the 6M
lookback spans 360 times as long as one of the 12h lookback. A slice stores the (unsmeared) levels
standing at the moment it closed; :meth:`HistoryRing.picture` smears them and sums price bands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from liqtui.core.cohorts import move_window
from liqtui.core.grid import PriceGrid
from liqtui.core.model_config import LOOKBACK_MS, LOOKBACKS

__all__ = ["HistoryRing", "cum_at"]


@dataclass
class HistoryRing:
    """``ring[lb]`` (n_slices, n) USD snapshots, ``ring_ts[lb]`` their slice start (−1: empty), ``head[lb]`` the
    next slot to write, ``q[lb]`` the slice index of the last bar seen (−1: none)."""

    ring: dict[str, np.ndarray]
    ring_ts: dict[str, np.ndarray]
    head: dict[str, int]
    q: dict[str, int]

    @staticmethod
    def slices_for(history_slice_s: int) -> int:
        return max(2, (12 * 3600) // history_slice_s)

    @classmethod
    def empty(cls, n_slices: int, n: int) -> HistoryRing:
        return cls(
            ring={lb: np.zeros((n_slices, n), np.float32) for lb in LOOKBACKS},
            ring_ts={lb: np.full(n_slices, -1, np.int64) for lb in LOOKBACKS},
            head=dict.fromkeys(LOOKBACKS, 0),
            q=dict.fromkeys(LOOKBACKS, -1),
        )

    @property
    def n_slices(self) -> int:
        return len(self.ring_ts[LOOKBACKS[0]])

    def slice_ms(self, lb: str) -> int:
        return max(1, LOOKBACK_MS[lb] // self.n_slices)

    def resized(self, n: int) -> None:
        """Empty slices for a grid of ``n`` buckets (when the first price arrives)."""
        self.ring = {lb: np.zeros((self.n_slices, n), np.float32) for lb in LOOKBACKS}
        self.ring_ts = {lb: np.full(self.n_slices, -1, np.int64) for lb in LOOKBACKS}

    def moved(self, shift: tuple[int, int, int, int]) -> None:
        self.ring = {lb: move_window(r, shift, 0.0) for lb, r in self.ring.items()}

    def boundaries(self, ts: np.ndarray, end_ts: int) -> dict[int, list[tuple[str, int]]]:
        """Bars of this chunk that open a new history slice, per lookback (only slices still kept)."""
        out: dict[int, list[tuple[str, int]]] = {}
        for lb in LOOKBACKS:
            sm = self.slice_ms(lb)
            q = ts // sm
            prev = np.concatenate([[self.q[lb]], q[:-1]])
            opens = (q != prev) & (prev >= 0) & (ts > end_ts - LOOKBACK_MS[lb] - 2 * sm)
            for i in np.nonzero(opens)[0].tolist():
                out.setdefault(i, []).append((lb, int(q[i])))
            self.q[lb] = int(q[-1])
        return out

    def write(self, items: list[tuple[str, int]], levels: Callable[[str], np.ndarray]) -> None:
        """Store ``levels(lb)`` (USD per bucket) as the slice ``q`` of each ``(lb, q)`` in ``items``."""
        for lb, q in items:
            h = self.head[lb]
            self.ring[lb][h] = levels(lb)
            self.ring_ts[lb][h] = q * self.slice_ms(lb)
            self.head[lb] = (h + 1) % self.n_slices

    def slices(self, lb: str, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """(levels, start times) of the slices of ``lb`` that started in (t0, t1], oldest first."""
        rts = self.ring_ts[lb]
        ok = np.nonzero((rts > t0) & (rts <= t1))[0]
        order = ok[np.argsort(rts[ok], kind="stable")]
        return self.ring[lb][order].astype(np.float64), rts[order]


def picture(
    slices: np.ndarray,
    s_ts: np.ndarray,
    g: PriceGrid,
    t0: int,
    span_ms: int,
    cols: int,
    rows_edges: np.ndarray,
) -> np.ndarray:
    """USD per (price row, time column): column ``c`` shows the last slice begun before its end.

    ``slices`` (n_slices, n) are smeared USD with start times ``s_ts`` (ascending, the live one last);
    ``rows_edges`` run from the top price down (``rows + 1`` values).
    """
    out = np.zeros((len(rows_edges) - 1, cols), np.float32)
    col_end = t0 + (np.arange(1, cols + 1) * span_ms) // cols
    pick = np.searchsorted(s_ts, col_end, side="right") - 1
    pick[-1] = len(s_ts) - 1
    cum = cum_at(g, slices, rows_edges)  # (n_slices, n_rows + 1)
    bands = (cum[:, :-1] - cum[:, 1:]).astype(np.float32)  # (n_slices, n_rows)
    valid = pick >= 0
    out[:, valid] = bands[pick[valid]].T
    np.maximum(out, 0.0, out=out)
    return out


def cum_at(g: PriceGrid, values: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Cumulative USD below each price (linear inside a bucket), for each row of ``values``."""
    cs = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    pos = np.clip(np.log(prices) / g.step - g.k0, 0.0, float(g.n))
    i = np.minimum(np.floor(pos).astype(np.int64), g.n - 1)
    frac = pos - i
    out: np.ndarray = cs[:, i] + frac[None, :] * values[:, i]
    return out
