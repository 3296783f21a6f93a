"""A screen's side of the bus: replay one ticker's subjects from the lookback's start, then follow live.

:class:`BusFeed` makes an ordered push consumer (``DeliverPolicy.BY_START_TIME``) on ``liqtui.v1.*.<TICKER>.>``:
the server delivers every stored message from that time on, in stream order, then the new ones as they come; the
client re-creates the consumer from the last sequence it saw when the connection drops or a message is missed,
so a reader that survives a server restart sees each message once and in order. History chunks step the
engine's model (bars after its last one only, so snapshots of a restarted collector overlap harmlessly); event
batches go to the sink like a feed's events. ``loaded`` is set once the replay has caught up with the stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from liqtui.bus import BusOptions, symbol_filter
from liqtui.bus.client import BusLink, stop_if_cancelled
from liqtui.bus.codec import Batch, History, decode, history_bars
from liqtui.core.engine import Engine
from liqtui.core.events import FeedState, FeedStatus, MarketEvent, Venue
from liqtui.feeds.symbols import instrument

__all__ = ["BusFeed"]

log = logging.getLogger("liqtui.bus")

Sink = Callable[[MarketEvent], None]


class BusFeed:
    """Reads the bus into ``engine`` (history) and ``sink`` (events) for one ticker (see module doc).

    Only events of ``venues`` are passed on; the first venue's history steps the model. The bus connection's
    state is shown as the venues' feed state (``reconnecting`` with the reason "bus ..." while it is away)."""

    def __init__(
        self,
        opts: BusOptions,
        *,
        ticker: str,
        venues: Sequence[str],
        engine: Engine,
        sink: Sink,
        start_ms: int,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> None:
        self.opts = opts
        self.ticker = ticker.upper()
        self.venues = [Venue(v) for v in venues]
        self._wanted = frozenset(self.venues)
        self.engine = engine
        self.sink = sink
        self.start_ms = int(start_ms)
        self.progress = progress
        self.link = BusLink(opts, name=f"liqtui {self.ticker}", on_state=self._on_state)
        self.loaded = asyncio.Event()
        self.messages = 0
        self.events = 0
        self.history_bars = 0
        self.decode_errors = 0
        self.newer_versions = 0
        self.last_seq = 0

    # ----------------------------------------------------------------------------------- status
    def _on_state(self, state: str, attempt: int, reason: str) -> None:
        fs = {
            "connecting": FeedState.CONNECTING,
            "live": FeedState.LIVE,
            "reconnecting": FeedState.RECONNECTING,
            "stopped": FeedState.STOPPED,
        }[state]
        now = _now_ms()
        why = f"bus: {reason}" if reason else "bus"
        for v in self.venues:
            self.sink(
                FeedStatus(
                    venue=v,
                    symbol=instrument(v, self.ticker),
                    ts=now,
                    recv_ts=now,
                    state=fs,
                    attempt=attempt,
                    reason=why,
                )
            )

    def stats(self) -> dict[str, Any]:
        return {
            "bus": {
                **self.link.stats(),
                "frames": self.messages,
                "events": self.events,
                "history_bars": self.history_bars,
                "decode_errors": self.decode_errors,
                "reconnects": self.link.reconnects,
                "last_seq": self.last_seq,
            }
        }

    # ----------------------------------------------------------------------------------- run
    async def run(self) -> None:
        """Until cancelled."""
        from nats.js.api import ConsumerConfig, DeliverPolicy

        await self.link.open()
        start = dt.datetime.fromtimestamp(self.start_ms / 1000, tz=dt.UTC)
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def on_msg(msg: Any) -> None:
            queue.put_nowait(msg)

        try:
            await self._wait_for_stream()
            ccfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)
            sub = await self.link.js.subscribe(
                symbol_filter(self.ticker),
                stream=self.opts.stream,
                cb=on_msg,
                ordered_consumer=True,
                idle_heartbeat=2.0,
                config=ccfg,
            )
            # nats-py (2.16) re-creates an ordered consumer after a gap or a lost server as "by start sequence"
            # but keeps the start time in the request, which the server refuses (err 10094): the replay is then
            # stuck. The start time only matters for the first consumer, so it is dropped from the kept request.
            # (the client keeps and re-uses the very ConsumerConfig object it was given)
            ccfg.opt_start_time = None
            info = await sub.consumer_info()
            if not info.num_pending:
                self._caught_up()
            while True:
                msg = await queue.get()
                self._handle(msg)
        finally:
            await self.link.close()

    async def _wait_for_stream(self) -> None:
        """No collector has made the stream yet: wait for it (said once in the log and the notes)."""
        from nats.errors import Error as NatsError
        from nats.js.errors import NotFoundError

        said = False
        while True:
            stop_if_cancelled()
            try:
                await self.link.js.stream_info(self.opts.stream)
                return
            except NotFoundError:
                if not said:
                    log.warning(
                        "bus: no stream %s yet (is liqtui collect --bus running?); waiting", self.opts.stream
                    )
                    said = True
            except (NatsError, TimeoutError):
                pass
            await asyncio.sleep(0.25)

    def _caught_up(self) -> None:
        if not self.loaded.is_set():
            log.info("bus: history replayed (%d messages, %d bars)", self.messages, self.history_bars)
            self.engine.touch()
            if self.progress is not None:
                self.progress(1, 1, "history loaded")
            self.loaded.set()

    def _handle(self, msg: Any) -> None:
        self.messages += 1
        try:
            meta = msg.metadata
            self.last_seq = int(meta.sequence.stream)
            pending = int(meta.num_pending)
        except Exception:  # noqa: BLE001 - metadata is for progress only
            pending = 1
        try:
            payload = decode(msg.data)
        except (msgspec.DecodeError, ValueError) as exc:
            self.decode_errors += 1
            if self.decode_errors <= 5:
                log.warning("bus: unreadable message on %s: %s", msg.subject, exc)
            payload = None
        if isinstance(payload, Batch):
            for ev in payload.events:
                if ev.venue in self._wanted:
                    self.events += 1
                    self.sink(ev)
        elif isinstance(payload, History):
            self._history(payload)
        elif payload is None and not self.decode_errors:
            self.newer_versions += 1
        if not self.loaded.is_set():
            if self.progress is not None and self.messages % 200 == 0:
                self.progress(self.messages, self.messages + pending, "replaying the bus")
            if pending == 0:
                self._caught_up()

    def _history(self, h: History) -> None:
        if h.venue != self.venues[0].value:
            return
        try:
            bars = history_bars(h)
        except ValueError as exc:
            self.decode_errors += 1
            log.warning("bus: %s", exc)
            return
        if len(bars):
            self.history_bars += self.engine.load_history(bars, until_ts=h.until_ts or h.last_ts)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
