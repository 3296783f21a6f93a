"""The Bybit all-market feed against a local Bybit v5 server (topic and request limits enforced)."""

from __future__ import annotations

import asyncio
import contextlib

from liqtui.core.radar import Radar
from liqtui.venues.bybit.allmarket import ARGS_PER_REQUEST, BybitAllMarket
from tests.feeds.helpers import until
from tests.radar.bybit_server import MAX_ARGS, BybitServer


async def test_bybit_every_symbol_over_several_connections_then_a_listing_and_a_delisting() -> None:
    syms = [f"C{i:03d}USDT" for i in range(130)]
    assert ARGS_PER_REQUEST <= MAX_ARGS
    async with BybitServer(syms, max_topics=150, page=50) as ex:
        radar = Radar("bybit")
        feed = BybitAllMarket(
            radar,
            ex.ws_url,
            ex.rest_url,
            requests_per_min=None,
            send_rate=20.0,
            refresh_s=3600,
            max_topics=150,
        )
        task = asyncio.create_task(feed.run())
        try:
            await until(lambda: len(feed.instruments) == 130, "every page of the instrument list")
            assert "BTCUSD" not in feed.instruments  # inverse contracts are not followed
            assert len(feed.conns) == 3  # 390 topics, 150 a connection
            await until(lambda: sum(len(c.topics) for c in ex.clients) == 390, "every topic subscribed", 60)
            assert all(c.refused == 0 and len(c.topics) <= 150 for c in ex.clients)
            await until(lambda: len(radar.rows()) == 130, "a row per symbol", 60)
            await until(lambda: len(feed.warmed) == 130, "every light model warmed up", 60)
            await until(lambda: radar.counts["candles"] >= 130, "closed bars stepping the models", 60)
            await until(
                lambda: radar.counts["liquidations"] > 0 and radar.counts["oi"] >= 130, "liquidations, OI"
            )
            assert feed.decoder.errors == 0
            row = radar.row("C001USDT")
            assert row.venue == "bybit" and row.price > 0 and row.squeeze_pct is not None

            gone = syms[7]
            ex.symbols.remove(gone)
            ex.symbols.append("NEWBYUSDT")
            added, removed = await feed.refresh()
            assert added == ["NEWBYUSDT"] and removed == [gone]
            await until(
                lambda: any("tickers.NEWBYUSDT" in c.topics for c in ex.clients), "the listing subscribed"
            )
            await until(
                lambda: not any(f"tickers.{gone}" in c.topics for c in ex.clients), "the delisting dropped"
            )
            await until(lambda: "NEWBYUSDT" in {r.symbol for r in radar.rows()}, "the listing's row")
            assert gone not in {r.symbol for r in radar.rows()}
            assert all(c.refused == 0 for c in ex.clients)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
