"""A local Hyperliquid exchange for the all-market tests: the websocket (``/ws``) and ``POST /info`` (a small
HTTP/1.1 server on its own port), speaking Hyperliquid's documented protocol and enforcing its per-IP limits,
so a feed that breaks one fails.

Enforced (each breach counted in :attr:`HlServer.violations`):

* websocket connections: at most ``max_conns`` at once and ``connect_limit`` new ones per
  ``connect_window_s`` (HTTP 429 at the handshake);
* subscriptions: at most ``max_subs`` across every connection (``{"channel":"error"}``);
* messages: at most ``msg_limit`` per ``msg_window_s`` across every connection (an error, then the connection
  is closed);
* keepalive: a connection the server sent nothing on for ``idle_s`` is closed (Hyperliquid: 60 s);
  ``{"method":"ping"}`` is answered ``{"channel":"pong"}``;
* REST weight: at most ``weight_limit`` per ``weight_window_s`` (HTTP 429): ``metaAndAssetCtxs`` weighs 20,
  ``candleSnapshot`` 20 plus one per 60 rows.

The market: every ``step_s`` six simulated seconds pass (the clock starts at the current minute); ``allMids``
(with a spot pair, ``@1``, as Hyperliquid's has) and each subscribed coin's forming ``candle`` are pushed.
Delisting flags the coin ``isDelisted`` in the universe, as Hyperliquid does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

MINUTE = 60_000


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    subs: set[str] = field(default_factory=set)  # "allMids" or the candle's coin
    last_tx: float = field(default_factory=time.monotonic)
    pings: int = 0


def _window_ok(
    times: deque[tuple[float, float]], limit: float, window_s: float, now: float, n: float = 1
) -> bool:
    while times and times[0][0] <= now - window_s:
        times.popleft()
    times.append((now, n))
    return sum(k for _, k in times) <= limit


class HlServer:
    def __init__(
        self,
        coins: list[str],
        *,
        step_s: float = 0.05,
        max_conns: int = 10,
        connect_limit: int = 30,
        connect_window_s: float = 60.0,
        max_subs: int = 1000,
        msg_limit: int = 2000,
        msg_window_s: float = 60.0,
        idle_s: float = 60.0,
        weight_limit: float = 1200.0,
        weight_window_s: float = 60.0,
        push: bool = True,
    ) -> None:
        self.coins = list(coins)
        self.delisted: set[str] = set()
        self.step_s = step_s
        self.max_conns = max_conns
        self.connect_limit = connect_limit
        self.connect_window_s = connect_window_s
        self.max_subs = max_subs
        self.msg_limit = msg_limit
        self.msg_window_s = msg_window_s
        self.idle_s = idle_s
        self.weight_limit = weight_limit
        self.weight_window_s = weight_window_s
        self.push = push
        self.clients: set[Client] = set()
        self.violations: list[str] = []
        self.connections = 0
        self.idle_closes = 0
        self.info: list[dict[str, Any]] = []
        self.weight_used = 0.0
        wall = int(time.time() * 1000)
        self.now = wall - wall % MINUTE
        self._connects: deque[tuple[float, float]] = deque()
        self._msgs: deque[tuple[float, float]] = deque()
        self._weights: deque[tuple[float, float]] = deque()
        self._ws: Server | None = None
        self._rest: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def price(self, coin: str) -> float:
        return 1.0 + (sum(map(ord, coin)) % 97)

    def total_subs(self) -> int:
        return sum(len(c.subs) for c in self.clients)

    def subscribed(self, key: str) -> bool:
        return any(key in c.subs for c in self.clients)

    async def __aenter__(self) -> Self:
        self._ws = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._handshake, compression=None
        )
        self._rest = await asyncio.start_server(self._http, "127.0.0.1", 0)
        self._tasks = [asyncio.create_task(self._push()), asyncio.create_task(self._reaper())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._ws is not None and self._rest is not None
        for t in self._tasks:
            t.cancel()
        self._ws.close()
        await self._ws.wait_closed()
        self._rest.close()
        await self._rest.wait_closed()

    @property
    def ws_url(self) -> str:
        assert self._ws is not None
        return f"ws://127.0.0.1:{next(iter(self._ws.sockets)).getsockname()[1]}/ws"

    @property
    def rest_url(self) -> str:
        assert self._rest is not None
        return f"http://127.0.0.1:{self._rest.sockets[0].getsockname()[1]}"

    async def drop_all(self) -> None:
        for c in list(self.clients):
            c.ws.transport.abort()

    async def inject(self, text: str) -> None:
        for c in list(self.clients):
            await self._send(c, text)

    # -- REST: POST /info ----------------------------------------------------------------------------------------
    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, reply = self._info(method, path, body)
                data = json.dumps(reply).encode()
                reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}[status]
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    f"Retry-After: 1\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        writer.close()

    def _info(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method != "POST" or path != "/info":
            return 404, "not found"
        try:
            req = json.loads(body)
            kind = req["type"]
        except (ValueError, KeyError, TypeError):
            return 400, "bad request"
        self.info.append(req)
        if kind == "metaAndAssetCtxs":
            weight = 20.0
            universe = [{"name": c, "szDecimals": 2, "maxLeverage": 20, **({"isDelisted": True} if c in self.delisted else {})}
                        for c in self.coins]  # fmt: skip
            ctxs = [{"funding": "0.0000125", "openInterest": str(1e5 + i), "prevDayPx": str(self.price(c)),
                     "dayNtlVlm": "1000000.0", "premium": "0.0", "oraclePx": str(self.price(c)),
                     "markPx": str(self.price(c)), "midPx": None if c in self.delisted else str(self.price(c)),
                     "impactPxs": None} for i, c in enumerate(self.coins)]  # fmt: skip
            reply: Any = [{"universe": universe}, ctxs]
        elif kind == "candleSnapshot":
            r = req["req"]
            step = {"1m": MINUTE, "15m": 15 * MINUTE}[r["interval"]]
            start = int(r["startTime"]) - int(r["startTime"]) % step + step
            end = min(int(r["endTime"]), self.now)
            p = self.price(r["coin"])
            reply = [{"t": t, "T": t + step - 1, "s": r["coin"], "i": r["interval"], "o": str(p),
                      "c": str(p * (1 + 0.001 * ((t // step) % 5))), "h": str(p * 1.01), "l": str(p * 0.99),
                      "v": "1000.0", "n": 10} for t in range(start, end + 1, step)]  # fmt: skip
            weight = 20.0 + len(reply) // 60
        else:
            return 400, f"unknown info type {kind}"
        self.weight_used += weight
        if not _window_ok(self._weights, self.weight_limit, self.weight_window_s, time.monotonic(), weight):
            self.violations.append(f"more than {self.weight_limit} weight in {self.weight_window_s} s")
            return 429, None
        return 200, reply

    # -- websocket ------------------------------------------------------------------------------------------------
    def _handshake(self, conn: ServerConnection, request: Request) -> Response | None:
        now = time.monotonic()
        if len(self.clients) >= self.max_conns:
            self.violations.append(f"more than {self.max_conns} connections")
            return Response(429, "Too Many Requests", Headers([("Content-Length", "0")]), b"")
        if not _window_ok(self._connects, self.connect_limit, self.connect_window_s, now):
            self.violations.append(
                f"more than {self.connect_limit} new connections in {self.connect_window_s} s"
            )
            return Response(429, "Too Many Requests", Headers([("Content-Length", "0")]), b"")
        self.connections += 1
        return None

    async def _send(self, c: Client, text: str) -> None:
        await c.ws.send(text)
        c.last_tx = time.monotonic()

    async def _error(self, c: Client, text: str) -> None:
        await self._send(c, json.dumps({"channel": "error", "data": text}))

    async def _handle(self, ws: ServerConnection) -> None:
        c = Client(ws)
        self.clients.add(c)
        try:
            with contextlib.suppress(ConnectionClosed):  # a client gone (a drop, a test ending)
                async for msg in ws:
                    if not _window_ok(self._msgs, self.msg_limit, self.msg_window_s, time.monotonic()):
                        self.violations.append(
                            f"more than {self.msg_limit} messages in {self.msg_window_s} s"
                        )
                        await self._error(c, "Too many messages")
                        await ws.close()
                        return
                    try:
                        req = json.loads(msg)
                        method = req["method"]
                    except (ValueError, KeyError, TypeError):
                        await self._error(c, f"Invalid message: {str(msg)[:60]}")
                        continue
                    if method == "ping":
                        c.pings += 1
                        await self._send(c, '{"channel":"pong"}')
                        continue
                    sub = req.get("subscription") or {}
                    key = "allMids" if sub.get("type") == "allMids" else sub.get("coin", "")
                    ok = sub.get("type") == "allMids" or (
                        sub.get("type") == "candle" and sub.get("interval") == "1m" and key in self.coins
                        and key not in self.delisted
                    )  # fmt: skip
                    if method == "unsubscribe":
                        c.subs.discard(key)
                    elif not ok:
                        await self._error(c, f"Invalid subscription {json.dumps(sub)}")
                        continue
                    elif key not in c.subs and self.total_subs() >= self.max_subs:
                        self.violations.append(f"more than {self.max_subs} subscriptions")
                        await self._error(c, f"Cannot track more than {self.max_subs} total subscriptions")
                        continue
                    else:
                        c.subs.add(key)
                    reply = {"method": method, "subscription": sub}
                    await self._send(c, json.dumps({"channel": "subscriptionResponse", "data": reply}))
        finally:
            self.clients.discard(c)

    async def _reaper(self) -> None:
        """Hyperliquid closes a connection it sent nothing on for 60 s (here ``idle_s``)."""
        while True:
            await asyncio.sleep(min(0.05, self.idle_s / 10))
            now = time.monotonic()
            for c in list(self.clients):
                if now - c.last_tx > self.idle_s:
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
            minute = self.now - self.now % MINUTE
            listed = [c for c in self.coins if c not in self.delisted]
            mids = {c: f"{self.price(c) * (1 + 0.002 * ((k % 7) - 3)):.6f}" for c in listed}
            mids["@1"] = "0.5"
            all_mids = json.dumps({"channel": "allMids", "data": {"mids": mids}})
            for c in list(self.clients):
                frames = [all_mids] if "allMids" in c.subs else []
                for coin in sorted(c.subs - {"allMids"}):
                    if coin not in listed:
                        continue
                    p = float(mids[coin])
                    data = {"t": minute, "T": minute + MINUTE - 1, "s": coin, "i": "1m", "o": str(p), "c": str(p),
                            "h": str(p * 1.002), "l": str(p * 0.998), "v": "10.0", "n": 3}  # fmt: skip
                    frames.append(json.dumps({"channel": "candle", "data": data}))
                with contextlib.suppress(Exception):  # a client gone mid-push
                    for f in frames:
                        await self._send(c, f)
