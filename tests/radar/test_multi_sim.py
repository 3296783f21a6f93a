"""The demo's many-symbol market: seeded paths, the all-market frames, and Binance's connection limits."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from liqtui.sim.multi import MultiMarket
from liqtui.sim.server import MAX_MESSAGES_PER_S, MAX_STREAMS, DemoExchange
from tests.feeds.helpers import until

START_MS = 1_700_000_000_000


def test_each_symbol_has_its_own_seeded_path() -> None:
    a = MultiMarket(220, seed=5, start_ms=START_MS)
    b = MultiMarket(220, seed=5, start_ms=START_MS)
    c = MultiMarket(220, seed=6, start_ms=START_MS)
    assert len(set(a.symbols)) == 220
    fa, fb, fc = a.advance(START_MS + 90_000), b.advance(START_MS + 90_000), c.advance(START_MS + 90_000)
    assert [f.payload for f in fa] == [f.payload for f in fb]  # the seed alone decides
    assert [f.payload for f in fa] != [f.payload for f in fc]
    # every listed symbol is in each second's mark array, with its own price
    arr = [f for f in fa if f.stream == "!markPrice@arr@1s"]
    assert len(arr) == 90
    marks = json.loads(arr[-1].payload)
    assert {m["s"] for m in marks} == set(a.symbols)
    assert len({m["p"] for m in marks}) == 220
    # each symbol closes its minute on its own kline stream, and forced orders arrive on the all-market one
    closed = [json.loads(f.payload)["k"] for f in fa if f.stream.endswith("@kline_1m")]
    assert {k["s"] for k in closed if k["x"]} == set(a.symbols)
    assert any(f.stream == "!forceOrder@arr" for f in fa)
    # 12 h of 5m klines over REST, each complete, the latest ending by the live market's latest closed minute
    k = a.klines("ETHUSDT", 300_000, None, None, 500)
    assert len(k) >= 143 and all(t % 300_000 == 0 for t, *_ in k)
    assert START_MS - 600_000 < k[-1][0] and k[-1][0] + 300_000 <= START_MS + 90_000


def test_listing_and_delisting() -> None:
    m = MultiMarket(200, seed=1, start_ms=START_MS)
    m.list_symbol("NEWCOINUSDT", price=2.5)
    gone = m.symbols[3]
    m.delist(gone)
    names = {s for s, _ in m.instruments()}
    assert "NEWCOINUSDT" in names and gone not in names and len(names) == 200
    marks = json.loads(next(f for f in m.advance(START_MS + 1000) if f.stream.startswith("!mark")).payload)
    syms = {x["s"] for x in marks}
    assert "NEWCOINUSDT" in syms and gone not in syms
    assert m.klines("NEWCOINUSDT", 60_000, None, None, 10) == []  # no history before its listing
    with pytest.raises(ValueError, match="USDT"):
        m.list_symbol("bad")


async def test_demo_serves_the_all_market_streams_within_binance_limits() -> None:
    async with DemoExchange(seed=3, speed=20, start_ms=START_MS, history_days=1, multi_symbols=200) as demo:
        async with httpx.AsyncClient() as client:
            info = (await client.get(f"{demo.rest_url}/fapi/v1/exchangeInfo")).json()
            names = [s["symbol"] for s in info["symbols"]]
            assert len(names) == 201 and names[0] == "BTCUSDT"
            other = names[50]
            oi = (await client.get(f"{demo.rest_url}/fapi/v1/openInterest", params={"symbol": other})).json()
            assert oi["symbol"] == other and float(oi["openInterest"]) > 0
            r = await client.get(f"{demo.rest_url}/fapi/v1/openInterest", params={"symbol": "NOPEUSDT"})
            assert r.status_code == 400 and r.json()["code"] == -1121
        got: list[dict] = []
        async with connect(f"{demo.ws_url}/stream") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["!markPrice@arr@1s"], "id": 1}))
            while len(got) < 3:
                msg = json.loads(await ws.recv())
                if msg.get("stream") == "!markPrice@arr@1s":
                    got.append(msg)
        syms = {m["s"] for m in got[-1]["data"]}
        assert len(syms) == 201 and "BTCUSDT" in syms  # the full simulator's mark joins the array
        # more than 1024 streams on one connection is refused
        async with connect(f"{demo.ws_url}/stream") as ws:
            many = [f"s{i}usdt@kline_1m" for i in range(MAX_STREAMS + 1)]
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": many, "id": 7}))
            reply = json.loads(await ws.recv())
            assert reply["id"] == 7 and "too many streams" in reply["error"]["msg"]
        # more than 10 messages a second: disconnected, as Binance does
        async with connect(f"{demo.ws_url}/stream") as ws:
            for i in range(MAX_MESSAGES_PER_S + 2):
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await until(lambda: demo.multi is not None and demo.multi.liquidations > 0, "a forced order")


def test_a_market_nobody_listens_to_moves_the_same_without_writing_frames() -> None:
    quiet = MultiMarket(200, seed=4, start_ms=START_MS)
    loud = MultiMarket(200, seed=4, start_ms=START_MS)
    assert quiet.advance(START_MS + 300_000, frames=False) == []
    loud.advance(START_MS + 300_000)
    # the same prices, bars and forced orders afterwards: listening changes nothing in the market
    assert [f.payload for f in quiet.advance(START_MS + 330_000)] == [
        f.payload for f in loud.advance(START_MS + 330_000)
    ]
    assert quiet.klines("ETHUSDT", 60_000, None, None, 10) == loud.klines("ETHUSDT", 60_000, None, None, 10)
    assert quiet.liquidations == loud.liquidations > 0
