"""Binance USDⓈ-M futures: the adapter (names, endpoints, connections, open-interest poll, history, recordings).

Decoding lives in :mod:`.feed`, history pages in :mod:`.history`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter, AllMarketFeed, RestPoll
from liqtui.venues.base import BaseDecoder, ConnSpec
from liqtui.venues.binance import book as _book
from liqtui.venues.binance.feed import OI_PATH, BinanceDecoder, conn_specs, instrument
from liqtui.venues.binance.history import BinanceHistory
from liqtui.venues.book import BookChannel

if TYPE_CHECKING:
    from liqtui.core.radar import Radar

__all__ = ["ADAPTER", "BinanceAdapter"]

_TRADE_EVENTS = ("trade", "aggtrade")
_SHAPE_EVENTS = ('"e":"aggTrade"', '"e":"trade"', '"e":"kline"', '"e":"markPriceUpdate"', '"e":"forceOrder"')


def _allmarket(radar: Radar, ws_url: str, rest_url: str, *, local: bool = False) -> AllMarketFeed:
    """The radar's feed of every Binance USDⓈ-M perpetual (:class:`~liqtui.venues.binance.allmarket.BinanceAllMarket`)."""
    from liqtui.venues.binance.allmarket import BinanceAllMarket

    return BinanceAllMarket(radar, ws_url, rest_url, weight_per_min=None if local else 1200.0)


class BinanceAdapter(Adapter):
    venue = Venue.BINANCE
    #: Market streams live under ``/market`` since 2026 (the root path no longer carries them).
    default_ws = "wss://fstream.binance.com/market"
    default_rest = "https://fapi.binance.com"
    url_hints = ("binance",)
    refusal_codes = ("-1121",)
    history = BinanceHistory
    allmarket = staticmethod(_allmarket)

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return BinanceDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    def polls(self, symbol: str, rest_url: str) -> list[RestPoll]:
        """There is no open-interest stream: ``GET /fapi/v1/openInterest`` is polled and fed to the decoder."""
        return [RestPoll("open interest poll", f"{rest_url}{OI_PATH}?symbol={instrument(symbol)}")]

    def book(self, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel:
        return _book.book_channel(symbol, ws_url, rest_url)

    def frame_is_mine(self, head: str) -> bool:
        if '"stream":' in head:
            return True
        compact = head.replace(" ", "")
        return any(e in compact for e in _SHAPE_EVENTS)

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        stream = obj.get("stream")
        data = obj.get("data", obj)
        if isinstance(stream, str) and "@" in stream:
            name, _, chan = stream.partition("@")
            return name.upper(), chan.split("@")[0].lower() in _TRADE_EVENTS
        if isinstance(data, dict):
            sym = data.get("s")
            order = data.get("o")
            if not isinstance(sym, str) and isinstance(order, dict):
                sym = order.get("s")
            if isinstance(sym, str):
                return sym.upper(), str(data.get("e", "")).lower() in _TRADE_EVENTS
        return None, False


ADAPTER = BinanceAdapter()
