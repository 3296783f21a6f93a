"""History pages of a venue (klines and open-interest history over REST) and the rules of its REST API.

Each venue package subclasses :class:`HistoryApi`: one request's worth of klines (:meth:`HistoryApi.klines`),
open-interest pages (:meth:`HistoryApi.oi_pages`), and the rules the shared HTTP client of
:mod:`liqtui.history.backfill` applies to it: pacing (``min_interval_s``), which HTTP statuses mean "rate
limited" and which headers say how long to wait, errors carried in a 200 body (:meth:`HistoryApi.body_error`)
and a used-weight header to pause on.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from liqtui.core.model import LOOKBACK_MS

__all__ = [
    "COARSE_INTERVAL_S",
    "DAY_MS",
    "FINE_WINDOW_MS",
    "MIN_MS",
    "BackfillError",
    "HistoryApi",
    "Http",
    "Segment",
    "plan",
    "plan_capped",
]

MIN_MS = 60_000
DAY_MS = 86_400_000
#: 1-minute bars are fetched for at most this much of the lookback (Binance: 29 requests of 1500 rows).
FINE_WINDOW_MS = 30 * DAY_MS
#: Resolution of the part of a long lookback older than the fine window.
COARSE_INTERVAL_S: dict[str, int] = {"3M": 300, "6M": 900}


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


class Http(Protocol):
    """The paced, retrying JSON client a :class:`HistoryApi` requests through (:mod:`liqtui.history.backfill`)."""

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """The decoded JSON body of ``GET base+path?params``."""
        ...

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON reply to ``POST base+path`` with a JSON body."""
        ...


class HistoryApi(abc.ABC):
    """REST shapes of one venue: kline pages, open-interest history, and the rules of its API."""

    name: ClassVar[str] = ""  # the venue's name, for messages (set by the subclass)
    #: Seconds between two requests (from the venue's documented limits).
    min_interval_s: ClassVar[float] = 0.05
    #: HTTP statuses that mean "rate limited" (retried after the wait the venue asks for, else backoff).
    rate_limit_statuses: ClassVar[frozenset[int]] = frozenset({429})
    #: Headers giving the wait: (name, divisor to seconds, whether the value is an absolute unix time).
    retry_headers: ClassVar[tuple[tuple[str, float, bool], ...]] = (("Retry-After", 1.0, False),)
    #: A header counting the weight used this minute (paused at 80 % of ``weight_limit``).
    weight_header: ClassVar[str | None] = None
    weight_limit: ClassVar[int] = 2400

    kline_limit: int = 1000
    oi_history_ms: int | None = None  # how far back the venue keeps OI history (None: no documented limit)
    oi_is_usd: bool = True
    fine_window_ms: int = FINE_WINDOW_MS  # how much of a lookback gets 1-minute bars (request budget)

    def __init__(self, http: Http, symbol: str) -> None:
        self.http, self.symbol = http, symbol

    def body_error(self, body: Any, path: str) -> str | None:
        """An error the venue reports inside a 200 reply: a retryable rate-limit code (returned, e.g.
        ``"code 50011"``), or raise :class:`BackfillError`; None when the body is a normal reply."""
        return None

    def plan(self, lookback: str, now_ms: int) -> list[Segment]:
        """The resolutions and spans to fetch for ``lookback`` (see :func:`plan`)."""
        return plan(lookback, now_ms, fine_window_ms=self.fine_window_ms)

    def oi_missing_reason(self) -> str:
        """Why bars may lack open interest, in plain words."""
        if self.oi_history_ms:
            return f"{self.name} serves open-interest history for the last {self.oi_history_ms // DAY_MS} days only"
        return f"{self.name} returned no open interest for them"

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
