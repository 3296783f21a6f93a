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
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

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
    for r in range(n_rows):
        is_ask = ask[r] >= bid[r] if p_row is None else r < p_row or (r == p_row and ask[r] >= bid[r])
        v = ask[r] if is_ask else bid[r]
        st = colors.ask_style if is_ask else colors.bid_style
        t = Text(no_wrap=True, overflow="crop")
        t.append(_bar(v / top if top > 0 else 0.0, bar_w), st)
        t.append(
            _WALL if r in wall_rows else " ", Style(color=colors.ask if is_ask else colors.bid, bold=True)
        )
        t.truncate(width, pad=True)
        lines.append(t)
    return Text("\n").join(lines)


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


class DepthColumn(Static):
    """The depth column widget: the app renders :func:`render_depth_column` into it on a book change."""

    DEFAULT_CSS = """
    DepthColumn { width: 8; height: 1fr; }
    """

    def show(self, text: Text) -> None:
        self.update(text)
