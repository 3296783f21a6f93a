"""Issue 11 on the screen: the zones' reach column, the order key (strength ↔ reach), the panel's first line
saying the order, and the heat-column legend and colours following the model's own leverage tiers."""

from __future__ import annotations

import numpy as np
import pytest
from rich.style import Style

from liqtui.core.model import HeatModel, ModelConfig
from liqtui.ui.keys import BINDING_IDS, HELP_TEXT, KEYS
from liqtui.ui.render import fmt_reach, tier_color_index, zone_header, zone_line
from liqtui.ui.themes import HeatPalette, load_theme
from liqtui.ui.view import ViewState, build_frame
from liqtui.ui.widgets.zones import render_zones, tier_legend
from tests.ui.test_app_keys import make_app, settle

PAL = HeatPalette(load_theme("dark"), "truecolor")


# ------------------------------------------------------------------------------------------ pure: render
@pytest.mark.parametrize(
    ("reach", "text"),
    [(0.38, "38%"), (0.004, "<1%"), (0.006, "1%"), (1.0, "100%"), (0.9996, "100%"), (0.0, "—")],
)
def test_fmt_reach(reach, text):
    assert fmt_reach(reach) == text


@pytest.mark.parametrize("width", [31, 43])
def test_zone_line_with_reach_keeps_its_width_and_columns(width):
    rows = [
        zone_line(80_600, 81_700, 427e6, 0.8, d, conf, width, Style(), Style(), reach=r).plain
        for d, r, conf in ((4.7, 0.38, True), (0.0, 1.0, False), (-22.9, 0.001, True), (13.3, 0.0, False))
    ]
    assert all(len(r) == width for r in rows)
    # the reach column ends two cells before the edge (a space, then the confluence mark), on every row alike
    assert [r[-6:-2] for r in rows] == [" 38%", "100%", " <1%", "   —"]
    assert rows[0][-1] == "◆" and rows[1][-1] == " "
    head = zone_header("strength", width).plain
    assert len(head) == width and head.rstrip().endswith("reach")
    # the labels sit over their columns: "reach" over the reach figures, the distance label over the distances
    assert head.index("reach") >= width - 6
    assert head.rstrip()[: -len("reach")].rstrip().endswith("dist" if width < 40 else "distance")


def test_compact_zone_line_keeps_distance_and_reach_and_drops_the_bar():
    z = zone_line(80_600, 81_700, 427e6, 1.0, -12.34, False, 31, Style(), Style(), reach=0.07).plain
    assert z.startswith("80.6k–81.7k") and "$427M" in z and "-12%" in z and z.endswith("7%  ")
    assert "█" not in z  # 31 cells hold range, USD, distance and reach; the USD says the strength
    wide = zone_line(80_600, 81_700, 427e6, 1.0, -12.34, False, 43, Style(), Style(), reach=0.07).plain
    assert "█" in wide and "-12.34%" in wide
    # without a reach the line is the one it always was
    old = zone_line(71200, 71450, 12.3e6, 1.0, -1.234, False, 30, Style(), Style()).plain
    assert old.startswith("71.2k–71.5k") and "-1.2%" in old and len(old) == 30


def _zone_rows(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if "–" in ln and "Σ" not in ln]


@pytest.mark.parametrize("width", [31, 43])
def test_panel_says_its_order_and_shows_every_zones_reach(engine, width):
    rep = engine.model.zones("12h", order="reach")
    text = render_zones(rep, width, 5, PAL, engine.model.tier_names, "reach").plain
    first = text.splitlines()[0]
    assert "by reach" in first
    rows = _zone_rows(text)
    zones = [*rep.above, *rep.below]
    assert len(rows) == len(zones) >= 4
    assert [r[-6:-2].strip() for r in rows] == [fmt_reach(z.reach) for z in zones]
    assert "by strength" in render_zones(rep, width, 5, PAL, (), "strength").plain.splitlines()[0]
    assert "by strength" in render_zones(None, width, 5, PAL).plain.splitlines()[0]


# --------------------------------------------------------------------------------------------- pure: view
def test_view_toggles_the_order_and_the_frame_lists_the_zones_in_it(engine, frozen_clock):
    view = ViewState(lookback="12h")
    assert view.zone_order == "strength"
    first = build_frame(engine, view, (60, 20), frozen_clock())
    assert first.zone_order == "strength"
    for side in (first.zones.above, first.zones.below):
        assert [z.usd for z in side] == sorted((z.usd for z in side), reverse=True)
    view.toggle_zone_order()
    assert view.zone_order == "reach"
    by_reach = build_frame(engine, view, (60, 20), frozen_clock(), previous=first)
    assert by_reach.zone_order == "reach" and by_reach.zones is not first.zones  # a new order: new zones
    for side, strong in (
        (by_reach.zones.above, first.zones.above),
        (by_reach.zones.below, first.zones.below),
    ):
        assert [z.reach for z in side] == sorted((z.reach for z in side), reverse=True)
        assert {(z.low, z.high) for z in side} == {(z.low, z.high) for z in strong}  # same zones, reordered
    assert [z.low for z in by_reach.zones.below] != [z.low for z in first.zones.below]
    assert by_reach.zones == engine.model.zones("12h", threshold_pct=50.0, top_n=5, order="reach")
    view.toggle_zone_order()
    assert view.zone_order == "strength"


# ------------------------------------------------------------------------------------ pure: tier colours
def test_tier_colours_span_the_scale_whatever_the_tier_set():
    assert [tier_color_index(i, 5, 5) for i in range(5)] == [0, 1, 2, 3, 4]  # 5..100x: as before
    swing = [tier_color_index(i, 4, 5) for i in range(4)]
    assert swing[0] == 0 and swing[-1] == 4 and len(set(swing)) == 4  # 3/5/10/25x: distinct, highest hottest
    assert tier_color_index(0, 1, 5) == 4
    assert [tier_color_index(i, 7, 5) for i in range(7)] == [0, 1, 2, 3, 4, 0, 1]  # more tiers than colours


def test_legend_names_and_colours_are_the_models_own_tiers():
    names = HeatModel(ModelConfig()).tier_names  # the current defaults: swing tiers
    assert names == ("3x", "5x", "10x", "25x")
    legend = tier_legend(names, PAL, 44)
    assert legend.plain.split() == ["heat", "column", "■3x", "■5x", "■10x", "■25x"]
    colours = [span.style.color for span in legend.spans if legend.plain[span.start] == "■"]
    assert colours[0] == PAL.tiers[0] and colours[-1] == PAL.tiers[-1]  # 25x in the hottest colour
    assert len(set(colours)) == 4
    old = tier_legend(("5x", "10x", "25x", "50x", "100x"), PAL, 44)
    assert "■100x" in old.plain and "■3x" not in old.plain


async def test_heat_column_draws_the_swing_tiers_in_the_legends_colours(engine, frozen_clock):
    from liqtui.ui.widgets.live import HeatColumn

    app = make_app(engine, frozen_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        col: HeatColumn = app.heat_column
        profile = np.zeros((4, col.size.height))
        profile[:, 1] = [1.0, 1.0, 1.0, 1.0]  # four equal tiers on row 1
        col.set_profile(profile, anchor_row=None)
        await pilot.pause()
        colours = [s.style.color for s in col._rows[1] if s.text.strip()]
        legend = tier_legend(("3x", "5x", "10x", "25x"), PAL, 44)
        assert colours == [span.style.color for span in legend.spans if legend.plain[span.start] == "■"]


# ------------------------------------------------------------------------------------------ pilot: the key
def test_zone_order_is_a_remappable_key_with_help():
    spec = next(k for k in KEYS if k.id == "zone_order")
    assert spec.key == "z" and "zone_order" in BINDING_IDS and "reach" in HELP_TEXT["zone_order"]
    taken = [k.key for k in KEYS if k.id != "zone_order"]
    assert all("z" not in key.split(",") for key in taken)


async def test_z_switches_the_zones_between_strength_and_reach(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        assert "by strength" in str(app.zones.render()).splitlines()[0]
        await pilot.press("z")
        await settle(pilot, app, lambda: "by reach" in str(app.zones.render()).splitlines()[0])
        assert app.view.zone_order == "reach"
        below = app._frame.zones.below
        assert [z.reach for z in below] == sorted((z.reach for z in below), reverse=True)
        rows = _zone_rows(str(app.zones.render()))
        assert [r[-6:-2].strip() for r in rows] == [
            fmt_reach(z.reach) for z in (*app._frame.zones.above, *below)
        ]
        await pilot.press("z")
        await settle(pilot, app, lambda: "by strength" in str(app.zones.render()).splitlines()[0])
        assert any("reach" in title for title, _action, _help in app.command_list())
        assert any(k == "z" and "reach" in d for k, d in app.help_rows())


async def test_zone_order_key_follows_the_keymap(engine, frozen_clock):
    app = make_app(engine, frozen_clock, keymap={"zone_order": "y"})
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("z")
        await pilot.pause()
        assert app.view.zone_order == "strength"
        await pilot.press("y")
        await settle(pilot, app, lambda: app.view.zone_order == "reach")
        assert any(k == "y" and "reach" in d for k, d in app.help_rows())


# --------------------------------------------------------------------------------- the time axis (6M)
def _ages(axis: str) -> list[float]:
    out = []
    for tok in axis.split():
        if tok == "now":
            out.append(0.0)
        else:
            n, unit = float(tok[1:-1]), tok[-1]
            out.append(n * {"m": 1 / 1440, "h": 1 / 24, "d": 1.0}[unit])
    return out


@pytest.mark.parametrize("width", [38, 60, 92, 140])
@pytest.mark.parametrize("lookback", ["12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M"])
def test_time_axis_labels_are_distinct_round_ages_in_order(lookback, width):
    from liqtui.core.model import LOOKBACK_MS
    from liqtui.ui.render import time_axis

    axis = time_axis(LOOKBACK_MS[lookback], width)
    assert len(axis) == width and axis.rstrip().endswith("now")
    ages = _ages(axis)
    assert ages == sorted(ages, reverse=True) and len(set(ages)) == len(ages)  # oldest left, none repeated
    assert len(ages) >= 3 and ages[0] == pytest.approx(LOOKBACK_MS[lookback] / 86_400_000, rel=0.05)
    # every label sits where its age is (within its own width): a band's start can be read off the axis
    span = LOOKBACK_MS[lookback] / 86_400_000
    pos = 0
    for tok, age in zip(axis.split(), ages):
        x = axis.index(tok, pos)
        pos = x + len(tok)
        centre = (1 - age / span) * (width - 1)
        assert x - len(tok) <= centre <= x + 2 * len(tok)


# ------------------------------------------------------------------- long lookbacks keep their structure
def test_6m_view_shows_bands_that_began_more_than_a_week_ago_and_still_stand():
    from liqtui.core.model import LOOKBACK_MS
    from liqtui.ui.synthetic import long_history_engine

    engine = long_history_engine()
    width, height = 120, 30
    frame = build_frame(engine, ViewState(lookback="6M"), (width, height), int(engine.model.last_ts))
    drawn = frame.heat.scale.levels(frame.heat.values, 16) > 0  # what the screen lights (above the threshold)
    span_d = LOOKBACK_MS["6M"] / 86_400_000

    def col_of(days_ago: float) -> int:
        return int(width * (1 - days_ago / span_d))

    assert drawn[:, : col_of(7)].any(axis=0).mean() > 0.9  # the half year before the last week is drawn
    # rows lit without a break from a column older than a week up to now: bands that began long ago and stand
    starts = []
    for row in drawn:
        if row[-1]:
            start = width - 1
            while start > 0 and row[start - 1]:
                start -= 1
            starts.append(start)
    assert sum(s < col_of(7) for s in starts) >= 3
    assert min(starts) < col_of(21)  # one at least three weeks old
