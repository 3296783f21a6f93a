"""Hyperliquid perpetuals: the adapter (names, endpoints, connection, history, recordings).

Decoding lives in :mod:`.feed`, history pages in :mod:`.history`. Hyperliquid publishes no liquidation stream
and no open-interest history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter, AllMarketFeed
from liqtui.venues.base import BaseDecoder, ConnSpec
from liqtui.venues.book import BookChannel
from liqtui.venues.hyperliquid import book as _book
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder, conn_specs, instrument
from liqtui.venues.hyperliquid.history import HyperliquidHistory

if TYPE_CHECKING:
    from liqtui.core.radar import Radar

__all__ = ["ADAPTER", "HyperliquidAdapter"]


def _allmarket(radar: Radar, ws_url: str, rest_url: str, *, local: bool = False) -> AllMarketFeed:
    """The radar's feed of every Hyperliquid perpetual (:class:`~liqtui.venues.hyperliquid.allmarket.HyperliquidAllMarket`)."""
    from liqtui.venues.hyperliquid.allmarket import HyperliquidAllMarket

    return HyperliquidAllMarket(radar, ws_url, rest_url, weight_per_min=None if local else 600.0)


class HyperliquidAdapter(Adapter):
    venue = Venue.HYPERLIQUID
    default_ws = "wss://api.hyperliquid.xyz/ws"
    default_rest = "https://api.hyperliquid.xyz"
    url_hints = ("hyperliquid",)
    history = HyperliquidHistory
    allmarket = staticmethod(_allmarket)

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return HyperliquidDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    def book(self, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel:
        return _book.book_channel(symbol, ws_url)

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
