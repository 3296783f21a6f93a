"""Pure drawing functions: numbers in, rich Segments / Text out. No app, no widget, no engine.

Everything here is testable by asserting the exact segments (see tests/ui/test_render.py). The widgets
wrap these results in Strips and cache them.

The heatmap packs two price rows into one character cell with the upper half block ``▀`` (foreground =
upper row's colour, background = lower row's colour); equal halves become a space on the background colour;
equal neighbouring cells are merged into one Segment.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from liqtui.alerts.fmt import fmt_usd as _compact_usd
from liqtui.ui.binning import CandleCols, HeatScale, bin_profile, candle_columns, price_rows, row_of
from liqtui.ui.themes import HeatPalette

__all__ = [
    "CandleCols",
    "HeatScale",
    "Overlay",
    "axis_labels",
    "bar_segments",
    "bin_profile",
    "candle_columns",
    "candle_overlay",
    "fmt_pct",
    "fmt_price",
    "fmt_price_compact",
    "fmt_reach",
    "fmt_usd",
    "heatmap_rows",
    "join_text",
    "naive_heatmap_rows",
    "price_rows",
    "row_of",
    "tape_line",
    "tier_color_index",
    "time_axis",
    "usd_glyph",
    "zone_header",
    "zone_line",
]

Overlay = dict[tuple[int, int], tuple[str, Style]]
"""(char row, column) → (character, Style) drawn over the heat cell."""


# --------------------------------------------------------------------------------------------- formatting
def fmt_usd(usd: float) -> str:
    """Compact dollars: ``$950``, ``$12.3K``, ``$12.3M``, ``$1.23B`` (``$—`` when unknown)."""
    return _compact_usd(usd, missing="$—")


def _decimals(step: float) -> int:
    return max(0, min(8, -math.floor(math.log10(step)))) if step > 0 else 2


def fmt_price(price: float, step: float | None = None) -> str:
    """A price with thousands separators and as many decimals as ``step`` (a price difference) needs."""
    if not math.isfinite(price):
        return "—"
    if step is None:
        step = abs(price) * 1e-4 if price else 1.0
    d = _decimals(step)
    return f"{price:,.{d}f}"


def fmt_pct(x: float | None, digits: int = 2) -> str:
    """Signed percent, ``+1.23%``; ``—`` when unknown."""
    if x is None or not math.isfinite(x):
        return "—"
    return f"{round(x, digits) + 0.0:+.{digits}f}%"  # + 0.0: a distance that rounds to zero is +0, never -0


def usd_glyph(usd: float) -> str:
    """A glyph sized by USD for the liquidation tape (one more dot per decade above $10K)."""
    if usd < 10_000:
        return "·"
    if usd < 100_000:
        return "•"
    if usd < 1_000_000:
        return "●"
    if usd < 10_000_000:
        return "●●"
    return "●●●"


def candle_overlay(
    cc: CandleCols, price_lo: float, price_hi: float, upper: np.ndarray, lower: np.ndarray, pal: HeatPalette
) -> Overlay:
    """Half-block candles over the heat: body ``█``/``▀``/``▄`` in the up/down colour, wick ``│``.

    ``upper``/``lower`` are the heat levels (char rows × columns) under the candles (for the background).
    """
    n_char, n_cols = upper.shape
    n_half = 2 * n_char
    scale = n_half / (price_hi - price_lo)
    out: Overlay = {}
    keep = (cc.cols < n_cols) & (cc.high >= price_lo) & (cc.low <= price_hi)
    cols = cc.cols[keep]
    if cols.size == 0:
        return out
    up_cols, lo_cols = upper[:, cols].T.tolist(), lower[:, cols].T.tolist()
    top = n_half - 1

    def half(p: float) -> int:
        h = int((price_hi - p) * scale)
        return 0 if h < 0 else min(h, top)

    over = pal.over
    for k, (col, o, h, lo, c) in enumerate(
        zip(
            cols.tolist(),
            cc.open[keep].tolist(),
            cc.high[keep].tolist(),
            cc.low[keep].tolist(),
            cc.close[keep].tolist(),
        )
    ):
        fg = pal.candle_up if c >= o else pal.candle_down
        b0, b1 = sorted((half(o), half(c)))
        ucol, lcol = up_cols[k], lo_cols[k]
        for r in range(half(h) // 2, half(lo) // 2 + 1):
            top_in, bot_in = b0 <= 2 * r <= b1, b0 <= 2 * r + 1 <= b1
            if top_in and bot_in:
                out[(r, col)] = ("█", over(fg, lcol[r]))
            elif top_in:
                out[(r, col)] = ("▀", over(fg, lcol[r]))
            elif bot_in:
                out[(r, col)] = ("▄", over(fg, ucol[r]))
            else:
                u, l_ = ucol[r], lcol[r]
                out[(r, col)] = ("│", over(fg, max(l_, u)))
    return out


# ---------------------------------------------------------------------------------------------- heatmap
def heatmap_rows(
    upper: np.ndarray, lower: np.ndarray, pal: HeatPalette, overlay: Overlay | None = None
) -> list[list[Segment]]:
    """Segments of every character row of a half-block heatmap.

    ``upper``/``lower``: heat levels (char rows × columns) of the upper and lower price row of each cell.
    Equal neighbouring cells share one Segment; ``overlay`` cells are drawn on top, each its own Segment.
    The whole frame is diffed in one numpy pass; Python only loops over the runs.
    """
    n_rows, n_cols = upper.shape
    if n_rows == 0 or n_cols == 0:
        return [[] for _ in range(n_rows)]
    n_lv = pal.n_levels
    code = upper.astype(np.int32) * n_lv + lower.astype(np.int32)
    brk = np.empty((n_rows, n_cols), dtype=bool)
    brk[:, 0] = True  # column 0 always starts a run, so a run never crosses a row boundary
    np.not_equal(code[:, 1:], code[:, :-1], out=brk[:, 1:])
    if overlay:
        cells = (x for key in overlay for x in key)
        rc = np.fromiter(cells, dtype=np.int64, count=2 * len(overlay)).reshape(-1, 2)
        brk[rc[:, 0], rc[:, 1]] = True
        nxt = rc[rc[:, 1] + 1 < n_cols]
        brk[nxt[:, 0], nxt[:, 1] + 1] = True
    flat = code.ravel()
    starts = np.flatnonzero(brk)
    run_code = flat[starts]
    same = (run_code // n_lv == run_code % n_lv).tolist()
    lengths = np.diff(np.r_[starts, n_rows * n_cols]).tolist()
    up, bl = _run_strings(n_cols)
    pf = pal.pair_flat
    new, seg_t = tuple.__new__, Segment  # skips the NamedTuple's Python-level __new__: ~2x faster per run
    segs = [
        new(seg_t, (bl[n] if e else up[n], pf[k], None)) for n, k, e in zip(lengths, run_code.tolist(), same)
    ]
    if overlay:
        idx = np.searchsorted(starts, rc[:, 0] * n_cols + rc[:, 1]).tolist()
        for i, hit in zip(idx, overlay.values()):
            segs[i] = Segment(hit[0], hit[1])
    bounds = np.searchsorted(starts, np.arange(n_rows + 1) * n_cols).tolist()
    return [segs[a:b] for a, b in itertools.pairwise(bounds)]


_RUN_STRINGS: dict[int, tuple[list[str], list[str]]] = {}


def _run_strings(width: int) -> tuple[list[str], list[str]]:
    """``▀ * n`` and ``' ' * n`` for every n ≤ width, built once per width."""
    hit = _RUN_STRINGS.get(width)
    if hit is None:
        hit = _RUN_STRINGS[width] = (
            [HeatPalette.UPPER * n for n in range(width + 1)],
            [" " * n for n in range(width + 1)],
        )
    return hit


def naive_heatmap_rows(upper: np.ndarray, lower: np.ndarray) -> list[list[Segment]]:
    """Baseline for the benchmark: one Segment per cell with a Style built per cell (what not to do)."""
    out: list[list[Segment]] = []
    for ur, lr in zip(upper.tolist(), lower.tolist()):
        row = []
        for u, lo in zip(ur, lr):
            style = Style(color=Color.from_rgb(u, u, u), bgcolor=Color.from_rgb(lo, lo, lo))
            row.append(Segment("▀", style))
        out.append(row)
    return out


# --------------------------------------------------------------------------------------- bars and axis
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar_segments(
    parts: Sequence[float], scale: float, width: int, styles: Sequence[Style], blank: Style
) -> list[Segment]:
    """A horizontal bar ``width`` cells wide, stacked from ``parts`` (one per style), in eighths of a cell.

    ``scale`` is the value of a full-width bar. Always returns exactly ``width`` cells.
    """
    if width <= 0:
        return []
    total = float(sum(p for p in parts if p > 0))
    if scale <= 0 or total <= 0:
        return [Segment(" " * width, blank)]
    eighths = min(width * 8, round(total / scale * width * 8))
    segs: list[Segment] = []
    acc, prev_cell, last = 0.0, 0, 0
    for i, (p, st) in enumerate(zip(parts, styles)):
        if p <= 0:
            continue
        acc += p
        last = i
        cell = round(acc / total * eighths) // 8
        if cell > prev_cell:
            segs.append(Segment("█" * (cell - prev_cell), st))
            prev_cell = cell
    cells = eighths // 8
    if eighths % 8:
        segs.append(Segment(_EIGHTHS[eighths % 8], styles[last]))
        cells += 1
    if cells < width:
        segs.append(Segment(" " * (width - cells), blank))
    return segs


def axis_labels(price_lo: float, price_hi: float, n_rows: int, width: int, every: int = 4) -> list[str]:
    """Right-aligned price labels at the centre of every ``every``-th row (others blank), ``width`` wide."""
    step = (price_hi - price_lo) / max(1, n_rows)
    out = []
    for r in range(n_rows):
        if r % every == every // 2:
            mid = price_hi - (r + 0.5) * step
            out.append(_fit(fmt_price(mid, step), width))
        else:
            out.append(" " * width)
    return out


def _ago(ms: float) -> str:
    hours = ms / 3_600_000
    if hours < 0.5:
        return "now"
    if hours < 48:
        return f"-{hours:.0f}h" if hours >= 1 else f"-{hours * 60:.0f}m"
    if hours < 240 and abs(hours / 24 - round(hours / 24)) > 0.05:
        return f"-{hours:.0f}h"  # 60 h, not a rounded "-2d" beside the real one
    return f"-{hours / 24:.0f}d"


TIME_TICK_COLS = 12
"""The time axis puts a label about every this many columns at most (4 labels at least)."""
_NICE_STEPS_H = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 1440, 2160)
"""Time-axis steps (hours): labels fall on round ages (``-30d``, ``-60d`` …), so a band's start can be read."""


def time_axis(lookback_ms: int, width: int, ticks: int | None = None) -> str:
    """A ``width``-wide line of time labels under the heatmap: ``-12h … -6h … now`` (oldest at the left).

    Between the oldest edge and ``now`` a label every ``lookback/ticks``; by default every round step of
    :data:`_NICE_STEPS_H` that leaves at most one label per :data:`TIME_TICK_COLS` columns (4 labels at least;
    ``lookback/4`` when no round step fits). Labels that would touch are left out."""
    if width <= 0:
        return ""
    line = [" "] * width

    def place(label: str, start: int) -> None:
        start = min(max(0, start), width - len(label))
        if start < 0 or any(c != " " for c in line[max(0, start - 1) : start + len(label) + 1]):
            return  # no room: skip rather than overlap
        line[start : start + len(label)] = label

    place("now", width - 3)
    place(_ago(lookback_ms), 0)
    if ticks is None:
        most = max(4, min(12, width // TIME_TICK_COLS))
        hour = 3_600_000
        step = next((h * hour for h in _NICE_STEPS_H if lookback_ms / (h * hour) <= most), lookback_ms / 4)
    else:
        step = lookback_ms / max(1, ticks)
    k = 1
    while k * step < lookback_ms * (1 - 1e-9):
        label = _ago(k * step)
        x = round((1 - k * step / lookback_ms) * (width - 1))
        place(label, x - len(label) // 2)
        k += 1
    return "".join(line)


def _fit(s: str, width: int) -> str:
    s = s if len(s) <= width else s.replace(",", "")[:width]
    return s.rjust(width)


def join_text(parts: Iterable[tuple[str, str | Style]]) -> Text:
    """A Text from (string, style) parts."""
    t = Text()
    for s, st in parts:
        t.append(s, st)
    return t


# ------------------------------------------------------------------------------------- zones and tape
def fmt_price_compact(p: float) -> str:
    """Short price for narrow panels: ``71.2k``, ``3457``, ``142.35``, ``0.5123``."""
    if not math.isfinite(p):
        return "—"
    a = abs(p)
    if a >= 100_000:
        return f"{p / 1e3:.0f}k"
    if a >= 10_000:
        return f"{p / 1e3:.1f}k"
    if a >= 1_000:
        return f"{p:.0f}"
    if a >= 1:
        return f"{p:.2f}"
    return f"{p:.4g}"


def tier_color_index(i: int, n_tiers: int, n_colors: int) -> int:
    """The theme colour (index into its ``tier-colors``, lowest leverage first) of tier ``i`` of the model's
    ``n_tiers``: spread over the whole scale, so the model's lowest tier takes the first colour and its highest
    the last (hottest) whatever the tier set (3/5/10/25x or 5..100x); beyond ``n_colors`` tiers they cycle."""
    if n_colors <= 0:
        return 0
    if n_tiers <= 1:
        return n_colors - 1 if n_tiers == 1 else 0
    if n_tiers > n_colors:
        return i % n_colors
    return round(i * (n_colors - 1) / (n_tiers - 1))


def fmt_reach(reach: float) -> str:
    """A zone's chance to be reached as a whole percent: ``38%``, ``<1%``, ``100%``; ``—`` for 0 (not known:
    no volatility measured yet)."""
    if not math.isfinite(reach) or reach <= 0:
        return "—"
    pct = reach * 100.0
    return "<1%" if pct < 0.5 else f"{min(100, round(pct))}%"


def _fmt_dist_compact(distance_pct: float) -> str:
    """Signed distance in at most 5 cells: ``+4.7%`` below 10 %, ``+23%`` from there."""
    if not math.isfinite(distance_pct):
        return "—"
    if abs(distance_pct) < 9.95:
        return f"{round(distance_pct, 1) + 0.0:+.1f}%"  # never -0.0%
    return f"{distance_pct:+.0f}%"


def zone_line(
    low: float,
    high: float,
    usd: float,
    strength: float,
    distance_pct: float,
    confluence: bool,
    width: int,
    bar_style: Style,
    mark_style: Style,
    *,
    reach: float | None = None,
) -> Text:
    """One zone row, exactly ``width`` cells: price range, USD, a bar sized by ``strength`` (0..1),
    signed distance %, the ``reach`` column when given (chance to be reached, :func:`fmt_reach`) and ``◆``
    when several leverage tiers agree (confluence).

    Compact (``width`` < 40, the 80-column layout) with a reach column: the distance takes at most 5 cells
    and the bar is left out when fewer than 2 cells remain for it (the USD figure says the strength)."""
    compact = width < 40
    fp = fmt_price_compact if compact else (lambda x: fmt_price(x, (high - low) / 4 or None))
    rng = f"{fp(low)}–{fp(high)}"
    usd_s = fmt_usd(usd).rjust(6 if compact else 7)
    if reach is None:
        dist = fmt_pct(distance_pct, 1 if compact else 2).rjust(6 if compact else 7)
        tail = " " + dist + " "
    else:
        dist = _fmt_dist_compact(distance_pct).rjust(5) if compact else fmt_pct(distance_pct, 2).rjust(7)
        tail = " " + dist + fmt_reach(reach).rjust(5) + " "
    fixed = len(rng) + 1 + len(usd_s) + len(tail) + 1
    bar_w = width - fixed - 1
    t = Text(no_wrap=True, overflow="crop")
    t.append(rng + " ")
    t.append(usd_s)
    if reach is None or not compact or bar_w >= 2:
        bar_w = max(1, bar_w)
        eighths = round(max(0.0, min(1.0, strength)) * bar_w * 8)
        bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
        t.append(" ")
        t.append(bar.ljust(bar_w), bar_style)
    else:  # no room for a bar: the columns stay right-aligned
        t.append(" " * max(0, width - fixed))
    t.append(tail)
    t.append("◆" if confluence else " ", mark_style)
    t.truncate(width, pad=True)
    return t


def zone_header(order: str, width: int) -> Text:
    """The zones panel's first line: the list's order (``zones by strength`` / ``by reach``) and the labels
    of the distance and reach columns of :func:`zone_line`, right-aligned over them."""
    compact = width < 40
    title = ("by " if compact else "zones by ") + order
    cols = ("dist" if compact else "distance").rjust(5 if compact else 7) + "reach".rjust(6)
    t = Text(no_wrap=True, overflow="crop", style=Style(dim=True))
    t.append(title.ljust(max(0, width - len(cols)))[: max(0, width - len(cols))], Style(bold=True))
    t.append(cols)
    t.truncate(width, pad=True)
    return t


_VENUE_ABBR = {"binance": "BIN", "bybit": "BYB", "okx": "OKX", "hyperliquid": "HL "}


def tape_line(
    ts_ms: int, venue: str, is_long: bool, price: float, usd: float, width: int, side_style: Style
) -> Text:
    """One realized liquidation: UTC time, venue, LONG/SHORT (the liquidated side), price, USD, glyph."""
    hms = time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000))
    t = Text(no_wrap=True, overflow="crop")
    t.append(f"{hms} {_VENUE_ABBR.get(venue, venue[:3].upper())} ")
    t.append("LONG " if is_long else "SHORT", side_style)
    price_s = fmt_price_compact(price) if width < 40 else fmt_price(price, price * 1e-5)
    t.append(f" {price_s:>9} {fmt_usd(usd):>7} ")
    t.append(usd_glyph(usd), side_style)
    t.truncate(width, pad=True)
    return t
