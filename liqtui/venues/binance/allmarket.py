"""Binance USDⓈ-M, every perpetual at once: the all-market feed behind the radar.

Streams (the cheapest documented): ``!markPrice@arr@1s`` (every symbol's mark in one frame a second),
``!forceOrder@arr`` (every forced order) and one ``<sym>@kline_1m`` per symbol (closed bars step the light
models), spread over as few connections as Binance allows: at most :data:`MAX_STREAMS` streams per
connection, subscribed with ``SUBSCRIBE`` requests of :data:`SUBSCRIBE_CHUNK` streams sent at most
``send_rate`` a second (Binance disconnects above 10 incoming messages a second).

REST, within a weight budget per minute (Binance allows 2,400; the default keeps half for the rest of
liqtui), cheapest first: ``GET /fapi/v1/exchangeInfo`` (the instrument list, refreshed every ``refresh_s``:
new listings get rows and streams, delistings lose both), then an open-interest snapshot per symbol
(``/fapi/v1/openInterest``, weight 1), then a warm-up per symbol of 12 h of 15m klines (limit < 100: weight
1) with the matching ``openInterestHist``, then open interest again round-robin for as long as the feed runs.
A 429/418 answer stops all REST work for its ``Retry-After``.

Everything decoded goes into a :class:`~liqtui.core.radar.Radar` (pure); this module owns only the wire.
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
from liqtui.venues.binance.feed import _FO, _K  # the venue's payload shapes, declared once

__all__ = [
    "ALL_STREAMS",
    "MAX_STREAMS",
    "SUBSCRIBE_CHUNK",
    "AllMarketDecoder",
    "BinanceAllMarket",
    "WeightBudget",
    "plan_connections",
]

log = logging.getLogger("liqtui.feeds")

MAX_STREAMS = 1024  # per connection (Binance)
SUBSCRIBE_CHUNK = 200  # streams per SUBSCRIBE request
ALL_STREAMS = ("!markPrice@arr@1s", "!forceOrder@arr")
WARMUP_INTERVAL = "15m"
WARMUP_BARS = 48  # 12 h of 15m bars: limit < 100 costs weight 1
_WARMUP_MS = 15 * 60_000
_LIQ_SIDES = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}


def kline_stream(symbol: str) -> str:
    return f"{symbol.lower()}@kline_1m"


def plan_connections(symbols: list[str], max_streams: int = MAX_STREAMS) -> list[list[str]]:
    """The streams of each connection: the two all-market streams and one kline stream per symbol, packed
    into as few connections as ``max_streams`` allows."""
    if max_streams < len(ALL_STREAMS) + 1:
        raise ValueError(f"max_streams must be at least {len(ALL_STREAMS) + 1}, got {max_streams}")
    streams = [*ALL_STREAMS, *(kline_stream(s) for s in symbols)]
    return [streams[i : i + max_streams] for i in range(0, len(streams), max_streams)]


# -- decoding: only the fields the radar uses --------------------------------------------------------------
class _Env(msgspec.Struct, gc=False):
    stream: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    result: msgspec.Raw = msgspec.Raw(b"")
    id: int | str | None = None
    error: msgspec.Raw = msgspec.Raw(b"")


class _MarkLite(msgspec.Struct, gc=False, array_like=False):
    E: int
    s: str
    p: float


class _KlineEv(msgspec.Struct, gc=False):
    s: str
    k: _K


class _ForceEv(msgspec.Struct, gc=False):
    o: _FO


_ENV = msgspec.json.Decoder(_Env)
_MARKS = msgspec.json.Decoder(list[_MarkLite], strict=False)
_KLINE = msgspec.json.Decoder(_KlineEv, strict=False)
_FORCE = msgspec.json.Decoder(_ForceEv, strict=False)
_BAD = (msgspec.DecodeError, ValueError, TypeError, KeyError, IndexError)


class AllMarketDecoder:
    """Decodes the all-market streams straight into a :class:`Radar`; never raises (bad frames counted)."""

    venue = Venue.BINANCE

    def __init__(self, radar: Radar) -> None:
        self.radar = radar
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.control = 0
        self.frames = 0

    def decode(self, frame: str | bytes, recv_ts: int) -> None:
        self.frames += 1
        try:
            if len(frame) > MAX_FRAME_BYTES:
                raise ValueError(f"oversized frame ({len(frame)} bytes)")
            env = _ENV.decode(frame)
            stream = env.stream
            if not stream:
                if env.error:
                    self._bad("exchange_error", frame)
                else:
                    self.control += 1  # SUBSCRIBE / UNSUBSCRIBE acks
                return
            if stream.startswith("!markPrice@arr"):
                marks = _MARKS.decode(env.data)
                if marks:
                    self.radar.on_marks(marks[0].E, ((m.s, m.p) for m in marks))
            elif stream.endswith("@kline_1m"):
                ev = _KLINE.decode(env.data)
                k = ev.k
                if k.x:
                    if bad_bar(k.o, k.h, k.l, k.c, k.v):
                        raise ValueError(f"inconsistent kline {ev.s} o={k.o} h={k.h} l={k.l} c={k.c}")
                    self.radar.on_candle(
                        Candle(
                            venue=Venue.BINANCE,
                            symbol=ev.s,
                            ts=k.t,
                            recv_ts=recv_ts,
                            interval_s=60,
                            open=k.o,
                            high=k.h,
                            low=k.l,
                            close=k.c,
                            volume=k.v,
                            quote_volume=k.q,
                            taker_buy_volume=k.V,
                            closed=True,
                        )
                    )
            elif stream.startswith("!forceOrder"):
                o = _FORCE.decode(env.data).o
                price = o.ap if o.ap > 0.0 else o.p
                qty = o.z if o.z > 0.0 else o.q
                side = _LIQ_SIDES.get(o.S)
                if side is None or not (0.0 < price < INF and 0.0 < qty < INF):
                    raise ValueError(f"bad forced order {o.S} {price}/{qty}")
                self.radar.on_liquidation(
                    Liquidation(
                        venue=Venue.BINANCE,
                        symbol=o.s,
                        ts=o.T,
                        recv_ts=recv_ts,
                        side=side,
                        price=price,
                        qty=qty,
                        usd=price * qty,
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
            log.warning("binance all-market: %s frame: %s", kind, text)


# -- REST weight ----------------------------------------------------------------------------------------------
class WeightBudget:
    """A per-minute REST weight budget (token bucket refilled continuously); ``None`` means unlimited.
    A ``Retry-After`` (429/418) holds every request until it has passed."""

    def __init__(self, per_minute: float | None) -> None:
        if per_minute is not None and not per_minute > 0:
            raise ValueError(f"weight per minute must be > 0, got {per_minute!r}")
        self.per_minute = per_minute
        self.tokens = per_minute or 0.0
        self._t = time.monotonic()
        self.hold_until = 0.0
        self.used = 0.0

    def _refill(self) -> None:
        now = time.monotonic()
        if self.per_minute is not None:
            self.tokens = min(self.per_minute, self.tokens + (now - self._t) * self.per_minute / 60.0)
        self._t = now

    async def take(self, weight: float) -> None:
        while True:
            now = time.monotonic()
            if now < self.hold_until:
                await asyncio.sleep(self.hold_until - now)
                continue
            self._refill()
            if self.per_minute is None or self.tokens >= weight:
                self.tokens -= weight if self.per_minute is not None else 0.0
                self.used += weight
                return
            await asyncio.sleep((weight - self.tokens) * 60.0 / self.per_minute)

    def hold(self, seconds: float) -> None:
        self.hold_until = max(self.hold_until, time.monotonic() + seconds)


# -- the feed ----------------------------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class _Conn(AllMarketConn):
    streams: list[str]


class BinanceAllMarket(AllMarketRun):
    """Every USDT perpetual of Binance USDⓈ-M into ``radar``, until cancelled.

    ``weight_per_min``: the REST budget (None: unlimited, for the demo exchange on 127.0.0.1).
    ``send_rate``: requests per second per connection (Binance: at most 10). ``symbols_limit``: follow at
    most this many instruments (the first in the exchange's order), None for all.
    """

    def __init__(
        self,
        radar: Radar,
        ws_url: str,
        rest_url: str,
        *,
        refresh_s: float = 600.0,
        weight_per_min: float | None = 1200.0,
        send_rate: float = 4.0,
        max_streams: int = MAX_STREAMS,
        chunk: int = SUBSCRIBE_CHUNK,
        warmup: bool = True,
        symbols_limit: int | None = None,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        if not 0 < send_rate <= 10:
            raise ValueError(f"send_rate must be within (0, 10] requests per second, got {send_rate!r}")
        if not 1 <= chunk <= max_streams:
            raise ValueError(f"chunk must be within 1..{max_streams}, got {chunk!r}")
        self.radar = radar
        self.ws_url = ws_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.refresh_s = refresh_s
        self.budget = WeightBudget(weight_per_min)
        self.send_rate = send_rate
        self.max_streams = max_streams
        self.chunk = chunk
        self.warmup = warmup
        self.symbols_limit = symbols_limit
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(0.5, 15.0)
        self.decoder = AllMarketDecoder(radar)
        self.conns: list[_Conn] = []
        self.instruments: list[str] = []
        self.warmed: set[str] = set()
        self.oi_polls = 0
        self.rest_requests = 0
        self.rest_errors = 0
        self.refreshes = 0
        self.ready = asyncio.Event()  # the instrument list is known and every stream requested
        self._client: httpx.AsyncClient | None = None
        self._oi_first: list[str] = []  # symbols still waiting for their first open-interest snapshot
        self._warm_queue: list[str] = []

    # -- public ---------------------------------------------------------------------------------------
    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        return [self._refresh_loop(), self._rest_loop()]

    def stats(self) -> dict[str, Any]:
        return {
            "instruments": len(self.instruments),
            "connections": len(self.conns),
            "streams": sum(len(c.streams) for c in self.conns),
            "frames": self.decoder.frames,
            "decode_errors": self.decoder.errors,
            "requests_sent": sum(c.sent for c in self.conns),
            "reconnects": sum(max(0, c.connects - 1) for c in self.conns),
            "rest_requests": self.rest_requests,
            "rest_errors": self.rest_errors,
            "rest_weight": self.budget.used,
            "oi_polls": self.oi_polls,
            "warmed": len(self.warmed),
            "refreshes": self.refreshes,
        }

    async def refresh(self) -> tuple[list[str], list[str]]:
        """Fetch the instrument list; subscribe new listings, unsubscribe delistings. (added, removed)."""
        info = await self._get("/fapi/v1/exchangeInfo", {}, weight=1)
        symbols = [
            s["symbol"]
            for s in (info or {}).get("symbols", [])
            if s.get("contractType") == "PERPETUAL"
            and s.get("quoteAsset") == "USDT"
            and s.get("status") == "TRADING"
        ]
        if info is None:
            return [], []
        if self.symbols_limit is not None:
            symbols = symbols[: self.symbols_limit]
        self.refreshes += 1
        added, removed = self.radar.set_instruments(symbols)
        self.instruments = symbols
        self._unsubscribe(removed)
        self._subscribe(added)
        self._oi_first.extend(added)
        self._warm_queue.extend(s for s in added if self.warmup)
        gone = set(removed)
        self._oi_first = [s for s in self._oi_first if s not in gone]
        self._warm_queue = [s for s in self._warm_queue if s not in gone]
        self.warmed -= gone
        self.ready.set()
        return added, removed

    # -- websocket connections ------------------------------------------------------------------------------
    def _subscribe(self, symbols: list[str]) -> None:
        """Give each new stream to a connection with room (a new connection when all are full)."""
        new = [kline_stream(s) for s in symbols]
        if not self.conns:
            new = [*ALL_STREAMS, *new]
        for c in self.conns:
            room = self.max_streams - len(c.streams)
            if room > 0 and new:
                take, new = new[:room], new[room:]
                c.streams.extend(take)
                self._request(c, "SUBSCRIBE", take)
        while new:
            take, new = new[: self.max_streams], new[self.max_streams :]
            c = _Conn(index=len(self.conns), streams=take)
            self.conns.append(c)
            c.task = asyncio.create_task(self._conn_loop(c), name=f"liqtui-allmarket-{c.index}")

    def _unsubscribe(self, symbols: list[str]) -> None:
        gone = {kline_stream(s) for s in symbols}
        for c in self.conns:
            drop = [s for s in c.streams if s in gone]
            if drop:
                c.streams = [s for s in c.streams if s not in gone]
                self._request(c, "UNSUBSCRIBE", drop)

    def _request(self, c: _Conn, method: str, streams: list[str]) -> None:
        if c.ws is None:
            return  # not connected: the connection subscribes its whole list when it connects
        for i in range(0, len(streams), self.chunk):
            c.outbox.put_nowait(msgspec.json.encode({"method": method, "params": streams[i : i + self.chunk],
                                                     "id": c.sent + i + 1}).decode())  # fmt: skip

    async def _conn_loop(self, c: _Conn) -> None:
        await run_connection(
            c,
            f"{self.ws_url}/stream",
            label="binance all-market",
            backoff=self.backoff,
            timeout_s=self.timeout_s,
            on_open=lambda: self._request(c, "SUBSCRIBE", list(c.streams)),
            decode=self.decoder.decode,
            sender=gap_sender(1.0 / self.send_rate),  # Binance disconnects above 10 requests a second
            ws_pings=True,
        )

    # -- REST -----------------------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any], weight: float) -> Any:
        """One GET within the weight budget; None on any failure (counted and logged)."""
        assert self._client is not None
        await self.budget.take(weight)
        self.rest_requests += 1
        try:
            r = await self._client.get(f"{self.rest_url}{path}", params=params)
        except httpx.HTTPError as exc:
            self.rest_errors += 1
            log.info("binance all-market %s: %s", path, exc)
            return None
        if r.status_code in (418, 429):
            self.rest_errors += 1
            try:
                wait = float(r.headers.get("Retry-After", "60"))
            except ValueError:
                wait = 60.0
            self.budget.hold(wait)
            return None
        if r.status_code != 200:
            self.rest_errors += 1
            return None
        try:
            return r.json()
        except ValueError:
            self.rest_errors += 1
            return None

    async def _rest_loop(self) -> None:
        """Open-interest snapshots first, then warm-ups, then open interest round-robin."""
        turn = 0
        while True:
            if self._oi_first:
                await self._poll_oi(self._oi_first.pop(0))
            elif self._warm_queue:
                await self._warm(self._warm_queue.pop(0))
            elif self.instruments:
                turn = (turn + 1) % len(self.instruments)
                await self._poll_oi(self.instruments[turn])
                if self.budget.per_minute is None:
                    await asyncio.sleep(0.05)  # unlimited (demo): still no busy loop
            else:
                await asyncio.sleep(0.5)

    async def _poll_oi(self, symbol: str) -> None:
        body = await self._get("/fapi/v1/openInterest", {"symbol": symbol}, weight=1)
        if not isinstance(body, dict):
            return
        try:
            base = float(body["openInterest"])
            ts = int(body.get("time") or time.time() * 1000)
        except (KeyError, TypeError, ValueError):
            self.rest_errors += 1
            return
        self.oi_polls += 1
        self.radar.on_open_interest(symbol, base, ts)

    async def _warm(self, symbol: str) -> None:
        """12 h of 15m klines and open interest: the light model's warm-up (weight 1 each)."""
        rows = await self._get(
            "/fapi/v1/klines", {"symbol": symbol, "interval": WARMUP_INTERVAL, "limit": WARMUP_BARS}, weight=1
        )
        oi = await self._get(
            "/futures/data/openInterestHist",
            {"symbol": symbol, "period": WARMUP_INTERVAL, "limit": WARMUP_BARS},
            weight=1,
        )
        if not isinstance(rows, list) or not rows or symbol not in self.radar:
            return
        try:
            a = np.array([[float(x) for x in r[:6]] for r in rows], dtype=float)
            oi_at = {int(o["timestamp"]): float(o["sumOpenInterestValue"]) for o in oi or []}
        except (TypeError, ValueError, KeyError, IndexError):
            self.rest_errors += 1
            return
        ts = a[:, 0].astype(np.int64)
        # Binance's answer ends with the forming bar: keep the closed ones (by the exchange's clock when the
        # marks have told it, else ours)
        ref = self.radar.now_ms or int(time.time() * 1000)
        closed = ts + _WARMUP_MS <= ref
        a, ts = a[closed], ts[closed]
        # the OI reported at a bar's close is the OI the bar ends with
        oi_usd = np.array([oi_at.get(int(t) + _WARMUP_MS, math.nan) for t in ts])
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
        bars = bars[[not bad_bar(b["open"], b["high"], b["low"], b["close"], b["volume"]) for b in bars]]
        self.radar.on_history(symbol, bars, sorted(oi_at.items()))
        self.warmed.add(symbol)
