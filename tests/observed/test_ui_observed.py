"""The observed layer's UI pieces: heatmap markers, the coverage line and the observed heat column."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App, ComposeResult

from liqtui.core.grid import PriceGrid
from liqtui.core.observed import Calibration, Coverage, ObservedBook, ObservedPosition, Realized, fit_tiers
from liqtui.ui.render import bin_profile, row_of
from liqtui.ui.themes import HeatPalette, load_theme
from liqtui.ui.widgets.observed import ObservedColumn, coverage_text, observed_overlay


@pytest.fixture(scope="module")
def pal() -> HeatPalette:
    return HeatPalette(load_theme("dark"), "truecolor")


def _book() -> ObservedBook:
    ob = ObservedBook("BTC")
    for i, (side, liq, lev) in enumerate([(1, 95_000.0, 10), (1, 95_050.0, 20), (-1, 104_000.0, 5)]):
        ob.update(f"a{i}", [ObservedPosition(address=f"a{i}", coin="BTC", side=side, size=1.0, entry_px=1e5,
                                             leverage=lev, margin="cross", liq_px=liq, value_usd=1e5, ts=0)], 0)  # fmt: skip
    return ob


def test_overlay_marks_zone_peaks_in_the_newest_column_and_realized_at_their_time(pal: HeatPalette) -> None:
    ob = _book()
    grid = PriceGrid(100_000.0, bucket_pct=0.1, range_pct=30.0)
    zones = ob.zones(grid.edges, 100_000.0, threshold_pct=0.0)
    realized = [
        Realized("x", 1, 96_000.0, 1e5, 500),
        Realized("y", -1, 99_000.0, 1e5, 5_000),
    ]  # second: later
    ov = observed_overlay(zones, realized, price_lo=90_000, price_hi=110_000, n_rows=20, n_cols=50, t0=0,
                          t1=1_000, pal=pal)  # fmt: skip
    lo_row = row_of(zones.below[0].peak, 90_000, 110_000, 20)
    hi_row = row_of(zones.above[0].peak, 90_000, 110_000, 20)
    assert (lo_row, hi_row) == (14, 6)  # 95,0xx below, 103,9xx above (1,000 per row)
    assert ov[(14, 49)][0] == "◆" and ov[(6, 49)][0] == "◆"
    assert ov[(14, 49)][1].color.triplet == pal.long.triplet
    assert ov[(14, 25)][0] == "✕"  # 96,000 at t=500 of 0..1000
    assert len(ov) == 3  # the later one is outside the window
    assert observed_overlay(None, [], price_lo=1, price_hi=1, n_rows=5, n_cols=5, t0=0, t1=1, pal=pal) == {}


def test_coverage_text() -> None:
    assert coverage_text(None) == "HL obs –"
    cov = Coverage(accounts_seen=1204, accounts_polled=312, accounts_with_position=200, positions_no_liq=3,
                   observed_usd=1e6, oi_usd=4.3e6, coverage=0.2326, age_s=41.2)  # fmt: skip
    cal = Calibration(corr_long=0.62, corr_short=-0.05, recall_top5=0.6, distance_pct=0.4, observed_zones=5)
    fit = fit_tiers(_book().positions.values())
    assert coverage_text(cov, cal, fit) == (
        "HL obs 312/1,204 acc · 23% OI · 41s · r L +.62 S -.05 · top5 60% · tiers fit poor"
    )
    assert coverage_text(msgspec_replace(cov, coverage=None, age_s=None)) == "HL obs 312/1,204 acc · – OI · –"


def msgspec_replace(c: Coverage, **kw: object) -> Coverage:
    import msgspec

    return msgspec.structs.replace(c, **kw)


async def test_observed_column_draws_bars_the_anchor_and_realized_rows(pal: HeatPalette) -> None:
    ob = _book()
    grid = PriceGrid(100_000.0, bucket_pct=0.1, range_pct=30.0)
    lt, st = ob.profile_by_tier(grid.edges)
    rows = bin_profile(grid.edges, lt + st, 90_000.0, 110_000.0, 20)
    col = ObservedColumn(pal)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield col

    async with Host().run_test(size=(20, 20)) as pilot:
        col.set_observed(rows, 10, realized_rows=[2], coverage=0.5)
        await pilot.pause()
        text = ["".join(s.text for s in col.render_line(y)) for y in range(20)]
        assert set(text[10]) == {"─"}
        assert text[2].startswith("✕")
        filled = {y for y in range(20) if y not in (2, 10) and text[y].strip()}
        assert filled == {y for y in range(20) if rows[:, y].sum() > 0} and filled
        big = int(rows.sum(axis=0).argmax())  # the two longs near 95,000: the full-width bar
        assert text[big] == "█" * 12
        col.set_observed(rows, 10, coverage=0.01)  # low coverage: dim
        await pilot.pause()
        segs = [s for s in col.render_line(big) if "█" in s.text]
        assert segs and all(s.style is not None and s.style.dim for s in segs)
    assert np.isclose(rows.sum(), lt.sum() + st.sum())
