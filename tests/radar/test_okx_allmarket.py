"""The OKX all-market feed against a local OKX v5 server (connection, request and keepalive limits enforced by
the server), plus real OKX frames decoded when the recordings are present."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from liqtui.core.events import Liquidation, PositionSide
from liqtui.core.radar import Radar, RadarTable
from liqtui.venues.base import Backoff
from liqtui.venues.limits import SlidingWindow
from liqtui.venues.okx.allmarket import (
    LIQUIDATION_ARG,
    OkxAllMarket,
    OkxAllMarketDecoder,
    parse_swaps,
    subscribe_requests,
)
from tests.feeds.helpers import until
from tests.radar.okx_server import CT_VAL, OkxServer

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"


def test_sliding_window_never_lets_more_than_the_limit_into_any_window() -> None:
    now = [0.0]
    w = SlidingWindow(3, 10.0, clock=lambda: now[0])
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        assert w.take()
    assert not w.take() and w.wait_s() == pytest.approx(8.0)  # until the first leaves the window
    now[0] = 9.99
    assert not w.take()  # the first three are still inside the window
    now[0] = 10.0
    assert w.take() and not w.take()  # exactly one left the window
    w.hold(5.0)
    assert w.wait_s() == pytest.approx(5.0)
    assert SlidingWindow(None, 1.0).take(1e9)
    with pytest.raises(ValueError, match="rate limit"):
        SlidingWindow(0, 1.0)
    with pytest.raises(ValueError, match="never fit"):
        SlidingWindow(3, 10.0).wait_s(4)


def test_subscribe_requests_batch_args_within_the_byte_limit() -> None:
    args = [{"channel": "mark-price", "instId": f"C{i:03d}-USDT-SWAP"} for i in range(100)]
    reqs = subscribe_requests("subscribe", args, max_bytes=600)
    assert all(len(r) <= 600 for r in reqs) and len(reqs) > 1
    back = [a for r in reqs for a in json.loads(r)["args"]]
    assert back == args and all(json.loads(r)["op"] == "subscribe" for r in reqs)
    assert len(subscribe_requests("subscribe", args)) == 2  # 4 KB each by default
    with pytest.raises(ValueError, match="max_request_bytes"):
        subscribe_requests("subscribe", args, max_bytes=40)


def test_instruments_keep_live_usdt_linear_swaps_only() -> None:
    body = {"code": "0", "data": [
        {"instId": "BTC-USDT-SWAP", "settleCcy": "USDT", "ctVal": "0.01", "ctType": "linear", "state": "live"},
        {"instId": "BTC-USD-SWAP", "settleCcy": "BTC", "ctVal": "100", "ctType": "inverse", "state": "live"},
        {"instId": "OLD-USDT-SWAP", "settleCcy": "USDT", "ctVal": "1", "ctType": "linear", "state": "suspend"},
        {"instId": "BAD-USDT-SWAP", "settleCcy": "USDT", "ctVal": "", "ctType": "linear", "state": "live"},
    ]}  # fmt: skip
    assert parse_swaps(body) == {"BTC-USDT-SWAP": 0.01}
    with pytest.raises(ValueError, match="instruments"):
        parse_swaps({"code": "50011", "msg": "Too Many Requests"})


@contextlib.asynccontextmanager
async def _running(feed: OkxAllMarket) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(feed.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _all_subscribed(ex: OkxServer, symbols: list[str]) -> bool:
    return ex.subscribed("liquidation-orders", "SWAP") and all(
        ex.subscribed("mark-price", s) and ex.subscribed("candle1m", s) for s in symbols
    )


async def test_okx_every_swap_within_the_limits_listing_delisting_bad_frames_and_a_reconnect() -> None:
    syms = [f"C{i:02d}-USDT-SWAP" for i in range(30)]
    async with OkxServer(
        syms,
        max_args=12,
        max_request_bytes=300,
        sub_limit=6,
        sub_window_s=2.0,
        connect_limit=3,
        rest_limit=20,
    ) as ex:
        radar = Radar("okx")
        feed = OkxAllMarket(
            radar, ex.ws_url, ex.rest_url, rest_per_2s=16, max_args=12, max_request_bytes=300,
            subscribe_limit=(5, 2.5), connects_per_s=2, refresh_s=3600, oi_poll_s=1.0,
            backoff=Backoff(0.05, 0.5),
        )  # fmt: skip
        async with _running(feed):
            await until(lambda: len(feed.instruments) == 30, "the instrument list")
            assert "BTC-USD-SWAP" not in feed.instruments and "OLD-USDT-SWAP" not in feed.instruments
            assert feed.contracts["C01-USDT-SWAP"] == CT_VAL
            # public: the liquidation arg and 30 marks; business: 30 candles; 12 a connection
            assert [(c.kind, len(c.args)) for c in feed.conns] == [
                ("public", 12), ("public", 12), ("public", 7), ("business", 12), ("business", 12), ("business", 6)
            ]  # fmt: skip
            assert feed.conns[0].args[0] == LIQUIDATION_ARG
            await until(lambda: _all_subscribed(ex, syms), "every arg subscribed", 60)
            await until(lambda: feed.decoder.acks == 61, "an ack per arg")
            await until(lambda: len(radar.rows()) == 30, "a row per swap", 60)
            await until(lambda: len(feed.warmed) == 30, "every light model warmed up", 60)
            await until(lambda: radar.counts["candles"] >= 30, "closed candles stepping the models", 60)
            await until(
                lambda: radar.counts["liquidations"] > 0 and radar.counts["oi"] >= 30, "liquidations, OI"
            )
            assert feed.decoder.ignored > 0  # the inverse swap's liquidations are not on a USDT radar
            liq = radar.symbols["C00-USDT-SWAP"].liqs[-1]
            assert liq[1] == pytest.approx(
                30 * CT_VAL * ex.price("C00-USDT-SWAP")
            )  # contracts × ctVal × bkPx
            st = feed.stats()
            assert st["decode_errors"] == 0 and st["exchange_errors"] == 0 and st["reconnects"] == 0
            assert ex.violations == [] and ex.connections == 6

            table = RadarTable()
            ranked = table.view(radar.rows())
            scores = [r.score for r in ranked]
            assert scores == sorted(scores, reverse=True) and scores[0] > 0
            assert ranked[0].venue == "okx" and ranked[0].squeeze_pct is not None

            # mid-run: a listing and a delisting, seen by the next refresh
            gone = syms[4]
            ex.symbols.remove(gone)
            ex.symbols.append("NEW-USDT-SWAP")
            added, removed = await feed.refresh()
            assert added == ["NEW-USDT-SWAP"] and removed == [gone]
            await until(
                lambda: (
                    ex.subscribed("mark-price", "NEW-USDT-SWAP")
                    and ex.subscribed("candle1m", "NEW-USDT-SWAP")
                ),
                "the listing subscribed",
            )
            await until(
                lambda: not ex.subscribed("mark-price", gone) and not ex.subscribed("candle1m", gone),
                "the delisting unsubscribed",
            )
            await until(lambda: "NEW-USDT-SWAP" in {r.symbol for r in radar.rows()}, "the listing's row")
            assert gone not in {r.symbol for r in radar.rows()} and gone not in feed.contracts
            assert len(feed.conns) == 6 and ex.violations == []

            # malformed frames and an exchange error: counted, logged, never fatal
            n = len(ex.clients)
            await ex.inject("{not json")
            await ex.inject('{"arg":{"channel":"mark-price","instId":"C01-USDT-SWAP"},"data":[{"instId":"C01-USDT-SWAP","markPx":"-1","ts":"1"}]}')  # fmt: skip
            await ex.inject('{"event":"error","code":"60018","msg":"Wrong URL or channel:candle1m,instId:X doesn\'t exist.","connId":"t"}')  # fmt: skip
            await until(lambda: feed.stats()["decode_errors"] == 2 * n, "the malformed frames counted")
            await until(lambda: feed.stats()["exchange_errors"] == n, "the error frames counted")
            assert feed.stats()["last_exchange_error"].startswith("60018: Wrong URL")
            frames = feed.decoder.frames
            await until(lambda: feed.decoder.frames > frames + 50, "frames still flowing")
            assert feed.stats()["reconnects"] == 0

            # every connection dropped: back with backoff, paced within the connection limit, all args again
            await ex.drop_all()
            await until(lambda: feed.stats()["reconnects"] >= 6, "every connection redone", 60)
            want = [s for s in ex.symbols]
            await until(lambda: _all_subscribed(ex, want), "every arg subscribed again", 60)
            assert ex.violations == [] and ex.connections == 12


async def test_okx_subscribe_requests_wait_for_the_connections_allowance() -> None:
    """Small requests, a small allowance: the feed spreads its requests over several windows (the server cuts
    a connection that sends more than 3 a second; the feed keeps to 2)."""
    syms = [f"R{i:02d}-USDT-SWAP" for i in range(20)]
    async with OkxServer(syms, max_request_bytes=200, sub_limit=3, sub_window_s=1.0) as ex:
        feed = OkxAllMarket(Radar("okx"), ex.ws_url, ex.rest_url, rest_per_2s=None, max_request_bytes=200,
                            subscribe_limit=(2, 1.0), warmup=False, refresh_s=3600)  # fmt: skip
        async with _running(feed):
            await until(lambda: _all_subscribed(ex, syms), "every arg subscribed", 60)
            assert feed.stats()["requests_sent"] >= 10  # about 4 args a request
            assert ex.violations == [] and feed.stats()["reconnects"] == 0 and feed.decoder.errors == 0


async def test_okx_keepalive_pings_a_quiet_connection() -> None:
    syms = [f"Q{i}-USDT-SWAP" for i in range(3)]
    async with OkxServer(syms, push=False, idle_s=1.5) as ex:
        feed = OkxAllMarket(Radar("okx"), ex.ws_url, ex.rest_url, rest_per_2s=None, ping_interval_s=0.25,
                            warmup=False, refresh_s=3600)  # fmt: skip
        async with _running(feed):
            await until(lambda: len(ex.clients) == 2, "both connections")
            # 6 pings a connection: the server's 1.5 s silence limit has passed many times over
            await until(lambda: len(ex.clients) == 2 and all(c.pings >= 6 for c in ex.clients), "pings", 30)
            assert ex.idle_closes == 0 and feed.stats()["reconnects"] == 0
            assert feed.decoder.control >= 6 and feed.decoder.errors == 0  # the pongs


async def test_the_okx_server_refuses_a_client_over_the_connection_limit() -> None:
    """The local server's limit is real: a client that opens connections too fast is refused."""
    async with OkxServer(["A-USDT-SWAP"], connect_limit=3) as ex:
        refused = 0
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(5):
                try:
                    await stack.enter_async_context(connect(ex.ws_url))
                except InvalidStatus:
                    refused += 1
        assert refused >= 1 and ex.violations


# -- real OKX frames ------------------------------------------------------------------------------------------------
class _Spy(Radar):
    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.seen: list[Liquidation] = []

    def on_liquidation(self, liq: Liquidation) -> None:
        self.seen.append(liq)
        super().on_liquidation(liq)


def _tardis_okx() -> list[dict]:
    path = REAL / "tardis_node_mapper_samples.jsonl"
    if not path.exists():
        pytest.skip(f"{path} absent")
    from tests.feeds.realdata import tardis

    return [r for r in tardis(path) if r["exchange"] == "okx" and not r["generated_by_tardis"]]


def test_real_okx_mark_price_and_liquidation_frames_decode() -> None:
    recs = _tardis_okx()
    marks = [
        r["msg"] for r in recs if r["channel"] == "mark-price" and r["msg"]["arg"]["instId"].endswith("-SWAP")
    ]
    liqs = [r["msg"] for r in recs if r["channel"] == "liquidation-orders"]
    assert marks and liqs
    radar = _Spy("okx")
    inst = marks[0]["arg"]["instId"]
    liq_inst = liqs[0]["data"][0]["instId"]
    radar.set_instruments([inst, liq_inst])
    dec = OkxAllMarketDecoder(radar, {inst: 1.0, liq_inst: 100.0})
    for m in marks:
        dec.decode(json.dumps(m), 0)
    for q in liqs:
        dec.decode(json.dumps(q), 0)
    assert dec.errors == 0
    assert radar.symbols[inst].price == float(marks[-1]["data"][0]["markPx"])
    d = liqs[0]["data"][0]["details"][0]
    ts, usd, side = radar.symbols[liq_inst].liqs[-1]
    assert ts == int(d["ts"]) and usd == pytest.approx(float(d["bkPx"]) * float(d["sz"]) * 100.0)
    assert side == int(PositionSide.SHORT)
    assert d["side"] == "buy" and [q.side for q in radar.seen] == [PositionSide.SHORT]  # a buy closes a short


def test_real_okx_subscribe_acks_are_control_frames() -> None:
    path = REAL / "okx_v5_trades_books_tickers_20220513_cryptofeed.ws.txt"
    if not path.exists():
        pytest.skip(f"{path} absent")
    from tests.feeds.realdata import cryptofeed_v1

    dec = OkxAllMarketDecoder(Radar("okx"), {})
    acks = [f for _, f in cryptofeed_v1(path) if f.startswith('{"event":"subscribe"')]
    assert acks
    for f in acks:
        dec.decode(f, 0)
    assert dec.acks == len(acks) and dec.errors == 0
