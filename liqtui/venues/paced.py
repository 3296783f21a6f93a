"""One websocket connection of an all-market feed whose venue counts what a client sends: requests leave an
outbox within an allowance, a keepalive goes out after a quiet spell, and the connection is redone (with
backoff, through a gate on new connections) when it drops or even the keepalive got no answer.

OKX (subscribe requests per connection an hour, ``ping``) and Hyperliquid (messages per IP a minute,
``{"method":"ping"}``, which count too) run their connections on it; what differs is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from liqtui.venues.base import MAX_FRAME_BYTES, Backoff
from liqtui.venues.limits import SlidingWindow

__all__ = ["PacedConn", "run_paced"]

log = logging.getLogger("liqtui.feeds")


@dataclass(eq=False, kw_only=True)
class PacedConn:
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


async def run_paced(
    c: PacedConn,
    url: str,
    *,
    label: str,
    gate: SlidingWindow,
    window: SlidingWindow,
    backoff: Backoff,
    timeout_s: float,
    ping: str,
    ping_interval_s: float,
    ping_counts: bool,
    on_open: Callable[[PacedConn], None],
    decode: Callable[[Any, int], object],
) -> None:
    """Keep ``c`` connected to ``url`` until cancelled. ``gate``: new connections; ``window``: what may be
    sent (``ping_counts``: the keepalive spends it too); ``on_open(c)`` queues the subscriptions of a fresh
    connection; every frame goes to ``decode(frame, now_ms)``."""
    attempt = 0
    while True:
        try:
            await gate.acquire()
            async with connect(
                url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=timeout_s, ping_interval=None
            ) as ws:
                c.connects += 1
                attempt = 0
                c.outbox = asyncio.Queue()
                c.ws = ws
                c.last_rx = c.pinged_at = time.monotonic()
                on_open(c)
                sender = asyncio.create_task(
                    _send_loop(c, ws, label, window, ping, ping_interval_s, ping_counts)
                )
                try:
                    async for frame in ws:
                        c.last_rx = time.monotonic()
                        decode(frame, int(time.time() * 1000))
                finally:
                    c.ws = None
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await sender
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


async def _send_loop(
    c: PacedConn,
    ws: ClientConnection,
    label: str,
    window: SlidingWindow,
    ping: str,
    ping_interval_s: float,
    ping_counts: bool,
) -> None:
    """Requests within ``window``; ``ping`` after ``ping_interval_s`` without a frame; the connection closed
    (and redone by :func:`run_paced`) when even the ping got no answer."""
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
