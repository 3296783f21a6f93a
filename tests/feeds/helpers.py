"""Shared helpers of the feed tests: an event collector and condition waits (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from liqtui.core.events import FeedState, FeedStatus, MarketEvent
from liqtui.feeds.connection import FeedManager
from liqtui.feeds.endpoints import Endpoints

WAIT_S = 20.0  # generous: the machine is shared and loaded


class Collector:
    """A sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[MarketEvent] = []

    def __call__(self, ev: MarketEvent) -> None:
        self.events.append(ev)

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    def states(self, venue: str | None = None) -> list[FeedState]:
        return [e.state for e in self.of(FeedStatus) if venue is None or e.venue.value == venue]

    def of_status(self) -> list[FeedStatus]:
        return [e for e in self.events if isinstance(e, FeedStatus)]

    def statuses(self, state: FeedState) -> list[FeedStatus]:
        return [e for e in self.of(FeedStatus) if e.state is state]


async def until(cond: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Wait until ``cond()`` holds; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for: {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(mgr: FeedManager) -> AsyncIterator[asyncio.Task[None]]:
    """Run a FeedManager in the background for the duration of the block, then cancel it."""
    task = asyncio.create_task(mgr.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def manager(servers, venues: list[str], sink: Collector, symbol: str = "BTC", **kw) -> FeedManager:
    """A FeedManager pointed at local servers, with test-sized timings unless overridden."""
    overrides: list[str] = []
    for s in servers:
        overrides += s.endpoint_overrides()
    opts = {
        "backoff_base_s": 0.02,
        "backoff_cap_s": 0.2,
        "stale_s": 5.0,
        "ping_interval_s": 5.0,
        "oi_poll_s": 0.05,
        "open_timeout_s": 5.0,
        "close_timeout_s": 1.0,
        "seed": 7,
    }
    opts.update(kw)
    return FeedManager(venues, symbol, endpoints=Endpoints.from_overrides(overrides), sink=sink, **opts)
