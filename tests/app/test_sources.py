"""Source: the one path from an exchange (here the demo exchange on 127.0.0.1) to the engine."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from liqtui.core.events import Candle, TakerSide, Trade, Venue
from liqtui.sources import Source, _CandleGate


async def test_demo_source_loads_history_with_candles_then_goes_live():
    src = Source("demo", history_lookback="7d", seed=5)
    events = []

    def sink(ev):
        events.append(ev)
        src.engine.apply(ev)

    await src.collect(sink, seconds=1.0)
    assert src.history_loaded.is_set()
    assert src.backfill_bars > 0 and not src.notes
    candles = list(src.engine.candles)
    assert candles, "the backfill must leave candles for the klines overlay"
    span_days = (candles[-1].ts - candles[0].ts) / 86_400_000
    assert span_days > 5, f"candles cover only {span_days:.1f} days of a 7d lookback"
    assert [c.ts for c in candles] == sorted(c.ts for c in candles)
    assert src.totals()["frames"] > 0 and src.totals()["decode_errors"] == 0
    assert any(isinstance(e, Trade) for e in events)
    rep = src.engine.model.zones("7d")
    assert rep.above or rep.below


def _candle(ts: int) -> Candle:
    return Candle(
        venue=Venue.BINANCE,
        symbol="BTCUSDT",
        ts=ts,
        recv_ts=ts,
        interval_s=60,
        open=1.0,
        high=1.0,
        low=1.0,
        close=1.0,
        volume=1.0,
        closed=True,
    )


def test_candle_gate_holds_closed_candles_until_history_is_in():
    out = []
    gate = _CandleGate(out.append)
    trade = Trade(
        venue=Venue.BINANCE, symbol="BTCUSDT", ts=1, recv_ts=1, price=1.0, qty=1.0, side=TakerSide.BUY
    )
    gate(trade)
    gate(_candle(60_000))
    gate(_candle(120_000))
    assert out == [trade]  # live prices flow at once, bars wait
    gate.open(after_ts=60_000)  # the backfill covered up to the bar opening at 60 000
    assert [e.ts for e in out[1:]] == [120_000]
    gate(_candle(180_000))
    assert [e.ts for e in out[1:]] == [120_000, 180_000]


def test_source_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="live, demo, replay"):
        Source("paper")  # type: ignore[arg-type]


async def test_replay_source_follows_the_recording(tmp_path):
    rec = tmp_path / "r.jsonl"
    frame = (
        '{"stream":"ethusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"ETHUSDT","a":1,"p":"3000.5","q":"2",'
        '"f":1,"l":1,"T":1000,"m":false}}'
    )
    rec.write_text("".join(_line(1000 + i, frame) + "\n" for i in range(3)))
    src = Source("replay", replay_path=str(rec), speed=0.0)
    await asyncio.wait_for(src(src.engine.apply), timeout=30)
    assert src.symbol == "ETH" and src.engine.price == 3000.5
    assert src.totals()["frames"] == 3


def _line(ts: int, frame: str) -> str:
    import json

    return json.dumps({"ts": ts, "exchange": "binance", "frame": frame})


async def test_a_failed_backfill_is_said_and_the_progress_bar_taken_down():
    """No exchange answers (a closed port): the note says the heatmap builds from live data, nothing crashes."""
    import socket

    from liqtui.feeds.endpoints import Endpoints

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = Endpoints.from_overrides(
        {"binance": f"ws://127.0.0.1:{port}/market", "binance.rest": f"http://127.0.0.1:{port}"}
    )
    src = Source("live", endpoints=ep, history_lookback="12h")
    said, progress = [], []
    src.on_note = said.append
    src.progress = lambda done, total, text: progress.append((done, total, text))
    await asyncio.wait_for(src.collect(src.engine.apply, 0.2), timeout=60)
    assert any("backfill failed" in n and "live data only" in n for n in said), said
    assert progress and progress[-1][0] >= progress[-1][1]  # the last report closes the bar


def test_a_restart_from_the_store_keeps_the_candles_and_open_interest(tmp_path):
    """Live with a store: the model comes back from the stored bars and so do the klines overlay and OI chart."""
    import time

    import numpy as np

    from liqtui.history.store import Store, empty_bars

    now = int(time.time() // 60 * 60_000)
    n = 3 * 1440  # three days of minute bars up to now
    b = empty_bars(n)
    b["ts"] = now - 60_000 * (n - np.arange(n)) - 60_000
    b["interval_s"] = 60
    price = 80_000 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 5e-4, n)))
    b["open"], b["close"] = price, price * 1.0002
    b["high"], b["low"] = price * 1.001, price * 0.999
    b["volume"], b["quote_volume"], b["taker_buy_volume"] = 10.0, 10.0 * price, 5.0
    b["oi_usd"] = np.linspace(5e9, 6e9, n)
    store = Store(tmp_path / "s.sqlite3")
    store.write_bars("binance", "BTCUSDT", b)
    try:
        src = Source("live", store=store, backfill=False)
        assert any("rebuilt from the store" in note for note in src.notes), src.notes
        assert src.engine.model.last_ts >= int(b["ts"][-2])
        candles = list(src.engine.candles)
        assert candles and (candles[-1].ts - candles[0].ts) > 2 * 86_400_000
        assert len(src.engine.oi_history) > 24 * 60  # the last day at a minute, older hourly
    finally:
        store.close()


def test_demo_serves_only_the_symbols_the_simulator_configures():
    from liqtui.sim.market import DEFAULT_PRICES
    from liqtui.sources import DEMO_SYMBOLS, SourceError

    assert DEMO_SYMBOLS == ("BTC", "ETH", "SOL")
    assert all(f"{s}USDT" in DEFAULT_PRICES for s in DEMO_SYMBOLS)
    for s in DEMO_SYMBOLS:
        assert Source("demo", symbol=s).symbols == DEMO_SYMBOLS
    with pytest.raises(SourceError, match="XYZ: the demo exchange simulates BTC, ETH, SOL only"):
        Source("demo", symbol="XYZ")
    assert Source("live", symbol="XYZ").symbols is None  # live venues say for themselves


def test_demo_speed_limit_is_the_demo_exchanges():
    """The CLI's --speed limit (config.DEMO_SPEED) lies inside the range DemoExchange accepts, and its floor
    keeps the demo's mark price ticking faster than the feed's stale limit."""
    from liqtui.config import DEMO_SPEED
    from liqtui.sim.server import DemoExchange

    DemoExchange(speed=DEMO_SPEED.hi)
    assert 0.05 not in DEMO_SPEED and 1e-6 not in DEMO_SPEED
    DemoExchange(speed=DEMO_SPEED.lo)
    from liqtui.venues import adapter

    mark_limit_s = min(s for spec in adapter("binance").conn_specs("BTC", "ws://x") for _, s in spec.ticks)
    assert 1.0 / DEMO_SPEED.lo < mark_limit_s  # market seconds per mark price, in wall seconds
    for bad in (DEMO_SPEED.hi * 1.0001, float("inf"), float("nan")):
        assert bad not in DEMO_SPEED
        with pytest.raises(ValueError, match="speed"):
            DemoExchange(speed=bad)


def test_lag_is_meaningful_only_where_the_feed_runs_on_the_wall_clock():
    assert Source("live").wall_clock
    assert Source("demo", speed=1.0).wall_clock
    assert not Source("demo", speed=20.0).wall_clock


def test_engine_changes_through_its_own_methods():
    from liqtui.core.engine import Engine
    from liqtui.core.model import HeatModel

    engine = Engine(HeatModel(), symbol="BTC")
    v = engine.version
    other = HeatModel()
    engine.replace_model(other)
    assert engine.model is other and engine.version == v + 1
    engine.tick(0)  # the new model's version is already known: no spurious change
    assert engine.version == v + 1
    engine.set_symbol("ETH")
    engine.set_symbol("ETH")
    assert engine.symbol == "ETH" and engine.version == v + 2
    engine.touch()
    assert engine.version == v + 3


def _book_followers(src: Source) -> int:
    """Connections subscribed to the demo exchange's depth stream."""
    demo = src.demo
    return sum(demo.depth.stream in c.routes for c in demo.clients)


@pytest.mark.parametrize("books", [True, False])
async def test_books_false_opens_no_book_connection(books):
    """``books=False`` (what ``liqtui record`` asks): the trade feeds only, no order-book connection."""
    from tests.feeds.helpers import until

    src = Source("demo", history_lookback="12h", seed=3, speed=5.0, backfill=False, books=books)
    task = asyncio.create_task(src(src.engine.apply))
    try:
        await until(lambda: src.demo is not None and src.demo.clients, "the demo exchange with a client", 60)
        if books:
            await until(lambda: _book_followers(src) == 1, "the book connection", 30)
            await until(lambda: src.engine.depth.states().get("binance") == "live", "a live book", 30)
        else:
            await until(lambda: src.totals()["frames"] >= 30, "30 trade-feed frames", 60)
            assert _book_followers(src) == 0 and src.engine.depth.states() == {}
            assert "book" not in src.stats()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_record_follows_no_order_book(tmp_path, monkeypatch):
    """``liqtui record`` records the trade feeds' frames; it opens no order-book feed (whose connection and REST
    snapshots it would pay for without recording them)."""
    import liqtui.commands.record as record_cmd
    from liqtui.cli import overrides_from_args, parse_args
    from liqtui.config import load_config

    made: list[Source] = []

    class Spy(Source):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(record_cmd, "Source", Spy)
    monkeypatch.setenv("LIQTUI_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LIQTUI_CONFIG", raising=False)
    out = tmp_path / "rec.jsonl"
    ns = parse_args(["record", str(out), "--demo", "--speed", "5", "--duration", "3"])
    assert record_cmd.run_record(ns, load_config(None, overrides_from_args(ns))) == 0
    (src,) = made
    assert not src.books_on and "book" not in src.stats() and src.engine.depth.states() == {}
    lines = out.read_text().splitlines()
    assert lines and not any("@depth" in line for line in lines)
