"""Pure drawing functions: exact segments, no app."""

from __future__ import annotations

import numpy as np
import pytest
from rich.segment import Segment
from rich.style import Style

from liqtui.ui.render import (
    CandleCols,
    HeatScale,
    bar_segments,
    bin_profile,
    candle_columns,
    candle_overlay,
    fmt_pct,
    fmt_price,
    fmt_usd,
    heatmap_rows,
    price_rows,
    row_of,
    tape_line,
    time_axis,
    usd_glyph,
    zone_line,
)
from liqtui.ui.themes import HeatPalette, load_theme


@pytest.fixture(scope="module")
def pal() -> HeatPalette:
    return HeatPalette(load_theme("dark"), "truecolor")


def test_heatmap_rows_merge_equal_neighbours_and_use_half_blocks(pal):
    upper = np.array([[0, 0, 3, 3, 5]], dtype=np.uint8)
    lower = np.array([[0, 0, 3, 1, 1]], dtype=np.uint8)
    (row,) = heatmap_rows(upper, lower, pal)
    assert row == [
        Segment("  ", pal.bg[0]),  # equal halves: a space on the background colour
        Segment(" ", pal.bg[3]),
        Segment("▀", pal.pair[3][1]),
        Segment("▀", pal.pair[5][1]),
    ]
    assert pal.pair[3][1] == Style(color=pal.color[3], bgcolor=pal.color[1])
    assert pal.pair[3][1] is pal.pair[3][1]  # pre-built, never a new Style per cell


def test_heatmap_rows_never_merge_across_rows_and_keep_width(pal):
    upper = np.full((3, 7), 2, dtype=np.uint8)
    lower = np.full((3, 7), 2, dtype=np.uint8)
    rows = heatmap_rows(upper, lower, pal)
    assert rows == [[Segment("       ", pal.bg[2])]] * 3


def test_heatmap_rows_overlay_cells_are_their_own_segments(pal):
    upper = np.zeros((2, 5), dtype=np.uint8)
    lower = np.zeros((2, 5), dtype=np.uint8)
    st = Style(color="red")
    rows = heatmap_rows(upper, lower, pal, {(1, 2): ("█", st)})
    assert rows[0] == [Segment("     ", pal.bg[0])]
    assert rows[1] == [Segment("  ", pal.bg[0]), Segment("█", st), Segment("  ", pal.bg[0])]


def test_heat_scale_threshold_gamma_and_levels():
    vals = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 100.0])
    lv = HeatScale(0.0, 1.0).levels(vals, 11)
    assert lv[0] == 0 and lv[-1] == 10 and (lv[1:] >= 1).all()  # empty stays empty, the max is the top
    hidden = HeatScale(50.0, 1.0).levels(vals, 11)
    assert hidden.tolist()[:3] == [0, 0, 0] and hidden[-1] == 10  # below the median of positives is hidden
    more = HeatScale(0.0, 0.5).levels(vals, 11)
    assert (more >= lv).all() and more[4] > lv[4]  # gamma < 1 is "more heat"
    assert HeatScale(50.0, 1.0).levels(np.zeros(4), 8).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="threshold_pct"):
        HeatScale(120.0, 1.0)


def test_formatting():
    got = [fmt_usd(x) for x in (950, 1234, 12.34e6, 123.4e6, 1.234e9)]
    assert got == ["$950", "$1.23K", "$12.3M", "$123M", "$1.23B"]
    assert fmt_usd(-2.5e6) == "-$2.50M"
    assert fmt_price(71234.56, 0.5) == "71,234.6"
    assert fmt_price(71234.56, 1000.0) == "71,235"
    assert fmt_pct(1.234) == "+1.23%" and fmt_pct(None) == "—"
    # a distance that rounds to zero reads +0, never -0 (a zone straddling the price)
    assert fmt_pct(-0.004) == "+0.00%" and fmt_pct(-0.04, 1) == "+0.0%" and fmt_pct(-0.006) == "-0.01%"
    from liqtui.alerts.fmt import fmt_pct as alert_pct
    from liqtui.ui.render import _fmt_dist_compact

    assert _fmt_dist_compact(-0.03) == "+0.0%" and _fmt_dist_compact(-0.06) == "-0.1%"
    assert alert_pct(-0.02) == "+0.0%" and alert_pct(-12.0, 0) == "-12%"
    assert [usd_glyph(x) for x in (5e3, 5e4, 5e5, 5e6, 5e7)] == ["·", "•", "●", "●●", "●●●"]


def test_price_rows_and_row_of():
    assert price_rows(90.0, 110.0, 4).tolist() == [110.0, 105.0, 100.0, 95.0, 90.0]
    assert row_of(109.0, 90.0, 110.0, 4) == 0
    assert row_of(90.0, 90.0, 110.0, 4) == 3
    assert row_of(111.0, 90.0, 110.0, 4) is None
    with pytest.raises(ValueError, match="price_hi"):
        price_rows(110.0, 90.0, 4)


def test_bin_profile_conserves_and_orders_top_high():
    edges = np.array([90.0, 95.0, 100.0, 105.0, 110.0])
    vals = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 0.0, 0.0]])
    out = bin_profile(edges, vals, 90.0, 110.0, 2)
    assert out.tolist() == [[7.0, 3.0], [0.0, 10.0]]
    fine = bin_profile(edges, vals[0], 90.0, 110.0, 8)  # rows narrower than buckets share them
    assert fine.sum() == pytest.approx(10.0) and (fine > 0).all()
    with pytest.raises(ValueError, match="edges"):
        bin_profile(edges[:-1], vals, 90.0, 110.0, 2)


def test_bar_segments_stacks_tiers_in_eighths():
    a, b, blank = Style(color="red"), Style(color="blue"), Style()
    assert bar_segments([1.0, 1.0], 4.0, 4, [a, b], blank) == [
        Segment("█", a),
        Segment("█", b),
        Segment("  ", blank),
    ]
    # 3/16 of 4 cells = 6 eighths: a partial block in the last tier's colour
    assert bar_segments([0.0, 0.75], 4.0, 4, [a, b], blank) == [Segment("▊", b), Segment("   ", blank)]
    assert bar_segments([], 1.0, 3, [], blank) == [Segment("   ", blank)]
    full = bar_segments([9.0], 1.0, 3, [a], blank)  # clipped at full width
    assert full == [Segment("███", a)]


def test_candle_columns_aggregate_ohlc():
    ts = np.array([0, 60_000, 120_000, 180_000])
    ohlc = np.array([[10, 12, 9, 11], [11, 15, 10, 14], [14, 14, 8, 9], [9, 10, 9, 10]], dtype=float)
    cc = candle_columns(ohlc, ts, 0, 240_000, 2)
    assert cc.cols.tolist() == [0, 1]
    assert cc.open.tolist() == [10, 14] and cc.close.tolist() == [14, 10]
    assert cc.high.tolist() == [15, 14] and cc.low.tolist() == [9, 8]
    assert candle_columns(ohlc, ts, 500_000, 600_000, 2).cols.size == 0


def test_candle_overlay_half_blocks(pal):
    # window 0..40 over 4 char rows = 8 half rows of 5 each; body 30→20 = halves 2..4, wick 35..15 = 1..5
    cc = CandleCols(np.array([0]), np.array([30.0]), np.array([35.0]), np.array([15.0]), np.array([20.0]))
    lv = np.zeros((4, 1), dtype=np.uint8)
    ov = candle_overlay(cc, 0.0, 40.0, lv, lv, pal)
    down = pal.over(pal.candle_down, 0)
    assert ov == {(0, 0): ("│", down), (1, 0): ("█", down), (2, 0): ("▀", down)}


def test_zone_and_tape_lines_have_exact_width():
    z = zone_line(71200, 71450, 12.3e6, 0.5, 1.234, True, 44, Style(), Style())
    assert z.plain == "71,200–71,450  $12.3M ██████        +1.23% ◆"
    assert len(z.plain) == 44
    zc = zone_line(71200, 71450, 12.3e6, 1.0, -1.234, False, 30, Style(), Style())
    assert zc.plain == "71.2k–71.5k $12.3M ██  -1.2%  " and len(zc.plain) == 30
    t = tape_line(1_700_000_000_000, "binance", True, 71234.5, 1.2e6, 44, Style())
    assert t.plain == "22:13:20 BIN LONG   71,234.5  $1.20M ●●     "


def test_time_axis_labels_oldest_left_now_right_never_overlapping():
    assert time_axis(12 * 3_600_000, 60) == "-12h          -9h            -6h           -3h           now"
    assert time_axis(180 * 86_400_000, 33) == "-180d    -120d     -60d       now"  # round ages
    assert time_axis(180 * 86_400_000, 33, ticks=4) == "-180d -135d   -90d    -45d    now"
    assert time_axis(86_400_000, 10) == "-24h   now"  # the middle labels do not fit: skipped
    assert time_axis(86_400_000, 3) == "now" and time_axis(86_400_000, 0) == ""


def test_status_line_shortens_labels_only_when_the_full_line_does_not_fit(pal):
    from liqtui.ui.widgets.status import StatusInfo, render_status

    venues = {"binance": ("live", 0), "bybit": ("reconnecting", 4)}
    info = StatusInfo(
        symbol="BTC",
        lookback="3d",
        venues=venues,
        fps=10,
        lag_ms=40,
        oi_usd=8.2e9,
        oi_change_pct=1.25,
        funding=0.0001,
        frozen=True,
        progress=(1, 4, "klines"),
    )
    full = render_status(info, pal).plain
    assert full == (
        " BTC  lookback 3d │ binance ● live  bybit ↻ reconnecting 4 │ 10 fps lag 40ms │"
        " OI $8.20B +1.2% │ fund +0.0100% │ thr 50% heat γ1.00 klines │  FROZEN  │"
        " backfill 25% klines"
    )
    short = render_status(info, pal, compact=True).plain
    assert short == (
        " BTC  3d│binance ●  bybit ↻4│10fps 40ms│OI $8.20B +1.2%│f +0.0100%│thr50 γ1.00│"
        " FROZEN │backfill 25% klines"
    )
    assert len(short) < len(full)
