"""The radar screen in the real app on the demo source: r, sort, filter, Enter, Esc, and 80×24."""

from __future__ import annotations

from textual.widgets import DataTable

from liqtui.commands.ui import DEMO_RADAR_SYMBOLS
from liqtui.sources import Source
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.radar import RadarScreen, sparkline
from tests.feeds.helpers import until


def test_sparkline_scales_and_resamples() -> None:
    assert sparkline([1.0, 2.0, 3.0, 4.0], 4) == "▁▃▆█"
    assert len(sparkline(list(range(100)), 12)) == 12
    assert sparkline([5.0], 6) == " " * 6  # one point is no trend
    assert sparkline([2.0, 2.0, 2.0], 4) == " ▄▄▄"


async def test_radar_screen_keys() -> None:
    src = Source("demo", history_lookback="12h", seed=5, speed=5.0, demo_radar=DEMO_RADAR_SYMBOLS)
    app = LiqtuiApp(src.engine, source=src, symbol=src.symbol, symbols=src.symbols, venues=src.venues)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(lambda: src.demo is not None and src.demo.multi is not None, "the demo exchange", 60)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RadarScreen)
        await until(lambda: len(screen.rows) >= 200, "200 symbols on the radar", 60)
        table = screen.query_one(DataTable)
        await until(lambda: table.row_count >= 200, "200 rows drawn")
        assert len(table.columns) == 11  # wide: every column, the alert marks and the sparkline
        assert screen.table.sort == "score" and screen.table.descending

        await pilot.press("s")  # next sort column: by symbol, A first
        assert screen.table.sort == "symbol"
        syms = [r.symbol for r in screen.rows]
        assert syms == sorted(syms)
        await pilot.press("d")  # flip
        assert [r.symbol for r in screen.rows] == sorted(syms, reverse=True)
        await pilot.press("S")  # back to score
        assert screen.table.sort == "score"

        # the filter; every row of the demo's radar can be opened in full (a light symbol too: test_radar_open)
        other = next(r.symbol for r in screen.rows if r.symbol != "BTCUSDT")
        await pilot.press("slash", *other.lower(), "enter")
        assert screen.table.text == other and all(other in r.symbol for r in screen.rows)
        assert screen.can_open(other) and screen.can_open("BTCUSDT") and not screen.can_open("NOSUCHUSDT")

        # Esc in the filter clears it; then filter BTC, Enter opens its heatmap, Esc returns to the radar
        await pilot.press("slash", "escape")
        assert screen.table.text == "" and len(screen.rows) >= 200
        await pilot.press("slash", "b", "t", "c", "enter")
        assert [r.symbol for r in screen.rows] == ["BTCUSDT"]
        await pilot.press("enter")
        assert not isinstance(app.screen, RadarScreen) and app.symbol == "BTC"
        await pilot.press("escape")
        assert isinstance(app.screen, RadarScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, RadarScreen)


async def test_radar_screen_fits_80x24() -> None:
    src = Source("demo", history_lookback="12h", seed=6, speed=5.0, demo_radar=DEMO_RADAR_SYMBOLS)
    app = LiqtuiApp(src.engine, source=src, symbol=src.symbol, symbols=src.symbols, venues=src.venues)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: src.demo is not None and src.demo.multi is not None, "the demo exchange", 60)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RadarScreen)
        table = screen.query_one(DataTable)
        await until(lambda: table.row_count >= 200, "200 rows drawn", 60)
        assert len(table.columns) == 7  # narrow: symbol, alert, price, 1h, squeeze, flush, trend
        assert table.virtual_size.width <= 80


async def test_opening_another_symbol_from_the_radar_swaps_to_its_heatmap() -> None:
    """What Enter does on a row the app can open in full (here ETH, through the app's ticker switch): a new
    source, its heatmap drawn with a price while its history loads behind it, and Esc back to the radar."""
    made: list[Source] = []

    def restart(symbol: str):
        s = Source(
            "demo", symbol=symbol, history_lookback="12h", seed=7, speed=5.0, demo_radar=DEMO_RADAR_SYMBOLS
        )
        s.progress = app.set_progress
        made.append(s)
        return s.engine, s

    src = Source("demo", history_lookback="12h", seed=7, speed=5.0, demo_radar=DEMO_RADAR_SYMBOLS)
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
        await until(lambda: len(screen.rows) >= 200, "200 symbols on the radar", 60)
        screen.dismiss("ETHUSDT")  # Enter on that row (the demo's radar lists the light symbols and BTC)

        def drawn() -> bool:
            frame = app._frame
            return (
                bool(made) and app.engine is made[0].engine and frame is not None and frame.price is not None
            )

        await until(drawn, "the ETH heatmap with a price", 60)
        assert app.symbol == "ETH" and made[0].symbol == "ETH" and 1_000 < app._frame.price < 10_000
        await until(lambda: made[0].history_loaded.is_set(), "its history", 60)
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RadarScreen), "back on the radar")
