"""Bybit v5 linear perpetuals: the adapter (names, endpoints, connection, history, recordings).

Decoding lives in :mod:`.feed`, history pages in :mod:`.history`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter, AllMarketFeed
from liqtui.venues.base import BaseDecoder, ConnSpec
from liqtui.venues.book import BookChannel
from liqtui.venues.bybit import book as _book
from liqtui.venues.bybit.feed import BybitDecoder, conn_specs, instrument
from liqtui.venues.bybit.history import BybitHistory

if TYPE_CHECKING:
    from liqtui.core.radar import Radar

__all__ = ["ADAPTER", "BybitAdapter"]


def _allmarket(radar: Radar, ws_url: str, rest_url: str, *, local: bool = False) -> AllMarketFeed:
    """The radar's feed of every Bybit perpetual (:class:`~liqtui.venues.bybit.allmarket.BybitAllMarket`)."""
    from liqtui.venues.bybit.allmarket import BybitAllMarket

    return BybitAllMarket(radar, ws_url, rest_url, requests_per_min=None if local else 600.0)


class BybitAdapter(Adapter):
    venue = Venue.BYBIT
    default_ws = "wss://stream.bybit.com/v5/public/linear"
    default_rest = "https://api.bybit.com"
    url_hints = ("bybit",)
    history = BybitHistory
    allmarket = staticmethod(_allmarket)

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return BybitDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    def book(self, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel:
        return _book.book_channel(symbol, ws_url)

    def frame_is_mine(self, head: str) -> bool:
        return '"topic":' in head or '"ret_msg":' in head

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        topic = obj.get("topic")
        if isinstance(topic, str) and "." in topic:
            return topic.rsplit(".", 1)[1].upper(), topic.split(".", 1)[0].lower() == "publictrade"
        return None, False


ADAPTER = BybitAdapter()
