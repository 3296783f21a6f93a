"""Desk mode: one collector, many screens, over NATS JetStream.

``liqtui collect --bus nats://HOST:4222`` publishes what its feeds hear, and ``liqtui --bus URL`` /
``liqtui zones --bus URL`` read it back (the ``bus`` kind of :class:`liqtui.sources.Source`) instead of
connecting to the exchanges: history by replaying the stream from the lookback's start, then live.

Subjects (version 1): ``liqtui.v1.<venue>.<TICKER>.<kind>``, e.g. ``liqtui.v1.binance.BTC.trade``. The ticker is
the base (``BTC``), the same on every venue; each event carries the venue's own instrument name. Kinds:

* ``trade``, ``mark``, ``oi``, ``funding``, ``candle`` (closed 1m bars and, where a venue sends them, open ones),
  ``liquidation``, ``status``: a :class:`~liqtui.bus.codec.Batch` of :mod:`liqtui.core.events` Structs,
  msgpack-encoded (msgspec), oldest first;
* ``history``: a :class:`~liqtui.bus.codec.History` chunk of model bars (:data:`liqtui.core.model.BAR_DTYPE`,
  the open interest summed over the collector's venues) that the collector publishes once its backfill is in,
  so a screen starting later steps months of bars from the stream without asking any exchange.

Every payload carries its format version ``v``; a reader skips (and counts) a version newer than it reads.
All of this is pure Python over the optional ``nats-py`` client, imported only here (``pip install
'liqtui[bus]'``): nothing of NATS is needed to run liqtui alone.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_STREAM",
    "KINDS",
    "SUBJECT_PREFIX",
    "BusError",
    "BusOptions",
    "CollectOptions",
    "event_kind",
    "import_nats",
    "subject",
    "symbol_filter",
]

import msgspec

SUBJECT_PREFIX = "liqtui.v1"
DEFAULT_STREAM = "LIQTUI"
#: What travels on a subject's last token.
KINDS: tuple[str, ...] = ("trade", "mark", "oi", "funding", "candle", "liquidation", "status", "history")
_EVENT_KINDS = {
    "Trade": "trade",
    "MarkPrice": "mark",
    "OpenInterest": "oi",
    "FundingRate": "funding",
    "Candle": "candle",
    "Liquidation": "liquidation",
    "FeedStatus": "status",
}


class BusError(RuntimeError):
    """The bus cannot be used (client missing, bad URL or file, server refused): one line saying which."""


class BusOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How to reach the bus (the config's ``[bus]`` section, overridden by ``--bus*`` flags).

    ``url``: one or more ``nats://`` / ``tls://`` URLs, comma-separated ("" = desk mode off). ``creds``: a NATS
    ``.creds`` file (user JWT + NKey seed). ``tls_ca``: a CA bundle to verify the server; ``tls_cert`` and
    ``tls_key``: a client certificate. ``stream``: the JetStream stream name. ``max_age_days`` / ``max_bytes``:
    the stream's retention limits, set by the collector (max age at least the longest lookback a screen uses:
    a screen replays that much). ``max_bytes`` -1 = no limit."""

    url: str = ""
    creds: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    stream: str = DEFAULT_STREAM
    max_age_days: float = 190.0
    max_bytes: int = 20 * 1024**3

    def __post_init__(self) -> None:
        if not self.stream or not self.stream.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"stream {self.stream!r}: use letters, digits, '-' and '_' only")
        if not self.max_age_days > 0:
            raise ValueError(f"max_age_days must be > 0 (days the stream keeps), got {self.max_age_days!r}")
        if self.max_bytes == 0 or self.max_bytes < -1:
            raise ValueError(f"max_bytes must be > 0, or -1 for no limit, got {self.max_bytes!r}")

    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


class CollectOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``liqtui collect`` (the config's ``[collect]`` section): ``symbols`` to follow (default: the config's
    ``symbol``) and how far back each backfills and publishes (``lookback``)."""

    symbols: list[str] = msgspec.field(default_factory=list)
    lookback: str = "6M"

    def __post_init__(self) -> None:
        from liqtui.core.model import LOOKBACKS

        if self.lookback not in LOOKBACKS:
            raise ValueError(f"lookback must be one of {' '.join(LOOKBACKS)}, got {self.lookback!r}")
        for s in self.symbols:
            if not (isinstance(s, str) and s.isalnum() and len(s) <= 20):
                raise ValueError(f"symbols: {s!r} is not a ticker such as BTC, ETH or SOL")


def subject(venue: str, ticker: str, kind: str) -> str:
    """``liqtui.v1.<venue>.<TICKER>.<kind>``."""
    return f"{SUBJECT_PREFIX}.{venue}.{ticker.upper()}.{kind}"


def symbol_filter(ticker: str) -> str:
    """Every venue's and kind's subject of one ticker."""
    return f"{SUBJECT_PREFIX}.*.{ticker.upper()}.>"


def event_kind(ev: Any) -> str:
    """The subject kind of a :mod:`liqtui.core.events` Struct."""
    return _EVENT_KINDS[type(ev).__name__]


def import_nats() -> Any:
    """The ``nats`` package, or a :class:`BusError` saying how to install it."""
    try:
        import nats
    except ImportError:
        raise BusError(
            "desk mode (--bus) needs the NATS client: pip install 'liqtui[bus]' (nats-py)"
        ) from None
    return nats
