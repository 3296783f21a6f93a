"""The observed layer on screen: a heat column of Hyperliquid's real positions, markers on the heatmap, and
the coverage line.

* :class:`ObservedColumn` — beside the estimated :class:`~liqtui.ui.widgets.live.HeatColumn`: the observed
  profile per display row stacked by leverage bin, a ``✕`` where an observed level was crossed (a realized
  Hyperliquid liquidation), dimmed while coverage is low.
* :func:`observed_overlay` — heatmap markers (merge into ``HeatFrame.overlay``): ``◆`` in the newest column
  at each observed zone's peak (long colour below the price, short colour above), ``✕`` at the time and
  price of each realized observed liquidation within the window.
* :func:`coverage_text` — the status line piece ("HL obs 312/1,204 acc · 23% OI · 41s · r L .62 S .55 ·
  top5 60%").
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rich.segment import Segment
from rich.style import Style

from liqtui.core.observed import Calibration, Coverage, Realized, TierFit
from liqtui.core.zones import ZoneReport
from liqtui.ui.render import Overlay, bar_segments, row_of
from liqtui.ui.themes import HeatPalette
from liqtui.ui.widgets.live import HeatColumn

__all__ = ["ObservedColumn", "coverage_text", "observed_overlay"]

#: Below this coverage (share of the open interest observed) the column is drawn dim.
LOW_COVERAGE = 0.05


class ObservedColumn(HeatColumn):
    """The observed profile beside the estimated one (same rows, same stacking by leverage)."""

    DEFAULT_CSS = """
    ObservedColumn { width: 12; height: 1fr; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(palette, id=id)
        self._realized_rows: frozenset[int] = frozenset()
        self._coverage: float | None = None

    def set_observed(
        self,
        by_tier_rows: np.ndarray,
        anchor_row: int | None,
        *,
        realized_rows: Iterable[int] = (),
        coverage: float | None = None,
    ) -> None:
        """USD per (leverage bin, char row) of the observed profile (``bin_profile`` of
        ``ObservedBook.profile_by_tier``), the live price row, the rows of recent realized observed
        liquidations and the coverage (0..1, None unknown)."""
        self._realized_rows = frozenset(realized_rows)
        self._coverage = coverage
        self.set_profile(by_tier_rows, anchor_row)

    def _redraw(self) -> None:
        width = self.size.width
        if self._by_tier is None or width <= 0:
            return
        m = self._by_tier
        totals = m.sum(axis=0)
        scale = float(totals.max()) if totals.size else 0.0
        pal = self._pal
        dim = self._coverage is not None and self._coverage < LOW_COVERAGE
        styles = [pal.tier_styles[i % len(pal.tier_styles)] for i in range(m.shape[0])]
        if dim:
            styles = [s + Style(dim=True) for s in styles]
        rows: list[list[Segment]] = []
        for y, parts in enumerate(m.T.tolist()):
            if y == self._anchor_row:
                rows.append([Segment("─" * width, pal.over(pal.anchor, 0, True))])
            elif y in self._realized_rows:
                rows.append([Segment("✕", pal.over(pal.anchor, 0, True)), *bar_segments(parts, scale, width - 1,
                                                                                        styles, pal.bg[0])])  # fmt: skip
            else:
                rows.append(bar_segments(parts, scale, width, styles, pal.bg[0]))
        self._publish(rows)


def observed_overlay(
    zones: ZoneReport | None,
    realized: Iterable[Realized],
    *,
    price_lo: float,
    price_hi: float,
    n_rows: int,
    n_cols: int,
    t0: int,
    t1: int,
    pal: HeatPalette,
) -> Overlay:
    """Heatmap markers of the observed layer (char rows × columns; rows top = ``price_hi``, columns span the
    times ``t0``..``t1``)."""
    out: Overlay = {}
    if n_rows <= 0 or n_cols <= 0 or not price_hi > price_lo:
        return out
    if zones is not None:
        for z, color in [*((z, pal.long) for z in zones.below), *((z, pal.short) for z in zones.above)]:
            r = row_of(z.peak, price_lo, price_hi, n_rows)
            if r is not None:
                out[(r, n_cols - 1)] = ("◆", pal.over(color, 0, True))
    span = max(1, t1 - t0)
    for x in realized:
        if not t0 <= x.ts <= t1:
            continue
        r = row_of(x.price, price_lo, price_hi, n_rows)
        if r is not None:
            c = min(n_cols - 1, int((x.ts - t0) / span * n_cols))
            out[(r, c)] = ("✕", pal.over(pal.long if x.side > 0 else pal.short, 0, True))
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _r(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}".replace("0.", ".")


def coverage_text(cov: Coverage | None, cal: Calibration | None = None, fit: TierFit | None = None) -> str:
    """One status-line piece for the observed layer."""
    if cov is None:
        return "HL obs –"
    age = "–" if cov.age_s is None else f"{cov.age_s:.0f}s"
    parts = [f"HL obs {cov.accounts_polled:,}/{cov.accounts_seen:,} acc", f"{_pct(cov.coverage)} OI", age]
    if cal is not None:
        parts.append(f"r L {_r(cal.corr_long)} S {_r(cal.corr_short)}")
        parts.append(f"top5 {_pct(cal.recall_top5)}")
    if fit is not None:
        parts.append(f"tiers fit {fit.quality}")
    return " · ".join(parts)
