"""The book layer's renderables, without an app: depth column, overlay, status line, theme colours."""

from __future__ import annotations

import numpy as np
from rich.color import Color

from liqtui.core.depth import DepthProfile, Wall
from liqtui.ui.themes import HeatPalette, available_themes, load_theme
from liqtui.ui.widgets.depth import book_colors, book_overlay, book_status_text, render_depth_column


def _pal():
    spec = load_theme("dark")
    return spec, HeatPalette(spec), book_colors(spec)


def test_every_shipped_theme_has_distinct_book_colours() -> None:
    for name in available_themes():
        c = book_colors(load_theme(name))
        assert c.bid != c.ask, name
    spec = load_theme("dark")
    assert book_colors(spec).bid == Color.parse(spec.variables["book-bid"])


def test_depth_column_asks_above_bids_below_with_a_wall_mark() -> None:
    _, _, colors = _pal()
    edges = np.linspace(90.0, 110.0, 21)  # 1.0 wide buckets
    bid = np.where(edges[:-1] < 100, 10.0, 0.0)
    ask = np.where(edges[:-1] >= 100, 10.0, 0.0)
    bid[2] = 80.0  # a wall at 92.5
    text = render_depth_column(
        DepthProfile(edges, bid, ask),
        90.0,
        110.0,
        20,
        6,
        colors,
        price=100.0,
        walls=[Wall("bid", 92.5, 80.0)],
    )
    lines = text.plain.split("\n")
    assert len(lines) == 20 and all(len(line) == 6 for line in lines)
    wall_row = 20 - 1 - 2  # rows top = 110
    assert lines[wall_row] == "█████◆"
    assert lines[0].strip() and lines[0].rstrip()[-1] != "◆"
    styles = {s.style.color for s in text.render(_console()) if s.text.strip("\n ")}
    assert colors.ask in styles and colors.bid in styles
    # the rows above the price use the ask colour, below the bid colour
    spans = text.split("\n")
    assert spans[0].spans[0].style.color == colors.ask and spans[15].spans[0].style.color == colors.bid


def test_depth_column_without_a_live_book_says_so() -> None:
    _, _, colors = _pal()
    text = render_depth_column(None, 90.0, 110.0, 3, 10, colors, state="syncing")
    assert text.plain.split("\n") == ["syncing   ", "          ", "          "]


def test_overlay_marks_standing_walls_in_book_colours() -> None:
    _, pal, colors = _pal()
    bid = np.ones((10, 30))
    ask = np.ones((10, 30))
    bid[7, 5:25] = 50.0  # a wall standing 20 columns
    ask[2, 10] = 40.0
    ov = book_overlay(bid, ask, colors, pal)
    assert {k for k in ov if k[0] == 7} == {(7, c) for c in range(5, 25)}
    assert ov[(2, 10)][1].color == colors.ask and ov[(7, 5)][1].color == colors.bid
    assert len(ov) == 21
    assert book_overlay(np.zeros((3, 3)), np.zeros((3, 3)), colors, pal) == {}


def test_status_line() -> None:
    t = book_status_text({"binance": "live", "okx": "resyncing"}, {"book_resyncs": 2, "book_checksum_errors": 1},
                         (12.3e6, 9.8e6))  # fmt: skip
    assert (
        t.plain == "book binance live · okx resyncing │ bids $12.3M asks $9.80M │ 2 resyncs, 1 checksum error"
    )
    assert book_status_text({}, {}, None).plain == "book off"


def _console():
    from rich.console import Console

    return Console(width=20, color_system="truecolor")
