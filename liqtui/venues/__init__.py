"""Venue adapters: one package per exchange, one registry.

Each package (:mod:`liqtui.venues.binance`, ``bybit``, ``okx``, ``hyperliquid``) owns everything its venue
means (instrument names, default endpoints, websocket connections and subscriptions, keepalive and the
channels that must keep ticking, the decoder, REST polls, history pages with their error and rate-limit
rules, and how to recognise its frames in recordings) behind the :class:`~liqtui.venues.adapter.VenueAdapter`
protocol. The connection manager, the backfill and the replay loop over :data:`ADAPTERS`.

The radar asks the registry too: :func:`allmarket_venues` lists the venues whose adapter has an all-market
feed (``allmarket``) and :func:`allmarket_feed` builds one, so a venue joins the radar by setting it.

Adding a venue: a package with an adapter, plus one line below (or :func:`register` at run time)::

    from liqtui.venues import adapter
    a = adapter("okx")                  # the OKX adapter
    dec = a.decoder("BTC")              # decoder for BTC-USDT-SWAP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liqtui.core.events import Venue
from liqtui.venues import binance, bybit, hyperliquid, okx
from liqtui.venues.adapter import Adapter, AllMarketFeed, VenueAdapter

if TYPE_CHECKING:
    from liqtui.core.radar import Radar

__all__ = [
    "ADAPTERS",
    "Adapter",
    "VenueAdapter",
    "adapter",
    "allmarket_feed",
    "allmarket_venues",
    "names",
    "register",
    "unregister",
]

#: name → adapter, in the order venues are listed (and tried when recognising a recording's frames).
ADAPTERS: dict[str, VenueAdapter] = {}


def register(a: VenueAdapter) -> VenueAdapter:
    """Add (or replace) the adapter of ``a.name``; returns it."""
    ADAPTERS[a.name] = a
    return a


def unregister(name: str) -> None:
    """Remove a venue added with :func:`register` (the built-in venues stay)."""
    if name in {v.value for v in Venue}:
        raise ValueError(f"{name} is a built-in venue and cannot be removed")
    ADAPTERS.pop(name, None)


def adapter(venue: str | Venue) -> VenueAdapter:
    """The adapter of a venue name (case-insensitive) or :class:`Venue`; a clear error lists the valid names."""
    name = str(getattr(venue, "value", venue)).strip().lower()
    a = ADAPTERS.get(name)
    if a is None:
        raise ValueError(f"unknown venue {venue!r}; expected one of {', '.join(ADAPTERS)}")
    return a


def names() -> tuple[str, ...]:
    """The registered venue names."""
    return tuple(ADAPTERS)


def allmarket_venues() -> tuple[str, ...]:
    """The registered venues with an all-market feed (the radar's venues), in registry order."""
    return tuple(n for n, a in ADAPTERS.items() if getattr(a, "allmarket", None) is not None)


def allmarket_feed(
    venue: str | Venue, radar: Radar, ws_url: str, rest_url: str, *, local: bool = False
) -> AllMarketFeed:
    """The all-market feed of ``venue`` filling ``radar`` (``local``: a local exchange, no REST budget). A clear
    ValueError for an unknown venue or one without an all-market feed (naming the venues that have one)."""
    a = adapter(venue)
    factory = getattr(a, "allmarket", None)
    if factory is None:
        raise ValueError(
            f"{a.name} has no all-market feed; the radar covers {', '.join(allmarket_venues()) or 'no venue'}"
        )
    feed: AllMarketFeed = factory(radar, ws_url, rest_url, local=local)
    return feed


register(binance.ADAPTER)
register(bybit.ADAPTER)
register(okx.ADAPTER)
register(hyperliquid.ADAPTER)
