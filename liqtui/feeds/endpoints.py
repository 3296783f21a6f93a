"""Venue endpoints as configuration: default URLs and ``--endpoint VENUE[.rest]=URL`` overrides.

The same feed code runs against the exchanges or a local server (tests, the demo simulator) by changing only
these URLs. ``Endpoints`` holds one websocket base and one REST base per venue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import msgspec

from liqtui.core.events import Venue
from liqtui.venues import ADAPTERS, adapter
from liqtui.venues.symbols import to_venue

__all__ = ["DEFAULT_REST", "DEFAULT_WS", "Endpoints", "parse_endpoint"]

#: Websocket and REST bases of the registered venues (each adapter states its own).
DEFAULT_WS: dict[Venue, str] = {a.venue: a.default_ws for a in ADAPTERS.values()}
DEFAULT_REST: dict[Venue, str] = {a.venue: a.default_rest for a in ADAPTERS.values()}


def _check_url(url: str, kind: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    allowed = ("ws", "wss") if kind == "ws" else ("http", "https")
    if parts.scheme not in allowed or not parts.netloc:
        expected = " or ".join(f"{s}://host..." for s in allowed)
        raise ValueError(f"invalid {kind} URL {url!r}: expected {expected}")
    return url.rstrip("/")


class Endpoints(msgspec.Struct, frozen=True):
    """Websocket and REST base URL per venue (defaults are the public production endpoints)."""

    ws: dict[Venue, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_WS))
    rest: dict[Venue, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_REST))

    def ws_url(self, venue: str | Venue) -> str:
        """Websocket base URL of ``venue``."""
        v = to_venue(venue)
        return self.ws.get(v) or adapter(v).default_ws

    def rest_url(self, venue: str | Venue) -> str:
        """REST base URL of ``venue``."""
        v = to_venue(venue)
        return self.rest.get(v) or adapter(v).default_rest

    def with_override(self, venue: str | Venue, kind: str, url: str) -> Endpoints:
        """A copy with one URL replaced; ``kind`` is ``"ws"`` or ``"rest"``."""
        v = to_venue(venue)
        if kind not in ("ws", "rest"):
            raise ValueError(f"endpoint kind must be 'ws' or 'rest', got {kind!r}")
        ws, rest = dict(self.ws), dict(self.rest)
        (ws if kind == "ws" else rest)[v] = _check_url(url, kind)
        return Endpoints(ws=ws, rest=rest)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, str] | Iterable[str] | None = None) -> Endpoints:
        """Defaults plus overrides given as a config mapping ``{"okx": url, "binance.rest": url}`` or as CLI
        strings ``["okx=url", "binance.rest=url"]``."""
        ep = cls()
        if not overrides:
            return ep
        items: Iterable[tuple[str, str, str]]
        if isinstance(overrides, Mapping):
            items = (parse_endpoint(f"{k}={v}") for k, v in overrides.items())
        else:
            items = (parse_endpoint(s) for s in overrides)
        for venue, kind, url in items:
            ep = ep.with_override(venue, kind, url)
        return ep


def parse_endpoint(s: str) -> tuple[str, str, str]:
    """Parse ``VENUE=URL`` (websocket) or ``VENUE.rest=URL`` into ``(venue, "ws" | "rest", url)``."""
    key, sep, url = s.partition("=")
    if not sep or not url.strip():
        raise ValueError(f"invalid endpoint {s!r}: expected VENUE=URL or VENUE.rest=URL")
    name, dot, kind = key.strip().partition(".")
    kind = kind.lower() if dot else "ws"
    if kind not in ("ws", "rest"):
        raise ValueError(f"invalid endpoint {s!r}: the part after the venue must be '.rest' (or nothing)")
    venue = to_venue(name).value
    return venue, kind, _check_url(url, kind)
