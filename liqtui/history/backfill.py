"""REST backfill: klines (with taker-buy volume where the venue has it) and open-interest history.

``await backfill(venue, symbol, lookback, rest_url=..., on_bars=..., progress=..., store=...)`` fetches what the
lookback needs at a resolution it can afford (:func:`plan`: 1-minute bars for the most recent part, as much as
the venue's request budget allows; 15-minute bars before that for 6M, 5-minute otherwise), merges the open
interest into the bars (USD, interpolated to each bar's close), writes every page to the store as soon as it arrives (so a cancelled backfill resumes where it stopped:
what the store already has is not fetched again), then hands the whole lookback to ``on_bars`` oldest first as
:data:`~liqtui.history.store.BAR_DTYPE` arrays (the store's merged view when a store is given).

The pages themselves come from each venue adapter's :class:`~liqtui.venues.history.HistoryApi` (klines and
open-interest history, row limits, how far back the venue keeps open interest); this module names no venue.
Its one HTTP client applies each venue's rules: requests are paced (``min_interval_s``); the venue's
rate-limit statuses are retried after the wait its headers ask for (``Retry-After``, a reset timestamp), else
with the shared exponential :class:`~liqtui.venues.base.Backoff` with jitter; a rate-limit code inside a 200
reply is retried the same way; a used-weight header pauses the backfill before the per-minute weight is
exhausted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from liqtui.core.engine import Engine
from liqtui.core.events import Candle, MarketEvent, OpenInterest, Venue
from liqtui.core.model import LOOKBACK_MS, HeatModel
from liqtui.history.store import SRC_KLINE, Store, empty_bars, merge_resolutions
from liqtui.venues import ADAPTERS, adapter
from liqtui.venues.base import Backoff
from liqtui.venues.history import (
    COARSE_INTERVAL_S,
    DAY_MS,
    FINE_WINDOW_MS,
    MIN_MS,
    BackfillError,
    HistoryApi,
    Segment,
    plan,
    plan_capped,
)
from liqtui.venues.symbols import to_venue

__all__ = [
    "COARSE_INTERVAL_S",
    "DAY_MS",
    "FINE_WINDOW_MS",
    "LOOKBACK_MS",
    "MIN_MS",
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
    "plan_capped",
]

DELIVER_CHUNK = 2_000  # bars in the first step (~11 ms here); later steps are sized to DELIVER_BUDGET_S
DELIVER_BUDGET_S = (
    0.015  # how long one model step of a backfill may hold the event loop (a UI frame is 100 ms)
)
DELIVER_CHUNK_MIN, DELIVER_CHUNK_MAX = 100, 10_000

Progress = Callable[[int, int, str], None]
OnBars = Callable[[np.ndarray], Awaitable[None] | None]


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


# ---------------------------------------------------------------------------------------------- HTTP


class _Http:
    """JSON requests to one venue with pacing, rate-limit handling and retries, by the rules of its
    :class:`~liqtui.venues.history.HistoryApi`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        rules: type[HistoryApi],
        base_url: str,
        result: BackfillResult,
        say: Callable[[str], None],
        *,
        min_interval_s: float,
        max_retries: int = 6,
        transport_retries: int = 3,
        max_wait_s: float = 300.0,
    ) -> None:
        self.client, self.rules, self.base = client, rules, base_url.rstrip("/")
        self.name = rules.name
        self.result, self.say = result, say
        self.min_interval_s, self.max_retries, self.max_wait_s = min_interval_s, max_retries, max_wait_s
        self.transport_retries = transport_retries
        self.api: HistoryApi | None = None  # the pages' object, whose body_error checks each reply
        self._next_at = 0.0
        self._rng = random.Random(0x11C)
        self._backoff = Backoff(0.5, 30.0, self._rng, jitter=(0.5, 1.5))

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """The decoded JSON body of ``GET base+path?params``; retries what is retryable, raises the rest."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON reply to ``POST base+path`` with a JSON body."""
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
                    f"{self.name}: {method} {path} failed: HTTP {resp.status_code} {_err(body)}"
                )
            retry_code = self.api.body_error(body, path) if self.api is not None else None
            if retry_code:
                await self._retry(attempt, None, f"{retry_code} (rate limit)")
                continue
            await self._weight_guard(resp)
            return body
        raise BackfillError(f"{self.name}: {method} {path} still failing after {self.max_retries} retries")

    def _json(self, resp: httpx.Response, method: str, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise BackfillError(
                f"{self.name}: {method} {path}: HTTP {resp.status_code} with a body that is not JSON: "
                f"{resp.text[:120]!r}"
            ) from None

    def _rate_limited(self, resp: httpx.Response) -> tuple[bool, float | None]:
        """Whether ``resp`` is a rate-limit reply, and the seconds the venue asks to wait (None: no hint)."""
        if resp.status_code not in self.rules.rate_limit_statuses:
            return False, None
        for header, scale, absolute in self.rules.retry_headers:
            value = resp.headers.get(header)
            if value is not None:
                try:
                    return True, max(0.0, float(value) / scale - (time.time() if absolute else 0.0))
                except ValueError:
                    pass
        return True, None

    async def _retry(self, attempt: int, wait: float | None, why: str, *, last: bool = False) -> None:
        if last or attempt >= self.max_retries:
            raise BackfillError(f"{self.name}: giving up after {attempt + 1} attempts: {why}")
        backoff = self._backoff.delay(attempt + 1)
        delay = backoff if wait is None else wait
        if delay > self.max_wait_s:
            raise BackfillError(
                f"{self.name}: {why}; the exchange asks to wait {delay:.0f} s, more than the "
                f"{self.max_wait_s:.0f} s allowed: try again later"
            )
        self.result.retries += 1
        self.say(f"{self.name}: {why}, retrying in {delay:.1f} s")
        await asyncio.sleep(delay)

    async def _pace(self) -> None:
        now = time.monotonic()
        if now < self._next_at:
            await asyncio.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self.min_interval_s

    async def _weight_guard(self, resp: httpx.Response) -> None:
        header, limit = self.rules.weight_header, self.rules.weight_limit
        used = resp.headers.get(header) if header is not None else None
        if used is None or not used.isdigit() or int(used) < 0.8 * limit:
            return
        delay = self._until_next_minute()
        self.say(f"{self.name}: request weight {used}/{limit} this minute, pausing {delay:.0f} s")
        await asyncio.sleep(delay)

    @staticmethod
    def _until_next_minute() -> float:
        """Seconds until a per-minute weight window has rolled over (plus one for clock skew)."""
        return 61.0 - time.time() % 60.0


def _err(body: Any) -> str:
    if isinstance(body, dict):
        code = body.get("code", body.get("retCode"))
        msg = body.get("msg", body.get("retMsg", body.get("error")))
        if code is not None or msg is not None:
            return f"{code} {msg}".strip()
    return str(body)[:120]


SUPPORTED_VENUES: tuple[str, ...] = tuple(n for n, a in ADAPTERS.items() if a.history is not None)
"""Venues with REST history, at import (a venue registered later is checked when it is backfilled)."""


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

    def __init__(self, api: HistoryApi, report: _Reporter, store: Store | None) -> None:
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


def _estimate_requests(api: HistoryApi, seg: Segment, ranges: list[tuple[int, int]], now_ms: int) -> int:
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

    ``full_oi_history``: ask for open-interest history beyond the venue's documented depth, for
    servers that keep more, such as the demo exchange."""
    a = adapter(venue)
    v = a.venue
    if a.history is None:
        supported = ", ".join(n for n, x in ADAPTERS.items() if x.history is not None)
        raise BackfillError(
            f"backfill is not available for {v.value}; supported: {supported} "
            f"(live data from {v.value} still accumulates in the store)"
        )
    if lookback not in LOOKBACK_MS:
        raise ValueError(f"unknown lookback {lookback!r}; allowed: {' '.join(LOOKBACK_MS)}")
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    sym = a.instrument(symbol)
    result = BackfillResult(venue=v.value, symbol=sym, lookback=lookback)
    own_client = client is None
    http_client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
    report = _Reporter(result, progress)
    http = _Http(
        http_client,
        a.history,
        rest_url or a.default_rest,
        result,
        report.say,
        min_interval_s=a.history.min_interval_s if min_interval_s is None else min_interval_s,
        max_wait_s=max_wait_s,
    )
    api = a.history(http, sym)
    http.api = api
    run = _Run(api, report, store)
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
