"""The radar's venues come from the registry: every adapter with an all-market feed, and ``liqtui radar --json
--exchange okx|hyperliquid`` against local exchanges speaking those venues' protocols."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from liqtui.__main__ import main
from liqtui.core.events import Venue
from liqtui.core.radar import Radar
from liqtui.venues import ADAPTERS, Adapter, allmarket_feed, allmarket_venues, register, unregister
from liqtui.venues.hyperliquid.allmarket import HyperliquidAllMarket
from liqtui.venues.okx.allmarket import OkxAllMarket
from tests.radar.hl_server import HlServer
from tests.radar.okx_server import OkxServer


def test_the_radar_venues_are_the_adapters_with_an_all_market_feed() -> None:
    assert allmarket_venues() == ("binance", "bybit", "okx", "hyperliquid")
    assert all(ADAPTERS[v].allmarket is not None for v in allmarket_venues())
    feed = allmarket_feed(
        "okx", Radar("okx"), "ws://127.0.0.1:9/ws/v5/public", "http://127.0.0.1:9", local=True
    )
    assert isinstance(feed, OkxAllMarket) and feed.rest.limit is None  # a local exchange: no REST budget
    assert feed.business_url == "ws://127.0.0.1:9/ws/v5/business"
    live = allmarket_feed(Venue.HYPERLIQUID, Radar("hyperliquid"), "wss://h/ws", "https://h")
    assert isinstance(live, HyperliquidAllMarket) and live.budget.limit == 600.0  # half the documented 1,200


def test_a_venue_without_an_all_market_feed_is_not_on_the_radar() -> None:
    class NoRadar(Adapter):
        venue = Venue.BINANCE
        default_ws = "ws://127.0.0.1:9"
        default_rest = "http://127.0.0.1:9"

        @property
        def name(self) -> str:
            return "noradar"

    register(NoRadar())
    try:
        assert "noradar" not in allmarket_venues()
        with pytest.raises(
            ValueError, match="noradar has no all-market feed; the radar covers binance, bybit"
        ):
            allmarket_feed("noradar", Radar(), "ws://x", "http://x")
    finally:
        unregister("noradar")


def _run_cli(serve: Callable[[], Awaitable[int]], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    rc = asyncio.run(serve())
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, json.loads(out.out)


def test_radar_json_on_okx(capsys: pytest.CaptureFixture[str]) -> None:
    syms = [f"K{i:02d}-USDT-SWAP" for i in range(25)]

    async def serve() -> int:
        async with OkxServer(syms) as ex:
            argv = ["radar", "--json", "--exchange", "okx", "--seconds", "4", "--no-store",
                    "--endpoint", f"okx={ex.ws_url}", "--endpoint", f"okx.rest={ex.rest_url}"]  # fmt: skip
            rc = await asyncio.to_thread(main, argv)
            assert ex.violations == []
            return rc

    rc, doc = _run_cli(serve, capsys)
    assert rc == 0 and len(doc["rows"]) == 25 and doc["stats"]["venue"] == "okx"
    assert {r["symbol"] for r in doc["rows"]} == set(syms) and all(r["venue"] == "okx" for r in doc["rows"])
    assert doc["stats"]["decode_errors"] == 0 and doc["stats"]["connections"] == 2
    liq = {r["symbol"]: r["liq_1h_usd"] for r in doc["rows"]}
    assert all(isinstance(v, int | float) for v in liq.values()) and liq["K00-USDT-SWAP"] > 0


def test_radar_json_on_hyperliquid_says_liquidations_are_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    coins = [f"H{i:02d}" for i in range(25)]

    async def serve() -> int:
        async with HlServer(coins) as ex:
            argv = ["radar", "--json", "--exchange", "hyperliquid", "--seconds", "4", "--no-store",
                    "--endpoint", f"hyperliquid={ex.ws_url}", "--endpoint", f"hyperliquid.rest={ex.rest_url}"]  # fmt: skip
            rc = await asyncio.to_thread(main, argv)
            assert ex.violations == []
            return rc

    rc, doc = _run_cli(serve, capsys)
    assert rc == 0 and len(doc["rows"]) == 25 and doc["stats"]["venue"] == "hyperliquid"
    assert all(r["venue"] == "hyperliquid" and r["price"] > 0 for r in doc["rows"])
    assert all(r["liq_1h_usd"] is None for r in doc["rows"])  # unknown, not zero
    assert (
        doc["stats"]["realized_liquidations"].startswith("unavailable") and doc["stats"]["decode_errors"] == 0
    )


def test_radar_demo_with_another_venue_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["radar", "--json", "--demo", "--exchange", "hyperliquid", "--seconds", "1", "--no-store"])
    err = capsys.readouterr().err
    assert rc == 2 and "--exchange hyperliquid: the demo and the radar screen speak binance" in err
    assert "--endpoint hyperliquid=WS_URL" in err and "Traceback" not in err


def test_the_radar_screen_watches_the_first_followed_venue_with_an_all_market_feed() -> None:
    from liqtui.sources import Source
    from liqtui.ui.radar import radar_venue, source_endpoints

    live = Source("live", symbol="ETH", venues=["okx", "binance"])
    assert radar_venue(live) == "okx"
    assert source_endpoints(live) == (live.endpoints.ws_url("okx"), live.endpoints.rest_url("okx"))
    assert radar_venue(Source("live", symbol="ETH", venues=["hyperliquid"])) == "hyperliquid"
    assert radar_venue(Source("live", symbol="ETH", venues=["binance", "okx"])) == "binance"
    assert radar_venue(Source("demo", symbol="BTC", venues=["binance", "hyperliquid"])) == "binance"
    assert radar_venue(None) == "binance"
