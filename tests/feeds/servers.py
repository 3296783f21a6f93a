"""Local exchange servers for the feed tests: real websockets (and HTTP) on 127.0.0.1, one protocol per venue.

``ExchangeServer(venue, scripts=[...])`` accepts connections, speaks the venue's subscription and keepalive
protocol (Binance streams in the URL and ``SUBSCRIBE`` acks, Bybit ``op`` acks and pongs, OKX per-channel
acks and the text ping/pong, Hyperliquid ``subscriptionResponse`` and ``pong``), refuses unknown symbols the
way the venue does, and plays one *script* per connection: the n-th connection plays ``scripts[n]`` (the last
one repeats). A script is a list of steps:

* a ``str``: send that frame;
* ``Close(code)``: close the connection cleanly; ``Abort()``: drop the TCP connection without a close frame;
* ``Stall()``: keep the socket open and send nothing more (protocol pings are no longer answered either);
* ``Stream(make, interval_s)``: send ``make(i)`` for i = 0, 1, ... every ``interval_s`` until the client
  leaves;
* ``Gate(event)``: wait for an ``asyncio.Event`` set by the test;
* ``Follow(hub)``: receive the live frames a shared :class:`Hub` broadcasts to every open connection.

A script ending without one of the terminal steps keeps the connection open and answers pings. The same port
serves the venue's REST endpoints over plain HTTP (Binance open interest, OKX instruments).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from liqtui.feeds.symbols import base_of


@dataclass
class Close:
    code: int = 1000
    reason: str = "bye"


@dataclass
class Abort:
    pass


@dataclass
class Stall:
    pass


@dataclass
class Stream:
    make: Callable[[int], str]
    interval_s: float = 0.01


@dataclass
class Gate:
    event: asyncio.Event


class Hub:
    """An exchange's live feed: one frame sequence sent to every connection following it at that moment, so a
    connection that is not open when frame k goes out never sees frame k."""

    def __init__(self, make: Callable[[int], str], interval_s: float = 0.002) -> None:
        self.make = make
        self.interval_s = interval_s
        self.followers: set[ServerConnection] = set()
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        k = 0
        while True:  # the market goes on whether anyone listens or not
            frame = self.make(k)
            k += 1
            for ws in list(self.followers):
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    self.followers.discard(ws)
            self.sent = k
            await asyncio.sleep(self.interval_s)


@dataclass
class Follow:
    hub: Hub


Step = str | Close | Abort | Stall | Stream | Gate | Follow


@dataclass
class ConnRecord:
    """What the server saw on one connection."""

    path: str
    received: list[str] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    pings: int = 0
    sent: int = 0


class ExchangeServer:
    """A local server speaking one venue's public market-data protocol."""

    def __init__(
        self,
        venue: str,
        scripts: list[list[Step]] | None = None,
        *,
        scripts_by_path: dict[str, list[list[Step]]] | None = None,
        symbols: tuple[str, ...] = ("BTC",),
        oi_base: float = 80_000.0,
        ct_val: float = 0.01,
        rest_status: int = 200,
    ) -> None:
        self.venue = venue
        self.scripts = scripts or [[]]
        self.scripts_by_path = scripts_by_path or {}
        self.symbols = {s.upper() for s in symbols}
        self.oi_base = oi_base
        self.ct_val = ct_val
        self.rest_status = rest_status
        self.conns: list[ConnRecord] = []
        self.rest_hits: list[str] = []
        self._per_path: dict[str, int] = {}
        self._server: Server | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, max_size=None, process_request=self._http
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def ws_url(self) -> str:
        """Websocket base as the venue's endpoint would be configured."""
        paths = {
            "binance": "/market",
            "bybit": "/v5/public/linear",
            "okx": "/ws/v5/public",
            "hyperliquid": "/ws",
        }
        return f"ws://127.0.0.1:{self.port}{paths[self.venue]}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint_overrides(self) -> list[str]:
        """``--endpoint`` strings pointing the venue at this server."""
        return [f"{self.venue}={self.ws_url}", f"{self.venue}.rest={self.rest_url}"]

    # -- REST ------------------------------------------------------------------------------------------
    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.rest_hits.append(request.path)
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.rest_status != 200:
            return _response(self.rest_status, '{"code":-1,"msg":"server busy"}')
        if url.path == "/fapi/v1/openInterest":
            sym = q.get("symbol", "")
            if not self._known(sym):
                return _response(400, '{"code":-1121,"msg":"Invalid symbol."}')
            return _response(
                200,
                json.dumps({"openInterest": f"{self.oi_base:.3f}", "symbol": sym, "time": 1_700_000_000_000}),
            )
        if url.path == "/api/v5/public/instruments":
            inst = q.get("instId", "")
            if not self._known(inst):
                return _response(200, '{"code":"51001","msg":"Instrument ID does not exist","data":[]}')
            return _response(
                200,
                json.dumps(
                    {
                        "code": "0",
                        "msg": "",
                        "data": [
                            {
                                "instType": "SWAP",
                                "instId": inst,
                                "ctVal": str(self.ct_val),
                                "ctValCcy": inst.split("-")[0],
                                "ctType": "linear",
                                "settleCcy": "USDT",
                                "state": "live",
                            }
                        ],
                    }
                ),
            )
        return _response(404, '{"code":-1,"msg":"not found"}')

    def _known(self, symbol: str) -> bool:
        try:
            return base_of(symbol) in self.symbols
        except ValueError:
            return False

    # -- websocket -----------------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        rec = ConnRecord(path=path)
        self.conns.append(rec)
        key = next((k for k in self.scripts_by_path if k in path), None)
        scripts = self.scripts_by_path[key] if key is not None else self.scripts
        n = self._per_path.get(key or "", 0)
        self._per_path[key or ""] = n + 1
        script = scripts[min(n, len(scripts) - 1)]
        stalled = asyncio.Event()
        if self.venue == "binance":
            self._binance_url_subscription(ws, rec)
        reader = asyncio.create_task(self._reader(ws, rec, stalled))
        subscribed = asyncio.create_task(rec.subscribed.wait())
        try:
            await asyncio.wait({reader, subscribed}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if rec.subscribed.is_set():  # otherwise the client left (or refused) before subscribing
                await self._play(ws, rec, script, stalled)
                await reader
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            subscribed.cancel()

    def _binance_url_subscription(self, ws: ServerConnection, rec: ConnRecord) -> None:
        q = parse_qs(urlsplit(rec.path).query)
        streams = q.get("streams", [""])[0].split("/") if q else []
        if streams and streams[0]:
            rec.subscribed.set()  # unknown symbols are silently not served, as on Binance

    async def _play(
        self, ws: ServerConnection, rec: ConnRecord, script: list[Step], stalled: asyncio.Event
    ) -> None:
        for step in script:
            if isinstance(step, str):
                await ws.send(step)
                rec.sent += 1
            elif isinstance(step, Close):
                await ws.close(step.code, step.reason)
                return
            elif isinstance(step, Abort):
                ws.transport.abort()
                return
            elif isinstance(step, Stall):
                stalled.set()
                await ws.wait_closed()
                return
            elif isinstance(step, Gate):
                await step.event.wait()
            elif isinstance(step, Follow):
                step.hub.followers.add(ws)
                try:
                    await ws.wait_closed()
                finally:
                    step.hub.followers.discard(ws)
                return
            elif isinstance(step, Stream):
                i = 0
                while True:
                    await ws.send(step.make(i))
                    rec.sent += 1
                    i += 1
                    await asyncio.sleep(step.interval_s)

    async def _reader(self, ws: ServerConnection, rec: ConnRecord, stalled: asyncio.Event) -> None:
        async for msg in ws:
            text = msg if isinstance(msg, str) else msg.decode()
            rec.received.append(text)
            if stalled.is_set():
                continue
            for reply in self._protocol(text, rec):
                await ws.send(reply)

    def _protocol(self, text: str, rec: ConnRecord) -> list[str]:
        """The venue's replies to one client message."""
        if self.venue == "okx" and text == "ping":
            rec.pings += 1
            return ["pong"]
        try:
            msg: Any = json.loads(text)
        except ValueError:
            return []
        handler = getattr(self, f"_{self.venue}")
        return handler(msg, rec)

    def _binance(self, msg: Any, rec: ConnRecord) -> list[str]:
        if msg.get("method") == "SUBSCRIBE":
            rec.subscribed.set()
            return [json.dumps({"result": None, "id": msg.get("id")})]
        error = {"code": 2, "msg": "Invalid request: unknown method"}
        return [json.dumps({"error": error, "id": msg.get("id")})]

    def _bybit(self, msg: Any, rec: ConnRecord) -> list[str]:
        op = msg.get("op")
        if op == "ping":
            rec.pings += 1
            return [
                json.dumps({"success": True, "ret_msg": "pong", "conn_id": "c1", "req_id": "", "op": "ping"})
            ]
        if op == "subscribe":
            bad = [t for t in msg.get("args", []) if not self._known(t.rsplit(".", 1)[-1])]
            if bad:
                return [
                    json.dumps(
                        {
                            "success": False,
                            "ret_msg": f"Invalid symbol :[{bad[0]}]",
                            "conn_id": "c1",
                            "req_id": "",
                            "op": "subscribe",
                        }
                    )
                ]
            rec.subscribed.set()
            return [
                json.dumps({"success": True, "ret_msg": "", "conn_id": "c1", "req_id": "", "op": "subscribe"})
            ]
        return []

    def _okx(self, msg: Any, rec: ConnRecord) -> list[str]:
        if msg.get("op") != "subscribe":
            return [json.dumps({"event": "error", "code": "60012", "msg": "Invalid request", "connId": "k1"})]
        out = []
        for arg in msg.get("args", []):
            inst = arg.get("instId")
            if inst is not None and not self._known(inst):
                msg_text = f"Wrong URL or channel:{arg['channel']},instId:{inst} doesn't exist"
                return [json.dumps({"event": "error", "code": "60018", "msg": msg_text, "connId": "k1"})]
            out.append(json.dumps({"event": "subscribe", "arg": arg, "connId": "k1"}))
        rec.subscribed.set()
        return out

    def _hyperliquid(self, msg: Any, rec: ConnRecord) -> list[str]:
        if msg.get("method") == "ping":
            rec.pings += 1
            return [json.dumps({"channel": "pong"})]
        if msg.get("method") == "subscribe":
            sub = msg.get("subscription", {})
            if not self._known(sub.get("coin", "")):
                return [
                    json.dumps(
                        {"channel": "error", "data": f"Invalid subscription {json.dumps(sub)}: unknown coin"}
                    )
                ]
            rec.subscribed.set()
            return [
                json.dumps(
                    {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": sub}}
                )
            ]
        return []


def _response(status: int, body: str) -> Response:
    reason = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "Error")
    data = body.encode()
    headers = Headers(
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")]
    )
    return Response(status, reason, headers, data)
