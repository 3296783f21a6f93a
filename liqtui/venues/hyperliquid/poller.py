"""Polling Hyperliquid positions within the rules: a weight budget, a schedule by value, 429s obeyed.

Hyperliquid's documented limit is an aggregated weight of **1200 per minute per IP** for REST requests;
``clearinghouseState`` weighs 2, ``metaAndAssetCtxs`` 20 ("Rate limits and user limits" in the API docs).
liqtui spends at most ``share`` of it (default half: the rest is for the feeds' backfill and whatever else runs
on the same address), and never more:

* :class:`WeightBudget` is a token bucket on weight whose burst ``C`` and refill rate ``r`` satisfy
  ``C + 60·r = share × 1200``, so no 60-second window, wherever it starts, spends more than the share.
  A 429 halves the rate (down to a tenth), pauses for ``Retry-After`` or a growing backoff, and the rate
  comes back by half again for every quiet minute.
* :class:`Scheduler` orders accounts by when they are due; :class:`PollPolicy` says how soon an account is
  due again from its last snapshot: a position whose liquidation price is near the price or that is big is
  refreshed often, smaller and farther ones slowly, flat accounts rarely (sooner when they trade again).

Time comes from injected ``clock`` (seconds, monotonic) and ``sleep`` functions, so a test drives a long
run with a fake clock and counts the weight spent per minute.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liqtui.core.observed import ObservedBook, ObservedPosition
from liqtui.venues.base import Backoff
from liqtui.venues.hyperliquid.accounts import AddressBook
from liqtui.venues.hyperliquid.feed import TradeUsers
from liqtui.venues.hyperliquid.positions import InfoShapeError, open_interest_usd, parse_clearinghouse

if TYPE_CHECKING:
    import httpx

__all__ = [
    "INFO_WEIGHT_LIMIT",
    "WEIGHT_CLEARINGHOUSE",
    "WEIGHT_META",
    "PollPolicy",
    "PositionPoller",
    "Scheduler",
    "WeightBudget",
]

#: Documented REST weight limit per minute and IP, and the weights of the requests liqtui sends.
INFO_WEIGHT_LIMIT = 1200
WEIGHT_CLEARINGHOUSE = 2
WEIGHT_META = 20

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: (request body) -> (HTTP status, Retry-After seconds or None, parsed JSON body or None)
Fetch = Callable[[dict[str, Any]], Awaitable[tuple[int, float | None, Any]]]


class WeightBudget:
    """Token bucket on request weight: at most ``share × limit`` weight in any 60 s window."""

    def __init__(
        self,
        share: float = 0.5,
        *,
        limit: int = INFO_WEIGHT_LIMIT,
        burst_share: float = 0.1,
        min_factor: float = 0.1,
        clock: Clock = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"the info request share must be within (0, 1], got {share!r}")
        if not 0.0 < burst_share < 1.0:
            raise ValueError(f"burst_share must be within (0, 1), got {burst_share!r}")
        self.per_minute = share * limit
        self.burst_share = burst_share
        self.min_factor = min_factor
        self.factor = 1.0  # lowered by 429s
        self._clock = clock
        self._t = clock()
        self.tokens = self.capacity
        self.paused_until = -math.inf
        self.strikes = 0
        self._last_429 = -math.inf
        self._relaxed_at = self._t
        self._backoff = backoff or Backoff(2.0, 60.0)
        self.log: deque[tuple[float, int]] = deque()  # (time, weight) spent in the last minute

    @property
    def capacity(self) -> float:
        return self.per_minute * self.factor * self.burst_share

    @property
    def rate(self) -> float:
        """Weight refilled per second."""
        return self.per_minute * self.factor * (1.0 - self.burst_share) / 60.0

    def _refill(self) -> float:
        now = self._clock()
        if now > self._t:
            self.tokens = min(self.capacity, self.tokens + (now - self._t) * self.rate)
            self._t = now
        if now - max(self._last_429, self._relaxed_at) >= 60.0 and self.factor < 1.0:
            self.factor = min(1.0, self.factor * 1.5)
            self._relaxed_at = now
        return now

    def wait_s(self, weight: int) -> float:
        """Seconds until ``weight`` may be spent (0: now)."""
        now = self._refill()
        if now < self.paused_until:
            return self.paused_until - now
        if weight > self.capacity:  # a request heavier than the burst: wait for a full bucket
            need = self.capacity - self.tokens
        else:
            need = weight - self.tokens
        return max(0.0, need / self.rate) if need > 0 else 0.0

    def take(self, weight: int) -> bool:
        """Spend ``weight`` now if the budget allows (a request heavier than the burst empties a full one)."""
        if self.wait_s(weight) > 0:
            return False
        self.tokens -= min(weight, self.tokens) if weight > self.capacity else weight
        now = self._clock()
        self.log.append((now, weight))
        while self.log and self.log[0][0] <= now - 60.0:
            self.log.popleft()
        return True

    def throttled(self, retry_after_s: float | None = None) -> float:
        """The venue answered 429: lower the rate, empty the bucket, pause; returns the pause in seconds."""
        now = self._refill()
        self.strikes += 1
        self._last_429 = now
        self.factor = max(self.min_factor, self.factor * 0.5)
        self.tokens = 0.0
        pause = self._backoff.delay(self.strikes)
        if retry_after_s is not None and retry_after_s >= 0:
            pause = max(pause, min(retry_after_s, 300.0))
        self.paused_until = now + pause
        return pause

    def succeeded(self) -> None:
        """A request went through: the 429 streak is over (the lowered rate recovers with time)."""
        self.strikes = 0


@dataclass(frozen=True)
class PollPolicy:
    """How soon an account is polled again, from its last snapshot."""

    hot_s: float = 30.0  # liquidation price within near_pct of the price, or a big position
    warm_s: float = 120.0  # within warm_pct, or a mid-size position
    cold_s: float = 600.0  # the long tail (and a position without a liquidation price)
    flat_s: float = 1800.0  # no position in the coin
    recheck_s: float = 60.0  # a flat account seen trading again
    confirm_s: float = 10.0  # an account whose observed level the price just crossed
    error_s: float = 300.0  # an answer we could not read
    near_pct: float = 2.0
    warm_pct: float = 10.0
    big_usd: float = 1_000_000.0
    mid_usd: float = 100_000.0

    def interval(self, pos: ObservedPosition | None, price: float | None) -> float:
        if pos is None:
            return self.flat_s
        usd = pos.value_usd
        d = math.inf
        if pos.liq_px is not None and price:
            d = 100.0 * abs(pos.liq_px - price) / price
        if d <= self.near_pct or usd >= self.big_usd:
            return self.hot_s
        if d <= self.warm_pct or usd >= self.mid_usd:
            return self.warm_s
        return self.cold_s


class Scheduler:
    """Accounts by due time (a heap with lazy deletion); earlier due first, then the order added."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self.due: dict[str, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self.due)

    def put(self, address: str, due: float) -> None:
        self.due[address] = due
        heapq.heappush(self._heap, (due, next(self._seq), address))

    def sooner(self, address: str, due: float) -> None:
        """Bring ``address`` forward to ``due`` (never later than it is)."""
        if address in self.due and self.due[address] > due:
            self.put(address, due)

    def remove(self, address: str) -> None:
        self.due.pop(address, None)

    def _clean(self) -> None:
        h = self._heap
        while h and self.due.get(h[0][2]) != h[0][0]:
            heapq.heappop(h)

    def next_due(self) -> float | None:
        self._clean()
        return self._heap[0][0] if self._heap else None

    def pop(self, now: float) -> str | None:
        """The most overdue account (removed from the schedule until put back), or None."""
        self._clean()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, a = heapq.heappop(self._heap)
        del self.due[a]
        return a


@dataclass
class PollStats:
    requests: int = 0
    weight: int = 0
    ok: int = 0
    throttled: int = 0
    errors: int = 0
    last_error: str = ""
    by_status: dict[int, int] = field(default_factory=dict)


class PositionPoller:
    """Polls the accounts of ``book`` for ``observed.coin`` and keeps ``observed`` up to date.

    ``info_url``: the REST base (``https://api.hyperliquid.xyz``; None: nothing is polled — a recording —
    and :attr:`notes` says so). ``price`` gives the current price for the schedule; ``oi_every_s`` how often
    ``metaAndAssetCtxs`` refreshes the open interest for coverage (0: never; :attr:`oi_usd` can also be set
    by the caller from the feed). ``dex``: a HIP-3 sub-dex to ask instead of the main one."""

    def __init__(
        self,
        book: AddressBook,
        observed: ObservedBook,
        *,
        info_url: str | None,
        share: float = 0.5,
        policy: PollPolicy | None = None,
        price: Callable[[], float | None] = lambda: None,
        oi_every_s: float = 300.0,
        dex: str = "",
        clock: Clock = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        sleep: Sleep = asyncio.sleep,
        fetch: Fetch | None = None,
        budget: WeightBudget | None = None,
    ) -> None:
        self.book = book
        self.observed = observed
        self.coin = observed.coin
        self.info_url = info_url
        self.policy = policy or PollPolicy()
        self.price = price
        self.oi_every_s = oi_every_s
        self.dex = dex
        self.clock, self.wall_ms, self.sleep = clock, wall_ms, sleep
        self.budget = budget or WeightBudget(share, clock=clock)
        self.scheduler = Scheduler()
        self.stats = PollStats()
        self.oi_usd: float | None = None
        self.notes: list[str] = []
        self._flat: set[str] = set()
        self._demand: dict[str, float] = {}  # polls per second each account asks for (1 / its interval)
        self._demand_sum = 0.0
        self._next_oi = -math.inf
        self._fetch = fetch
        self._client: httpx.AsyncClient | None = None
        if info_url is None:
            self.notes.append(
                "hyperliquid: no info endpoint (recording): accounts are discovered, positions are not polled"
            )

    # -- discovery -----------------------------------------------------------------------------------------
    def on_trade(self, t: TradeUsers) -> None:
        """The decoder's ``on_users`` sink: feed the address book, and bring flat accounts that trade again
        forward."""
        self.book.on_trade(t)
        now = self.clock()
        for a in (t.buyer, t.seller):
            if a in self._flat:
                self.scheduler.sooner(a, now + self.policy.recheck_s)

    def _sync_book(self, now: float) -> None:
        for a in self.book.take_new():
            if a not in self.scheduler.due:
                self.scheduler.put(a, now)
        for a in self.book.take_evicted():
            self.scheduler.remove(a)
            self._demand_sum -= self._demand.pop(a, 0.0)
            self._flat.discard(a)
            self.observed.forget(a)

    # -- requests ------------------------------------------------------------------------------------------
    async def _post(self, body: dict[str, Any]) -> tuple[int, float | None, Any]:
        if self._fetch is not None:
            return await self._fetch(body)
        import httpx  # lazy: httpx imports rich

        if self._client is None:
            assert self.info_url is not None
            self._client = httpx.AsyncClient(base_url=self.info_url, timeout=10.0)
        try:
            r = await self._client.post("/info", json=body)
        except (httpx.HTTPError, OSError) as exc:  # transport errors: counted, the account retried later
            return 0, None, f"{type(exc).__name__}: {exc}"
        retry: float | None = None
        ra = r.headers.get("retry-after")
        if ra is not None:
            try:
                retry = float(ra)
            except ValueError:
                retry = None
        try:
            data = r.json()
        except ValueError:
            data = None
        return r.status_code, retry, data

    async def _request(self, body: dict[str, Any], weight: int) -> tuple[int, Any] | None:
        """One request within the budget; None when it must wait (the caller sleeps and retries)."""
        if not self.budget.take(weight):
            return None
        if self.dex and body.get("type") == "clearinghouseState":
            body = {**body, "dex": self.dex}
        status, retry, data = await self._post(body)
        st = self.stats
        st.requests += 1
        st.weight += weight
        st.by_status[status] = st.by_status.get(status, 0) + 1
        if status == 429:
            st.throttled += 1
            self.budget.throttled(retry)
        elif status == 200:
            self.budget.succeeded()
        return status, data

    async def poll_one(self, address: str) -> bool:
        """Poll one account now if the budget allows; returns whether a request was sent."""
        got = await self._request({"type": "clearinghouseState", "user": address}, WEIGHT_CLEARINGHOUSE)
        if got is None:
            return False
        status, data = got
        now = self.clock()
        if status == 429:
            self.scheduler.put(address, now)  # first again once the pause is over
            return True
        if status != 200:
            self._error(f"clearinghouseState {address}: HTTP {status} {str(data)[:80]}")
            self.scheduler.put(address, now + self.policy.error_s)
            return True
        try:
            ps = parse_clearinghouse(data, address, self.wall_ms(), coin=self.coin)
        except InfoShapeError as exc:
            self._error(f"{address}: {exc}")
            self.scheduler.put(address, now + self.policy.error_s)
            return True
        self.stats.ok += 1
        self.observed.update(address, ps, self.wall_ms())
        pos = ps[0] if ps else None
        (self._flat.add if pos is None else self._flat.discard)(address)
        self.scheduler.put(address, now + self._scaled(address, self.policy.interval(pos, self.price())))
        return True

    def _scaled(self, address: str, interval: float) -> float:
        """``interval`` stretched by how far the accounts' wanted polls exceed the budget, so an overloaded
        schedule keeps its proportions (near and big positions stay the most frequent) instead of sliding
        into a round robin of overdue accounts."""
        d = 1.0 / interval
        self._demand_sum += d - self._demand.get(address, 0.0)
        self._demand[address] = d
        b = self.budget  # polls per second at the full rate (a 429's slowdown is the budget's), with room
        capacity = 0.9 * b.per_minute * (1.0 - b.burst_share) / 60.0 / WEIGHT_CLEARINGHOUSE
        return interval * max(1.0, self._demand_sum / capacity) if capacity > 0 else interval

    async def refresh_oi(self) -> bool:
        """``metaAndAssetCtxs`` for the coin's open interest; returns whether a request was sent."""
        got = await self._request({"type": "metaAndAssetCtxs"}, WEIGHT_META)
        if got is None:
            return False
        status, data = got
        # 429: again as soon as the budget's pause is over; another failure: in a minute
        self._next_oi = self.clock() + {200: self.oi_every_s, 429: 0.0}.get(status, 60.0)
        if status == 200:
            try:
                oi = open_interest_usd(data, self.coin)
            except InfoShapeError as exc:
                self._error(str(exc))
                return True
            if oi is not None:
                self.oi_usd = oi
        elif status != 429:
            self._error(f"metaAndAssetCtxs: HTTP {status}")
        return True

    def _error(self, msg: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = msg

    # -- the loop ------------------------------------------------------------------------------------------
    async def run(self, until: float | None = None) -> None:
        """Poll until cancelled (or until ``clock()`` reaches ``until``). Without an info URL and a fetch,
        returns at once (see :attr:`notes`)."""
        if self.info_url is None and self._fetch is None:
            return
        try:
            while until is None or self.clock() < until:
                await self._turn()
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def _turn(self) -> None:
        now = self.clock()
        self._sync_book(now)
        if self.oi_every_s > 0 and now >= self._next_oi:
            if not await self.refresh_oi():
                await self.sleep(max(0.05, self.budget.wait_s(WEIGHT_META)))
            return
        address = self.scheduler.pop(now)
        if address is None:
            nxt = self.scheduler.next_due()
            await self.sleep(1.0 if nxt is None else min(1.0, max(0.05, nxt - now)))
            return
        if not await self.poll_one(address):
            self.scheduler.put(address, now)
            await self.sleep(max(0.01, self.budget.wait_s(WEIGHT_CLEARINGHOUSE)))
