"""The liqtui Textual app: heatmap, heat column, price axis, zones, liquidation tape, status line.

Data flows one way: a *source* (``async def source(sink)``, run in an exclusive async worker) pushes
MarketEvents into ``engine.apply``; a UI timer at ``fps`` calls ``engine.tick(now)`` and redraws only when
``engine.version`` changed — the history heatmap only when a time slice closed or the view changed, the
narrow live widgets (axis, heat column) every changed tick. The UI never talks to a feed.

Usage (the lead's CLI)::

    app = LiqtuiApp(engine, source=source.run, ui=cfg.ui, keymap=cfg.keymap, symbol=cfg.symbol,
                    venues=cfg.venues, on_symbol_change=restart_for_symbol)
    app.run()

``on_symbol_change(symbol)`` / ``on_venues_change(venues)`` may return ``(engine, source)`` (or an awaitable
of it) to have the app swap to a new engine and source; the same requests are also posted as
:class:`~liqtui.ui.messages.SymbolChangeRequested` / :class:`~liqtui.ui.messages.VenuesChangeRequested`.
Backfill progress: ``app.set_progress(done, total, text)`` from any thread.

Context charts (``o``): open interest, funding and cumulative realized liquidations over the session, sampled
from the engine into a bounded :class:`~liqtui.ui.context.ContextSeries` on each tick (cheap) and drawn with
textual-plotext at most once a second when a new sample was stored; shown by default from 160×45 up, never in
the compact layout.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from rich.color import ColorSystem
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.widgets import Footer, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from liqtui.core.events import MarketEvent, MarkPrice, Trade
from liqtui.core.model import LOOKBACK_MS, LOOKBACKS
from liqtui.ui.commands import LiqtuiCommands
from liqtui.ui.context import ContextSeries
from liqtui.ui.messages import BackfillProgress, SymbolChangeRequested, VenuesChangeRequested
from liqtui.ui.render import HeatScale, bin_profile, candle_columns, fmt_price, row_of, time_axis
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
from liqtui.ui.widgets.context import ContextPanel
from liqtui.ui.widgets.heatmap import HeatFrame, HeatmapView
from liqtui.ui.widgets.live import HeatColumn, PriceAxis
from liqtui.ui.widgets.status import StatusInfo, StatusLine
from liqtui.ui.widgets.tape import LiquidationTape
from liqtui.ui.widgets.zones import ZonesPanel

__all__ = ["BINDING_IDS", "DEFAULT_LOOKBACKS", "LOOKBACK_KEYS", "LiqtuiApp", "Source"]

log = logging.getLogger(__name__)

Source = Callable[[Callable[[MarketEvent], None]], Awaitable[None]]
"""``async def source(sink)``: pushes MarketEvents into ``sink`` until cancelled."""

DEFAULT_LOOKBACKS: tuple[str, ...] = LOOKBACKS
LOOKBACK_KEYS = dict(zip(LOOKBACKS, "12345678"))
_LOOKBACK_MS = LOOKBACK_MS

THRESHOLD_STEP = 10.0
THRESHOLD_MAX = 95.0
GAMMA_STEP = 1.25
GAMMA_RANGE = (0.1, 3.0)
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
COMPACT_WIDTH = 120
COMPACT_HEIGHT = 30
CONTEXT_AUTO_SIZE = (160, 45)
"""The context charts show by default from this terminal size up; ``o`` toggles them on any non-compact size."""
CONTEXT_REDRAW_MS = 1_000
"""The context charts (textual-plotext, a full re-render each time) are fed at most this often, and only
when a new sample was stored."""

_LAG_EVENTS = (Trade, MarkPrice)

_lookback_group = Binding.Group("lookback", compact=True)
_threshold_group = Binding.Group("threshold", compact=True)
_heat_group = Binding.Group("heat", compact=True)
_zoom_group = Binding.Group("zoom", compact=True)


def _bindings() -> list[Binding]:
    out = [
        Binding(key, f"lookback('{lb}')", lb, id=f"lookback_{lb}", group=_lookback_group)
        for lb, key in LOOKBACK_KEYS.items()
    ]
    out += [
        Binding("t", "threshold(-1)", "threshold −", id="threshold_down", group=_threshold_group),
        Binding("T", "threshold(1)", "threshold +", id="threshold_up", group=_threshold_group),
        Binding("h", "heat(-1)", "heat −", id="heat_down", group=_heat_group),
        Binding("H", "heat(1)", "heat +", id="heat_up", group=_heat_group),
        Binding("k", "klines", "klines", id="klines"),
        # help and quit early: at 80 columns the footer shows only the first bindings
        Binding("question_mark", "help", "help", id="help"),
        Binding("q", "quit", "quit", id="quit"),
        Binding("f", "freeze", "freeze", id="freeze"),
        Binding("plus,equals_sign", "zoom(1)", "zoom in", id="zoom_in", group=_zoom_group),
        Binding("minus", "zoom(-1)", "zoom out", id="zoom_out", group=_zoom_group),
        Binding("c", "recentre", "recentre", id="recentre"),
        Binding("s", "ticker", "ticker", id="ticker"),
        Binding("e", "venues", "venues", id="venues"),
        Binding("o", "context", "charts", id="context"),
    ]
    return out


BINDING_IDS: tuple[str, ...] = tuple(b.id for b in _bindings() if b.id)
"""Every remappable binding id, for the config's ``[keymap]`` (e.g. ``freeze = "p"``)."""

_HELP_TEXT = {
    "threshold_down": "liquidity threshold down (show weaker levels)",
    "threshold_up": "liquidity threshold up (hide weak noise)",
    "heat_down": "less heat (darken light zones)",
    "heat_up": "more heat (boost light zones)",
    "klines": "candles on/off",
    "ticker": "ticker picker (BTC, ETH, SOL or typed)",
    "venues": "venues on/off",
    "context": "context charts on/off (open interest, funding, cumulative liquidations)",
    "freeze": "freeze the picture (data keeps flowing)",
    "zoom_in": "zoom in on price",
    "zoom_out": "zoom out on price",
    "recentre": "recentre on the live price",
    "help": "this help",
    "quit": "quit",
}


_RICH_SYSTEMS = {"truecolor": ColorSystem.TRUECOLOR, "256": ColorSystem.EIGHT_BIT, "16": ColorSystem.STANDARD}


def _validated_keymap(km: Mapping[str, str]) -> dict[str, str]:
    """The config's ``[keymap]`` checked against :data:`BINDING_IDS` (clear error, never ignored)."""
    unknown = sorted(set(km) - set(BINDING_IDS))
    if unknown:
        valid = ", ".join(BINDING_IDS)
        raise ValueError(f"unknown keymap binding id(s) {', '.join(unknown)}; valid: {valid}")
    bad = sorted(k for k, v in km.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise ValueError(
            f'keymap {", ".join(bad)}: the key must be a non-empty string such as "p" or "ctrl+p"'
        )
    return dict(km)


def _field(ui: Any, name: str, default: Any) -> Any:
    return getattr(ui, name, default) if ui is not None else default


class LiqtuiApp(App[None]):
    """The terminal UI. See the module docstring for how the CLI wires it."""

    CSS_PATH = Path(__file__).with_name("liqtui.tcss")
    TITLE = "liqtui"
    COMMANDS = App.COMMANDS | {LiqtuiCommands}
    BINDINGS = _bindings()
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        engine: Any,
        *,
        source: Source | None = None,
        ui: Any = None,
        keymap: Mapping[str, str] | None = None,
        symbol: str = "BTC",
        venues: list[str] | None = None,
        stats: Callable[[], Mapping[str, Any]] | None = None,
        on_symbol_change: Callable[[str], Any] | None = None,
        on_venues_change: Callable[[list[str]], Any] | None = None,
        clock: Callable[[], int] | None = None,
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
    ) -> None:
        super().__init__(driver_class=driver_class)
        self.engine = engine
        self._source = source
        self.symbol = symbol
        self.venues = list(venues) if venues else ["binance"]
        self._stats = stats
        self._on_symbol_change = on_symbol_change
        self._on_venues_change = on_venues_change
        self._clock = clock or (lambda: int(time.time() * 1000))
        # view settings: explicit keyword > UIConfig > default
        self.fps = float(fps if fps is not None else _field(ui, "fps", 10.0))
        self.lookback = lookback or _field(ui, "lookback", "1d")
        thr = threshold_pct if threshold_pct is not None else _field(ui, "threshold_pct", 50.0)
        self.threshold_pct = float(thr)
        self.gamma = float(heat_gamma if heat_gamma is not None else _field(ui, "heat_gamma", 1.0))
        self.klines = bool(klines if klines is not None else _field(ui, "klines", True))
        self.top_n = int(top_n if top_n is not None else _field(ui, "top_n", 5))
        self._check_view_settings()
        self.frozen = False
        if context is None:  # the config's ui.context: "auto" (by terminal size), "on" or "off"
            context = {"on": True, "off": False}.get(_field(ui, "context", "auto"))
        self.context_pref: bool | None = context
        self.context_series = ContextSeries()
        self.center: float | None = None
        self.zoom = 1.0
        self._init_colours(colors or _field(ui, "colors", "auto"), theme or _field(ui, "theme", "dark"))
        km = dict(keymap or {})
        km.update(_field(ui, "keymap", None) or {})
        self._keymap = _validated_keymap(km)
        if km:
            self.set_keymap(km)
        # redraw bookkeeping
        self._last_version: int | None = None
        self._hist_key: tuple | None = None
        self._zones_key: tuple | None = None
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

    def _check_view_settings(self) -> None:
        if self.lookback not in LOOKBACK_KEYS:
            raise ValueError(f"lookback must be one of {', '.join(LOOKBACK_KEYS)}, got {self.lookback!r}")
        if not 0.5 <= self.fps <= 60:
            raise ValueError(f"fps must be between 0.5 and 60, got {self.fps}")
        if not 0.0 <= self.threshold_pct <= THRESHOLD_MAX:
            raise ValueError(f"threshold_pct must be within 0..{THRESHOLD_MAX:g}, got {self.threshold_pct}")
        g_lo, g_hi = GAMMA_RANGE
        if not g_lo <= self.gamma <= g_hi:
            raise ValueError(f"heat_gamma must be between {g_lo} and {g_hi}, got {self.gamma}")
        if not 1 <= self.top_n <= 20:
            raise ValueError(f"top_n must be between 1 and 20, got {self.top_n}")

    def _init_colours(self, colors: str, theme: str) -> None:
        """Pick the colour system (auto: detect) and load the theme; the terminal output follows the
        chosen system, and a bad theme falls back to dark with a notice once mounted."""
        if colors != "auto" and colors not in COLOR_SYSTEMS:
            raise ValueError(f"colors must be auto or one of {', '.join(COLOR_SYSTEMS)}, got {colors!r}")
        self.color_system = detect_color_system() if colors == "auto" else colors
        if colors != "auto":
            self.console._color_system = _RICH_SYSTEMS[colors]
        self._theme_name = theme
        self.spec, self._theme_error = self._load_spec(theme)
        self.palette = HeatPalette(self.spec, self.color_system)

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
        spec = getattr(self, "spec", None)
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

    def _on_theme_changed(self, theme: Any) -> None:
        name = getattr(theme, "name", "")
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
        ):
            w.set_palette(self.palette)
        self._invalidate()

    # ------------------------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        pal = self.palette
        self.heatmap = HeatmapView(pal, id="heatmap")
        self.axis = PriceAxis(pal, id="axis")
        self.heat_column = HeatColumn(pal, id="heatcol")
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
                yield self.time_axis
            with Vertical(id="side"):
                yield self.anchor_label
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
        self._apply_compact(self.size.width, self.size.height)
        if self._theme_error:
            self.notify(f"{self._theme_error}; using the dark theme", severity="error", timeout=8)
        self._timer = self.set_interval(1.0 / self.fps, self._on_timer, name="ui-tick")
        self._start_source()
        self.call_after_refresh(self._tick)

    def on_resize(self, event: Any) -> None:
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
    def _sink(self, ev: MarketEvent) -> None:
        """Every event passes here on its way to the engine: counts it and keeps the feed lag (exchange
        time → receive time of the latest trade or mark; candles carry their open time, so not those)."""
        self.events_seen += 1
        if type(ev) in _LAG_EVENTS:
            self._lag_ms = float(ev.recv_ts - ev.ts)
        self.engine.apply(ev)

    def _sink_for(self, engine: Any) -> Callable[[MarketEvent], None]:
        """The sink handed to a source: after a swap, a late event of the old source is dropped instead of
        reaching the new engine (another symbol or venue set)."""

        def sink(ev: MarketEvent) -> None:
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

    def replace_source(self, engine: Any, source: Source | None) -> None:
        """Swap to a new engine and source (after a ticker or venue change); cancels the old source."""
        self.workers.cancel_group(self, "source")
        self.engine = engine
        self._source = source
        self._last_version = None
        self.context_panel.drawn_version = None
        self.center = None
        self._message = ""
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
        self._hist_key = None
        self._zones_key = None

    def _tick(self) -> None:
        now = self._clock()
        self.ticks += 1
        try:
            self.engine.tick(now)
        except Exception as exc:  # a bad engine state must not take the screen down
            log.exception("engine.tick failed")
            self._message = f"engine: {type(exc).__name__}: {exc}"
        self.context_series.update(self.engine, now)
        if not self.frozen:
            self._draw_context(now)
            if tuple(self.heatmap.size) != self._drawn_size:  # a sibling (status, progress) changed height
                self._invalidate()
            version = self.engine.version
            if version != self._last_version or self._view_dirty:
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
        for p in (
            getattr(self.engine, "price", None),
            getattr(self.engine, "mark", None),
            getattr(self.engine.model, "price", None),
        ):
            if p is not None and math.isfinite(p) and p > 0:
                return float(p)
        return None

    @property
    def span_pct(self) -> float:
        """Half-height of the price window in % of its centre (the lookback's default × the user's zoom)."""
        return min(SPAN_RANGE[1], max(SPAN_RANGE[0], LOOKBACK_SPAN_PCT[self.lookback] * self.zoom))

    def window(self) -> tuple[float, float] | None:
        """(price_lo, price_hi) of the view, or None before the first price."""
        price = self.current_price()
        if self.center is None:
            if price is None:
                return None
            self.center = price
        half = self.center * self.span_pct / 100.0
        lo, hi = self.center - half, self.center + half
        if price is not None and not lo <= price <= hi:  # keep the anchor on screen
            self.center = price
            self._hist_key = None
            half = price * self.span_pct / 100.0
            lo, hi = price - half, price + half
        return lo, hi

    def _draw(self, now: int) -> None:
        self._view_dirty = False
        self._drawn_size = tuple(self.heatmap.size)
        win = self.window()
        price = self.current_price()
        model = self.engine.model
        if win is None:
            self.zones.set_report(None)
            self._show_anchor(None, 0.0, 1.0)
            return
        lo, hi = win
        width, height = self.heatmap.size.width, self.heatmap.size.height
        if width > 0 and height > 0:
            self._draw_history(model, now, lo, hi, width, height, price)
            anchor = None if price is None else row_of(price, lo, hi, height)
            self._draw_profile(model, lo, hi, height, anchor)
        self.axis.set_window(lo, hi)
        self.axis.set_price(price)
        self._show_anchor(price, lo, hi)
        self._show_time_axis(width)
        self._draw_zones(model, price, lo, hi)
        self.tape.set_liquidations(self.engine.liquidations)

    def _draw_history(
        self, model: Any, now: int, lo: float, hi: float, width: int, height: int, price: float | None
    ) -> None:
        """Rebuild the history heatmap only when a display column's time slice closed or the view changed;
        otherwise only move the anchor row."""
        lb_ms = _LOOKBACK_MS[self.lookback]
        t_end = int(getattr(model, "last_ts", 0) or now)
        # a "slice" is one display column's span of time: the picture is rebuilt when the newest column
        # closes (every lookback/width ms), not on every 1m bar; the heat column shows the live profile
        key = (
            self.lookback,
            lo,
            hi,
            width,
            height,
            self.threshold_pct,
            self.gamma,
            self.klines,
            t_end * width // lb_ms,
            id(model),
        )
        if key == self._hist_key:
            self.heatmap.set_anchor(price)
            return
        self._hist_key = key
        values = model.history(self.lookback, width, lo, hi, 2 * height)
        scale = HeatScale(self.threshold_pct, self.gamma)
        candles = self._candles(t_end - lb_ms, t_end, width) if self.klines else None
        self.heatmap.set_frame(HeatFrame(values, scale, self.palette, lo, hi, candles, price))

    def _candles(self, t0: int, t1: int, width: int) -> Any:
        import numpy as np

        bars = list(getattr(self.engine, "candles", ()) or ())
        if not bars:
            return None
        ts = np.fromiter((b.ts for b in bars), dtype=np.int64, count=len(bars))
        ohlc = np.array([(b.open, b.high, b.low, b.close) for b in bars], dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        return candle_columns(ohlc[order], ts[order], t0, t1, width)

    def _draw_profile(self, model: Any, lo: float, hi: float, height: int, anchor: int | None) -> None:
        if getattr(model, "grid", None) is None:
            return
        long_t, short_t = model.profile_by_tier(self.lookback)
        rows = bin_profile(model.grid.edges, long_t + short_t, lo, hi, height)
        self.heat_column.set_profile(rows, anchor)

    def _draw_context(self, now: int) -> None:
        """Feed the context charts when a new sample was stored, at most every :data:`CONTEXT_REDRAW_MS` of
        the app's clock, and only while they are on screen (a plotext render costs tens of ms)."""
        panel, series = self.context_panel, self.context_series
        oi_version = getattr(self.engine, "oi_history_version", 0)
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
        panel.show(
            series.view(), series.liq_long_usd, series.liq_short_usd, getattr(self.engine, "oi_history", ())
        )

    def _show_time_axis(self, width: int) -> None:
        """Time labels under the heatmap (changes only with the lookback or the width)."""
        text = time_axis(_LOOKBACK_MS[self.lookback], width)
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

    def _draw_zones(self, model: Any, price: float | None, lo: float, hi: float) -> None:
        key = (getattr(model, "version", None), self.lookback, self.threshold_pct, self.top_n, id(model))
        if key == self._zones_key:
            return
        self._zones_key = key
        report = model.zones(self.lookback, threshold_pct=self.threshold_pct, top_n=self.top_n)
        self.zones.set_report(report, getattr(model, "tier_names", ()))

    # -------------------------------------------------------------------------------- the status
    def status_info(self) -> StatusInfo:
        """What the status line shows right now."""
        eng = self.engine
        now = time.monotonic()
        self._frame_times = [t for t in self._frame_times if now - t <= 1.0]
        venues: dict[str, tuple[str, int]] = {}
        for venue, st in (getattr(eng, "status", None) or {}).items():
            v = getattr(venue, "value", str(venue))
            venues[v] = (getattr(st.state, "value", str(st.state)), int(getattr(st, "attempt", 0)))
        funding = [f for f in (getattr(eng, "funding", None) or {}).values() if f is not None]
        return StatusInfo(
            symbol=self.symbol,
            lookback=self.lookback,
            venues=venues,
            fps=float(len(self._frame_times)),
            lag_ms=None if self._lag_ms is None else round(self._lag_ms / 10) * 10,
            oi_usd=float(getattr(eng, "oi_usd_total", 0.0) or 0.0),
            oi_change_pct=getattr(eng, "oi_change_pct_1h", None),
            funding=sum(funding) / len(funding) if funding else None,
            threshold_pct=self.threshold_pct,
            gamma=self.gamma,
            klines=self.klines,
            decode_errors=self._decode_errors(),
            frozen=self.frozen,
            progress=self._progress,
            message=self._message,
        )

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
    def action_lookback(self, name: str) -> None:
        """Switch lookback (instant: the model keeps one profile per lookback)."""
        if name in LOOKBACK_KEYS and name != self.lookback:
            self.lookback = name
            self._invalidate()
            self._tick()

    def action_threshold(self, direction: int) -> None:
        """Liquidity threshold (percentile of weak levels hidden) down/up by 10 points."""
        thr = self.threshold_pct + THRESHOLD_STEP * direction
        self.threshold_pct = float(min(THRESHOLD_MAX, max(0.0, thr)))
        self._invalidate()
        self._tick()

    def action_heat(self, direction: int) -> None:
        """More heat (``H``, gamma down: light zones brighter) or less (``h``)."""
        g = self.gamma / GAMMA_STEP if direction > 0 else self.gamma * GAMMA_STEP
        self.gamma = round(min(GAMMA_RANGE[1], max(GAMMA_RANGE[0], g)), 4)
        self._invalidate()
        self._tick()

    def action_klines(self) -> None:
        """Candles on/off."""
        self.klines = not self.klines
        self._invalidate()
        self._tick()

    def action_freeze(self) -> None:
        """Freeze the picture; ingestion goes on and the status line keeps updating."""
        self.frozen = not self.frozen
        if not self.frozen:
            self._invalidate()
        self._tick()

    def action_zoom(self, direction: int) -> None:
        """Zoom the price range in (``+``) or out (``-``)."""
        zoom = self.zoom / ZOOM_STEP if direction > 0 else self.zoom * ZOOM_STEP
        base = LOOKBACK_SPAN_PCT[self.lookback]
        self.zoom = min(SPAN_RANGE[1] / base, max(SPAN_RANGE[0] / base, zoom))
        self._invalidate()
        self._tick()

    def action_recentre(self) -> None:
        """Centre the price window on the live price."""
        self.center = self.current_price()
        self._invalidate()
        self._tick()

    def action_context(self) -> None:
        """Context charts on/off (open interest, funding, cumulative liquidations)."""
        width, height = self.size
        self.context_pref = not self.context_panel.display
        self._apply_context(width, height)
        if self.context_pref and not self.context_panel.display:
            self.notify(f"context charts need at least {COMPACT_WIDTH}×{COMPACT_HEIGHT}", timeout=4)
        self._tick()

    def action_help(self) -> None:
        """Show every key and what it does."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_rows()))

    def action_ticker(self) -> None:
        """Open the ticker picker."""
        self.push_screen(TickerScreen(self.symbol), self._ticker_chosen)

    def action_venues(self) -> None:
        """Open the venue switches."""
        self.push_screen(VenuesScreen(self.venues), self._venues_chosen)

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

    async def _maybe_swap(self, callback: Callable[[Any], Any] | None, arg: Any) -> None:
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
                rows.append((self._key_for(b), _HELP_TEXT.get(b.id, b.description)))
        rows.append(("ctrl+p", "command palette"))
        return rows

    def command_list(self) -> list[tuple[str, str, str]]:
        """(title, action, help) for the command palette."""
        out = []
        for b in self.BINDINGS:
            if not isinstance(b, Binding) or not b.id:
                continue
            if b.id.startswith("lookback_"):
                title = f"Lookback {b.description}"
            else:
                title = _HELP_TEXT.get(b.id, b.description).capitalize()
            out.append((title, b.action, f"key {self._key_for(b)}"))
        return out


def stylesheet_path() -> Path:
    """Where the app's .tcss lives (for tools that want to lint it)."""
    return Path(__file__).with_name("liqtui.tcss")
