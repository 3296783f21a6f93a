"""Reading a whole stream back, and waits on conditions (never fixed sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from liqtui.bus import DEFAULT_STREAM, SUBJECT_PREFIX
from liqtui.bus.codec import Batch, History, decode
from tests.feeds.helpers import until as _until

__all__ = ["read_stream", "stream_messages", "until"]

WAIT_S = 60.0  # a collector backfills and steps its model first: longer than the feeds' default


async def until(cond: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    await _until(cond, what, timeout)


async def read_stream(url: str, stream: str = DEFAULT_STREAM) -> tuple[list[Any], list[History]]:
    """Every event and history chunk in the stream, in stream order (an ordered consumer from the start)."""
    import nats
    from nats.js.api import DeliverPolicy

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        total = info.state.messages
        events: list[Any] = []
        hist: list[History] = []
        if not total:
            return events, hist
        done = asyncio.Event()
        seen = 0

        async def cb(msg: Any) -> None:
            nonlocal seen
            seen += 1
            p = decode(msg.data)
            if isinstance(p, Batch):
                events.extend(p.events)
            elif isinstance(p, History):
                hist.append(p)
            if msg.metadata.num_pending == 0:
                done.set()

        sub = await js.subscribe(
            f"{SUBJECT_PREFIX}.>", cb=cb, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        await asyncio.wait_for(done.wait(), timeout=WAIT_S)
        await sub.unsubscribe()
        assert seen == total, f"read {seen} messages of {total}"
        return events, hist
    finally:
        await nc.close()


async def stream_messages(url: str, stream: str = DEFAULT_STREAM) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()
