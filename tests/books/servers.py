"""A local book server for the runner tests: real websockets (and HTTP) on 127.0.0.1.

Each connection runs the test's ``play(n, conn)`` coroutine (n: the connection's index); ``conn.recv()`` waits
for the client's next message and ``conn.ws`` sends. The same port answers the REST calls a book needs: the
Binance depth snapshot (``snapshot()`` of the test) and the OKX instruments (ctVal 0.01).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


class Conn:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.received: list[str] = []
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    async def recv(self) -> str:
        return await self._queue.get()

    async def recv_until(self, pred: Callable[[str], bool]) -> str:
        while True:
            msg = await self.recv()
            if pred(msg):
                return msg


class BookServer:
    def __init__(
        self, play: Callable[[int, Conn], Awaitable[None]], snapshot: Callable[[], dict] | None = None
    ) -> None:
        self.play = play
        self.snapshot = snapshot
        self.conns: list[Conn] = []
        self.rest_hits: list[str] = []
        self._server: Server | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, process_request=self._http)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def overrides(self, venue: str) -> list[str]:
        return [f"{venue}={self.ws_url}", f"{venue}.rest={self.rest_url}"]

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.rest_hits.append(request.path)
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/fapi/v1/depth" and self.snapshot is not None:
            return _response(200, json.dumps(self.snapshot()))
        if url.path == "/api/v5/public/instruments":
            row = {"instType": "SWAP", "instId": q.get("instId", ""), "ctVal": "0.01", "ctValCcy": "BTC",
                   "ctType": "linear", "settleCcy": "USDT", "state": "live"}  # fmt: skip
            return _response(200, json.dumps({"code": "0", "msg": "", "data": [row]}))
        return _response(404, '{"code":-1,"msg":"not found"}')

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Conn(ws)
        n = len(self.conns)
        self.conns.append(conn)
        reader = asyncio.create_task(self._reader(conn))
        try:
            await self.play(n, conn)
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()

    async def _reader(self, conn: Conn) -> None:
        try:
            async for msg in conn.ws:
                text = msg if isinstance(msg, str) else msg.decode()
                conn.received.append(text)
                conn._queue.put_nowait(text)
        except ConnectionClosed:
            pass


def _response(status: int, body: str) -> Response:
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body.encode())))])
    return Response(status, "OK" if status == 200 else "Error", headers, body.encode())
