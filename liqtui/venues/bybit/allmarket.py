"""Bybit v5 linear, every USDT perpetual at once: the all-market feed behind the radar.

Bybit has no all-market streams: each symbol takes ``tickers.{S}`` (mark, open interest, funding: no REST
poll needed), ``kline.1.{S}`` (closed bars step the light models) and ``allLiquidation.{S}``, spread over
several connections of at most ``max_topics`` topics, subscribed ``{"op":"subscribe","args":[...]}`` with at
most :data:`ARGS_PER_REQUEST` topics a request, paced at ``send_rate`` requests a second; ``{"op":"ping"}``
every 20 s keeps each connection alive.

REST, within a request budget per minute (Bybit allows 600 per 5 s per IP; the default is far below):
``GET /v5/market/instruments-info?category=linear`` (paged by ``cursor``; refreshed every ``refresh_s``:
listings and delistings), then each symbol's warm-up: 12 h of 15m klines and the matching open interest.

``tickers`` sends a snapshot then deltas with only the fields that changed: the latest mark and open interest
per symbol are kept here. Everything goes into a :class:`~liqtui.core.radar.Radar`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import numpy as np

from liqtui.core.bars import bars_from_arrays
from liqtui.core.events import Candle, Liquidation, PositionSide, Venue
from liqtui.core.radar import Radar
from liqtui.venues.allmarket_conn import AllMarketConn, AllMarketRun, gap_sender, run_connection
from liqtui.venues.base import INF, MAX_FRAME_BYTES, Backoff, bad_bar
from liqtui.venues.binance.allmarket import WeightBudget

__all__ = ["ARGS_PER_REQUEST", "BybitAllMarket", "BybitAllMarketDecoder", "topics"]

log = logging.getLogger("liqtui.feeds")

ARGS_PER_REQUEST = 10
MAX_TOPICS = 300  # per connection: 100 symbols
PING = '{"op":"ping"}'
_WARMUP_MS = 15 * 60_000
_WARMUP_BARS = 48
#: ``allLiquidation`` ``S`` is the liquidated *position* side.
_LIQ_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}


def topics(symbol: str) -> list[str]:
    return [f"tickers.{symbol}", f"kline.1.{symbol}", f"allLiquidation.{symbol}"]


class _Env(msgspec.Struct, gc=False):
    topic: str = ""
    type: str = ""
    ts: int = 0
    data: msgspec.Raw = msgspec.Raw(b"")
    op: str = ""
    success: bool | None = None
    ret_msg: str = ""


class _Ticker(msgspec.Struct, gc=False):
    symbol: str = ""
    markPrice: float | None = None
    openInterest: float | None = None


class _Bar(msgspec.Struct, gc=False):
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float
    confirm: bool


class _Liq(msgspec.Struct, gc=False):
    T: int
    s: str
    S: str
    v: float
    p: float


_ENV = msgspec.json.Decoder(_Env)
_TICKER = msgspec.json.Decoder(_Ticker, strict=False)
_BARS = msgspec.json.Decoder(list[_Bar], strict=False)
_LIQS = msgspec.json.Decoder(list[_Liq], strict=False)
_BAD = (msgspec.DecodeError, ValueError, TypeError, KeyError, IndexError)


class BybitAllMarketDecoder:
    """Decodes Bybit's per-symbol topics straight into a :class:`Radar`; never raises (bad frames counted)."""

    venue = Venue.BYBIT

    def __init__(self, radar: Radar) -> None:
        self.radar = radar
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.control = 0
        self.frames = 0
        self.refusals: list[str] = []
        self._oi: dict[str, float] = {}

    def decode(self, frame: str | bytes, recv_ts: int) -> None:
        self.frames += 1
        try:
            if len(frame) > MAX_FRAME_BYTES:
                raise ValueError("oversized frame")
            env = _ENV.decode(frame)
            topic = env.topic
            if not topic:
                if env.success is False:
                    self.refusals.append(env.ret_msg)
                    self._bad("exchange_error", frame)
                else:
                    self.control += 1  # subscribe acks and pongs
                return
            chan, _, sym = topic.rpartition(".") if topic.startswith("kline.") else topic.partition(".")
            if chan == "tickers":
                t = _TICKER.decode(env.data)
                if t.markPrice is not None:
                    if not 0.0 < t.markPrice < INF:
                        raise ValueError(f"bad mark {t.markPrice}")
                    self.radar.on_marks(env.ts, ((sym, t.markPrice),))
                if t.openInterest is not None and t.openInterest != self._oi.get(sym):
                    self._oi[sym] = t.openInterest
                    self.radar.on_open_interest(sym, t.openInterest, env.ts)
            elif chan == "kline.1":
                for b in _BARS.decode(env.data):
                    if not b.confirm:
                        continue
                    if bad_bar(b.open, b.high, b.low, b.close, b.volume):
                        raise ValueError(f"inconsistent kline {sym}")
                    self.radar.on_candle(
                        Candle(
                            venue=Venue.BYBIT,
                            symbol=sym,
                            ts=b.start,
                            recv_ts=recv_ts,
                            interval_s=60,
                            open=b.open,
                            high=b.high,
                            low=b.low,
                            close=b.close,
                            volume=b.volume,
                            quote_volume=b.turnover,
                            closed=True,
                        )
                    )
            elif chan == "allLiquidation":
                for q in _LIQS.decode(env.data):
                    side = _LIQ_SIDES.get(q.S)
                    if side is None or not (0.0 < q.p < INF and 0.0 < q.v < INF):
                        raise ValueError(f"bad liquidation {q.S} {q.p}/{q.v}")
                    self.radar.on_liquidation(
                        Liquidation(
                            venue=Venue.BYBIT,
                            symbol=q.s,
                            ts=q.T,
                            recv_ts=recv_ts,
                            side=side,
                            price=q.p,
                            qty=q.v,
                            usd=q.p * q.v,
                        )
                    )
            else:
                self._bad("unexpected", frame)
        except _BAD:
            self._bad("malformed", frame)

    def _bad(self, kind: str, frame: str | bytes) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1
        if self.error_kinds[kind] <= 20:
            text = frame[:120] if isinstance(frame, str) else bytes(frame[:120]).decode("utf-8", "replace")
            log.warning("bybit all-market: %s frame: %s", kind, text)


@dataclass(eq=False, kw_only=True)
class _Conn(AllMarketConn):
    topics: list[str]


class BybitAllMarket(AllMarketRun):
    """Every USDT linear perpetual of Bybit into ``radar``, until cancelled (see the module docstring)."""

    def __init__(
        self,
        radar: Radar,
        ws_url: str,
        rest_url: str,
        *,
        refresh_s: float = 600.0,
        requests_per_min: float | None = 600.0,
        send_rate: float = 5.0,
        max_topics: int = MAX_TOPICS,
        ping_interval_s: float = 20.0,
        warmup: bool = True,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        if max_topics < 3:
            raise ValueError(f"max_topics must be at least 3 (one symbol), got {max_topics!r}")
        if not 0 < send_rate <= 20:
            raise ValueError(f"send_rate must be within (0, 20] requests per second, got {send_rate!r}")
        self.radar = radar
        self.ws_url = ws_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.refresh_s = refresh_s
        self.budget = WeightBudget(requests_per_min)
        self.send_rate = send_rate
        self.max_topics = max_topics - max_topics % 3  # a symbol's three topics share a connection
        self.ping_interval_s = ping_interval_s
        self.warmup = warmup
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(0.5, 15.0)
        self.decoder = BybitAllMarketDecoder(radar)
        self.conns: list[_Conn] = []
        self.instruments: list[str] = []
        self.warmed: set[str] = set()
        self.rest_requests = 0
        self.rest_errors = 0
        self._client: httpx.AsyncClient | None = None
        self._warm_queue: list[str] = []

    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        return [self._refresh_loop(), self._warm_loop()]

    def stats(self) -> dict[str, Any]:
        return {
            "instruments": len(self.instruments),
            "connections": len(self.conns),
            "streams": sum(len(c.topics) for c in self.conns),
            "frames": self.decoder.frames,
            "decode_errors": self.decoder.errors,
            "requests_sent": sum(c.sent for c in self.conns),
            "reconnects": sum(max(0, c.connects - 1) for c in self.conns),
            "rest_requests": self.rest_requests,
            "rest_errors": self.rest_errors,
            "warmed": len(self.warmed),
        }

    async def refresh(self) -> tuple[list[str], list[str]]:
        """Fetch every page of the instrument list; subscribe listings, unsubscribe delistings."""
        symbols: list[str] = []
        cursor = ""
        for _ in range(50):
            params = {"category": "linear", "limit": 1000, **({"cursor": cursor} if cursor else {})}
            body = await self._get("/v5/market/instruments-info", params)
            if body is None:
                return [], []
            res = body.get("result") or {}
            symbols += [
                i["symbol"]
                for i in res.get("list", [])
                if i.get("quoteCoin") == "USDT" and i.get("status") == "Trading"
                and i.get("contractType") == "LinearPerpetual"
            ]  # fmt: skip
            cursor = res.get("nextPageCursor") or ""
            if not cursor:
                break
        added, removed = self.radar.set_instruments(symbols)
        self.instruments = symbols
        gone = set(removed)
        for c in self.conns:
            drop = [t for t in c.topics if t.partition(".")[2].rpartition(".")[2] in gone]
            if drop:
                c.topics = [t for t in c.topics if t not in set(drop)]
                self._request(c, "unsubscribe", drop)
        self._subscribe(added)
        self._warm_queue = [s for s in self._warm_queue if s not in gone]
        self._warm_queue += [s for s in added if self.warmup]
        self.warmed -= gone
        return added, removed

    def _subscribe(self, symbols: list[str]) -> None:
        new = [t for s in symbols for t in topics(s)]
        for c in self.conns:
            room = self.max_topics - len(c.topics)
            if room > 0 and new:
                take, new = new[:room], new[room:]
                c.topics.extend(take)
                self._request(c, "subscribe", take)
        while new:
            take, new = new[: self.max_topics], new[self.max_topics :]
            c = _Conn(index=len(self.conns), topics=take)
            self.conns.append(c)
            c.task = asyncio.create_task(self._conn_loop(c), name=f"liqtui-bybit-allmarket-{c.index}")

    def _request(self, c: _Conn, op: str, args: list[str]) -> None:
        if c.ws is None:
            return
        for i in range(0, len(args), ARGS_PER_REQUEST):
            c.outbox.put_nowait(
                msgspec.json.encode({"op": op, "args": args[i : i + ARGS_PER_REQUEST]}).decode()
            )

    async def _conn_loop(self, c: _Conn) -> None:
        await run_connection(
            c,
            self.ws_url,
            label="bybit all-market",
            backoff=self.backoff,
            timeout_s=self.timeout_s,
            on_open=lambda: self._request(c, "subscribe", list(c.topics)),
            decode=self.decoder.decode,
            # requests paced at send_rate a second; a ping when nothing was sent for ping_interval_s
            sender=gap_sender(1.0 / self.send_rate, ping=PING, ping_interval_s=self.ping_interval_s),
        )

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        assert self._client is not None
        await self.budget.take(1)
        self.rest_requests += 1
        try:
            r = await self._client.get(f"{self.rest_url}{path}", params=params)
            body = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            self.rest_errors += 1
            log.info("bybit all-market %s: %s", path, exc)
            return None
        if r.status_code in (403, 429):
            self.budget.hold(10.0)
        if not isinstance(body, dict) or body.get("retCode") != 0:
            self.rest_errors += 1
            return None
        return body

    async def _warm_loop(self) -> None:
        while True:
            if self._warm_queue:
                await self._warm(self._warm_queue.pop(0))
            else:
                await asyncio.sleep(0.5)

    async def _warm(self, symbol: str) -> None:
        """12 h of 15m klines and open interest (newest first in Bybit's answers)."""
        k = await self._get(
            "/v5/market/kline",
            {"category": "linear", "symbol": symbol, "interval": "15", "limit": _WARMUP_BARS},
        )
        oi = await self._get(
            "/v5/market/open-interest",
            {"category": "linear", "symbol": symbol, "intervalTime": "15min", "limit": _WARMUP_BARS},
        )
        if k is None or symbol not in self.radar:
            return
        try:
            rows = sorted(([float(x) for x in r[:6]] for r in k["result"]["list"]), key=lambda r: r[0])
            a = np.array(rows, dtype=float).reshape(-1, 6)
            oi_base = {
                int(o["timestamp"]): float(o["openInterest"])
                for o in ((oi or {}).get("result") or {}).get("list", [])
            }
        except (TypeError, ValueError, KeyError, IndexError):
            self.rest_errors += 1
            return
        ref = self.radar.now_ms or int(time.time() * 1000)
        a = a[a[:, 0] + _WARMUP_MS <= ref]
        if len(a) == 0:
            return
        ts = a[:, 0].astype(np.int64)
        # Bybit's OI at a timestamp is the OI then (base units): the bar's close is its start + 15m
        oi_usd = np.array([oi_base.get(int(t) + _WARMUP_MS, math.nan) for t in ts]) * a[:, 4]
        bars = bars_from_arrays(
            ts,
            a[:, 1],
            a[:, 2],
            a[:, 3],
            a[:, 4],
            volume=a[:, 5],
            oi_usd=oi_usd,
            interval_s=_WARMUP_MS // 1000,
        )
        oi_hist = [
            (int(t) + _WARMUP_MS, float(u)) for t, u in zip(ts, oi_usd, strict=True) if math.isfinite(u)
        ]
        self.radar.on_history(symbol, bars, oi_hist)
        self.warmed.add(symbol)
