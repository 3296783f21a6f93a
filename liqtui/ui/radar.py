"""The radar screen: every perpetual at once, one row per symbol, ranked by the nearest large pools.

Keys: ↑↓/PgUp/PgDn move, ``s`` / ``S`` next / previous sort column, ``d`` flips the direction, ``/`` filters
by symbol (Enter keeps the filter, Esc clears it), Enter opens the highlighted symbol's full heatmap (the
app's ticker switch; on the demo any row, a light symbol by a full market anchored at its row:
:meth:`~liqtui.sources.Source.hand_over`), Esc returns to the heatmap. Under 100 columns fewer columns are shown.
The Alert column marks the rows that cross one of the app's ``[[alerts]]`` rules (``Z`` near a zone, ``I``
imbalance, ``L`` liquidations; :mod:`liqtui.alerts.radar`: marks only, the actions stay with the heatmap).

The data come from a :class:`RadarRunner` kept per app (so the radar stays warm between visits): a
:class:`~liqtui.core.radar.Radar` fed by a venue's all-market feed (:func:`~liqtui.venues.allmarket_feed`),
pointed at the app source's exchange: the demo exchange's many-symbol market offline, live the first followed
venue that has one (:func:`radar_venue`). The table logic is the pure
:class:`~liqtui.core.radar.RadarTable`; this module only draws it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Label
from textual.worker import Worker

from liqtui.alerts.radar import RadarMarks, mark_code
from liqtui.core.radar import COLUMNS, Radar, RadarRow, RadarTable
from liqtui.venues import allmarket_feed, allmarket_venues
from liqtui.venues.adapter import AllMarketFeed

__all__ = ["RadarRunner", "RadarScreen", "radar_venue", "runner_for", "source_endpoints", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
NARROW_WIDTH = 100  # below this many columns the table drops its less essential columns
_WIDE = (
    "symbol", "alerts", "price", "chg_1h", "chg_24h", "squeeze", "flush", "imbalance", "liq_1h", "oi_1h", "spark"
)  # fmt: skip
_NARROW = ("symbol", "alerts", "price", "chg_1h", "squeeze", "flush", "spark")
_SPARK_WIDE, _SPARK_NARROW = 12, 8
_SORTS = tuple(COLUMNS)
_REFRESH_S = 1.0
_ZONES_BUDGET_S = 0.04  # zone searches per refresh: a minute close changes every model at once


def sparkline(values: Sequence[float], width: int) -> str:
    """``values`` as ``width`` block characters (resampled; low → ▁, high → █); blank without data."""
    vals = [v for v in values if math.isfinite(v)]
    if len(vals) < 2 or width <= 0:
        return " " * max(width, 0)
    if len(vals) > width:
        step = len(vals) / width
        vals = [vals[min(len(vals) - 1, int((i + 1) * step) - 1)] for i in range(width)]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    if span <= 0:
        return (_BARS[3] * len(vals)).rjust(width)
    return "".join(_BARS[min(7, int((v - lo) / span * 8))] for v in vals).rjust(width)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:+.2f}%"


def _usd(v: float) -> str:
    if v >= 1e9:
        return f"{v / 1e9:.1f}B"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    return f"{v / 1e3:.0f}k"


def _zone(pct: float | None, usd: float) -> str:
    return "—" if pct is None else f"{pct:+.2f}% {_usd(usd)}"


def _price(p: float) -> str:
    if not math.isfinite(p):
        return "—"
    if p >= 1000:
        return f"{p:,.1f}"
    if p >= 1:
        return f"{p:.4f}"
    return f"{p:.6g}"


def _cell(row: RadarRow, col: str, kinds: dict[str, tuple[str, ...]], spark: int = _SPARK_WIDE) -> str:
    if col == "symbol":
        return row.symbol
    if col == "alerts":  # Z near a zone, I imbalance, L liquidations (the rules crossed: liqtui radar --json)
        return mark_code(kinds.get(row.symbol, ()))
    if col == "price":
        return _price(row.price)
    if col == "chg_1h":
        return _pct(row.chg_1h)
    if col == "chg_24h":
        return _pct(row.chg_24h)
    if col == "squeeze":
        return _zone(row.squeeze_pct, row.squeeze_usd)
    if col == "flush":
        return _zone(row.flush_pct, row.flush_usd)
    if col == "imbalance":
        return f"{row.imbalance:+.2f}"
    if col == "liq_1h":
        return _usd(row.liq_1h_usd) if row.liq_1h_usd else "—"
    if col == "oi_1h":
        return _pct(row.oi_change_1h_pct)
    return sparkline(row.spark, spark)


def radar_venue(source: Any) -> str:
    """The venue the radar watches for the app's source: the demo's Binance, live the first followed venue
    with an all-market feed (Binance when none has one)."""
    if source is None or getattr(source, "kind", "live") != "live":
        return "binance"
    have = allmarket_venues()
    return next((v for v in getattr(source, "venues", ()) if v in have), "binance")


def source_endpoints(source: Any) -> tuple[str, str] | None | str:
    """The (websocket, REST) base URLs of the radar's venue (:func:`radar_venue`) for the app's source: its
    demo exchange once started, the configured endpoints live; ``None`` while the demo is starting; a reason
    (str) where there is no market to watch (a replay, no source)."""
    if source is None:
        return "the radar needs a live or demo source"
    kind = getattr(source, "kind", "live")
    if kind == "replay":
        return "the radar needs a live or demo source (a recording holds one symbol)"
    if kind == "demo":
        demo = getattr(source, "demo", None)
        if demo is None or getattr(demo, "multi", None) is None:
            return None
        return demo.ws_url, demo.rest_url
    ep = source.endpoints
    venue = radar_venue(source)
    return ep.ws_url(venue), ep.rest_url(venue)


class RadarRunner:
    """The radar of one app: a :class:`Radar` and the all-market feed filling it, restarted when the app's
    exchange changes (a demo exchange is new after each ticker switch)."""

    def __init__(
        self,
        app: App[Any],
        endpoints: Callable[[], tuple[str, str] | None | str],
        source: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        self.endpoints = endpoints
        self.source = source or (lambda: None)
        self.radar = Radar()
        #: the app's alert rules on the rows, kept with the radar (their hysteresis outlives a visit)
        self.marks: RadarMarks | None = None
        self.feed: AllMarketFeed | None = None
        self.problem: str | None = None
        self._urls: tuple[str, str] | None = None
        self._worker: Worker[None] | None = None

    def ensure(self) -> None:
        """Start (or re-point) the feed when the app's exchange is known; note why not otherwise."""
        urls = self.endpoints()
        if isinstance(urls, str):
            self.problem = urls
            return
        self.problem = None if urls is not None else "waiting for the exchange…"
        if urls is None or urls == self._urls:
            return
        self.stop()
        venue = radar_venue(self.source())
        if venue != self.radar.venue:  # live on another venue: its own instruments, from scratch
            self.radar = Radar(venue)
        elif self._urls is not None:  # another exchange (a switch): its feed subscribes every row again
            self.radar.reattach()
        self._urls = urls
        demo = urls[0].startswith("ws://127.0.0.1")
        self.feed = allmarket_feed(self.radar.venue, self.radar, *urls, local=demo)
        # a worker of the app: cancelled with it when the app exits
        self._worker = self.app.run_worker(self.feed.run(), name="radar", group="radar", exit_on_error=False)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None


_RUNNERS: weakref.WeakKeyDictionary[App[Any], RadarRunner] = weakref.WeakKeyDictionary()


def runner_for(app: App[Any], source: Callable[[], Any]) -> RadarRunner:
    """The app's radar runner (made on first use); ``source()`` gives the app's current source."""
    r = _RUNNERS.get(app)
    if r is None:
        r = _RUNNERS[app] = RadarRunner(app, lambda: source_endpoints(source()), source)
    return r


class RadarScreen(Screen[str | None]):
    """Every perpetual, one row each. Dismisses with the chosen instrument (``ETHUSDT``) or None (Esc).

    ``allowed``: the tickers the app can open in full (the demo's); Enter on another says so and stays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back", show=False),
        Binding("s", "sort(1)", "sort →", show=False),
        Binding("S", "sort(-1)", "sort ←", show=False),
        Binding("d", "direction", "direction", show=False),
    ]
    DEFAULT_CSS = """
    RadarScreen { layout: vertical; }
    RadarScreen #radar-head { height: 1; padding: 0 1; }
    RadarScreen #radar-filter { height: 1; padding: 0 1; display: none; }
    RadarScreen #radar-filter.shown { display: block; }
    RadarScreen #radar-table { height: 1fr; width: 1fr; }
    RadarScreen #radar-hint { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, runner: RadarRunner, allowed: Sequence[str] | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.table = RadarTable()
        self.marks: RadarMarks | None = None  # the runner's (set on mount)
        self.allowed = tuple(allowed) if allowed else None
        self.rows: list[RadarRow] = []
        self._columns: tuple[str, ...] = ()
        self._drawn: tuple[Any, ...] | None = None
        self.filtering = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("", id="radar-head")
            yield Label("", id="radar-filter")
            yield DataTable(id="radar-table", cursor_type="row", zebra_stripes=True)
            yield Label("↑↓ move  Enter open  s/S sort  d direction  / filter  Esc back", id="radar-hint")

    def on_mount(self) -> None:
        if self.runner.marks is None:  # the app's alerts controller: its rules mark the rows
            ctl = getattr(self.app, "alerts", None)
            self.runner.marks = RadarMarks(getattr(ctl, "rules", ()) or ())
        self.marks = self.runner.marks
        self.runner.ensure()
        self.refresh_rows()
        self.set_interval(_REFRESH_S, self.refresh_rows)
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self._drawn = None
        self.refresh_rows()

    # -- drawing -----------------------------------------------------------------------------------------
    def refresh_rows(self) -> None:
        runner = self.runner
        runner.ensure()
        radar: Radar = runner.radar
        radar.tick(radar.now_ms)
        rows = radar.rows(budget_s=_ZONES_BUDGET_S)
        marks = self.marks
        if marks is not None and marks.rules:
            rows = marks.mark(rows, radar)
        self.rows = self.table.view(rows)
        kinds = marks.kinds if marks is not None else {}
        narrow = self.size.width < NARROW_WIDTH
        cols = _NARROW if narrow else _WIDE
        key = (
            cols,
            radar.version,
            self.table.sort,
            self.table.descending,
            self.table.text,
            tuple(kinds.items()),
        )
        self._head()
        if key == self._drawn:
            return
        self._drawn = key
        dt = self.query_one(DataTable)
        current = self.highlighted()
        heads = tuple(self._title(c) for c in cols)  # the sort marker moves between headers
        if heads != self._columns:
            dt.clear(columns=True)
            for c, title in zip(cols, heads, strict=True):
                dt.add_column(title, key=c)
            self._columns = heads
        else:
            dt.clear()
        spark = _SPARK_NARROW if narrow else _SPARK_WIDE
        dt.add_rows([[_cell(r, c, kinds, spark) for c in cols] for r in self.rows])
        if current is not None:
            for i, r in enumerate(self.rows):
                if r.symbol == current:
                    dt.move_cursor(row=i)
                    break

    def _title(self, col: str) -> str:
        name = "Trend" if col == "spark" else COLUMNS[col][0]
        if col == self.table.sort:
            name += " ▼" if self.table.descending else " ▲"
        return name

    def _head(self) -> None:
        r = self.runner
        n = len(r.radar)
        shown = len(self.rows)
        sort = COLUMNS[self.table.sort][0]
        parts = [f"Radar — {shown}/{n} symbols", f"sort {sort} {'▼' if self.table.descending else '▲'}"]
        if self.table.text:
            parts.append(f"filter {self.table.text!r}")
        if self.marks is not None and self.marks.rules:
            parts.append(f"{len(self.marks.kinds)} marked")
        if r.feed is not None:
            st = r.feed.stats()
            parts.append(f"{st['connections']} conn · {st['warmed']}/{st['instruments']} warmed")
        if r.problem:
            parts.append(r.problem)
        self.query_one("#radar-head", Label).update("  ·  ".join(parts))

    def highlighted(self) -> str | None:
        """The symbol under the cursor."""
        dt = self.query_one(DataTable)
        if not self.rows or dt.row_count == 0:
            return None
        i = min(max(dt.cursor_row, 0), len(self.rows) - 1)
        return self.rows[i].symbol

    # -- keys --------------------------------------------------------------------------------------------
    def action_sort(self, step: int) -> None:
        i = _SORTS.index(self.table.sort)
        self.table.sort_by(_SORTS[(i + step) % len(_SORTS)])
        self.refresh_rows()

    def action_direction(self) -> None:
        self.table.sort_by(self.table.sort, not self.table.descending)
        self.refresh_rows()

    def action_filter(self) -> None:
        """Start typing a filter (shown on its own line; Enter keeps it, Esc clears it)."""
        self.filtering = True
        self._show_filter()

    def _show_filter(self) -> None:
        line = self.query_one("#radar-filter", Label)
        line.set_class(self.filtering, "shown")
        line.update(f"filter: {self.table.text}▏  (Enter keeps, Esc clears)")

    def _set_filter(self, text: str) -> None:
        self.table.set_filter(text)
        self._show_filter()
        self.refresh_rows()

    def on_key(self, event: events.Key) -> None:
        """The filter is typed here, in key order (no input widget: a focus change would let a fast burst such
        as ``/btc`` lose letters to the table; and no priority binding, which would act before earlier keys)."""
        if not self.filtering:
            if event.key == "slash":
                self.action_filter()
                event.stop()
            return
        if event.key == "enter":  # Enter while filtering keeps the filter
            self.filtering = False
            self._show_filter()
            event.stop()
        elif event.key == "backspace":
            self._set_filter(self.table.text[:-1])
            event.stop()
        elif event.character and event.character.isalnum() and len(self.table.text) < 20:
            self._set_filter(self.table.text + event.character)
            event.stop()

    def action_back(self) -> None:
        if self.filtering:  # Esc while filtering clears the filter first
            self.filtering = False
            self._set_filter("")
            return
        self.dismiss(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a row: the table's own selection, so it stays in key order."""
        event.stop()
        self.action_open()

    def can_open(self, sym: str) -> bool:
        """Whether Enter can open ``sym`` in full: what the app's source says (a demo with the radar's light
        market opens every row), else the tickers the app serves."""
        src = self.runner.source()
        can = getattr(src, "can_open", None)
        if can is not None:
            return bool(can(sym))
        return self.allowed is None or sym.removesuffix("USDT") in self.allowed

    def action_open(self) -> None:
        sym = self.highlighted()
        if sym is None:
            return
        ticker = sym.removesuffix("USDT")
        if not self.can_open(sym):
            only = f" (it serves {', '.join(self.allowed)} only)" if self.allowed else ""
            self.notify(
                f"{ticker}: the full heatmap cannot open it here{only}", severity="warning", timeout=6
            )
            return
        src = self.runner.source()
        if src is not None and hasattr(src, "hand_over"):
            src.hand_over(sym)  # the demo: the new heatmap's exchange continues this light market
        self.dismiss(sym)
