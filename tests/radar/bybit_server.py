"""A local Bybit v5 linear exchange for the all-market tests: websocket topics and REST on one port.

Speaks ``{"op":"subscribe"|"unsubscribe"|"ping"}`` with Bybit's acks, refuses a request of more than
:data:`MAX_ARGS` topics and a connection holding more than ``max_topics`` (``success: false``), pushes
``tickers`` deltas, ``kline.1`` bars (confirmed once a simulated minute, every ten steps) and
``allLiquidation`` for each subscribed topic every ``step_s`` (six market seconds), and serves ``instruments-info`` (paged by ``cursor``), ``kline`` and
``open-interest``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

MAX_ARGS = 10
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 900_000


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    topics: set[str] = field(default_factory=set)
    refused: int = 0


class BybitServer:
    def __init__(
        self, symbols: list[str], *, max_topics: int = 300, page: int = 100, step_s: float = 0.05
    ) -> None:
        self.symbols = list(symbols)
        self.max_topics = max_topics
        self.page = page
        self.step_s = step_s
        self.clients: set[_Client] = set()
        self.requests: list[dict] = []
        self.now = T0
        self._server: Server | None = None
        self._pusher: asyncio.Task[None] | None = None

    def price(self, s: str) -> float:
        return 1.0 + (sum(map(ord, s)) % 97)

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._http, compression=None)
        self._pusher = asyncio.create_task(self._push())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._pusher is not None
        self._pusher.cancel()
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/public/linear"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- REST ---------------------------------------------------------------------------------------------
    def _http(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, **q})
        if url.path == "/v5/market/instruments-info":
            start = int(q.get("cursor") or 0)
            rows = self.symbols[start : start + self.page]
            nxt = str(start + self.page) if start + self.page < len(self.symbols) else ""
            items = [{"symbol": s, "quoteCoin": "USDT", "status": "Trading", "contractType": "LinearPerpetual"}
                     for s in rows]  # fmt: skip
            items.append(
                {
                    "symbol": "BTCUSD",
                    "quoteCoin": "USD",
                    "status": "Trading",
                    "contractType": "InversePerpetual",
                }
            )
            body = {"retCode": 0, "retMsg": "OK", "result": {"list": items, "nextPageCursor": nxt}}
        elif url.path == "/v5/market/kline":
            p = self.price(q["symbol"])
            rows = [[str(T0 - (i + 1) * 900_000), str(p), str(p * 1.01), str(p * 0.99), str(p * (1 + 0.001 * (i % 5))),
                     "1000", str(1000 * p)] for i in range(int(q.get("limit", 48)))]  # fmt: skip
            body = {"retCode": 0, "retMsg": "OK", "result": {"list": rows}}
        elif url.path == "/v5/market/open-interest":
            rows = [{"openInterest": str(1e6 * (1 - 0.01 * i)), "timestamp": str(T0 - i * 900_000)}
                    for i in range(int(q.get("limit", 48)))]  # fmt: skip
            body = {"retCode": 0, "retMsg": "OK", "result": {"list": rows}}
        else:
            body = {"retCode": 10001, "retMsg": "unknown path"}
        data = json.dumps(body).encode()
        return Response(
            200,
            "OK",
            Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data)))]),
            data,
        )

    # -- websocket --------------------------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        c = _Client(ws)
        self.clients.add(c)
        try:
            async for msg in ws:
                req = json.loads(msg)
                op, args = req.get("op"), req.get("args", [])
                if op == "ping":
                    await ws.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping"}))
                    continue
                if len(args) > MAX_ARGS:
                    c.refused += 1
                    await ws.send(
                        json.dumps({"success": False, "ret_msg": f"args size > {MAX_ARGS}", "op": op})
                    )
                    continue
                if op == "subscribe":
                    if len(c.topics | set(args)) > self.max_topics:
                        c.refused += 1
                        await ws.send(json.dumps({"success": False, "ret_msg": "too many topics", "op": op}))
                        continue
                    c.topics |= set(args)
                elif op == "unsubscribe":
                    c.topics -= set(args)
                await ws.send(json.dumps({"success": True, "ret_msg": "", "op": op, "conn_id": "t"}))
        finally:
            self.clients.discard(c)

    async def _push(self) -> None:
        k = 0
        while True:
            await asyncio.sleep(self.step_s)
            k += 1
            self.now += 6000  # six market seconds a step: a minute closes every ten steps
            minute = self.now - self.now % 60_000
            for c in list(self.clients):
                for t in sorted(c.topics):
                    chan, _, sym = t.rpartition(".") if t.startswith("kline.") else t.partition(".")
                    p = self.price(sym) * (1 + 0.002 * ((k % 7) - 3))
                    if chan == "tickers":
                        data: object = {"symbol": sym, "markPrice": f"{p:.6f}", "openInterest": str(1e6 + k)}
                        msg = {"topic": t, "type": "delta", "ts": self.now, "data": data}
                    elif chan == "kline.1":
                        closed = self.now % 60_000 == 0
                        start = minute - 60_000 if closed else minute
                        data = [{"start": start, "end": start + 59_999, "interval": "1", "open": str(p), "close": str(p),
                                 "high": str(p * 1.002), "low": str(p * 0.998), "volume": "10", "turnover": str(10 * p),
                                 "confirm": closed, "timestamp": self.now}]  # fmt: skip
                        msg = {"topic": t, "type": "snapshot", "ts": self.now, "data": data}
                    elif k % 5 == 0:
                        data = [{"T": self.now, "s": sym, "S": "Buy", "v": "3", "p": f"{p:.6f}"}]
                        msg = {"topic": t, "type": "snapshot", "ts": self.now, "data": data}
                    else:
                        continue
                    try:
                        await c.ws.send(json.dumps(msg))
                    except Exception:  # noqa: BLE001 - a client gone mid-push
                        break
