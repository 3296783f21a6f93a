"""The demo exchange: a seeded market simulator with a known truth behind Binance-protocol servers.

``liqtui.sim.market.MarketSim`` (the market and its truth), ``liqtui.sim.server.DemoExchange`` (websocket +
REST on 127.0.0.1), ``liqtui.sim.scorecard`` (how well estimated zones caught the realized liquidations).
Never imports textual or rich.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DemoExchange", "MarketSim", "SimConfig"]


def __getattr__(name: str) -> Any:  # lazy: importing liqtui.sim does not start numpy/websockets work
    if name == "DemoExchange":
        from liqtui.sim.server import DemoExchange

        return DemoExchange
    if name in ("MarketSim", "SimConfig"):
        from liqtui.sim import market

        return getattr(market, name)
    raise AttributeError(f"module 'liqtui.sim' has no attribute {name!r}")
