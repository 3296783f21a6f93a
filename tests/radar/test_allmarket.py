"""The Binance all-market feed against the demo exchange on 127.0.0.1 (a real server speaking the protocol,
its connection and subscription limits enforced)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from liqtui.core.radar import Radar
from liqtui.sim.server import DemoExchange
from liqtui.venues.binance.allmarket import ALL_STREAMS, BinanceAllMarket, WeightBudget, plan_connections
from tests.feeds.helpers import until

START_MS = 1_700_000_000_000


def test_streams_packed_into_as_few_connections_as_the_limit_allows() -> None:
    syms = [f"S{i}USDT" for i in range(2500)]
    plan = plan_connections(syms)
    assert [len(p) for p in plan] == [1024, 1024, 454]
    flat = [s for p in plan for s in p]
    assert len(flat) == len(set(flat)) == 2502
    assert plan[0][:2] == list(ALL_STREAMS)
    with pytest.raises(ValueError, match="max_streams"):
        plan_connections(syms, max_streams=2)


async def test_weight_budget_holds_requests_beyond_the_minute_budget() -> None:
    b = WeightBudget(120.0)  # two weight a second
    t0 = time.monotonic()
    for _ in range(120):
        await b.take(1)
    assert time.monotonic() - t0 < 0.4  # the first minute's budget is there at once
    await b.take(1)
    assert time.monotonic() - t0 >= 0.4  # the next weight waits for the refill (0.5 s)
    with pytest.raises(ValueError, match="weight per minute"):
        WeightBudget(0)


@contextlib.asynccontextmanager
async def _feed(demo: DemoExchange, radar: Radar, **kw) -> AsyncIterator[BinanceAllMarket]:
    feed = BinanceAllMarket(radar, demo.ws_url, demo.rest_url, weight_per_min=None, **kw)
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_every_symbol_on_few_connections_within_the_limits_then_a_listing_and_a_delisting() -> None:
    async with DemoExchange(seed=9, speed=20, start_ms=START_MS, history_days=1, multi_symbols=210) as demo:
        radar = Radar()
        # a small stream limit per connection, to see the packing and the paced SUBSCRIBE chunks at work
        async with _feed(demo, radar, max_streams=64, chunk=16, send_rate=8.0, refresh_s=3600) as feed:
            await until(lambda: len(feed.instruments) == 211, "the instrument list")
            assert len(feed.conns) == 4  # 2 + 211 streams over 64 per connection
            await until(
                lambda: sum(len(c.subs) for c in demo.clients) == 213, "every stream subscribed", timeout=60
            )
            assert len(demo.clients) == 4 and all(len(c.subs) <= 64 for c in demo.clients)
            await until(lambda: len(radar.rows()) == 211, "a price for every symbol", timeout=60)
            await until(lambda: len(feed.warmed) == 211, "every light model warmed up", timeout=90)
            assert feed.stats()["reconnects"] == 0 and feed.decoder.errors == 0
            await until(
                lambda: radar.counts["candles"] >= 211, "closed klines stepping the models", timeout=90
            )
            await until(lambda: radar.counts["liquidations"] > 0, "forced orders")

            # mid-run: one listing, one delisting, seen by the next refresh
            assert demo.multi is not None
            gone = demo.multi.symbols[5]
            demo.multi.list_symbol("NEWLISTUSDT", price=4.2)
            demo.multi.delist(gone)
            added, removed = await feed.refresh()
            assert added == ["NEWLISTUSDT"] and removed == [gone]
            stream = "newlistusdt@kline_1m"
            await until(lambda: any(stream in c.subs for c in demo.clients), "the listing subscribed")
            await until(
                lambda: not any(f"{gone.lower()}@kline_1m" in c.subs for c in demo.clients),
                "the delisting unsubscribed",
            )
            assert len(feed.conns) == 4 and all(len(c.subs) <= 64 for c in demo.clients)
            await until(lambda: "NEWLISTUSDT" in {r.symbol for r in radar.rows()}, "the listing's row")
            assert gone not in {r.symbol for r in radar.rows()}
            assert feed.stats()["reconnects"] == 0
