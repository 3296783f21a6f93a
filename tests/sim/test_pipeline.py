"""The demo through the product's ordinary code: FeedManager (websocket + OI polls) and the REST backfill."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np

from liqtui.core.events import Candle, Liquidation, MarketEvent, MarkPrice, OpenInterest, Trade
from liqtui.feeds.connection import FeedManager
from liqtui.feeds.endpoints import Endpoints
from liqtui.history.backfill import backfill
from liqtui.sim.server import DemoExchange

from .conftest import START_MS, wait_until


async def test_feed_manager_consumes_the_demo_with_zero_decode_errors() -> None:
    events: list[MarketEvent] = []
    # seed 8 liquidates from its 3rd second on, every few market minutes: one arrives soon after connecting
    async with DemoExchange(seed=8, speed=60, start_ms=START_MS, history_days=3) as demo:
        ep = Endpoints().with_override("binance", "ws", demo.ws_url)
        ep = ep.with_override("binance", "rest", demo.rest_url)
        fm = FeedManager(["binance"], "BTC", endpoints=ep, sink=events.append, oi_poll_s=0.2, seed=0)
        task = asyncio.create_task(fm.run())
        try:

            def seen(kind: type) -> int:
                return sum(1 for e in events if type(e) is kind)

            await wait_until(
                lambda: (
                    all(seen(k) > 0 for k in (Trade, MarkPrice, OpenInterest, Liquidation))
                    and any(type(e) is Candle and e.closed for e in events)
                ),
                60,
                "trades, marks, polled open interest, a liquidation and a closed candle",
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stats = fm.stats["binance"]
        assert stats.decode_errors == 0 and stats.frames > 100
        oi = next(e for e in events if type(e) is OpenInterest)
        assert abs(oi.base - demo.market.open_interest()) / oi.base < 0.2


async def test_backfill_reads_the_demo_history_exactly() -> None:
    got: list[np.ndarray] = []
    async with DemoExchange(seed=4, speed=1, start_ms=START_MS, history_days=2) as demo:
        res = await backfill(
            "binance",
            "BTC",
            "12h",
            rest_url=demo.rest_url,
            on_bars=got.append,
            now_ms=START_MS,
            min_interval_s=0.0,
        )
        stored = demo.market.store.bars
    bars = np.concatenate(got)
    assert len(bars) == 720 and res is not None
    mine = stored.take(np.flatnonzero(stored.ts >= START_MS - 12 * 3_600_000))
    np.testing.assert_array_equal(bars["ts"], mine.ts)
    np.testing.assert_allclose(bars["close"], np.round(mine.c * 10) / 10, atol=1e-6)
    # open interest comes from openInterestHist (5-minute points) interpolated to each bar's close
    oi_true = mine.oi * mine.c
    assert np.isfinite(bars["oi_usd"]).mean() > 0.95
    ok = np.isfinite(bars["oi_usd"])
    np.testing.assert_allclose(bars["oi_usd"][ok], oi_true[ok], rtol=0.02)


def test_sim_never_imports_textual_or_rich() -> None:
    code = (
        "import sys, liqtui.sim.server, liqtui.sim.scorecard, liqtui.sim.market; "
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
