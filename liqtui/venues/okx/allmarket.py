"""OKX v5, every USDT-margined perpetual swap at once: the all-market feed behind the radar.

Websocket (OKX's documented v5 protocol):

* ``/ws/v5/public``: one ``liquidation-orders`` subscription with ``instType`` SWAP covers every instrument
  (filtered here to the followed ones), and ``mark-price`` per ``instId`` (a push every 200 ms on a change, at
  least every 10 s);
* ``/ws/v5/business``: ``candle1m`` per ``instId`` (candles are not served on ``/public``); a closed bar
  (``confirm`` "1") steps the symbol's light model.

Subscriptions go ``{"op":"subscribe","args":[...]}`` with as many args a request as fit
``max_request_bytes`` (OKX documents 64 KB; the older 4 KB is the default here, still few requests), at most
``max_args`` per connection (more connections when needed), within OKX's limits: at most
:data:`SUBSCRIBE_PER_HOUR` subscribe/unsubscribe requests an hour per connection (480 documented) and new
connections at most ``connects_per_s`` a second, evenly spaced (3 documented per IP; 2 by default, leaving room for the rest of
liqtui). OKX drops a connection silent for 30 s: the text ``ping`` goes out after ``ping_interval_s`` without
a frame, its text ``pong`` answers; nothing for twice that long and the connection is redone. ``{"event":
"error"}`` frames are counted and logged with their code and message.

REST (OKX limits per IP and endpoint, 20 requests per 2 s for the ones used here; the default spends at most
``rest_per_2s`` = 5): ``GET /api/v5/public/instruments?instType=SWAP`` (kept: ``settleCcy`` USDT, ``state``
live, linear; ``ctVal`` converts contracts to the base coin), refreshed every ``refresh_s`` for listings and
delistings; ``GET /api/v5/public/open-interest?instType=SWAP`` every ``oi_poll_s`` (every swap's open interest in
one call: the cheapest source); and per new instrument a warm-up of 12 h of 15m candles
(``/api/v5/market/candles``) with the matching open interest (``/api/v5/rubik/stat/contracts/
open-interest-history``). Radar rows are named by ``instId`` (``BTC-USDT-SWAP``).
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
from liqtui.venues.allmarket_conn import AllMarketConn, AllMarketRun, run_connection, window_sender
from liqtui.venues.base import INF, MAX_FRAME_BYTES, Backoff, bad_bar
from liqtui.venues.limits import SlidingWindow
from liqtui.venues.okx.feed import PING, PONG, _OLiq, _OMark, business_url  # payload shapes declared once

__all__ = [
    "LIQUIDATION_ARG",
    "MAX_ARGS",
    "MAX_REQUEST_BYTES",
    "SUBSCRIBE_PER_HOUR",
    "OkxAllMarket",
    "OkxAllMarketDecoder",
    "parse_swaps",
    "subscribe_requests",
]

log = logging.getLogger("liqtui.feeds")

#: OKX: 480 subscribe/unsubscribe/login requests an hour per connection; a margin is kept.
SUBSCRIBE_PER_HOUR = 450
MAX_ARGS = 300  # per connection (OKX documents no count; this keeps each connection's push rate modest)
MAX_REQUEST_BYTES = 4096
LIQUIDATION_ARG = {"channel": "liquidation-orders", "instType": "SWAP"}
_WARMUP_MS = 15 * 60_000
_WARMUP_BARS = 48
#: ``details[].side`` is the forced order's side: ``sell`` closes a long.
_LIQ_SIDES = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}


def mark_arg(inst_id: str) -> dict[str, str]:
    return {"channel": "mark-price", "instId": inst_id}


def candle_arg(inst_id: str) -> dict[str, str]:
    return {"channel": "candle1m", "instId": inst_id}


def subscribe_requests(op: str, args: list[dict[str, str]], max_bytes: int = MAX_REQUEST_BYTES) -> list[str]:
    """``args`` as few ``{"op":op,"args":[...]}`` requests as fit ``max_bytes`` each."""
    out: list[str] = []
    head = len(msgspec.json.encode({"op": op, "args": []}))
    batch: list[bytes] = []
    size = head
    for a in args:
        enc = msgspec.json.encode(a)
        if batch and size + len(enc) + 1 > max_bytes:
            out.append(f'{{"op":"{op}","args":[{b",".join(batch).decode()}]}}')
            batch, size = [], head
        if head + len(enc) > max_bytes:
            raise ValueError(f"one subscription arg is longer than max_request_bytes ({max_bytes}): {a}")
        batch.append(enc)
        size += len(enc) + 1
    if batch:
        out.append(f'{{"op":"{op}","args":[{b",".join(batch).decode()}]}}')
    return out


def parse_swaps(body: Any) -> dict[str, float]:
    """``instId`` → ``ctVal`` of the live USDT-margined linear swaps in an instruments reply (ValueError when the
    reply is not one)."""
    if not isinstance(body, dict) or str(body.get("code")) != "0" or not isinstance(body.get("data"), list):
        raise ValueError(f"not an OKX instruments reply: {str(body)[:120]}")
    out: dict[str, float] = {}
    for row in body["data"]:
        if not isinstance(row, dict):
            continue
        if (
            row.get("settleCcy") != "USDT"
            or row.get("state") != "live"
            or row.get("ctType", "linear") != "linear"
        ):
            continue
        try:
            ct_val = float(row["ctVal"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0.0 < ct_val < INF and isinstance(row.get("instId"), str):
            out[row["instId"]] = ct_val
    return out


# -- decoding -------------------------------------------------------------------------------------------------
class _Arg(msgspec.Struct, gc=False):
    channel: str = ""
    instId: str = ""
    instType: str = ""


class _Env(msgspec.Struct, gc=False):
    arg: _Arg | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    event: str = ""
    code: str = ""
    msg: str = ""


_ENV = msgspec.json.Decoder(_Env, strict=False)
_MARKS = msgspec.json.Decoder(list[_OMark], strict=False)
_LIQS = msgspec.json.Decoder(list[_OLiq], strict=False)
_CANDLES = msgspec.json.Decoder(list[list[str]])
_BAD = (msgspec.DecodeError, ValueError, TypeError, KeyError, IndexError)


class OkxAllMarketDecoder:
    """Decodes OKX's all-market frames straight into a :class:`Radar`; never raises (bad frames counted).

    ``contracts``: ``instId`` → ``ctVal`` of the followed swaps (liquidations of other instruments, which the
    per-type subscription also brings, are skipped and counted in ``ignored``)."""

    venue = Venue.OKX

    def __init__(self, radar: Radar, contracts: dict[str, float]) -> None:
        self.radar = radar
        self.contracts = contracts
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.exchange_errors: list[str] = []  # "code: msg" of the last {"event":"error"} frames
        self.control = 0
        self.acks = 0
        self.frames = 0
        self.ignored = 0

    def decode(self, frame: str | bytes, recv_ts: int) -> None:
        self.frames += 1
        try:
            if len(frame) > MAX_FRAME_BYTES:
                raise ValueError("oversized frame")
            if frame == PONG or frame == b"pong":
                self.control += 1
                return
            env = _ENV.decode(frame)
            if env.event:
                self._event(env, frame)
                return
            arg = env.arg
            if arg is None:
                raise ValueError("no arg")
            chan = arg.channel
            if chan == "mark-price":
                marks = _MARKS.decode(env.data)
                for m in marks:
                    if not 0.0 < m.markPx < INF:
                        raise ValueError(f"bad mark {m.markPx}")
                if marks:
                    self.radar.on_marks(marks[-1].ts, ((m.instId, m.markPx) for m in marks))
            elif chan == "candle1m":
                self._candles(arg.instId, _CANDLES.decode(env.data), recv_ts)
            elif chan == "liquidation-orders":
                self._liquidations(_LIQS.decode(env.data), recv_ts)
            else:
                self._bad("unexpected", frame)
        except _BAD:
            self._bad("malformed", frame)

    def _event(self, env: _Env, frame: str | bytes) -> None:
        if env.event == "error":
            text = f"{env.code}: {env.msg}"
            self.exchange_errors = [*self.exchange_errors[-9:], text]
            self.errors += 1
            self.error_kinds["exchange_error"] += 1
            log.warning("okx all-market: OKX refused a request (code %s): %s", env.code, env.msg)
        elif env.event in ("subscribe", "unsubscribe"):
            self.acks += 1
            self.control += 1
        else:  # "notice" (a service upgrade ahead), "channel-conn-count"...
            self.control += 1
            if env.event == "notice":
                log.info("okx all-market: notice %s %s", env.code, env.msg)

    def _candles(self, inst_id: str, rows: list[list[str]], recv_ts: int) -> None:
        ct = self.contracts.get(inst_id)
        if ct is None:
            self.ignored += 1
            return
        for r in rows:
            if len(r) < 9 or r[8] != "1":
                continue  # the forming bar
            o, h, lo, c = float(r[1]), float(r[2]), float(r[3]), float(r[4])
            base = float(r[6]) if r[6] else float(r[5]) * ct  # volCcy: base coin; vol: contracts
            quote = float(r[7]) if r[7] else None
            if bad_bar(o, h, lo, c, base):
                raise ValueError(f"inconsistent candle {inst_id} o={o} h={h} l={lo} c={c}")
            self.radar.on_candle(
                Candle(
                    venue=Venue.OKX, symbol=inst_id, ts=int(r[0]), recv_ts=recv_ts, interval_s=60, open=o,
                    high=h, low=lo, close=c, volume=base, quote_volume=quote, closed=True,
                )
            )  # fmt: skip

    def _liquidations(self, rows: list[_OLiq], recv_ts: int) -> None:
        for q in rows:
            ct = self.contracts.get(q.instId)
            if ct is None:
                self.ignored += 1
                continue
            for d in q.details:
                side = _LIQ_SIDES.get(d.side)
                if side is None or not (0.0 < d.bkPx < INF and 0.0 < d.sz < INF):
                    raise ValueError(f"bad liquidation {d.side} {d.bkPx}/{d.sz}")
                base = d.sz * ct
                self.radar.on_liquidation(
                    Liquidation(
                        venue=Venue.OKX, symbol=q.instId, ts=d.ts, recv_ts=recv_ts, side=side, price=d.bkPx,
                        qty=base, usd=d.bkPx * base,
                    )
                )  # fmt: skip

    def _bad(self, kind: str, frame: str | bytes) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1
        if self.error_kinds[kind] <= 20:
            text = frame[:120] if isinstance(frame, str) else bytes(frame[:120]).decode("utf-8", "replace")
            log.warning("okx all-market: %s frame: %s", kind, text)


# -- the feed ----------------------------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class _Conn(AllMarketConn):
    kind: str  # "public" or "business"
    url: str
    args: list[dict[str, str]]
    window: SlidingWindow  # this connection's subscribe/unsubscribe requests


class OkxAllMarket(AllMarketRun):
    """Every live USDT-margined OKX swap into ``radar``, until cancelled (see the module docstring).

    ``rest_per_2s``: REST requests per 2 s (None: unlimited, for a local exchange). ``symbols_limit``: follow at
    most this many instruments (OKX's order), None for all."""

    liquidations_available = True

    def __init__(
        self,
        radar: Radar,
        ws_url: str,
        rest_url: str,
        *,
        business_ws_url: str | None = None,
        refresh_s: float = 600.0,
        oi_poll_s: float = 30.0,
        rest_per_2s: float | None = 5.0,
        max_args: int = MAX_ARGS,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        subscribe_limit: tuple[float, float] = (SUBSCRIBE_PER_HOUR, 3600.0),
        connects_per_s: float = 2.0,
        ping_interval_s: float = 20.0,
        warmup: bool = True,
        symbols_limit: int | None = None,
        timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        if max_args < 2:
            raise ValueError(f"max_args must be at least 2, got {max_args!r}")
        if not 0 < ping_interval_s < 30:
            raise ValueError(f"ping_interval_s must be within (0, 30) (OKX drops a connection silent for 30 s), "
                             f"got {ping_interval_s!r}")  # fmt: skip
        if not 0 < connects_per_s <= 3:
            raise ValueError(
                f"connects_per_s must be within (0, 3] a second (OKX's limit), got {connects_per_s!r}"
            )
        self.radar = radar
        self.ws_url = ws_url.rstrip("/")
        self.business_url = (business_ws_url or business_url(self.ws_url)).rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.refresh_s = refresh_s
        self.oi_poll_s = oi_poll_s
        self.rest = SlidingWindow(rest_per_2s, 2.0)
        self.max_args = max_args
        self.max_request_bytes = max_request_bytes
        self.subscribe_limit = subscribe_limit
        # evenly spaced (never two at once): a burst at each end of a second would make four in one second
        self.connects = SlidingWindow(1, 1.0 / connects_per_s)
        self.ping_interval_s = ping_interval_s
        self.warmup = warmup
        self.symbols_limit = symbols_limit
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(0.5, 15.0)
        self.contracts: dict[str, float] = {}
        self.decoder = OkxAllMarketDecoder(radar, self.contracts)
        self.conns: list[_Conn] = []
        self.instruments: list[str] = []
        self.warmed: set[str] = set()
        self.oi_polls = 0
        self.rest_requests = 0
        self.rest_errors = 0
        self.refreshes = 0
        self.ready = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._warm_queue: list[str] = []
        self._next_oi = 0.0

    # -- public ---------------------------------------------------------------------------------------
    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        return [self._refresh_loop(), self._rest_loop()]

    def stats(self) -> dict[str, Any]:
        d = self.decoder
        return {
            "instruments": len(self.instruments),
            "connections": len(self.conns),
            "streams": sum(len(c.args) for c in self.conns),
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
            "oi_polls": self.oi_polls,
            "warmed": len(self.warmed),
            "refreshes": self.refreshes,
            "liquidations_ignored": d.ignored,
        }

    async def refresh(self) -> tuple[list[str], list[str]]:
        """Fetch the instrument list; subscribe new listings, unsubscribe delistings. (added, removed)."""
        body = await self._get("/api/v5/public/instruments", {"instType": "SWAP"})
        if body is None:
            return [], []
        try:
            swaps = parse_swaps(body)
        except ValueError as exc:
            self.rest_errors += 1
            log.warning("okx all-market: %s", exc)
            return [], []
        symbols = list(swaps)
        if self.symbols_limit is not None:
            symbols = symbols[: self.symbols_limit]
        self.refreshes += 1
        added, removed = self.radar.set_instruments(symbols)
        gone = set(removed)
        self.contracts.update({s: swaps[s] for s in symbols})
        for s in removed:
            self.contracts.pop(s, None)
        self.instruments = symbols
        self._unsubscribe(gone)
        self._subscribe(added)
        self._warm_queue = [s for s in self._warm_queue if s not in gone]
        self._warm_queue += [s for s in added if self.warmup]
        self.warmed -= gone
        if added:
            self._next_oi = 0.0  # new rows want their open interest now
        self.ready.set()
        return added, removed

    # -- websocket connections --------------------------------------------------------------------------------
    def _subscribe(self, symbols: list[str]) -> None:
        public = [mark_arg(s) for s in symbols]
        if not any(c.kind == "public" for c in self.conns):
            public.insert(0, dict(LIQUIDATION_ARG))
        self._place("public", self.ws_url, public)
        self._place("business", self.business_url, [candle_arg(s) for s in symbols])

    def _place(self, kind: str, url: str, new: list[dict[str, str]]) -> None:
        """Give each new arg to a connection of ``kind`` with room (new connections when all are full)."""
        for c in self.conns:
            room = self.max_args - len(c.args)
            if c.kind == kind and room > 0 and new:
                take, new = new[:room], new[room:]
                c.args.extend(take)
                self._request(c, "subscribe", take)
        while new:
            take, new = new[: self.max_args], new[self.max_args :]
            c = _Conn(index=len(self.conns), kind=kind, url=url, args=take,
                      window=SlidingWindow(*self.subscribe_limit))  # fmt: skip
            self.conns.append(c)
            c.task = asyncio.create_task(self._conn_loop(c), name=f"liqtui-okx-allmarket-{c.index}")

    def _unsubscribe(self, gone: set[str]) -> None:
        if not gone:
            return
        for c in self.conns:
            drop = [a for a in c.args if a.get("instId") in gone]
            if drop:
                c.args = [a for a in c.args if a.get("instId") not in gone]
                self._request(c, "unsubscribe", drop)

    def _request(self, c: _Conn, op: str, args: list[dict[str, str]]) -> None:
        if c.ws is None:
            return  # not connected: the connection subscribes its whole list when it connects
        for msg in subscribe_requests(op, args, self.max_request_bytes):
            c.outbox.put_nowait(msg)

    async def _conn_loop(self, c: _Conn) -> None:
        label = f"okx all-market {c.kind}"
        await run_connection(
            c,
            c.url,
            label=label,
            backoff=self.backoff,
            timeout_s=self.timeout_s,
            on_open=lambda: self._request(c, "subscribe", list(c.args)),
            decode=self.decoder.decode,
            sender=window_sender(
                label, c.window, ping=PING, ping_interval_s=self.ping_interval_s, ping_counts=False
            ),
            gate=self.connects,  # OKX: at most 3 new connections a second per IP
        )

    # -- REST -----------------------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        """One GET within the REST allowance; the reply's body when ``code`` is "0", else None (counted)."""
        assert self._client is not None
        await self.rest.acquire()
        self.rest_requests += 1
        try:
            r = await self._client.get(f"{self.rest_url}{path}", params=params)
        except httpx.HTTPError as exc:
            self.rest_errors += 1
            log.info("okx all-market %s: %s", path, exc)
            return None
        try:
            body = r.json()
        except ValueError:
            body = None
        code = str(body.get("code")) if isinstance(body, dict) else ""
        if r.status_code == 429 or code == "50011":  # too many requests: everything waits
            self.rest.hold(2.0)
        if r.status_code != 200 or code != "0":
            self.rest_errors += 1
            log.info("okx all-market %s: HTTP %d code %s", path, r.status_code, code or "-")
            return None
        return body

    async def _rest_loop(self) -> None:
        """Open interest of every swap every ``oi_poll_s`` (one call), warm-ups in between."""
        while True:
            now = time.monotonic()
            if now >= self._next_oi:
                self._next_oi = now + self.oi_poll_s
                await self.poll_open_interest()
            elif self._warm_queue:
                await self._warm(self._warm_queue.pop(0))
            else:
                await asyncio.sleep(min(0.5, max(0.01, self._next_oi - now)))

    async def poll_open_interest(self) -> int:
        """Every swap's open interest in one call (``oiCcy``: base coin); returns the instruments updated."""
        body = await self._get("/api/v5/public/open-interest", {"instType": "SWAP"})
        if body is None:
            return 0
        n = 0
        for row in body.get("data") or []:
            try:
                inst = row["instId"]
                ct = self.contracts.get(inst)
                if ct is None:
                    continue
                base = float(row["oiCcy"]) if row.get("oiCcy") not in (None, "") else float(row["oi"]) * ct
                ts = int(row.get("ts") or time.time() * 1000)
            except (KeyError, TypeError, ValueError):
                self.rest_errors += 1
                continue
            self.radar.on_open_interest(inst, base, ts)
            n += 1
        self.oi_polls += 1
        return n

    async def _warm(self, inst_id: str) -> None:
        """12 h of 15m candles and open interest (both newest first in OKX's answers)."""
        k = await self._get(
            "/api/v5/market/candles", {"instId": inst_id, "bar": "15m", "limit": _WARMUP_BARS}
        )
        oi = await self._get(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            {"instId": inst_id, "period": "15m", "limit": _WARMUP_BARS},
        )
        if k is None or inst_id not in self.radar:
            return
        try:
            rows = sorted(
                ([float(x) for x in r[:8]] for r in k["data"] if len(r) > 8 and str(r[8]) == "1"),
                key=lambda r: r[0],
            )
            a = np.array(rows, dtype=float).reshape(-1, 8)
            oi_usd_at = {int(r[0]): float(r[3]) for r in (oi or {}).get("data") or []}
        except (TypeError, ValueError, KeyError, IndexError):
            self.rest_errors += 1
            return
        if len(a) == 0:
            return
        ts = a[:, 0].astype(np.int64)
        # OKX's open interest at a timestamp is the figure then: the bar's close is its start + 15m
        oi_usd = np.array([oi_usd_at.get(int(t) + _WARMUP_MS, math.nan) for t in ts])
        with np.errstate(divide="ignore", invalid="ignore"):
            vwap = np.where(a[:, 6] > 0, a[:, 7] / a[:, 6], math.nan)  # volCcyQuote / volCcy
        vwap[~((vwap >= a[:, 3]) & (vwap <= a[:, 2]))] = math.nan
        bars = bars_from_arrays(
            ts, a[:, 1], a[:, 2], a[:, 3], a[:, 4], volume=a[:, 6], vwap=vwap, oi_usd=oi_usd,
            interval_s=_WARMUP_MS // 1000,
        )  # fmt: skip
        bars = bars[[not bad_bar(b["open"], b["high"], b["low"], b["close"], b["volume"]) for b in bars]]
        oi_hist = [
            (int(t) + _WARMUP_MS, float(u)) for t, u in zip(ts, oi_usd, strict=True) if math.isfinite(u)
        ]
        self.radar.on_history(inst_id, bars, oi_hist)
        self.warmed.add(inst_id)
