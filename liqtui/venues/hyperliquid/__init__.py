"""Hyperliquid perpetuals: the adapter (names, endpoints, connection, history, recordings).

Decoding lives in :mod:`.feed`, history pages in :mod:`.history`. Hyperliquid publishes no liquidation stream
and no open-interest history.
"""

from __future__ import annotations

from typing import Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter
from liqtui.venues.base import BaseDecoder, ConnSpec
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder, conn_specs, instrument
from liqtui.venues.hyperliquid.history import HyperliquidHistory

__all__ = ["ADAPTER", "HyperliquidAdapter"]


class HyperliquidAdapter(Adapter):
    venue = Venue.HYPERLIQUID
    default_ws = "wss://api.hyperliquid.xyz/ws"
    default_rest = "https://api.hyperliquid.xyz"
    url_hints = ("hyperliquid",)
    history = HyperliquidHistory

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return HyperliquidDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    def frame_is_mine(self, head: str) -> bool:
        return '"channel":' in head

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        chan = str(obj.get("channel", ""))
        data = obj.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            data = data[0]
        if isinstance(data, dict):
            coin = data.get("coin")
            if isinstance(coin, str):
                return coin.upper(), chan.lower() == "trades"
        return None, False


ADAPTER = HyperliquidAdapter()
