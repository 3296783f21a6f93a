"""Live market-data feeds: the connection manager, endpoints, and the decoders of the venue adapters.

Never imports textual or rich (httpx, which imports rich, is loaded lazily by the REST polls). What a venue
means lives in its adapter (:mod:`liqtui.venues`); the helpers below are what replay, record and the
benchmarks use::

    dec = make_decoder("okx", "BTC")        # a Decoder for BTC-USDT-SWAP
    events = dec.decode(frame, recv_ts_ms)  # list[MarketEvent], never raises; bad input -> dec.errors

Live::

    from liqtui.feeds.connection import FeedManager
    ep = Endpoints.from_overrides(["binance=ws://127.0.0.1:9000/market", "binance.rest=http://127.0.0.1:9000"])
    fm = FeedManager(["binance", "bybit"], "BTC", endpoints=ep, sink=engine.apply, on_raw=recorder)
    await fm.run()          # until cancelled; FeedStatus events go into the same sink
    fm.stats["binance"]     # VenueStats: frames, bytes, events, decode_errors, reconnects, stale, state, ...
"""

from __future__ import annotations

from liqtui.core.events import Venue
from liqtui.feeds.endpoints import Endpoints, parse_endpoint
from liqtui.venues import adapter
from liqtui.venues.base import BaseDecoder, ConnSpec, Decoder
from liqtui.venues.symbols import instrument, to_venue

__all__ = [
    "BaseDecoder",
    "ConnSpec",
    "Decoder",
    "Endpoints",
    "conn_specs",
    "instrument",
    "make_decoder",
    "parse_endpoint",
    "to_venue",
]


def make_decoder(venue: str | Venue, symbol: str) -> BaseDecoder:
    """A fresh decoder for ``venue`` and ``symbol`` (a ticker such as ``BTC`` or the venue's instrument)."""
    return adapter(venue).decoder(symbol)


def conn_specs(venue: str | Venue, symbol: str, endpoints: Endpoints | None = None) -> list[ConnSpec]:
    """The websocket connections (URL, subscriptions, keepalive) liqtui opens for ``venue`` and ``symbol``."""
    a = adapter(venue)
    return a.conn_specs(symbol, (endpoints or Endpoints()).ws_url(a.name))
