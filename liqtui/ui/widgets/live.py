"""Narrow widgets redrawn every tick: the price axis with the live price, and the heat column (the current
profile as horizontal bars stacked by leverage tier). They are their own narrow widgets because Textual
re-sends a changed region from the widget's left edge: a change here costs a few cells, not a full row of
the heatmap.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from liqtui.ui.render import axis_labels, bar_segments, fmt_price, row_of
from liqtui.ui.themes import HeatPalette

__all__ = ["HeatColumn", "PriceAxis"]


class _RowCache(Widget, can_focus=False):
    """A Line-API widget whose rows are cached Strips; subclasses fill ``_rows`` and call ``_publish``."""

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self._rows: list[list[Segment]] = []
        self._strips: dict[int, Strip] = {}

    def set_palette(self, palette: HeatPalette) -> None:
        """New colour table: drop every cached row."""
        self._pal = palette
        self._rows = []
        self._strips.clear()
        self._redraw()
        self.refresh()

    def _redraw(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _publish(self, rows: list[list[Segment]]) -> None:
        """Replace the rows; refresh only those that changed."""
        width = self.size.width
        if len(rows) != len(self._rows):
            self._strips.clear()
            self._rows = rows
            self.refresh()
            return
        for y, (a, b) in enumerate(zip(rows, self._rows)):
            if a != b:
                self._strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))
        self._rows = rows

    def render_line(self, y: int) -> Strip:
        st = self._strips.get(y)
        if st is None:
            width = self.size.width
            segs = self._rows[y] if 0 <= y < len(self._rows) else [Segment(" " * width, self._pal.bg[0])]
            st = self._strips[y] = Strip(segs).adjust_cell_length(width, self._pal.bg[0])
        return st

    def on_resize(self) -> None:
        self._strips.clear()
        self._redraw()


class PriceAxis(_RowCache):
    """Price labels every few rows; the live price row shows the price in the anchor colour."""

    DEFAULT_CSS = """
    PriceAxis { width: 10; height: 1fr; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(palette, id=id)
        self._window: tuple[float, float] | None = None
        self._price: float | None = None

    def set_window(self, price_lo: float, price_hi: float) -> None:
        """The price range of the heatmap rows (top = ``price_hi``)."""
        if self._window != (price_lo, price_hi):
            self._window = (price_lo, price_hi)
            self._redraw()

    def set_price(self, price: float | None) -> None:
        """The live price; only the rows whose label changes are refreshed."""
        if price != self._price:
            self._price = price
            self._redraw()

    def _redraw(self) -> None:
        n, width = self.size.height, self.size.width
        if self._window is None or n <= 0 or width <= 0:
            return
        lo, hi = self._window
        labels = axis_labels(lo, hi, n, width - 2)
        dim = self._pal.axis_style
        rows = [[Segment("┤" if s.strip() else "│", dim), Segment(s + " ", dim)] for s in labels]
        price = self._price
        r = None if price is None else row_of(price, lo, hi, n)
        if r is not None and price is not None:
            label = fmt_price(price, (hi - lo) / n).replace(",", "" if width < 11 else ",")
            label = label[: width - 2].rjust(width - 2) + " "
            pal = self._pal
            rows[r] = [Segment("◀", pal.anchor_style), Segment(label, pal.over(pal.anchor, 0, True))]
        self._publish(rows)


class HeatColumn(_RowCache):
    """The current profile beside the axis: one bar per row, stacked by leverage tier (lowest first)."""

    DEFAULT_CSS = """
    HeatColumn { width: 12; height: 1fr; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(palette, id=id)
        self._by_tier: np.ndarray | None = None
        self._anchor_row: int | None = None

    def set_profile(self, by_tier_rows: np.ndarray, anchor_row: int | None) -> None:
        """USD per (tier, char row) of the current profile, and the row holding the live price."""
        self._by_tier = np.asarray(by_tier_rows, dtype=np.float64)
        self._anchor_row = anchor_row
        self._redraw()

    def _redraw(self) -> None:
        width = self.size.width
        if self._by_tier is None or width <= 0:
            return
        m = self._by_tier
        totals = m.sum(axis=0)
        scale = float(totals.max()) if totals.size else 0.0
        pal = self._pal
        styles = [pal.tier_styles[i % len(pal.tier_styles)] for i in range(m.shape[0])]
        rows = []
        cols = m.T.tolist()
        for y, parts in enumerate(cols):
            if y == self._anchor_row:
                rows.append([Segment("─" * width, pal.over(pal.anchor, 0, True))])
            else:
                rows.append(bar_segments(parts, scale, width, styles, pal.bg[0]))
        self._publish(rows)
