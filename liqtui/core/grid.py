"""PriceGrid: log-spaced price buckets on a global lattice, re-anchored without losing mass.

Bucket edges sit on the global lattice ``edge_k = r**k`` with ``r = 1 + bucket_pct/100``; a grid is a
window ``[k0, k0 + n)`` of that lattice. Because every grid shares the lattice, moving or growing the
window is an integer shift of the arrays: no mass is re-binned or lost. The model stores lattice
indices ``k`` (not array positions) wherever it keeps bucket references across time.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["PriceGrid"]


class PriceGrid:
    """A window of log-spaced price buckets.

    ``centers`` are the geometric bucket centres (ascending), ``edges`` the ``n + 1`` bucket edges.
    ``index(price)`` maps a price to its array position (clipped to the grid).
    """

    __slots__ = ("_ln_edges0", "bucket_pct", "centers", "edges", "k0", "n", "range_pct", "step")

    def __init__(self, anchor: float, bucket_pct: float = 0.1, range_pct: float = 60.0):
        if not (math.isfinite(anchor) and anchor > 0):
            raise ValueError(f"grid anchor price must be finite and > 0, got {anchor!r}")
        if not (0.001 <= bucket_pct <= 10.0):
            raise ValueError(f"bucket_pct must be in [0.001, 10], got {bucket_pct!r}")
        if not (1.0 <= range_pct < 100.0):
            raise ValueError(f"range_pct must be in [1, 100), got {range_pct!r}")
        self.bucket_pct = float(bucket_pct)
        self.range_pct = float(range_pct)
        self.step = math.log1p(bucket_pct / 100.0)
        lo, hi = self.span_for(anchor)
        self._set_window(lo, hi - lo)

    # -- lattice helpers -------------------------------------------------------------------------
    def span_for(self, price: float) -> tuple[int, int]:
        """Lattice window [k_lo, k_hi) covering ``price·(1 ± range_pct)``."""
        r = self.range_pct / 100.0
        return (
            math.floor(math.log(price * (1.0 - r)) / self.step),
            math.ceil(math.log(price * (1.0 + r)) / self.step),
        )

    def k_of(self, price: float) -> int:
        """Global lattice index of the bucket holding ``price``."""
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"price must be finite and > 0, got {price!r}")
        return math.floor(math.log(price) / self.step)

    def k_array(self, prices: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`k_of` (int64); prices must be > 0."""
        out: np.ndarray = np.floor(np.log(prices) / self.step).astype(np.int64)
        return out

    def _set_window(self, k0: int, n: int) -> None:
        self.k0 = int(k0)
        self.n = int(n)
        ks = np.arange(self.k0, self.k0 + self.n + 1, dtype=np.float64)
        self.edges = np.exp(ks * self.step)
        self.centers = np.exp((ks[:-1] + 0.5) * self.step)
        self._ln_edges0 = self.k0 * self.step

    # -- lookups -----------------------------------------------------------------------------------
    def index(self, price: float) -> int:
        """Array position of the bucket holding ``price``, clipped to ``[0, n-1]``."""
        return min(self.n - 1, max(0, self.k_of(price) - self.k0))

    def position(self, price: float) -> float:
        """Fractional array position of ``price`` (0 = lower edge of bucket 0), not clipped."""
        return math.log(price) / self.step - self.k0

    def contains(self, price: float) -> bool:
        """True when ``price`` falls inside the grid."""
        return bool(self.edges[0] <= price < self.edges[-1])

    def needs_reanchor(self, price: float) -> bool:
        """True when ``price`` moved so far that its ±range·0.75 neighbourhood leaves the grid."""
        r = 0.75 * self.range_pct / 100.0
        return bool(price * (1.0 - r) < self.edges[0] or price * (1.0 + r) > self.edges[-1])

    # -- re-anchoring ----------------------------------------------------------------------------
    def plan_cover(self, k_lo: int, k_hi: int, max_buckets: int) -> tuple[int, int]:
        """Window [k0, k1) that keeps the current one and covers [k_lo, k_hi), at most ``max_buckets``.

        When the union is wider than ``max_buckets`` the side farther from the requested span is cut
        (the caller accounts the mass that falls off).
        """
        new_lo, new_hi = min(self.k0, k_lo), max(self.k0 + self.n, k_hi)
        if new_hi - new_lo <= max_buckets:
            return new_lo, new_hi
        want = k_hi - k_lo
        if want >= max_buckets:  # the request alone is too wide: centre on it
            mid = (k_lo + k_hi) // 2
            return mid - max_buckets // 2, mid - max_buckets // 2 + max_buckets
        if k_hi > self.k0 + self.n:  # moving up: keep the top, cut the bottom
            return new_hi - max_buckets, new_hi
        return new_lo, new_lo + max_buckets

    def moved(self, k0: int, k1: int) -> PriceGrid:
        """A new grid on the same lattice with window [k0, k1)."""
        g = PriceGrid.__new__(PriceGrid)
        g.bucket_pct, g.range_pct, g.step = self.bucket_pct, self.range_pct, self.step
        g._set_window(k0, k1 - k0)
        return g

    def __repr__(self) -> str:
        return f"PriceGrid({self.edges[0]:.6g}..{self.edges[-1]:.6g}, n={self.n}, bucket={self.bucket_pct}%)"
