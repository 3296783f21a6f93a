"""Enter on any radar row of the demo opens that symbol's full heatmap: a light symbol (not BTC, ETH, SOL) is
served in full by a new exchange that continues the radar's light market, anchored at the row's price; Esc
returns to the radar, where the row lives on (fed by the full simulator)."""

from __future__ import annotations

import time
from typing import Any

from textual.widgets import DataTable

from liqtui.commands.ui import DEMO_RADAR_SYMBOLS
from liqtui.sim.market import DEFAULT_PRICES
from liqtui.sim.multi import FullSim
from liqtui.sources import Source
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.radar import RadarScreen
from tests.feeds.helpers import until

SEED = 11


def _demo(symbol: str | None = None) -> Source:
    return Source(
        "demo", symbol=symbol, history_lookback="12h", seed=SEED, speed=2.0, demo_radar=DEMO_RADAR_SYMBOLS
    )


async def test_enter_on_a_light_symbol_opens_its_heatmap_anchored_at_the_row_and_esc_returns() -> None:
    made: list[Source] = []
    timings: dict[str, float] = {}

    def restart(symbol: str) -> tuple[Any, Source]:
        s = _demo(symbol)
        s.progress = app.set_progress
        made.append(s)
        return s.engine, s

    src = _demo()
    app = LiqtuiApp(
        src.engine,
        source=src,
        symbol=src.symbol,
        symbols=src.symbols,
        venues=src.venues,
        on_symbol_change=restart,
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await until(lambda: src.demo is not None and src.demo.multi is not None, "the demo exchange", 60)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RadarScreen)
        radar = screen.runner.radar
        await until(lambda: len(screen.rows) >= 200, "200 symbols on the radar", 60)
        light = min(r.symbol for r in screen.rows if r.symbol not in DEFAULT_PRICES)
        await pilot.press("slash", *light.lower(), "enter")  # the filter keeps that one row (or a few)
        table = screen.query_one(DataTable)
        await until(lambda: table.row_count >= 1 and screen.highlighted() == light, f"{light} highlighted")
        row_price = next(r.price for r in screen.rows if r.symbol == light)

        t0 = time.perf_counter()
        await pilot.press("enter")

        def priced() -> bool:
            frame = app._frame
            return (
                bool(made) and app.engine is made[0].engine and frame is not None and frame.price is not None
            )

        await until(priced, f"the {light} heatmap with a price", 60)
        timings["enter_to_priced_frame_s"] = time.perf_counter() - t0
        # the goal is 1 s (measured ~0.6–1.2 s on a loaded 2-core box, most of it anchoring the full market);
        # a loose bound here catches a regression such as regenerating the light market or losing the takeover
        assert timings["enter_to_priced_frame_s"] < 5.0
        new = made[0]
        assert app.symbol == light.removesuffix("USDT") and new.symbol == app.symbol and new.light
        demo = new.demo
        assert demo is not None and isinstance(demo.market, FullSim) and demo.market.symbol == light
        # the same light market continues (taken over, not regenerated), the symbol muted in it
        assert (
            demo.multi is src.demo.multi
            and demo.multi.owner is demo
            and demo.multi.muted[demo.multi.index[light]]
        )
        # continuity: the full market starts at the light mark it was anchored at, a few market seconds after the
        # row's price (no jump to another level)
        _, anchor = demo._anchor
        assert abs(anchor / row_price - 1.0) < 0.02
        assert abs(app._frame.price / anchor - 1.0) < 0.02
        await until(lambda: new.history_loaded.is_set(), "its history", 60)

        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RadarScreen), "back on the radar")
        back = app.screen
        assert isinstance(back, RadarScreen)
        # the radar follows the new exchange: the light symbol's row is fed by the full simulator's marks
        seen = radar.counts["marks"]
        await until(lambda: radar.counts["marks"] > seen + 200, "marks from the new exchange", 60)
        await until(
            lambda: any(r.symbol == light and abs(r.price / anchor - 1) < 0.05 for r in back.rows),
            f"{light}'s row priced by its full market",
            30,
        )
    print(f"enter → first priced frame of {light}: {timings['enter_to_priced_frame_s']:.3f} s")
