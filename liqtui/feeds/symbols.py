"""Map a ticker like ``BTC`` to each venue's instrument name (USDT-margined linear perpetuals).

``instrument("binance", "BTC") == "BTCUSDT"``, ``"bybit" -> "BTCUSDT"``, ``"okx" -> "BTC-USDT-SWAP"``,
``"hyperliquid" -> "BTC"``. A name that already is a venue instrument (``BTCUSDT``, ``BTC-USDT-SWAP``) is
accepted and normalised, so ``make_decoder(venue, symbol)`` takes either form.
"""

from __future__ import annotations

import re

from liqtui.core.events import Venue

__all__ = ["instrument", "base_of", "to_venue"]

_QUOTES = ("USDT", "USDC", "USD")
_BASE_RE = re.compile(r"^[A-Z0-9]{1,20}$")


def to_venue(venue: str | Venue) -> Venue:
    """Parse a venue name (case-insensitive) into :class:`Venue`, with a clear error listing valid names."""
    if isinstance(venue, Venue):
        return venue
    try:
        return Venue(str(venue).strip().lower())
    except ValueError:
        valid = ", ".join(v.value for v in Venue)
        raise ValueError(f"unknown venue {venue!r}; expected one of {valid}") from None


def base_of(symbol: str) -> str:
    """The base ticker of ``symbol``: ``BTC``, ``btcusdt``, ``BTC-USDT-SWAP``, ``BTC/USDT`` all give ``BTC``."""
    s = symbol.strip().upper()
    if not s:
        raise ValueError("symbol must not be empty")
    if "-" in s or "/" in s:
        s = re.split(r"[-/]", s, maxsplit=1)[0]
    else:
        for q in _QUOTES:
            if s.endswith(q) and len(s) > len(q):
                s = s[: -len(q)]
                break
    if not _BASE_RE.match(s):
        raise ValueError(f"invalid symbol {symbol!r}: expected a ticker like 'BTC' or an instrument name")
    return s


def instrument(venue: str | Venue, base: str) -> str:
    """The venue's instrument name for ``base`` (a ticker or any instrument spelling of it)."""
    v = to_venue(venue)
    b = base_of(base)
    if v is Venue.BINANCE or v is Venue.BYBIT:
        return f"{b}USDT"
    if v is Venue.OKX:
        return f"{b}-USDT-SWAP"
    return b
