"""FeedManager against real local servers: every channel, faults, reconnects, failures, handover."""

from __future__ import annotations

import asyncio
import logging

import pytest

from liqtui.core.events import (
    Candle,
    FeedState,
    FundingRate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
    Venue,
)
from tests.feeds import frames as F
from tests.feeds.helpers import Collector, manager, running, until
from tests.feeds.servers import Abort, Close, ExchangeServer, Follow, Gate, Hub, Stall, Stream

T0 = 1_786_310_817_583


def bn_ticks(start: int = 1000) -> Stream:
    """An endless Binance aggTrade stream with consecutive ids from ``start``."""
    return Stream(lambda i: F.bn_agg_trade(start + i, 60000 + i % 7, 0.01, i % 2 == 0, T0 + i))


# -- every channel, per venue ------------------------------------------------------------------------
async def test_binance_all_channels_and_rest_oi() -> None:
    script = [
        F.bn_agg_trade(1, 60000.5, 0.25, True, T0),
        F.bn_agg_trade(2, 60001.0, 0.5, False, T0 + 1),
        F.bn_mark(T0 + 2, 60010.0, 60005.0, 0.0001),
        F.bn_kline(T0 - 60_000, 59990, 60020, 59980, 60000, 12.5, True),
        F.bn_force_order(T0 + 3, "SELL", 59950.0, 0.2),
        F.bn_force_order(T0 + 4, "BUY", 60050.0, 0.1),
    ]
    async with ExchangeServer("binance", [script], oi_base=81234.567) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        async with running(mgr):
            await until(
                lambda: sink.of(OpenInterest) and len(sink.of(Liquidation)) == 2, "all Binance events"
            )
        assert srv.conns[0].path == (
            "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s/btcusdt@kline_1m/btcusdt@forceOrder"
        )
    t1, t2 = sink.of(Trade)
    assert (t1.price, t1.qty, t1.side, t1.ts) == (60000.5, 0.25, TakerSide.SELL, T0)  # m=true: taker sold
    assert (t2.price, t2.side) == (60001.0, TakerSide.BUY)
    (mk,) = sink.of(MarkPrice)
    assert (mk.mark, mk.index, mk.funding_rate) == (60010.0, 60005.0, 0.0001)
    assert sink.of(FundingRate)[0].rate == 0.0001
    (k,) = sink.of(Candle)
    assert (k.open, k.high, k.low, k.close, k.volume, k.closed, k.interval_s) == (
        59990,
        60020,
        59980,
        60000,
        12.5,
        True,
        60,
    )
    l1, l2 = sink.of(Liquidation)
    assert (l1.side, l1.price, l1.qty) == (PositionSide.LONG, 59950.0, 0.2)  # forced SELL closed a long
    assert l2.side is PositionSide.SHORT
    oi = sink.of(OpenInterest)[0]
    assert oi.base == pytest.approx(81234.567) and oi.usd == pytest.approx(81234.567 * 60010.0)
    assert sink.states("binance")[:2] == [FeedState.CONNECTING, FeedState.LIVE]
    st = mgr.stats["binance"]
    assert st.frames >= 7 and st.decode_errors == 0 and st.rest_polls >= 1 and st.reconnects == 0


async def test_bybit_all_channels_snapshot_then_delta_and_pings() -> None:
    script = [
        F.bb_ticker_snapshot(T0, 100, 65117.44, 29945.866, 0.0001),
        F.bb_ticker_delta(T0 + 100, 101, markPrice="65120.00"),
        F.bb_ticker_delta(T0 + 200, 102, singleOpenInterest="29950.000", openInterest="59900.000"),
        F.bb_ticker_delta(T0 + 300, 103, fundingRate="0.00012"),
        F.bb_trades([("a-1", 65114.2, 0.004, "Sell", T0 + 5), ("a-2", 65114.3, 0.5, "Buy", T0 + 6)]),
        F.bb_liquidations([(T0 + 7, "Buy", 0.3, 64000.0), (T0 + 8, "Sell", 0.1, 66000.0)]),
        F.bb_kline(T0 - 60_000, 65100.0, 65130.0, 65090.0, 65114.3, 1.576, True),
    ]
    async with ExchangeServer("bybit", [script]) as srv:
        sink = Collector()
        mgr = manager([srv], ["bybit"], sink, ping_interval_s=0.02)
        async with running(mgr):
            await until(
                lambda: sink.of(Candle) and srv.conns and srv.conns[0].pings >= 2, "bybit events + pings"
            )
        sub = srv.conns[0].received[0]
    assert '"op":"subscribe"' in sub and "allLiquidation.BTCUSDT" in sub and "kline.1.BTCUSDT" in sub
    marks = sink.of(MarkPrice)
    assert [m.mark for m in marks] == [65117.44, 65120.0]
    # index and funding of the delta's mark come from the merged snapshot
    assert marks[1].funding_rate == 0.0001 and marks[1].index == pytest.approx(65118.44)
    ois = sink.of(OpenInterest)
    assert [o.base for o in ois] == [29945.866, 29950.0]  # singleOpenInterest, not the two-sided figure
    assert ois[1].usd == pytest.approx(29950.0 * 65120.0)  # priced at the merged (delta) mark
    assert [f.rate for f in sink.of(FundingRate)] == [0.0001, 0.00012]
    assert [(t.side, t.qty) for t in sink.of(Trade)] == [(TakerSide.SELL, 0.004), (TakerSide.BUY, 0.5)]
    liqs = sink.of(Liquidation)
    # S is the position side on Bybit
    assert [(x.side, x.price, x.qty) for x in liqs] == [
        (PositionSide.LONG, 64000.0, 0.3),
        (PositionSide.SHORT, 66000.0, 0.1),
    ]
    assert sink.of(Candle)[0].close == 65114.3 and sink.of(Candle)[0].closed
    assert mgr.stats["bybit"].decode_errors == 0 and mgr.decoders["bybit"].control >= 3  # ack + pongs


async def test_okx_two_connections_contract_size_liquidation_filter_and_text_ping() -> None:
    ct = 0.01
    public = [
        F.okx_mark(T0, 65000.0),
        F.okx_trades([("9001", 65001.5, 12, "buy", T0 + 1), ("9002", 65000.0, 3, "sell", T0 + 2)]),
        F.okx_oi(T0 + 3, 2_500_000, ct, 65000.0),
        F.okx_funding(T0 + 4, 0.00005),
        F.okx_liquidations(
            [
                ("ETH-USDT-SWAP", "sell", 3000.0, 50, T0 + 5),
                ("BTC-USDT-SWAP", "sell", 64000.0, 40, T0 + 6),
                ("BTC-USDT-SWAP", "buy", 66000.0, 7, T0 + 7),
            ]
        ),
    ]
    business = [F.okx_candle(T0 - 60_000, 64990, 65010, 64980, 65000, 3000, ct, True)]
    async with ExchangeServer(
        "okx", scripts_by_path={"/public": [public], "/business": [business]}, ct_val=ct
    ) as srv:
        sink = Collector()
        mgr = manager([srv], ["okx"], sink, ping_interval_s=0.02)
        async with running(mgr):
            await until(
                lambda: (
                    sink.of(Candle)
                    and len(sink.of(Liquidation)) == 2
                    and all(c.pings >= 2 for c in srv.conns)
                    and len(srv.conns) == 2
                ),
                "okx events + pings",
            )
        paths = sorted(c.path for c in srv.conns)
        assert paths == ["/ws/v5/business", "/ws/v5/public"]
        assert any("instId=BTC-USDT-SWAP" in h for h in srv.rest_hits)
    trades = sink.of(Trade)
    assert [(t.price, t.qty, t.side) for t in trades] == [
        (65001.5, pytest.approx(0.12), TakerSide.BUY),
        (65000.0, pytest.approx(0.03), TakerSide.SELL),
    ]
    (oi,) = sink.of(OpenInterest)
    assert oi.base == pytest.approx(25_000.0) and oi.usd == pytest.approx(25_000.0 * 65000.0)
    assert sink.of(FundingRate)[0].rate == 0.00005
    liqs = sink.of(Liquidation)  # the ETH one was filtered out
    assert [(x.side, x.price, x.qty) for x in liqs] == [
        (PositionSide.LONG, 64000.0, pytest.approx(0.4)),
        (PositionSide.SHORT, 66000.0, pytest.approx(0.07)),
    ]
    (c,) = sink.of(Candle)
    assert (c.close, c.volume, c.closed) == (65000.0, pytest.approx(30.0), True)
    assert mgr.decoders["okx"].ignored >= 1 and mgr.stats["okx"].decode_errors == 0


async def test_hyperliquid_trades_ctx_candles_and_ping() -> None:
    script = [
        F.hl_trades([(11, 105056.0, 0.00219, "B", T0), (12, 105055.0, 0.1, "A", T0 + 1)]),
        F.hl_ctx(105050.0, 12000.5, 0.0000125),
        F.hl_candle(T0 - 60_000, 105000, 105100, 104900, 105050, 3.5),
        F.hl_candle(T0, 105050, 105060, 105040, 105055, 0.2),
    ]
    async with ExchangeServer("hyperliquid", [script]) as srv:
        sink = Collector()
        mgr = manager([srv], ["hyperliquid"], sink, ping_interval_s=0.02)
        async with running(mgr):
            await until(lambda: len(sink.of(Candle)) == 3 and srv.conns[0].pings >= 2, "hyperliquid events")
        subs = srv.conns[0].received[:3]
    assert all('"method":"subscribe"' in s for s in subs)
    assert [(t.side, t.qty) for t in sink.of(Trade)] == [(TakerSide.BUY, 0.00219), (TakerSide.SELL, 0.1)]
    (oi,) = sink.of(OpenInterest)
    assert oi.base == 12000.5 and oi.usd == pytest.approx(12000.5 * 105050.0)
    assert sink.of(MarkPrice)[0].funding_rate == 0.0000125
    closed = [c for c in sink.of(Candle) if c.closed]
    assert len(closed) == 1 and closed[0].ts == T0 - 60_000  # closed when the next bar began


# -- faults: reconnect within 5 s, counters right ---------------------------------------------------
@pytest.mark.parametrize(
    ("ending", "reason"), [(Close(1001, "going away"), "server closed"), (Abort(), "connection lost")]
)
async def test_reconnects_after_server_close_or_abrupt_loss(ending, reason: str) -> None:
    first = [F.bn_agg_trade(1, 60000, 0.1, False, T0), ending]
    async with ExchangeServer("binance", [first, [bn_ticks(2)]]) as srv:
        sink = Collector()
        # production backoff (0.5 s base): the first retry after a drop comes within 5 s
        mgr = manager([srv], ["binance"], sink, backoff_base_s=0.5, backoff_cap_s=30.0)
        async with running(mgr):
            await until(lambda: len(sink.of(Trade)) >= 3, "trades after the reconnect", timeout=5.0)
    rec = sink.statuses(FeedState.RECONNECTING)
    assert rec and rec[0].attempt == 1 and reason in rec[0].reason
    assert mgr.stats["binance"].reconnects == 1 and len(srv.conns) == 2
    assert sink.states("binance")[-2:] == [FeedState.LIVE, FeedState.STOPPED]


async def test_stall_with_socket_open_goes_stale_then_reconnects() -> None:
    async with ExchangeServer(
        "bybit",
        [
            [F.bb_ticker_snapshot(T0, 1, 65000.0, 30000.0, 0.0001), Stall()],
            [F.bb_ticker_snapshot(T0 + 9, 2, 65001.0, 30001.0, 0.0001)],
        ],
    ) as srv:
        sink = Collector()
        mgr = manager([srv], ["bybit"], sink, stale_s=0.3)
        async with running(mgr):
            await until(lambda: len(sink.of(MarkPrice)) == 2, "data from the second connection", timeout=5.0)
    stale = sink.statuses(FeedState.STALE)
    assert stale and "no data" in stale[0].reason
    assert all('"op":"subscribe"' in c.received[0] for c in srv.conns)  # resubscribed after the reconnect
    assert mgr.stats["bybit"].stale >= 1 and mgr.stats["bybit"].reconnects >= 1
    assert [m.mark for m in sink.of(MarkPrice)] == [65000.0, 65001.0]  # the new snapshot was merged afresh


async def test_garbage_frames_are_counted_and_never_fatal(caplog: pytest.LogCaptureFixture) -> None:
    garbage = [
        "not json",
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"',
        "[1,2,3]",
        F.bn_agg_trade(5, 60000, 0.1, False, T0).replace('"p":"60000.00"', '"p":"abc"'),
        '{"stream":"btcusdt@bogus","data":{"e":"bogusEvent","E":1}}',
        "\x00\x01\xff",
    ]
    unused = (
        '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1}}'  # a documented stream we do not use
    )
    script = [
        F.bn_agg_trade(1, 60000, 0.1, False, T0),
        *garbage,
        unused,
        F.bn_agg_trade(2, 60001, 0.1, False, T0 + 1),
    ]
    async with ExchangeServer("binance", [script]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        with caplog.at_level(logging.WARNING, logger="liqtui.feeds"):
            async with running(mgr):
                await until(lambda: len(sink.of(Trade)) == 2, "the trade after the garbage")
    st = mgr.stats["binance"]
    assert st.decode_errors == len(garbage) and st.reconnects == 0
    kinds = mgr.decoders["binance"].error_kinds
    assert kinds["malformed"] == 3 and kinds["wrong_type"] == 2 and kinds["unexpected"] == 1
    assert mgr.decoders["binance"].ignored >= 1  # the depth frame: ignored, not an error
    assert any("binance" in r.getMessage() and "not json" in r.getMessage() for r in caplog.records)


async def test_duplicated_and_out_of_order_messages() -> None:
    ids = [1, 2, 2, 4, 3, 4, 5]
    script = [F.bn_agg_trade(i, 60000 + i, 0.1, False, T0 + i) for i in ids]
    async with ExchangeServer("binance", [script]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        async with running(mgr):
            await until(lambda: mgr.stats["binance"].frames >= len(ids), "all frames")
    assert [t.price - 60000 for t in sink.of(Trade)] == [1, 2, 4, 3, 5]
    dec = mgr.decoders["binance"]
    assert dec.duplicates == 2 and dec.out_of_order == 1 and dec.errors == 0


async def test_oversized_frame_is_counted_and_the_feed_reconnects() -> None:
    big = F.bn_agg_trade(1, 60000, 0.1, False, T0)[:-2] + ',"pad":"' + "x" * 5000 + '"}}'
    async with ExchangeServer("binance", [[big], [bn_ticks(2)]]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink, max_frame_bytes=2000)
        async with running(mgr):
            await until(lambda: len(sink.of(Trade)) >= 2, "trades after the oversized frame")
    st = mgr.stats["binance"]
    assert st.oversized == 1 and st.reconnects >= 1 and mgr.decoders["binance"].error_kinds["oversized"] == 1


async def test_backoff_grows_when_the_server_accepts_then_closes_and_then_fails() -> None:
    async with ExchangeServer("bybit", [[Close(1011, "overloaded")]]) as srv:
        sink = Collector()
        mgr = manager([srv], ["bybit"], sink, max_attempts=3)
        async with running(mgr):
            await until(lambda: FeedState.FAILED in sink.states(), "failure after max attempts")
    attempts = [s.attempt for s in sink.statuses(FeedState.RECONNECTING)]
    assert attempts == [1, 2, 3]
    (failed,) = sink.statuses(FeedState.FAILED)
    assert "gave up after 3 reconnect attempts" in failed.reason and "1011" in failed.reason
    assert len(srv.conns) == 4  # the first connection and three reconnects


async def test_unreachable_endpoint_retries_with_status() -> None:
    sink = Collector()
    from liqtui.feeds.connection import FeedManager
    from liqtui.feeds.endpoints import Endpoints

    ep = Endpoints.from_overrides(["hyperliquid=ws://127.0.0.1:9/ws"])  # discard port: connection refused
    mgr = FeedManager(
        ["hyperliquid"],
        "BTC",
        endpoints=ep,
        sink=sink,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
        max_attempts=2,
        seed=1,
    )
    async with running(mgr):
        await until(lambda: FeedState.FAILED in sink.states(), "failure")
    assert "connect failed" in sink.statuses(FeedState.RECONNECTING)[0].reason


# -- refusals: clear failure naming the symbol ---------------------------------------------------------
@pytest.mark.parametrize("venue", ["bybit", "okx", "hyperliquid", "binance"])
async def test_unknown_symbol_fails_with_a_clear_message(venue: str) -> None:
    async with ExchangeServer(venue, [[bn_ticks()]] if venue == "binance" else [[]]) as srv:
        sink = Collector()
        mgr = manager([srv], [venue], sink, symbol="NOPE")
        async with running(mgr):
            await until(lambda: FeedState.FAILED in sink.states(), f"{venue} failure")
    (failed,) = sink.statuses(FeedState.FAILED)
    assert "NOPE" in failed.reason, failed.reason
    assert mgr.stats[venue].reconnects == 0 and mgr.stats[venue].state is FeedState.FAILED


# -- several venues, one sink, raw hook -----------------------------------------------------------------
async def test_two_venues_into_one_sink_with_raw_hook() -> None:
    raw: list[tuple[str, str, int]] = []
    bn = [F.bn_mark(T0, 60000.0, 60000.0, 0.0001), F.bn_agg_trade(1, 60000, 0.1, False, T0)]
    bb = [F.bb_ticker_snapshot(T0, 1, 60010.0, 30000.0, 0.0001)]
    async with ExchangeServer("binance", [bn]) as s1, ExchangeServer("bybit", [bb]) as s2:
        sink = Collector()
        mgr = manager([s1, s2], ["binance", "bybit"], sink, on_raw=lambda v, t, ms: raw.append((v, t, ms)))
        async with running(mgr):
            await until(
                lambda: {o.venue for o in sink.of(OpenInterest)} == {Venue.BINANCE, Venue.BYBIT}, "OI of both"
            )
    by_venue = {o.venue: o.usd for o in sink.of(OpenInterest)}
    assert by_venue[Venue.BYBIT] == pytest.approx(30000.0 * 60010.0)
    assert by_venue[Venue.BINANCE] == pytest.approx(80000.0 * 60000.0)
    assert {v for v, _, _ in raw} == {"binance", "bybit"}
    assert any('"openInterest"' in t for v, t, _ in raw if v == "binance")  # REST bodies are recorded too
    # every frame reached the hook, REST bodies included (they count as frames)
    assert sum(1 for v, _, _ in raw if v == "binance") == mgr.stats["binance"].frames


async def test_two_venues_drive_one_engine() -> None:
    from liqtui.core.engine import Engine
    from liqtui.core.model import HeatModel

    engine = Engine(HeatModel(), symbol="BTC", reference=Venue.BINANCE)
    bn = [
        F.bn_mark(T0, 60000.0, 60000.0, 0.0001),
        F.bn_agg_trade(1, 60000, 0.1, False, T0),
        F.bn_force_order(T0, "SELL", 59000.0, 0.5),
    ]
    bb = [
        F.bb_ticker_snapshot(T0, 1, 60010.0, 30000.0, 0.0002),
        F.bb_trades([("z", 60020.0, 1.0, "Buy", T0)]),
        F.bb_liquidations([(T0 + 1, "Sell", 0.2, 61000.0)]),
    ]
    async with ExchangeServer("binance", [bn]) as s1, ExchangeServer("bybit", [bb]) as s2:
        mgr = manager([s1, s2], ["binance", "bybit"], engine.apply)
        async with running(mgr):
            await until(
                lambda: len(engine.oi_usd) == 2 and len(engine.liquidations) == 2, "both venues applied"
            )
    assert engine.oi_usd_total == pytest.approx(80000.0 * 60000.0 + 30000.0 * 60010.0)  # summed in USD
    assert engine.price == 60000.0  # the reference venue anchors the price, not Bybit's 60020
    assert {x.venue for x in engine.liquidations} == {Venue.BINANCE, Venue.BYBIT}
    assert engine.funding == {Venue.BINANCE: 0.0001, Venue.BYBIT: 0.0002}


# -- Binance 24 h cap: the successor opens before the old connection closes --------------------------
async def test_age_cap_handover_is_gapless_and_deduplicated() -> None:
    hub = Hub(lambda k: F.bn_agg_trade(k + 1, 60000, 0.01, False, T0 + k + 1), interval_s=0.002)
    async with ExchangeServer("binance", [[Follow(hub)]]) as srv:
        hub.start()
        sink = Collector()
        mgr = manager([srv], ["binance"], sink, max_age_s=0.3, stale_s=5.0)
        try:
            async with running(mgr):
                await until(lambda: len(srv.conns) >= 4 and len(sink.of(Trade)) > 300, "three handovers")
        finally:
            await hub.stop()
    ids = [t.ts - T0 for t in sink.of(Trade)]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap, no duplicate across the handovers
    st = mgr.stats["binance"]
    assert st.reconnects == 0 and FeedState.RECONNECTING not in sink.states()
    assert st.overlap_dropped > 0  # both connections delivered the same frames for a moment


async def test_cancel_emits_stopped_and_closes_sockets() -> None:
    gate = asyncio.Event()
    async with ExchangeServer("binance", [[F.bn_agg_trade(1, 60000, 0.1, False, T0), Gate(gate)]]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        async with running(mgr):
            await until(lambda: sink.of(Trade), "first trade")
        gate.set()
        await until(lambda: all(c.received is not None for c in srv.conns), "server side")
    assert sink.states()[-1] is FeedState.STOPPED and mgr.stats["binance"].state is FeedState.STOPPED


async def test_failing_sink_or_raw_hook_never_stops_the_feed() -> None:
    def bad_raw(venue: str, text: str, ms: int) -> None:
        raise OSError("disk full")

    good = Collector()

    def flaky_sink(ev) -> None:
        good(ev)
        if isinstance(ev, Trade) and ev.ts == T0:
            raise RuntimeError("engine bug")

    script = [F.bn_agg_trade(i, 60000, 0.1, False, T0 + i - 1) for i in (1, 2, 3)]
    async with ExchangeServer("binance", [script]) as srv:
        mgr = manager([srv], ["binance"], flaky_sink, on_raw=bad_raw)
        async with running(mgr):
            await until(lambda: len(good.of(Trade)) == 3, "all trades despite the failures")
    st = mgr.stats["binance"]
    assert st.sink_errors == 1 and st.raw_errors >= 3 and st.reconnects == 0
    assert st.state is FeedState.STOPPED
