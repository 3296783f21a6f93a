"""Bybit v5 linear perpetuals: the adapter (names, endpoints, connection, history, recordings).

Decoding lives in :mod:`.feed`, history pages in :mod:`.history`.
"""

from __future__ import annotations

from typing import Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter
from liqtui.venues.base import BaseDecoder, ConnSpec
from liqtui.venues.bybit.feed import BybitDecoder, conn_specs, instrument
from liqtui.venues.bybit.history import BybitHistory

__all__ = ["ADAPTER", "BybitAdapter"]


class BybitAdapter(Adapter):
    venue = Venue.BYBIT
    default_ws = "wss://stream.bybit.com/v5/public/linear"
    default_rest = "https://api.bybit.com"
    url_hints = ("bybit",)
    history = BybitHistory

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return BybitDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    def frame_is_mine(self, head: str) -> bool:
        return '"topic":' in head or '"ret_msg":' in head

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        topic = obj.get("topic")
        if isinstance(topic, str) and "." in topic:
            return topic.rsplit(".", 1)[1].upper(), topic.split(".", 1)[0].lower() == "publictrade"
        return None, False


ADAPTER = BybitAdapter()
