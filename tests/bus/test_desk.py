"""Desk mode end to end on a real nats-server: a collector on the demo exchange publishes, screens replay and
follow, the server restarts mid-run, and nothing JetStream acknowledged is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import pytest

from liqtui.bus import BusOptions
from liqtui.commands.collect import Collector
from liqtui.config import load_config
from liqtui.core.events import FeedState, FeedStatus, Liquidation, Venue
from liqtui.core.model import BAR_DTYPE
from liqtui.headless import _Driver, collect_zones, zones_document
from liqtui.history.store import Store
from liqtui.sources import Source

from .helpers import read_stream, until

pytestmark = pytest.mark.timeout(180)


def _setup(url: str, tmp_path, *, speed: float = 1000.0, seed: int = 5):
    bus = BusOptions(url=url)
    cfg = msgspec.structs.replace(load_config(None), bus=bus)
    store = Store(tmp_path / "demo.sqlite3")
    col = Collector(
        cfg, symbols=["BTC"], demo=True, store=store, lookback="1d", bus=bus, seed=seed, speed=speed
    )
    return cfg, bus, store, col


class _Screen:
    """A headless screen on the bus: a bus Source, the zones driver, every status it was shown."""

    def __init__(self, bus: BusOptions) -> None:
        self.src = Source("bus", symbol="BTC", venues=["binance"], bus=bus, history_lookback="1d")
        self.driver = _Driver(self.src.engine)
        self.statuses: list[FeedStatus] = []
        self.task: asyncio.Task[None] | None = None

    def sink(self, ev) -> None:
        if isinstance(ev, FeedStatus):
            self.statuses.append(ev)
        self.driver(ev)

    def start(self) -> None:
        self.task = asyncio.create_task(self.src(self.sink))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    @property
    def seq(self) -> int:
        feed = self.src._bus_feed
        return 0 if feed is None else feed.last_seq

    def zones(self) -> dict:
        return zones_document(self.src.engine, lookback="1d", top=5)


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _same_zones(a: dict, b: dict) -> None:
    for key in ("price", "above", "below", "totals", "ts"):
        assert a[key] == b[key], key


async def _last_seq(url: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info("LIQTUI")).state.last_seq)
    finally:
        await nc.close()


async def test_collector_publishes_and_screens_agree_live_and_later(nats_server, tmp_path) -> None:
    _cfg, bus, store, col = _setup(nats_server.url, tmp_path)
    early = _Screen(bus)
    early.start()  # a screen waiting on the bus before the collector has published anything
    run = asyncio.create_task(col.run())
    try:
        pub = col.publisher
        await until(lambda: pub.stats.history_acked > 0, "the history snapshot acked")
        candles = col.sources[0].engine.counters
        await until(lambda: candles.get("candles", 0) >= 20, "20 live candles through the collector")
        await until(lambda: early.src.history_loaded.is_set(), "the early screen caught up")
        live_before = early.driver.events
        await until(lambda: early.driver.events > live_before + 100, "the early screen follows live events")
    finally:
        await _stop(run)
    store.close()
    last = await _last_seq(nats_server.url)
    await until(lambda: early.seq == last, "the early screen has read the whole stream")
    await early.stop()

    # a screen started after the collector stopped replays everything from the stream
    late = await collect_zones("bus", bus=bus, seconds=0.2, lookback="1d", symbol="BTC")
    again = await collect_zones("bus", bus=bus, seconds=0.2, lookback="1d", symbol="BTC")
    assert late["above"] and late["below"], late
    _same_zones(late, again)
    _same_zones(early.zones(), late)
    events, hist = await read_stream(nats_server.url)
    assert late["stats"]["events"] == again["stats"]["events"] == early.driver.events
    assert late["stats"]["events"] == sum(1 for e in events if not isinstance(e, FeedStatus))
    # the collector's history snapshot is on the stream, whole (a day of 1m bars)
    assert (
        sum(len(h.bars) for h in hist)
        == pub.stats.history_bars * BAR_DTYPE.itemsize
        >= 1000 * BAR_DTYPE.itemsize
    )
    assert pub.stats.events == pub.stats.acked  # everything heard was acknowledged


async def test_server_restart_loses_nothing_acknowledged(nats_server, tmp_path) -> None:
    _cfg, bus, store, col = _setup(nats_server.url, tmp_path)
    screen = _Screen(bus)
    screen.start()
    run = asyncio.create_task(col.run())
    pub = col.publisher
    try:
        await until(lambda: pub.stats.acked > 3000, "3000 events acknowledged")
        acked_before = pub.stats.acked
        await asyncio.to_thread(nats_server.restart)  # SIGKILL, then the same port and store
        await until(lambda: pub.stats.acked > acked_before + 3000, "3000 more acknowledged after the restart")
        await until(
            lambda: any(s.state is FeedState.RECONNECTING and "bus" in s.reason for s in screen.statuses),
            "the screen shows the bus going away",
        )
        await until(lambda: screen.src.engine.status[Venue.BINANCE].state is FeedState.LIVE, "back to live")
    finally:
        await _stop(run)
    store.close()
    events, _ = await read_stream(nats_server.url)
    assert pub.stats.dropped == 0
    # everything the collector heard was acknowledged, and every acknowledged event is in the stream once
    assert pub.stats.acked == pub.stats.events
    assert len(events) == pub.stats.acked
    assert col.link.reconnects >= 1  # the restart was felt (batches not acknowledged went again, same ids)
    # the screen that lived through the restart saw each of them once, in order
    last = await _last_seq(nats_server.url)
    await until(lambda: screen.seq == last, "the screen has read the whole stream")
    await screen.stop()
    assert screen.driver.events == sum(1 for e in events if not isinstance(e, FeedStatus))


async def test_screen_opens_from_the_collectors_store_with_its_liquidations(nats_server, tmp_path) -> None:
    cfg, _bus, store, col = _setup(nats_server.url, tmp_path, seed=11)
    run = asyncio.create_task(col.run())
    try:
        eng = col.sources[0].engine
        await until(lambda: eng.counters.get("liquidations", 0) >= 3, "three realized liquidations heard", 90)
    finally:
        await _stop(run)
    heard = [e for e in col.sources[0].engine.liquidations]
    store.close()
    t0 = time.perf_counter()
    with Store(tmp_path / "demo.sqlite3") as st:
        src = Source.from_config("live", cfg, store=st, history_lookback="1d")
        took = time.perf_counter() - t0
        assert src.engine.model.last_ts > 0
        tape = list(src.engine.liquidations)
    assert took < 1.0, f"opening from the store took {took:.2f} s"
    assert [(e.ts, e.side, e.price, e.qty) for e in tape] == [(e.ts, e.side, e.price, e.qty) for e in heard]
    assert all(isinstance(e, Liquidation) for e in tape)
