"""The collector's side of the bus: events in, batches out, nothing lost that JetStream acknowledged.

:class:`Publisher` is a cheap synchronous sink (``publisher(ev)`` appends to the batch of the event's subject);
:meth:`Publisher.run` moves the batches every ``flush_s`` into one first-in-first-out outbox and publishes its
head until JetStream acknowledges it, in order. A batch that is not acknowledged (the server restarted, the
network went away) stays at the head and is sent again with the same ``Nats-Msg-Id``, so the stream's
duplicate window keeps it once even when the first attempt had been stored. The outbox is bounded
(``max_pending_bytes``): past it the oldest batches are dropped and counted, never the newest.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqtui.bus import BusOptions, event_kind, subject
from liqtui.bus.client import BusLink, ensure_stream, stop_if_cancelled
from liqtui.bus.codec import encode_batch, encode_history
from liqtui.core.events import MarketEvent
from liqtui.feeds.symbols import base_of

__all__ = ["Publisher", "PublisherStats"]

log = logging.getLogger("liqtui.bus")

#: Bars per history message (model bars are ~100 bytes: well under NATS's default 1 MB max payload).
HISTORY_CHUNK = 6000
#: Events per batch message at most (a batch is also cut every flush).
MAX_BATCH = 2000


@dataclass
class PublisherStats:
    events: int = 0
    batches: int = 0
    history_bars: int = 0
    history_acked: int = 0  # history messages acknowledged
    bytes: int = 0
    acked: int = 0
    retries: int = 0
    dropped: int = 0
    last_seq: int = 0
    pending: int = 0


class Publisher:
    """Publishes events and history to the stream of ``opts`` (see module doc)."""

    def __init__(
        self,
        link: BusLink,
        opts: BusOptions,
        *,
        flush_s: float = 0.05,
        max_pending_bytes: int = 256 * 1024**2,
        ack_timeout_s: float = 2.0,
    ) -> None:
        self.link = link
        self.opts = opts
        self.flush_s = flush_s
        self.max_pending_bytes = max_pending_bytes
        self.ack_timeout_s = ack_timeout_s
        self.stats = PublisherStats()
        self._run_id = f"{os.getpid():x}{time.time_ns():x}"
        self._seq = 0
        self._batches: dict[str, list[MarketEvent]] = {}
        self._outbox: collections.deque[tuple[str, bytes, str, int]] = collections.deque()
        self._outbox_bytes = 0
        self._wake = asyncio.Event()
        self._tickers: dict[str, str] = {}
        # one drain at a time (the run loop and flush() both drain); the batch being published is never
        # dropped by a full outbox, so the acknowledged one is the one taken off
        self._draining = asyncio.Lock()
        self._inflight: tuple[str, bytes, str, int] | None = None

    # ------------------------------------------------------------------------------------------- in
    def __call__(self, ev: MarketEvent) -> None:
        """Account one event (O(1)): it goes out with its subject's next batch."""
        subj = self._subject(ev)
        batch = self._batches.get(subj)
        if batch is None:
            batch = self._batches[subj] = []
        batch.append(ev)
        self.stats.events += 1
        if len(batch) >= MAX_BATCH:
            self._cut()

    def _subject(self, ev: MarketEvent) -> str:
        ticker = self._tickers.get(ev.symbol)
        if ticker is None:
            try:
                ticker = base_of(ev.symbol)
            except ValueError:
                ticker = ev.symbol
            ticker = self._tickers[ev.symbol] = ticker.upper().replace(".", "_")
        return subject(ev.venue.value, ticker, event_kind(ev))

    def publish_history(self, bars: np.ndarray, *, venue: str, ticker: str, venues: list[str]) -> int:
        """Queue model bars (:data:`liqtui.core.model.BAR_DTYPE`, oldest first) as one history snapshot, after
        every event heard so far. Returns the number of chunks."""
        self._cut()
        snap = f"{self._run_id}-{self._seq}"
        parts = max(1, -(-len(bars) // HISTORY_CHUNK))
        until = int(bars["ts"][-1]) if len(bars) else 0
        for i in range(parts):
            chunk = bars[i * HISTORY_CHUNK : (i + 1) * HISTORY_CHUNK]
            data = encode_history(
                chunk,
                venue=venue,
                symbol=ticker,
                venues=venues,
                snapshot=snap,
                part=i,
                parts=parts,
                until_ts=until,
            )
            self._queue(subject(venue, ticker, "history"), data, 0)
        self.stats.history_bars += len(bars)
        return parts

    def _cut(self) -> None:
        """Move every open batch to the outbox."""
        if not self._batches:
            return
        batches, self._batches = self._batches, {}
        for subj, evs in batches.items():
            self._queue(subj, encode_batch(evs), len(evs))

    def _queue(self, subj: str, data: bytes, n: int) -> None:
        self._seq += 1
        self._outbox.append((subj, data, f"{self._run_id}-{self._seq}", n))
        self._outbox_bytes += len(data)
        while self._outbox_bytes > self.max_pending_bytes:
            first = 1 if self._outbox[0] is self._inflight else 0
            if len(self._outbox) <= first + 1:
                break  # the newest stays
            _s, old, _i, k = self._outbox[first]
            del self._outbox[first]
            self._outbox_bytes -= len(old)
            self.stats.dropped += k
            if self.stats.dropped == k or self.stats.dropped % 100_000 < k:
                log.warning("bus unreachable: dropped %d events so far (outbox full)", self.stats.dropped)
        self.stats.pending = len(self._outbox)
        self._wake.set()

    # ------------------------------------------------------------------------------------------- out
    async def run(self) -> None:
        """Publish until cancelled (then one last attempt to empty the outbox, bounded in time)."""
        await self.link.connected.wait()
        await ensure_stream(self.link.js, self.opts)
        try:
            while True:
                await self._drain()
                stop_if_cancelled()
                self._wake.clear()
                # asyncio.wait on a task, not wait_for: a cancellation racing the wake-up is never lost
                wake = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({wake}, timeout=self.flush_s)
                finally:
                    wake.cancel()
                self._cut()
        finally:
            self._cut()
            if self.link.state == "live":
                # a task of its own (this one is being cancelled), given 2 s, then stopped
                last = asyncio.ensure_future(self._drain())
                await asyncio.wait({last}, timeout=2.0)
                last.cancel()
                if self._outbox:
                    log.warning("bus: %d batches not published at exit", len(self._outbox))

    async def flush(self) -> None:
        """Cut the open batches and wait until the outbox is empty (acknowledged)."""
        self._cut()
        while self._outbox:
            await self._drain()

    async def _drain(self) -> None:
        async with self._draining:
            try:
                await self._drain_locked()
            finally:
                self._inflight = None

    async def _drain_locked(self) -> None:
        from nats.errors import Error as NatsError

        while self._outbox:
            stop_if_cancelled()
            item = self._inflight = self._outbox[0]
            subj, data, msg_id, n = item
            try:
                ack = await self.link.js.publish(
                    subj, data, timeout=self.ack_timeout_s, headers={"Nats-Msg-Id": msg_id}
                )
            except (TimeoutError, NatsError, OSError) as exc:
                self.stats.retries += 1
                if self.stats.retries <= 3 or self.stats.retries % 100 == 0:
                    log.warning("bus publish not acknowledged (%s); retrying", type(exc).__name__)
                if self.link.state != "live":
                    await self.link.connected.wait()
                else:
                    await asyncio.sleep(0.2)
                continue
            self._outbox.popleft()  # still `item`: only a drain takes off the head, one drain at a time
            self._outbox_bytes -= len(data)
            self.stats.pending = len(self._outbox)
            self.stats.acked += n
            if n == 0:
                self.stats.history_acked += 1
            self.stats.batches += 1
            self.stats.bytes += len(data)
            self.stats.last_seq = int(getattr(ack, "seq", 0) or 0)

    def counters(self) -> dict[str, Any]:
        s = self.stats
        return {
            "events": s.events,
            "acked": s.acked,
            "batches": s.batches,
            "bytes": s.bytes,
            "retries": s.retries,
            "dropped": s.dropped,
            "pending": s.pending,
            "history_bars": s.history_bars,
            "history_acked": s.history_acked,
        }
