"""The :class:`VenueAdapter` protocol: everything liqtui needs to know about one exchange, in one object.

The connection manager (:mod:`liqtui.feeds.connection`), the backfill (:mod:`liqtui.history.backfill`) and the
replay (:mod:`liqtui.history.replay`, :mod:`liqtui.history.formats`) only loop over adapters; what a venue
means lives in its package under :mod:`liqtui.venues`. :class:`Adapter` is a base with the common defaults
(no preparation, no REST poll, no history, no recording hints, no all-market feed), so a venue states only what
it has.

The radar finds a venue's all-market feed here too: :attr:`VenueAdapter.allmarket` is an
:class:`AllMarketFactory` (None where the venue has none); :func:`liqtui.venues.allmarket_venues` lists the
venues that have one and :func:`liqtui.venues.allmarket_feed` builds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from liqtui.core.events import Venue
from liqtui.venues.base import Backoff, BaseDecoder, ConnSpec

if TYPE_CHECKING:
    import httpx

    from liqtui.core.radar import Radar
    from liqtui.venues.book import BookChannel
    from liqtui.venues.history import HistoryApi

__all__ = ["Adapter", "AllMarketFactory", "AllMarketFeed", "PrepareContext", "RestPoll", "VenueAdapter"]


@dataclasses.dataclass(frozen=True)
class RestPoll:
    """A REST endpoint polled while the venue is live (open interest...): each 200 body goes to the venue's
    decoder. ``interval_s`` None: the connection manager's ``oi_poll_s``."""

    what: str
    url: str
    interval_s: float | None = None


@dataclasses.dataclass
class PrepareContext:
    """What :meth:`VenueAdapter.prepare` may use before the venue connects (e.g. to fetch contract sizes)."""

    client: httpx.AsyncClient
    rest_url: str
    decoder: BaseDecoder
    backoff: Backoff
    max_attempts: int | None
    on_error: Callable[[int, str], None]  # (attempt, reason): reported as a connecting status


class AllMarketFeed(Protocol):
    """Every perpetual of one venue into a :class:`~liqtui.core.radar.Radar`, until :meth:`run` is cancelled.

    ``stats()`` has at least ``instruments``, ``connections``, ``streams``, ``frames``, ``decode_errors``,
    ``reconnects``, ``rest_requests``, ``rest_errors`` and ``warmed``. A feed whose venue publishes no realized
    liquidations has ``liquidations_available = False`` (its rows' ``liq_1h`` is unknown, not zero)."""

    radar: Radar

    async def run(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class AllMarketFactory(Protocol):
    """Builds a venue's all-market feed. ``local``: the exchange is a local one (the demo, a test server), so no
    REST budget is kept."""

    def __call__(self, radar: Radar, ws_url: str, rest_url: str, *, local: bool = False) -> AllMarketFeed: ...


@runtime_checkable
class VenueAdapter(Protocol):
    """One exchange: names, endpoints, websocket connections, decoding, REST polls, history and recordings."""

    @property
    def venue(self) -> Venue:
        """What events carry; ``venue.value`` is the name used in config, on the CLI and in stores."""
        ...

    @property
    def default_ws(self) -> str:
        """Websocket base URL."""
        ...

    @property
    def default_rest(self) -> str:
        """REST base URL."""
        ...

    @property
    def url_hints(self) -> tuple[str, ...]:
        """Substrings of host, exchange or file names that identify the venue."""
        ...

    @property
    def refusal_codes(self) -> tuple[str, ...]:
        """REST error codes that mean "no such symbol"."""
        ...

    @property
    def history(self) -> type[HistoryApi] | None:
        """Kline and open-interest history pages (None: no backfill)."""
        ...

    @property
    def name(self) -> str:
        """``venue.value``."""
        ...

    @property
    def allmarket(self) -> AllMarketFactory | None:
        """The all-market feed behind the radar (None: the venue has none)."""
        ...

    def instrument(self, symbol: str) -> str:
        """The venue's instrument name for a ticker (``BTC``) or any venue's spelling of an instrument."""
        ...

    def decoder(self, symbol: str) -> BaseDecoder:
        """A fresh decoder of this venue's frames for ``symbol``."""
        ...

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        """The websocket connections for ``symbol`` (URL, subscriptions, keepalive, channels that must tick)."""
        ...

    async def prepare(self, ctx: PrepareContext) -> None:
        """Work before connecting (e.g. contract sizes); raises ``SymbolRefused`` / ``FeedError``."""
        ...

    def polls(self, symbol: str, rest_url: str) -> list[RestPoll]:
        """REST endpoints polled while live (e.g. open interest)."""
        ...

    def frame_is_mine(self, head: str) -> bool:
        """Whether a raw frame (its first 200 characters) has this venue's shape, for recordings."""
        ...

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        """The instrument a decoded JSON frame is about and whether it is a trade frame."""
        ...


class Adapter:
    """Base of the venue adapters, with the defaults of :class:`VenueAdapter`."""

    venue: Venue
    default_ws: str
    default_rest: str
    url_hints: tuple[str, ...] = ()
    refusal_codes: tuple[str, ...] = ()
    history: type[HistoryApi] | None = None
    allmarket: AllMarketFactory | None = None

    @property
    def name(self) -> str:
        return str(self.venue.value)

    def instrument(self, symbol: str) -> str:
        raise NotImplementedError

    def decoder(self, symbol: str) -> BaseDecoder:
        raise NotImplementedError

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        raise NotImplementedError

    async def prepare(self, ctx: PrepareContext) -> None:
        return None

    def polls(self, symbol: str, rest_url: str) -> list[RestPoll]:
        return []

    def book(self, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel | None:
        """The order-book channel and its keeper (:mod:`liqtui.venues.book`); None: the venue gives no book.
        ``contract``: the decoder :meth:`prepare` filled (contract sizes)."""
        return None

    def frame_is_mine(self, head: str) -> bool:
        return False

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        return None, False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
