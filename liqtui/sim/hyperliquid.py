"""The demo exchange speaking Hyperliquid: websocket and ``POST /info`` over the simulated market's accounts.

:class:`SimAccounts` gives the simulator's positions (the cohorts of :class:`~liqtui.sim.book.PositionBook`,
each one account: Hyperliquid is one-way, one position per coin) seeded addresses, and answers
``clearinghouseState`` for them from the truth: ``szi`` is the cohort's open size now, ``liquidationPx`` its
true liquidation price (``null`` for the low-leverage cross accounts, whose collateral covers any move),
``leverage`` its tier. A pool of market-maker addresses trades too and holds nothing (some list a zero-size
entry, as the venue does for closed positions).

:class:`HyperliquidDemo` attaches to a running :class:`~liqtui.sim.server.DemoExchange` (its ``taps``) and
serves, on 127.0.0.1:

* websocket ``/ws``: ``trades`` (with ``users: [buyer, seller]``, drawn among the accounts weighted by their
  size), ``l2Book`` (a synthetic book around the price), ``candle`` (1m) and ``activeAssetCtx``; subscribe
  replies and ``{"method":"ping"}`` → ``{"channel":"pong"}`` as the venue does;
* ``POST /info``: ``clearinghouseState``, ``metaAndAssetCtxs``, ``candleSnapshot`` (at most 5000 candles),
  with the documented 1200-weight-per-minute limit answered by HTTP 429 ``Retry-After: 1`` (weights 2 and
  20; the documented extra weight per 60 candles returned is not charged).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from liqtui.core.events import PositionSide
from liqtui.sim.bars import INTERVALS_MS
from liqtui.sim.book import LONG
from liqtui.sim.market import MarketSim, TrueLevels
from liqtui.sim.payloads import Frame

__all__ = ["HyperliquidDemo", "SimAccounts", "address_of"]

_MAX_HEAD = 64 * 1024
_REFRESH_MS = 60_000  # how often the trading accounts' weights are recomputed
_MAKER_SHARE = 0.3  # share of trade sides taken by the market makers
_WEIGHTS = {"clearinghouseState": 2, "l2Book": 2, "allMids": 2}  # others: 20 (candleSnapshot + per 60)


def address_of(seed: int, key: str) -> str:
    """A stable pseudo address for ``key``."""
    return "0x" + hashlib.sha256(f"liqtui-sim:{seed}:{key}".encode()).hexdigest()[:40]


def _fmt(x: float, nd: int = 6) -> str:
    return f"{x:.{nd}f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


class SimAccounts:
    """The simulator's cohorts as Hyperliquid accounts."""

    def __init__(self, market: MarketSim, seed: int = 0, *, n_makers: int = 24) -> None:
        self.market = market
        self.seed = seed
        self.coin = market.symbol.removesuffix("USDT")
        self.makers = [address_of(seed, f"maker{i}") for i in range(n_makers)]
        self._maker_set = set(self.makers)
        self.by_address: dict[str, int] = {}  # address -> cohort id (addresses handed out so far)
        self._rng = np.random.default_rng([seed, 77])
        self._ids = np.empty(0, dtype=np.int64)
        self._cum = np.empty(0)
        self._at = -math.inf

    # -- the truth -----------------------------------------------------------------------------------------
    def address(self, cid: int) -> str:
        a = address_of(self.seed, f"c{cid}")
        self.by_address[a] = cid
        return a

    def live(self) -> np.ndarray:
        """Ids of the cohorts still standing (not liquidated; below the book's dust size they are closed)."""
        book = self.market.book
        ids = [c for side in book._buckets for b in side.values() for c in b]  # the book's live index
        return np.asarray(sorted(ids), dtype=np.int64)

    def open_size(self, cid: int, now_ms: int) -> float:
        """Coins still open in cohort ``cid`` at ``now_ms`` (0 once liquidated or dust)."""
        book = self.market.book
        side, tier, _, liq, qty0, t0 = book.cohorts[cid]
        k = int(math.log(liq) * book._inv_log_step)
        if cid not in book._buckets[0 if side == LONG else 1].get(k, ()):
            return 0.0
        qty = qty0 * math.exp(-max(0, now_ms - t0) / book._tau_ms[tier])
        return qty if qty * liq >= book.min_usd else 0.0

    def margin(self, cid: int) -> str:
        return "cross" if cid % 4 == 0 else "isolated"

    def null_liq(self, cid: int) -> bool:
        """Low-leverage cross accounts: collateral beyond any move, the venue reports no liquidation price."""
        lev = self.market.book.tiers[self.market.book.cohorts[cid][1]].leverage
        return self.margin(cid) == "cross" and lev <= 3

    def clearinghouse(self, address: str, now_ms: int) -> dict[str, Any]:
        """The ``clearinghouseState`` answer for ``address`` (unknown addresses: an empty account)."""
        m = self.market
        mark = m.mark
        rows: list[dict[str, Any]] = []
        cid = self.by_address.get(address)
        if cid is not None and (size := self.open_size(cid, now_ms)) > 0:
            side, tier, entry, liq, _, _ = m.book.cohorts[cid]
            lev = m.book.tiers[tier].leverage
            value = size * mark
            kind = self.margin(cid)
            lev_obj: dict[str, Any] = {"type": kind, "value": int(lev)}
            if kind == "isolated":
                lev_obj["rawUsd"] = _fmt(-side * size * entry + size * entry / lev)
            rows.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": self.coin,
                        "szi": _fmt(side * size, 8),
                        "leverage": lev_obj,
                        "entryPx": _fmt(entry, 2),
                        "positionValue": _fmt(value, 4),
                        "unrealizedPnl": _fmt(side * size * (mark - entry), 4),
                        "returnOnEquity": _fmt(side * (mark / entry - 1) * lev, 6),
                        "liquidationPx": None if self.null_liq(cid) else _fmt(liq, 6),
                        "marginUsed": _fmt(size * entry / lev, 4),
                        "maxLeverage": 50,
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        elif address in self._maker_set and self.makers.index(address) % 2 == 0:
            rows.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": self.coin,
                        "szi": "0.0",
                        "leverage": {"type": "cross", "value": 10},
                        "entryPx": _fmt(mark, 2),
                        "positionValue": "0.0",
                        "unrealizedPnl": "0.0",
                        "returnOnEquity": "0.0",
                        "liquidationPx": None,
                        "marginUsed": "0.0",
                        "maxLeverage": 50,
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        ntl = sum(abs(float(r["position"]["positionValue"])) for r in rows)
        summary = {
            "accountValue": _fmt(ntl / 5 + 1000.0, 4),
            "totalNtlPos": _fmt(ntl, 4),
            "totalRawUsd": _fmt(ntl / 5 + 1000.0, 4),
            "totalMarginUsed": _fmt(ntl / 10, 4),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": _fmt(ntl / 100, 4),
            "withdrawable": "1000.0",
            "assetPositions": rows,
            "time": now_ms,
        }

    def truth(self, addresses: Iterable[str], side: PositionSide, now_ms: int) -> TrueLevels:
        """True levels (price, USD = size × liquidation price) of the given accounts' standing positions with a
        liquidation price."""
        prices, usd = [], []
        book = self.market.book
        for a in addresses:
            cid = self.by_address.get(a)
            if cid is None or self.null_liq(cid) or book.cohorts[cid][0] != int(side):
                continue
            size = self.open_size(cid, now_ms)
            if size > 0:
                liq = book.cohorts[cid][3]
                prices.append(liq)
                usd.append(size * liq)
        order = np.argsort(prices, kind="stable")
        return TrueLevels(side=side, price=np.asarray(prices)[order], usd=np.asarray(usd)[order])

    # -- who trades ----------------------------------------------------------------------------------------
    def _refresh(self, now_ms: int) -> None:
        ids = self.live()
        if ids.size == 0:
            self._ids, self._cum = ids, np.empty(0)
        else:
            rows = np.array([self.market.book.cohorts[i] for i in ids.tolist()], dtype=np.float64)
            tau = np.asarray(self.market.book._tau_ms)[rows[:, 1].astype(np.int64)]
            usd = rows[:, 4] * np.exp(-np.maximum(now_ms - rows[:, 5], 0.0) / tau) * rows[:, 3]
            w = np.sqrt(np.maximum(usd - self.market.book.min_usd, 0.0))
            keep = w > 0
            self._ids, self._cum = ids[keep], np.cumsum(w[keep])
        self._at = now_ms

    def pick(self, now_ms: int) -> str:
        """One side of a trade: a maker, or an account drawn by the square root of its size."""
        if now_ms - self._at >= _REFRESH_MS:
            self._refresh(now_ms)
        u = self._rng.random(2)
        if u[0] < _MAKER_SHARE or self._cum.size == 0:
            return self.makers[int(u[1] * len(self.makers))]
        j = int(np.searchsorted(self._cum, u[1] * self._cum[-1], side="right"))
        return self.address(int(self._ids[min(j, self._ids.size - 1)]))


# -- the servers ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _WsClient:
    ws: ServerConnection
    queue: asyncio.Queue[str]
    subs: set[tuple[str, str]] = field(default_factory=set)  # (type, coin)


class HyperliquidDemo:
    """Hyperliquid websocket + info endpoint over a running :class:`~liqtui.sim.server.DemoExchange`."""

    def __init__(
        self, demo: Any, *, seed: int = 0, host: str = "127.0.0.1", weight_limit: int = 1200
    ) -> None:
        self.demo = demo
        self.seed = seed
        self.host = host
        self.weight_limit = weight_limit
        self.accounts: SimAccounts | None = None
        self.clients: set[_WsClient] = set()
        self.info_requests = 0
        self.info_weight: deque[tuple[float, int]] = deque()
        self.throttled = 0
        self._ws: Server | None = None
        self._http: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tid = 10**14

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def market(self) -> MarketSim:
        m = self.demo.market
        assert m is not None, "start the DemoExchange first"
        return m  # type: ignore[no-any-return]  # DemoExchange.market is typed loosely

    async def start(self) -> None:
        self.accounts = SimAccounts(self.market, self.seed)
        self._ws = await serve(self._handle, self.host, 0, compression=None, max_queue=64, close_timeout=1.0)
        self._http = await asyncio.start_server(self._serve_http, self.host, 0, limit=_MAX_HEAD)
        self.demo.taps.append(self._on_frames)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.demo.taps.remove(self._on_frames)
        if self._ws is not None:
            self._ws.close()
            await self._ws.wait_closed()
            self._ws = None
        if self._http is not None:
            self._http.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._http.wait_closed()
            self._http = None

    @property
    def ws_url(self) -> str:
        assert self._ws is not None
        return f"ws://{self.host}:{next(iter(self._ws.sockets)).getsockname()[1]}/ws"

    @property
    def rest_url(self) -> str:
        assert self._http is not None
        return f"http://{self.host}:{self._http.sockets[0].getsockname()[1]}"

    # -- frames --------------------------------------------------------------------------------------------
    def translate(self, frames: list[Frame]) -> list[tuple[tuple[str, str], str]]:
        """Hyperliquid frames ``((channel, coin), text)`` for the demo market's Binance frames."""
        acc = self.accounts
        assert acc is not None
        coin, m = acc.coin, self.market
        out: list[tuple[tuple[str, str], str]] = []
        for f in frames:
            kind = f.stream.rsplit("@", 1)[-1] if "@markPrice" not in f.stream else "markPrice"
            if kind == "aggTrade":
                d = json.loads(f.payload)
                self._tid += 1
                buyer, seller = acc.pick(d["T"]), acc.pick(d["T"])
                while seller == buyer:
                    seller = acc.pick(d["T"])
                row = {
                    "coin": coin,
                    "side": "A" if d["m"] else "B",
                    "px": d["p"],
                    "sz": d["q"],
                    "time": d["T"],
                    "hash": "0x" + hashlib.sha256(str(self._tid).encode()).hexdigest(),
                    "tid": self._tid,
                    "users": [buyer, seller],
                }
                out.append((("trades", coin), json.dumps({"channel": "trades", "data": [row]})))
            elif kind == "markPrice":
                d = json.loads(f.payload)
                mark = float(d["p"])
                ctx = {
                    "funding": d["r"],
                    "openInterest": _fmt(m.open_interest(), 5),
                    "prevDayPx": _fmt(mark, 1),
                    "dayNtlVlm": "0.0",
                    "premium": "0.0",
                    "oraclePx": _fmt(float(d["i"]), 1),
                    "markPx": _fmt(mark, 1),
                    "midPx": _fmt(m.price, 1),
                    "impactPxs": [_fmt(m.price - 1, 1), _fmt(m.price + 1, 1)],
                }
                data = {"coin": coin, "ctx": ctx}
                out.append(
                    (("activeAssetCtx", coin), json.dumps({"channel": "activeAssetCtx", "data": data}))
                )
                out.append((("l2Book", coin), self._book_frame(f.E)))
            elif kind == "kline_1m":
                k = json.loads(f.payload)["k"]
                data = {
                    "t": k["t"],
                    "T": k["T"],
                    "s": coin,
                    "i": "1m",
                    "o": k["o"],
                    "c": k["c"],
                    "h": k["h"],
                    "l": k["l"],
                    "v": k["v"],
                    "n": k["n"],
                }
                out.append((("candle", coin), json.dumps({"channel": "candle", "data": data})))
        return out

    def _book_frame(self, ts: int) -> str:
        p = self.market.price
        coin = self.accounts.coin if self.accounts else "BTC"
        bids = [{"px": _fmt(p - 1 - i, 1), "sz": _fmt(0.5 + 0.1 * i, 5), "n": 1 + i % 4} for i in range(20)]
        asks = [{"px": _fmt(p + 1 + i, 1), "sz": _fmt(0.5 + 0.1 * i, 5), "n": 1 + i % 4} for i in range(20)]
        data = {"coin": coin, "time": ts, "levels": [bids, asks]}
        return json.dumps({"channel": "l2Book", "data": data})

    def _on_frames(self, frames: list[Frame]) -> None:
        for key, text in self.translate(frames):
            for c in list(self.clients):
                if key in c.subs:
                    try:
                        c.queue.put_nowait(text)
                    except asyncio.QueueFull:
                        self.clients.discard(c)
                        asyncio.ensure_future(c.ws.close(1008, "slow consumer"))

    async def _handle(self, ws: ServerConnection) -> None:
        c = _WsClient(ws=ws, queue=asyncio.Queue(50_000))
        self.clients.add(c)
        sender = asyncio.create_task(self._send_loop(c))
        try:
            async for msg in ws:
                reply = self._command(c, msg)
                if reply is not None:
                    c.queue.put_nowait(reply)
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(c)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    async def _send_loop(self, c: _WsClient) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await c.ws.send(await c.queue.get())

    def _command(self, c: _WsClient, msg: str | bytes) -> str | None:
        try:
            req = json.loads(msg)
        except ValueError:
            return json.dumps({"channel": "error", "data": "Invalid JSON"})
        method = req.get("method") if isinstance(req, dict) else None
        if method == "ping":
            return json.dumps({"channel": "pong"})
        sub = req.get("subscription") if isinstance(req, dict) else None
        if method in ("subscribe", "unsubscribe") and isinstance(sub, dict):
            kind, coin = sub.get("type"), sub.get("coin")
            if kind not in ("trades", "l2Book", "candle", "activeAssetCtx") or not isinstance(coin, str):
                return json.dumps({"channel": "error", "data": f"Invalid subscription {json.dumps(sub)}"})
            if self.accounts is not None and coin != self.accounts.coin:
                return json.dumps({"channel": "error", "data": f"Invalid subscription: unknown coin {coin}"})
            (c.subs.add if method == "subscribe" else c.subs.discard)((kind, coin))
            return json.dumps(
                {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
            )
        return json.dumps({"channel": "error", "data": f"Unknown method {method!r}"})

    # -- info ----------------------------------------------------------------------------------------------
    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = (lines[0].split(" ") + ["", ""])[:2]
                hdr = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                n = int(hdr.get("content-length", "0") or 0)
                body = await reader.readexactly(min(n, _MAX_HEAD)) if n > 0 else b""
                status, extra, answer = self.info(method, target, body)
                data = json.dumps(answer).encode()
                reason = HTTPStatus(status).phrase
                head_out = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                head_out += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                head_out += f"Content-Length: {len(data)}\r\n\r\n"
                writer.write(head_out.encode("latin-1") + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _spend(self, weight: int) -> bool:
        now = time.monotonic()
        w = self.info_weight
        while w and w[0][0] <= now - 60.0:
            w.popleft()
        if sum(x for _, x in w) + weight > self.weight_limit:
            self.throttled += 1
            return False
        w.append((now, weight))
        return True

    def info(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        """One ``/info`` request: (status, extra headers, JSON answer)."""
        self.info_requests += 1
        if target.split("?")[0] != "/info" or method != "POST":
            return 404, {}, "Not Found"
        try:
            req = json.loads(body or b"null")
        except ValueError:
            return 422, {}, "Failed to deserialize the JSON body into the target type"
        kind = req.get("type") if isinstance(req, dict) else None
        m, acc = self.market, self.accounts
        assert acc is not None
        if not self._spend(_WEIGHTS.get(str(kind), 20)):
            return 429, {"Retry-After": "1"}, None
        if kind == "clearinghouseState":
            user = req.get("user")
            if not isinstance(user, str) or len(user) != 42:
                return 422, {}, "Failed to deserialize the JSON body into the target type"
            if req.get("dex"):
                return 200, {}, acc.clearinghouse("", m.now_ms)
            return 200, {}, acc.clearinghouse(user.lower(), m.now_ms)
        if kind == "metaAndAssetCtxs":
            meta = {"universe": [{"name": acc.coin, "szDecimals": 5, "maxLeverage": 50}]}
            ctx = {
                "funding": _fmt(m.funding_rate, 8),
                "openInterest": _fmt(m.open_interest(), 5),
                "markPx": _fmt(m.mark, 1),
                "oraclePx": _fmt(m.index, 1),
                "midPx": _fmt(m.price, 1),
                "prevDayPx": _fmt(m.price, 1),
                "dayNtlVlm": "0.0",
                "premium": "0.0",
                "impactPxs": [_fmt(m.price - 1, 1), _fmt(m.price + 1, 1)],
            }
            return 200, {}, [meta, [ctx]]
        if kind == "candleSnapshot":
            r = req.get("req") or {}
            iv = r.get("interval")
            if r.get("coin") != acc.coin or iv not in INTERVALS_MS:
                return 500, {}, None
            step = INTERVALS_MS[iv]
            b = m.klines(iv, int(r.get("startTime", 0)), int(r.get("endTime", m.now_ms)), 5000)
            return 200, {}, [
                {
                    "t": int(b.ts[i]), "T": int(b.ts[i]) + step - 1, "s": acc.coin, "i": iv,
                    "o": _fmt(b.o[i], 1), "h": _fmt(b.h[i], 1), "l": _fmt(b.l[i], 1), "c": _fmt(b.c[i], 1),
                    "v": _fmt(b.v[i], 5), "n": int(b.n[i]),
                }
                for i in range(len(b))
            ]  # fmt: skip
        return 422, {}, "Failed to deserialize the JSON body into the target type"
