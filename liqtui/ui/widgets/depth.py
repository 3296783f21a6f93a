"""The book layer: a depth column beside the heat column, a resting-liquidity overlay for the heatmap, and the
book status line. Plain renderables (``rich.text.Text`` and overlay dicts) built from
:class:`~liqtui.core.depth.DepthProfile` / :meth:`~liqtui.core.depth.DepthBook.history`, testable without an app.

Colours come from the theme variables ``book-bid`` and ``book-ask`` (``themes/*.toml``); a theme without them
falls back to ``candle-up``/``candle-down``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from liqtui.core.depth import DEFAULT_WALL_X, DepthProfile, Wall
from liqtui.ui.render import Overlay, bin_profile, fmt_usd, row_of
from liqtui.ui.themes import HeatPalette, ThemeSpec

__all__ = [
    "BookColors",
    "DepthColumn",
    "book_colors",
    "book_overlay",
    "book_status_text",
    "render_depth_column",
]

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_WALL = "◆"
_OVERLAY_CH = "━"


@dataclass(frozen=True)
class BookColors:
    bid: Color
    ask: Color

    @property
    def bid_style(self) -> Style:
        return Style(color=self.bid)

    @property
    def ask_style(self) -> Style:
        return Style(color=self.ask)


def book_colors(spec: ThemeSpec) -> BookColors:
    """The book colours of a theme (``book-bid``/``book-ask``, else the candle colours)."""
    v = spec.variables
    return BookColors(
        Color.parse(v.get("book-bid", v.get("candle-up", "green"))),
        Color.parse(v.get("book-ask", v.get("candle-down", "red"))),
    )


def _bar(frac: float, width: int) -> str:
    """A left-aligned bar of ``frac`` (0..1) of ``width`` cells, in eighths."""
    eighths = round(max(0.0, min(1.0, frac)) * width * 8)
    full, part = divmod(eighths, 8)
    s = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return s.ljust(width)


def render_depth_column(
    depth: DepthProfile | None,
    price_lo: float,
    price_hi: float,
    n_rows: int,
    width: int,
    colors: BookColors,
    *,
    price: float | None = None,
    walls: Sequence[Wall] = (),
    state: str = "",
) -> Text:
    """``n_rows`` lines (top = ``price_hi``), ``width`` cells each: resting USD per row as a bar, asks above the
    price in the ask colour, bids below in the bid colour (each row shows its larger side), ``◆`` on a row
    holding a wall. ``depth`` None (no live book): the rows are blank and the first says ``state``."""
    lines: list[Text] = []
    if depth is None or n_rows < 1 or width < 1:
        for r in range(max(0, n_rows)):
            t = Text((state if r == 0 else "")[:width].ljust(width), style=Style(dim=True), no_wrap=True)
            lines.append(t)
        return Text("\n").join(lines)
    rows = bin_profile(depth.edges, np.vstack([depth.bid_usd, depth.ask_usd]), price_lo, price_hi, n_rows)
    bid, ask = np.maximum(rows[0], 0.0), np.maximum(rows[1], 0.0)
    top = float(max(bid.max(initial=0.0), ask.max(initial=0.0)))
    wall_rows = {wr for w in walls if (wr := row_of(w.price, price_lo, price_hi, n_rows)) is not None}
    p_row = row_of(price, price_lo, price_hi, n_rows) if price is not None else None
    bar_w = max(1, width - 1)
    pad = " " * max(0, width - bar_w - 1)
    styles = {True: colors.ask_style, False: colors.bid_style}
    marks = {True: Style(color=colors.ask, bold=True), False: Style(color=colors.bid, bold=True)}
    scale = 1.0 / top if top > 0 else 0.0
    # one Text, appended run by run (a Text per row, joined, costs ~3x as much at 10 redraws/s)
    out = Text(no_wrap=True, overflow="crop", end="")
    for r, (b, a) in enumerate(zip(bid.tolist(), ask.tolist())):
        is_ask = a >= b if p_row is None else r < p_row or (r == p_row and a >= b)
        if r:
            out.append("\n")
        out.append(_bar((a if is_ask else b) * scale, bar_w)[:bar_w], styles[is_ask])
        if width > bar_w:
            out.append(_WALL if r in wall_rows else " ", marks[is_ask])
        if pad:
            out.append(pad)
    return out


def book_overlay(
    bid: np.ndarray,
    ask: np.ndarray,
    colors: BookColors,
    pal: HeatPalette,
    *,
    heat_upper: np.ndarray | None = None,
    x: float = DEFAULT_WALL_X,
) -> Overlay:
    """Resting liquidity over the heatmap: ``━`` in the book colour on every (char row, column) whose resting USD
    (``bid``/``ask`` from :meth:`DepthBook.history`, char rows × columns) is at least ``x``× the median of the
    non-empty cells — so walls that stand for hours draw as lines. ``heat_upper``: the heat levels under the
    cells (their background)."""
    out: Overlay = {}
    both = np.concatenate([bid[bid > 0], ask[ask > 0]])
    if both.size == 0:
        return out
    thr = x * float(np.median(both))
    for arr, fg in ((bid, colors.bid), (ask, colors.ask)):
        rr, cc = np.nonzero(arr >= thr)
        for r, c in zip(rr.tolist(), cc.tolist()):
            level = int(heat_upper[r, c]) if heat_upper is not None else 0
            if (r, c) in out and bid[r, c] >= ask[r, c]:
                continue  # the cell holds both: the larger side is drawn
            out[(r, c)] = (_OVERLAY_CH, pal.over(fg, level, bold=True))
    return out


def book_status_text(
    states: Mapping[str, str], stats: Mapping[str, int], totals: tuple[float, float] | None
) -> Text:
    """``book binance live · okx resyncing │ bids $12.3M asks $9.8M │ 2 resyncs, 1 checksum error``."""
    t = Text("book ", style=Style(dim=True), no_wrap=True, overflow="ellipsis")
    if not states:
        t.append("off")
        return t
    for i, (venue, st) in enumerate(states.items()):
        if i:
            t.append(" · ", Style(dim=True))
        t.append(f"{venue} ")
        t.append(st, Style(bold=st != "live", color=None if st == "live" else "yellow"))
    if totals is not None:
        t.append(f" │ bids {fmt_usd(totals[0])} asks {fmt_usd(totals[1])}")
    res, cks = stats.get("book_resyncs", 0), stats.get("book_checksum_errors", 0)
    if res or cks:
        t.append(
            f" │ {res} resync{'s' * (res != 1)}, {cks} checksum error{'s' * (cks != 1)}", Style(dim=True)
        )
    return t


class DepthColumn(Widget, can_focus=False):
    """The depth column widget: the app renders :func:`render_depth_column` into it on a book change. Line API:
    the lines are kept as Strips and only the rows that changed are repainted (the books change several times a
    second; a Static would re-wrap and repaint the whole column each time)."""

    DEFAULT_CSS = """
    DepthColumn { width: 8; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._strips: list[Strip] = []
        self._keys: list[tuple[object, ...]] = []
        self.shown: Text | None = None

    def show(self, text: Text) -> None:
        """Show ``text`` (one line per row); repaint only the rows that differ from what is on screen."""
        self.shown = text
        console = self.app.console
        width = self.size.width
        base = self.rich_style  # the widget's own colours under the bars, as a Static draws them
        strips: list[Strip] = []
        keys: list[tuple[object, ...]] = []
        for line in text.split("\n", allow_blank=True):
            keys.append((line.plain, tuple((sp.start, sp.end, str(sp.style)) for sp in line.spans)))
            segs = Segment.apply_style(line.render(console, end=""), base)
            strips.append(Strip(segs))
        if len(keys) != len(self._keys):
            self.refresh()
        else:
            for y, (a, b) in enumerate(zip(keys, self._keys)):
                if a != b:
                    self.refresh(Region(0, y, width, 1))
        self._strips, self._keys = strips, keys

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if 0 <= y < len(self._strips):
            return self._strips[y].adjust_cell_length(width, self.rich_style)
        return Strip.blank(width, self.rich_style)

    def render(self) -> Text:  # the plain content, for tests and screenshots of the text
        return self.shown if self.shown is not None else Text()

    def on_resize(self) -> None:
        self._keys = []
