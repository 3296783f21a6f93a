"""Quitting the demo is quiet: no CancelledError traceback from the REST server's connection handlers.

A REST connection kept alive by a client (httpx reuses connections) is still open when the demo stops; its
handler task is then cancelled, either by ``DemoExchange.stop()`` or by the event loop shutting down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from liqtui.sim.scorecard import DEFAULT_START_MS
from liqtui.sim.server import DemoExchange


async def _demo_with_open_connection(
    loop_errors: list[dict[str, Any]],
) -> tuple[DemoExchange, httpx.AsyncClient]:
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    demo = DemoExchange(seed=1, history_days=2, start_ms=DEFAULT_START_MS)
    await demo.start()
    client = httpx.AsyncClient(base_url=demo.rest_url, timeout=30)
    r = await client.get("/fapi/v1/ping")  # the connection stays open (keep-alive)
    assert r.status_code == 200
    return demo, client


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_stopping_the_demo_with_an_open_rest_connection_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop_errors: list[dict[str, Any]] = []

    async def main() -> None:
        demo, client = await _demo_with_open_connection(loop_errors)
        await demo.stop()
        await client.aclose()
        await asyncio.sleep(0)  # let done-callbacks of the finished handler tasks run

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert loop_errors == []
    assert _tracebacks(caplog) == []


def test_loop_shutdown_with_the_demo_running_logs_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """The app quitting without stopping the demo: asyncio.run cancels every remaining task."""
    loop_errors: list[dict[str, Any]] = []
    kept: list[Any] = []

    async def main() -> None:
        kept.extend(await _demo_with_open_connection(loop_errors))

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert loop_errors == []
    assert _tracebacks(caplog) == []
