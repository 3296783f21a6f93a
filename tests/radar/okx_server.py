"""A local OKX v5 exchange for the all-market tests: websocket (``/ws/v5/public``, ``/ws/v5/business``) and REST
on one port, speaking OKX's documented protocol and enforcing its limits, so a feed that breaks one fails.

Enforced (each breach counted in :attr:`OkxServer.violations` and answered as OKX does):

* new connections: at most ``connect_limit`` per ``connect_window_s`` (HTTP 429 at the handshake);
* subscribe/unsubscribe requests per connection: at most ``sub_limit`` per ``sub_window_s`` (``{"event":
  "error","code":"60014"}``, then the connection is closed); a request longer than ``max_request_bytes``
  (code 60012) and a connection holding more than ``max_args`` subscriptions are refused too;
* channels on the wrong endpoint (``candle1m`` only on ``/business``; ``mark-price`` and
  ``liquidation-orders`` only on ``/public``) and unknown or delisted instruments: code 60018;
* keepalive: a connection from which nothing arrived for ``idle_s`` is closed (OKX: 30 s); the text ``ping``
  is answered by the text ``pong``;
* REST: at most ``rest_limit`` requests per 2 s per path (HTTP 429, code 50011).

Every ``step_s`` the market moves six simulated seconds: ``mark-price`` and the forming ``candle1m`` are pushed
for each subscribed instrument (the closed bar with ``confirm`` "1" once a simulated minute), and every fifth
step ``liquidation-orders`` carries liquidations of the listed swaps and of an inverse swap no USDT radar follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 900_000
CT_VAL = 0.1


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    path: str
    args: set[tuple[str, str]] = field(default_factory=set)  # (channel, instId or instType)
    requests: deque[float] = field(default_factory=deque)
    last_rx: float = field(default_factory=time.monotonic)
    pings: int = 0


def _window_ok(times: deque[float], limit: int, window_s: float, now: float) -> bool:
    """Record ``now``; whether ``times`` still holds at most ``limit`` entries within ``window_s``."""
    while times and times[0] <= now - window_s:
        times.popleft()
    times.append(now)
    return len(times) <= limit


class OkxServer:
    def __init__(
        self,
        symbols: list[str],
        *,
        step_s: float = 0.05,
        max_args: int = 400,
        max_request_bytes: int = 65_536,
        sub_limit: int = 480,
        sub_window_s: float = 3600.0,
        connect_limit: int = 3,
        connect_window_s: float = 1.0,
        idle_s: float = 30.0,
        rest_limit: int = 20,
        push: bool = True,
    ) -> None:
        self.symbols = list(symbols)
        self.step_s = step_s
        self.max_args = max_args
        self.max_request_bytes = max_request_bytes
        self.sub_limit = sub_limit
        self.sub_window_s = sub_window_s
        self.connect_limit = connect_limit
        self.connect_window_s = connect_window_s
        self.idle_s = idle_s
        self.rest_limit = rest_limit
        self.push = push
        self.clients: set[Client] = set()
        self.violations: list[str] = []
        self.errors_sent: list[str] = []
        self.connections = 0
        self.requests: list[dict[str, str]] = []
        self.rest_calls: defaultdict[str, deque[float]] = defaultdict(deque)
        self.idle_closes = 0
        self.now = T0
        self._connects: deque[float] = deque()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def price(self, s: str) -> float:
        return 1.0 + (sum(map(ord, s)) % 97)

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._http, compression=None)
        self._tasks = [asyncio.create_task(self._push()), asyncio.create_task(self._reaper())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for t in self._tasks:
            t.cancel()
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v5/public"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def of(self, path: str) -> list[Client]:
        return [c for c in self.clients if c.path == path]

    def subscribed(self, channel: str, key: str) -> bool:
        return any((channel, key) in c.args for c in self.clients)

    async def drop_all(self) -> None:
        """Close every connection abruptly (a network fault)."""
        for c in list(self.clients):
            c.ws.transport.abort()

    async def inject(self, text: str) -> None:
        """Send ``text`` as a frame on every connection."""
        for c in list(self.clients):
            await c.ws.send(text)

    # -- REST -------------------------------------------------------------------------------------------------
    def _http(self, conn: ServerConnection, request: Request) -> Response | None:
        now = time.monotonic()
        url = urlsplit(request.path)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if not _window_ok(self._connects, self.connect_limit, self.connect_window_s, now):
                self.violations.append(
                    f"more than {self.connect_limit} connections in {self.connect_window_s} s"
                )
                return _json(429, {"code": "50011", "msg": "Too Many Requests"})
            self.connections += 1
            return None
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, **q})
        if not _window_ok(self.rest_calls[url.path], self.rest_limit, 2.0, now):
            self.violations.append(f"REST {url.path}: more than {self.rest_limit} requests in 2 s")
            return _json(429, {"code": "50011", "msg": "Too Many Requests", "data": []})
        if url.path == "/api/v5/public/instruments":
            rows = [{"instId": s, "instType": "SWAP", "settleCcy": "USDT", "ctVal": str(CT_VAL), "ctValCcy": s.split("-")[0],
                     "ctType": "linear", "state": "live"} for s in self.symbols]  # fmt: skip
            rows.append({"instId": "BTC-USD-SWAP", "instType": "SWAP", "settleCcy": "BTC", "ctVal": "100",
                         "ctValCcy": "USD", "ctType": "inverse", "state": "live"})  # fmt: skip
            rows.append({"instId": "OLD-USDT-SWAP", "instType": "SWAP", "settleCcy": "USDT", "ctVal": "1",
                         "ctValCcy": "OLD", "ctType": "linear", "state": "suspend"})  # fmt: skip
            body: dict[str, Any] = {"code": "0", "msg": "", "data": rows}
        elif url.path == "/api/v5/public/open-interest":
            rows = [{"instId": s, "instType": "SWAP", "oi": str(2e6), "oiCcy": str(2e6 * CT_VAL),
                     "oiUsd": str(2e6 * CT_VAL * self.price(s)), "ts": str(self.now)} for s in self.symbols]  # fmt: skip
            body = {"code": "0", "msg": "", "data": rows}
        elif url.path == "/api/v5/market/candles":
            p = self.price(q["instId"])
            t_last = self.now - self.now % 900_000
            rows = [[str(t_last - i * 900_000), str(p), str(p * 1.01), str(p * 0.99), str(p * (1 + 0.001 * (i % 5))),
                     "10000", "1000", str(1000 * p), "0" if i == 0 else "1"] for i in range(int(q.get("limit", 48)))]  # fmt: skip
            body = {"code": "0", "msg": "", "data": rows}
        elif url.path == "/api/v5/rubik/stat/contracts/open-interest-history":
            p = self.price(q["instId"])
            t_last = self.now - self.now % 900_000
            rows = [[str(t_last - i * 900_000), str(1e6), str(1e5 * (1 - 0.01 * i)), str(1e5 * (1 - 0.01 * i) * p)]
                    for i in range(int(q.get("limit", 48)))]  # fmt: skip
            body = {"code": "0", "msg": "", "data": rows}
        else:
            return _json(404, {"code": "50000", "msg": f"unknown path {url.path}"})
        return _json(200, body)

    # -- websocket --------------------------------------------------------------------------------------------
    async def _error(self, c: Client, code: str, msg: str) -> None:
        self.errors_sent.append(f"{code}: {msg}")
        await c.ws.send(json.dumps({"event": "error", "code": code, "msg": msg, "connId": "t"}))

    async def _handle(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path if ws.request else "").path
        c = Client(ws, path)
        self.clients.add(c)
        try:
            with contextlib.suppress(ConnectionClosed):  # a client gone (a drop, a test ending)
                async for msg in ws:
                    c.last_rx = time.monotonic()
                    if msg == "ping":
                        c.pings += 1
                        await ws.send("pong")
                        continue
                    await self._request(c, str(msg))
        finally:
            self.clients.discard(c)

    async def _request(self, c: Client, msg: str) -> None:
        if not _window_ok(c.requests, self.sub_limit, self.sub_window_s, time.monotonic()):
            self.violations.append(
                f"more than {self.sub_limit} requests in {self.sub_window_s} s on a connection"
            )
            await self._error(c, "60014", "Requests too frequent.")
            await c.ws.close()
            return
        if len(msg) > self.max_request_bytes:
            self.violations.append(f"a request of {len(msg)} bytes")
            await self._error(c, "60012", "Invalid request: request too long")
            return
        try:
            req = json.loads(msg)
            op, args = req["op"], req["args"]
        except (ValueError, KeyError, TypeError):
            await self._error(c, "60012", f"Invalid request: {msg[:60]}")
            return
        business = c.path.endswith("/business")
        for a in args:
            chan = a.get("channel", "")
            key = a.get("instId") or a.get("instType", "")
            if op == "unsubscribe":
                c.args.discard((chan, key))
                await c.ws.send(json.dumps({"event": "unsubscribe", "arg": a, "connId": "t"}))
                continue
            wrong_place = (chan == "candle1m") != business or chan not in (
                "candle1m",
                "mark-price",
                "liquidation-orders",
            )
            unknown = chan != "liquidation-orders" and key not in self.symbols
            if wrong_place:
                self.violations.append(f"{chan} subscribed on {c.path}")
            if wrong_place or unknown:
                await self._error(c, "60018", f"Wrong URL or channel:{chan},instId:{key} doesn't exist.")
                continue
            if len(c.args | {(chan, key)}) > self.max_args:
                self.violations.append(f"more than {self.max_args} subscriptions on a connection")
                await self._error(c, "60012", "Invalid request: too many subscriptions")
                continue
            c.args.add((chan, key))
            await c.ws.send(json.dumps({"event": "subscribe", "arg": a, "connId": "t"}))

    async def _reaper(self) -> None:
        """OKX closes a connection silent for 30 s (here ``idle_s``)."""
        while True:
            await asyncio.sleep(min(0.05, self.idle_s / 10))
            now = time.monotonic()
            for c in list(self.clients):
                if now - c.last_rx > self.idle_s:
                    self.idle_closes += 1
                    self.clients.discard(c)
                    await c.ws.close()

    async def _push(self) -> None:
        k = 0
        while True:
            await asyncio.sleep(self.step_s)
            if not self.push:
                continue
            k += 1
            self.now += 6000
            closed = self.now % 60_000 == 0
            minute = self.now - self.now % 60_000
            for c in list(self.clients):
                frames: list[str] = []
                for chan, key in sorted(c.args):
                    if chan == "liquidation-orders":
                        if k % 5:
                            continue
                        data = [{"instId": s, "instType": "SWAP", "uly": s[:-5], "instFamily": s[:-5],
                                 "details": [{"side": "sell", "posSide": "long", "bkPx": str(self.price(s)), "sz": "30",
                                              "bkLoss": "0", "ccy": "", "ts": str(self.now)}]}
                                for s in [*self.symbols[:3], "BTC-USD-SWAP"]]  # fmt: skip
                        frames.append(
                            json.dumps({"arg": {"channel": chan, "instType": "SWAP"}, "data": data})
                        )
                        continue
                    if key not in self.symbols:
                        continue  # delisted: nothing more is pushed
                    p = self.price(key) * (1 + 0.002 * ((k % 7) - 3))
                    if chan == "mark-price":
                        data = [
                            {"instId": key, "instType": "SWAP", "markPx": f"{p:.6f}", "ts": str(self.now)}
                        ]
                    else:
                        start = minute - 60_000 if closed else minute
                        data = [[str(start), str(p), str(p * 1.002), str(p * 0.998), str(p), "100", str(100 * CT_VAL),
                                 str(100 * CT_VAL * p), "1" if closed else "0"]]  # fmt: skip
                    frames.append(json.dumps({"arg": {"channel": chan, "instId": key}, "data": data}))
                with contextlib.suppress(Exception):  # a client gone mid-push
                    for f in frames:
                        await c.ws.send(f)


def _json(status: int, body: Any) -> Response:
    data = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}[status]
    return Response(
        status,
        reason,
        Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data)))]),
        data,
    )
