"""Order books kept right, per venue: the pure book, the keeper interface, and the runner that repairs them.

* :class:`Book` — one instrument's price levels (price → size); pure, no socket.
* :class:`BookKeeper` — one venue's rules on top of a :class:`Book` (Binance snapshot + ``pu`` continuity,
  Bybit snapshot/delta with ``u``, OKX CRC32 checksum and ``seqId``, Hyperliquid whole-book snapshots). It
  turns raw frames into :class:`~liqtui.core.book_events.BookUpdate` events (sizes in base units) and says,
  through :attr:`BookKeeper.need`, what repair it wants: a REST snapshot or a resubscription. A gap, a checksum
  failure or a stale book clears the book, is counted, and shows as a :class:`~liqtui.core.book_events.BookStatus`
  that is not ``live`` until the repair has produced a book that is right again. Each venue's keeper lives in
  ``liqtui/venues/<venue>/book.py``.
* :class:`BookChannel` — what a venue's adapter says about its book: where to connect, what to (un)subscribe,
  the REST snapshot URL (Binance) and the keeper. ``Adapter.book(...)`` returns it (None: no book).
* :class:`BookFeed` — one dedicated websocket per venue for the book channel (so book traffic never delays the
  trade feed), with the repairs: fetch the REST snapshot, resubscribe, reconnect when stale.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import heapq
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from liqtui.core.book_events import BookEvent, BookState, BookStatus, BookUpdate, Level
from liqtui.core.events import Venue
from liqtui.venues.base import BAD_INPUT, INF, MAX_FRAME_BYTES, Backoff, FeedError, excerpt, log

if TYPE_CHECKING:
    import httpx

    from liqtui.feeds.endpoints import Endpoints

__all__ = [
    "Book",
    "BookChannel",
    "BookFeed",
    "BookFeedStats",
    "BookKeeper",
    "BookReplay",
    "Need",
    "book_channel",
]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Book:
    """Price levels of one instrument: ``bids``/``asks`` map price → size (the venue's units). Pure."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    @staticmethod
    def apply(side: dict[float, float], rows: Iterable[Level]) -> None:
        """Set each (price, size) of ``rows`` on ``side``; a size of 0 removes the level (removing a level that
        is not there is normal)."""
        for p, q in rows:
            if q == 0.0:
                side.pop(p, None)
            else:
                side[p] = q

    def best_bid(self) -> float | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> float | None:
        return min(self.asks) if self.asks else None

    def top(self, n: int = 1) -> tuple[list[Level], list[Level]]:
        """The best ``n`` bids (highest first) and asks (lowest first) as (price, size)."""
        bids = heapq.nlargest(n, self.bids.items())
        asks = heapq.nsmallest(n, self.asks.items())
        return bids, asks

    def usd_by_bucket(
        self, edges: np.ndarray, to_base: Callable[[float, float], float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Resting USD (price × size) per bucket of ascending ``edges``: (bid_usd, ask_usd), each ``len(edges)-1``;
        levels outside the edges are left out. ``to_base(size, price)`` converts sizes first."""
        return levels_usd_by_bucket(self.bids, edges, to_base), levels_usd_by_bucket(
            self.asks, edges, to_base
        )


def levels_usd_by_bucket(
    side: dict[float, float], edges: np.ndarray, to_base: Callable[[float, float], float] | None = None
) -> np.ndarray:
    """USD of the levels of ``side`` summed per bucket of ascending ``edges`` (outside levels left out)."""
    n = len(edges) - 1
    if not side or n <= 0:
        return np.zeros(max(n, 0))
    px = np.fromiter(side.keys(), np.float64, len(side))
    sz = np.fromiter(side.values(), np.float64, len(side))
    if to_base is not None:
        sz = np.array([to_base(q, p) for p, q in zip(px.tolist(), sz.tolist())])
    i = np.searchsorted(edges, px, side="right") - 1
    ok = (i >= 0) & (i < n)
    return np.bincount(i[ok], weights=(px * sz)[ok], minlength=n)[:n]


class Need(enum.Enum):
    """The repair a keeper wants from its runner."""

    NONE = "none"
    SNAPSHOT = "snapshot"  # fetch the REST snapshot (Binance)
    RESUBSCRIBE = "resubscribe"  # unsubscribe and subscribe again: a new snapshot comes (OKX, Bybit)


class BookKeeper:
    """One venue's book of one instrument, kept by the venue's rules. Subclasses implement :meth:`_frame`.

    ``on_frame`` never raises: bad input is counted in ``errors`` (and logged, rate-limited). Counters:
    ``updates`` (book events applied), ``resyncs`` (repairs started), ``checksum_errors``, ``gaps``, ``stale``,
    ``ignored`` (other instruments/channels), ``control`` (acks, pongs)."""

    venue: Venue
    #: True for venues whose snapshot comes from REST (the runner fetches it when :attr:`need` says so).
    rest_snapshot = False

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book = Book()
        self.state = BookState.SYNCING
        self.reason = ""
        self.need = Need.NONE
        self.updates = 0
        self.resyncs = 0
        self.checksum_errors = 0
        self.gaps = 0
        self.stale = 0
        self.errors = 0
        self.ignored = 0
        self.control = 0
        self.book_frames = 0  # book frames of our instrument received (the runner's staleness clock)
        self.last_ts = 0

    # -- the interface the runner and the tests use ---------------------------------------------------
    def on_frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        """Events of one raw frame of the book connection; never raises."""
        if len(frame) > MAX_FRAME_BYTES:
            self._bad(frame, f"{len(frame)} bytes > {MAX_FRAME_BYTES}")
            return []
        try:
            return self._frame(frame, recv_ts)
        except BAD_INPUT as exc:
            self._bad(frame, f"{type(exc).__name__}: {exc}")
            return []

    def on_snapshot(self, body: bytes, recv_ts: int) -> list[BookEvent]:
        """A REST snapshot body (venues with :attr:`rest_snapshot`); never raises."""
        try:
            return self._snapshot(body, recv_ts)
        except BAD_INPUT as exc:
            self._bad(body, f"snapshot: {type(exc).__name__}: {exc}")
            return []

    def reset(self, now: int, reason: str = "connecting") -> list[BookEvent]:
        """A new connection: the book starts afresh and waits for its snapshot."""
        self.book.clear()
        self._reset_sequence()
        self.need = Need.SNAPSHOT if self.rest_snapshot else Need.NONE
        return [self.set_state(BookState.SYNCING, reason, now)]

    def mark_stale(self, now: int, reason: str) -> list[BookEvent]:
        """No book frame for too long: counted, the book is dropped until a new connection resyncs it."""
        self.stale += 1
        self.book.clear()
        return [self.set_state(BookState.STALE, reason, now)]

    def unsynced(self, now: int) -> list[BookEvent]:
        """Diffs with no snapshot to start from (a recording of a REST-snapshot venue): said, never guessed."""
        self.book.clear()
        return [self.set_state(BookState.UNSYNCED, "depth diffs without their REST snapshot", now)]

    def stop(self, now: int, reason: str = "stopped") -> list[BookEvent]:
        self.book.clear()
        return [self.set_state(BookState.STOPPED, reason, now)]

    def status(self, now: int) -> BookStatus:
        return BookStatus(
            venue=self.venue,
            symbol=self.symbol,
            ts=now,
            recv_ts=now,
            state=self.state,
            reason=self.reason,
            updates=self.updates,
            resyncs=self.resyncs,
            checksum_errors=self.checksum_errors,
            gaps=self.gaps,
            stale=self.stale,
        )

    def set_state(self, state: BookState, reason: str, now: int) -> BookStatus:
        self.state = state
        self.reason = reason
        return self.status(now)

    def top(self) -> tuple[float | None, float | None]:
        """(best bid, best ask) of the book."""
        return self.book.best_bid(), self.book.best_ask()

    def stats(self) -> dict[str, int]:
        return {
            "book_updates": self.updates,
            "book_resyncs": self.resyncs,
            "book_checksum_errors": self.checksum_errors,
            "book_gaps": self.gaps,
            "book_stale": self.stale,
            "book_errors": self.errors,
        }

    # -- for subclasses -----------------------------------------------------------------------------------
    def _frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        raise NotImplementedError

    def _snapshot(self, body: bytes, recv_ts: int) -> list[BookEvent]:
        raise NotImplementedError(f"{self.venue.value} books have no REST snapshot")

    def _reset_sequence(self) -> None:
        """Forget the sequence state (a new connection)."""

    def to_base(self, size: float, price: float) -> float:
        """The venue's size unit → base units (contracts on OKX)."""
        return size

    def _levels(self, rows: Iterable[tuple[float, float]]) -> tuple[Level, ...]:
        to_base = self.to_base
        out = []
        for p, q in rows:
            if not (0.0 < p < INF and 0.0 <= q < INF):
                raise ValueError(f"bad book level price/size {p}/{q}")
            out.append((p, to_base(q, p)))
        return tuple(out)

    def _emit(
        self, bids: tuple[Level, ...], asks: tuple[Level, ...], ts: int, recv_ts: int, snap: bool
    ) -> list[BookEvent]:
        """A checked change of the book: counted, and LIVE again if it was repairing."""
        self.updates += 1
        self.last_ts = ts
        out: list[BookEvent] = []
        if self.state is not BookState.LIVE:
            snap = True  # the first event after a (re)sync carries the whole book
            bids, asks = self._levels(self.book.bids.items()), self._levels(self.book.asks.items())
            out.append(self.set_state(BookState.LIVE, "in sync", recv_ts))
        out.insert(
            0,
            BookUpdate(
                venue=self.venue,
                symbol=self.symbol,
                ts=ts,
                recv_ts=recv_ts,
                bids=bids,
                asks=asks,
                is_snapshot=snap,
            ),
        )
        return out

    def _fail(self, kind: str, reason: str, now: int, need: Need) -> list[BookEvent]:
        """A gap or a checksum failure: the book is dropped, the repair ``need`` requested, and it is said."""
        if kind == "gap":
            self.gaps += 1
        elif kind == "checksum":
            self.checksum_errors += 1
        self.resyncs += 1
        self.book.clear()
        self._reset_sequence()
        self.need = need
        log.warning("%s book %s: %s; %s", self.venue.value, self.symbol, reason, need.value)
        return [self.set_state(BookState.RESYNCING, reason, now)]

    def _bad(self, frame: str | bytes, detail: str) -> None:
        self.errors += 1
        if self.errors <= 20 or self.errors % 1000 == 0:
            log.warning(
                "%s book: bad frame #%d (%s): %s", self.venue.value, self.errors, detail[:200], excerpt(frame)
            )


@dataclasses.dataclass
class BookChannel:
    """A venue's book subscription: the connection, the (un)subscribe messages, the keepalive, the REST snapshot
    URL (venues that need one) and the keeper of the book."""

    url: str
    keeper: BookKeeper
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    snapshot_url: str | None = None
    ping: str | None = None
    ping_interval_s: float = 20.0
    stale_s: float = 10.0


def book_channel(a: Any, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel | None:
    """The book channel of adapter ``a`` for ``symbol`` (None when the venue gives none). ``contract``: what the
    adapter's :meth:`prepare` learned (OKX contract size), passed to the keeper."""
    hook = getattr(a, "book", None)
    if hook is None:
        return None
    ch: BookChannel | None = hook(symbol, ws_url, rest_url, contract)
    return ch


@dataclasses.dataclass
class BookFeedStats:
    frames: int = 0
    reconnects: int = 0
    snapshots: int = 0
    snapshot_errors: int = 0
    resubscribes: int = 0
    stale: int = 0


class BookFeed:
    """The book channels of several venues for one symbol, each on its own websocket, repaired as needed.

    Every :class:`BookUpdate` and :class:`BookStatus` goes to ``sink`` (the same sink as the market events).
    ``stale_s`` overrides every channel's staleness limit (tests shrink it); REST snapshots are fetched at most
    once per ``min_snapshot_interval_s`` per venue."""

    def __init__(
        self,
        venues: Sequence[str | Venue],
        symbol: str,
        *,
        sink: Callable[[BookEvent], None],
        endpoints: Endpoints | None = None,
        stale_s: float | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        max_attempts: int | None = None,
        open_timeout_s: float = 10.0,
        rest_timeout_s: float = 5.0,
        min_snapshot_interval_s: float = 1.0,
        seed: int | None = None,
    ) -> None:
        from liqtui.feeds.endpoints import Endpoints
        from liqtui.venues import adapter

        self.adapters = {}
        for v in venues:
            a = adapter(v)
            if getattr(a, "book", None) is not None:
                self.adapters[a.name] = a
        self.symbol = symbol
        self.sink = sink
        self.endpoints = endpoints or Endpoints()
        self.stale_s = stale_s
        self.backoff = Backoff(backoff_base_s, backoff_cap_s, random.Random(seed))
        self.max_attempts = max_attempts
        self.open_timeout_s = open_timeout_s
        self.rest_timeout_s = rest_timeout_s
        self.min_snapshot_interval_s = min_snapshot_interval_s
        self._last_snapshot: dict[str, float] = {}
        self.keepers: dict[str, BookKeeper] = {}
        self.stats: dict[str, BookFeedStats] = {n: BookFeedStats() for n in self.adapters}

    async def run(self) -> None:
        """Run every venue's book until cancelled; a venue that cannot be served reports ``stopped``."""
        try:
            async with asyncio.TaskGroup() as tg:
                for name in self.adapters:
                    tg.create_task(self._run_venue(name), name=f"book-{name}")
        finally:
            for k in self.keepers.values():
                if k.state is not BookState.STOPPED:
                    self._emit(k.stop(now_ms()))

    def _emit(self, events: list[BookEvent]) -> None:
        for ev in events:
            try:
                self.sink(ev)
            except Exception:  # noqa: BLE001 - a bug downstream must not stop the book
                log.exception("book sink raised on %s", type(ev).__name__)

    async def _run_venue(self, name: str) -> None:
        from liqtui.venues.adapter import PrepareContext
        from liqtui.venues.rest import make_client

        a = self.adapters[name]
        try:
            async with make_client(self.rest_timeout_s) as client:
                rest_url = self.endpoints.rest_url(name)
                if book_channel(a, self.symbol, self.endpoints.ws_url(name), rest_url) is None:
                    return  # the venue gives no book: nothing to prepare
                dec = a.decoder(self.symbol)
                ctx = PrepareContext(
                    client, rest_url, dec, self.backoff, self.max_attempts, lambda n, r: None
                )
                await a.prepare(ctx)
                ch = book_channel(a, self.symbol, self.endpoints.ws_url(name), rest_url, dec)
                if ch is None:
                    return
                self.keepers[name] = ch.keeper
                await self._keep(name, ch, client)
        except FeedError as exc:
            log.error("%s: book feed failed: %s", name, exc)
            k = self.keepers.get(name)
            if k is not None:
                self._emit(k.stop(now_ms(), f"failed: {exc}"))

    async def _keep(self, name: str, ch: BookChannel, client: httpx.AsyncClient) -> None:
        keeper = ch.keeper
        st = self.stats[name]
        attempt = 0
        while True:
            if attempt:
                st.reconnects += 1
                await asyncio.sleep(self.backoff.delay(attempt))
            self._emit(
                keeper.reset(now_ms(), "connecting" if not attempt else f"reconnecting (attempt {attempt})")
            )
            try:
                ws = await connect(
                    ch.url,
                    compression=None,
                    max_size=MAX_FRAME_BYTES,
                    open_timeout=self.open_timeout_s,
                    proxy=None,
                )
            except (OSError, TimeoutError, WebSocketException) as exc:
                attempt += 1
                if self.max_attempts is not None and attempt > self.max_attempts:
                    raise FeedError(f"book connection failed {attempt - 1} times: {exc}") from None
                continue
            got = await self._serve(name, ch, ws, client)
            attempt = 1 if got else attempt + 1

    async def _serve(
        self, name: str, ch: BookChannel, ws: ClientConnection, client: httpx.AsyncClient
    ) -> bool:
        """Serve one connection until it ends (closed, or stale); returns whether the book went live."""
        keeper = ch.keeper
        st = self.stats[name]
        stale_s = self.stale_s if self.stale_s is not None else ch.stale_s
        helpers: list[asyncio.Task[None]] = []
        went_live = False
        try:
            for msg in ch.subscribe:
                await ws.send(msg)
            if ch.ping is not None:
                helpers.append(asyncio.create_task(_pinger(ws, ch.ping, ch.ping_interval_s)))
            seen = keeper.book_frames
            last_book = time.monotonic()
            while True:
                timeout = max(0.0, stale_s - (time.monotonic() - last_book))
                try:
                    async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancel on 3.11
                        frame = await ws.recv(decode=False)
                except TimeoutError:
                    frame = None
                now = time.monotonic()
                if frame is not None:
                    st.frames += 1
                    self._emit(keeper.on_frame(frame, now_ms()))
                    went_live = went_live or keeper.state is BookState.LIVE
                if keeper.book_frames != seen:
                    seen = keeper.book_frames
                    last_book = now
                elif now - last_book >= stale_s:
                    st.stale += 1
                    self._emit(
                        keeper.mark_stale(now_ms(), f"stale: no book update for {now - last_book:.1f} s")
                    )
                    return went_live
                await self._repair(name, ch, ws, client, helpers)
        except ConnectionClosed:
            return went_live
        finally:
            for h in helpers:
                h.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            try:
                await ws.close()
            except BaseException:  # noqa: BLE001 - closing a broken socket must not raise into the loop
                ws.transport.abort()

    async def _repair(
        self, name: str, ch: BookChannel, ws: ClientConnection, client: httpx.AsyncClient, helpers: list[Any]
    ) -> None:
        keeper = ch.keeper
        st = self.stats[name]
        if keeper.need is Need.RESUBSCRIBE:
            keeper.need = Need.NONE
            st.resubscribes += 1
            for msg in (*ch.unsubscribe, *ch.subscribe):
                await ws.send(msg)
        elif keeper.need is Need.SNAPSHOT and ch.snapshot_url is not None and keeper.book_frames:
            keeper.need = Need.NONE  # one fetch at a time; the keeper asks again if the snapshot is too old
            helpers.append(asyncio.create_task(self._snapshot(name, ch, client)))

    async def _snapshot(self, name: str, ch: BookChannel, client: httpx.AsyncClient) -> None:
        """Fetch the REST snapshot (with backoff on failure) and hand it to the keeper."""
        from liqtui.venues.rest import http_error

        assert ch.snapshot_url is not None
        st = self.stats[name]
        # Binance weighs a 1000-level snapshot at 20: a run of gaps must not turn into a burst of them
        wait = self._last_snapshot.get(name, -INF) + self.min_snapshot_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_snapshot[name] = time.monotonic()
        attempt = 0
        while True:
            try:
                resp = await client.get(ch.snapshot_url)
                if resp.status_code == 200:
                    st.snapshots += 1
                    self._emit(ch.keeper.on_snapshot(resp.content, now_ms()))
                    return
                why = f"HTTP {resp.status_code}"
            except (http_error(), OSError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            st.snapshot_errors += 1
            attempt += 1
            log.warning("%s: book snapshot failed (%s), attempt %d", name, why, attempt)
            await asyncio.sleep(self.backoff.delay(attempt))


class BookReplay:
    """Book keepers for a replay: each recorded frame of a venue goes to that venue's keeper too, and what they
    produce to ``sink``. A venue whose book needs a REST snapshot (Binance) cannot be rebuilt from its diffs
    alone: it is said ``unsynced`` at its first depth frame and never guessed."""

    def __init__(self, symbol: str, sink: Callable[[BookEvent], None]) -> None:
        self.symbol = symbol
        self.sink = sink
        self.keepers: dict[str, BookKeeper | None] = {}

    def keeper(self, venue: str, contract: Any = None) -> BookKeeper | None:
        """The keeper of ``venue`` (made on first use; None when the venue has no book)."""
        if venue not in self.keepers:
            from liqtui.venues import adapter

            ch = book_channel(adapter(venue), self.symbol, "", "", contract)
            self.keepers[venue] = k = ch.keeper if ch is not None else None
            if k is not None:
                self._emit(k.reset(0, "replay"))
        return self.keepers[venue]

    def feed(self, venue: str, frame: str | bytes, recv_ts: int, contract: Any = None) -> None:
        k = self.keeper(venue, contract)
        if k is None:
            return
        before = k.book_frames
        self._emit(k.on_frame(frame, recv_ts))
        if k.rest_snapshot and k.state is BookState.SYNCING and k.book_frames > before:
            self._emit(k.unsynced(recv_ts))

    def _emit(self, events: list[BookEvent]) -> None:
        for ev in events:
            self.sink(ev)

    def stats(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for k in self.keepers.values():
            if k is not None:
                for name, v in k.stats().items():
                    out[name] = out.get(name, 0) + v
        return out


async def _pinger(ws: ClientConnection, text: str, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await ws.send(text)
        except ConnectionClosed:
            return
