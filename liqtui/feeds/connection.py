"""FeedManager: one connection manager for every venue.

Everything a venue means comes from its adapter (:mod:`liqtui.venues`); this module names no venue. For each
venue it runs the adapter's preparation (e.g. contract sizes), opens the adapter's websocket connection(s),
sends the subscriptions, keeps them alive with the venue's ping, and judges staleness two ways: a socket with
no frame at all for ``stale_s`` (a stall), and a market-data channel the adapter says must tick (mark price,
tickers...) silent past its limit while pongs and acks may still arrive; both mark the venue ``stale`` and
reconnect. It replaces a connection before its lifetime cap without a gap (the new one opens before the old one
closes; frames seen on both during the overlap are delivered once), reconnects with capped exponential backoff
and jitter, also after an established connection drops, and runs the adapter's REST polls (open interest).

Every frame is passed to ``on_raw(venue, text, recv_ms)`` (for the recorder), decoded by the venue's decoder
and each event goes to ``sink``. Connection changes are :class:`FeedStatus` events in the same sink:
connecting → live, stale, reconnecting (attempt, reason), failed (clear message, e.g. an unknown symbol).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from liqtui.core.events import FeedState, FeedStatus, MarketEvent, Venue
from liqtui.feeds.endpoints import Endpoints
from liqtui.venues import VenueAdapter, adapter
from liqtui.venues.adapter import PrepareContext, RestPoll
from liqtui.venues.base import (
    MAX_FRAME_BYTES,
    Backoff,
    BaseDecoder,
    ConnSpec,
    FeedError,
    RecentKeys,
    SymbolRefused,
    log,
)
from liqtui.venues.rest import make_client, poll

if TYPE_CHECKING:
    import httpx

__all__ = ["FeedManager", "VenueStats"]


def now_ms() -> int:
    """Local wall clock in integer milliseconds."""
    return time.time_ns() // 1_000_000


class VenueStats(msgspec.Struct):
    """Counters of one venue's feed (read by the status line and the tests)."""

    frames: int = 0
    bytes: int = 0
    events: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    stale: int = 0
    oversized: int = 0
    overlap_dropped: int = 0
    rest_polls: int = 0
    rest_errors: int = 0
    sink_errors: int = 0
    raw_errors: int = 0
    last_frame_ms: int = 0
    state: FeedState = FeedState.CONNECTING
    message: str = ""


class _Failed(FeedError):
    """A venue cannot work (symbol refused, bad URL, too many attempts): stop it with this message."""


class _Conn:
    """One open websocket of a spec, with its own timestamps."""

    __slots__ = ("closing", "first_frame", "had_events", "last_frame", "opened", "ws")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.opened = time.monotonic()
        self.last_frame = self.opened
        self.first_frame = asyncio.Event()
        self.closing = ""
        self.had_events = False  # market data arrived (not only acks/pongs): resets the backoff


class _Ticks:
    """When each must-tick channel of a connection last ticked (monotonic), from the decoder's counts."""

    __slots__ = ("counts", "seen")

    def __init__(self, channels: Sequence[str], start: float, dec: BaseDecoder) -> None:
        self.counts: dict[str, int] = {ch: dec.ticks.get(ch, 0) for ch in channels}
        self.seen: dict[str, float] = dict.fromkeys(channels, start)

    def silent(
        self, dec: BaseDecoder, limits: Sequence[tuple[str, float]], now: float
    ) -> tuple[str, float] | None:
        """The first channel silent past its limit (and for how long), else None."""
        for ch, limit in limits:
            n = dec.ticks.get(ch, 0)
            if n != self.counts[ch]:
                self.counts[ch] = n
                self.seen[ch] = now
            elif now - self.seen[ch] > limit:
                return ch, now - self.seen[ch]
        return None


class FeedManager:
    """Connects several venues for one symbol and feeds normalised events into one sink.

    Timings default to each venue's needs and can be shrunk for tests: ``ping_interval_s``, ``stale_s``,
    ``max_age_s`` and ``silence_s`` (the longest silence of every must-tick channel) override every
    connection's values when given; ``backoff_base_s``/``backoff_cap_s`` shape reconnect delays;
    ``max_attempts`` (None = forever) turns repeated failure into ``failed``.
    """

    def __init__(
        self,
        venues: Sequence[str | Venue],
        symbol: str,
        *,
        endpoints: Endpoints | None = None,
        sink: Callable[[MarketEvent], None],
        on_raw: Callable[[str, str, int], None] | None = None,
        ping_interval_s: float | None = None,
        stale_s: float | None = None,
        max_age_s: float | None = None,
        silence_s: float | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        max_attempts: int | None = None,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        oi_poll_s: float = 10.0,
        rest_timeout_s: float = 5.0,
        handover_timeout_s: float = 30.0,
        seed: int | None = None,
    ) -> None:
        if not venues:
            raise ValueError("FeedManager needs at least one venue")
        self.adapters: dict[str, VenueAdapter] = {}
        for v in venues:
            a = adapter(v)
            self.adapters.setdefault(a.name, a)
        self.venues: list[Venue] = [a.venue for a in self.adapters.values()]
        self.symbol = symbol
        self.endpoints = endpoints or Endpoints()
        self.sink = sink
        self.on_raw = on_raw
        self._timing = (ping_interval_s, stale_s, max_age_s, silence_s)
        self.backoff = Backoff(backoff_base_s, backoff_cap_s, random.Random(seed))
        self.max_attempts = max_attempts
        self.open_timeout_s = open_timeout_s
        self.close_timeout_s = close_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.oi_poll_s = oi_poll_s
        self.rest_timeout_s = rest_timeout_s
        self.handover_timeout_s = handover_timeout_s
        self.decoders: dict[str, BaseDecoder] = {n: a.decoder(symbol) for n, a in self.adapters.items()}
        self.instruments: dict[str, str] = {n: a.instrument(symbol) for n, a in self.adapters.items()}
        self.stats: dict[str, VenueStats] = {v.value: VenueStats() for v in self.venues}
        self._overlap: dict[tuple[str, str], RecentKeys] = {}  # frames seen during a handover
        self._labelled: set[tuple[str, str]] = set()  # connections named in reasons (venues with several)

    # -- public ---------------------------------------------------------------------------------------
    def specs(self, venue: Venue) -> list[ConnSpec]:
        """The connections of ``venue``, with the manager's timing overrides applied."""
        ping, stale, age, silence = self._timing
        a = self.adapters[venue.value]
        out = []
        for s in a.conn_specs(self.symbol, self.endpoints.ws_url(a.name)):
            out.append(
                msgspec.structs.replace(
                    s,
                    ping_interval_s=ping if ping is not None else s.ping_interval_s,
                    stale_s=stale if stale is not None else s.stale_s,
                    max_age_s=age if age is not None else s.max_age_s,
                    ticks=s.ticks if silence is None else tuple((ch, silence) for ch, _ in s.ticks),
                )
            )
        return out

    async def run(self) -> None:
        """Run every venue until cancelled (or until every venue has failed). A failing venue reports
        ``failed`` and stops; the others go on. Cancelling emits ``stopped`` for the venues still running."""
        try:
            async with asyncio.TaskGroup() as tg:
                for v in self.venues:
                    tg.create_task(self._run_venue(v), name=f"feed-{v.value}")
        finally:
            for v in self.venues:
                if self.stats[v.value].state is not FeedState.FAILED:
                    self._status(v, FeedState.STOPPED, reason="stopped")

    # -- per venue ------------------------------------------------------------------------------------
    async def _run_venue(self, venue: Venue) -> None:
        a = self.adapters[venue.value]
        try:
            async with make_client(self.rest_timeout_s) as client:
                rest_url = self.endpoints.rest_url(a.name)
                await self._prepare(venue, a, client, rest_url)
                specs = self.specs(venue)
                async with asyncio.TaskGroup() as tg:
                    for spec in specs:
                        tg.create_task(self._run_spec(venue, spec, labelled=len(specs) > 1))
                    for p in a.polls(self.symbol, rest_url):
                        tg.create_task(self._poll(venue, a, client, p))
        except* FeedError as eg:
            msg = str(eg.exceptions[0])
            log.error("%s: feed failed: %s", venue.value, msg)
            self._status(venue, FeedState.FAILED, reason=msg)
        except* Exception as eg:  # noqa: BLE001 - a bug must not take the other venues down
            log.exception("%s: feed crashed", venue.value, exc_info=eg.exceptions[0])
            self._status(venue, FeedState.FAILED, reason=f"internal error: {eg.exceptions[0]!r}")

    async def _prepare(self, venue: Venue, a: VenueAdapter, client: httpx.AsyncClient, rest_url: str) -> None:
        """The adapter's work before connecting (contract sizes...); its retries show as connecting."""

        def on_error(attempt: int, reason: str) -> None:
            self._status(venue, FeedState.CONNECTING, attempt=attempt, reason=reason)

        dec = self.decoders[venue.value]
        ctx = PrepareContext(client, rest_url, dec, self.backoff, self.max_attempts, on_error)
        try:
            await a.prepare(ctx)
        except SymbolRefused as exc:
            raise _Failed(f"unknown symbol {dec.symbol} on {venue.value}: {exc}") from None

    async def _poll(self, venue: Venue, a: VenueAdapter, client: httpx.AsyncClient, p: RestPoll) -> None:
        dec = self.decoders[venue.value]
        st = self.stats[venue.value]

        def on_body(body: bytes) -> None:
            st.rest_polls += 1
            self._deliver(venue, dec, body, now_ms())

        def on_error(attempt: int, reason: str) -> None:
            st.rest_errors += 1
            self._status(venue, st.state, attempt=attempt, reason=f"{p.what}: {reason}")
            if self.max_attempts is not None and attempt >= self.max_attempts:
                raise _Failed(f"{p.what} failed {attempt} times: {reason}")

        try:
            await poll(
                client,
                p.url,
                what=f"{venue.value}: {p.what}",
                refusal_codes=a.refusal_codes,
                interval_s=self.oi_poll_s if p.interval_s is None else p.interval_s,
                backoff=self.backoff,
                on_body=on_body,
                on_error=on_error,
            )
        except SymbolRefused as exc:
            raise _Failed(f"unknown symbol {dec.symbol} on {venue.value}: {exc}") from None

    # -- per connection -------------------------------------------------------------------------------
    async def _run_spec(self, venue: Venue, spec: ConnSpec, *, labelled: bool = False) -> None:
        """Keep one connection of ``venue`` up. ``labelled``: the venue has several connections, so reasons
        name this one."""
        if labelled:
            self._labelled.add((venue.value, spec.name))
        attempt = 0
        reason = ""
        while True:
            if attempt:
                self.stats[venue.value].reconnects += 1
                self._status(
                    venue, FeedState.RECONNECTING, attempt=attempt, reason=self._label(venue, spec, reason)
                )
                await asyncio.sleep(self.backoff.delay(attempt))
            else:
                self._status(venue, FeedState.CONNECTING)
            try:
                conn = await self._open(venue, spec)
                self.decoders[venue.value].reset()  # per-connection state (a ticker snapshot) starts afresh
            except (OSError, TimeoutError, WebSocketException) as exc:
                attempt = self._next_attempt(venue, attempt, f"connect failed: {_describe(exc)}")
                reason = f"connect failed: {_describe(exc)}"
                continue
            got_data, reason = await self._serve(venue, spec, conn)
            attempt = 1 if got_data else self._next_attempt(venue, attempt, reason)

    def _next_attempt(self, venue: Venue, attempt: int, reason: str) -> int:
        attempt += 1
        if self.max_attempts is not None and attempt > self.max_attempts:
            raise _Failed(f"gave up after {self.max_attempts} reconnect attempts: {reason}")
        return attempt

    async def _open(self, venue: Venue, spec: ConnSpec) -> _Conn:
        try:
            ws = await connect(
                spec.url,
                compression=None,
                max_size=self.max_frame_bytes,
                open_timeout=self.open_timeout_s,
                close_timeout=self.close_timeout_s,
                proxy=None if _is_loopback(spec.url) else True,
            )
        except InvalidURI as exc:
            raise _Failed(f"invalid {venue.value} endpoint {spec.url!r}: {exc}") from None
        except InvalidStatus as exc:
            if exc.response.status_code in (400, 404):
                body = exc.response.body or b""
                raise _Failed(
                    f"{venue.value} rejected {spec.url}: HTTP {exc.response.status_code} "
                    f"{body[:120].decode('utf-8', 'replace')}"
                ) from None
            raise
        for msg in spec.subscribe:
            await ws.send(msg)
        return _Conn(ws)

    async def _serve(self, venue: Venue, spec: ConnSpec, conn: _Conn) -> tuple[bool, str]:
        """Serve one connection (and its successors after seamless handovers) until it is lost.

        Returns (whether market data arrived, why it ended)."""
        got_data = False
        pump = asyncio.create_task(self._pump(venue, spec, conn))
        try:
            while True:
                timeout = None
                if spec.max_age_s is not None:
                    timeout = max(0.0, spec.max_age_s - (time.monotonic() - conn.opened))
                done, _ = await asyncio.wait({pump}, timeout=timeout)
                got_data = got_data or conn.had_events
                if pump in done:
                    return got_data, pump.result()
                successor = await self._handover(venue, spec, conn, pump)
                if successor is None:
                    # no successor yet but the old connection still works: try again a little later
                    assert spec.max_age_s is not None
                    if not pump.done():
                        conn.opened += min(spec.max_age_s, self.backoff.delay(1) + 1.0)
                    continue
                conn, pump = successor
        finally:
            if not pump.done():
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)

    async def _handover(
        self, venue: Venue, spec: ConnSpec, old: _Conn, old_pump: asyncio.Task[str]
    ) -> tuple[_Conn, asyncio.Task[str]] | None:
        """Open a successor before closing ``old`` (lifetime cap); frames seen on both are delivered once.

        Returns the successor and its pump, or None when it could not be brought up (``old`` is kept)."""
        key = (venue.value, spec.name)
        seen = RecentKeys(4096)
        self._overlap[key] = seen
        try:
            try:
                new = await self._open(venue, spec)
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("%s: handover connection failed: %s", venue.value, _describe(exc))
                return None
            new_pump = asyncio.create_task(self._pump(venue, spec, new))
            first = asyncio.create_task(new.first_frame.wait())
            await asyncio.wait(
                {first, new_pump}, timeout=self.handover_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            first.cancel()
            if not new.first_frame.is_set():
                log.warning("%s: handover connection sent nothing; keeping the old one", venue.value)
                new_pump.cancel()
                await asyncio.gather(new_pump, return_exceptions=True)
                return None
            old.closing = "replaced before the connection age cap"
            await _close(old)
            await asyncio.gather(old_pump, return_exceptions=True)
            return new, new_pump
        finally:
            # keep de-duplicating stragglers of the old connection a moment longer
            asyncio.get_running_loop().call_later(2.0, self._end_overlap, key, seen)

    def _end_overlap(self, key: tuple[str, str], seen: RecentKeys) -> None:
        if self._overlap.get(key) is seen:  # a later handover may have started its own window
            del self._overlap[key]

    async def _pump(self, venue: Venue, spec: ConnSpec, conn: _Conn) -> str:
        """Receive frames until the connection ends; returns the reason. Runs keepalive and stall checks."""
        helpers = [asyncio.create_task(self._watchdog(venue, spec, conn))]
        if spec.ping is not None:
            helpers.append(asyncio.create_task(self._pinger(spec, conn)))
        dec = self.decoders[venue.value]
        ws = conn.ws
        try:
            while True:
                frame = await ws.recv(decode=False)
                conn.last_frame = time.monotonic()
                # events still arriving while a stale connection closes must not reset the backoff
                if self._deliver(venue, dec, frame, now_ms(), spec.name) and not conn.closing:
                    conn.had_events = True
                if dec.refusal:
                    raise _Failed(dec.refusal)
                if not conn.first_frame.is_set():
                    conn.first_frame.set()
                    if not conn.closing:
                        self._status(venue, FeedState.LIVE)
        except ConnectionClosed as exc:
            if conn.closing:
                return conn.closing
            return self._closed_reason(venue, exc)
        finally:
            for h in helpers:
                h.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await _close(conn)

    def _closed_reason(self, venue: Venue, exc: ConnectionClosed) -> str:
        code = exc.rcvd.code if exc.rcvd is not None else exc.sent.code if exc.sent is not None else None
        if code == 1009:
            self.stats[venue.value].oversized += 1
            self.decoders[venue.value].bad("oversized", b"", f"frame above {self.max_frame_bytes} bytes")
            return f"frame larger than {self.max_frame_bytes} bytes"
        if exc.rcvd is None and exc.sent is None:
            return "connection lost"
        if exc.rcvd is not None:
            return f"server closed the connection ({exc.rcvd.code} {exc.rcvd.reason})".replace(" )", ")")
        return f"connection closed ({code})"

    async def _watchdog(self, venue: Venue, spec: ConnSpec, conn: _Conn) -> None:
        """Stale when the socket is silent for ``stale_s`` (a stall), or when a must-tick market-data channel
        is silent past its limit (pongs and acks do not count): mark the venue stale and close, so that the
        connection is made again with backoff."""
        limits = [spec.stale_s, *(lim for _, lim in spec.ticks)]
        step = max(0.01, min(1.0, min(limits) / 4))
        dec = self.decoders[venue.value]
        ticks = _Ticks([ch for ch, _ in spec.ticks], conn.opened, dec)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            idle = now - conn.last_frame
            if idle > spec.stale_s:
                why = f"stale: no data for {idle:.1f} s"
            else:
                silent = ticks.silent(dec, spec.ticks, now)
                if silent is None:
                    continue
                why = f"stale: no {silent[0]} for {silent[1]:.1f} s (only keepalive or other frames)"
                conn.had_events = False  # a connection without its must-tick data does not reset the backoff
            self.stats[venue.value].stale += 1
            conn.closing = why
            self._status(venue, FeedState.STALE, reason=self._label(venue, spec, why))
            await _close(conn)
            return

    async def _pinger(self, spec: ConnSpec, conn: _Conn) -> None:
        assert spec.ping is not None
        while True:
            await asyncio.sleep(spec.ping_interval_s)
            try:
                await conn.ws.send(spec.ping)
            except ConnectionClosed:
                return

    # -- delivery -------------------------------------------------------------------------------------
    def _deliver(
        self, venue: Venue, dec: BaseDecoder, frame: bytes | str, recv_ms: int, conn: str = ""
    ) -> int:
        """Count, record, decode and sink one frame; returns the number of events it produced."""
        st = self.stats[venue.value]
        overlap = self._overlap.get((venue.value, conn)) if self._overlap else None
        if overlap is not None and overlap.seen(hash(frame)):
            st.overlap_dropped += 1
            return 0
        st.frames += 1
        st.bytes += len(frame)
        st.last_frame_ms = recv_ms
        if self.on_raw is not None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            try:
                self.on_raw(venue.value, text, recv_ms)
            except Exception:  # noqa: BLE001 - a failing recorder must not stop the feed
                st.raw_errors += 1
                if _worth_logging(st.raw_errors):
                    log.exception("%s: on_raw hook raised (%d times)", venue.value, st.raw_errors)
        events = dec.decode(frame, recv_ms)
        st.decode_errors = dec.errors
        if events:
            st.events += len(events)
            sink = self.sink
            for ev in events:
                try:
                    sink(ev)
                except Exception:  # noqa: BLE001 - a bug downstream must not stop the feed
                    st.sink_errors += 1
                    if _worth_logging(st.sink_errors):
                        log.exception(
                            "%s: sink raised on %s (%d times)", venue.value, type(ev).__name__, st.sink_errors
                        )
        return len(events)

    def _status(self, venue: Venue, state: FeedState, *, attempt: int = 0, reason: str = "") -> None:
        st = self.stats[venue.value]
        st.state = state
        st.message = reason
        t = now_ms()
        ev = FeedStatus(
            venue=venue,
            symbol=self.instruments[venue.value],
            ts=t,
            recv_ts=t,
            state=state,
            attempt=attempt,
            reason=reason,
        )
        try:
            self.sink(ev)
        except Exception:  # noqa: BLE001 - isolate one failure from the rest
            st.sink_errors += 1
            log.exception("%s: sink raised on FeedStatus", venue.value)

    def _label(self, venue: Venue, spec: ConnSpec, reason: str) -> str:
        return f"{spec.name}: {reason}" if (venue.value, spec.name) in self._labelled else reason


def _worth_logging(n: int) -> bool:
    """Log the first few occurrences of a repeated failure, then one in a thousand."""
    return n <= 5 or n % 1000 == 0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_loopback(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


async def _close(conn: _Conn) -> None:
    """Close politely (bounded by close_timeout); abort the transport if that fails or is cancelled."""
    try:
        await conn.ws.close()
    except BaseException:  # closing a broken socket must not raise into the manager
        conn.ws.transport.abort()
        raise_if_cancelled = asyncio.current_task()
        if raise_if_cancelled is not None and raise_if_cancelled.cancelling():
            raise
