"""The liquidation tape: realized liquidations as they print, newest on top."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from liqtui.core.events import Liquidation, PositionSide
from liqtui.ui.render import tape_line
from liqtui.ui.themes import HeatPalette

__all__ = ["LiquidationTape", "render_tape"]


def render_tape(liqs: Iterable[Liquidation], width: int, rows: int, pal: HeatPalette) -> Text:
    """The newest ``rows`` liquidations (iterable is oldest first), one per line, ``width`` cells wide."""
    items = list(liqs)[-rows:][::-1] if rows > 0 else []
    title = Text("Liquidations", style=Style(bold=True), no_wrap=True)
    if not items:
        return Text("\n").join([title, Text("  none yet", style=Style(dim=True))])
    long_st, short_st = Style(color=pal.long, bold=True), Style(color=pal.short, bold=True)
    lines = [title]
    for q in items:
        is_long = q.side == PositionSide.LONG
        lines.append(
            tape_line(
                q.ts,
                str(q.venue.value if hasattr(q.venue, "value") else q.venue),
                is_long,
                q.price,
                q.usd,
                width,
                long_st if is_long else short_st,
            )
        )
    return Text("\n").join(lines)


class LiquidationTape(Static):
    """Shows the tail of the engine's liquidation deque; redraws only when a new one printed."""

    DEFAULT_CSS = """
    LiquidationTape { height: 1fr; padding: 0 1; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self._liqs: list[Liquidation] = []
        self._key: tuple[object, ...] | None = None

    def set_palette(self, palette: HeatPalette) -> None:
        self._pal = palette
        self._key = None
        self._redraw()

    def set_liquidations(self, liqs: Iterable[Liquidation]) -> None:
        """The engine's realized liquidations, oldest first."""
        rows = max(1, self.size.height - 1)
        self._liqs = list(liqs)[-rows:]
        self._redraw()

    def _redraw(self) -> None:
        width = max(10, self.content_region.width or 40)
        rows = max(1, self.size.height - 1)
        last = self._liqs[-1] if self._liqs else None
        key = (len(self._liqs), id(last), last.ts if last else 0, width, rows)
        if key == self._key:
            return
        self._key = key
        self.update(render_tape(self._liqs, width, rows, self._pal))

    def on_resize(self) -> None:
        self._key = None
        self._redraw()
