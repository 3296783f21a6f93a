"""Pilot tests: every key, the modal screens, the keymap, and the status states."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual.binding import Binding
from textual.widgets import Checkbox, Input

from liqtui.config import check_keymap
from liqtui.core.events import FeedState, FeedStatus, Liquidation, PositionSide, TakerSide, Trade, Venue
from liqtui.ui.app import LOOKBACK_SPAN_PCT, LiqtuiApp
from liqtui.ui.keys import HELP_TEXT
from liqtui.ui.messages import SymbolChangeRequested, VenuesChangeRequested
from liqtui.ui.radar import RadarScreen
from liqtui.ui.render import fmt_pct, fmt_usd
from liqtui.ui.screens import HelpScreen, TickerScreen, VenuesScreen

SIZE = (160, 30)  # wide enough for the full status line (labels are shortened when it does not fit)


def make_app(engine, clock, **kw) -> LiqtuiApp:
    kw.setdefault("colors", "truecolor")
    kw.setdefault("lookback", "12h")
    return LiqtuiApp(engine, clock=clock, **kw)


async def settle(pilot, app, cond=lambda: True, timeout: float = 10.0) -> None:
    """Wait (never a fixed sleep) until the app drew its first frame and ``cond`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await pilot.pause()
        if app.heatmap.frames_drawn > 0 and cond():
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def test_lookback_keys_1_to_8(engine, frozen_clock):
    app = make_app(engine, frozen_clock, lookback="6M")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for key, lookback in zip("12345678", ("12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M")):
            drawn = app.heatmap.frames_drawn
            await pilot.press(key)
            await settle(pilot, app, lambda drawn=drawn: app.heatmap.frames_drawn > drawn)
            assert app.lookback == lookback
            assert f"lookback {lookback}" in str(app.status.render())
            lo, hi = app.window()
            assert (hi - lo) / (hi + lo) * 100 == pytest.approx(LOOKBACK_SPAN_PCT[lookback])  # longer: wider


async def test_threshold_heat_klines_zoom_recentre(engine, frozen_clock):
    app = make_app(engine, frozen_clock, threshold_pct=50.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        shown = int((app.heatmap._frame.upper > 0).sum())
        await pilot.press("t")
        assert app.threshold_pct == 40.0
        await pilot.press("T", "T")
        assert app.threshold_pct == 60.0
        await settle(pilot, app)
        assert int((app.heatmap._frame.upper > 0).sum()) < shown  # a higher threshold hides weak levels
        await pilot.press("h")
        assert app.gamma == pytest.approx(1.25)
        await pilot.press("H", "H")
        assert app.gamma == pytest.approx(0.8)
        assert "thr 60% heat γ0.80" in str(app.status.render())
        assert app.klines is True
        await pilot.press("k")
        assert app.klines is False
        span = app.span_pct
        await pilot.press("plus")
        assert app.span_pct == pytest.approx(span / 1.25)
        await pilot.press("minus", "minus")
        assert app.span_pct == pytest.approx(span * 1.25)
        app.center = app.current_price() * 1.01
        await pilot.press("c")
        assert app.center == pytest.approx(app.current_price())


async def test_freeze_keeps_the_frame_while_ingestion_goes_on(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f")
        assert app.frozen
        assert "FROZEN" in str(app.status.render())
        drawn = app.heatmap.frames_drawn
        v0 = engine.version
        liq = Liquidation(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=frozen_clock(),
            recv_ts=frozen_clock(),
            side=PositionSide.LONG,
            price=70000.0,
            qty=1.0,
            usd=70000.0,
        )
        app._sink(liq)
        app._tick()
        assert engine.version > v0  # ingestion went on
        assert app.heatmap.frames_drawn == drawn  # the picture did not
        await pilot.press("f")
        await settle(pilot, app, lambda: app.heatmap.frames_drawn > drawn)
        assert "FROZEN" not in str(app.status.render())


async def test_help_screen_lists_every_binding_and_closes(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await settle(pilot, app, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(d for _, d in app.help_rows())
        for word in (
            "lookback 12h 1d 3d 7d 14d 1M 3M 6M",
            "threshold",
            "heat",
            "candles",
            "ticker",
            "venues",
            "freeze",
            "zoom",
            "recentre",
            "quit",
        ):
            assert word in text
        await pilot.press("escape")
        await settle(pilot, app, lambda: not isinstance(app.screen, HelpScreen))


async def test_ticker_picker_quick_pick_and_typed_symbol(engine, frozen_clock):
    seen: list[str] = []
    posted: list[str] = []

    class Spy(LiqtuiApp):
        def on_symbol_change_requested(self, msg: SymbolChangeRequested) -> None:
            posted.append(msg.symbol)

    app = Spy(engine, clock=frozen_clock, colors="truecolor", on_symbol_change=seen.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await settle(pilot, app, lambda: isinstance(app.screen, TickerScreen))
        await pilot.press("down", "enter")  # BTC → ETH
        await settle(pilot, app, lambda: app.symbol == "ETH")
        await pilot.press("s")
        await settle(pilot, app, lambda: isinstance(app.screen, TickerScreen))
        app.screen.query_one(Input).focus()
        await pilot.press("b", "a", "d", "!", "enter")
        assert isinstance(app.screen, TickerScreen)  # "bad!" refused with a message, screen stays
        assert "letters or digits" in str(app.screen.query_one("#ticker-error").render())
        app.screen.query_one(Input).value = ""
        await pilot.press("d", "o", "g", "e", "enter")
        await settle(pilot, app, lambda: app.symbol == "DOGE" and posted == ["ETH", "DOGE"])
        assert seen == ["ETH", "DOGE"]
        assert str(app.status.render()).startswith(" DOGE ")


async def test_symbol_callback_can_swap_engine_and_source(engine, frozen_clock, _engine_template):
    import copy

    started = threading.Event()
    old_sinks: list = []

    async def first_source(sink):
        old_sinks.append(sink)
        await asyncio.Event().wait()

    async def new_source(sink):
        started.set()
        await asyncio.Event().wait()

    other = copy.deepcopy(_engine_template)
    app = make_app(engine, frozen_clock, source=first_source, on_symbol_change=lambda s: (other, new_source))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, lambda: bool(old_sinks))
        await pilot.press("s")
        await settle(pilot, app, lambda: isinstance(app.screen, TickerScreen))
        await pilot.press("down", "down", "enter")  # SOL
        await settle(pilot, app, lambda: app.engine is other and started.is_set())
        assert app.symbol == "SOL"
        before = other.version
        now = frozen_clock()
        late = FeedStatus(venue=Venue.OKX, symbol="BTC-USDT-SWAP", ts=now, recv_ts=now, state=FeedState.LIVE)
        old_sinks[0](late)
        assert other.version == before  # a late event of the old source never reaches the new engine


async def test_venues_modal_toggles_and_refuses_none(engine, frozen_clock):
    got: list[list[str]] = []
    posted: list[list[str]] = []

    class Spy(LiqtuiApp):
        def on_venues_change_requested(self, msg: VenuesChangeRequested) -> None:
            posted.append(msg.venues)

    app = Spy(engine, clock=frozen_clock, colors="truecolor", venues=["binance"], on_venues_change=got.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app, lambda: isinstance(app.screen, VenuesScreen))
        await pilot.press("space")  # binance off → nothing on
        await pilot.press("enter")
        assert isinstance(app.screen, VenuesScreen)
        assert "at least one" in str(app.screen.query_one("#venues-error").render())
        await pilot.press("tab", "space", "tab", "space")  # bybit and okx on
        assert [c.value for c in app.screen.query(Checkbox)] == [False, True, True, False]
        await pilot.press("enter")
        await settle(pilot, app, lambda: app.venues == ["bybit", "okx"] and posted == [["bybit", "okx"]])
        assert got == [["bybit", "okx"]]
        await pilot.press("e")
        await settle(pilot, app, lambda: isinstance(app.screen, VenuesScreen))
        await pilot.press("escape")
        await settle(pilot, app, lambda: not isinstance(app.screen, VenuesScreen))
        assert app.venues == ["bybit", "okx"]


async def test_keymap_remaps_bindings(engine, frozen_clock):
    app = make_app(engine, frozen_clock, keymap={"freeze": "p", "lookback_3d": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f")
        assert not app.frozen
        await pilot.press("p")
        assert app.frozen
        await pilot.press("x")
        assert app.lookback == "3d"
        rows = {d: k for k, d in app.help_rows()}
        assert rows["freeze the picture (data keeps flowing)"] == "p"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_radar_keys_are_remappable_and_in_help(engine, frozen_clock):
    """``r`` (the radar) and its Esc-back are keymap ids like the others: remapped, listed with the new key."""
    app = make_app(engine, frozen_clock, keymap={"radar": "g", "radar_back": "backspace"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, RadarScreen)
        await pilot.press("g")
        await settle(pilot, app, lambda: isinstance(app.screen, RadarScreen))
        app.screen.dismiss("ETHUSDT")  # what Enter on a row does
        await settle(pilot, app, lambda: not isinstance(app.screen, RadarScreen) and app.symbol == "ETH")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RadarScreen)  # Esc no longer goes back: backspace does
        await pilot.press("backspace")
        await settle(pilot, app, lambda: isinstance(app.screen, RadarScreen))
        await pilot.press("escape")  # the radar's own Esc still closes it
        await settle(pilot, app, lambda: not isinstance(app.screen, RadarScreen))
        rows = {d: k for k, d in app.help_rows()}
        assert rows[HELP_TEXT["radar"]] == "g" and rows[HELP_TEXT["radar_back"]] == app.get_key_display(
            Binding("backspace", "")
        )


def test_radar_keymap_conflicts_are_named():
    with pytest.raises(ValueError, match="key 'q' would trigger both quit and radar"):
        check_keymap({"radar": "q"})
    with pytest.raises(ValueError, match="key 'escape' would trigger both freeze and radar_back"):
        check_keymap({"freeze": "escape"})
    check_keymap({"radar": "R", "radar_back": "backspace"})


async def test_command_palette_offers_radar_back_only_from_the_radar(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    assert "radar" in [a for _, a, _ in app.command_list()]
    assert "radar_back" not in [a for _, a, _ in app.command_list()]
    app._from_radar = True
    assert "radar_back" in [a for _, a, _ in app.command_list()]


async def test_command_palette_lists_actions(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    titles = [t for t, _, _ in app.command_list()]
    assert "Lookback 6M" in titles and "Freeze the picture (data keeps flowing)" in titles
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.press(*"7d")
        await pilot.press("enter")
        await settle(pilot, app, lambda: app.lookback == "7d")


async def test_status_shows_venue_states(engine, frozen_clock):
    app = make_app(engine, frozen_clock)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        now = frozen_clock()
        for state, attempt, text in [
            (FeedState.STALE, 0, "binance ◐ stale"),
            (FeedState.RECONNECTING, 3, "binance ↻ reconnecting 3"),
            (FeedState.FAILED, 0, "binance ✖ failed"),
            (FeedState.LIVE, 0, "binance ● live"),
        ]:
            app._sink(
                FeedStatus(
                    venue=Venue.BINANCE,
                    symbol="BTCUSDT",
                    ts=now,
                    recv_ts=now + 42,
                    state=state,
                    attempt=attempt,
                )
            )
            await settle(pilot, app, lambda text=text: text in str(app.status.render()))
        price = engine.price
        app._sink(
            Trade(
                venue=Venue.BINANCE,
                symbol="BTCUSDT",
                ts=now,
                recv_ts=now + 42,
                price=price,
                qty=0.1,
                side=TakerSide.BUY,
            )
        )
        await settle(pilot, app, lambda: "lag 40ms" in str(app.status.render()))
        assert "bybit ↻ reconnecting 2" in str(app.status.render())


async def test_status_shows_oi_funding_errors_and_backfill(engine, frozen_clock):
    stats = {"binance": {"decode_errors": 3}, "bybit": {"decode_errors": 1}}
    app = make_app(engine, frozen_clock, stats=lambda: stats)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        status = str(app.status.render())
        assert f"OI {fmt_usd(engine.oi_usd_total)} {fmt_pct(engine.oi_change_pct_1h, 1)}" in status
        assert engine.oi_usd_total > 1e9 and engine.oi_change_pct_1h is not None
        assert f"fund {fmt_pct(engine.funding[Venue.BINANCE] * 100, 4)}" in status
        assert "decode errors 4" in status
        done = threading.Event()

        def from_thread():
            app.set_progress(3, 10, "klines")
            done.set()

        threading.Thread(target=from_thread).start()
        await settle(pilot, app, lambda: done.is_set() and "backfill 30% klines" in str(app.status.render()))
        assert app.query_one("#progress-row").display
        app.set_progress(10, 10, "done")
        await settle(pilot, app, lambda: "backfill" not in str(app.status.render()))
        assert not app.query_one("#progress-row").display


async def test_source_runs_in_a_worker_and_errors_are_shown(engine, frozen_clock):
    async def bad_source(sink):
        sink(FeedStatus(venue=Venue.OKX, symbol="BTC-USDT-SWAP", ts=1, recv_ts=1, state=FeedState.LIVE))
        raise ConnectionError("boom")

    app = make_app(engine, frozen_clock, source=bad_source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, lambda: "source stopped: ConnectionError: boom" in str(app.status.render()))
        assert "okx" in str(app.status.render())
        assert app.is_running


async def test_typed_symbol_goes_to_the_input_and_enter_takes_it(engine, frozen_clock):
    """Typing in the picker writes into the input (not the list); Enter takes the typed symbol even though
    BTC is highlighted in the list."""
    seen: list[str] = []
    app = make_app(engine, frozen_clock, on_symbol_change=seen.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await settle(pilot, app, lambda: isinstance(app.screen, TickerScreen))
        await pilot.press("s", "o", "l")
        assert app.screen.query_one(Input).value == "sol"
        await pilot.press("enter")
        await settle(pilot, app, lambda: app.symbol == "SOL")
        assert seen == ["SOL"]


async def test_picker_refuses_a_symbol_the_source_does_not_serve(engine, frozen_clock):
    seen: list[str] = []
    app = make_app(engine, frozen_clock, symbols=("BTC", "ETH", "SOL"), on_symbol_change=seen.append)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        await settle(pilot, app, lambda: isinstance(app.screen, TickerScreen))
        await pilot.press("d", "o", "g", "e", "enter")
        await settle(
            pilot, app, lambda: any("DOGE is not served" in str(n.message) for n in app._notifications)
        )
        assert isinstance(app.screen, TickerScreen) and app.symbol == "BTC" and seen == []
        assert "BTC, ETH, SOL" in str(app.screen.query_one("#ticker-error").render())
        app.screen.query_one(Input).value = ""
        await pilot.press("down", "enter")  # nothing typed: the highlighted entry
        await settle(pilot, app, lambda: app.symbol == "ETH")
        assert seen == ["ETH"]


@pytest.mark.parametrize("show_lag", [True, False])
async def test_lag_is_shown_only_for_a_wall_clock_feed(engine, frozen_clock, show_lag):
    """A demo at --speed 20 stamps events with its simulated clock, hours ahead of the wall clock: no lag."""
    app = make_app(engine, frozen_clock, show_lag=show_lag)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        now = frozen_clock()
        ahead = Trade(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=now + 5_688_810,
            recv_ts=now,
            price=engine.price,
            qty=0.1,
            side=TakerSide.BUY,
        )
        app._sink(ahead)
        app._tick()
        want = "lag -5688810ms" if show_lag else "lag —"
        await settle(pilot, app, lambda: want in str(app.status.render()))
