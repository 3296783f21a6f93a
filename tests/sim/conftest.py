"""Fixtures for the demo-exchange tests: one shared, fixed-seed simulated market."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS

START_MS = DEFAULT_START_MS


@pytest.fixture(scope="session")
def market() -> MarketSim:
    """Seed 0, full 183-day history, ending at a fixed start time (read-only: do not advance it)."""
    return MarketSim(seed=0, start_ms=START_MS)


async def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``cond`` until true (generous timeout: the machine is shared); fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)
