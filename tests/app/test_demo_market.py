"""The demo gives the same market for a seed whatever lookback is shown first (issue 11)."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from liqtui.core.model import LOOKBACKS
from liqtui.sim.scorecard import DEFAULT_START_MS
from liqtui.sources import DEMO_HISTORY_DAYS, Source
from tests.feeds.helpers import until


async def _demo_market(lookback: str):
    """The demo source's market for seed 3 at a pinned start, with ``lookback`` as the shown lookback."""
    src = Source("demo", history_lookback=lookback, seed=3, backfill=False)
    src.demo_start_ms = DEFAULT_START_MS
    task = asyncio.create_task(src(lambda ev: None))
    try:
        await until(lambda: src.demo is not None and src.demo.market is not None, "the demo market")
        market = src.demo.market
        bars = market.store.bars
        before = np.flatnonzero(bars.ts + bars.dur <= DEFAULT_START_MS)
        # the market at the start of the live part: the history's last close and its first bar's time
        return float(bars.c[before[-1]]), int(bars.ts[0]), market.symbol
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_same_seed_same_demo_price_for_every_lookback():
    seen = {lb: await _demo_market(lb) for lb in LOOKBACKS}
    prices = {lb: v[0] for lb, v in seen.items()}
    assert len(set(prices.values())) == 1, prices
    first_bar = {v[1] for v in seen.values()}
    assert len(first_bar) == 1
    # the whole simulated past every time (the longest lookback's), not a history cut to the lookback
    assert (DEFAULT_START_MS - first_bar.pop()) / 86_400_000 >= DEMO_HISTORY_DAYS - 1
