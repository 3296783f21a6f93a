"""Desk-mode benchmarks on a real nats-server (skipped, with the reason on stderr, when it is not installed).

* ``bus_events_per_s``: events through the bus — the collector's :class:`~liqtui.bus.publisher.Publisher`
  (batched, each batch acknowledged by JetStream) to a screen's :class:`~liqtui.bus.reader.BusFeed` applying them
  to an :class:`~liqtui.core.engine.Engine` — per second of wall time from the first publish to the last event
  applied; ``ratio`` is against the in-process path (the same events applied to an engine directly).
* ``bus_start_s``: a screen's start from the bus — connect, replay the collector's history snapshot and events,
  the model stepped — until its history is loaded; ``ratio`` against ``rest_start_s``, the same source kind's
  start from the REST backfill of the same lookback (the demo exchange on 127.0.0.1, no rate limit: real venues
  are slower still).
* ``store_open_s``: a live source opened from the collector's store (checkpoint, bars, realized liquidations).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from liqtui.bus import BusOptions
from liqtui.core.engine import Engine
from liqtui.core.events import MarketEvent, MarkPrice, TakerSide, Trade, Venue
from liqtui.core.model import HeatModel


def _events(n: int) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    t0 = 1_790_000_000_000
    for i in range(n):
        ts = t0 + i
        p = 60_000 + (i * 7919 % 2000) / 10
        if i % 50 == 49:
            out.append(MarkPrice(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, mark=p))
        else:
            side = TakerSide.BUY if i % 3 else TakerSide.SELL
            out.append(
                Trade(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, price=p, qty=0.01, side=side)
            )
    return out


def _in_process(events: list[MarketEvent]) -> float:
    best = float("inf")
    for _ in range(3):
        eng = Engine(HeatModel(), symbol="BTC", reference="binance")
        t0 = time.perf_counter()
        for ev in events:
            eng.apply(ev)
        best = min(best, time.perf_counter() - t0)
    return len(events) / best


async def _through_bus(url: str, events: list[MarketEvent]) -> float:
    from liqtui.bus.client import BusLink
    from liqtui.bus.publisher import Publisher
    from liqtui.bus.reader import BusFeed

    opts = BusOptions(url=url, stream="BENCH")
    link = BusLink(opts, name="bench publisher")
    pub = Publisher(link, opts)
    await link.open()
    runner = asyncio.create_task(pub.run())
    eng = Engine(HeatModel(), symbol="BTC", reference="binance")
    got = 0
    done = asyncio.Event()

    def sink(ev: MarketEvent) -> None:
        nonlocal got
        eng.apply(ev)
        if type(ev) is not Trade and type(ev) is not MarkPrice:
            return
        got += 1
        if got == len(events):
            done.set()

    # the screen is already following (its replay of an empty stream is done) before the first publish
    await link.connected.wait()
    from liqtui.bus.client import ensure_stream

    await ensure_stream(link.js, opts)
    pub(events[0])
    await pub.flush()
    feed = BusFeed(opts, ticker="BTC", venues=["binance"], engine=eng, sink=sink, start_ms=0)
    reader = asyncio.create_task(feed.run())
    await asyncio.wait_for(feed.loaded.wait(), 30)
    got = 1  # the first event (replayed or not) is not timed
    t0 = time.perf_counter()
    for ev in events[1:]:
        pub(ev)
        if pub.stats.events % 2000 == 0:
            await asyncio.sleep(0)  # the publisher and reader run as the collector's loop would let them
    await asyncio.wait_for(done.wait(), 300)
    took = time.perf_counter() - t0
    for t in (reader, runner):
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await link.js.delete_stream("BENCH")  # its subjects are the collector's stream's, measured next
    await link.close()
    return (len(events) - 1) / took


async def _starts(url: str, tmp: Path, lookback: str) -> tuple[float, float, float, int]:
    from liqtui.commands.collect import Collector
    from liqtui.config import load_config
    from liqtui.history.store import Store
    from liqtui.sources import Source

    bus = BusOptions(url=url)
    cfg = msgspec.structs.replace(load_config(None), bus=bus)

    async def start(src: Source) -> float:
        t0 = time.perf_counter()
        task = asyncio.create_task(src(src.engine.apply))
        await asyncio.wait_for(src.history_loaded.wait(), 300)
        took = time.perf_counter() - t0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return took

    # REST: the demo source backfills the lookback from the demo exchange's REST API
    rest = await start(Source.from_config("demo", cfg, history_lookback=lookback, seed=1, speed=1.0))
    store = Store(tmp / "demo.sqlite3")
    col = Collector(
        cfg, symbols=["BTC"], demo=True, store=store, lookback=lookback, bus=bus, seed=1, speed=1.0
    )
    run = asyncio.create_task(col.run())
    pub = col.publisher
    from liqtui.bus.publisher import HISTORY_CHUNK

    deadline = time.monotonic() + 300
    while not (pub.stats.history_bars and pub.stats.history_acked * HISTORY_CHUNK >= pub.stats.history_bars):
        if run.done() or time.monotonic() > deadline:
            raise RuntimeError(f"the collector did not publish its history: {col.summary()}")
        await asyncio.sleep(0.05)
    bars = pub.stats.history_bars
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    store.close()
    from_bus = await start(Source.from_config("bus", cfg, history_lookback=lookback))
    t0 = time.perf_counter()
    with Store(tmp / "demo.sqlite3") as st:
        Source.from_config("live", cfg, store=st, history_lookback=lookback)
        opened = time.perf_counter() - t0
    return from_bus, rest, opened, bars


def run(quick: bool = False) -> list[dict[str, Any]]:
    nats = shutil.which("nats-server")
    if nats is None:
        print(
            "# bench_bus skipped: nats-server is not installed (apt-get install nats-server)", file=sys.stderr
        )
        return []
    try:
        import nats as _client  # noqa: F401
    except ImportError:
        print(
            "# bench_bus skipped: the nats-py client is not installed (pip install 'liqtui[bus]')",
            file=sys.stderr,
        )
        return []
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.bus.conftest import NatsServer

    n = 50_000 if quick else 200_000
    lookback = "1d" if quick else "7d"
    events = _events(n)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = NatsServer(Path(tmp) / "js")
        srv.start()
        try:
            inproc = _in_process(events)
            bus = asyncio.run(_through_bus(srv.url, events))
            rows.append({"name": "bus_events_per_s", "value": round(bus), "unit": "events/s",
                         "ratio": round(bus / inproc, 4), "baseline": round(inproc)})  # fmt: skip
            from_bus, rest, opened, bars = asyncio.run(_starts(srv.url, Path(tmp), lookback))
            rows.append({"name": "bus_start_s", "value": round(from_bus, 3), "unit": "s",
                         "ratio": round(from_bus / rest, 3), "baseline": round(rest, 3),
                         "lookback": lookback, "bars": bars})  # fmt: skip
            rows.append({"name": "rest_start_s", "value": round(rest, 3), "unit": "s", "lookback": lookback})
            rows.append(
                {"name": "store_open_s", "value": round(opened, 3), "unit": "s", "lookback": lookback}
            )
        finally:
            srv.stop()
    return rows
