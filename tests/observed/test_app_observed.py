"""The observed layer in the app, on the Hyperliquid demo: the ``O`` key, the column, the markers, the zone list,
the status line, the report refreshed every few seconds, and the "use observed tiers" command."""

from __future__ import annotations

import asyncio
import time

from liqtui.config import convert_config
from liqtui.core.engine import Engine
from liqtui.core.model import HeatModel
from liqtui.sources import Source
from liqtui.ui.app import OBSERVED_REFRESH_MS, LiqtuiApp
from liqtui.ui.keys import BINDING_IDS, HELP_TEXT
from liqtui.ui.view import OBSERVED_ZONES_TITLE


async def until(pilot, cond, what: str, timeout: float = 120.0) -> None:
    """Wait (letting the app run) until ``cond()``; generous timeout: the machine is shared."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def _overlay_glyphs(app: LiqtuiApp) -> set[str]:
    frame = app.heatmap._frame
    return {ch for ch, _ in frame.overlay.values()} if frame is not None else set()


async def test_the_observed_key_on_the_hyperliquid_demo() -> None:
    src = Source("demo", venues=["binance", "hyperliquid"], seed=2, speed=5.0, history_lookback="12h")
    tiers_asked: list[dict[str, float]] = []
    app = LiqtuiApp(
        src.engine, source=src, colors="truecolor", lookback="12h", venues=src.venues,
        on_tiers_change=lambda t: tiers_asked.append(t),
    )  # fmt: skip
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            pilot, lambda: src.history_loaded.is_set() and app.heatmap.frames_drawn > 0, "the history"
        )
        await until(
            pilot,
            lambda: src.observer is not None and len(src.observer.observed.polled) >= 10,
            "10 polled accounts",
        )
        estimate_zones = app.zones._report
        assert not app.observed_column.display and not app.zones_title.display
        assert "HL obs" not in app.status.info.observed + str(app.status.render())

        await pilot.press("O")
        assert app.view.observed and app.observed_column.display and app.zones_title.display
        assert str(app.zones_title.render()) == OBSERVED_ZONES_TITLE
        await until(pilot, lambda: app.observed_report is not None and app.observed_report.zones is not None,
                    "an observed report with zones")  # fmt: skip
        await until(
            pilot, lambda: app.zones._report is app.observed_report.zones, "the observed zones listed"
        )
        rep = app.observed_report
        assert rep.zones.lookback == "observed" and (rep.zones.above or rep.zones.below)
        assert app.status.info.observed.startswith("HL obs ") and " acc · " in app.status.info.observed
        assert "HL obs" in str(app.status.render())
        await until(pilot, lambda: "◆" in _overlay_glyphs(app), "observed zone markers on the heatmap")
        await until(pilot, lambda: app.observed_column._by_tier is not None, "the observed heat column drawn")
        assert app.observed_column._by_tier.sum() > 0

        # the report is rebuilt every OBSERVED_REFRESH_MS of the app's clock, not per frame
        t0, ticks0, first = time.monotonic(), app.ticks, app.observed_report
        await until(pilot, lambda: app.ticks >= ticks0 + 5, "five more ticks")
        if time.monotonic() - t0 < OBSERVED_REFRESH_MS / 1000 * 0.9:
            assert app.observed_report is first
        await until(pilot, lambda: app.observed_report is not first, "the next report", timeout=60)

        # "use observed tiers": offered only with a fit that is not poor, and asks the source for them
        fit = app._observed_fit()
        titles = [t for t, _a, _h in app.command_list()]
        assert ("Use observed tiers" in titles) == (fit is not None)
        if fit is not None:
            await app.run_action("observed_tiers")
            assert tiers_asked == [dict(fit.custom_tiers)]

        await pilot.press("O")
        assert not app.view.observed and not app.observed_column.display and not app.zones_title.display
        assert app.status.info.observed == ""
        await until(pilot, lambda: app.zones._report is not rep.zones, "the estimate's zones back")
        assert "◆" not in _overlay_glyphs(app) or estimate_zones is None


async def test_the_observed_key_without_hyperliquid_says_what_is_needed() -> None:
    app = LiqtuiApp(Engine(HeatModel()), colors="truecolor")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("O")
        await pilot.pause()
        assert not app.view.observed and not app.observed_column.display
        assert any("needs Hyperliquid" in n.message for n in app._notifications)
        assert "Use observed tiers" not in [t for t, _a, _h in app.command_list()]


def test_the_key_is_remappable_and_documented() -> None:
    assert "observed" in BINDING_IDS and "observed" in HELP_TEXT
    assert convert_config({"keymap": {"observed": "ctrl+o"}}).keymap == {"observed": "ctrl+o"}


def test_observed_tiers_config_for_the_swap() -> None:
    from liqtui.commands.ui import observed_tiers

    cfg = convert_config({"model": {"bucket_pct": 0.2}})
    model = observed_tiers(cfg, {"5": 0.5, "20": 0.5})
    assert model.tiers == "observed" and model.bucket_pct == 0.2
    assert model.resolved_tiers() == ((5.0, 20.0), (0.5, 0.5))
    assert asyncio.iscoroutinefunction(LiqtuiApp.action_observed_tiers)


def test_build_observed_and_the_zone_list_decision() -> None:
    """Pure: the observed profile on the display rows, realized rows, and which zones the list shows."""
    from liqtui.core.grid import PriceGrid
    from liqtui.core.observed import ObservedBook, ObservedPosition
    from liqtui.ui.binning import row_of
    from liqtui.ui.view import Frame, ViewState, build_observed, shown_zones

    book = ObservedBook("BTC")
    for i, (side, liq) in enumerate([(1, 95_000.0), (-1, 104_000.0)]):
        pos = ObservedPosition(address=f"a{i}", coin="BTC", side=side, size=1.0, entry_px=1e5, leverage=10,
                               margin="cross", liq_px=liq, value_usd=1e5, ts=0)  # fmt: skip
        book.update(f"a{i}", [pos], 0)
    assert book.cross(94_000.0, 95_500.0, 7)  # the long level at 95,000 is realized
    edges = PriceGrid(100_000.0, bucket_pct=0.1, range_pct=30.0).edges
    zones = book.zones(edges, 100_000.0)
    layer = build_observed(book, zones, 0.25, edges, (90_000.0, 110_000.0), 20)
    assert layer.profile is not None and layer.profile.shape[1] == 20
    assert layer.profile.sum(axis=0)[6] > 0  # 104,000 on row 6 (1,000 per row, top = 110,000)
    row = row_of(95_000.0, 90_000.0, 110_000.0, 20)
    assert layer.profile.sum(axis=0)[row] == 0  # consumed
    assert layer.realized_rows == {row} and layer.coverage == 0.25
    assert build_observed(book, None, None, edges, None, 20).profile is None

    frame = Frame(price=1e5, window=(90_000.0, 110_000.0), zones=None, tier_names=("3x",))
    view = ViewState()
    assert shown_zones(view, frame, layer) == (None, ("3x",), "")
    view.toggle_observed()
    shown, tiers, title = shown_zones(view, frame, layer)
    assert shown is zones and tiers == layer.tier_names and title == OBSERVED_ZONES_TITLE
    assert shown_zones(view, frame, None)[2] == ""  # no observer: the estimate's zones
