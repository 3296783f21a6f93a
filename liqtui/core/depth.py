"""Resting liquidity in the model's price buckets: the order books of the followed venues, summed, over time.

Pure (numpy/stdlib/the core). :class:`DepthBook` consumes :class:`~liqtui.core.book_events.BookUpdate` and
:class:`~liqtui.core.book_events.BookStatus` events (the engine owns one), keeps each venue's levels, and only
counts a venue whose book is ``live``: a venue that is resyncing, stale or unsynchronised contributes nothing
until its book is right again. :meth:`DepthBook.profile` gives bid and ask USD per bucket of a grid (only
``grid.edges`` is used) within a price window; :meth:`DepthBook.record` keeps a ring of such profiles at the
heatmap's column resolution, and :meth:`DepthBook.history` draws them as a (price row × time column) matrix so a
wall that stands for hours shows as a band.

:func:`mark_walls` finds walls — buckets holding at least ``n``× the median resting USD of the window — and
says which liquidation zones hold one (confluence); :func:`book_json` is the ``book``/``wall`` part of
``liqtui zones --json``.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from liqtui.core.book_events import BookState, BookStatus, BookUpdate
from liqtui.core.events import Venue

__all__ = [
    "DEFAULT_WALL_X",
    "DepthBook",
    "DepthProfile",
    "Wall",
    "WallMarks",
    "book_json",
    "find_walls",
    "mark_walls",
    "zones_doc_with_book",
]

#: A wall holds at least this many times the median resting USD of the window's buckets.
DEFAULT_WALL_X = 5.0
#: Default ring: one profile a minute for 12 hours (the model's history horizon).
DEFAULT_SLICE_MS = 60_000
DEFAULT_SLICES = 720


class _Grid(Protocol):
    @property
    def edges(self) -> np.ndarray: ...


class _Zone(Protocol):
    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...


@dataclasses.dataclass(frozen=True)
class DepthProfile:
    """Resting USD per bucket: ``bid_usd[i]``/``ask_usd[i]`` between ``edges[i]`` and ``edges[i+1]``."""

    edges: np.ndarray
    bid_usd: np.ndarray
    ask_usd: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        out: np.ndarray = np.sqrt(self.edges[:-1] * self.edges[1:])
        return out

    @property
    def total_bid(self) -> float:
        return float(self.bid_usd.sum())

    @property
    def total_ask(self) -> float:
        return float(self.ask_usd.sum())


class _VenueBook:
    __slots__ = ("asks", "bids", "state", "status", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.state = BookState.SYNCING
        self.status: BookStatus | None = None


def _side_usd(side: dict[float, float], edges: np.ndarray) -> np.ndarray:
    n = len(edges) - 1
    if not side:
        return np.zeros(n)
    px = np.fromiter(side.keys(), np.float64, len(side))
    sz = np.fromiter(side.values(), np.float64, len(side))
    i = np.searchsorted(edges, px, side="right") - 1
    ok = (i >= 0) & (i < n)
    return np.bincount(i[ok], weights=(px * sz)[ok], minlength=n)[:n]


class DepthBook:
    """The followed venues' books, summed into price buckets; a ring of them over time.

    ``version`` bumps on every change (the UI redraws the book layer on it, not on the engine's version).
    """

    def __init__(self, *, slice_ms: int = DEFAULT_SLICE_MS, n_slices: int = DEFAULT_SLICES) -> None:
        if slice_ms < 1 or n_slices < 2:
            raise ValueError(f"slice_ms must be >= 1 and n_slices >= 2; got {slice_ms}, {n_slices}")
        self.slice_ms = slice_ms
        self.venues: dict[Venue, _VenueBook] = {}
        self.version = 0
        self.updates = 0
        self._ring: collections.deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = collections.deque(
            maxlen=n_slices
        )

    # -- events ------------------------------------------------------------------------------------------
    def apply(self, ev: BookUpdate | BookStatus) -> None:
        """Apply one book event."""
        vb = self.venues.get(ev.venue)
        if vb is None:
            vb = self.venues[ev.venue] = _VenueBook(ev.symbol)
        self.version += 1
        if type(ev) is BookUpdate:
            self.updates += 1
            if ev.is_snapshot:
                vb.bids = {p: q for p, q in ev.bids if q > 0.0}
                vb.asks = {p: q for p, q in ev.asks if q > 0.0}
                return
            for side, rows in ((vb.bids, ev.bids), (vb.asks, ev.asks)):
                for p, q in rows:
                    if q == 0.0:
                        side.pop(p, None)
                    else:
                        side[p] = q
            return
        assert isinstance(ev, BookStatus)
        vb.state = ev.state
        vb.status = ev
        if ev.state is not BookState.LIVE:
            vb.bids.clear()  # never shown wrong: nothing until the book is right again
            vb.asks.clear()

    # -- views ---------------------------------------------------------------------------------------------
    def live_venues(self) -> list[Venue]:
        return [v for v, b in self.venues.items() if b.state is BookState.LIVE]

    def states(self) -> dict[str, str]:
        """venue → book state (``live``, ``syncing``, ``resyncing``, ``stale``, ``unsynced``, ``stopped``)."""
        return {v.value: b.state.value for v, b in self.venues.items()}

    def stats(self) -> dict[str, int]:
        """``book_updates`` (applied here), ``book_resyncs`` and ``book_checksum_errors`` (the keepers' totals,
        summed over venues), ``book_gaps``, ``book_stale``."""
        out = {"book_updates": self.updates, "book_resyncs": 0, "book_checksum_errors": 0, "book_gaps": 0,
               "book_stale": 0}  # fmt: skip
        for b in self.venues.values():
            s = b.status
            if s is not None:
                out["book_resyncs"] += s.resyncs
                out["book_checksum_errors"] += s.checksum_errors
                out["book_gaps"] += s.gaps
                out["book_stale"] += s.stale
        return out

    def profile(
        self, grid: _Grid, price_lo: float | None = None, price_hi: float | None = None
    ) -> DepthProfile:
        """Bid and ask USD per bucket of ``grid.edges`` summed over the live venues; buckets outside
        ``[price_lo, price_hi]`` (the visible window) are zero."""
        edges = np.asarray(grid.edges, np.float64)
        bid = np.zeros(len(edges) - 1)
        ask = np.zeros(len(edges) - 1)
        for b in self.venues.values():
            if b.state is BookState.LIVE:
                bid += _side_usd(b.bids, edges)
                ask += _side_usd(b.asks, edges)
        if price_lo is not None or price_hi is not None:
            lo = -math.inf if price_lo is None else price_lo
            hi = math.inf if price_hi is None else price_hi
            outside = (edges[1:] <= lo) | (edges[:-1] >= hi)
            bid[outside] = 0.0
            ask[outside] = 0.0
        return DepthProfile(edges, bid, ask)

    # -- over time -----------------------------------------------------------------------------------------
    def record(self, now_ms: int, grid: _Grid) -> bool:
        """Keep the current profile for the slice of ``now_ms`` (the latest call within a slice wins). Returns
        whether a new slice was started."""
        p = self.profile(grid)
        keep = (p.bid_usd > 0) | (p.ask_usd > 0)
        entry = (now_ms - now_ms % self.slice_ms, p.centers[keep], p.bid_usd[keep], p.ask_usd[keep])
        ring = self._ring
        if ring and ring[-1][0] == entry[0]:
            ring[-1] = entry
            return False
        if ring and entry[0] < ring[-1][0]:
            return False  # the clock went back: keep what is there
        ring.append(entry)
        return True

    def history(
        self, n_cols: int, price_lo: float, price_hi: float, n_rows: int, *, span_ms: int, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) USD per (price row, time column): rows top = ``price_hi``, columns oldest → newest over
        ``span_ms`` ending at ``now_ms``; each column shows the last profile recorded at or before its end."""
        if not (1 <= n_cols <= 10_000 and 1 <= n_rows <= 10_000):
            raise ValueError(f"n_cols and n_rows must be in [1, 10000]; got {n_cols}, {n_rows}")
        if not (0 < price_lo < price_hi and math.isfinite(price_hi)):
            raise ValueError(f"history needs 0 < price_lo < price_hi; got {price_lo}, {price_hi}")
        bid = np.zeros((n_rows, n_cols), np.float32)
        ask = np.zeros((n_rows, n_cols), np.float32)
        if not self._ring:
            return bid, ask
        ts = np.fromiter((e[0] for e in self._ring), np.int64, len(self._ring))
        col_end = now_ms - span_ms + (np.arange(1, n_cols + 1) * span_ms) // n_cols
        pick = np.searchsorted(ts, col_end, side="right") - 1
        row_edges = np.linspace(price_lo, price_hi, n_rows + 1)
        used = np.unique(pick[pick >= 0])
        if len(used) == 0:
            return bid, ask
        # every used slice's levels binned at once: (slice, row) cells summed by one bincount per side
        ring = self._ring
        sizes = [len(ring[k][1]) for k in used.tolist()]
        centers = np.concatenate([ring[k][1] for k in used.tolist()])
        owner = np.repeat(np.arange(len(used)), sizes)
        row = n_rows - 1 - (np.searchsorted(row_edges, centers, side="right") - 1)  # rows top = price_hi
        ok = (centers >= price_lo) & (centers < price_hi)
        cell = owner[ok] * n_rows + row[ok]
        size = len(used) * n_rows
        per_b = np.bincount(cell, np.concatenate([ring[k][2] for k in used.tolist()])[ok], size).reshape(
            -1, n_rows
        )
        per_a = np.bincount(cell, np.concatenate([ring[k][3] for k in used.tolist()])[ok], size).reshape(
            -1, n_rows
        )
        col = np.flatnonzero(pick >= 0)
        slot = np.searchsorted(used, pick[col])
        bid[:, col] = per_b[slot].T
        ask[:, col] = per_a[slot].T
        return bid, ask


@dataclasses.dataclass(frozen=True)
class Wall:
    side: str  # "bid" | "ask"
    price: float  # bucket centre
    usd: float

    def to_dict(self) -> dict[str, Any]:
        return {"side": self.side, "price": self.price, "usd": self.usd}


@dataclasses.dataclass(frozen=True)
class WallMarks:
    """``wall[i]``: zone i holds a wall; ``walls``: every wall of the window, strongest first; ``median_usd``:
    the median resting USD of the window's non-empty buckets (the reference)."""

    wall: list[bool]
    walls: list[Wall]
    median_usd: float


class _Span:
    __slots__ = ("high", "low")

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high


def _zones_of(zones: Any) -> list[Any]:
    if isinstance(zones, dict):
        zones = [*zones.get("above", []), *zones.get("below", [])]
    elif hasattr(zones, "above") and hasattr(zones, "below"):
        zones = [*zones.above, *zones.below]
    return [_Span(float(z["low"]), float(z["high"])) if isinstance(z, dict) else z for z in zones]


def find_walls(depth: DepthProfile, x: float = DEFAULT_WALL_X) -> tuple[list[Wall], float]:
    """Buckets of ``depth`` (either side) holding at least ``x``× the median USD of the non-empty buckets."""
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"wall multiple must be a finite number > 0, got {x!r}")
    vals = np.concatenate([depth.bid_usd, depth.ask_usd])
    nz = vals[vals > 0]
    if len(nz) == 0:
        return [], 0.0
    med = float(np.median(nz))
    thr = x * med
    centers = depth.centers
    walls = [
        Wall("bid", float(centers[i]), float(depth.bid_usd[i])) for i in np.flatnonzero(depth.bid_usd >= thr)
    ]
    walls += [
        Wall("ask", float(centers[i]), float(depth.ask_usd[i])) for i in np.flatnonzero(depth.ask_usd >= thr)
    ]
    walls.sort(key=lambda w: -w.usd)
    return walls, med


def mark_walls(zones: Iterable[_Zone] | Any, depth: DepthProfile, x: float = DEFAULT_WALL_X) -> WallMarks:
    """Which ``zones`` (a list of zones with ``low``/``high``, or a report with ``above``/``below``: then in that
    order) hold a wall: a bucket of ``depth`` with at least ``x``× the median resting USD of the window's
    non-empty buckets, whose centre lies within the zone's ``[low, high]``."""
    walls, med = find_walls(depth, x)
    marks = [any(z.low <= w.price <= z.high for w in walls) for z in _zones_of(zones)]
    return WallMarks(marks, walls, med)


def book_json(zones: Sequence[_Zone] | Any, depth: DepthProfile, x: float = DEFAULT_WALL_X) -> dict[str, Any]:
    """The book part of ``liqtui zones --json``: ``{"book": {"bid_usd", "ask_usd", "walls": [...]}, "wall":
    [bool per zone, in the order of ``zones`` (above then below for a report)]}`` over ``depth``'s window."""
    m = mark_walls(zones, depth, x)
    return {
        "book": {
            "bid_usd": round(depth.total_bid, 2),
            "ask_usd": round(depth.total_ask, 2),
            "walls": [w.to_dict() for w in m.walls],
        },
        "wall": m.wall,
    }


def zones_doc_with_book(
    doc: dict[str, Any],
    depth: DepthBook,
    grid: _Grid | None,
    *,
    price_lo: float | None = None,
    price_hi: float | None = None,
    x: float = DEFAULT_WALL_X,
) -> dict[str, Any]:
    """Add the book to a ``liqtui zones --json`` document (``above``/``below`` zone dicts with ``low``/``high``,
    and ``stats``): ``doc["book"]`` over ``[price_lo, price_hi]`` (None: the whole grid), ``wall`` on every zone,
    and ``book_updates``/``book_resyncs``/``book_checksum_errors`` (and the book states) in ``doc["stats"]``.
    Without a grid (no model yet) the book is empty and no zone holds a wall. Returns ``doc``."""
    if grid is None:
        prof = DepthProfile(np.array([1.0, 2.0]), np.zeros(1), np.zeros(1))
    else:
        prof = depth.profile(grid, price_lo, price_hi)
    j = book_json(doc, prof, x)
    doc["book"] = j["book"]
    zones = [*doc.get("above", []), *doc.get("below", [])]
    for z, w in zip(zones, j["wall"], strict=True):
        z["wall"] = w
    st = doc.setdefault("stats", {})
    s = depth.stats()
    st.update(
        book_updates=s["book_updates"],
        book_resyncs=s["book_resyncs"],
        book_checksum_errors=s["book_checksum_errors"],
        book_states=depth.states(),
    )
    return doc
