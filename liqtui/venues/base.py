"""What every venue shares: decoders' error accounting and logging, duplicate detection, the one trade and
liquidation loop, connection specs, the one retry backoff and the feed errors.

A decoder is pure and synchronous: ``decode(frame, recv_ts) -> list[MarketEvent]`` never raises. Bad input
(malformed JSON, wrong types, unexpected event types, exchange error replies) is counted per kind in
``error_kinds`` and in ``errors``, and logged on logger ``liqtui.feeds`` with the venue and a short excerpt.
Valid frames that are simply not ours (another symbol, a channel we did not ask for) are counted in
``ignored``. A refusal of our subscription by the exchange (unknown symbol...) is kept in ``refusal`` so the
connection manager can report a clear failure.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import msgspec

from liqtui.core.events import Liquidation, MarketEvent, PositionSide, TakerSide, Trade, Venue

__all__ = [
    "BAD_INPUT",
    "INF",
    "MAX_FRAME_BYTES",
    "Backoff",
    "BaseDecoder",
    "ConnSpec",
    "Decoder",
    "FeedError",
    "RecentKeys",
    "SequenceTracker",
    "SymbolRefused",
    "TradeLayout",
    "bad_bar",
    "bad_rate",
    "excerpt",
    "interval_seconds",
    "log",
]

log = logging.getLogger("liqtui.feeds")

#: Frames larger than this are refused by the websocket client and by ``decode`` (counted as ``oversized``).
#: The largest legitimate frame we subscribe to is a Bybit publicTrade batch (<= 1024 trades, ~200 KiB).
MAX_FRAME_BYTES = 4 * 1024 * 1024

INF = math.inf


def bad_bar(o: float, h: float, low: float, c: float, v: float) -> bool:
    """True for an OHLCV bar that cannot be real: NaN/inf, non-positive low, high/low not enclosing o/c,
    negative volume. (Comparisons with NaN are false, so the chained checks reject it.)"""
    return not (0.0 < low <= o <= h < INF and low <= c <= h and 0.0 <= v < INF)


def bad_rate(x: float | None) -> bool:
    """True for a funding rate that is NaN or infinite."""
    return x is not None and not -INF < x < INF


#: What bad input can raise inside a decoder (anything else is a bug and propagates).
BAD_INPUT = (msgspec.DecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)

_LOG_FIRST = 20  # log every bad frame up to this many per kind, then one in _LOG_EVERY
_LOG_EVERY = 1000


@runtime_checkable
class Decoder(Protocol):
    """One per venue and symbol, pure and synchronous."""

    venue: Venue
    errors: int

    def decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        """Normalised events of one raw frame; never raises (bad input is counted in ``errors``)."""
        ...


def excerpt(frame: str | bytes, n: int = 120) -> str:
    """A short printable excerpt of a frame, for logs and error messages."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        text = bytes(frame[: n * 4]).decode("utf-8", "replace")
    else:
        text = frame[: n * 4]
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= n else text[: n - 1] + "…"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000}


def interval_seconds(interval: str) -> int:
    """Seconds of a candle interval: ``"1m"`` -> 60, ``"4h"`` -> 14400, ``"1D"``/``"D"`` -> 86400;
    Bybit minutes ``"15"`` -> 900."""
    s = interval.strip()
    if s.isdigit():  # Bybit: minutes
        return int(s) * 60
    if s in ("D", "W", "M"):  # Bybit day/week/month
        s = "1" + s
    unit = s[-1:]
    if unit in ("D", "W", "H"):  # OKX upper-case 1D / 1W / 1H
        unit = unit.lower()
    num = s[:-1]
    if unit not in _UNITS or not num.isdigit():
        raise ValueError(f"unknown candle interval {interval!r}")
    return int(num) * _UNITS[unit]


class RecentKeys:
    """A bounded set of recently seen keys (trade ids...), to drop duplicated messages cheaply."""

    __slots__ = ("_cap", "_order", "_set")

    def __init__(self, capacity: int = 8192) -> None:
        self._set: set[Hashable] = set()
        self._order: deque[Hashable] = deque()
        self._cap = capacity

    def seen(self, key: Hashable) -> bool:
        """True when ``key`` was seen recently; otherwise remember it and return False."""
        if key in self._set:
            return True
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._cap:
            self._set.discard(self._order.popleft())
        return False

    def clear(self) -> None:
        """Forget everything."""
        self._set.clear()
        self._order.clear()


class SequenceTracker:
    """Duplicate / late detection for consecutive ids (Binance trade and aggTrade ids) in O(1) per id.

    Ids above the highest seen are new (skipped ids are remembered as gaps, up to ``max_gap``); an id at or
    below it is *late* when it fills a remembered gap and a *duplicate* otherwise.
    """

    NEW = 0
    LATE = 1
    DUPLICATE = 2

    __slots__ = ("_gaps", "_max_gap", "last")

    def __init__(self, max_gap: int = 4096) -> None:
        self.last = -1
        self._gaps: set[int] = set()
        self._max_gap = max_gap

    def check(self, i: int) -> int:
        """Classify id ``i`` (and remember it)."""
        last = self.last
        if i > last:
            if last >= 0 and i != last + 1:
                if i - last <= self._max_gap:
                    self._gaps.update(range(last + 1, i))
                if len(self._gaps) > 4 * self._max_gap:
                    floor = i - self._max_gap
                    self._gaps = {g for g in self._gaps if g > floor}
            self.last = i
            return self.NEW
        if i in self._gaps:
            self._gaps.discard(i)
            return self.LATE
        return self.DUPLICATE


class ConnSpec(msgspec.Struct, frozen=True):
    """One websocket connection of a venue: where, what to send after connecting, and how to keep it alive.

    ``ping`` is the venue's application-level keepalive text (``None``: the server pings and websockets
    answers). ``stale_s`` is how long without any frame at all (pongs and acks included) counts as a stalled
    socket. ``ticks`` names the market-data channels of this connection that must keep ticking (mark price,
    tickers...) with the longest silence allowed for each: one going quiet past its limit marks the venue
    stale even while pongs still arrive (the decoder counts each channel in ``BaseDecoder.ticks``). Trade
    channels are never listed: a quiet trade channel on an illiquid symbol is not a fault. ``max_age_s``
    forces a seamless replacement of a connection before the venue's lifetime cap (Binance: 24 h).
    """

    name: str
    url: str
    subscribe: tuple[str, ...] = ()
    ping: str | None = None
    ping_interval_s: float = 20.0
    stale_s: float = 30.0
    max_age_s: float | None = None
    ticks: tuple[tuple[str, float], ...] = ()


class FeedError(Exception):
    """A venue cannot be served (retrying will not help); the message says why."""


class SymbolRefused(FeedError):
    """The exchange says the symbol does not exist (or refused it)."""


class Backoff:
    """Capped exponential backoff with jitter: ``min(cap, base·2^(n-1)) · U(lo, hi)`` before attempt n.

    The one retry policy of liqtui: websocket reconnects, REST polls and history pages all use it. The jitter
    range defaults to (0.5, 1.0); the backfill uses (0.5, 1.5)."""

    def __init__(
        self,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        rng: random.Random | None = None,
        *,
        jitter: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base ({base_s}) <= cap ({cap_s})")
        if not 0.0 <= jitter[0] <= jitter[1]:
            raise ValueError(f"backoff jitter needs 0 <= low <= high, got {jitter}")
        self.base_s = base_s
        self.cap_s = cap_s
        self.jitter = jitter
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (1-based)."""
        raw = min(self.cap_s, self.base_s * (2.0 ** max(0, min(attempt - 1, 30))))
        return raw * self._rng.uniform(*self.jitter)


class TradeLayout(NamedTuple):
    """How to read one venue's trade rows: ``fields(row) -> (symbol, trade id, price, size, side code, ts)``
    (an ``operator.attrgetter`` of the row's fields; an id of ``None`` or ``""`` means none) and the taker
    side of each side code."""

    fields: Callable[[Any], Any]
    sides: Mapping[Any, TakerSide]


class BaseDecoder:
    """Shared bookkeeping for the venue decoders; subclasses implement ``_decode``."""

    venue: Venue

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.ignored = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.control = 0  # acks, pongs and other protocol frames without market data
        self.refusal: str | None = None
        self.trade_price: float | None = None  # price of the latest trade emitted
        self.ticks: dict[str, int] = {}  # frames per must-tick channel (see ConnSpec.ticks)
        self._trade_ids = RecentKeys()
        self._misc_keys = RecentKeys(1024)

    def decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        """Normalised events of one frame; bad input is counted and logged, never raised."""
        try:
            if len(frame) > MAX_FRAME_BYTES:
                self.bad("oversized", frame, f"{len(frame)} bytes > {MAX_FRAME_BYTES}")
                return []
            return self._decode(frame, recv_ts)
        except BAD_INPUT as exc:
            self.failed(frame, exc)
        return []

    def failed(self, frame: str | bytes, exc: Exception) -> None:
        """Count a frame whose decoding raised one of :data:`BAD_INPUT`."""
        if isinstance(exc, msgspec.DecodeError):
            kind = "wrong_type" if isinstance(exc, msgspec.ValidationError) else "malformed"
            self.bad(kind, frame, str(exc))
        else:
            self.bad("wrong_type", frame, f"{type(exc).__name__}: {exc}")

    def reset(self) -> None:
        """Forget per-connection state (called on reconnect); counters are kept."""
        self.refusal = None

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        raise NotImplementedError

    # -- the one trade and liquidation loop ------------------------------------------------------------
    def trades(
        self,
        rows: Iterable[Any],
        layout: TradeLayout,
        recv_ts: int,
        to_base: Callable[[float, float], float] | None = None,
    ) -> list[MarketEvent]:
        """Trades of a batch of ``rows`` read through ``layout``, each by :meth:`trade`."""
        get, sides = layout
        trade = self.trade
        out: list[MarketEvent] = []
        for r in rows:
            sym, key, p, q, side_code, ts = get(r)
            out += trade(sym, key, p, q, side_code, ts, recv_ts, sides, to_base)
        return out

    def trade(
        self,
        sym: str,
        key: Any,
        p: float,
        q: float,
        side_code: Any,
        ts: int,
        recv_ts: int,
        sides: Mapping[Any, TakerSide],
        to_base: Callable[[float, float], float] | None = None,
    ) -> list[MarketEvent]:
        """The one trade step of every venue: filter the symbol → skip duplicates (``key``: the trade id; None
        or ``""`` for none) → check price/size → side → ``[Trade]`` (``[]`` when skipped). ``to_base(size,
        price)`` converts a size in contracts to base units. A bad row raises ``ValueError`` (counted by
        :meth:`decode`)."""
        if sym != self.symbol:
            self.ignored += 1
            return []
        if key is not None and key != "" and self.seen_trade(key):
            return []
        if not (0.0 < p < INF and 0.0 <= q < INF):
            raise ValueError(f"bad trade price/size {p}/{q}")
        try:
            side = sides[side_code]
        except KeyError:
            raise ValueError(f"unknown trade side {side_code!r}") from None
        self.trade_price = p
        if to_base is not None:
            q = to_base(q, p)
        return [Trade(venue=self.venue, symbol=sym, ts=ts, recv_ts=recv_ts, price=p, qty=q, side=side)]

    def liquidations(
        self,
        rows: Iterable[tuple[str, Any, float, float, int]],
        sides: Mapping[Any, PositionSide],
        recv_ts: int,
        to_base: Callable[[float, float], float] | None = None,
    ) -> list[MarketEvent]:
        """Liquidations of ``(symbol, side code, price, size, ts)`` rows, the same steps as :meth:`trades`
        (duplicates are recognised by all four values); ``sides`` maps a side code to the *position* side."""
        out: list[MarketEvent] = []
        me = self.symbol
        for sym, s, p, q, ts in rows:
            if sym != me:
                self.ignored += 1
                continue
            if self.dup_misc((ts, s, p, q)):
                continue
            if not (0.0 < p < INF and 0.0 < q < INF):
                raise ValueError(f"bad liquidation price/size {p}/{q}")
            side = sides.get(s)
            if side is None:
                raise ValueError(f"unknown liquidation side {s!r}")
            qty = q if to_base is None else to_base(q, p)
            out.append(
                Liquidation(
                    venue=self.venue,
                    symbol=me,
                    ts=ts,
                    recv_ts=recv_ts,
                    side=side,
                    price=p,
                    qty=qty,
                    usd=p * qty,
                )
            )
        return out

    def seen_trade(self, key: Any) -> bool:
        """True (and counted) for a trade id already emitted; venues with consecutive ids override this."""
        return self.dup_trade(key)

    def tick(self, channel: str) -> None:
        """A frame of a must-tick channel (mark price, tickers...) arrived for our symbol."""
        self.ticks[channel] = self.ticks.get(channel, 0) + 1

    # -- helpers for subclasses -------------------------------------------------------------------------
    def bad(self, kind: str, frame: str | bytes, detail: str) -> None:
        """Count and (rate-limited) log one bad frame."""
        self.errors += 1
        self.error_kinds[kind] += 1
        n = self.error_kinds[kind]
        if n <= _LOG_FIRST or n % _LOG_EVERY == 0:
            log.warning("%s: %s frame #%d (%s): %s", self.venue.value, kind, n, detail[:200], excerpt(frame))

    def refused(self, frame: str | bytes, message: str) -> None:
        """The exchange refused our subscription: remember a clear message naming the symbol."""
        self.refusal = f"{self.venue.value} refused the subscription for {self.symbol}: {message}"
        self.bad("exchange_error", frame, message)

    def dup_trade(self, key: Hashable) -> bool:
        """True (and counted) when a trade with this id was already emitted."""
        if self._trade_ids.seen(key):
            self.duplicates += 1
            return True
        return False

    def dup_misc(self, key: Hashable) -> bool:
        """True (and counted) for a repeated liquidation or other id-less message."""
        if self._misc_keys.seen(key):
            self.duplicates += 1
            return True
        return False

    def stats(self) -> dict[str, int]:
        """Counters of this decoder, for status displays and tests."""
        return {
            "errors": self.errors,
            "ignored": self.ignored,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "control": self.control,
            **{f"error_{k}": v for k, v in self.error_kinds.items()},
        }
