"""The demo exchange's websocket side, against real clients on 127.0.0.1 and the real Binance decoder."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from liqtui.core.events import Candle, Liquidation, MarkPrice, Trade
from liqtui.feeds import make_decoder
from liqtui.sim.server import DemoExchange

from .conftest import START_MS, wait_until

STREAMS = ["btcusdt@aggTrade", "btcusdt@markPrice@1s", "btcusdt@kline_1m", "btcusdt@forceOrder"]


async def _refused(port: int) -> bool:
    try:
        _, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    w.close()
    return False


async def test_starts_and_stops_cleanly_without_leaks() -> None:
    before = asyncio.all_tasks()
    demo = DemoExchange(seed=0, speed=50, start_ms=START_MS, history_days=2)
    async with demo:
        ws_port, rest_port = demo.ws_port, int(demo.rest_url.rsplit(":", 1)[1])
        assert demo.ws_url == f"ws://127.0.0.1:{ws_port}/market"
        async with connect(demo.stream_url(), compression=None) as ws:
            assert json.loads(await ws.recv())["stream"] in STREAMS
            r, w = await asyncio.open_connection("127.0.0.1", rest_port)
            w.write(b"GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await r.readline()).startswith(b"HTTP/1.1 200")
            w.close()
        # a client still connected when the exchange stops is closed by it
        lingering = await connect(demo.stream_url(), compression=None)
        await lingering.recv()
    assert await _refused(ws_port) and await _refused(rest_port)
    await asyncio.wait_for(lingering.wait_closed(), 10)
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if not t.done()} - {asyncio.current_task()}
    assert not leaked, leaked
    await demo.stop()  # idempotent


async def test_frames_decode_through_the_real_binance_decoder() -> None:
    dec = make_decoder("binance", "BTC")
    seen: dict[type, int] = {}
    async with DemoExchange(seed=1, speed=120, start_ms=START_MS, history_days=3) as demo:
        async with connect(demo.stream_url(), compression=None) as ws:

            async def pump() -> None:
                while Liquidation not in seen or min(seen.get(k, 0) for k in (Trade, MarkPrice, Candle)) < 51:
                    for ev in dec.decode(await ws.recv(), 0):
                        seen[type(ev)] = seen.get(type(ev), 0) + 1

            await asyncio.wait_for(pump(), 60)
    assert dec.errors == 0
    assert seen[Liquidation] >= 1 and min(seen[Trade], seen[MarkPrice], seen[Candle]) > 50
    assert demo.market is not None and len(demo.market.realized) > 0


async def test_raw_ws_live_subscribe_and_properties() -> None:
    async with DemoExchange(seed=0, speed=50, start_ms=START_MS, history_days=1) as demo:
        async with connect(f"{demo.ws_url}/ws", compression=None) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}))
            assert json.loads(await ws.recv()) == {"result": None, "id": 1}
            first = json.loads(await ws.recv())
            assert first["e"] == "aggTrade" and set(first) == set("eEaspqflTm")
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3}))
            replies = {}

            async def until_replies() -> None:
                while len(replies) < 2:
                    d = json.loads(await ws.recv())
                    if "id" in d:
                        replies[d["id"]] = d

            await asyncio.wait_for(until_replies(), 30)
            assert replies[2] == {"result": ["btcusdt@aggTrade"], "id": 2}
            assert replies[3] == {"result": None, "id": 3}

            async def next_data() -> dict:
                while True:
                    d = json.loads(await ws.recv())
                    if "stream" in d:
                        return d

            d = await asyncio.wait_for(next_data(), 30)
            assert d["stream"] == "btcusdt@aggTrade" and d["data"]["e"] == "aggTrade"
            await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 4}))
            await ws.send("{not json")
            await ws.send(json.dumps({"method": "SUBSCRIBEX", "params": [], "id": 5}))
            errors = []

            async def until_errors() -> None:
                while len(errors) < 2:
                    d = json.loads(await ws.recv())
                    if "error" in d:
                        errors.append(d)

            await asyncio.wait_for(until_errors(), 30)
            assert errors[0]["error"]["code"] == 3  # invalid JSON
            assert errors[1]["error"]["code"] == 2 and errors[1]["id"] == 5  # unknown method


async def test_single_stream_path_and_3s_mark_stream() -> None:
    async with DemoExchange(seed=0, speed=60, start_ms=START_MS, history_days=1) as demo:
        async with connect(f"{demo.ws_url}/ws/btcusdt@markPrice", compression=None) as ws:
            times = []
            for _ in range(3):
                d = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert d["e"] == "markPriceUpdate" and set(d) == set("eEspiPrT")
                times.append(d["E"])
            assert all(t % 3000 == 0 for t in times)


async def test_legacy_root_path_is_silent_like_binance() -> None:
    async with DemoExchange(seed=0, speed=50, start_ms=START_MS, history_days=1) as demo:
        root = demo.ws_url.removesuffix("/market")
        async with (
            connect(f"{root}/stream?streams=btcusdt@aggTrade", compression=None) as legacy,
            connect(demo.stream_url(["btcusdt@aggTrade"]), compression=None) as good,
        ):
            for _ in range(20):
                await asyncio.wait_for(good.recv(), 30)
            await legacy.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 9}))
            assert json.loads(await asyncio.wait_for(legacy.recv(), 30)) == {"result": None, "id": 9}
            for _ in range(20):
                await asyncio.wait_for(good.recv(), 30)
            old = next(c for c in demo.clients if c.legacy)
            assert old.sent == 1  # only the acknowledgement
        with pytest.raises(InvalidStatus) as exc:
            async with connect(f"{root}/nope", compression=None):
                pass
        assert exc.value.response.status_code == 404


async def test_server_pings_clients() -> None:
    async with (
        DemoExchange(
            seed=0, speed=1, start_ms=START_MS, history_days=0, ping_interval=0.1, ping_timeout=30
        ) as demo,
        connect(demo.stream_url(), compression=None, ping_interval=None),
    ):
        await wait_until(lambda: any(c.ws.latency > 0 for c in demo.clients), what="a server ping answered")


async def test_same_seed_same_frames_over_the_wire() -> None:
    async def capture() -> list[str]:
        async with DemoExchange(seed=5, speed=20, start_ms=START_MS, history_days=1) as demo:
            async with connect(demo.stream_url(), compression=None) as ws:
                out: list[str] = []
                while True:
                    d = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    e = d["data"]["E"]
                    if e >= START_MS + 30_000:
                        return out
                    if e >= START_MS + 20_000:
                        out.append(json.dumps(d, sort_keys=True))

    a, b = await capture(), await capture()
    assert len(a) > 50 and a == b


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        DemoExchange(speed=0)
    with pytest.raises(ValueError, match="symbol"):
        DemoExchange(symbol="btc/usdt")


async def test_other_instrument_streams_under_its_own_name() -> None:
    async with DemoExchange(seed=0, speed=20, symbol="ETHUSDT", start_ms=START_MS, history_days=0.5) as demo:
        assert demo.market is not None and 1_000 < demo.market.price < 10_000  # an ETH-like level
        async with connect(demo.stream_url(), compression=None) as ws:
            d = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert d["stream"].startswith("ethusdt@") and d["data"]["s"] == "ETHUSDT"
