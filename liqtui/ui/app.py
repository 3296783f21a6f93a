"""The liqtui Textual app: heatmap, heat column, price axis, zones, liquidation tape, status line.

Data flows one way: a *source* (``async def source(sink)``, run in an exclusive async worker) pushes
MarketEvents into ``engine.apply``; a UI timer at ``fps`` calls ``engine.tick(now)`` and redraws only when
``engine.version`` changed — the history heatmap only when a time slice closed or the view changed, the
narrow live widgets (axis, heat column) every changed tick. The UI never talks to a feed. What is drawn is
decided without Textual in :mod:`liqtui.ui.view` (``ViewState`` + ``build_frame(engine, view) -> Frame``); the
engine is anything of the :class:`~liqtui.ui.view.EngineView` shape. Settings are checked by
:func:`liqtui.config.ui_settings`, the config file's own rules and limits.

Usage (see :mod:`liqtui.commands.ui`)::

    app = LiqtuiApp(src.engine, source=src, ui=cfg.ui, keymap=cfg.keymap, symbol=src.symbol,
                    symbols=src.symbols, venues=src.venues, show_lag=src.wall_clock,
                    on_symbol_change=restart_for_symbol)
    app.run()

``symbols``: the only tickers the source serves (the picker refuses others), None for any. ``show_lag``: whether
receive − exchange time is a lag (not for a demo running at another speed than the wall clock).

``on_symbol_change(symbol)`` / ``on_venues_change(venues)`` may return ``(engine, source)`` (or an awaitable
of it) to have the app swap to a new engine and source; the same requests are also posted as
:class:`~liqtui.ui.messages.SymbolChangeRequested` / :class:`~liqtui.ui.messages.VenuesChangeRequested`.
Backfill progress: ``app.set_progress(done, total, text)`` from any thread.

Order-book layer (``b``): a depth column beside the heat column (asks above the price, bids below, ``◆`` a wall),
``W`` after each zone that holds a wall, the book states in the status line; ``B`` adds the resting liquidity
over the heatmap. It redraws on ``engine.depth.version`` (book events do not bump ``engine.version``), at most
4×/s unless a venue's book changes state (:data:`~liqtui.ui.view.BOOK_REFRESH_MS`).

Context charts (``o``): open interest, funding and cumulative realized liquidations over the session, sampled
from the engine into a bounded :class:`~liqtui.ui.context.ContextSeries` on each tick (cheap) and drawn with
textual-plotext at most once a second when a new sample was stored; shown by default from 160×45 up, never in
the compact layout.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rich.color import ColorSystem
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.events import Resize
from textual.theme import Theme
from textual.widgets import Footer, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from liqtui.alerts.controller import AlertsController
from liqtui.config import UIConfig, check_keymap, ui_settings
from liqtui.core.book_events import BookEvent, BookStatus, BookUpdate
from liqtui.core.events import MarketEvent, MarkPrice, Trade
from liqtui.core.model import LOOKBACK_MS, LOOKBACKS
from liqtui.ui.alerts_screens import AlertsAppMixin
from liqtui.ui.commands import LiqtuiCommands
from liqtui.ui.context import ContextSeries
from liqtui.ui.keys import BINDING_IDS, HELP_TEXT, KEYS, LOOKBACK_KEYS
from liqtui.ui.messages import BackfillProgress, SymbolChangeRequested, VenuesChangeRequested
from liqtui.ui.radar import RadarScreen, runner_for
from liqtui.ui.render import fmt_price, row_of, time_axis
from liqtui.ui.screens import HelpScreen, TickerScreen, VenuesScreen
from liqtui.ui.themes import (
    COLOR_SYSTEMS,
    HeatPalette,
    ThemeError,
    ThemeSpec,
    available_themes,
    detect_color_system,
    load_theme,
)
from liqtui.ui.truth_screen import TruthScreen, TruthTracker, TruthView
from liqtui.ui.view import (
    LOOKBACK_SPAN_PCT,
    BookFrame,
    EngineView,
    Frame,
    Heat,
    ObservedLayer,
    ViewState,
    build_frame,
    build_observed,
    candles_for,
    current_price,
    market_status,
    shown_zones,
)
from liqtui.ui.widgets.context import ContextPanel
from liqtui.ui.widgets.depth import (
    DepthColumn,
    book_colors,
    book_overlay,
    book_status_text,
    render_depth_column,
)
from liqtui.ui.widgets.heatmap import HeatFrame, HeatmapView
from liqtui.ui.widgets.live import HeatColumn, PriceAxis
from liqtui.ui.widgets.observed import ObservedColumn, coverage_text, observed_overlay
from liqtui.ui.widgets.status import StatusInfo, StatusLine
from liqtui.ui.widgets.tape import LiquidationTape
from liqtui.ui.widgets.zones import ZonesPanel

__all__ = [
    "BINDING_IDS",
    "DEFAULT_LOOKBACKS",
    "LOOKBACK_KEYS",
    "LOOKBACK_SPAN_PCT",
    "LiqtuiApp",
    "Source",
    "SwapResult",
]

log = logging.getLogger(__name__)

Source = Callable[[Callable[[MarketEvent | BookEvent], None]], Awaitable[None]]
"""``async def source(sink)``: pushes MarketEvents (and order-book events) into ``sink`` until cancelled."""
SwapResult = tuple[EngineView, Source | None] | None
"""What ``on_symbol_change`` / ``on_venues_change`` return (or an awaitable of it): a new engine and source."""

DEFAULT_LOOKBACKS: tuple[str, ...] = LOOKBACKS
COMPACT_WIDTH = 120
COMPACT_HEIGHT = 30
CONTEXT_AUTO_SIZE = (160, 45)
"""The context charts show by default from this terminal size up; ``o`` toggles them on any non-compact size."""
CONTEXT_REDRAW_MS = 1_000
"""The context charts (textual-plotext, a full re-render each time) are fed at most this often, and only
when a new sample was stored."""

OVERLAY_WALL_X = 3.0
"""The resting-liquidity overlay draws a cell holding this many times the median resting USD of the non-empty
cells. Lower than the zones' wall multiple (5×, per price bucket) because a text row sums several buckets,
which averages a one-bucket wall down (seen: 6.4× at 44 rows, 4.8× at 26 for the same walls)."""

OBSERVED_REFRESH_MS = 5_000
"""Hyperliquid's observed report (coverage, observed zones, calibration, tier fit) is rebuilt this often (it
compares whole profiles), not per frame."""

_LAG_EVENTS = (Trade, MarkPrice)
_GROUPS = {name: Binding.Group(name, compact=True) for name in ("lookback", "threshold", "heat", "zoom")}


def _bindings() -> list[BindingType]:
    return [
        Binding(k.key, k.action, k.label, id=k.id, show=k.show, group=_GROUPS[k.group] if k.group else None)
        for k in KEYS
    ]


_RICH_SYSTEMS = {"truecolor": ColorSystem.TRUECOLOR, "256": ColorSystem.EIGHT_BIT, "16": ColorSystem.STANDARD}


class LiqtuiApp(AlertsAppMixin, App[None]):
    """The terminal UI. See the module docstring for how the CLI wires it.

    The view (lookback, threshold, gamma, zoom, centre, candles) is a :class:`~liqtui.ui.view.ViewState`
    and each picture a :class:`~liqtui.ui.view.Frame` built from the engine by
    :func:`~liqtui.ui.view.build_frame`; this class only wires keys, widgets, the source worker and themes.
    Settings are checked by :func:`liqtui.config.ui_settings` (the config file's own checks): a bad one
    raises :class:`liqtui.config.ConfigError` naming it.
    """

    CSS_PATH = Path(__file__).with_name("liqtui.tcss")
    TITLE = "liqtui"
    COMMANDS = App.COMMANDS | {LiqtuiCommands}
    BINDINGS: ClassVar[list[BindingType]] = _bindings()
    ENABLE_COMMAND_PALETTE = True
    _truth_tracker: TruthTracker | None = None

    def __init__(
        self,
        engine: EngineView,
        *,
        source: Source | None = None,
        ui: UIConfig | None = None,
        keymap: Mapping[str, str] | None = None,
        symbol: str = "BTC",
        symbols: Sequence[str] | None = None,
        venues: list[str] | None = None,
        stats: Callable[[], Mapping[str, Any]] | None = None,
        on_symbol_change: Callable[[str], Any] | None = None,
        on_venues_change: Callable[[list[str]], Any] | None = None,
        on_tiers_change: Callable[[dict[str, float]], Any] | None = None,
        clock: Callable[[], int] | None = None,
        show_lag: bool = True,
        theme: str | None = None,
        colors: str | None = None,
        fps: float | None = None,
        lookback: str | None = None,
        threshold_pct: float | None = None,
        heat_gamma: float | None = None,
        klines: bool | None = None,
        top_n: int | None = None,
        context: bool | None = None,
        driver_class: type[Driver] | None = None,
        alerts: AlertsController | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__(driver_class=driver_class)
        self._alerts_controller = alerts
        self._startup_notes = tuple(notes)
        self.engine = engine
        self._source = source
        self.symbol = symbol
        self.symbols = tuple(symbols) if symbols else None  # the tickers the source serves (None: any)
        self.venues = list(venues) if venues else ["binance"]
        self._stats = stats
        self._on_symbol_change = on_symbol_change
        self._on_venues_change = on_venues_change
        self._on_tiers_change = on_tiers_change  # re-estimate with the observed leverage mix (swap result)
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._show_lag = show_lag
        # view settings: explicit keyword > UIConfig > default, checked once by the config's rules
        settings = ui_settings(
            ui,
            fps=fps,
            lookback=lookback,
            threshold_pct=threshold_pct,
            heat_gamma=heat_gamma,
            klines=klines,
            top_n=top_n,
            theme=theme,
            colors=colors,
        )
        self.fps = float(settings.fps)
        self.view = ViewState.from_settings(settings)
        self.frozen = False
        if context is None:  # the config's ui.context: "auto" (by terminal size), "on" or "off"
            context = {"on": True, "off": False}.get(settings.context)
        self.context_pref: bool | None = context
        self.context_series = ContextSeries()
        self._init_colours(settings.colors, settings.theme)
        km = dict(keymap or {})
        check_keymap(km)
        self._keymap = km
        if km:
            self.set_keymap(km)
        # redraw bookkeeping
        self._last_version: int | None = None
        self._frame: Frame | None = None  # the last frame drawn; None: draw everything anew
        self._view_dirty = True
        self._drawn_size: tuple[int, ...] = (0, 0)
        self._frame_times: list[float] = []
        self._lag_ms: float | None = None
        self.events_seen = 0
        self._progress: tuple[float, float, str] | None = None
        self._message = ""
        self._anchor_text = ""
        self._time_text = ""
        self.ticks = 0
        self._from_radar = False  # the heatmap was opened from the radar: Esc goes back to it
        self._book_version: int | None = None  # depth.version last drawn (the book layer redraws on it)
        self._book_drawn: tuple[object, ...] | None = None  # what the depth column shows
        # the observed layer (Hyperliquid's positions): the last report, when it was made, the layer drawn
        self.observed_report: Any = None
        self._observed_at: int | None = None
        self._observed_dirty = False
        self._observed_layer: tuple[tuple[object, ...], ObservedLayer] | None = None

    # the view's settings, as attributes of the app (tests, the command palette)
    @property
    def lookback(self) -> str:
        return self.view.lookback

    @property
    def threshold_pct(self) -> float:
        return self.view.threshold_pct

    @property
    def gamma(self) -> float:
        return self.view.gamma

    @property
    def klines(self) -> bool:
        return self.view.klines

    @property
    def top_n(self) -> int:
        return self.view.top_n

    @property
    def zoom(self) -> float:
        return self.view.zoom

    @property
    def center(self) -> float | None:
        return self.view.center

    @center.setter
    def center(self, value: float | None) -> None:
        self.view.center = value

    @property
    def span_pct(self) -> float:
        """Half-height of the price window in % of its centre (the lookback's default × the user's zoom)."""
        return self.view.span_pct

    def _init_colours(self, colors: str, theme: str) -> None:
        """Pick the colour system (auto: detect) and load the theme; the terminal output follows the
        chosen system, and a bad theme falls back to dark with a notice once mounted."""
        self.color_system = detect_color_system() if colors == "auto" else colors
        if colors in _RICH_SYSTEMS:
            self.console._color_system = _RICH_SYSTEMS[colors]
        self._theme_name = theme
        self.spec, self._theme_error = self._load_spec(theme)
        self.palette = HeatPalette(self.spec, self.color_system)
        assert self.color_system in COLOR_SYSTEMS

    # ------------------------------------------------------------------------------------- themes
    @staticmethod
    def _load_spec(name: str) -> tuple[ThemeSpec, str]:
        try:
            return load_theme(name), ""
        except ThemeError as exc:
            log.warning("theme %s: %s", name, exc)
            return load_theme("dark"), str(exc)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Our .tcss variables (``$liq-long``, ``$heat-anchor`` …) resolve even under a non-liqtui theme."""
        spec: ThemeSpec | None = self.__dict__.get("spec")  # Textual asks before __init__ has set it
        if spec is None:
            spec = load_theme("dark")
        return {k: v for k, v in spec.variables.items() if k != "tier-colors"}

    def _register_themes(self) -> None:
        for name in available_themes():
            try:
                self.register_theme(load_theme(name).textual)
            except ThemeError as exc:
                log.warning("skipping theme %s: %s", name, exc)
        self.register_theme(self.spec.textual)
        self.theme = self.spec.textual.name
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _on_theme_changed(self, theme: Theme) -> None:
        name = theme.name
        if not name.startswith("liqtui-") or name == self.spec.textual.name:
            return
        try:
            spec = load_theme(name.removeprefix("liqtui-"))
        except ThemeError as exc:
            self.notify(str(exc), severity="error")
            return
        self.set_heat_theme(spec)

    def set_heat_theme(self, spec: ThemeSpec, colors: str | None = None) -> None:
        """Switch theme and/or colour system: the colour table is rebuilt once, every widget redraws."""
        self.spec = spec
        if colors:
            self.color_system = colors
        self.palette = HeatPalette(spec, self.color_system)
        for w in (
            self.heatmap,
            self.axis,
            self.heat_column,
            self.zones,
            self.tape,
            self.status,
            self.context_panel,
            self.observed_column,
        ):
            w.set_palette(self.palette)
        self._book_drawn = None
        self._invalidate()

    # ------------------------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        pal = self.palette
        self.heatmap = HeatmapView(pal, id="heatmap")
        self.axis = PriceAxis(pal, id="axis")
        self.heat_column = HeatColumn(pal, id="heatcol")
        self.depth_column = DepthColumn(id="depth")
        self.depth_column.display = self.view.book
        self.observed_column = ObservedColumn(pal, id="observedcol")
        self.zones_title = Label("", id="zones-title")
        self.zones = ZonesPanel(pal, top_n=self.top_n, id="zones")
        self.tape = LiquidationTape(pal, id="tape")
        self.status = StatusLine(pal, id="status")
        self.anchor_label = Static("", id="anchor")
        self.time_axis = Static("", id="time-axis")
        self.context_panel = ContextPanel(pal, id="context")
        with Horizontal(id="main"):
            with Vertical(id="chart"):
                with Horizontal(id="chart-row"):
                    yield self.heatmap
                    yield self.axis
                    yield self.heat_column
                    yield self.depth_column
                    yield self.observed_column
                yield self.time_axis
            with Vertical(id="side"):
                yield self.anchor_label
                yield self.zones_title
                yield self.zones
                yield self.tape
        yield self.context_panel
        with Horizontal(id="progress-row"):
            yield Label("backfill", id="progress-label")
            yield ProgressBar(total=100, show_eta=False, id="progress")
        yield self.status
        yield Footer(compact=False)

    def on_mount(self) -> None:
        self._register_themes()
        self.query_one("#progress-row").display = False
        self.observed_column.display = self.zones_title.display = False
        self._apply_compact(self.size.width, self.size.height)
        if self._theme_error:
            self.notify(f"{self._theme_error}; using the dark theme", severity="error", timeout=8)
        self.alerts_attach(self._alerts_controller)
        for text in self._startup_notes:  # what the source said before the screen was up (a damaged store...)
            self.notify(text, severity="warning", timeout=12)
        self._timer = self.set_interval(1.0 / self.fps, self._on_timer, name="ui-tick")
        self._start_source()
        self.call_after_refresh(self._tick)

    def on_resize(self, event: Resize) -> None:
        self._apply_compact(event.size.width, event.size.height)
        self._invalidate()

    def _apply_compact(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        for screen in self.screen_stack:  # the main screen too when a modal is on top
            screen.set_class(compact, "compact")
        self._apply_context(width, height)

    def context_wanted(self, width: int, height: int) -> bool:
        """Whether the context charts belong on a ``width``×``height`` screen: never in the compact layout;
        otherwise the user's choice (``o``), else only from :data:`CONTEXT_AUTO_SIZE` up."""
        if width < COMPACT_WIDTH or height < COMPACT_HEIGHT:
            return False
        if self.context_pref is not None:
            return self.context_pref
        return width >= CONTEXT_AUTO_SIZE[0] and height >= CONTEXT_AUTO_SIZE[1]

    def _apply_context(self, width: int, height: int) -> None:
        show = self.context_wanted(width, height)
        if show != self.context_panel.display:
            self.context_panel.display = show
            self.context_panel.drawn_version = None  # shown again: feed it the samples it missed

    # ------------------------------------------------------------------------------------- source
    def _sink(self, ev: MarketEvent | BookEvent) -> None:
        """Every event passes here on its way to the engine: counts it and keeps the feed lag (exchange
        time → receive time of the latest trade or mark; candles carry their open time, so not those).
        The lag is kept only when the feed's clock is the wall clock (not a demo at another speed).
        Order-book events go to the engine uncounted (they are not market events)."""
        if type(ev) is BookUpdate or type(ev) is BookStatus:
            self.engine.apply(ev)
            return
        self.events_seen += 1
        if self._show_lag and type(ev) in _LAG_EVENTS:
            self._lag_ms = float(ev.recv_ts - ev.ts)
        self.engine.apply(ev)

    def _sink_for(self, engine: EngineView) -> Callable[[MarketEvent | BookEvent], None]:
        """The sink handed to a source: after a swap, a late event of the old source is dropped instead of
        reaching the new engine (another symbol or venue set)."""

        def sink(ev: MarketEvent | BookEvent) -> None:
            if engine is self.engine:
                self._sink(ev)

        return sink

    def _start_source(self) -> None:
        if self._source is None:
            return
        source = self._source
        self.run_worker(
            source(self._sink_for(self.engine)),
            name="source",
            group="source",
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "source":
            return
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self._message = f"source stopped: {type(err).__name__}: {err}"
            log.error("source failed", exc_info=err)
            self.notify(self._message, severity="error", timeout=10)
        elif event.state == WorkerState.SUCCESS:
            log.info("source finished")

    def replace_source(self, engine: EngineView, source: Source | None) -> None:
        """Swap to a new engine and source (after a ticker or venue change); cancels the old source."""
        self.workers.cancel_group(self, "source")
        self.engine = engine
        self.alerts_engine_changed(engine, self.symbol)
        self._source = source
        self._last_version = None
        self._book_version = None
        self._lag_ms = None
        self.context_panel.drawn_version = None
        self.view.recentre(None)
        self._message = ""
        self.observed_report, self._observed_at, self._observed_layer = None, None, None
        self._invalidate()
        self._start_source()

    # ---------------------------------------------------------------------------------- progress
    def set_progress(self, done: float, total: float, text: str = "") -> None:
        """Backfill progress; safe from any thread and from the app's own loop."""
        self.post_message(BackfillProgress(done, total, text))

    def on_backfill_progress(self, msg: BackfillProgress) -> None:
        row = self.query_one("#progress-row")
        finished = msg.total <= 0 or msg.done >= msg.total
        self._progress = None if finished else (msg.done, msg.total, msg.text)
        row.display = not finished
        if not finished:
            self.query_one("#progress", ProgressBar).update(total=msg.total, progress=msg.done)
            self.query_one("#progress-label", Label).update(f"backfill {msg.text}".strip())
        self._update_status()

    # ---------------------------------------------------------------------------------- the tick
    def _invalidate(self) -> None:
        self._view_dirty = True
        self._frame = None

    def _tick(self) -> None:
        now = self._clock()
        self.ticks += 1
        try:
            self.engine.tick(now)
        except Exception as exc:  # a bad engine state must not take the screen down
            log.exception("engine.tick failed")
            self._message = f"engine: {type(exc).__name__}: {exc}"
        self.alerts_poll()
        self._refresh_observed(now)
        self.context_series.update(self.engine, now)
        if not self.frozen:
            self._draw_context(now)
            if tuple(self.heatmap.size) != self._drawn_size:  # a sibling (status, progress) changed height
                self._invalidate()
            version = self.engine.version
            book_version = self.engine.depth.version if self.view.book else None
            if version != self._last_version or self._view_dirty or book_version != self._book_version:
                self._last_version = version
                try:
                    self._draw(now)
                except Exception as exc:
                    log.exception("draw failed")
                    self._message = f"draw: {type(exc).__name__}: {exc}"
        self._update_status()

    def _on_timer(self) -> None:
        self._frame_times.append(time.monotonic())
        self._tick()

    def current_price(self) -> float | None:
        """The live anchor price (engine.price, else mark, else the model's)."""
        return current_price(self.engine)

    def window(self) -> tuple[float, float] | None:
        """(price_lo, price_hi) of the view, or None before the first price."""
        return self.view.window(self.current_price())

    def _draw(self, now: int) -> None:
        """Build the frame (reusing the heat and zones of the last one while unchanged) and show it."""
        self._view_dirty = False
        self._drawn_size = tuple(self.heatmap.size)
        size = (self.heatmap.size.width, self.heatmap.size.height)
        prev = self._frame
        frame = self._frame = build_frame(self.engine, self.view, size, now, previous=prev)
        price = frame.price
        if frame.window is None:
            self.zones.set_report(None, order=frame.zone_order)
            self._show_anchor(None, 0.0, 1.0)
            return
        lo, hi = frame.window
        heat = frame.heat
        observed_changed, self._observed_dirty = self._observed_dirty, False
        if heat is not None:
            overlay = frame.book.overlay if frame.book is not None else None
            prev_overlay = prev.book.overlay if prev is not None and prev.book is not None else None
            if prev is not None and heat is prev.heat and overlay is prev_overlay and not observed_changed:
                self.heatmap.set_anchor(price)
            else:
                self.heatmap.set_frame(self._heat_frame(heat, price, now, overlay))
        if frame.profile is not None:
            self.heat_column.set_profile(frame.profile, frame.anchor_row)
        layer = self._draw_observed(frame, size[1])
        self.axis.set_window(lo, hi)
        self.axis.set_price(price)
        self._show_anchor(price, lo, hi)
        self._show_time_axis(size[0])
        if prev is None or frame.zones is not prev.zones or observed_changed:
            zones, tiers, title = shown_zones(self.view, frame, layer)
            self.zones.set_report(zones, tiers, frame.zone_order)
            self.zones_title.update(title)
        self._book_version = (
            frame.book.version if frame.book is not None else None
        )  # a later change: drawn when due
        self._show_book(frame.book, lo, hi, size[1], price)
        self.tape.set_liquidations(self.engine.liquidations)

    def _show_book(
        self, book: BookFrame | None, lo: float, hi: float, n_rows: int, price: float | None
    ) -> None:
        """The book layer: the depth column (redrawn only when its input changed) and the zones' wall marks."""
        self.zones.set_walls(book.marks.wall if book is not None else ())
        col = self.depth_column
        if col.display != (book is not None):
            col.display = book is not None
        if book is None:
            self._book_drawn = None
            return
        width = col.size.width or 8
        row = None if price is None else row_of(price, lo, hi, n_rows)
        key = (book.key, book.version, width, row)
        if key == self._book_drawn:
            return
        self._book_drawn = key
        col.show(
            render_depth_column(
                book.profile, lo, hi, n_rows, width, book_colors(self.spec),
                price=price, walls=book.marks.walls, state=book.state_text,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------------------ the observed layer
    def observer(self) -> Any:
        """The source's Hyperliquid observer (:class:`~liqtui.venues.hyperliquid.observer.HyperliquidObserver`)
        while Hyperliquid is followed, else None."""
        return getattr(self._source, "observer", None)

    def _refresh_observed(self, now: int) -> None:
        """Rebuild the observed report every :data:`OBSERVED_REFRESH_MS` (and at once when none exists yet);
        the calibration is logged in the store each time. Redraws the layer when it is on."""
        obs = self.observer()
        if obs is None:
            return
        if self._observed_at is not None and 0 <= now - self._observed_at < OBSERVED_REFRESH_MS:
            return
        self._observed_at = now
        try:  # the clock of the snapshots: a snapshot's age is wall time (a demo market runs on its own)
            self.observed_report = obs.report(self.engine.model, self.lookback, obs.poller.wall_ms())
        except Exception:  # the observed layer is an addition: never take the screen down
            log.exception("observed report failed")
            return
        if self.view.observed:
            self._observed_dirty = self._view_dirty = True

    def _heat_frame(
        self,
        heat: Heat,
        price: float | None,
        now: int,
        book_overlay_rows: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> HeatFrame:
        """The heatmap's frame: resting liquidity under the candles while the book overlay is on, and the
        observed markers while the observed layer is on."""
        hf = HeatFrame(heat.values, heat.scale, self.palette, heat.lo, heat.hi, heat.candles, price)
        if book_overlay_rows is not None:
            cells = book_overlay(
                *book_overlay_rows,
                book_colors(self.spec),
                self.palette,
                heat_upper=hf.upper,
                x=OVERLAY_WALL_X,
            )
            hf.overlay = {**cells, **hf.overlay}
        obs, rep = self.observer(), self.observed_report
        if self.view.observed and obs is not None and rep is not None:
            t_end = int(self.engine.model.last_ts or now)
            n_rows, n_cols = hf.upper.shape
            hf.overlay.update(
                observed_overlay(
                    rep.zones,
                    obs.observed.realized,
                    price_lo=heat.lo,
                    price_hi=heat.hi,
                    n_rows=n_rows,
                    n_cols=n_cols,
                    t0=t_end - LOOKBACK_MS[self.lookback],
                    t1=t_end,
                    pal=self.palette,
                )
            )
        return hf

    def _draw_observed(self, frame: Frame, height: int) -> ObservedLayer | None:
        """Show (or hide) the observed heat column; the layer of this frame, None while off."""
        obs, rep = self.observer(), self.observed_report
        on = self.view.observed and obs is not None
        if self.observed_column.display != on:
            self.observed_column.display = self.zones_title.display = on
        if not on:
            return None
        grid = self.engine.model.grid
        key = (id(rep), frame.window, height, id(grid), frame.anchor_row)
        if self._observed_layer is not None and self._observed_layer[0] == key:
            return self._observed_layer[1]
        cov = rep.coverage.coverage if rep is not None else None
        layer = build_observed(
            obs.observed, rep.zones if rep is not None else None, cov,
            grid.edges if grid is not None else None, frame.window, height,
        )  # fmt: skip
        self._observed_layer = (key, layer)
        if layer.profile is not None:
            self.observed_column.set_observed(
                layer.profile, frame.anchor_row, realized_rows=layer.realized_rows, coverage=cov
            )
        return layer

    def _observed_status(self) -> str:
        if not self.view.observed or self.observer() is None:
            return ""
        rep = self.observed_report
        return coverage_text(*(None, None, None) if rep is None else (rep.coverage, rep.calibration, rep.fit))

    def _observed_fit(self) -> Any:
        """The tier fit to offer (``tiers = "observed"``): one whose quality is not "poor", else None."""
        rep = self.observed_report
        fit = rep.fit if rep is not None else None
        return fit if fit is not None and fit.quality != "poor" else None

    def _candles(self, t0: int, t1: int, width: int) -> Any:
        """The engine's candles per heatmap column over [t0, t1) (see :func:`~liqtui.ui.view.candles_for`)."""
        return candles_for(self.engine.candles, t0, t1, width)

    def _draw_context(self, now: int) -> None:
        """Feed the context charts when a new sample was stored, at most every :data:`CONTEXT_REDRAW_MS` of
        the app's clock, and only while they are on screen (a plotext render costs tens of ms)."""
        panel, series = self.context_panel, self.context_series
        oi_version = self.engine.oi_history_version
        if not panel.display or (
            panel.drawn_version == series.version and panel.drawn_oi_version == oi_version
        ):
            return
        if (
            panel.drawn_version is not None
            and panel.drawn_at is not None
            and 0 <= now - panel.drawn_at < CONTEXT_REDRAW_MS
        ):
            return
        panel.drawn_version, panel.drawn_oi_version, panel.drawn_at = series.version, oi_version, now
        panel.show(series.view(), series.liq_long_usd, series.liq_short_usd, self.engine.oi_history)

    def _show_time_axis(self, width: int) -> None:
        """Time labels under the heatmap (changes only with the lookback or the width)."""
        text = time_axis(LOOKBACK_MS[self.lookback], width)
        if text != self._time_text:
            self._time_text = text
            self.time_axis.update(text)

    def _show_anchor(self, price: float | None, lo: float, hi: float) -> None:
        """The one-line "current anchor" above the zones (its own widget: a price move repaints one line)."""
        text = (
            "waiting for the first price…"
            if price is None
            else (f"{self.symbol} live price {fmt_price(price, (hi - lo) / 2000)}")
        )
        if text != self._anchor_text:
            self._anchor_text = text
            self.anchor_label.update(text)

    # -------------------------------------------------------------------------------- the status
    def status_info(self) -> StatusInfo:
        """What the status line shows right now."""
        now = time.monotonic()
        self._frame_times = [t for t in self._frame_times if now - t <= 1.0]
        market = market_status(self.engine)
        return StatusInfo(
            symbol=self.symbol,
            lookback=self.lookback,
            venues=market.venues,
            fps=float(len(self._frame_times)),
            lag_ms=None if self._lag_ms is None else round(self._lag_ms / 10) * 10,
            oi_usd=market.oi_usd,
            oi_change_pct=market.oi_change_pct,
            funding=market.funding,
            threshold_pct=self.threshold_pct,
            gamma=self.gamma,
            klines=self.klines,
            decode_errors=self._decode_errors(),
            frozen=self.frozen,
            progress=self._progress,
            message=self._message,
            book=self._book_status(),
            observed=self._observed_status(),
        )

    def _book_status(self) -> Text | None:
        """The book layer's part of the status line (None while the layer is off)."""
        if not self.view.book:
            return None
        depth = self.engine.depth
        book = self._frame.book if self._frame is not None else None
        totals = None
        if book is not None and book.profile is not None:
            totals = (book.profile.total_bid, book.profile.total_ask)
        return book_status_text(depth.states(), depth.stats(), totals)

    def _decode_errors(self) -> int:
        if self._stats is None:
            return 0
        total = 0
        try:
            for st in self._stats().values():
                n = st.get("decode_errors", 0) if isinstance(st, Mapping) else getattr(st, "decode_errors", 0)
                total += int(n or 0)
        except Exception:  # stats are informative only
            log.exception("stats provider failed")
        return total

    def _update_status(self) -> None:
        if hasattr(self, "status"):
            self.status.show(self.status_info(), self.size.width)

    # ---------------------------------------------------------------------------------- actions
    def _changed(self) -> None:
        self._invalidate()
        self._tick()

    def action_lookback(self, name: str) -> None:
        """Switch lookback (instant: the model keeps one profile per lookback)."""
        if self.view.set_lookback(name):
            self._changed()

    def action_threshold(self, direction: int) -> None:
        """Liquidity threshold (percentile of weak levels hidden) down/up by 10 points."""
        self.view.step_threshold(direction)
        self._changed()

    def action_heat(self, direction: int) -> None:
        """More heat (``H``, gamma down: light zones brighter) or less (``h``)."""
        self.view.step_heat(direction)
        self._changed()

    def action_zone_order(self) -> None:
        """List the zones by strength or by reach (the panel's first line says which)."""
        self.view.toggle_zone_order()
        self._changed()

    def demo_market(self) -> Any:
        """The demo's simulated market (its truth) when the source is the demo exchange, else None."""
        return getattr(getattr(self._source, "demo", None), "market", None)

    def action_truth(self) -> None:
        """The truth scorecard of the lookback on screen (demo only: the simulator knows the true positions)."""
        if self.demo_market() is None:
            self.notify(
                "the truth scorecard needs the demo (liqtui --demo): only its simulator knows the truth"
            )
            return
        if not isinstance(self.screen, TruthScreen):
            self.push_screen(TruthScreen(self._measure_truth, self.symbol))

    def _measure_truth(self) -> TruthView:
        if self._truth_tracker is None:  # made on first use: it keeps the zones the realized line scores
            self._truth_tracker = TruthTracker()
        return self._truth_tracker.measure(self.engine.model, self.demo_market(), self.lookback)

    def action_klines(self) -> None:
        """Candles on/off."""
        self.view.toggle_klines()
        self._changed()

    def action_book(self) -> None:
        """The order-book layer on/off: depth column, wall marks on the zones, book state in the status line."""
        self.view.toggle_book()
        if not self.view.book:
            self.view.book_overlay = False
        self._changed()

    def action_book_overlay(self) -> None:
        """Resting liquidity over the heatmap on/off (turns the book layer on)."""
        self.view.toggle_book_overlay()
        self._changed()

    def action_freeze(self) -> None:
        """Freeze the picture; ingestion goes on and the status line keeps updating."""
        self.frozen = not self.frozen
        if not self.frozen:
            self._invalidate()
        self._tick()

    def action_zoom(self, direction: int) -> None:
        """Zoom the price range in (``+``) or out (``-``)."""
        self.view.step_zoom(direction)
        self._changed()

    def action_recentre(self) -> None:
        """Centre the price window on the live price."""
        self.view.recentre(self.current_price())
        self._changed()

    def action_context(self) -> None:
        """Context charts on/off (open interest, funding, cumulative liquidations)."""
        width, height = self.size
        self.context_pref = not self.context_panel.display
        self._apply_context(width, height)
        if self.context_pref and not self.context_panel.display:
            self.notify(f"context charts need at least {COMPACT_WIDTH}×{COMPACT_HEIGHT}", timeout=4)
        self._tick()

    def action_observed(self) -> None:
        """Hyperliquid's observed positions on/off: their heat column, heatmap markers, zones and coverage."""
        if self.observer() is None and not self.view.observed:
            self.notify("the observed layer needs Hyperliquid among the venues (e: venues)", timeout=6)
            return
        self.view.toggle_observed()
        self._observed_dirty = True
        if self.view.observed and self.observed_report is None:
            self._observed_at = None  # build the first report now
            self._refresh_observed(self._clock())
        self._changed()

    async def action_observed_tiers(self) -> None:
        """Re-estimate with the leverage mix fitted to the observed positions (``tiers = "observed"``)."""
        fit = self._observed_fit()
        if fit is None or self._on_tiers_change is None:
            self.notify("no tier fit of fair quality yet: wait for more polled accounts", timeout=6)
            return
        self.notify(f"re-estimating with the observed tiers (fit {fit.quality})", timeout=6)
        await self._maybe_swap(self._on_tiers_change, dict(fit.custom_tiers))

    def action_help(self) -> None:
        """Show every key and what it does."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_rows()))

    def action_ticker(self) -> None:
        """Open the ticker picker."""
        self.push_screen(TickerScreen(self.symbol, self.symbols), self._ticker_chosen)

    def action_venues(self) -> None:
        """Open the venue switches."""
        self.push_screen(VenuesScreen(self.venues), self._venues_chosen)

    def action_radar(self) -> None:
        """The radar (liqtui.ui.radar): every perpetual at once; Enter opens one here, Esc returns to it."""
        if not isinstance(self.screen, RadarScreen):
            self.push_screen(
                RadarScreen(runner_for(self, lambda: self._source), self.symbols), self._radar_chosen
            )

    async def _radar_chosen(self, instrument: str | None) -> None:
        self._from_radar = instrument is not None
        if instrument:
            await self._ticker_chosen(instrument.removesuffix("USDT"))

    def action_radar_back(self) -> None:
        if self._from_radar and len(self.screen_stack) == 1:
            self.action_radar()

    async def _ticker_chosen(self, symbol: str | None) -> None:
        if not symbol or symbol == self.symbol:
            return
        self.symbol = symbol
        self.post_message(SymbolChangeRequested(symbol))
        await self._maybe_swap(self._on_symbol_change, symbol)
        self._update_status()

    async def _venues_chosen(self, venues: list[str] | None) -> None:
        if not venues or venues == self.venues:
            return
        self.venues = list(venues)
        self.post_message(VenuesChangeRequested(list(venues)))
        await self._maybe_swap(self._on_venues_change, list(venues))

    async def _maybe_swap(self, callback: Callable[[Any], Any] | None, arg: object) -> None:
        if callback is None:
            return
        try:
            result = callback(arg)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            self.notify(f"switch failed: {exc}", severity="error", timeout=8)
            log.exception("change callback failed")
            return
        if isinstance(result, tuple) and len(result) == 2:
            self.replace_source(*result)

    # ------------------------------------------------------------------------------- key listing
    def _key_for(self, binding: Binding) -> str:
        keys = self._keymap.get(binding.id or "", binding.key)
        return ", ".join(self.get_key_display(Binding(k.strip(), "")) for k in keys.split(","))

    def help_rows(self) -> list[tuple[str, str]]:
        """(key display, description) of every binding, honouring the keymap."""
        rows: list[tuple[str, str]] = []
        lbs = [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith("lookback_")]
        keys = [self._key_for(b) for b in lbs]
        compact = "1–8" if keys == list("12345678") else " ".join(keys)
        rows.append((compact, "lookback " + " ".join(b.description for b in lbs)))
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.id and not b.id.startswith("lookback_"):
                rows.append((self._key_for(b), HELP_TEXT.get(b.id, b.description)))
        rows.append(("ctrl+p", "command palette"))
        return rows

    def command_list(self) -> list[tuple[str, str, str]]:
        """(title, action, help) for the command palette."""
        out = []
        for b in self.BINDINGS:
            if not isinstance(b, Binding) or not b.id:
                continue
            if b.id == "truth" and self.demo_market() is None:
                continue  # only the demo knows the truth
            if b.id == "radar_back" and not self._from_radar:
                continue  # only a heatmap opened from the radar goes back to it
            if b.id.startswith("lookback_"):
                title = f"Lookback {b.description}"
            else:
                title = HELP_TEXT.get(b.id, b.description).capitalize()
            out.append((title, b.action, f"key {self._key_for(b)}"))
        fit = self._observed_fit()
        if fit is not None and self._on_tiers_change is not None:
            tiers = " ".join(f"{k}x {100 * w:.0f}%" for k, w in fit.custom_tiers.items())
            out.append(
                ("Use observed tiers", "observed_tiers", f"re-estimate with {tiers} (fit {fit.quality})")
            )
        return out


def stylesheet_path() -> Path:
    """Where the app's .tcss lives (for tools that want to lint it)."""
    return Path(__file__).with_name("liqtui.tcss")
