"""The Hyperliquid all-market feed against a local Hyperliquid server (subscription, message, connection, weight
and keepalive limits enforced by the server), plus a real asset context decoded when the recordings are
present."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liqtui.core.radar import Radar, RadarTable
from liqtui.venues.base import Backoff
from liqtui.venues.hyperliquid.allmarket import HyperliquidAllMarket, HyperliquidAllMarketDecoder, parse_meta
from tests.feeds.helpers import until
from tests.radar.hl_server import HlServer

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"


@contextlib.asynccontextmanager
async def _running(feed: HyperliquidAllMarket) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(feed.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_meta_drops_delisted_coins_and_names_a_bad_answer() -> None:
    body = json.dumps([
        {"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "OLD", "isDelisted": True}, {"name": "ETH"}]},
        [{"markPx": "100.5", "openInterest": "12.0", "funding": "0.0001", "prevDayPx": "99.0"},
         {"markPx": "1.0", "openInterest": "0.0"}, {"markPx": "10.0", "openInterest": "3.5", "midPx": None}],
    ])  # fmt: skip
    ctxs = parse_meta(body)
    assert list(ctxs) == ["BTC", "ETH"]
    assert ctxs["BTC"].markPx == 100.5 and ctxs["BTC"].openInterest == 12.0 and ctxs["BTC"].prevDayPx == 99.0
    with pytest.raises(ValueError, match="metaAndAssetCtxs"):
        parse_meta('{"universe": []}')
    with pytest.raises(ValueError, match="2 coins but 1 contexts"):
        parse_meta('[{"universe": [{"name": "A"}, {"name": "B"}]}, [{}]]')


def _feed(ex: HlServer, radar: Radar, **kw: object) -> HyperliquidAllMarket:
    opts: dict = {
        "meta_poll_s": 0.5, "weight_per_min": 300.0, "weight_window_s": 2.5, "max_subscriptions": 30,
        "subs_per_conn": 12, "messages_per_min": 25, "message_window_s": 2.5, "connect_limit": (2, 1.0),
        "backoff": Backoff(0.05, 0.5),
    }  # fmt: skip
    opts.update(kw)
    return HyperliquidAllMarket(radar, ex.ws_url, ex.rest_url, **opts)


async def test_hl_every_coin_within_the_limits_listing_delisting_bad_frames_and_a_reconnect() -> None:
    coins = [f"C{i:02d}" for i in range(32)]
    async with HlServer(
        coins, max_conns=4, connect_limit=6, connect_window_s=2.0, max_subs=30, msg_limit=40, msg_window_s=2.0,
        weight_limit=400, weight_window_s=2.0,
    ) as ex:  # fmt: skip
        radar = Radar("hyperliquid")
        feed = _feed(ex, radar)
        async with _running(feed):
            await until(lambda: len(feed.instruments) == 32, "the universe")
            # allMids and 29 coins' candles fill the 30 subscriptions, 12 a connection; 3 coins wait
            assert [len(c.coins) for c in feed.conns] == [12, 12, 6] and feed.conns[0].coins[0] is None
            assert feed.no_candles == coins[29:] and feed.stats()["candles_unsubscribed"] == 3
            await until(lambda: ex.total_subs() == 30, "every subscription acknowledged", 60)
            await until(lambda: feed.decoder.acks == 30, "an ack per subscription")
            await until(lambda: len(radar.rows()) == 32, "a row per coin (marks from the meta poll)")
            await until(lambda: len(feed.warmed) == 32, "every light model warmed up", 60)
            await until(lambda: radar.counts["candles"] >= 29, "closed candles stepping the models", 60)
            await until(lambda: feed.meta_polls >= 3 and radar.counts["oi"] >= 3 * 32, "meta polls: OI")
            assert radar.symbols["C01"].oi_base == 1e5 + 1
            st = feed.stats()
            assert st["decode_errors"] == 0 and st["exchange_errors"] == 0 and st["reconnects"] == 0
            assert st["realized_liquidations"].startswith("unavailable") and radar.counts["liquidations"] == 0
            assert ex.violations == [] and ex.connections == 3

            ranked = RadarTable().view(radar.rows())
            scores = [r.score for r in ranked]
            assert scores == sorted(scores, reverse=True) and scores[0] > 0
            assert ranked[0].venue == "hyperliquid" and all(r.liq_1h_usd == 0 for r in ranked)

            # mid-run: a subscribed coin delisted (flagged in the universe), a new one listed
            gone = coins[3]
            ex.delisted.add(gone)
            ex.coins.append("NEW")
            await until(
                lambda: gone not in feed.instruments and "NEW" in feed.instruments, "the next meta poll"
            )
            await until(lambda: not ex.subscribed(gone), "the delisting unsubscribed")
            # the freed subscription goes to the first coin that was waiting beyond the cap
            await until(lambda: ex.subscribed(coins[29]), "a waiting coin subscribed")
            assert feed.no_candles == [*coins[30:], "NEW"] and ex.total_subs() <= 30
            await until(lambda: "NEW" in {r.symbol for r in radar.rows()}, "the listing's row")
            assert gone not in {r.symbol for r in radar.rows()}
            await until(lambda: len(feed.warmed) == 32, "the listing warmed up")

            # malformed frames and an exchange error: counted, logged, never fatal
            n = len(ex.clients)
            await ex.inject("{not json")
            await ex.inject('{"channel":"candle","data":{"t":1,"s":"C01","i":"1m","o":"x"}}')
            await ex.inject('{"channel":"error","data":"Invalid subscription {\\"type\\":\\"candle\\"}"}')
            await until(lambda: feed.stats()["decode_errors"] == 2 * n, "the malformed frames counted")
            await until(lambda: feed.stats()["exchange_errors"] == n, "the error pushes counted")
            assert "Invalid subscription" in feed.stats()["last_exchange_error"]
            frames = feed.decoder.frames
            await until(lambda: feed.decoder.frames > frames + 30, "frames still flowing")
            assert feed.stats()["reconnects"] == 0

            # every connection dropped: back with backoff, within the connection and message limits
            await ex.drop_all()
            await until(lambda: feed.stats()["reconnects"] >= 3, "every connection redone", 60)
            await until(lambda: ex.total_subs() == 30, "every subscription again", 60)
            assert ex.violations == [] and ex.connections == 6


async def test_hl_keepalive_pings_a_quiet_connection() -> None:
    async with HlServer(["A", "B"], push=False, idle_s=1.5) as ex:
        feed = HyperliquidAllMarket(Radar("hyperliquid"), ex.ws_url, ex.rest_url, weight_per_min=None,
                                    ping_interval_s=0.25, warmup=False, meta_poll_s=3600)  # fmt: skip
        async with _running(feed):
            await until(lambda: len(ex.clients) == 1, "the connection")
            await until(lambda: len(ex.clients) == 1 and all(c.pings >= 6 for c in ex.clients), "pings", 30)
            assert ex.idle_closes == 0 and feed.stats()["reconnects"] == 0
            assert feed.decoder.control >= 6 and feed.decoder.errors == 0


async def test_hl_rest_budget_holds_the_weight_within_the_window() -> None:
    """A budget smaller than the warm-ups need: requests wait for the window, the server never answers 429."""
    coins = [f"W{i}" for i in range(8)]
    async with HlServer(coins, weight_limit=100, weight_window_s=1.0) as ex:
        feed = _feed(ex, Radar("hyperliquid"), weight_per_min=84.0, weight_window_s=1.2, meta_poll_s=3600)
        async with _running(feed):
            await until(lambda: len(feed.warmed) == 8, "every coin warmed up within the budget", 60)
            # 20 (meta) + 8 × 21 (candles, counted at most: 20 + one per 60 rows) = 188: three windows of 84
            assert (
                ex.weight_used == 180
                and feed.budget.used == 188
                and ex.violations == []
                and feed.rest_errors == 0
            )


async def test_the_hl_server_refuses_a_client_over_the_message_limit() -> None:
    """The local server's limit is real: a client that sends too fast is cut off."""
    from websockets.asyncio.client import connect

    async with HlServer(["A"], msg_limit=5, msg_window_s=10.0) as ex:
        async with connect(ex.ws_url) as ws:
            for _ in range(6):
                await ws.send('{"method":"ping"}')
            await until(lambda: bool(ex.violations), "the breach seen")


# -- real Hyperliquid data ---------------------------------------------------------------------------------------
def test_real_hyperliquid_asset_context_reads_as_a_meta_context() -> None:
    """``activeAssetCtx`` pushes the same context object that ``metaAndAssetCtxs`` lists per coin."""
    path = REAL / "tardis_node_mapper_samples.jsonl"
    if not path.exists():
        pytest.skip(f"{path} absent")
    from tests.feeds.realdata import tardis

    ctxs = [
        r["msg"]["data"]
        for r in tardis(path)
        if r["exchange"] == "hyperliquid" and r["channel"] == "activeAssetCtx"
    ]
    assert ctxs
    for c in ctxs:
        parsed = parse_meta(json.dumps([{"universe": [{"name": c["coin"]}]}, [c["ctx"]]]))
        got = parsed[c["coin"]]
        assert got.markPx == float(c["ctx"]["markPx"]) and got.openInterest == float(c["ctx"]["openInterest"])
        assert got.prevDayPx == float(c["ctx"]["prevDayPx"]) and got.funding == float(c["ctx"]["funding"])


def test_real_hyperliquid_frames_of_other_channels_are_counted_not_fatal() -> None:
    path = REAL / "hyperliquid_btc_l2book_trades_20250126_hftbacktest.txt.gz"
    if not path.exists():
        pytest.skip(f"{path} absent")
    from tests.feeds.realdata import hftbacktest

    radar = Radar("hyperliquid")
    radar.set_instruments(["BTC"])
    dec = HyperliquidAllMarketDecoder(radar)
    frames = [f for _, f in hftbacktest(path)]
    for f in frames:
        dec.decode(f, 0)
    assert dec.frames == len(frames) and dec.error_kinds["malformed"] == 0
    assert (
        dec.error_kinds["unexpected"] == len(frames) - dec.control
    )  # l2Book/trades: not the radar's channels
