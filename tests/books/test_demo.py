"""The book layer on the demo exchange: Binance depth served by the simulator, kept by the real runner, summed
into the model's buckets and drawn as the depth column with its walls."""

from __future__ import annotations

import asyncio
import contextlib

from liqtui.core.book_events import BookState
from liqtui.core.depth import DepthBook, find_walls
from liqtui.core.grid import PriceGrid
from liqtui.feeds.endpoints import Endpoints
from liqtui.sim.depth import TICK
from liqtui.sim.server import DemoExchange
from liqtui.ui.themes import load_theme
from liqtui.ui.widgets.depth import book_colors, render_depth_column
from liqtui.venues.book import BookFeed
from tests.feeds.helpers import until


async def test_demo_serves_a_book_kept_by_binance_rules() -> None:
    depth = DepthBook()
    async with DemoExchange(seed=3, speed=4.0, history_days=0.1) as demo:
        ep = Endpoints.from_overrides([f"binance={demo.ws_url}", f"binance.rest={demo.rest_url}"])
        feed = BookFeed(["binance"], "BTC", sink=depth.apply, endpoints=ep, seed=1)
        task = asyncio.create_task(feed.run())
        try:
            await until(
                lambda: "binance" in feed.keepers and feed.keepers["binance"].updates >= 30, "30 book updates"
            )
            k = feed.keepers["binance"]
            assert k.state is BookState.LIVE and k.gaps == 0 and feed.stats["binance"].snapshots == 1
            # the book kept from snapshot + diffs is the simulator's book once it has caught up with it
            await until(lambda: k._last_u == demo.depth.u, "caught up with the served book")
            assert k.book.bids == {float(f"{p * TICK:.1f}"): q for p, q in demo.depth.bids.items()}
            price = demo.market.price
            bid, ask = k.top()
            assert bid is not None and ask is not None and bid < ask
            assert abs(bid / price - 1) < 0.001 and abs(ask / price - 1) < 0.001
            grid = PriceGrid(price, bucket_pct=0.1, range_pct=20.0)
            lo, hi = price * 0.95, price * 1.05
            prof = depth.profile(grid, lo, hi)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert (
        depth.states() == {"binance": "stopped"} and depth.profile(grid).total_bid == 0.0
    )  # stopped: not shown
    walls, _ = find_walls(prof)
    assert walls and {w.side for w in walls} <= {"bid", "ask"}
    text = render_depth_column(prof, lo, hi, 30, 8, book_colors(load_theme("dark")), price=price, walls=walls)
    rows = text.split("\n")
    assert len(rows) == 30 and any("◆" in r.plain for r in rows)
    colors = book_colors(load_theme("dark"))
    assert rows[2].spans[0].style.color == colors.ask and rows[27].spans[0].style.color == colors.bid
