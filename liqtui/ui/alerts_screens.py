"""Alert screens and the app's hooks for alerts (issue 13): the alert log (``a``), the spent-zone log with the
share of sweeps that reversed vs continued (``l``), and :class:`AlertsAppMixin`, what ``LiqtuiApp`` mixes in to
own an :class:`~liqtui.alerts.controller.AlertsController` (poll on the UI timer, toasts through ``notify``, bell
and OSC through the app's own terminal writer, the state file for ``liqtui status``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from liqtui.alerts.controller import AlertsController
from liqtui.alerts.evaluator import Alert
from liqtui.alerts.fmt import fmt_price, fmt_usd
from liqtui.alerts.spentlog import HORIZONS_MIN, SpentZone, summarize
from liqtui.ui.keys import HELP_TEXT, KEYS

__all__ = [
    "ALERT_BINDINGS",
    "ALERT_HELP",
    "AlertLogScreen",
    "AlertsAppMixin",
    "SpentZonesScreen",
    "spent_summary_text",
    "terminal_writer",
]

#: the app's extra bindings (ids for the config's [keymap]); listed in help and the command palette, not in the
#: footer (it shows only the first bindings at 80 columns, and its snapshots stay as they are)
ALERT_BINDINGS: list[Binding] = [
    Binding(k.key, k.action, k.label, id=k.id, show=k.show)
    for k in KEYS
    if k.id in ("alert_log", "spent_zones")
]
ALERT_HELP = {b.id: HELP_TEXT[b.id] for b in ALERT_BINDINGS if b.id}

#: one selector per rule, each starting with ``_Refreshing`` (both screens match it): Textual scopes a widget's
#: DEFAULT_CSS by prefixing the class name to the LAST selector of a comma list only, so ``A, B { }`` never
#: matched B (the spent-zone screen drew without its box, full screen, top left). Labels take the box's width
#: so that a long summary wraps at 80 columns instead of being cut
_CSS = """
_Refreshing { align: center middle; }
_Refreshing .alerts-box {
    width: 110; max-width: 100%; height: auto; max-height: 100%; padding: 0 1; border: round $primary;
    background: $surface;
}
_Refreshing DataTable { height: auto; max-height: 24; }
_Refreshing .alerts-box Label { width: 100%; }
_Refreshing .alerts-title { text-style: bold; color: $accent; }
_Refreshing .alerts-hint { color: $text-muted; }
"""


#: the box: 110 columns at most, less its border and padding (2 + 2)
BOX_WIDTH, BOX_FRAME = 110, 4
#: a DataTable column takes its width plus a cell padding of 1 on each side; room kept for its scrollbar
_PAD, _SCROLLBAR = 2, 2


def _fitted(table: DataTable[Any], labels: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as their widest cell, then the rows. Fixed widths: with auto widths, rows added right
    after ``clear(columns=True)`` were drawn at the width of the column labels (``01-01 00:0``, ``squee``)."""
    for i, label in enumerate(labels):
        table.add_column(label, width=max(cell_len(c) for c in [label, *(r[i] for r in rows)]))
    for r in rows:
        table.add_row(*(Text(c) for c in r))


def _hhmm(ts_ms: int) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.gmtime(ts_ms / 1000))


def _hms(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000))


def _mdhm(ts_ms: int) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(ts_ms / 1000))


def _reaction(r: float | None) -> str:
    return "…" if r is None else f"{r:+.2f}%"


def spent_summary_text(records: list[SpentZone]) -> str:
    """``12 sweeps · 5m: 42% reversed, 50% continued · 15m: …`` (reversal = price back against the sweep)."""
    s = summarize(records)
    parts = [f"{len(records)} sweep{'s' if len(records) != 1 else ''}"]
    for h in HORIZONS_MIN:
        row = s[f"{h}m"]
        if row["n"]:
            parts.append(
                f"{h}m: {row['share_reversed']:.0%} reversed, {row['share_continued']:.0%} continued (n={row['n']})"
            )
        else:
            parts.append(f"{h}m: —")
    return " · ".join(parts)


class _Refreshing(ModalScreen[None]):
    """A modal that redraws when the controller's version moves (checked twice a second)."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close", show=False)]

    def __init__(self, controller: AlertsController) -> None:
        super().__init__()
        self.controller = controller
        self._drawn: tuple[int, int] | None = None

    def on_mount(self) -> None:
        self._refresh_rows()
        self.set_interval(0.5, self._refresh_rows)

    def on_resize(self, event: events.Resize) -> None:
        """The columns depend on the width (a compact set below ~100 columns): draw again."""
        self._drawn = None
        self._refresh_rows()

    def inner_width(self) -> int:
        """Columns inside the box (the box is at most :data:`BOX_WIDTH` wide, the terminal at most)."""
        return max(20, min(BOX_WIDTH, self.app.size.width) - BOX_FRAME)

    def _key(self) -> tuple[int, int]:
        return (self.controller.version, self.controller.spent.version)

    def _refresh_rows(self) -> None:
        if self._key() == self._drawn:
            return
        self._drawn = self._key()
        self.fill()

    def fill(self) -> None:
        raise NotImplementedError

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]  # Escape closes
        self.dismiss(None)


class AlertLogScreen(_Refreshing):
    """Every alert of this run, newest first. The alert's text wraps in its column (a swept zone's text is
    long); below ~100 columns the rule and side columns go (the text names both) and the time is HH:MM:SS."""

    #: inner widths below this get the compact columns (time and alert only)
    COMPACT_BELOW = 90

    def compose(self) -> ComposeResult:
        with Vertical(classes="alerts-box"):
            yield Label("Alerts", classes="alerts-title")
            yield DataTable(id="alert-table", cursor_type="row", zebra_stripes=True)
            yield Label("", id="alert-empty", classes="alerts-hint")
            yield Label("Esc closes. Rules: [[alerts]] in the config.", classes="alerts-hint")

    def fill(self) -> None:
        table = self.query_one("#alert-table", DataTable)
        table.clear(columns=True)
        log: list[Alert] = list(self.controller.log)
        width = self.inner_width()
        compact = width < self.COMPACT_BELOW
        # fixed widths (see _fitted): the time, the rule's name and the side, then the alert's text
        heads = [("time (UTC)", 10)] if compact else [("time (UTC)", 14), ("rule", 4), ("side", 5)]
        if not compact:
            heads[1] = ("rule", max([4, *(cell_len(a.name) for a in log)]))
        for label, w in heads:
            table.add_column(label, width=w)
        used = sum(w + _PAD for _, w in heads)
        table.add_column("alert", width=max(20, width - used - _PAD - _SCROLLBAR))
        for a in reversed(log):
            # Text, not str: a DataTable parses a str cell as markup, and a rule's name is the user's own
            head = [_hms(a.ts)] if compact else [_hhmm(a.ts), Text(a.name), a.side]
            table.add_row(*head, Text(a.text), height=None)  # height None: the alert text wraps
        self.query_one("#alert-empty", Label).update("" if log else "No alert has fired yet.")


class SpentZonesScreen(_Refreshing):
    """Zones the price consumed, what was liquidated, and the price 5/15/60 minutes later. Below ~100
    columns: the time without seconds, the side as an arrow before the range, and no "used" column (a spent
    zone is at least half used by definition)."""

    #: inner widths below this get the compact columns
    COMPACT_BELOW = 96

    def compose(self) -> ComposeResult:
        with Vertical(classes="alerts-box"):
            yield Label(f"Spent zones — {self.controller.symbol}", classes="alerts-title")
            yield Label("", id="spent-summary")
            yield DataTable(id="spent-table", cursor_type="row", zebra_stripes=True)
            yield Label(
                "Reaction: % move after the sweep in its direction (+ continued, − reversed). Esc closes.",
                classes="alerts-hint",
            )

    def fill(self) -> None:
        recs = list(self.controller.spent.records)
        self.query_one("#spent-summary", Label).update(spent_summary_text(recs))
        table = self.query_one("#spent-table", DataTable)
        table.clear(columns=True)
        reactions = [f"{h}m" for h in HORIZONS_MIN]
        if self.inner_width() < self.COMPACT_BELOW:
            _fitted(
                table,
                ["time (UTC)", "zone (↑ squeeze ↓ flush)", "USD", "liq.", *reactions],
                [
                    [
                        _mdhm(r.ts),
                        f"{'↑' if r.side == 'above' else '↓'} {fmt_price(r.low)}–{fmt_price(r.high)}",
                        fmt_usd(r.usd),
                        fmt_usd(r.realized_usd),
                        *(_reaction(r.reactions.get(k)) for k in reactions),
                    ]
                    for r in reversed(recs)
                ],
            )
            return
        _fitted(
            table,
            ["time (UTC)", "zone", "range", "USD", "used", "liquidated", *reactions],
            [
                [
                    _hhmm(r.ts),
                    "squeeze ↑" if r.side == "above" else "flush ↓",
                    f"{fmt_price(r.low)}–{fmt_price(r.high)}",
                    fmt_usd(r.usd),
                    f"{r.consumed_pct:.0f}%",
                    fmt_usd(r.realized_usd),
                    *(_reaction(r.reactions.get(k)) for k in reactions),
                ]
                for r in reversed(recs)
            ],
        )


def terminal_writer(app: App[Any]) -> Callable[[str], None]:
    """Writes bell/OSC sequences to the terminal in order with Textual's own output: through the app's driver (its
    writer thread), so a sequence never lands inside a frame being written; headless or before the driver
    exists, to the real stdout."""

    def write(text: str) -> None:
        driver = getattr(app, "_driver", None)  # Textual has no public raw-write API; the driver keeps order
        if driver is not None and not app.is_headless:
            driver.write(text)
            driver.flush()
            return
        if not app.is_headless and sys.__stdout__ is not None:
            sys.__stdout__.write(text)
            sys.__stdout__.flush()

    return write


class AlertsAppMixin:
    """Mixed into the app (``class LiqtuiApp(AlertsAppMixin, App[None])``): owns an optional controller.

    The app calls :meth:`alerts_attach` once mounted, :meth:`alerts_poll` on its UI timer,
    :meth:`alerts_engine_changed` after a ticker/venue switch and :meth:`alerts_close` on exit; ``a`` and ``l``
    (:data:`ALERT_BINDINGS`) open the screens.
    """

    alerts: AlertsController | None = None

    def alerts_attach(self, controller: AlertsController | None) -> None:
        """Own ``controller``: its toasts become notifications, bell/OSC go through the app's terminal."""
        self.alerts = controller
        if controller is None:
            return
        app: Any = self
        controller.notifier.write = terminal_writer(app)
        controller.notifier.toast = lambda a: app.notify(
            a.text, title=f"{a.symbol} · {a.name}", severity="warning", timeout=12
        )

    def alerts_poll(self) -> None:
        if self.alerts is not None:
            self.alerts.poll()

    def alerts_engine_changed(self, engine: Any, symbol: str) -> None:
        if self.alerts is not None:
            self.alerts.set_engine(engine, symbol)

    def alerts_close(self) -> None:
        if self.alerts is not None:
            self.alerts.close()

    def action_alert_log(self) -> None:
        app: Any = self
        if self.alerts is None:
            app.notify("alerts are off (no controller)", timeout=4)
            return
        if not isinstance(app.screen, AlertLogScreen):
            app.push_screen(AlertLogScreen(self.alerts))

    def action_spent_zones(self) -> None:
        app: Any = self
        if self.alerts is None:
            app.notify("alerts are off (no controller)", timeout=4)
            return
        if not isinstance(app.screen, SpentZonesScreen):
            app.push_screen(SpentZonesScreen(self.alerts))
