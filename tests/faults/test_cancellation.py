"""Cancelling a running source, feed or collector always stops it.

On Python 3.11 ``asyncio.wait_for`` loses a cancellation that arrives in the same loop turn as the awaited
result (fixed in 3.12): a loop that waits for each frame or queue item with it carries on for ever after a
cancel, and whoever awaits it on shutdown hangs (a demo source's order-book loop did, in CI, on a depth flood).
liqtui waits with ``asyncio.timeout`` instead; these tests keep it that way."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import liqtui

SRC = Path(liqtui.__file__).parent


def test_liqtui_never_waits_with_asyncio_wait_for() -> None:
    code = re.compile(r"^[^#]*\bwait_for\(", re.MULTILINE)
    offenders = [
        f"{p.relative_to(SRC.parent)}:{s[: m.start()].count(chr(10)) + 1}"
        for p in sorted(SRC.rglob("*.py"))
        for s in [p.read_text(encoding="utf-8")]
        for m in code.finditer(s)
    ]
    assert offenders == [], "use `async with asyncio.timeout(t)` (wait_for can lose a cancel): " + ", ".join(
        offenders
    )


async def _loop_until_cancelled(wait_one, items: list[asyncio.Future[int]]) -> int:
    got = 0
    loop = asyncio.get_running_loop()
    while True:
        fut: asyncio.Future[int] = loop.create_future()
        items.append(fut)
        try:
            await wait_one(fut)
        except TimeoutError:
            continue
        got += 1


async def _cancel_with_the_item(wait_one) -> bool:
    """Whether a frame loop stops when its next item and the cancel come in the same turn."""
    items: list[asyncio.Future[int]] = []
    task = asyncio.create_task(_loop_until_cancelled(wait_one, items))
    while not items:
        await asyncio.sleep(0)
    items[-1].set_result(1)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=3)
    if not done:
        task.cancel()  # the lost cancel: ask again so the test ends
        await asyncio.wait({task}, timeout=3)
    return bool(done)


async def test_a_timeout_block_never_loses_a_cancel() -> None:
    async def with_timeout(fut: asyncio.Future[int]) -> None:
        async with asyncio.timeout(30):
            await fut

    assert await _cancel_with_the_item(with_timeout)


async def test_wait_for_loses_it_on_this_python_which_is_why_it_is_banned() -> None:
    async def with_wait_for(fut: asyncio.Future[int]) -> None:
        await asyncio.wait_for(fut, 30)

    stops = await _cancel_with_the_item(with_wait_for)
    assert stops == (sys.version_info >= (3, 12))
