"""REST backfill: klines (with taker-buy volume where the venue has it) and open-interest history.

``await backfill(venue, symbol, lookback, rest_url=..., on_bars=..., progress=..., store=...)`` fetches what the
lookback needs at a resolution it can afford (:func:`plan`: 1-minute bars for the last 30 days at most on
Binance/Bybit, 3 days on OKX; 15-minute bars before that for 6M, 5-minute otherwise), merges the open interest into the bars (USD, interpolated to each bar's
close), writes every page to the store as soon as it arrives (so a cancelled backfill resumes where it stopped:
what the store already has is not fetched again), then hands the whole lookback to ``on_bars`` oldest first as
:data:`~liqtui.history.store.BAR_DTYPE` arrays (the store's merged view when a store is given).

Venues: Binance USDⓈ-M (``/fapi/v1/klines`` ≤1500 rows, ``/futures/data/openInterestHist`` ≤500 rows and the
last 30 days only), Bybit v5 linear (``/v5/market/kline`` ≤1000 rows newest first, ``/v5/market/open-interest``
≤200 rows with cursor paging), OKX v5 swaps (``history-candles`` ≤100 rows, rubik open-interest history) and
Hyperliquid (``candleSnapshot``: the newest 5000 candles per interval, no open-interest history).

Rate limits: requests are paced per venue; HTTP 429, Binance 418 (IP ban), Bybit's 403 / retCode 10006 and OKX
code 50011 are honoured with their ``Retry-After`` (or reset timestamp) and exponential backoff with jitter;
Binance's ``X-MBX-USED-WEIGHT-1M`` header pauses the backfill before the per-minute weight is exhausted.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx
import numpy as np

from liqtui.core.engine import Engine
from liqtui.core.events import Candle, MarketEvent, OpenInterest, Venue
from liqtui.core.model import LOOKBACK_MS, HeatModel
from liqtui.feeds.endpoints import DEFAULT_REST
from liqtui.feeds.symbols import instrument, to_venue
from liqtui.history.store import SRC_KLINE, Store, empty_bars, merge_resolutions

__all__ = [
    "LOOKBACK_MS",
    "SUPPORTED_VENUES",
    "BackfillError",
    "BackfillResult",
    "Segment",
    "attach_oi",
    "backfill",
    "backfill_venues",
    "bars_to_events",
    "combine_oi",
    "fetch_history",
    "plan",
]

MIN_MS = 60_000
DAY_MS = 86_400_000
#: 1-minute bars are fetched for at most this much of the lookback (Binance: 29 requests of 1500 rows).
FINE_WINDOW_MS = 30 * DAY_MS
#: Resolution of the part of a long lookback older than the fine window.
COARSE_INTERVAL_S: dict[str, int] = {"3M": 300, "6M": 900}
DELIVER_CHUNK = 2_000  # bars in the first step (~11 ms here); later steps are sized to DELIVER_BUDGET_S
DELIVER_BUDGET_S = (
    0.015  # how long one model step of a backfill may hold the event loop (a UI frame is 100 ms)
)
DELIVER_CHUNK_MIN, DELIVER_CHUNK_MAX = 100, 10_000

Progress = Callable[[int, int, str], None]
OnBars = Callable[[np.ndarray], Awaitable[None] | None]


class BackfillError(RuntimeError):
    """The backfill cannot go on: unsupported venue, bad symbol, an exchange error, or a ban too long to wait."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """A span of bar open times ``[start_ms, end_ms)`` fetched at one resolution."""

    interval_s: int
    start_ms: int
    end_ms: int

    @property
    def n_bars(self) -> int:
        return max(0, (self.end_ms - self.start_ms) // (self.interval_s * 1000))


@dataclasses.dataclass
class BackfillResult:
    """What a backfill did and what it could not get."""

    venue: str
    symbol: str
    lookback: str
    segments: list[Segment] = dataclasses.field(default_factory=list)
    requests: int = 0
    fetched_bars: int = 0
    oi_points: int = 0
    delivered_bars: int = 0
    skipped_bars: int = 0  # already in the store, not fetched again
    missing_oi: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # bar time ranges without OI
    messages: list[str] = dataclasses.field(default_factory=list)
    retries: int = 0


def plan(lookback: str, now_ms: int, *, fine_window_ms: int = FINE_WINDOW_MS) -> list[Segment]:
    """The segments to fetch for ``lookback`` at ``now_ms``, oldest first, without overlap: 1-minute bars for the
    most recent ``min(lookback, fine_window_ms)``, coarser bars before that (15m for 6M, else 5m). Only
    closed bars."""
    if lookback not in LOOKBACK_MS:
        raise ValueError(f"unknown lookback {lookback!r}; allowed: {' '.join(LOOKBACK_MS)}")
    span = LOOKBACK_MS[lookback]
    end = now_ms - now_ms % MIN_MS
    if span <= fine_window_ms:
        return [Segment(60, end - span, end)]
    coarse = COARSE_INTERVAL_S.get(lookback, 300)
    step = coarse * 1000
    split = (end - fine_window_ms) - (end - fine_window_ms) % step
    start = (end - span) - (end - span) % step
    return [Segment(coarse, start, split), Segment(60, split, end)]


def plan_capped(lookback: str, now_ms: int, *, intervals: Sequence[int], cap: int) -> list[Segment]:
    """Segments for a venue that serves only the newest ``cap`` candles of each interval (Hyperliquid: 5000):
    the finest interval for as far back as it reaches, then each coarser one further back, oldest first."""
    if lookback not in LOOKBACK_MS:
        raise ValueError(f"unknown lookback {lookback!r}; allowed: {' '.join(LOOKBACK_MS)}")
    end = now_ms - now_ms % MIN_MS
    start = end - LOOKBACK_MS[lookback]
    segs: list[Segment] = []
    hi = end
    for iv in sorted(intervals):
        step = iv * 1000
        hi_al = hi - hi % step
        lo = max(start - start % step, (end - end % step) - cap * step)
        if lo < hi_al:
            segs.append(Segment(iv, lo, hi_al))
            hi = lo
        if hi <= start:
            break
    return segs[::-1]


# ---------------------------------------------------------------------------------------------- HTTP


class _Http:
    """JSON requests to one venue with pacing, rate-limit handling and retries."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        venue: Venue,
        base_url: str,
        result: BackfillResult,
        say: Callable[[str], None],
        *,
        min_interval_s: float,
        max_retries: int = 6,
        transport_retries: int = 3,
        max_wait_s: float = 300.0,
        weight_limit: int = 2400,
    ) -> None:
        self.client, self.venue, self.base = client, venue, base_url.rstrip("/")
        self.result, self.say = result, say
        self.min_interval_s, self.max_retries, self.max_wait_s = min_interval_s, max_retries, max_wait_s
        self.weight_limit, self.transport_retries = weight_limit, transport_retries
        self._next_at = 0.0
        self._rng = random.Random(0x11C)

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """The decoded JSON body of ``GET base+path?params``; retries what is retryable, raises the rest."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON reply to ``POST base+path`` with a JSON body (Hyperliquid's ``/info``)."""
        return await self.request("POST", path, json_body=body)

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None
    ) -> Any:
        """One JSON request with pacing, rate-limit waits and retries."""
        net_failures = 0
        for attempt in range(self.max_retries + 1):
            await self._pace()
            self.result.requests += 1
            try:
                resp = await self.client.request(method, self.base + path, params=params, json=json_body)
            except httpx.TransportError as exc:  # unreachable: give up sooner than on a busy exchange
                net_failures += 1
                await self._retry(
                    attempt,
                    None,
                    f"{type(exc).__name__} {exc}".strip(),
                    last=net_failures > self.transport_retries,
                )
                continue
            limited, wait = self._rate_limited(resp)
            if limited:
                await self._retry(attempt, wait, f"HTTP {resp.status_code} (rate limit)")
                continue
            if resp.status_code >= 500:
                await self._retry(attempt, None, f"HTTP {resp.status_code}")
                continue
            body = self._json(resp, method, path)
            if resp.status_code != 200:
                raise BackfillError(
                    f"{self.venue.value}: {method} {path} failed: HTTP {resp.status_code} {_err(body)}"
                )
            retry_code = self._venue_error(body, path)
            if retry_code:
                await self._retry(attempt, None, f"{retry_code} (rate limit)")
                continue
            await self._weight_guard(resp)
            return body
        raise BackfillError(
            f"{self.venue.value}: {method} {path} still failing after {self.max_retries} retries"
        )

    def _venue_error(self, body: Any, path: str) -> str | None:
        """Bybit ``retCode`` / OKX ``code`` in a 200 reply: a retryable rate-limit code, or raise."""
        if not isinstance(body, dict):
            return None
        if self.venue is Venue.BYBIT and body.get("retCode", 0) != 0:
            if body.get("retCode") == 10006:  # too many visits
                return "retCode 10006"
            raise BackfillError(
                f"bybit: GET {path} failed: retCode {body.get('retCode')} {body.get('retMsg')}"
            )
        if self.venue is Venue.OKX and str(body.get("code", "0")) != "0":
            if str(body.get("code")) == "50011":  # too many requests
                return "code 50011"
            raise BackfillError(f"okx: GET {path} failed: code {body.get('code')} {body.get('msg')}")
        return None

    def _json(self, resp: httpx.Response, method: str, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise BackfillError(
                f"{self.venue.value}: {method} {path}: HTTP {resp.status_code} with a body that is not JSON: "
                f"{resp.text[:120]!r}"
            ) from None

    def _rate_limited(self, resp: httpx.Response) -> tuple[bool, float | None]:
        """Whether ``resp`` is a rate-limit reply, and the seconds the venue asks to wait (None: no hint)."""
        code = resp.status_code
        if code not in (429, 418) and not (self.venue is Venue.BYBIT and code == 403):
            return False, None  # (OKX answers 429; Hyperliquid 429)
        for header, scale, now in (
            ("Retry-After", 1.0, 0.0),
            ("X-Bapi-Limit-Reset-Timestamp", 1000.0, time.time()),
        ):
            value = resp.headers.get(header)
            if value is not None:
                try:
                    return True, max(0.0, float(value) / scale - now)
                except ValueError:
                    pass
        return True, None

    async def _retry(self, attempt: int, wait: float | None, why: str, *, last: bool = False) -> None:
        if last or attempt >= self.max_retries:
            raise BackfillError(f"{self.venue.value}: giving up after {attempt + 1} attempts: {why}")
        backoff = min(30.0, 0.5 * 2**attempt) * (0.5 + self._rng.random())
        delay = backoff if wait is None else wait
        if delay > self.max_wait_s:
            raise BackfillError(
                f"{self.venue.value}: {why}; the exchange asks to wait {delay:.0f} s, more than the "
                f"{self.max_wait_s:.0f} s allowed: try again later"
            )
        self.result.retries += 1
        self.say(f"{self.venue.value}: {why}, retrying in {delay:.1f} s")
        await asyncio.sleep(delay)

    async def _pace(self) -> None:
        now = time.monotonic()
        if now < self._next_at:
            await asyncio.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self.min_interval_s

    async def _weight_guard(self, resp: httpx.Response) -> None:
        used = resp.headers.get("X-MBX-USED-WEIGHT-1M")
        if used is None or not used.isdigit() or int(used) < 0.8 * self.weight_limit:
            return
        delay = self._until_next_minute()
        self.say(
            f"{self.venue.value}: request weight {used}/{self.weight_limit} this minute, pausing {delay:.0f} s"
        )
        await asyncio.sleep(delay)

    @staticmethod
    def _until_next_minute() -> float:
        """Seconds until Binance's per-minute weight window has rolled over (plus one for clock skew)."""
        return 61.0 - time.time() % 60.0


def _err(body: Any) -> str:
    if isinstance(body, dict):
        code = body.get("code", body.get("retCode"))
        msg = body.get("msg", body.get("retMsg", body.get("error")))
        if code is not None or msg is not None:
            return f"{code} {msg}".strip()
    return str(body)[:120]


# ---------------------------------------------------------------------------------------------- venues


class _Venue(abc.ABC):
    """REST shapes of one venue: kline pages and open-interest history."""

    kline_limit: int = 1000
    oi_history_ms: int | None = None  # how far back the venue keeps OI history (None: no documented limit)
    oi_is_usd: bool = True
    fine_window_ms: int = FINE_WINDOW_MS  # how much of a lookback gets 1-minute bars (request budget)

    def __init__(self, http: _Http, symbol: str) -> None:
        self.http, self.symbol = http, symbol

    def plan(self, lookback: str, now_ms: int) -> list[Segment]:
        """The resolutions and spans to fetch for ``lookback`` (see :func:`plan`)."""
        return plan(lookback, now_ms, fine_window_ms=self.fine_window_ms)

    def oi_missing_reason(self) -> str:
        """Why bars may lack open interest, in plain words."""
        if self.oi_history_ms:
            return f"{self.http.venue.value} serves open-interest history for the last {self.oi_history_ms // DAY_MS} days only"
        return f"{self.http.venue.value} returned no open interest for them"

    def kline_windows(self, interval_s: int, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Request windows of at most ``kline_limit`` bars covering ``[start_ms, end_ms)``."""
        step = interval_s * 1000 * self.kline_limit
        return [(a, min(a + step, end_ms)) for a in range(start_ms, end_ms, step)]

    def oi_period_s(self, interval_s: int) -> int:
        return 300 if interval_s < 900 else 900

    oi_limit: int = 200

    @abc.abstractmethod
    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        """Bars opening in ``[start_ms, end_ms)`` (one request, at most ``kline_limit``), oldest first."""

    @abc.abstractmethod
    def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        """Open-interest samples ``(ts, value)`` in ``[start_ms, end_ms]``, one page per request."""


class _Binance(_Venue):
    kline_limit = 1500
    oi_limit = 500
    oi_history_ms = 30 * DAY_MS
    _INTERVALS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1h"}

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/fapi/v1/klines",
            {
                "symbol": self.symbol,
                "interval": self._INTERVALS[interval_s],
                "startTime": start_ms,
                "endTime": end_ms - 1,
                "limit": self.kline_limit,
            },
        )
        if not isinstance(body, list):
            raise BackfillError(f"binance: /fapi/v1/klines returned {type(body).__name__}, expected a list")
        try:
            raw = np.array([r[:10] for r in body], dtype=np.float64).reshape(len(body), 10)
        except (TypeError, ValueError) as exc:
            raise BackfillError(f"binance: malformed kline rows: {exc}") from None
        out = empty_bars(len(body))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close", "volume")):
            out[f] = raw[:, 1 + j]
        out["quote_volume"] = raw[:, 7]
        out["taker_buy_volume"] = raw[:, 9]
        return out

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        period = {300: "5m", 900: "15m"}[period_s]
        step = period_s * 1000 * self.oi_limit
        for a in range(
            start_ms, end_ms, step
        ):  # explicit windows: the same pages whichever end the venue fills
            body = await self.http.get(
                "/futures/data/openInterestHist",
                {
                    "symbol": self.symbol,
                    "period": period,
                    "startTime": a,
                    "endTime": min(a + step, end_ms) - 1,
                    "limit": self.oi_limit,
                },
            )
            if not isinstance(body, list):
                raise BackfillError(
                    f"binance: openInterestHist returned {type(body).__name__}, expected a list"
                )
            try:
                ts = np.array([int(r["timestamp"]) for r in body], dtype=np.int64)
                usd = np.array([float(r["sumOpenInterestValue"]) for r in body], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as exc:
                raise BackfillError(f"binance: malformed openInterestHist row: {exc}") from None
            yield ts, usd


class _Bybit(_Venue):
    kline_limit = 1000
    oi_is_usd = False  # base units: converted with the bar's price

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/v5/market/kline",
            {
                "category": "linear",
                "symbol": self.symbol,
                "interval": str(interval_s // 60),
                "start": start_ms,
                "end": end_ms - 1,
                "limit": self.kline_limit,
            },
        )
        rows = _bybit_list(body, "kline")
        out = empty_bars(len(rows))
        try:
            for i, r in enumerate(rows):  # newest first: sorted below
                out[i]["ts"] = int(r[0])
                for j, f in enumerate(("open", "high", "low", "close", "volume", "quote_volume")):
                    out[i][f] = float(r[1 + j])
        except (IndexError, TypeError, ValueError) as exc:
            raise BackfillError(f"bybit: malformed kline row: {exc}") from None
        out["interval_s"] = interval_s
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        params: dict[str, Any] = {
            "category": "linear",
            "symbol": self.symbol,
            "intervalTime": f"{period_s // 60}min",
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": 200,
        }
        while True:
            body = await self.http.get("/v5/market/open-interest", params)
            rows = _bybit_list(body, "open-interest")
            try:
                ts = np.array([int(r["timestamp"]) for r in rows], dtype=np.int64)
                # since 2026-06-11 ``openInterest`` counts both sides; ``singleOpenInterest`` is one side
                base = np.array(
                    [float(r.get("singleOpenInterest") or r["openInterest"]) for r in rows], dtype=np.float64
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise BackfillError(f"bybit: malformed open-interest row: {exc}") from None
            order = np.argsort(ts, kind="stable")
            yield ts[order], base[order]
            cursor = (body.get("result") or {}).get("nextPageCursor")
            if not rows or not cursor:
                return
            params = {**params, "cursor": cursor}


def _bybit_list(body: Any, what: str) -> list[Any]:
    try:
        rows = body["result"]["list"]
    except (KeyError, TypeError):
        raise BackfillError(f"bybit: {what} reply has no result.list: {str(body)[:120]}") from None
    if not isinstance(rows, list):
        raise BackfillError(f"bybit: {what} result.list is {type(rows).__name__}, expected a list")
    return rows


class _Okx(_Venue):
    """OKX v5 swaps: ``/api/v5/market/history-candles`` (≤100 rows, newest first, ``after``/``before`` exclusive
    bounds) and ``/api/v5/rubik/stat/contracts/open-interest-history`` (≤100 rows; ``oiUsd``). Klines have base
    (``volCcy``) and quote (``volCcyQuote``) volume but no taker-buy volume."""

    kline_limit = 100
    oi_limit = 100
    fine_window_ms = 3 * DAY_MS  # 100 rows a request at ≤10 requests/s: 3 days of 1m bars is 44 requests
    _BARS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1H"}

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/api/v5/market/history-candles",
            {
                "instId": self.symbol,
                "bar": self._BARS[interval_s],
                "after": end_ms,
                "before": start_ms - 1,
                "limit": self.kline_limit,
            },
        )
        rows = [r for r in _okx_data(body, "history-candles") if str(r[8] if len(r) > 8 else "1") == "1"]
        try:
            raw = np.array([r[:8] for r in rows], dtype=np.float64).reshape(len(rows), 8)
        except (TypeError, ValueError) as exc:
            raise BackfillError(f"okx: malformed candle rows: {exc}") from None
        out = empty_bars(len(rows))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close")):
            out[f] = raw[:, 1 + j]
        out["volume"], out["quote_volume"] = raw[:, 6], raw[:, 7]
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        step = period_s * 1000 * self.oi_limit
        for a in range(start_ms, end_ms, step):
            body = await self.http.get(
                "/api/v5/rubik/stat/contracts/open-interest-history",
                {
                    "instId": self.symbol,
                    "period": self._BARS[period_s],
                    "begin": a,
                    "end": min(a + step, end_ms) - 1,
                    "limit": self.oi_limit,
                },
            )
            rows = _okx_data(body, "open-interest-history")
            try:
                ts = np.array([int(r[0]) for r in rows], dtype=np.int64)
                usd = np.array([float(r[3]) for r in rows], dtype=np.float64)
            except (IndexError, TypeError, ValueError) as exc:
                raise BackfillError(f"okx: malformed open-interest row: {exc}") from None
            order = np.argsort(ts, kind="stable")
            yield ts[order], usd[order]


def _okx_data(body: Any, what: str) -> list[Any]:
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise BackfillError(f"okx: {what} reply has no data list: {str(body)[:120]}")
    return rows


class _Hyperliquid(_Venue):
    """Hyperliquid ``POST /info {"type": "candleSnapshot"}``: only the newest 5000 candles of each interval, so
    finer intervals reach less far back (:func:`plan_capped`). No open-interest history endpoint."""

    kline_limit = 5000
    oi_history_ms = 0
    _INTERVALS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1h", 14_400: "4h"}

    def plan(self, lookback: str, now_ms: int) -> list[Segment]:
        return plan_capped(lookback, now_ms, intervals=tuple(self._INTERVALS), cap=self.kline_limit)

    def oi_missing_reason(self) -> str:
        return "hyperliquid publishes no open-interest history (only the live figure)"

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.post(
            "/info",
            {
                "type": "candleSnapshot",
                "req": {
                    "coin": self.symbol,
                    "interval": self._INTERVALS[interval_s],
                    "startTime": start_ms,
                    "endTime": end_ms - 1,
                },
            },
        )
        if not isinstance(body, list):
            raise BackfillError(
                f"hyperliquid: candleSnapshot returned {type(body).__name__}, expected a list"
            )
        try:
            raw = np.array([[c["t"], c["o"], c["h"], c["l"], c["c"], c["v"]] for c in body], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackfillError(f"hyperliquid: malformed candle: {exc}") from None
        raw = raw.reshape(len(body), 6)
        out = empty_bars(len(body))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close", "volume")):
            out[f] = raw[:, 1 + j]
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        return
        yield  # an async generator that yields nothing: there is no OI history


_VENUES: dict[Venue, type[_Venue]] = {
    Venue.BINANCE: _Binance,
    Venue.BYBIT: _Bybit,
    Venue.OKX: _Okx,
    Venue.HYPERLIQUID: _Hyperliquid,
}
SUPPORTED_VENUES: tuple[str, ...] = tuple(v.value for v in _VENUES)
#: Default pacing between requests per venue (seconds), from the documented limits: Binance 2400 weight/min
#: (the weight header guards the rest), Bybit 600/5 s, OKX 20/2 s candles and 10/2 s open interest,
#: Hyperliquid 1200 weight/min at 20 a candleSnapshot.
MIN_INTERVAL_S: dict[Venue, float] = {
    Venue.BINANCE: 0.05,
    Venue.BYBIT: 0.05,
    Venue.OKX: 0.2,
    Venue.HYPERLIQUID: 1.0,
}


# ---------------------------------------------------------------------------------------------- merging


def attach_oi(
    bars: np.ndarray, oi_ts: np.ndarray, oi_val: np.ndarray, period_ms: int, *, is_usd: bool = True
) -> np.ndarray:
    """Set each bar's ``oi_usd`` from OI samples: linear interpolation at the bar's close time, within the
    samples' span (plus one period after the last); NaN elsewhere. Base-unit samples (``is_usd=False``) are
    converted with the bar's close. Modifies and returns ``bars``."""
    if len(bars) == 0 or len(oi_ts) == 0:
        return bars
    order = np.argsort(oi_ts, kind="stable")
    ts, val = oi_ts[order].astype(np.float64), oi_val[order]
    at = (bars["ts"] + bars["interval_s"].astype(np.int64) * 1000).astype(np.float64)
    oi = np.interp(at, ts, val)
    inside = (at >= ts[0]) & (at <= ts[-1] + period_ms)
    if not is_usd:
        oi = oi * bars["close"]
    bars["oi_usd"] = np.where(inside, oi, bars["oi_usd"])
    return bars


def bars_to_events(
    bars: np.ndarray, venue: str | Venue, symbol: str, *, recv_ts: int | None = None
) -> list[MarketEvent]:
    """Closed :class:`Candle` events (and an :class:`OpenInterest` event after each bar that has OI, at its
    close time) for an engine that takes events rather than bar arrays."""
    v = to_venue(venue)
    out: list[MarketEvent] = []
    for b in bars:
        ts, iv = int(b["ts"]), int(b["interval_s"])
        rt = recv_ts if recv_ts is not None else ts + iv * 1000
        tb = float(b["taker_buy_volume"])
        qv = float(b["quote_volume"])
        out.append(
            Candle(
                venue=v,
                symbol=symbol,
                ts=ts,
                recv_ts=rt,
                interval_s=iv,
                open=float(b["open"]),
                high=float(b["high"]),
                low=float(b["low"]),
                close=float(b["close"]),
                volume=float(b["volume"]),
                quote_volume=None if math.isnan(qv) else qv,
                taker_buy_volume=None if math.isnan(tb) else tb,
                closed=True,
            )
        )
        oi = float(b["oi_usd"])
        if not math.isnan(oi) and b["close"] > 0:
            out.append(
                OpenInterest(
                    venue=v, symbol=symbol, ts=ts + iv * 1000, recv_ts=rt, base=oi / float(b["close"]), usd=oi
                )
            )
    return out


def _runs_of_nan(bars: np.ndarray) -> list[tuple[int, int]]:
    """Time ranges ``[first ts, last close)`` of consecutive bars without OI."""
    if len(bars) == 0:
        return []
    edges = np.diff(np.concatenate([[0], np.isnan(bars["oi_usd"]).astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    ts, iv = bars["ts"], bars["interval_s"].astype(np.int64)
    return [(int(ts[a]), int(ts[b] + iv[b] * 1000)) for a, b in zip(starts, ends)]


# ---------------------------------------------------------------------------------------------- backfill


class _Reporter:
    """Progress accounting of one backfill: request count, messages, the progress callback."""

    def __init__(self, result: BackfillResult, progress: Progress | None) -> None:
        self.result, self.progress = result, progress
        self.done = 0
        self.total = 1

    def say(self, msg: str) -> None:
        self.result.messages.append(msg)
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total, msg)

    def tick(self, msg: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total, msg)


class _Run:
    """State of one backfill call."""

    def __init__(self, api: _Venue, report: _Reporter, store: Store | None) -> None:
        self.api, self.report, self.store = api, report, store
        self.result = report.result
        self.kept: list[np.ndarray] = []  # fetched bars, when there is no store

    def say(self, msg: str) -> None:
        self.report.say(msg)

    def tick(self, msg: str) -> None:
        self.report.tick(msg)

    async def fetch_segment(self, seg: Segment, ranges: list[tuple[int, int]], now_ms: int) -> None:
        venue, sym = self.result.venue, self.result.symbol
        period_s = self.api.oi_period_s(seg.interval_s)
        for a, b in ranges:
            oi_ts, oi_val = await self._oi(period_s, a, b, now_ms)
            for wa, wb in self.api.kline_windows(seg.interval_s, a, b):
                bars = await self.api.klines(seg.interval_s, wa, wb)
                bars = bars[(bars["ts"] >= wa) & (bars["ts"] < wb)]
                attach_oi(bars, oi_ts, oi_val, period_s * 1000, is_usd=self.api.oi_is_usd)
                if self.store is not None:
                    self.store.write_bars(venue, sym, bars, src=SRC_KLINE)
                else:
                    self.kept.append(bars)
                self.result.fetched_bars += len(bars)
                self.tick(f"{venue} {sym}: {seg.interval_s // 60}m bars to {_fmt(wb)}")

    async def _oi(self, period_s: int, a: int, b: int, now_ms: int) -> tuple[np.ndarray, np.ndarray]:
        lo = a - period_s * 1000
        if self.api.oi_history_ms is not None:
            lo = max(lo, now_ms - self.api.oi_history_ms + period_s * 1000)
        hi = b + period_s * 1000
        if lo >= hi:
            return np.empty(0, np.int64), np.empty(0)
        ts_parts, val_parts = [], []
        async for ts, val in self.api.oi_pages(period_s, lo, hi):
            ts_parts.append(ts)
            val_parts.append(val)
            self.tick(
                f"{self.result.venue} {self.result.symbol}: open interest to {_fmt(int(ts.max()) if len(ts) else hi)}"
            )
        self.result.oi_points += sum(len(t) for t in ts_parts)
        if not ts_parts:
            return np.empty(0, np.int64), np.empty(0)
        return np.concatenate(ts_parts), np.concatenate(val_parts)


def _fmt(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def _estimate_requests(api: _Venue, seg: Segment, ranges: list[tuple[int, int]], now_ms: int) -> int:
    n = 0
    period = api.oi_period_s(seg.interval_s) * 1000
    for a, b in ranges:
        n += len(api.kline_windows(seg.interval_s, a, b))
        lo = a if api.oi_history_ms is None else max(a, now_ms - api.oi_history_ms)
        if b > lo:
            n += -(-(b - lo) // (period * api.oi_limit))
    return n


async def fetch_history(
    venue: str | Venue,
    symbol: str,
    lookback: str,
    *,
    rest_url: str | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
    client: httpx.AsyncClient | None = None,
    now_ms: int | None = None,
    since_ms: int | None = None,
    min_interval_s: float | None = None,
    max_wait_s: float = 300.0,
    full_oi_history: bool = False,
) -> tuple[BackfillResult, np.ndarray]:
    """Fetch (see :func:`backfill`) and return ``(result, bars)`` without delivering them.

    ``full_oi_history``: ask for open-interest history beyond the venue's documented depth (Binance: 30 days), for
    servers that keep more, such as the demo exchange."""
    v = to_venue(venue)
    if v not in _VENUES:
        raise BackfillError(
            f"backfill is not available for {v.value}; supported: {', '.join(SUPPORTED_VENUES)} "
            f"(live data from {v.value} still accumulates in the store)"
        )
    if lookback not in LOOKBACK_MS:
        raise ValueError(f"unknown lookback {lookback!r}; allowed: {' '.join(LOOKBACK_MS)}")
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    sym = instrument(v, symbol)
    result = BackfillResult(venue=v.value, symbol=sym, lookback=lookback)
    own_client = client is None
    http_client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
    report = _Reporter(result, progress)
    http = _Http(
        http_client,
        v,
        rest_url or DEFAULT_REST[v],
        result,
        report.say,
        min_interval_s=MIN_INTERVAL_S[v] if min_interval_s is None else min_interval_s,
        max_wait_s=max_wait_s,
    )
    run = _Run(_VENUES[v](http, sym), report, store)
    if full_oi_history:
        run.api.oi_history_ms = None
    result.segments = run.api.plan(lookback, now)
    try:
        todo = []
        for seg in result.segments:
            ranges = (
                store.missing_ranges(v.value, sym, seg.interval_s, seg.start_ms, seg.end_ms)
                if store is not None
                else [(seg.start_ms, seg.end_ms)]
            )
            result.skipped_bars += seg.n_bars - sum((b - a) // (seg.interval_s * 1000) for a, b in ranges)
            todo.append((seg, ranges))
        report.total = max(1, sum(_estimate_requests(run.api, s, r, now) for s, r in todo))
        report.say(
            f"{v.value} {sym}: backfilling {lookback} ({report.total} requests, {result.skipped_bars} bars already stored)"
        )
        for seg, ranges in todo:
            await run.fetch_segment(seg, ranges, now)
    finally:
        if own_client:
            await http_client.aclose()
    bars = _collect(run, result, since_ms)
    _report_missing_oi(run, bars)
    report.done = report.total
    report.say(
        f"{v.value} {sym}: fetched {result.fetched_bars} bars in {result.requests} requests, {len(bars)} in the lookback"
    )
    return result, bars


async def backfill(
    venue: str | Venue,
    symbol: str,
    lookback: str,
    *,
    rest_url: str | None = None,
    on_bars: OnBars | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
    client: httpx.AsyncClient | None = None,
    now_ms: int | None = None,
    since_ms: int | None = None,
    min_interval_s: float | None = None,
    max_wait_s: float = 300.0,
    model: HeatModel | Engine | None = None,
) -> BackfillResult:
    """Fetch the history ``lookback`` needs for ``symbol`` on ``venue`` and deliver it to ``on_bars``.

    ``symbol`` is a ticker (``BTC``) or the venue's instrument. ``store``: pages are written as they arrive,
    bars it already has are not fetched again, and the delivered bars are the store's merged view (so open
    interest the store kept from earlier runs fills what the venue no longer serves). ``since_ms``: deliver only
    bars opening at or after it (e.g. the time of a restored model checkpoint). ``progress(done, total, msg)``
    is called per request. ``model``: step this HeatModel (or Engine, which also keeps the candles) through the
    bars (the fast chunked path, bars after its ``last_ts`` only) before each chunk goes to ``on_bars``.
    Cancel with ``task.cancel()``: whatever was written stays written.
    """
    result, bars = await fetch_history(
        venue,
        symbol,
        lookback,
        rest_url=rest_url,
        progress=progress,
        store=store,
        client=client,
        now_ms=now_ms,
        since_ms=since_ms,
        min_interval_s=min_interval_s,
        max_wait_s=max_wait_s,
    )
    await _deliver(bars, on_bars, result, model)
    _say_done(progress, result, len(bars))
    return result


def _say_done(progress: Progress | None, result: BackfillResult, n: int) -> None:
    msg = f"{result.venue} {result.symbol}: backfill done, {n} bars ({result.fetched_bars} fetched, {result.requests} requests)"
    result.messages.append(msg)
    if progress is not None:
        done = max(1, result.requests)
        progress(done, done, msg)


async def backfill_venues(
    venues: Sequence[str],
    symbol: str,
    lookback: str,
    *,
    rest_urls: Mapping[str, str] | None = None,
    on_bars: OnBars | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
    now_ms: int | None = None,
    since_ms: int | None = None,
    min_interval_s: float | None = None,
    model: HeatModel | Engine | None = None,
    full_oi_history: bool = False,
) -> list[BackfillResult]:
    """Backfill every venue that has REST history (concurrently) and deliver the first venue's bars with the
    open interest of all of them summed (USD), the way the engine sums live OI across venues
    (:func:`combine_oi`). ``rest_urls`` maps venue → REST base (default: the public endpoints); ``model`` as in
    :func:`backfill`."""
    venues = [to_venue(v).value for v in venues]
    if not venues:
        raise ValueError("backfill_venues needs at least one venue")
    urls = dict(rest_urls or {})
    agg = _ProgressSum(progress, venues)
    outcomes = await asyncio.gather(
        *(
            fetch_history(
                v,
                symbol,
                lookback,
                rest_url=urls.get(v),
                progress=agg.for_venue(v),
                store=store,
                now_ms=now_ms,
                since_ms=since_ms,
                min_interval_s=min_interval_s,
                full_oi_history=full_oi_history,
            )
            for v in venues
        ),
        return_exceptions=True,
    )
    for o in outcomes:  # cancellation and programming errors propagate as they are
        if isinstance(o, BaseException) and not isinstance(o, BackfillError):
            raise o
    if isinstance(outcomes[0], BaseException):
        raise outcomes[0]
    fetched = [o for o in outcomes if not isinstance(o, BaseException)]
    results = [r for r, _ in fetched]
    for v, o in zip(venues, outcomes):
        if isinstance(o, BackfillError):
            results[0].messages.append(
                f"{v} backfill failed ({o}); its open interest is left out of the history"
            )
    bars = combine_oi(fetched[0][1], [b for _, b in fetched[1:]])
    await _deliver(bars, on_bars, results[0], model)
    _say_done(progress, results[0], len(bars))
    return results


class _ProgressSum:
    """One progress bar over several venues' backfills: sums their done/total."""

    def __init__(self, progress: Progress | None, venues: Sequence[str]) -> None:
        self.progress = progress
        self.state = {v: (0, 1) for v in venues}

    def for_venue(self, venue: str) -> Progress | None:
        if self.progress is None:
            return None

        def cb(done: int, total: int, msg: str) -> None:
            self.state[venue] = (done, total)
            d = sum(a for a, _ in self.state.values())
            t = sum(b for _, b in self.state.values())
            assert self.progress is not None
            self.progress(min(d, t), t, msg)

        return cb


def combine_oi(ref: np.ndarray, others: Sequence[np.ndarray]) -> np.ndarray:
    """A copy of ``ref`` (bars of the reference venue) whose ``oi_usd`` is the sum over venues.

    Each other venue's OI is interpolated at the reference bars' close times within its own span. Where some
    venue has no OI for a bar, the reference OI is scaled by the median total/reference ratio of the bars where
    every venue has it, so the summed series has no step where a venue's history starts or ends.
    """
    out = ref.copy()
    if not others or len(out) == 0:
        return out
    at = (out["ts"] + out["interval_s"].astype(np.int64) * 1000).astype(np.float64)
    total = out["oi_usd"].copy()
    complete = ~np.isnan(total)
    for o in others:
        o = o[~np.isnan(o["oi_usd"])]
        if len(o) == 0:
            complete[:] = False
            continue
        ot = (o["ts"] + o["interval_s"].astype(np.int64) * 1000).astype(np.float64)
        order = np.argsort(ot, kind="stable")
        ot, ov = ot[order], o["oi_usd"][order]
        inside = (at >= ot[0]) & (at <= ot[-1])
        total = np.where(inside, total + np.interp(at, ot, ov), total)
        complete &= inside
    have_ref = ~np.isnan(out["oi_usd"])
    if complete.any():
        ratio = float(np.median(total[complete] / out["oi_usd"][complete]))
        out["oi_usd"] = np.where(complete, total, out["oi_usd"] * ratio)
    out["oi_usd"] = np.where(have_ref, out["oi_usd"], np.nan)
    return out


def _collect(run: _Run, result: BackfillResult, since_ms: int | None) -> np.ndarray:
    start = result.segments[0].start_ms if since_ms is None else max(since_ms, result.segments[0].start_ms)
    end = result.segments[-1].end_ms
    if run.store is not None:
        return run.store.read_bars(result.venue, result.symbol, start, end)
    if not run.kept:
        return empty_bars(0)
    bars = merge_resolutions(np.concatenate(run.kept))
    return bars[bars["ts"] >= start]


def _report_missing_oi(run: _Run, bars: np.ndarray) -> None:
    result = run.result
    result.missing_oi = _runs_of_nan(bars)
    missing = int(np.isnan(bars["oi_usd"]).sum()) if len(bars) else 0
    if not missing:
        return
    first, last = result.missing_oi[0][0], result.missing_oi[-1][1]
    run.say(
        f"{result.venue} {result.symbol}: {missing} of {len(bars)} bars have no open interest "
        f"({_fmt(first)} .. {_fmt(last)}): {run.api.oi_missing_reason()}; no positions are estimated there. "
        f"The local store fills this gap from live data as liqtui runs."
    )


async def _deliver(
    bars: np.ndarray, on_bars: OnBars | None, result: BackfillResult, model: HeatModel | Engine | None
) -> None:
    """Each chunk to ``model`` (if any: the chunked fast path) then to ``on_bars`` (if any), oldest first,
    yielding to the event loop between chunks."""
    if on_bars is None and model is None:
        return
    from liqtui.history.restore import step_chunk

    until = int(bars["ts"][-1]) if len(bars) else 0
    i, size = 0, DELIVER_CHUNK
    while i < len(bars):
        chunk = bars[i : i + size]
        t0 = time.perf_counter()
        stepped = step_chunk(model, chunk, until) if model is not None else len(chunk)
        if on_bars is not None:
            await _call(on_bars, chunk)
        result.delivered_bars += stepped
        i += len(chunk)
        # recent bars cost more (the fine history); keep each step near the budget so a UI keeps drawing
        took = time.perf_counter() - t0
        if took > 0:
            size = int(min(DELIVER_CHUNK_MAX, max(DELIVER_CHUNK_MIN, size * DELIVER_BUDGET_S / took)))
        await asyncio.sleep(0)


async def _call(on_bars: OnBars, chunk: np.ndarray) -> None:
    maybe = on_bars(chunk)
    if maybe is not None:
        await maybe
