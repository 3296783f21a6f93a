"""Normalised market events: what every exchange adapter produces and the model consumes.

Pure: numpy/msgspec/stdlib only. Every event carries the venue, the venue's own instrument name
(``symbol``, e.g. ``BTCUSDT`` on Binance, ``BTC-USDT-SWAP`` on OKX, ``BTC`` on Hyperliquid), the
exchange timestamp ``ts`` and the local receive timestamp ``recv_ts``, both in integer milliseconds
since the Unix epoch.

Side conventions are explicit types, never strings guessed at each use:

* :class:`TakerSide` is the side of the *aggressor* of a trade (``BUY`` lifted the ask).
* :class:`PositionSide` is the side of a *position*; a :class:`Liquidation` carries the side of the
  position that was force-closed (a liquidated long is executed as a forced *sell* order).

Both are ``IntEnum`` with the sign usable in arithmetic (+1 long/buy, -1 short/sell).
"""

from __future__ import annotations

import enum

import msgspec

__all__ = [
    "VENUES",
    "Candle",
    "FeedState",
    "FeedStatus",
    "FundingRate",
    "Liquidation",
    "MarkPrice",
    "MarketEvent",
    "OpenInterest",
    "PositionSide",
    "TakerSide",
    "Trade",
    "Venue",
]


class Venue(str, enum.Enum):
    """Exchanges liqtui speaks to. The value is the name used in config and on the CLI."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    HYPERLIQUID = "hyperliquid"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


VENUES: tuple[str, ...] = tuple(v.value for v in Venue)


class TakerSide(enum.IntEnum):
    """Side of the aggressor (taker) of a trade."""

    BUY = 1
    SELL = -1

    @classmethod
    def from_buyer_is_maker(cls, m: bool) -> TakerSide:
        """Binance ``m`` flag: true means the buyer was the maker, so the taker *sold*."""
        return cls.SELL if m else cls.BUY


class PositionSide(enum.IntEnum):
    """Side of a position. ``LONG`` positions are liquidated by a forced *sell*."""

    LONG = 1
    SHORT = -1

    @classmethod
    def from_str(cls, s: str) -> PositionSide:
        s2 = s.strip().lower()
        if s2 == "long":
            return cls.LONG
        if s2 == "short":
            return cls.SHORT
        raise ValueError(f"position side must be 'long' or 'short', got {s!r}")

    @classmethod
    def liquidated_by_order_side(cls, order_side: TakerSide) -> PositionSide:
        """A forced SELL order closes a LONG; a forced BUY closes a SHORT (Binance, OKX)."""
        return cls.LONG if order_side is TakerSide.SELL else cls.SHORT


class FeedState(str, enum.Enum):
    """Connection state of one venue's feed, for the status line."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


class _Event(msgspec.Struct, kw_only=True, gc=False):
    venue: Venue
    symbol: str
    ts: int
    recv_ts: int


class Trade(_Event, kw_only=True, gc=False, tag="trade"):
    price: float
    qty: float  # base units
    side: TakerSide


class MarkPrice(_Event, kw_only=True, gc=False, tag="mark"):
    mark: float
    index: float | None = None
    funding_rate: float | None = None
    next_funding_ts: int | None = None


class OpenInterest(_Event, kw_only=True, gc=False, tag="oi"):
    """Open interest, one side (comparable across venues), in base units and in USD."""

    base: float
    usd: float


class FundingRate(_Event, kw_only=True, gc=False, tag="funding"):
    rate: float
    next_funding_ts: int | None = None


class Candle(_Event, kw_only=True, gc=False, tag="candle"):
    """OHLCV bar. ``ts`` is the bar's open time; ``closed`` is true once the bar is final."""

    interval_s: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    quote_volume: float | None = None  # USD
    taker_buy_volume: float | None = None  # base units; None where the venue does not publish it
    taker_buy_quote: float | None = None
    closed: bool = True

    @property
    def close_ts(self) -> int:
        return self.ts + self.interval_s * 1000

    @property
    def vwap(self) -> float:
        if self.quote_volume and self.volume > 0:
            return self.quote_volume / self.volume
        return (self.high + self.low + self.close) / 3.0

    @property
    def taker_buy_share(self) -> float | None:
        if self.taker_buy_volume is None or self.volume <= 0:
            return None
        return min(1.0, max(0.0, self.taker_buy_volume / self.volume))


class Liquidation(_Event, kw_only=True, gc=False, tag="liquidation"):
    """A realized liquidation. ``side`` is the side of the *liquidated position*."""

    side: PositionSide
    price: float
    qty: float  # base units
    usd: float


class FeedStatus(_Event, kw_only=True, gc=False, tag="status"):
    """Connection status change of one venue's feed (``symbol`` is the venue instrument)."""

    state: FeedState
    attempt: int = 0
    reason: str = ""


MarketEvent = Trade | MarkPrice | OpenInterest | FundingRate | Candle | Liquidation | FeedStatus
