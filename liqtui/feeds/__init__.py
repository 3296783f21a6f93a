"""Live market-data feeds: per-venue decoders, the connection manager, endpoints and symbols.

Never imports textual or rich (httpx, which imports rich, is loaded lazily by the REST pollers). The registry
below is what replay, record and the benchmarks use::

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
from liqtui.feeds.base import BaseDecoder, ConnSpec, Decoder
from liqtui.feeds.binance import BinanceDecoder
from liqtui.feeds.bybit import BybitDecoder
from liqtui.feeds.endpoints import Endpoints, parse_endpoint
from liqtui.feeds.hyperliquid import HyperliquidDecoder
from liqtui.feeds.okx import ContractSpec, OkxDecoder
from liqtui.feeds.symbols import instrument, to_venue

__all__ = [
    "BaseDecoder",
    "BinanceDecoder",
    "BybitDecoder",
    "ConnSpec",
    "ContractSpec",
    "Decoder",
    "Endpoints",
    "HyperliquidDecoder",
    "OkxDecoder",
    "conn_specs",
    "instrument",
    "make_decoder",
    "parse_endpoint",
]

_DECODERS: dict[Venue, type[BaseDecoder]] = {
    Venue.BINANCE: BinanceDecoder,
    Venue.BYBIT: BybitDecoder,
    Venue.OKX: OkxDecoder,
    Venue.HYPERLIQUID: HyperliquidDecoder,
}


def make_decoder(venue: str | Venue, symbol: str) -> BaseDecoder:
    """A fresh decoder for ``venue`` and ``symbol`` (a ticker such as ``BTC`` or the venue's instrument)."""
    return _DECODERS[to_venue(venue)](symbol)


def conn_specs(venue: str | Venue, symbol: str, endpoints: Endpoints | None = None) -> list[ConnSpec]:
    """The websocket connections (URL, subscriptions, keepalive) liqtui opens for ``venue`` and ``symbol``."""
    from liqtui.feeds import binance, bybit, hyperliquid, okx

    mods = {Venue.BINANCE: binance, Venue.BYBIT: bybit, Venue.OKX: okx, Venue.HYPERLIQUID: hyperliquid}
    return mods[to_venue(venue)].conn_specs(symbol, endpoints or Endpoints())
