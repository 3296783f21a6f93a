"""The ranked zones panel: "Above price — squeeze zones" / "Below price — flush zones".

A first line says the list's order (``by strength``: the biggest standing USD first, or ``by reach``: the
likeliest to be touched within the forecast horizon first; the ``zone_order`` key switches). Each side shows
its total heat and its top N zones (price range, USD, a bar sized by strength, distance %, reach %, ``◆`` for
leverage confluence). Spent zones drop out because the model's report no longer holds them.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from liqtui.core.zones import Zone, ZoneReport
from liqtui.ui.render import fmt_usd, tier_color_index, zone_header, zone_line
from liqtui.ui.themes import HeatPalette

__all__ = ["ZonesPanel", "render_zones", "tier_legend"]


def _header(title: str, total: float, width: int, style: Style) -> Text:
    t = Text(no_wrap=True, overflow="crop")
    tot = f"Σ {fmt_usd(total)}"
    t.append(title.ljust(max(0, width - len(tot) - 1))[: max(0, width - len(tot) - 1)] + " ", style)
    t.append(tot, style)
    t.truncate(width, pad=True)
    return t


def tier_legend(tiers: Sequence[str], pal: HeatPalette, width: int) -> Text:
    """``heat column: ■3x ■5x …``: the model's own tiers (lowest leverage first) in the colours the heat column
    draws them in (:func:`~liqtui.ui.render.tier_color_index`)."""
    t = Text("heat column " if width >= 40 else "", style=Style(dim=True), no_wrap=True, overflow="crop")
    n = len(tiers)
    for i, name in enumerate(tiers):
        t.append("■", Style(color=pal.tier_color(tier_color_index(i, n, len(pal.tiers)))))
        t.append(f"{name} ")
    t.truncate(width)
    return t


def render_zones(
    report: ZoneReport | None,
    width: int,
    top_n: int,
    pal: HeatPalette,
    tiers: Sequence[str] = (),
    order: str = "strength",
    walls: Sequence[bool] = (),
) -> Text:
    """The whole panel as Text, ``width`` cells wide. ``report`` is a core.zones.ZoneReport (or None), listed
    in ``order`` ("strength" | "reach", said on the first line); ``tiers`` (leverage tier names) adds the heat
    column's colour legend; ``walls`` (the book layer: per zone of the report, above then below) ends each zone
    row with ``W`` when the zone holds a book wall."""
    wide = width >= 40
    above_t = "Above price — squeeze zones" if wide else "▲ Above — squeeze"
    below_t = "Below price — flush zones" if wide else "▼ Below — flush"
    lines: list[Text] = [zone_header(order, width)]
    if report is None:
        lines += [
            _header(above_t, 0.0, width, Style(bold=True)),
            Text("  waiting for data…"),
            _header(below_t, 0.0, width, Style(bold=True)),
            Text("  waiting for data…"),
        ]
        return Text("\n").join(lines)
    above: Sequence[Zone] = list(report.above)[:top_n]
    below: Sequence[Zone] = list(report.below)[:top_n]
    biggest = max([z.usd for z in (*above, *below)] or [0.0])
    mark = Style(color=pal.confluence, bold=True)
    for title, total, zones, color in (
        (above_t, report.total_above, above, pal.short),
        (below_t, report.total_below, below, pal.long),
    ):
        lines.append(_header(title, total, width, Style(color=color, bold=True)))
        if not zones:
            lines.append(Text("  none above threshold", style=Style(dim=True)))
        for z in zones:
            strength = z.usd / biggest if biggest > 0 else 0.0
            lines.append(
                zone_line(
                    z.low,
                    z.high,
                    z.usd,
                    strength,
                    z.distance_pct,
                    bool(z.confluence),
                    width - bool(walls),
                    Style(color=color),
                    mark,
                    reach=z.reach,
                )
            )
            if walls:  # the book layer: W on a zone holding a wall (index in the report: above, then below)
                i = above.index(z) if zones is above else len(report.above) + below.index(z)
                lines[-1].append("W" if i < len(walls) and walls[i] else " ", Style(color=color, bold=True))
    if tiers:
        lines.append(tier_legend(tiers, pal, width))
    return Text("\n").join(lines)


class ZonesPanel(Static):
    """Top zones above and below the price; updates only when the rendered text changes."""

    DEFAULT_CSS = """
    ZonesPanel { height: auto; padding: 0 1; }
    """

    def __init__(self, palette: HeatPalette, *, top_n: int = 5, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self.top_n = top_n
        self._report: ZoneReport | None = None
        self.tiers: tuple[str, ...] = ()
        self.order = "strength"
        self.walls: tuple[bool, ...] = ()  # the book layer's wall marks (empty: no marker column)
        self._last: str | None = None

    def set_palette(self, palette: HeatPalette) -> None:
        self._pal = palette
        self._last = None
        self._redraw()

    def set_report(
        self, report: ZoneReport | None, tiers: Sequence[str] = (), order: str = "strength"
    ) -> None:
        """Show a ZoneReport (None = no data yet) listed in ``order``, and the legend of the leverage ``tiers``."""
        self._report = report
        self.tiers = tuple(tiers)
        self.order = order
        self._redraw()

    def set_walls(self, walls: Sequence[bool]) -> None:
        """The book layer's wall marks per zone of the report (above then below); empty: no marker column."""
        if tuple(walls) != self.walls:
            self.walls = tuple(walls)
            self._redraw()

    def _redraw(self) -> None:
        width = max(10, self.content_region.width or self.size.width or 40)
        text = render_zones(self._report, width, self.top_n, self._pal, self.tiers, self.order, self.walls)
        key = text.plain + str(width)
        if key != self._last:
            self._last = key
            self.update(text)

    def on_resize(self) -> None:
        self._last = None
        self._redraw()
