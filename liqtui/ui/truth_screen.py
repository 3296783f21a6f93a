"""The truth scorecard on the demo (key ``v``): the model's map against the simulator's true positions.

Only the demo knows the truth: its simulator holds every position (``MarketSim.true_levels``). For the lookback
on screen, :func:`liqtui.sim.truth.demo_truth` compares the model's standing estimate with the true positions
opened within it, per side: the correlation per 0.5 % bucket within ±15 % of the price, the share of the five
biggest true clusters inside the top-5 zones (recall) and the earth mover's distance in % of price, each beside
the naive baseline (today's open interest opened at today's price over the model's tiers).

The second line is the realized notional: the zones of the first measure of a lookback are kept, and each
refresh scores the liquidations since then (the share of their notional inside those top-5 zones, beside
fixed-distance zones of the same widths, :func:`liqtui.sim.scorecard.naive_report`); after the forecast
horizon (``zone_horizon_h``) of market time the window is complete and a new one starts.

:class:`TruthTracker` and :func:`truth_lines` are plain Python (tested without a screen); :class:`TruthScreen`
shows the lines and refreshes on demand (``r``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from liqtui.ui.render import fmt_usd

__all__ = ["RealizedLine", "TruthScreen", "TruthTracker", "TruthView", "truth_lines"]

TOP_N = 5
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class RealizedLine:
    """Liquidations of ``[start_ms, end_ms)`` scored against the top-5 zones as they stood at ``start_ms``."""

    start_ms: int
    end_ms: int
    horizon_h: float
    realized_usd: float
    share: float | None  # inside the model's top-5 zones (None: nothing liquidated)
    naive_share: float | None  # inside the fixed-distance zones
    complete: bool  # the window reached the horizon


@dataclass(frozen=True)
class TruthView:
    """One measure: the scorecard of ``lookback`` (``card``: per side, None before the model has a grid), the
    realized line of the running window and of the last complete one."""

    lookback: str
    ts: int
    settings: dict[str, Any]
    card: dict[str, dict[str, Any]] | None
    current: RealizedLine | None
    last_complete: RealizedLine | None


@dataclass
class _Window:
    market_id: int
    model_id: int
    start_ms: int
    n0: int  # len(market.realized) at the start
    report: Any  # the model's ZoneReport at the start


class TruthTracker:
    """Measures a demo's map on demand and keeps, per lookback, the zones whose realized line is being scored."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._complete: dict[str, RealizedLine] = {}

    def measure(self, model: Any, market: Any, lookback: str) -> TruthView:
        """Score ``model``'s ``lookback`` map against ``market`` (a :class:`liqtui.sim.market.MarketSim`) now."""
        from liqtui.sim.truth import demo_truth

        doc = demo_truth(model, market, (lookback,))
        card = doc.pop("lookbacks", {}).get(lookback)
        now = int(market.now_ms)
        horizon_h = float(model.config.zone_horizon_h)
        win = self._windows.get(lookback)
        if win is not None and (win.market_id != id(market) or win.model_id != id(model)):
            win = None  # another market or model (a ticker switch): its zones say nothing about this one
            self._complete.pop(lookback, None)
        current = None
        if win is not None:
            current = self._score(win, market, now, horizon_h)
            if current.complete:
                self._complete[lookback] = current
                current, win = None, None
        if win is None and model.grid is not None:
            win = _Window(
                id(market), id(model), now, len(market.realized), model.zones(lookback, top_n=TOP_N)
            )
        if win is not None:
            self._windows[lookback] = win
        return TruthView(lookback, now, doc, card, current, self._complete.get(lookback))

    @staticmethod
    def _score(win: _Window, market: Any, now: int, horizon_h: float) -> RealizedLine:
        from liqtui.sim.scorecard import naive_report, score

        end = min(now, win.start_ms + int(horizon_h * _HOUR_MS))
        liqs = market.realized[win.n0 :]
        mine = score(win.report, liqs, start_ms=win.start_ms, end_ms=end, top_n=TOP_N)
        naive = score(naive_report(win.report), liqs, start_ms=win.start_ms, end_ms=end, top_n=TOP_N)
        return RealizedLine(
            start_ms=win.start_ms,
            end_ms=end,
            horizon_h=horizon_h,
            realized_usd=mine.realized_usd,
            share=mine.share,
            naive_share=naive.share,
            complete=now - win.start_ms >= horizon_h * _HOUR_MS,
        )


def _hm(ts_ms: int) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(ts_ms / 1000))


def _num(x: float | None, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def _realized_text(r: RealizedLine) -> list[str]:
    span_h = (r.end_ms - r.start_ms) / _HOUR_MS
    head = (
        f"{_hm(r.start_ms)} – {_hm(r.end_ms)} UTC, the whole {r.horizon_h:g} h window"
        if r.complete
        else f"since {_hm(r.start_ms)} UTC ({span_h:.1f} h of the {r.horizon_h:g} h window)"
    )
    if r.share is None:
        return [f"{head}: nothing liquidated{'' if r.complete else ' yet'}"]
    naive = _num(r.naive_share, ".0%")
    return [
        f"{head}: {fmt_usd(r.realized_usd)} liquidated,",
        f"  {r.share:.0%} of it inside the top-5 zones of then (fixed-distance zones: {naive})",
    ]


def truth_lines(view: TruthView, symbol: str = "") -> list[str]:
    """The scorecard as plain lines, at most ~76 cells wide (fits 80 columns)."""
    s = view.settings
    lines = [
        f"{symbol + ' ' if symbol else ''}demo, lookback {view.lookback}, market time {_hm(view.ts)} UTC",
        f"the map vs the simulator's true positions opened within {view.lookback}",
        (
            f"(±{s.get('window_pct', 15):g}% of price, {s.get('bucket_pct', 0.5):g}% buckets; "
            "naive: today's OI opened at today's price)"
        ),
        "",
    ]
    if view.card is None:
        lines.append("no map yet: the model has no history to score (wait for the backfill)")
    else:
        lines.append(f"{'':14}{'correlation':>13}{'top-5 recall':>17}{'EMD % of price':>18}")
        lines.append(f"{'':14}{'map':>7}{'naive':>7}{'map':>9}{'naive':>7}{'map':>10}{'naive':>7}")
        for side, title in (("long", "long (below)"), ("short", "short (above)")):
            c = view.card.get(side, {})
            lines.append(
                f"{title:14}{_num(c.get('corr'), '.2f'):>7}{_num(c.get('naive_corr'), '.2f'):>7}"
                f"{_num(c.get('recall'), '.0%'):>9}{_num(c.get('naive_recall'), '.0%'):>7}"
                f"{_num(c.get('emd_pct'), '.2f'):>10}{_num(c.get('naive_emd_pct'), '.2f'):>7}"
            )
    lines += ["", "realized notional (the second line):"]
    if view.current is None and view.last_complete is None:
        lines.append("  the top-5 zones are kept from now: refresh later to score the liquidations")
    for r in (view.last_complete, view.current):
        if r is not None:
            lines += ["  " + ln for ln in _realized_text(r)]
    return lines


_CSS = """
TruthScreen { align: center middle; }
TruthScreen .truth-box {
    width: 80; max-width: 100%; height: auto; max-height: 100%; padding: 0 1; border: round $primary;
    background: $surface;
}
TruthScreen .truth-title { text-style: bold; color: $accent; }
TruthScreen .truth-hint { color: $text-muted; }
"""


class TruthScreen(ModalScreen[None]):
    """The truth scorecard of the lookback on screen; ``r`` measures again, Escape closes."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh_truth", "Refresh", show=False),
        Binding("escape,q", "dismiss", "Close", show=False),
    ]

    def __init__(self, measure: Callable[[], TruthView], symbol: str = "") -> None:
        super().__init__()
        self._measure = measure
        self._symbol = symbol
        self.view: TruthView | None = None
        self.measures = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="truth-box"):
            yield Label("Truth scorecard", classes="truth-title")
            yield Static("", id="truth-body")
            yield Label("r measures again, Esc closes. Only the demo knows the truth.", classes="truth-hint")

    def on_mount(self) -> None:
        self.action_refresh_truth()

    def action_refresh_truth(self) -> None:
        self.view = self._measure()
        self.measures += 1
        self.query_one("#truth-body", Static).update(Text("\n".join(truth_lines(self.view, self._symbol))))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]  # Escape closes
        self.dismiss(None)
