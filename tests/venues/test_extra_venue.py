"""Adding a venue is a package and one registry line: a small venue defined here, registered at run time, goes
through the real FeedManager, the backfill, the replay and the Engine against a local server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import enum
import json
import math
from collections.abc import AsyncIterator, Iterator
from operator import attrgetter
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import msgspec
import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from liqtui.core.engine import Engine
from liqtui.core.events import (
    FeedState,
    Liquidation,
    MarketEvent,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
)
from liqtui.core.model import HeatModel
from liqtui.feeds.connection import FeedManager
from liqtui.feeds.endpoints import Endpoints
from liqtui.history.backfill import backfill_venues
from liqtui.history.replay import replay
from liqtui.venues import ADAPTERS, Adapter, VenueAdapter, register, unregister
from liqtui.venues.adapter import RestPoll
from liqtui.venues.base import INF, BaseDecoder, ConnSpec, TradeLayout
from liqtui.venues.history import HistoryApi
from liqtui.venues.symbols import split_symbol
from tests.feeds.helpers import Collector, until
from tests.feeds.servers import _response

NOW_MS = 1_795_694_400_000  # a minute boundary
MIN = 60_000


# ------------------------------------------------------------------------------------ the venue, in full
class Toy(str, enum.Enum):
    """The extra venue's name (events carry it like a :class:`liqtui.core.events.Venue`)."""

    TOY = "toy"

    def __str__(self) -> str:
        return self.value


class _Row(msgspec.Struct):
    s: str
    id: int
    p: float
    q: float
    side: str
    T: int


class _Liq(msgspec.Struct):
    s: str
    side: str
    p: float
    q: float
    T: int


class _Frame(msgspec.Struct):
    toy: str
    data: msgspec.Raw = msgspec.Raw(b"null")


_FRAME = msgspec.json.Decoder(_Frame)
_ROWS = msgspec.json.Decoder(list[_Row])
_LIQS = msgspec.json.Decoder(list[_Liq])
_LAYOUT = TradeLayout(attrgetter("s", "id", "p", "q", "side", "T"), {"b": TakerSide.BUY, "s": TakerSide.SELL})


class ToyDecoder(BaseDecoder):
    venue = Toy.TOY  # the test venue is not one of the built-in Venue members

    def __init__(self, symbol: str) -> None:
        super().__init__(toy_instrument(symbol))
        self.mark: float | None = None

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        f = _FRAME.decode(frame)
        if f.toy == "trades":
            return self.trades(_ROWS.decode(f.data), _LAYOUT, recv_ts)
        if f.toy == "liqs":
            rows = _LIQS.decode(f.data)
            sides = {"long": PositionSide.LONG, "short": PositionSide.SHORT}
            return self.liquidations(((r.s, r.side, r.p, r.q, r.T) for r in rows), sides, recv_ts)
        if f.toy == "mark":
            self.tick("mark")
            self.mark = float(msgspec.json.decode(f.data))
            return []
        if f.toy == "oi":  # the REST poll's body
            base = float(msgspec.json.decode(f.data))
            if not 0.0 <= base < INF or self.mark is None:
                return []
            return [
                OpenInterest(
                    venue=self.venue,
                    symbol=self.symbol,
                    ts=recv_ts,
                    recv_ts=recv_ts,
                    base=base,
                    usd=base * self.mark,
                )
            ]
        if f.toy in ("pong", "ack"):
            self.control += 1
            return []
        self.bad("unexpected", frame, f"unexpected toy frame {f.toy!r}")
        return []


def toy_instrument(symbol: str) -> str:
    return f"{split_symbol(symbol)[0]}USD"


class ToyHistory(HistoryApi):
    name = "toy"
    min_interval_s = 0.0
    kline_limit = 500
    oi_limit = 100

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        from liqtui.history.store import empty_bars

        rows = await self.http.get(
            "/klines", {"symbol": self.symbol, "i": interval_s, "from": start_ms, "to": end_ms}
        )
        out = empty_bars(len(rows))
        raw = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close", "volume")):
            out[f] = raw[:, 1 + j]
        return out

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        step = period_s * 1000 * self.oi_limit
        for a in range(start_ms, end_ms, step):
            rows = await self.http.get(
                "/oi", {"symbol": self.symbol, "period": period_s, "from": a, "to": min(a + step, end_ms)}
            )
            yield np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float64)


class ToyAdapter(Adapter):
    venue = Toy.TOY
    default_ws = "ws://127.0.0.1:1/toy"
    default_rest = "http://127.0.0.1:1"
    url_hints = ("toyexchange",)
    history = ToyHistory

    def instrument(self, symbol: str) -> str:
        return toy_instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return ToyDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        sub = json.dumps({"op": "sub", "symbol": toy_instrument(symbol)})
        return [
            ConnSpec(
                name="ws", url=f"{ws_url}/ws", subscribe=(sub,), ping='{"op":"ping"}', ticks=(("mark", 5.0),)
            )
        ]

    def polls(self, symbol: str, rest_url: str) -> list[RestPoll]:
        return [RestPoll("open interest poll", f"{rest_url}/oi_now?symbol={toy_instrument(symbol)}")]

    def frame_is_mine(self, head: str) -> bool:
        return '"toy":' in head

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        data = obj.get("data")
        if (
            isinstance(data, list)
            and data
            and isinstance(data[0], dict)
            and isinstance(data[0].get("s"), str)
        ):
            return data[0]["s"], obj.get("toy") == "trades"
        return None, False


# ------------------------------------------------------------------------------------ its local exchange
def price_at(ts: int) -> float:
    return 100.0 + 5.0 * math.sin(ts / 3_600_000)


class ToyServer:
    """Websocket market data and REST history of the toy venue on one port."""

    def __init__(self) -> None:
        self.port = 0
        self.rest_hits: list[str] = []
        self.pings = 0

    async def __aenter__(self) -> Self:
        self._server = await serve(self._ws, "127.0.0.1", 0, compression=None, process_request=self._http)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.from_overrides(
            [f"toy=ws://127.0.0.1:{self.port}", f"toy.rest=http://127.0.0.1:{self.port}"]
        )

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.rest_hits.append(request.path)
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if q.get("symbol") != "TOYUSD":
            return _response(400, '{"code":"nosym","msg":"unknown symbol"}')
        if url.path == "/klines":
            step = int(q["i"]) * 1000
            rows = []
            for t in range(int(q["from"]), int(q["to"]), step):
                o, c = price_at(t), price_at(t + step)
                rows.append([t, o, max(o, c) + 0.1, min(o, c) - 0.1, c, 3.0])
            return _response(200, json.dumps(rows))
        if url.path == "/oi":
            step = int(q["period"]) * 1000
            first = int(q["from"]) - int(q["from"]) % step
            rows = [[t, 5.0e7 + t % 7] for t in range(first, int(q["to"]) + 1, step) if t >= int(q["from"])]
            return _response(200, json.dumps(rows))
        if url.path == "/oi_now":
            return _response(200, json.dumps({"toy": "oi", "data": 250000.0}))
        return _response(404, '{"msg":"not found"}')

    async def _ws(self, ws: ServerConnection) -> None:
        try:
            async for msg in ws:
                m = json.loads(msg)
                if m.get("op") == "ping":
                    self.pings += 1
                    await ws.send('{"toy":"pong"}')
                elif m.get("op") == "sub":
                    await ws.send('{"toy":"ack"}')
                    asyncio.ensure_future(self._market(ws, m["symbol"]))
        except ConnectionClosed:
            pass

    async def _market(self, ws: ServerConnection, sym: str) -> None:
        t = NOW_MS
        try:
            for i in range(1, 1_000_000):
                await ws.send(json.dumps({"toy": "mark", "data": price_at(t)}))
                trades = [{"s": sym, "id": i, "p": price_at(t), "q": 0.5, "side": "bs"[i % 2], "T": t}]
                if i % 3 == 0:
                    trades.append(trades[0])  # a duplicated trade: dropped by the shared loop
                await ws.send(json.dumps({"toy": "trades", "data": trades}))
                if i % 5 == 0:
                    liq = {"s": sym, "side": "long", "p": price_at(t) * 0.99, "q": 2.0, "T": t}
                    await ws.send(json.dumps({"toy": "liqs", "data": [liq]}))
                t += 100
                await asyncio.sleep(0.005)
        except ConnectionClosed:
            return


# ------------------------------------------------------------------------------------ the test
@pytest.fixture
def toy() -> Iterator[VenueAdapter]:
    a = register(ToyAdapter())  # the one registry line
    try:
        yield a
    finally:
        unregister("toy")
    assert "toy" not in ADAPTERS


async def test_an_extra_venue_runs_through_backfill_feeds_replay_and_engine(
    toy: VenueAdapter, tmp_path: Path
) -> None:
    engine = Engine(HeatModel(), symbol="TOY")
    raw: list[tuple[str, str, int]] = []
    async with ToyServer() as srv:
        # history: the backfill pages through the toy REST API and steps the engine's model
        results = await backfill_venues(
            ["toy"],
            "TOY",
            "12h",
            rest_urls={"toy": f"http://127.0.0.1:{srv.port}"},
            now_ms=NOW_MS,
            model=engine,
        )
        (res,) = results
        assert res.venue == "toy" and res.symbol == "TOYUSD"
        assert res.fetched_bars == 720 and res.oi_points > 0 and res.delivered_bars == 720
        assert engine.model.last_ts == NOW_MS - MIN
        assert any(p.startswith("/klines") for p in srv.rest_hits) and any(
            p.startswith("/oi?") for p in srv.rest_hits
        )

        # live: the real connection manager, pinging, polling open interest, into the same engine
        sink = Collector()

        def both(ev: MarketEvent) -> None:
            sink(ev)
            engine.apply(ev)

        mgr = FeedManager(
            ["toy"],
            "TOY",
            endpoints=srv.endpoints,
            sink=both,
            on_raw=lambda v, text, ms: raw.append((v, text, ms)),
            ping_interval_s=0.05,
            oi_poll_s=0.05,
            backoff_base_s=0.02,
            backoff_cap_s=0.2,
        )
        task = asyncio.create_task(mgr.run())
        try:
            await until(
                lambda: len(sink.of(Liquidation)) >= 3 and sink.of(OpenInterest), "toy liquidations and OI"
            )
            await until(lambda: srv.pings >= 2, "toy pings answered")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    trades = sink.of(Trade)
    assert trades and all(t.venue is Toy.TOY and t.symbol == "TOYUSD" for t in trades)
    assert len({(t.ts, t.side) for t in trades}) == len(trades)  # duplicates dropped
    assert mgr.decoders["toy"].duplicates >= 1 and mgr.decoders["toy"].errors == 0
    assert {t.side for t in trades} == {TakerSide.BUY, TakerSide.SELL}
    assert all(liq.side is PositionSide.LONG for liq in sink.of(Liquidation))
    assert FeedState.LIVE in sink.states("toy") and sink.states("toy")[-1] is FeedState.STOPPED
    assert mgr.stats["toy"].rest_polls >= 1 and mgr.stats["toy"].stale == 0
    assert engine.counters["trades"] == len(trades) and len(engine.liquidations) == len(sink.of(Liquidation))
    assert engine.oi_usd[Toy.TOY] == pytest.approx(250000.0 * mgr.decoders["toy"].mark, rel=0.1)

    # replay: a recording of those frames in liqtui's own format finds the venue and its decoder by name
    rec = tmp_path / "toy.jsonl"
    rec.write_text(
        "".join(json.dumps({"ts": ms, "exchange": v, "frame": text}) + "\n" for v, text, ms in raw)
    )
    replayed: list[MarketEvent] = []
    st = await replay(rec, replayed.append)
    assert st.symbols == {"toy": "TOYUSD"} and st.decode_errors == 0 and st.bad_lines == 0
    assert [e for e in replayed if isinstance(e, Trade)] == trades
