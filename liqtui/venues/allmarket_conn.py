"""What every venue's all-market feed (the radar's) shares: its websocket connections and its run.

* :class:`AllMarketConn` and :func:`run_connection`: one connection kept open until cancelled — subscriptions
  queued by ``on_open`` on each (re)connect, every frame to the decoder, redone with backoff (through a gate on
  new connections where the venue limits them) when it drops or a keepalive goes unanswered;
* the two ways requests leave a connection's outbox: :func:`gap_sender` (a fixed gap between requests, Binance
  and Bybit, the latter with a keepalive when idle) and :func:`window_sender` (within a counted allowance, the
  keepalive spending it where the venue counts it: OKX, Hyperliquid);
* :class:`AllMarketRun`: the feed's run — the instrument list first (retried with backoff), then the venue's
  loops, every connection stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from liqtui.venues.base import MAX_FRAME_BYTES, Backoff
from liqtui.venues.limits import SlidingWindow

__all__ = ["AllMarketConn", "AllMarketRun", "Sender", "gap_sender", "run_connection", "window_sender"]

log = logging.getLogger("liqtui.feeds")


@dataclass(eq=False, kw_only=True)
class AllMarketConn:
    """A connection's state and counters (a venue's own kind adds what it subscribes)."""

    index: int
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    ws: ClientConnection | None = None
    task: asyncio.Task[None] | None = None
    connects: int = 0
    sent: int = 0
    pings: int = 0
    last_rx: float = 0.0
    pinged_at: float = 0.0


#: Sends a connection's outbox on ``ws`` until the connection ends (returning closes it for a redo).
Sender = Callable[[AllMarketConn, ClientConnection], Coroutine[Any, Any, None]]


async def run_connection(
    c: AllMarketConn,
    url: str,
    *,
    label: str,
    backoff: Backoff,
    timeout_s: float,
    on_open: Callable[[], None],
    decode: Callable[[Any, int], object],
    sender: Sender,
    gate: SlidingWindow | None = None,
    ws_pings: bool = False,
) -> None:
    """Keep ``c`` connected to ``url`` until cancelled. ``on_open()`` queues the subscriptions of a fresh
    connection; every frame goes to ``decode(frame, now_ms)``; ``sender`` empties the outbox; ``gate`` paces
    new connections; ``ws_pings``: websockets' own protocol pings (else the venue's keepalive in ``sender``)."""
    opts: dict[str, Any] = {} if ws_pings else {"ping_interval": None}
    attempt = 0
    while True:
        try:
            if gate is not None:
                await gate.acquire()
            async with connect(
                url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=timeout_s, **opts
            ) as ws:
                c.connects += 1
                attempt = 0
                c.outbox = asyncio.Queue()
                c.ws = ws
                c.last_rx = c.pinged_at = time.monotonic()
                on_open()
                sending = asyncio.create_task(sender(c, ws))
                try:
                    async for frame in ws:
                        c.last_rx = time.monotonic()
                        decode(frame, int(time.time() * 1000))
                finally:
                    c.ws = None
                    sending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await sending
        except asyncio.CancelledError:
            raise
        except (
            OSError,
            TimeoutError,
            ConnectionClosed,
            InvalidStatus,
            InvalidURI,
            WebSocketException,
        ) as exc:
            log.info("%s connection %d: %s", label, c.index, exc)
        attempt += 1
        await asyncio.sleep(backoff.delay(attempt))


def gap_sender(gap_s: float, *, ping: str | None = None, ping_interval_s: float = 0.0) -> Sender:
    """Requests ``gap_s`` apart; with ``ping``, that keepalive when nothing was sent for ``ping_interval_s``."""

    async def send(c: AllMarketConn, ws: ClientConnection) -> None:
        while True:
            if ping is None:
                msg = await c.outbox.get()
            else:
                try:
                    async with asyncio.timeout(ping_interval_s):  # not wait_for: it can lose a cancel on 3.11
                        msg = await c.outbox.get()
                except TimeoutError:
                    msg = ping
            await ws.send(msg)
            c.sent += 1
            await asyncio.sleep(gap_s)

    return send


def window_sender(
    label: str, window: SlidingWindow, *, ping: str, ping_interval_s: float, ping_counts: bool
) -> Sender:
    """Requests within ``window``; ``ping`` after ``ping_interval_s`` without a frame (``ping_counts``: it
    spends the window too); the connection closed (and redone) when even the ping got no answer."""

    async def send(c: AllMarketConn, ws: ClientConnection) -> None:
        tick = min(1.0, ping_interval_s / 4)
        msg: str | None = None  # waiting for the allowance (the keepalive goes on meanwhile)
        while True:
            if msg is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(tick):  # not wait_for: it can lose a cancel on 3.11
                        msg = await c.outbox.get()
            else:
                await asyncio.sleep(min(tick, window.wait_s()))
            if msg is not None and window.take():
                await ws.send(msg)
                c.sent += 1
                msg = None
            now = time.monotonic()
            quiet = now - c.last_rx
            if quiet >= 2 * ping_interval_s and c.pinged_at > c.last_rx:
                log.info("%s connection %d: no pong, reconnecting", label, c.index)
                await ws.close()
                return
            if quiet >= ping_interval_s and c.pinged_at <= c.last_rx and (not ping_counts or window.take()):
                await ws.send(ping)
                c.pings += 1
                c.pinged_at = now

    return send


class AllMarketRun(ABC):
    """The run every all-market feed shares; a feed sets the attributes below and gives :meth:`refresh` and
    :meth:`_loops`."""

    conns: list[Any]  # the venue's AllMarketConn kind
    refresh_s: float  # how often the instrument list is fetched again (by _refresh_loop, if a loop)
    instruments: list[str]
    timeout_s: float
    backoff: Backoff
    _client: httpx.AsyncClient | None

    @abstractmethod
    async def refresh(self) -> tuple[list[str], list[str]]:
        """Fetch the instrument list; subscribe new listings, unsubscribe delistings. (added, removed)."""

    @abstractmethod
    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        """The feed's own loops (refresh, REST polls, warm-up), run until cancelled."""

    async def _refresh_loop(self) -> None:
        """Listings and delistings: the instrument list again every ``refresh_s``."""
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh()

    async def run(self) -> None:
        """The instrument list (retried with backoff while the exchange does not give one), then the loops,
        until cancelled; every connection is stopped at the end."""
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            self._client = client
            try:
                attempt = 0
                while not self.instruments:
                    await self.refresh()
                    if not self.instruments:
                        attempt += 1
                        await asyncio.sleep(self.backoff.delay(attempt))
                loops = self._loops()
                if len(loops) == 1:
                    await loops[0]
                else:
                    async with asyncio.TaskGroup() as tg:
                        for loop in loops:
                            tg.create_task(loop)
            finally:
                for c in self.conns:
                    if c.task is not None:
                        c.task.cancel()
                await asyncio.gather(*(c.task for c in self.conns if c.task), return_exceptions=True)
                self._client = None
