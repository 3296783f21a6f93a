"""The status line: symbol and lookback, per-venue connection state, frames/s, lag, open interest and its
change, funding, threshold, heat, decode errors, FROZEN and backfill progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from liqtui.ui.render import fmt_pct, fmt_usd
from liqtui.ui.themes import HeatPalette

__all__ = ["StatusInfo", "StatusLine", "render_status", "venue_label"]


@dataclass
class StatusInfo:
    """Everything the status line shows; the app fills it each tick."""

    symbol: str = "BTC"
    lookback: str = "1d"
    venues: dict[str, tuple[str, int]] = field(default_factory=dict)  # venue → (state, attempt)
    fps: float = 0.0
    lag_ms: float | None = None
    oi_usd: float = 0.0
    oi_change_pct: float | None = None
    funding: float | None = None  # rate per funding interval (fraction)
    threshold_pct: float = 50.0
    gamma: float = 1.0
    klines: bool = True
    decode_errors: int = 0
    frozen: bool = False
    progress: tuple[float, float, str] | None = None  # (done, total, text) while backfilling
    message: str = ""
    book: Text | None = None  # the order-book layer's state (None: the layer is off)
    observed: str = ""  # the observed layer's coverage (empty: layer off)


def venue_label(state: str, attempt: int) -> tuple[str, str]:
    """(glyph + word, severity) for a FeedState value; severity is ok | warn | bad | info."""
    if state == "live":
        return "● live", "ok"
    if state == "stale":
        return "◐ stale", "warn"
    if state == "reconnecting":
        return f"↻ reconnecting {attempt}", "warn"
    if state == "failed":
        return "✖ failed", "bad"
    if state == "stopped":
        return "■ stopped", "info"
    return f"… {state}", "info"


def _sev_styles(pal: HeatPalette) -> dict[str, Style]:
    th = pal.spec.textual
    return {
        "ok": Style(color=Color.parse(th.success or "green")),
        "warn": Style(color=Color.parse(th.warning or "yellow")),
        "bad": Style(color=Color.parse(th.error or "red"), bold=True),
        "info": Style(dim=True),
    }


def render_status(s: StatusInfo, pal: HeatPalette, compact: bool = False) -> Text:
    """The status line as Text (the widget wraps it to its width); ``compact`` uses short labels."""
    sev = _sev_styles(pal)
    sep = ("│" if compact else " │ ", Style(dim=True))
    t = Text(no_wrap=False, overflow="fold")
    t.append(f" {s.symbol} ", Style(bold=True, reverse=True))
    t.append(f" {s.lookback}" if compact else f" lookback {s.lookback}", Style(bold=True))
    t.append(*sep)
    if not s.venues:
        t.append("no feed", sev["info"])
    for i, (venue, (state, attempt)) in enumerate(sorted(s.venues.items())):
        label, level = venue_label(state, attempt)
        if compact:  # glyph only (plus the attempt count): keeps 80 columns to one line
            label = label[0] + (str(attempt) if state == "reconnecting" else "")
        t.append(("  " if i else "") + f"{venue} ")
        t.append(label, sev[level])
    t.append(*sep)
    lag = "—" if s.lag_ms is None else f"{s.lag_ms:.0f}ms"
    t.append(f"{s.fps:.0f}fps {lag}" if compact else f"{s.fps:.0f} fps lag {lag}")
    t.append(*sep)
    t.append(f"OI {fmt_usd(s.oi_usd) if s.oi_usd else '—'} {fmt_pct(s.oi_change_pct, 1)}")
    t.append(*sep)
    t.append(f"{'f' if compact else 'fund'} {fmt_pct(None if s.funding is None else s.funding * 100, 4)}")
    t.append(*sep)
    if compact:
        t.append(f"thr{s.threshold_pct:.0f} γ{s.gamma:.2f}")
    else:
        t.append(f"thr {s.threshold_pct:.0f}% heat γ{s.gamma:.2f}{' klines' if s.klines else ''}")
    if s.book is not None:
        t.append(*sep)
        t.append_text(s.book)
    if s.decode_errors:
        t.append(*sep)
        t.append(f"decode errors {s.decode_errors}", sev["warn"])
    if s.frozen:
        t.append(*sep)
        warn = Color.parse(pal.spec.textual.warning or "yellow")
        t.append(" FROZEN ", Style(bold=True, reverse=True, color=warn))
    if s.progress is not None:
        done, total, text = s.progress
        pct = 100.0 * done / total if total > 0 else 0.0
        t.append(*sep)
        t.append(f"backfill {pct:.0f}% {text}".rstrip(), sev["warn"])
    if s.observed:
        t.append(*sep)
        t.append(s.observed, sev["info"])
    if s.message:
        t.append(*sep)
        t.append(s.message, sev["bad"])
    return t


class StatusLine(Static):
    """One (or, when narrow, two) lines of status; redraws only when the text changes."""

    DEFAULT_CSS = """
    StatusLine { height: auto; max-height: 2; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self.info = StatusInfo()
        self._width = 0
        self._lines = 0  # wrapped lines of the text shown (at ``_width``)
        self._last: str | None = None

    def set_palette(self, palette: HeatPalette) -> None:
        self._pal = palette
        self._last = None
        self.show(self.info)

    def show(self, info: StatusInfo, width: int | None = None) -> None:
        """Display ``info`` (no repaint when nothing visible changed); short labels when the full line
        would not fit in ``width`` cells."""
        self.info = info
        if width is not None:
            self._width = width
        text = render_status(info, self._pal, False)
        if self._width and text.cell_len > self._width:
            text = render_status(info, self._pal, True)
        if text.plain != self._last:
            self._last = text.plain
            # a layout pass only when the wrapped height may change (figures such as the book's totals change
            # several times a second; a layout of the whole screen each time costs more than the line itself)
            lines = -(-text.cell_len // self._width) if self._width else 0
            self.update(text, layout=lines != self._lines or not self._width)
            self._lines = lines
