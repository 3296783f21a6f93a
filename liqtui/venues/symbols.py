"""Venue names and symbols: parse a venue name, split any spelling of a symbol, and map a ticker like ``BTC``
to a venue's instrument name (each venue's adapter knows its own spelling).

``instrument("binance", "BTC") == "BTCUSDT"``, ``"bybit" -> "BTCUSDT"``, ``"okx" -> "BTC-USDT-SWAP"``,
``"hyperliquid" -> "BTC"``. A name that already is a venue instrument (``BTCUSDT``, ``BTC-USDT-SWAP``) is
accepted and normalised, so ``make_decoder(venue, symbol)`` takes either form.
"""

from __future__ import annotations

import re

from liqtui.core.events import Venue

__all__ = ["base_of", "instrument", "split_symbol", "to_venue"]

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
_BASE_RE = re.compile(r"^[A-Z0-9]{1,20}$")


def to_venue(venue: str | Venue) -> Venue:
    """Parse a venue name (case-insensitive) into the venue of its registered adapter (a :class:`Venue`), with
    a clear error listing the valid names."""
    if isinstance(venue, Venue):
        return venue
    from liqtui.venues import adapter  # the registry imports the venue packages, which import this module

    return adapter(venue).venue


def split_symbol(symbol: str) -> tuple[str, str | None, str | None]:
    """``(base, quote, suffix)`` of any spelling: ``BTC`` → (BTC, None, None),
    ``btcusdt`` → (BTC, USDT, None), ``BTC-USD-220527`` → (BTC, USD, 220527),
    ``BTC/USDT`` → (BTC, USDT, None)."""
    s = symbol.strip().upper()
    if not s:
        raise ValueError("symbol must not be empty")
    quote: str | None = None
    suffix: str | None = None
    if "-" in s or "/" in s:
        parts = re.split(r"[-/]", s)
        base = parts[0]
        quote = parts[1] if len(parts) > 1 and parts[1] else None
        suffix = "-".join(parts[2:]) or None
    else:
        s, _, delivery = s.partition("_")  # Binance delivery contracts: BTCUSDT_250627
        suffix = delivery or None
        base = s
        for q in _QUOTES:
            if s.endswith(q) and len(s) > len(q):
                base, quote = s[: -len(q)], q
                break
    for part in (base, quote, suffix):
        if part is not None and not _BASE_RE.match(part.replace("-", "")):
            raise ValueError(f"invalid symbol {symbol!r}: expected a ticker like 'BTC' or an instrument name")
    return base, quote, suffix


def base_of(symbol: str) -> str:
    """The base ticker of ``symbol``: ``BTC``, ``btcusdt``, ``BTC-USDT-SWAP``, ``BTC/USDT`` give ``BTC``."""
    return split_symbol(symbol)[0]


def instrument(venue: str | Venue, symbol: str) -> str:
    """The venue's instrument name for ``symbol`` (a ticker, or any venue's spelling of an instrument).

    A bare ticker means the USDT-margined perpetual; an explicit quote (``BTCUSD``) or OKX suffix
    (``BTC-USD-220527``) is kept."""
    from liqtui.venues import adapter

    return adapter(venue).instrument(symbol)
