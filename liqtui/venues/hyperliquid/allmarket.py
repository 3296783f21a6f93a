"""Hyperliquid, every perpetual at once: the all-market feed behind the radar.

REST, within Hyperliquid's documented budget of 1,200 weight a minute per IP (``weight_per_min``, default half
of it, the rest for liqtui's other Hyperliquid work): ``POST /info {"type":"metaAndAssetCtxs"}`` (weight 20)
every ``meta_poll_s`` gives, in one call, the universe (coins flagged ``isDelisted`` are dropped, new ones
added: the listing refresh comes with it) and every coin's mark price and open interest (in coins); between
polls each new coin is warmed up with 12 h of 15m candles (``candleSnapshot``: weight 20, plus 1 per 60 rows).
A 429 pauses every request.

Websocket (``wss://api.hyperliquid.xyz/ws``): ``allMids`` (every coin's mid in one push) moves the prices
between polls, and ``candle`` with interval ``1m`` per coin steps the light models (a candle has no "closed"
flag: it is complete when the coin's next minute starts). Hyperliquid's websocket limits (per IP): 1,000
subscriptions (``max_subscriptions``, default 500; coins beyond it get no candles and are counted), 2,000
messages a minute (``messages_per_min``, default 1,000; one subscription a message, pings included), few
connections (``subs_per_conn`` packs them; new connections paced by ``connect_limit``). ``{"method":"ping"}``
goes out after ``ping_interval_s`` without a frame (the server closes a connection it sent nothing on for
60 s); no answer for twice that long and the connection is redone. ``{"channel":"error"}`` pushes are counted
and logged.

Realized liquidations: Hyperliquid publishes no public liquidation stream for all coins (its trades do not mark
liquidation fills; only per-user events do), so this feed has none: :attr:`liquidations_available` is False,
``stats()["realized_liquidations"]`` says why and ``liqtui radar --json`` prints ``liq_1h_usd`` as null, not 0.
Radar rows are named by coin (``BTC``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import numpy as np

from liqtui.core.bars import bars_from_arrays
from liqtui.core.events import Candle, Venue
from liqtui.core.radar import Radar
from liqtui.venues.allmarket_conn import AllMarketConn, AllMarketRun, run_connection, window_sender
from liqtui.venues.base import INF, MAX_FRAME_BYTES, Backoff, bad_bar
from liqtui.venues.hyperliquid.feed import PING, _HCandle  # the candle shape, declared once
from liqtui.venues.limits import SlidingWindow

__all__ = [
    "LIQUIDATIONS_UNAVAILABLE",
    "WEIGHT_CANDLES",
    "WEIGHT_META",
    "HyperliquidAllMarket",
    "HyperliquidAllMarketDecoder",
    "parse_meta",
]

log = logging.getLogger("liqtui.feeds")

WEIGHT_META = 20  # metaAndAssetCtxs
WEIGHT_CANDLES = 20  # candleSnapshot, plus one per 60 rows returned
MAX_SUBSCRIPTIONS = 500  # of the 1,000 an IP may hold
MESSAGES_PER_MIN = 1000  # of the 2,000 an IP may send
LIQUIDATIONS_UNAVAILABLE = (
    "unavailable: Hyperliquid publishes no public liquidation stream for all coins (trades do not mark "
    "liquidation fills)"
)
_WARMUP_MS = 15 * 60_000
_WARMUP_BARS = 48


class _Asset(msgspec.Struct, gc=False):
    name: str
    isDelisted: bool = False


class _Universe(msgspec.Struct, gc=False):
    universe: list[_Asset]


class _Ctx(msgspec.Struct, gc=False):
    markPx: float | None = None
    openInterest: float | None = None
    funding: float | None = None
    prevDayPx: float | None = None
    midPx: float | None = None


_META = msgspec.json.Decoder(tuple[_Universe, list[_Ctx]], strict=False)


def parse_meta(body: bytes | str) -> dict[str, _Ctx]:
    """The listed (not delisted) coins of a ``metaAndAssetCtxs`` answer and their contexts, in the universe's
    order. Raises ValueError naming what is wrong when the answer is not ``[meta, contexts]``."""
    try:
        meta, ctxs = _META.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"metaAndAssetCtxs: not [meta, contexts]: {exc}") from None
    if len(ctxs) < len(meta.universe):
        raise ValueError(f"metaAndAssetCtxs: {len(meta.universe)} coins but {len(ctxs)} contexts")
    return {a.name: c for a, c in zip(meta.universe, ctxs, strict=False) if not a.isDelisted}


# -- websocket decoding ---------------------------------------------------------------------------------------
class _Env(msgspec.Struct, gc=False):
    channel: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")


class _Mids(msgspec.Struct, gc=False):
    mids: dict[str, float]


_ENV = msgspec.json.Decoder(_Env)
_MIDS = msgspec.json.Decoder(_Mids, strict=False)
_CANDLE = msgspec.json.Decoder(_HCandle, strict=False)
_BAD = (msgspec.DecodeError, ValueError, TypeError, KeyError, IndexError)


class HyperliquidAllMarketDecoder:
    """Decodes ``allMids`` and ``candle`` pushes straight into a :class:`Radar`; never raises (bad frames
    counted). A coin's candle is passed on as closed when the coin's next minute begins."""

    venue = Venue.HYPERLIQUID

    def __init__(self, radar: Radar) -> None:
        self.radar = radar
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.exchange_errors: list[str] = []
        self.control = 0
        self.acks = 0
        self.frames = 0
        self._forming: dict[str, _HCandle] = {}

    def forget(self, coins: set[str]) -> None:
        for c in coins:
            self._forming.pop(c, None)

    def decode(self, frame: str | bytes, recv_ts: int) -> None:
        self.frames += 1
        try:
            if len(frame) > MAX_FRAME_BYTES:
                raise ValueError("oversized frame")
            env = _ENV.decode(frame)
            ch = env.channel
            if ch == "allMids":
                mids = _MIDS.decode(env.data).mids
                self.radar.on_marks(recv_ts, mids.items())  # spot pairs (@n) and bad prices are skipped there
            elif ch == "candle":
                self._candle(_CANDLE.decode(env.data), recv_ts)
            elif ch == "subscriptionResponse":
                self.acks += 1
                self.control += 1
            elif ch == "pong":
                self.control += 1
            elif ch == "error":
                text = bytes(env.data).decode("utf-8", "replace")[:200]
                self.exchange_errors = [*self.exchange_errors[-9:], text]
                self.errors += 1
                self.error_kinds["exchange_error"] += 1
                log.warning("hyperliquid all-market: Hyperliquid refused a request: %s", text)
            else:
                self._bad("unexpected", frame)
        except _BAD:
            self._bad("malformed", frame)

    def _candle(self, k: _HCandle, recv_ts: int) -> None:
        if k.i != "1m":
            raise ValueError(f"candle interval {k.i}")
        prev = self._forming.get(k.s)
        if prev is not None and k.t < prev.t:
            return  # late
        self._forming[k.s] = k
        if prev is None or k.t == prev.t:
            return
        if bad_bar(prev.o, prev.h, prev.l, prev.c, prev.v):
            raise ValueError(f"inconsistent candle {prev.s} o={prev.o} h={prev.h} l={prev.l} c={prev.c}")
        self.radar.on_candle(
            Candle(
                venue=Venue.HYPERLIQUID, symbol=prev.s, ts=prev.t, recv_ts=recv_ts, interval_s=60, open=prev.o,
                high=prev.h, low=prev.l, close=prev.c, volume=prev.v, closed=True,
            )
        )  # fmt: skip

    def _bad(self, kind: str, frame: str | bytes) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1
        if self.error_kinds[kind] <= 20:
            text = frame[:120] if isinstance(frame, str) else bytes(frame[:120]).decode("utf-8", "replace")
            log.warning("hyperliquid all-market: %s frame: %s", kind, text)


def _sub(coin: str | None) -> str:
    s = {"type": "allMids"} if coin is None else {"type": "candle", "coin": coin, "interval": "1m"}
    return msgspec.json.encode(s).decode()


# -- the feed ----------------------------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class _Conn(AllMarketConn):
    coins: list[str | None]  # None: allMids


class HyperliquidAllMarket(AllMarketRun):
    """Every listed Hyperliquid perpetual into ``radar``, until cancelled (see the module docstring).

    ``weight_per_min``: REST weight a minute (None: unlimited, for a local exchange); the windows of the limits
    (``weight_window_s``, ``message_window_s``, ``connect_limit``) are a minute at Hyperliquid, shorter in tests."""

    liquidations_available = False

    def __init__(
        self,
        radar: Radar,
        ws_url: str,
        rest_url: str,
        *,
        meta_poll_s: float = 15.0,
        weight_per_min: float | None = 600.0,
        weight_window_s: float = 60.0,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        subs_per_conn: int = 1000,
        messages_per_min: float = MESSAGES_PER_MIN,
        message_window_s: float = 60.0,
        connect_limit: tuple[float, float] = (10.0, 60.0),
        ping_interval_s: float = 30.0,
        warmup: bool = True,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        if not 2 <= max_subscriptions <= 1000:
            raise ValueError(
                f"max_subscriptions must be within 2..1000 (Hyperliquid's limit), got {max_subscriptions!r}"
            )
        if subs_per_conn < 2:
            raise ValueError(f"subs_per_conn must be at least 2, got {subs_per_conn!r}")
        if not 0 < ping_interval_s < 60:
            raise ValueError(
                f"ping_interval_s must be within (0, 60) (Hyperliquid closes after 60 s), got {ping_interval_s!r}"
            )
        if weight_per_min is not None and weight_per_min < WEIGHT_CANDLES + 1:
            raise ValueError(f"weight_per_min must be at least {WEIGHT_CANDLES + 1}, got {weight_per_min!r}")
        self.radar = radar
        self.ws_url = ws_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.meta_poll_s = meta_poll_s
        self.budget = SlidingWindow(weight_per_min, weight_window_s)
        self.max_subscriptions = max_subscriptions
        self.subs_per_conn = subs_per_conn
        self.messages = SlidingWindow(messages_per_min, message_window_s)
        self.connects = SlidingWindow(*connect_limit)
        self.ping_interval_s = ping_interval_s
        self.warmup = warmup
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(0.5, 15.0)
        self.decoder = HyperliquidAllMarketDecoder(radar)
        self.conns: list[_Conn] = []
        self.instruments: list[str] = []
        self.no_candles: list[str] = []  # coins beyond the subscription cap
        self.warmed: set[str] = set()
        self.meta_polls = 0
        self.rest_requests = 0
        self.rest_errors = 0
        self.ready = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._warm_queue: list[str] = []

    # -- public ---------------------------------------------------------------------------------------
    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        return [self._rest_loop()]

    def stats(self) -> dict[str, Any]:
        d = self.decoder
        return {
            "instruments": len(self.instruments),
            "connections": len(self.conns),
            "streams": sum(len(c.coins) for c in self.conns),
            "frames": d.frames,
            "decode_errors": d.errors - d.error_kinds["exchange_error"],
            "exchange_errors": d.error_kinds["exchange_error"],
            "last_exchange_error": d.exchange_errors[-1] if d.exchange_errors else None,
            "subscribe_acks": d.acks,
            "requests_sent": sum(c.sent for c in self.conns),
            "pings": sum(c.pings for c in self.conns),
            "reconnects": sum(max(0, c.connects - 1) for c in self.conns),
            "rest_requests": self.rest_requests,
            "rest_errors": self.rest_errors,
            "rest_weight": self.budget.used,
            "meta_polls": self.meta_polls,
            "warmed": len(self.warmed),
            "candles_unsubscribed": len(self.no_candles),
            "realized_liquidations": LIQUIDATIONS_UNAVAILABLE,
        }

    async def refresh(self) -> tuple[list[str], list[str]]:
        """``metaAndAssetCtxs``: the coins (listings subscribed, delistings dropped), every mark and open
        interest. (added, removed)."""
        body = await self._post({"type": "metaAndAssetCtxs"}, WEIGHT_META)
        if body is None:
            return [], []
        try:
            ctxs = parse_meta(body)
        except ValueError as exc:
            self.rest_errors += 1
            log.warning("hyperliquid all-market: %s", exc)
            return [], []
        self.meta_polls += 1
        coins = list(ctxs)
        added, removed = self.radar.set_instruments(coins)
        gone = set(removed)
        self.instruments = coins
        self.decoder.forget(gone)
        self._unsubscribe(gone)
        self._subscribe(added)
        self._warm_queue = [s for s in self._warm_queue if s not in gone]
        self._warm_queue += [s for s in added if self.warmup]
        self.warmed -= gone
        now = int(time.time() * 1000)
        marks = [(c, x.markPx) for c, x in ctxs.items() if x.markPx is not None]
        self.radar.on_marks(now, marks)
        for c, x in ctxs.items():
            if x.openInterest is not None:
                self.radar.on_open_interest(c, x.openInterest, now)
        self.ready.set()
        return added, removed

    # -- websocket connections ------------------------------------------------------------------------------
    def _subscribed(self) -> int:
        return sum(len(c.coins) for c in self.conns)

    def _subscribe(self, coins: list[str]) -> None:
        new: list[str | None] = [None] if not self.conns else []
        room = self.max_subscriptions - self._subscribed() - len(new)
        listed = set(self.instruments)
        pending = [c for c in self.no_candles if c in listed] + coins
        new += pending[: max(0, room)]
        self.no_candles = pending[max(0, room) :]
        if self.no_candles:
            log.warning("hyperliquid all-market: %d coins get no candles (subscription cap %d)",
                        len(self.no_candles), self.max_subscriptions)  # fmt: skip
        for c in self.conns:
            free = self.subs_per_conn - len(c.coins)
            if free > 0 and new:
                take, new = new[:free], new[free:]
                c.coins.extend(take)
                self._request(c, "subscribe", take)
        while new:
            take, new = new[: self.subs_per_conn], new[self.subs_per_conn :]
            c = _Conn(index=len(self.conns), coins=take)
            self.conns.append(c)
            c.task = asyncio.create_task(self._conn_loop(c), name=f"liqtui-hl-allmarket-{c.index}")

    def _unsubscribe(self, gone: set[str]) -> None:
        if not gone:
            return
        self.no_candles = [c for c in self.no_candles if c not in gone]
        for c in self.conns:
            drop = [x for x in c.coins if x in gone]
            if drop:
                c.coins = [x for x in c.coins if x not in gone]
                self._request(c, "unsubscribe", drop)
        if self.no_candles:
            self._subscribe([])  # room freed for coins waiting beyond the cap

    def _request(self, c: _Conn, method: str, coins: Sequence[str | None]) -> None:
        if c.ws is None:
            return
        for coin in coins:
            c.outbox.put_nowait(f'{{"method":"{method}","subscription":{_sub(coin)}}}')

    async def _conn_loop(self, c: _Conn) -> None:
        label = "hyperliquid all-market"
        await run_connection(
            c,
            self.ws_url,
            label=label,
            backoff=self.backoff,
            timeout_s=self.timeout_s,
            on_open=lambda: self._request(c, "subscribe", list(c.coins)),
            decode=self.decoder.decode,
            sender=window_sender(
                label, self.messages, ping=PING, ping_interval_s=self.ping_interval_s, ping_counts=True
            ),  # Hyperliquid counts every message of the IP, pings included
            gate=self.connects,
        )

    # -- REST -----------------------------------------------------------------------------------------------
    async def _post(self, body: dict[str, Any], weight: float) -> bytes | None:
        """One ``POST /info`` within the weight budget; the raw 200 body, else None (counted; 429: a pause)."""
        assert self._client is not None
        await self.budget.acquire(weight)
        self.rest_requests += 1
        try:
            r = await self._client.post(f"{self.rest_url}/info", json=body)
        except httpx.HTTPError as exc:
            self.rest_errors += 1
            log.info("hyperliquid all-market %s: %s", body.get("type"), exc)
            return None
        if r.status_code == 429:
            try:
                wait = float(r.headers.get("Retry-After", "10"))
            except ValueError:
                wait = 10.0
            self.budget.hold(wait)
        if r.status_code != 200:
            self.rest_errors += 1
            log.info("hyperliquid all-market %s: HTTP %d", body.get("type"), r.status_code)
            return None
        return r.content

    async def _rest_loop(self) -> None:
        """``metaAndAssetCtxs`` every ``meta_poll_s``; warm-ups in between."""
        next_meta = time.monotonic() + self.meta_poll_s
        while True:
            now = time.monotonic()
            if now >= next_meta:
                next_meta = now + self.meta_poll_s
                await self.refresh()
            elif self._warm_queue:
                await self._warm(self._warm_queue.pop(0))
            else:
                await asyncio.sleep(min(0.5, max(0.01, next_meta - now)))

    async def _warm(self, coin: str) -> None:
        """12 h of 15m candles (no open-interest history exists on Hyperliquid)."""
        now = int(time.time() * 1000)
        req = {
            "coin": coin,
            "interval": "15m",
            "startTime": now - (_WARMUP_BARS + 1) * _WARMUP_MS,
            "endTime": now,
        }
        raw = await self._post({"type": "candleSnapshot", "req": req}, WEIGHT_CANDLES + 1)
        if raw is None or coin not in self.radar:
            return
        try:
            rows = msgspec.json.decode(raw)
            a = np.array([[float(r[k]) for k in ("t", "o", "h", "l", "c", "v")] for r in rows], dtype=float)
        except (msgspec.DecodeError, TypeError, ValueError, KeyError) as exc:
            self.rest_errors += 1
            log.info("hyperliquid all-market candleSnapshot %s: %s", coin, exc)
            return
        a = a.reshape(-1, 6)
        a = a[np.argsort(a[:, 0], kind="stable")]
        ref = max(self.radar.now_ms, now)
        a = a[a[:, 0] + _WARMUP_MS <= ref]  # the forming bar is left out
        if len(a) == 0:
            return
        bars = bars_from_arrays(
            a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4], volume=a[:, 5],
            interval_s=_WARMUP_MS // 1000,
        )  # fmt: skip
        bars = bars[[not bad_bar(b["open"], b["high"], b["low"], b["close"], b["volume"]) for b in bars]]
        bars = bars[np.isfinite(bars["close"]) & (bars["close"] > 0) & (bars["close"] < INF)]
        self.radar.on_history(coin, bars)
        self.warmed.add(coin)
