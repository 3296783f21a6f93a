"""The demo exchange's REST side: Binance shapes, paging, limits and errors, over real HTTP."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
import pytest_asyncio

from liqtui.sim.server import DemoExchange

from .conftest import START_MS

DAY = 86_400_000
# one exchange for the module (real time: the market barely moves while these run)
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo():
    async with DemoExchange(seed=2, speed=1, start_ms=START_MS, history_days=41) as d:
        yield d


@pytest_asyncio.fixture(loop_scope="module")
async def client(demo):
    async with httpx.AsyncClient(base_url=demo.rest_url, timeout=30) as c:
        yield c


async def test_klines_rows_have_binance_shape(client) -> None:
    r = await client.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h", "limit": 5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rows = r.json()
    assert len(rows) == 5
    for row in rows:
        assert len(row) == 12
        t, o, h, lo, c, v, close_t, q, n, tbv, tbq, ignore = row
        assert isinstance(t, int) and isinstance(close_t, int) and isinstance(n, int)
        assert all(isinstance(x, str) for x in (o, h, lo, c, v, q, tbv, tbq, ignore))
        assert close_t == t + 3_600_000 - 1 and len(o.split(".")[1]) == 2
        assert float(lo) <= min(float(o), float(c)) <= max(float(o), float(c)) <= float(h)
        assert 0 <= float(tbv) <= float(v)
    assert rows[-1][0] == START_MS - START_MS % 3_600_000  # the forming bar comes last


async def test_klines_paging_is_gapless_and_limited(demo, client) -> None:
    start = START_MS - 2 * DAY
    got: list[list] = []
    t = start
    while t < START_MS:
        params = {
            "symbol": "BTCUSDT",
            "interval": "1m",
            "startTime": t,
            "endTime": START_MS - 1,
            "limit": 1500,
        }
        rows = (await client.get("/fapi/v1/klines", params=params)).json()
        assert 0 < len(rows) <= 1500
        got.extend(rows)
        t = rows[-1][0] + 60_000
    opens = [r[0] for r in got]
    assert opens == list(range(start, START_MS, 60_000))
    big = (
        await client.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 5000})
    ).json()
    assert len(big) == 1500  # clamped to the maximum
    default = (await client.get("/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "5m"})).json()
    assert len(default) == 500
    params = {"symbol": "BTCUSDT", "interval": "1d", "endTime": START_MS - 10 * DAY, "limit": 3}
    only_end = (await client.get("/fapi/v1/klines", params=params)).json()
    assert [r[0] for r in only_end][-1] == (START_MS - 10 * DAY) // DAY * DAY and len(only_end) == 3
    before = (
        await client.get(
            "/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h", "endTime": START_MS - 400 * DAY}
        )
    ).json()
    assert before == []
    params = {"symbol": "BTCUSDT", "interval": "1h", "startTime": 0, "limit": 2}
    first = (await client.get("/fapi/v1/klines", params=params)).json()
    assert [r[0] for r in first] == [demo.market.history_start_ms + i * 3_600_000 for i in range(2)]


async def test_open_interest_and_history(demo, client) -> None:
    oi = (await client.get("/fapi/v1/openInterest", params={"symbol": "BTCUSDT"})).json()
    assert set(oi) == {"openInterest", "symbol", "time"} and float(oi["openInterest"]) > 1000
    rows = (
        await client.get(
            "/futures/data/openInterestHist", params={"symbol": "BTCUSDT", "period": "5m", "limit": 1000}
        )
    ).json()
    assert len(rows) == 500
    assert set(rows[0]) == {"symbol", "sumOpenInterest", "sumOpenInterestValue", "timestamp"}
    ts = [r["timestamp"] for r in rows]
    assert all(b - a == 300_000 for a, b in itertools.pairwise(ts)) and ts[-1] <= START_MS
    old = (
        await client.get(
            "/futures/data/openInterestHist",
            params={"symbol": "BTCUSDT", "period": "1h", "startTime": START_MS - 40 * DAY, "limit": 24},
        )
    ).json()
    assert len(old) == 24 and old[0]["timestamp"] == START_MS - 40 * DAY  # whole history served by default
    default = (
        await client.get("/futures/data/openInterestHist", params={"symbol": "BTCUSDT", "period": "1d"})
    ).json()
    assert len(default) == 30


async def test_thirty_day_rule_behind_a_flag() -> None:
    async with DemoExchange(seed=2, start_ms=START_MS, history_days=41, oi_hist_days=30) as demo:
        async with httpx.AsyncClient(base_url=demo.rest_url) as c:
            rows = (
                await c.get(
                    "/futures/data/openInterestHist",
                    params={
                        "symbol": "BTCUSDT",
                        "period": "1h",
                        "startTime": START_MS - 40 * DAY,
                        "limit": 500,
                    },
                )
            ).json()
    assert rows[0]["timestamp"] >= START_MS - 30 * DAY


async def test_premium_index_and_exchange_info(client) -> None:
    p = (await client.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"})).json()
    assert {"markPrice", "indexPrice", "lastFundingRate", "nextFundingTime", "time"} <= set(p)
    assert p["nextFundingTime"] % (8 * 3_600_000) == 0 and p["nextFundingTime"] > p["time"]
    assert isinstance((await client.get("/fapi/v1/premiumIndex")).json(), list)
    info = (await client.get("/fapi/v1/exchangeInfo")).json()
    sym = info["symbols"][0]
    assert sym["symbol"] == "BTCUSDT" and sym["filters"][0]["tickSize"] == "0.10"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"symbol": "ETHUSDT", "interval": "1m"}, 400, -1121),
        ({"interval": "1m"}, 400, -1102),
        ({"symbol": "BTCUSDT"}, 400, -1102),
        ({"symbol": "BTCUSDT", "interval": "7m"}, 400, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "abc"}, 400, -1100),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "0"}, 400, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "20", "endTime": "10"}, 400, -1023),
    ],
)
async def test_kline_errors_look_like_binance(client, params, status, code) -> None:
    r = await client.get("/fapi/v1/klines", params=params)
    assert r.status_code == status and r.json()["code"] == code and r.json()["msg"]


async def test_other_errors(client) -> None:
    r = await client.get("/fapi/v1/openInterest", params={"symbol": "BTCUSD"})
    assert r.status_code == 400 and r.json() == {"code": -1121, "msg": "Invalid symbol."}
    r = await client.get("/futures/data/openInterestHist", params={"symbol": "BTCUSDT", "period": "1m"})
    assert r.status_code == 400 and r.json()["code"] == -1130
    assert (await client.get("/fapi/v2/unknown")).status_code == 404
    assert (await client.post("/fapi/v1/klines")).status_code == 405


async def test_malformed_http_gets_400_and_keepalive_works(demo) -> None:
    port = int(demo.rest_url.rsplit(":", 1)[1])
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(3):  # three requests on one connection
        w.write(b"GET /fapi/v1/time HTTP/1.1\r\nHost: x\r\n\r\n")
        status = await r.readline()
        assert status.startswith(b"HTTP/1.1 200")
        length = 0
        while (line := await r.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length"):
                length = int(line.split(b":")[1])
        assert b"serverTime" in await r.readexactly(length)
    w.write(b"garbage\r\n\r\n")
    assert (await r.readline()).startswith(b"HTTP/1.1 400")
    w.close()
