"""The history heatmap (time across, price up) on Textual's Line API, with a per-row strip cache.

The widget is dumb: the app hands it a frame (USD values per half-row × column, the heat scale, the price
window, optional candles and the live price) and it turns that into Strips. Only rows whose heat, overlay or
anchor changed are refreshed, because Textual re-sends a dirty region from the widget's left edge.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from liqtui.ui.render import CandleCols, HeatScale, Overlay, candle_overlay, heatmap_rows, row_of
from liqtui.ui.themes import HeatPalette

__all__ = ["HeatFrame", "HeatmapView"]


class HeatFrame:
    """One frame of the heatmap: levels per half row plus overlays, ready to draw."""

    __slots__ = ("anchor_row", "lower", "overlay", "price_hi", "price_lo", "upper")

    def __init__(
        self,
        values: np.ndarray,
        scale: HeatScale,
        pal: HeatPalette,
        price_lo: float,
        price_hi: float,
        candles: CandleCols | None,
        anchor: float | None,
    ) -> None:
        if values.ndim != 2 or values.shape[0] % 2:
            raise ValueError(f"heat values must be (2*rows, cols), got shape {values.shape}")
        lv = scale.levels(values, pal.n_levels)
        self.upper = lv[0::2]
        self.lower = lv[1::2]
        self.price_lo, self.price_hi = price_lo, price_hi
        n_rows = self.upper.shape[0]
        self.anchor_row = None if anchor is None else row_of(anchor, price_lo, price_hi, n_rows)
        self.overlay: Overlay = {}
        if candles is not None:
            self.overlay = candle_overlay(candles, price_lo, price_hi, self.upper, self.lower, pal)

    def row_keys(self) -> list[tuple[object, ...]]:
        """A hashable key per char row; equal keys draw equal rows (used to refresh only changed rows)."""
        ov_rows: dict[int, list[tuple[int, str, Style]]] = {}
        for (r, c), (ch, st) in self.overlay.items():
            ov_rows.setdefault(r, []).append((c, ch, st))
        keys: list[tuple[object, ...]] = []
        for r in range(self.upper.shape[0]):
            keys.append(
                (
                    self.upper[r].tobytes(),
                    self.lower[r].tobytes(),
                    tuple(sorted(ov_rows.get(r, ()), key=lambda o: o[0])),
                    r == self.anchor_row,
                )
            )
        return keys


class HeatmapView(Widget, can_focus=False):
    """Time × price heatmap with half blocks, a candle overlay and the live price anchor row."""

    DEFAULT_CSS = """
    HeatmapView { width: 1fr; height: 1fr; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self._frame: HeatFrame | None = None
        self._strips: list[Strip] | None = None
        self._keys: list[tuple[object, ...]] = []
        self.frames_drawn = 0

    # ----------------------------------------------------------------------------------------- inputs
    @property
    def palette(self) -> HeatPalette:
        return self._pal

    def set_palette(self, palette: HeatPalette) -> None:
        """New theme or colour system: rebuild the whole frame with the new colour table."""
        self._pal = palette
        self._strips = None
        self._keys = []
        self.refresh()

    def set_frame(self, frame: HeatFrame) -> None:
        """Show ``frame``; refresh only the rows that differ from what is on screen."""
        keys = frame.row_keys()
        self._frame = frame
        self._strips = None
        if len(keys) != len(self._keys):
            self.refresh()
        else:
            width = self.size.width
            for y, (a, b) in enumerate(zip(keys, self._keys)):
                if a != b:
                    self.refresh(Region(0, y, width, 1))
        self._keys = keys
        self.frames_drawn += 1

    def set_anchor(self, price: float | None) -> None:
        """Move the live price anchor row (cheap: refreshes at most two rows)."""
        f = self._frame
        if f is None:
            return
        n_rows = f.upper.shape[0]
        new = None if price is None else row_of(price, f.price_lo, f.price_hi, n_rows)
        if new == f.anchor_row:
            return
        old, f.anchor_row = f.anchor_row, new
        self._strips = None
        width = self.size.width
        for y in (old, new):
            if y is not None:
                self.refresh(Region(0, y, width, 1))
                if y < len(self._keys):
                    k = self._keys[y]
                    self._keys[y] = (k[0], k[1], k[2], y == new)

    @property
    def anchor_row(self) -> int | None:
        return None if self._frame is None else self._frame.anchor_row

    # ---------------------------------------------------------------------------------------- drawing
    def _build(self) -> list[Strip]:
        f = self._frame
        width = self.size.width
        if f is None:
            return []
        upper, lower = f.upper, f.lower
        if f.anchor_row is not None:
            # the anchor row shows the heat of the stronger half under a thin line in the anchor colour
            r = f.anchor_row
            m = np.maximum(upper[r], lower[r])
            segs = _anchor_segments(m, self._pal)
            rows = heatmap_rows(upper, lower, self._pal, f.overlay)
            on_row = any(k[0] == r for k in f.overlay)
            rows[r] = _merge_overlay_row(segs, f.overlay, r, m.size) if on_row else segs
        else:
            rows = heatmap_rows(upper, lower, self._pal, f.overlay)
        return [Strip(segs, f.upper.shape[1]).adjust_cell_length(width, self._pal.bg[0]) for segs in rows]

    def render_line(self, y: int) -> Strip:
        if self._strips is None:
            self._strips = self._build()
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self._pal.bg[0])

    def on_resize(self) -> None:
        self._strips = None
        self._keys = []


def _anchor_segments(levels: np.ndarray, pal: HeatPalette) -> list[Segment]:
    """The anchor row: ``─`` in the anchor colour over each run of equal heat."""
    out: list[Segment] = []
    vals = levels.tolist()
    start = 0
    for i in range(1, len(vals) + 1):
        if i == len(vals) or vals[i] != vals[start]:
            out.append(Segment("─" * (i - start), pal.over(pal.anchor, vals[start], True)))
            start = i
    return out


def _merge_overlay_row(segs: list[Segment], overlay: Overlay, r: int, n_cols: int) -> list[Segment]:
    """Put overlay cells of row ``r`` over an already drawn row (used for the anchor row only)."""
    cells: list[Segment] = []
    for s in segs:
        cells.extend(Segment(ch, s.style) for ch in s.text)
    for (rr, c), (ch, st) in overlay.items():
        if rr == r and c < n_cols:
            cells[c] = Segment(ch, st)
    return list(Segment.simplify(cells))
