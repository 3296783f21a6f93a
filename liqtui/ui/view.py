"""What the screen shows, without a screen: the view state and the frame built from an engine.

:class:`ViewState` holds what the user chose (lookback, liquidity threshold, heat gamma, zoom, centre, candles,
zones per side and their order) and the price window that follows from it; the keys of the app only call its methods.
:func:`build_frame` reads an engine (anything that has the :class:`EngineView` shape, e.g.
:class:`liqtui.core.engine.Engine`) through the view and returns a :class:`Frame`: the history heat, the live
profile, the zones and the market status. Both are pure (numpy, no textual, no rich): tested with plain pytest.

The heat picture and the zones are the expensive parts; ``build_frame(..., previous=frame)`` reuses them
from the previous frame while their inputs are unchanged (the heat: until a display column's time slice
closes or the view changes; the zones: until the model changes).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from liqtui.config import GAMMA, THRESHOLD, UIConfig
from liqtui.core.book_events import BookEvent
from liqtui.core.depth import DepthProfile, WallMarks, mark_walls
from liqtui.core.events import Candle, FeedStatus, Liquidation, MarketEvent, Venue
from liqtui.core.grid import PriceGrid
from liqtui.core.model import LOOKBACK_MS
from liqtui.core.observed import LEVERAGE_BINS, ObservedBook
from liqtui.core.zones import ORDERS, ZoneReport
from liqtui.ui.binning import CandleCols, HeatScale, bin_profile, candle_columns, row_of

__all__ = [
    "BOOK_REFRESH_MS",
    "BOOK_SPAN_MS",
    "GAMMA_STEP",
    "LOOKBACK_SPAN_PCT",
    "SPAN_RANGE",
    "THRESHOLD_STEP",
    "ZOOM_STEP",
    "BookFrame",
    "DepthView",
    "EngineView",
    "Frame",
    "Heat",
    "MarketStatus",
    "ModelView",
    "ObservedLayer",
    "ViewState",
    "book_grid",
    "build_book",
    "build_frame",
    "build_observed",
    "current_price",
    "market_status",
    "shown_zones",
]

THRESHOLD_STEP = 10.0
GAMMA_STEP = 1.25
ZOOM_STEP = 1.25
SPAN_RANGE = (0.25, 60.0)  # half-height of the price window, % of centre
LOOKBACK_SPAN_PCT = {
    "12h": 4.0,
    "1d": 6.0,
    "3d": 8.0,
    "7d": 10.0,
    "14d": 12.0,
    "1M": 15.0,
    "3M": 25.0,
    "6M": 35.0,
}
"""Default half-height of the price window per lookback: longer lookbacks hold farther (lower-leverage) levels.
The user's zoom (``+``/``-``) is a factor on top, kept across lookbacks."""


# ------------------------------------------------------------------------------------------ what we read
class ModelView(Protocol):
    """What the UI reads of a model (:class:`liqtui.core.model.HeatModel`)."""

    @property
    def version(self) -> int: ...
    @property
    def last_ts(self) -> int: ...
    @property
    def price(self) -> float: ...
    @property
    def grid(self) -> PriceGrid | None: ...
    @property
    def tier_names(self) -> tuple[str, ...]: ...

    def history(
        self, lookback: str, n_cols: int, price_lo: float, price_hi: float, n_rows: int
    ) -> np.ndarray: ...
    def profile_by_tier(self, lookback: str) -> tuple[np.ndarray, np.ndarray]: ...
    def zones(
        self, lookback: str, *, threshold_pct: float = ..., top_n: int = ..., order: str = ...
    ) -> ZoneReport: ...


class DepthView(Protocol):
    """What the UI reads of the engine's order books (:class:`liqtui.core.depth.DepthBook`)."""

    @property
    def version(self) -> int: ...
    @property
    def slice_ms(self) -> int: ...

    def profile(
        self, grid: PriceGrid, price_lo: float | None = ..., price_hi: float | None = ...
    ) -> DepthProfile: ...
    def history(
        self, n_cols: int, price_lo: float, price_hi: float, n_rows: int, *, span_ms: int, now_ms: int
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def states(self) -> dict[str, str]: ...
    def stats(self) -> dict[str, int]: ...


class EngineView(Protocol):
    """What the UI reads of, and calls on, an engine (:class:`liqtui.core.engine.Engine`)."""

    @property
    def model(self) -> ModelView: ...
    @property
    def version(self) -> int: ...
    @property
    def price(self) -> float | None: ...
    @property
    def mark(self) -> float | None: ...
    @property
    def liquidations(self) -> Sequence[Liquidation]: ...
    @property
    def candles(self) -> Iterable[Candle]: ...
    @property
    def status(self) -> Mapping[Venue, FeedStatus]: ...
    @property
    def funding(self) -> Mapping[Venue, float]: ...
    @property
    def oi_usd(self) -> Mapping[Venue, float]: ...
    @property
    def oi_usd_total(self) -> float: ...
    @property
    def oi_change_pct_1h(self) -> float | None: ...
    @property
    def oi_history(self) -> list[tuple[int, float]]: ...
    @property
    def oi_history_version(self) -> int: ...
    @property
    def counters(self) -> Mapping[str, int]: ...
    @property
    def depth(self) -> DepthView: ...

    def apply(self, ev: MarketEvent | BookEvent) -> None: ...
    def tick(self, now_ms: int) -> None: ...


def current_price(engine: EngineView) -> float | None:
    """The live anchor price: the engine's last trade, else its mark, else the model's last close."""
    for p in (engine.price, engine.mark, engine.model.price):
        if p is not None and math.isfinite(p) and p > 0:
            return float(p)
    return None


# ------------------------------------------------------------------------------------------ the view state
@dataclass
class ViewState:
    """What the user chose to see. Limits: :data:`liqtui.config.THRESHOLD`, :data:`liqtui.config.GAMMA`,
    :data:`SPAN_RANGE`; every step method clamps to them."""

    lookback: str = "1d"
    threshold_pct: float = 50.0
    gamma: float = 1.0
    klines: bool = True
    top_n: int = 5
    zoom: float = 1.0
    center: float | None = None
    zone_order: str = "strength"  # how the zones are listed: "strength" (biggest USD first) | "reach"
    book: bool = False  # the order-book layer: depth column, wall marks, book status
    book_overlay: bool = False  # resting liquidity drawn over the heatmap (only while ``book`` is on)
    observed: bool = False  # Hyperliquid's observed positions shown (column, markers, zones)

    @classmethod
    def from_settings(cls, ui: UIConfig) -> ViewState:
        """The starting view of checked settings (see :func:`liqtui.config.ui_settings`)."""
        return cls(
            lookback=ui.lookback,
            threshold_pct=float(ui.threshold_pct),
            gamma=float(ui.heat_gamma),
            klines=ui.klines,
            top_n=ui.top_n,
        )

    @property
    def span_pct(self) -> float:
        """Half-height of the price window in % of its centre (the lookback's default × the user's zoom)."""
        return min(SPAN_RANGE[1], max(SPAN_RANGE[0], LOOKBACK_SPAN_PCT[self.lookback] * self.zoom))

    def window(self, price: float | None) -> tuple[float, float] | None:
        """(price_lo, price_hi) around the centre (set to ``price`` at first), or None before the first price.
        A ``price`` outside the window recentres it: the anchor stays on screen."""
        if self.center is None:
            if price is None:
                return None
            self.center = price
        half = self.center * self.span_pct / 100.0
        lo, hi = self.center - half, self.center + half
        if price is not None and not lo <= price <= hi:
            self.center = price
            half = price * self.span_pct / 100.0
            lo, hi = price - half, price + half
        return lo, hi

    def set_lookback(self, name: str) -> bool:
        """Switch to lookback ``name``; False (nothing changed) for the current one or an unknown one."""
        if name not in LOOKBACK_SPAN_PCT or name == self.lookback:
            return False
        self.lookback = name
        return True

    def step_threshold(self, direction: int) -> None:
        """Liquidity threshold down (``-1``) or up (``+1``) by :data:`THRESHOLD_STEP`, within the limit."""
        thr = self.threshold_pct + THRESHOLD_STEP * direction
        self.threshold_pct = float(min(THRESHOLD.hi, max(THRESHOLD.lo, thr)))

    def step_heat(self, direction: int) -> None:
        """More heat (``+1``: gamma down, light zones brighter) or less (``-1``), within the limit."""
        g = self.gamma / GAMMA_STEP if direction > 0 else self.gamma * GAMMA_STEP
        self.gamma = round(min(GAMMA.hi, max(GAMMA.lo, g)), 4)

    def step_zoom(self, direction: int) -> None:
        """Zoom the price window in (``+1``) or out (``-1``); the span stays within :data:`SPAN_RANGE`."""
        zoom = self.zoom / ZOOM_STEP if direction > 0 else self.zoom * ZOOM_STEP
        base = LOOKBACK_SPAN_PCT[self.lookback]
        self.zoom = min(SPAN_RANGE[1] / base, max(SPAN_RANGE[0] / base, zoom))

    def toggle_zone_order(self) -> None:
        """List the zones by the next order of :data:`liqtui.core.zones.ORDERS` (strength ↔ reach)."""
        i = ORDERS.index(self.zone_order) if self.zone_order in ORDERS else -1
        self.zone_order = ORDERS[(i + 1) % len(ORDERS)]

    def toggle_klines(self) -> None:
        self.klines = not self.klines

    def toggle_book(self) -> None:
        """The order-book layer on/off."""
        self.book = not self.book

    def toggle_book_overlay(self) -> None:
        """The resting-liquidity overlay on/off; turning it on turns the book layer on too."""
        self.book_overlay = not (self.book_overlay and self.book)
        if self.book_overlay:
            self.book = True

    def toggle_observed(self) -> None:
        self.observed = not self.observed

    def recentre(self, price: float | None) -> None:
        """Centre the window on ``price`` (None: on the next price seen)."""
        self.center = price


# ------------------------------------------------------------------------------------------ the frame
@dataclass(frozen=True)
class Heat:
    """The history heatmap: USD per (price row, time column), rows top = ``hi``, two rows per text line."""

    key: tuple[object, ...]
    values: np.ndarray
    scale: HeatScale
    lo: float
    hi: float
    candles: CandleCols | None


@dataclass(frozen=True)
class MarketStatus:
    """The market part of the status line: feed states, open interest, funding."""

    venues: dict[str, tuple[str, int]] = field(default_factory=dict)  # venue → (state, attempt)
    oi_usd: float = 0.0
    oi_change_pct: float | None = None
    funding: float | None = None  # mean over the venues that reported one


@dataclass(frozen=True)
class Frame:
    """One picture of an engine through a view (see :func:`build_frame`)."""

    price: float | None
    window: tuple[float, float] | None
    heat: Heat | None = None  # None before the first price or on a zero-size area
    profile: np.ndarray | None = None  # (n_tiers, rows) USD of the live levels per display row
    anchor_row: int | None = None  # the display row of the price
    zones: ZoneReport | None = None
    zones_key: tuple[object, ...] | None = None
    zone_order: str = "strength"  # the order the zones are listed in
    tier_names: tuple[str, ...] = ()
    status: MarketStatus = field(default_factory=MarketStatus)
    book: BookFrame | None = None  # the order-book layer, when the view shows it


BOOK_SPAN_MS = 12 * 3_600_000
"""The resting-liquidity overlay covers at most the books' own history (12 h)."""
BOOK_REFRESH_MS = 250
"""The book layer follows the books at most this often (4×/s) while no venue's book changes state: books change
~10×/s per venue, and redrawing the layer on each change would multiply the UI's frame cost."""


@dataclass(frozen=True)
class BookFrame:
    """The order-book layer of a frame: the summed books over the window (None while no venue's book is live),
    which zones hold a wall (``marks.wall``: above then below, as the zone report lists them), the book states
    and counters, and — with the overlay on — resting USD per (char row, heatmap column), rows top = ``hi``."""

    key: tuple[object, ...]
    profile: DepthProfile | None
    marks: WallMarks
    states: dict[str, str]
    stats: dict[str, int]
    version: int = 0  # the books' version it shows (``depth.version`` then)
    built_ms: int = 0  # the frame clock when it was made
    overlay_key: tuple[object, ...] | None = None
    overlay: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def state_text(self) -> str:
        """``binance live, okx resyncing`` (``no book`` when no venue serves one)."""
        return ", ".join(f"{v} {s}" for v, s in self.states.items()) or "no book"


def market_status(engine: EngineView) -> MarketStatus:
    """Feed states per venue, summed open interest and its 1h change, mean funding."""
    venues = {v.value: (st.state.value, int(st.attempt)) for v, st in engine.status.items()}
    funding = [f for f in engine.funding.values() if f is not None and math.isfinite(f)]
    oi = engine.oi_usd_total
    return MarketStatus(
        venues=venues,
        oi_usd=float(oi) if math.isfinite(oi) else 0.0,
        oi_change_pct=engine.oi_change_pct_1h,
        funding=sum(funding) / len(funding) if funding else None,
    )


def build_frame(
    engine: EngineView,
    view: ViewState,
    size: tuple[int, int],
    now_ms: int,
    *,
    previous: Frame | None = None,
) -> Frame:
    """The frame of ``engine`` seen through ``view`` on a ``size`` = (columns, text lines) heatmap at ``now_ms``.

    Parts of ``previous`` whose inputs did not change are reused as they are (the same objects), so a caller
    redraws only what is new. Moves ``view``'s centre when the price left the window.
    """
    price = current_price(engine)
    win = view.window(price)
    status = market_status(engine)
    if win is None:
        return Frame(price=price, window=None, status=status)
    lo, hi = win
    model = engine.model
    width, height = size
    heat = profile = anchor = None
    if width > 0 and height > 0:
        heat = _heat(engine, view, lo, hi, width, height, now_ms, previous.heat if previous else None)
        anchor = None if price is None else row_of(price, lo, hi, height)
        if model.grid is not None:
            long_t, short_t = model.profile_by_tier(view.lookback)
            profile = bin_profile(model.grid.edges, long_t + short_t, lo, hi, height)
    order = view.zone_order
    zones_key = (model.version, view.lookback, view.threshold_pct, view.top_n, order, id(model))
    if previous is not None and previous.zones_key == zones_key:
        zones = previous.zones
    else:
        zones = model.zones(view.lookback, threshold_pct=view.threshold_pct, top_n=view.top_n, order=order)
    book = None
    if view.book:
        book = build_book(
            engine, view, (lo, hi), size, now_ms, zones, zones_key, previous.book if previous else None
        )
    return Frame(
        price=price,
        window=win,
        heat=heat,
        profile=profile,
        anchor_row=anchor,
        zones=zones,
        zones_key=zones_key,
        zone_order=order,
        tier_names=tuple(model.tier_names),
        status=status,
        book=book,
    )


def book_grid(engine: EngineView, window: tuple[float, float]) -> PriceGrid:
    """The price buckets the books are summed in: the model's grid, else (no model yet, e.g. a replay of trades
    and books only) a grid of the default bucket width around ``window``."""
    grid = engine.model.grid
    if grid is not None:
        return grid
    lo, hi = window
    return PriceGrid((lo + hi) / 2, range_pct=max(1.0, min(90.0, 100.0 * (hi - lo) / (hi + lo) + 1.0)))


def build_book(
    engine: EngineView,
    view: ViewState,
    window: tuple[float, float],
    size: tuple[int, int],
    now_ms: int,
    zones: ZoneReport | None,
    zones_key: tuple[object, ...],
    previous: BookFrame | None = None,
) -> BookFrame:
    """The order-book layer over ``window``; ``previous`` is reused while the window and the zones are unchanged
    and either the books are too, or they changed within :data:`BOOK_REFRESH_MS` of it without a venue's book
    changing state (books change ~10×/s per venue; a book going unsynchronised shows at once). Its overlay is
    reused while no book time slice closed (the overlay draws the recorded slices)."""
    depth = engine.depth
    lo, hi = window
    width, height = size
    key = (lo, hi, height, zones_key, id(depth), engine.model.grid is None)
    states = depth.states()
    if (
        previous is not None
        and previous.key == key
        and (
            previous.version == depth.version
            or (0 <= now_ms - previous.built_ms < BOOK_REFRESH_MS and previous.states == states)
        )
    ):
        book = previous
    else:
        whole = depth.profile(book_grid(engine, window), lo, hi)
        # no live book (or nothing resting in the window): None, and the column says the state
        prof = whole if whole.bid_usd.any() or whole.ask_usd.any() else None
        empty = DepthProfile(np.array([lo, hi]), np.zeros(1), np.zeros(1))
        report: ZoneReport | dict[str, list[object]] = (
            zones if zones is not None else {"above": [], "below": []}
        )
        marks = mark_walls(report, prof or empty)
        book = BookFrame(key, prof, marks, states, depth.stats(), version=depth.version, built_ms=now_ms)
    if not view.book_overlay or width < 1 or height < 1:
        return dataclasses.replace(book, overlay_key=None, overlay=None) if book.overlay else book
    span = min(LOOKBACK_MS[view.lookback], BOOK_SPAN_MS)
    okey = (lo, hi, width, height, span, now_ms // depth.slice_ms, id(depth))
    src = book if book.overlay_key == okey else previous
    if src is not None and src.overlay_key == okey and src.overlay is not None:
        overlay = src.overlay
    else:
        overlay = depth.history(width, lo, hi, height, span_ms=span, now_ms=now_ms)
    return dataclasses.replace(book, overlay_key=okey, overlay=overlay)


OBSERVED_ZONES_TITLE = "Observed zones · Hyperliquid positions"


@dataclass(frozen=True)
class ObservedLayer:
    """The observed layer of one frame (see :func:`build_observed`)."""

    profile: np.ndarray | None  # (leverage bins, rows) USD of the observed levels per display row
    realized_rows: frozenset[int]  # rows of observed levels the price crossed (realized liquidations)
    coverage: float | None  # observed notional / Hyperliquid's open interest (None: unknown)
    zones: ZoneReport | None  # the observed zones, the estimate's schema
    tier_names: tuple[str, ...] = tuple(f"{b:g}x" for b in LEVERAGE_BINS)
    title: str = OBSERVED_ZONES_TITLE


def build_observed(
    book: ObservedBook,
    zones: ZoneReport | None,
    coverage: float | None,
    edges: np.ndarray | None,
    window: tuple[float, float] | None,
    height: int,
) -> ObservedLayer:
    """The observed layer on a ``height``-row chart over ``window`` (price lo, hi): the observed profile per
    display row on the estimate's bucket ``edges`` (stacked by leverage bin), the rows of realized observed
    liquidations, the coverage and the observed zones (from the last report)."""
    profile = None
    realized: frozenset[int] = frozenset()
    if window is not None and edges is not None and height > 0:
        lo, hi = window
        long_t, short_t = book.profile_by_tier(edges)
        profile = bin_profile(edges, long_t + short_t, lo, hi, height)
        realized = frozenset(r for x in book.realized if (r := row_of(x.price, lo, hi, height)) is not None)
    return ObservedLayer(profile=profile, realized_rows=realized, coverage=coverage, zones=zones)


def shown_zones(
    view: ViewState, frame: Frame, layer: ObservedLayer | None
) -> tuple[ZoneReport | None, tuple[str, ...], str]:
    """(zones, their tier names, a title) for the zone list: the observed zones while the layer is on (the
    title says so), else the estimate's (no title)."""
    if view.observed and layer is not None:
        return layer.zones, layer.tier_names, layer.title
    return frame.zones, frame.tier_names, ""


def _heat(
    engine: EngineView,
    view: ViewState,
    lo: float,
    hi: float,
    width: int,
    height: int,
    now_ms: int,
    previous: Heat | None,
) -> Heat:
    """The history heat, rebuilt only when a display column's time slice closed or the view changed."""
    model = engine.model
    lb_ms = LOOKBACK_MS[view.lookback]
    t_end = int(model.last_ts or now_ms)
    # a "slice" is one display column's span of time: the picture is rebuilt when the newest column closes
    # (every lookback/width ms), not on every 1m bar; the heat column shows the live profile
    key = (
        view.lookback,
        lo,
        hi,
        width,
        height,
        view.threshold_pct,
        view.gamma,
        view.klines,
        t_end * width // lb_ms,
        id(model),
    )
    if previous is not None and previous.key == key:
        return previous
    values = model.history(view.lookback, width, lo, hi, 2 * height)
    candles = candles_for(engine.candles, t_end - lb_ms, t_end, width) if view.klines else None
    return Heat(key, values, HeatScale(view.threshold_pct, view.gamma), lo, hi, candles)


def candles_for(candles: Iterable[Candle], t0: int, t1: int, width: int) -> CandleCols | None:
    """``candles`` aggregated to ``width`` columns over [t0, t1), or None when there are none."""
    bars = list(candles)
    if not bars:
        return None
    ts = np.fromiter((b.ts for b in bars), dtype=np.int64, count=len(bars))
    ohlc = np.array([(b.open, b.high, b.low, b.close) for b in bars], dtype=np.float64)
    order = np.argsort(ts, kind="stable")
    return candle_columns(ohlc[order], ts[order], t0, t1, width)
