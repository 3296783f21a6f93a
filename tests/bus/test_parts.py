"""The pieces of desk mode that need no server: payloads, the liquidations table, the flags."""

from __future__ import annotations

import asyncio
import sqlite3

import msgspec
import numpy as np
import pytest

from liqtui.__main__ import main
from liqtui.bus import BusOptions, CollectOptions, subject, symbol_filter
from liqtui.bus.codec import VERSION, Batch, History, decode, encode_batch, encode_history, history_bars
from liqtui.bus.publisher import Publisher
from liqtui.core.events import Liquidation, PositionSide, TakerSide, Trade, Venue
from liqtui.core.model import BAR_DTYPE
from liqtui.history.store import Store, StoreWriter


def _liq(ts: int, side: PositionSide = PositionSide.LONG, usd: float = 1000.0) -> Liquidation:
    return Liquidation(
        venue=Venue.BINANCE,
        symbol="BTCUSDT",
        ts=ts,
        recv_ts=ts + 5,
        side=side,
        price=50_000.0,
        qty=usd / 5e4,
        usd=usd,
    )


def test_batches_and_history_round_trip() -> None:
    evs = [
        Trade(
            venue=Venue.OKX, symbol="BTC-USDT-SWAP", ts=1, recv_ts=2, price=1.5, qty=2.0, side=TakerSide.SELL
        ),
        _liq(3),
    ]
    got = decode(encode_batch(evs))
    assert isinstance(got, Batch) and got.v == VERSION and got.events == evs
    bars = np.zeros(3, dtype=BAR_DTYPE)
    bars["ts"] = [60_000, 120_000, 180_000]
    bars["close"] = [1.0, 2.0, 3.0]
    h = decode(
        encode_history(
            bars, venue="binance", symbol="BTC", venues=["binance"], snapshot="s", part=0, parts=1, until_ts=9
        )
    )
    assert isinstance(h, History) and (h.first_ts, h.last_ts, h.until_ts) == (60_000, 180_000, 9)
    assert np.array_equal(history_bars(h), bars)


def test_a_newer_payload_version_is_skipped_and_garbage_is_an_error() -> None:
    newer = msgspec.msgpack.encode({"type": "batch", "v": VERSION + 1, "events": [], "more": 1})
    assert decode(newer) is None
    with pytest.raises(msgspec.DecodeError):
        decode(b"\x01not a payload")


def test_subjects_name_venue_ticker_kind() -> None:
    assert subject("okx", "btc", "trade") == "liqtui.v1.okx.BTC.trade"
    assert symbol_filter("eth") == "liqtui.v1.*.ETH.>"
    pub = Publisher.__new__(Publisher)
    pub._tickers = {}
    ev = Trade(
        venue=Venue.OKX, symbol="BTC-USDT-SWAP", ts=1, recv_ts=2, price=1.0, qty=1.0, side=TakerSide.BUY
    )
    assert pub._subject(ev) == "liqtui.v1.okx.BTC.trade"


def test_liquidations_are_stored_once_read_in_order_and_pruned(tmp_path) -> None:
    now = 1_790_000_000_000
    with Store(tmp_path / "s.sqlite3") as st:
        w = StoreWriter(st)
        for ts in (now - 3000, now - 1000, now - 2000):
            w.on_event(_liq(ts))
        w.on_event(_liq(now - 1000))  # the same liquidation heard twice (a collector and a screen)
        w.flush()
        st.write_liquidations([_liq(now - 500, PositionSide.SHORT, 7.0)])
        got = st.read_liquidations("binance", "BTCUSDT", 0, now + 1)
        assert [e.ts for e in got] == [now - 3000, now - 2000, now - 1000, now - 500]
        assert got[-1].side is PositionSide.SHORT and got[-1].usd == 7.0
        assert [e.ts for e in st.read_liquidations("binance", "BTCUSDT", 0, now + 1, limit=2)] == [
            now - 1000,
            now - 500,
        ]
        # the bars still add up every one heard (their sums are per minute, not per liquidation)
        st.prune(1, now_ms=now + 2 * 86_400_000)
        assert st.read_liquidations("binance", "BTCUSDT", 0, now + 1) == []


def test_a_store_made_before_the_liquidations_table_gains_it_on_open(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    with Store(path):
        pass
    db = sqlite3.connect(path)
    db.execute("DROP TABLE liquidations")
    db.commit()
    db.close()
    with Store(path) as st:
        assert st.read_liquidations("binance", "BTCUSDT", 0, 2**62) == []
        st.write_liquidations([_liq(5)])
        assert len(st.read_liquidations("binance", "BTCUSDT", 0, 10)) == 1


def test_bus_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        BusOptions(max_age_days=0)
    with pytest.raises(ValueError, match="lookback"):
        CollectOptions(lookback="2d")
    assert BusOptions(url="nats://a:1, tls://b:2").servers() == ["nats://a:1", "tls://b:2"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["collect", "--demo", "--symbols", "DOGE", "--seconds", "1"], "--symbols"),
        (["collect", "--bus", "http://x:1", "--seconds", "1"], "--bus"),
        (
            ["collect", "--demo", "--bus", "nats://127.0.0.1:1", "--bus-creds", "/nonexistent.creds"],
            "--bus-creds",
        ),
        (["collect", "--no-store"], "--no-store"),
        (["zones", "--bus", "nats://h:99999", "--seconds", "1"], "--bus"),
        (["zones", "--bus", "nats://127.0.0.1:4222", "--bus-tls-ca", "/nonexistent.pem"], "--bus-tls-ca"),
        (["collect", "--bus-max-age-days", "-1"], "--bus-max-age-days"),
    ],
)
def test_bad_desk_flags_exit_2_naming_the_flag(argv, named, capsys) -> None:
    with pytest.raises(SystemExit) if "--bus-max-age-days" in argv else _nothing():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


async def test_a_cancel_swallowed_by_a_client_wait_still_stops_the_loop() -> None:
    """nats-py waits for replies with asyncio.wait_for, which on Python 3.11 loses a cancellation that arrives
    in the same loop turn as the reply; the bus loops check the task's pending cancel themselves."""
    from liqtui.bus.client import stop_if_cancelled

    futs: list[asyncio.Future[int]] = []
    rounds = 0

    async def client_loop() -> None:
        nonlocal rounds
        loop = asyncio.get_running_loop()
        while True:
            fut: asyncio.Future[int] = loop.create_future()
            futs.append(fut)
            await asyncio.wait_for(fut, timeout=30)  # what nats-py's request does
            rounds += 1
            stop_if_cancelled()

    task = asyncio.create_task(client_loop())
    while not futs:
        await asyncio.sleep(0)
    futs[-1].set_result(1)  # the reply and the cancel in the same turn
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done and task.cancelled()
    assert rounds <= 1


def _publish_trades(pub: Publisher, sent: int, n: int) -> int:
    """Hand ``n`` trades to the publisher, timestamps continuing from ``sent``; returns the new count."""
    for i in range(n):
        ts = 1_790_000_000_000 + sent + i
        pub(Trade(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, price=60_000.0 + i, qty=0.01,
                  side=TakerSide.BUY))  # fmt: skip
    return sent + n


async def test_flush_beside_the_run_loop_publishes_each_batch_once(nats_server) -> None:
    """flush() and the run loop both drain the outbox: one drain at a time, each batch acknowledged once
    (two drains used to take the same head twice and then pop a batch nobody had published)."""
    from liqtui.bus.client import BusLink, ensure_stream

    from .helpers import read_stream, until

    opts = BusOptions(url=nats_server.url)
    link = BusLink(opts, name="test publisher")
    pub = Publisher(link, opts, flush_s=0.001)
    await link.open()
    await ensure_stream(link.js, opts)
    runner = asyncio.create_task(pub.run())
    try:
        sent = 0
        for round_ in range(40):
            sent = _publish_trades(pub, sent, 250)
            if round_ % 2:
                await pub.flush()
            else:
                await asyncio.sleep(0)
        await pub.flush()
        await until(lambda: pub.stats.acked == sent, "every event acknowledged")
        assert not runner.done()
    finally:
        runner.cancel()
        done, _ = await asyncio.wait({runner}, timeout=10)
        assert runner in done
        await link.close()
    events, _ = await read_stream(nats_server.url)
    assert [e.ts for e in events] == [1_790_000_000_000 + k for k in range(sent)]
    assert pub.stats.dropped == 0 and pub.stats.acked == len(events)


async def test_a_full_outbox_drops_the_oldest_batches_and_says_how_many(nats_server) -> None:
    """The bus away for long: the outbox keeps to its byte budget by dropping the oldest batches (counted),
    and what is left goes out once the bus is back."""
    from liqtui.bus.client import BusLink

    opts = BusOptions(url=nats_server.url)
    link = BusLink(opts, name="test publisher")
    pub = Publisher(link, opts, max_pending_bytes=20_000)
    sent = 0
    for _ in range(30):
        sent = _publish_trades(pub, sent, 100)
        pub._cut()  # a flush interval passes with the bus unreachable
    assert pub.stats.dropped > 0
    assert pub._outbox_bytes <= 20_000
    await link.open()
    runner = asyncio.create_task(pub.run())
    try:
        await pub.flush()
    finally:
        runner.cancel()
        await asyncio.wait({runner}, timeout=10)
        await link.close()
    assert pub.stats.acked + pub.stats.dropped == sent
    from .helpers import read_stream

    events, _ = await read_stream(nats_server.url)
    # the newest survived, in order
    assert [e.ts for e in events] == [1_790_000_000_000 + k for k in range(sent - len(events), sent)]
