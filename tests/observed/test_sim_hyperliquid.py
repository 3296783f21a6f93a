"""The demo exchange speaking Hyperliquid: the observed profile of the discovered accounts equals the truth."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
from websockets.asyncio.client import connect

from liqtui.core.events import Candle, MarketEvent, MarkPrice, PositionSide, Trade, Venue
from liqtui.core.grid import PriceGrid
from liqtui.core.leverage import TIER_PRESETS
from liqtui.core.model import ModelConfig
from liqtui.core.observed import ObservedBook, fit_tiers
from liqtui.feeds.connection import FeedManager
from liqtui.feeds.endpoints import Endpoints
from liqtui.sim.hyperliquid import HyperliquidDemo, SimAccounts
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS
from liqtui.sim.server import DemoExchange
from liqtui.venues.hyperliquid.accounts import AddressBook
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder, subscriptions
from liqtui.venues.hyperliquid.history import HyperliquidHistory
from liqtui.venues.hyperliquid.observer import HyperliquidObserver
from liqtui.venues.hyperliquid.poller import PositionPoller, WeightBudget
from liqtui.venues.hyperliquid.positions import parse_clearinghouse
from tests.sim.conftest import wait_until


async def test_observed_profile_equals_the_simulators_truth_for_the_discovered_accounts() -> None:
    async with DemoExchange(seed=3, speed=30.0, history_days=3, start_ms=DEFAULT_START_MS) as demo:
        async with HyperliquidDemo(demo, seed=3) as hl:
            dec = HyperliquidDecoder("BTC")
            book = AddressBook("BTC")
            dec.on_users = book.on_trade
            events: list = []
            async with connect(hl.ws_url) as ws:
                for s in [*subscriptions("BTC"), {"type": "l2Book", "coin": "BTC"}]:
                    await ws.send(json.dumps({"method": "subscribe", "subscription": s}))
                await ws.send('{"method":"ping"}')

                async def read() -> None:
                    async for msg in ws:
                        events.extend(dec.decode(msg, 0))

                reader = asyncio.create_task(read())
                await wait_until(lambda: len(book) >= 60, what="60 accounts discovered from the trades")
                await wait_until(
                    lambda: any(isinstance(e, Candle) and e.closed for e in events), what="a closed candle"
                )
                reader.cancel()
            assert dec.errors == 0 and dec.control >= 5  # subscription replies and the pong
            assert any(isinstance(e, MarkPrice) for e in events) and any(isinstance(e, Trade) for e in events)
            await demo.stop()  # freeze the market: the truth stands still while we poll
            ob = ObservedBook("BTC")
            poller = PositionPoller(
                book, ob, info_url=hl.rest_url, budget=WeightBudget(1.0, limit=1_000_000), oi_every_s=3600
            )
            hl.weight_limit = 1_000_000
            task = asyncio.create_task(poller.run())
            try:
                await wait_until(lambda: len(ob.polled) == len(book), what="every account polled")
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            m = hl.market
            acc = hl.accounts
            assert acc is not None
            grid = PriceGrid(m.price, bucket_pct=0.1, range_pct=60.0)
            long_, short = ob.profile(grid.edges)
            addrs = list(ob.polled)
            t_long = acc.truth(addrs, PositionSide.LONG, m.now_ms).histogram(grid.edges)
            t_short = acc.truth(addrs, PositionSide.SHORT, m.now_ms).histogram(grid.edges)
            assert long_.sum() > 0 and short.sum() > 0
            np.testing.assert_allclose(long_, t_long, rtol=1e-6, atol=0.5)
            np.testing.assert_allclose(short, t_short, rtol=1e-6, atol=0.5)
            # the shapes the venue really returns are all exercised: makers flat or listed at zero size,
            # cross and isolated margins, null liquidation prices
            cov = ob.coverage(m.now_ms, m.price, oi_usd=poller.oi_usd, accounts_seen=len(book))
            assert cov.accounts_with_position < cov.accounts_polled
            assert {p.margin for p in ob.positions.values()} == {"cross", "isolated"}
            assert poller.oi_usd is not None and 0 < cov.coverage < 1
            assert poller.stats.errors == 0

            async with httpx.AsyncClient(base_url=hl.rest_url) as client:

                class Http:  # the backfill's JSON client, reduced to what HyperliquidHistory uses
                    async def get(self, path: str, params: dict) -> object:
                        raise AssertionError("hyperliquid history only posts")

                    async def post(self, path: str, body: dict) -> object:
                        return (await client.post(path, json=body)).json()

                bars = await HyperliquidHistory(Http(), "BTC").klines(3600, m.now_ms - 86_400_000, m.now_ms)
                assert 23 <= len(bars) <= 25 and (bars["high"] >= bars["low"]).all()

                r = await client.post(
                    "/info",
                    json={"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1h", "startTime": 0}},
                )
                assert r.status_code == 200 and r.json()[-1]["s"] == "BTC" and len(r.json()) > 24
                hl.weight_limit = 2
                r1 = await client.post("/info", json={"type": "clearinghouseState", "user": addrs[0]})
                assert r1.status_code == 429 and r1.headers["retry-after"] == "1"


def test_tier_fit_on_the_simulators_accounts_recovers_its_leverage_mix() -> None:
    """Every standing account of a simulated market, read back through clearinghouseState: the fitted opening
    mix is much nearer the crowd's true mix (SimConfig tier weights) than the default preset."""
    m = MarketSim(seed=2, start_ms=DEFAULT_START_MS, history_days=30)
    acc = SimAccounts(m, seed=2)
    held = []
    for cid in acc.live().tolist():
        a = acc.address(cid)
        held += parse_clearinghouse(acc.clearinghouse(a, m.now_ms), a, m.now_ms, coin="BTC")
    assert len(held) > 500
    fit = fit_tiers(held, max_tiers=7, half_life_h=ModelConfig().half_life_h)
    assert fit is not None and fit.quality == "good" and fit.rebin_error == 0.0
    total = sum(t.weight for t in m.config.tiers)
    truth = {f"{t.leverage:g}": t.weight / total for t in m.config.tiers}
    default = {f"{k:g}": v for k, v in TIER_PRESETS["default"].items()}

    def l1(a: dict[str, float]) -> float:
        return sum(abs(a.get(k, 0.0) - truth.get(k, 0.0)) for k in set(a) | set(truth))

    assert l1(fit.custom_tiers) < 0.2 and l1(default) > 0.8  # measured: 0.13 vs 0.90
    standing = fit_tiers(held, max_tiers=7)  # without the half-life correction: the long-lived 3x dominate
    assert standing is not None and l1(fit.custom_tiers) < l1(standing.custom_tiers)


async def test_the_demo_through_the_real_feed_manager_and_the_observer() -> None:
    """The wiring the app uses for ``--demo --exchange hyperliquid``: FeedManager on the demo's Hyperliquid
    endpoints, the observer attached to its decoder and teed into the sink, polling the demo's info endpoint."""
    async with DemoExchange(seed=4, speed=20.0, history_days=2, start_ms=DEFAULT_START_MS) as demo:
        async with HyperliquidDemo(demo, seed=4) as hl:
            ep = Endpoints().with_override("hyperliquid", "ws", hl.ws_url)
            ep = ep.with_override("hyperliquid", "rest", hl.rest_url)
            obs = HyperliquidObserver("BTC", info_url=ep.rest_url("hyperliquid"))
            obs.poller.budget = WeightBudget(1.0, limit=100_000)  # a quick test, not the default share
            events: list = []

            def sink(ev: MarketEvent) -> None:
                events.append(ev)
                obs.apply(ev)  # every venue's events: the observer keeps Hyperliquid's

            fm = FeedManager(["hyperliquid"], "BTC", endpoints=ep, sink=sink)
            obs.attach(fm.decoders["hyperliquid"])
            tasks = [asyncio.create_task(fm.run()), asyncio.create_task(obs.run())]
            try:
                await wait_until(
                    lambda: len(obs.observed.polled) >= 30 and obs.oi_usd is not None,
                    what="30 accounts polled and the open interest from activeAssetCtx",
                )
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            assert fm.decoders["hyperliquid"].errors == 0
            assert any(isinstance(e, Trade) and e.venue is Venue.HYPERLIQUID for e in events)
            cov = obs.observed.coverage(hl.market.now_ms, hl.market.price, oi_usd=obs.oi_usd,
                                        accounts_seen=len(obs.book))  # fmt: skip
            assert cov.coverage is not None and 0 < cov.coverage < 1
