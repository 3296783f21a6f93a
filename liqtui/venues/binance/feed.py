"""Binance USDⓈ-M futures: combined-stream URL, typed msgspec decoding, OI from REST polling.

Streams: ``<sym>@aggTrade``, ``<sym>@markPrice@1s``, ``<sym>@kline_1m``, ``<sym>@forceOrder`` on
``{ws}/stream?streams=...`` (``{ws}`` defaults to ``wss://fstream.binance.com/market``).
``<sym>@trade`` frames (older recordings) and bare, non-combined payloads decode too. There is no
open-interest stream: the REST body of ``GET /fapi/v1/openInterest`` is fed to the same decoder
(``decode``) and priced at the latest mark.

Side conventions: aggTrade/trade ``m`` true ⇒ the buyer was the maker ⇒ the taker sold. forceOrder ``S`` is
the forced *order* side: ``SELL`` closes (liquidates) a long.
"""

from __future__ import annotations

import msgspec

from liqtui.core.events import (
    Candle,
    FundingRate,
    MarketEvent,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Venue,
)
from liqtui.venues.base import (
    BAD_INPUT,
    INF,
    MAX_FRAME_BYTES,
    BaseDecoder,
    ConnSpec,
    SequenceTracker,
    bad_bar,
    bad_rate,
    interval_seconds,
)
from liqtui.venues.symbols import split_symbol

__all__ = ["MAX_AGE_S", "OI_PATH", "BinanceDecoder", "conn_specs", "instrument", "streams"]

OI_PATH = "/fapi/v1/openInterest"
#: Binance closes a connection after 24 h; replace it a little before.
MAX_AGE_S = 23.5 * 3600


class _AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade", gc=False):
    s: str
    p: float
    q: float
    T: int
    m: bool
    a: int = -1


class _RawTrade(msgspec.Struct, tag_field="e", tag="trade", gc=False):
    s: str
    p: float
    q: float
    T: int
    m: bool
    t: int = -1


class _Mark(msgspec.Struct, tag_field="e", tag="markPriceUpdate", gc=False):
    E: int
    s: str
    p: float
    i: float | None = None
    r: str = ""  # funding rate; "" on delivery contracts
    T: int = 0


class _K(msgspec.Struct, gc=False):
    t: int
    i: str
    o: float
    h: float
    l: float
    c: float
    v: float
    x: bool
    q: float | None = None
    V: float | None = None
    Q: float | None = None


class _Kline(msgspec.Struct, tag_field="e", tag="kline", gc=False):
    s: str
    k: _K


class _FO(msgspec.Struct, gc=False):
    s: str
    S: str
    q: float
    p: float
    T: int
    ap: float = 0.0
    z: float = 0.0


class _ForceOrder(msgspec.Struct, tag_field="e", tag="forceOrder", gc=False):
    o: _FO


_Payload = _AggTrade | _RawTrade | _Mark | _Kline | _ForceOrder


class _Combined(msgspec.Struct, gc=False):
    """A combined-stream envelope: only ``data`` is read (the payload names its symbol and event; the stream
    name is skipped, not decoded)."""

    data: _Payload


_ABSENT = msgspec.Raw(b"")


class _Generic(msgspec.Struct, gc=False):
    """Anything else: error replies, subscribe acks, the REST open-interest body, other event types."""

    stream: str | None = None
    data: msgspec.Raw = _ABSENT
    e: str | None = None
    result: msgspec.Raw = _ABSENT
    id: int | str | None = None
    error: msgspec.Raw = _ABSENT
    code: int | None = None
    msg: str | None = None
    openInterest: float | None = None
    symbol: str | None = None
    time: int | None = None


_COMBINED = msgspec.json.Decoder(_Combined, strict=False)
_decode_combined = _COMBINED.decode  # the per-frame call, bound once
_BARE = msgspec.json.Decoder(_Payload, strict=False)
_GENERIC = msgspec.json.Decoder(_Generic, strict=False)
_INNER = msgspec.json.Decoder(_Generic, strict=False)


def instrument(symbol: str) -> str:
    """``BTC`` → ``BTCUSDT``; an explicit quote is kept, a delivery suffix becomes ``BTCUSDT_250627``."""
    base, quote, suffix = split_symbol(symbol)
    quote = quote or "USDT"
    return f"{base}{quote}_{suffix}" if suffix and suffix.isdigit() else f"{base}{quote}"


def streams(symbol: str) -> list[str]:
    """The stream names liqtui subscribes to for ``symbol`` (any spelling: ``BTC``, ``BTCUSDT``)."""
    s = instrument(symbol).lower()
    return [f"{s}@aggTrade", f"{s}@markPrice@1s", f"{s}@kline_1m", f"{s}@forceOrder"]


#: The channel that must keep ticking (once a second) and the longest silence allowed.
MARK_SILENCE_S = 15.0


def conn_specs(symbol: str, ws_url: str) -> list[ConnSpec]:
    """One combined-stream connection; the server pings (websockets answers), markPrice@1s must tick."""
    url = f"{ws_url}/stream?streams={'/'.join(streams(symbol))}"
    return [
        ConnSpec(
            name="market",
            url=url,
            ping=None,
            stale_s=15.0,
            max_age_s=MAX_AGE_S,
            ticks=(("markPrice", MARK_SILENCE_S),),
        )
    ]


#: ``m`` true: the buyer was the maker, so the taker sold.
_SIDES = {True: TakerSide.SELL, False: TakerSide.BUY}
_LIQ_SIDES = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}  # the forced order side closes the other


#: Documented Binance USDⓈ-M market events liqtui does not consume: counted as ignored, not as errors.
UNUSED_EVENTS = frozenset(
    {"depthUpdate", "bookTicker", "24hrTicker", "24hrMiniTicker", "continuous_kline", "markPriceKline",
     "indexPriceKline", "compositeIndex", "assetIndexUpdate", "contractInfo"}
)  # fmt: skip


class BinanceDecoder(BaseDecoder):
    """Decoder of Binance USDⓈ-M market frames (combined or bare) and of the REST open-interest body."""

    venue = Venue.BINANCE

    def __init__(self, symbol: str) -> None:
        super().__init__(instrument(symbol))
        self._mark_price: float | None = None
        self._seq = SequenceTracker()
        self._pending_oi: tuple[float, int] | None = None  # OI polled before any price was known
        self._last_mark_ts = -1

    @property
    def last_price(self) -> float | None:
        """Latest mark price, else latest trade price: what prices the polled open interest in USD."""
        return self._mark_price if self._mark_price is not None else self.trade_price

    def decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        """Market payloads (combined-stream or bare) are decoded here, trades on the shortest path; anything
        else (replies, REST bodies, bad input) goes through :meth:`BaseDecoder.decode`. Never raises."""
        if len(frame) > MAX_FRAME_BYTES:
            return super().decode(frame, recv_ts)
        try:
            d = _decode_combined(frame).data
        except msgspec.DecodeError:
            try:
                d = _BARE.decode(frame)
            except msgspec.DecodeError:
                return super().decode(frame, recv_ts)  # replies, REST bodies, other events, bad input
        try:
            if type(d) is _AggTrade:
                tid = d.a
            elif type(d) is _RawTrade:
                tid = d.t
            else:
                return self._payload(d, recv_ts)
            seq = self._seq
            if tid == seq.last + 1 and d.s == self.symbol:  # the next id cannot be a duplicate: taken at once
                seq.last = tid
                return self.trade(d.s, None, d.p, d.q, d.m, d.T, recv_ts, _SIDES)
            return self.trade(d.s, tid if tid >= 0 else None, d.p, d.q, d.m, d.T, recv_ts, _SIDES)
        except BAD_INPUT as exc:
            self.failed(frame, exc)
            return []

    def seen_trade(self, key: int) -> bool:
        """Consecutive trade ids: a duplicate is dropped, a late id filling a gap is counted and kept."""
        seen = self._seq.check(key)
        if seen == SequenceTracker.DUPLICATE:
            self.duplicates += 1
            return True
        if seen == SequenceTracker.LATE:
            self.out_of_order += 1
        return False

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        return self._other(frame, recv_ts)  # not a market payload (see decode)

    def _payload(self, d: _Payload, recv_ts: int) -> list[MarketEvent]:
        cls = type(d)
        if (d.o.s if cls is _ForceOrder else d.s) != self.symbol:  # type: ignore[union-attr]
            self.ignored += 1
            return []
        if cls is _Mark:
            return self._mark(d, recv_ts)  # type: ignore[arg-type]
        if cls is _Kline:
            return [self._kline(d.k, recv_ts)]  # type: ignore[union-attr]
        return self._liquidation(d.o, recv_ts)  # type: ignore[union-attr]

    def _mark(self, d: _Mark, recv_ts: int) -> list[MarketEvent]:
        rate = float(d.r) if d.r else None
        if not 0.0 < d.p < INF or bad_rate(rate):
            raise ValueError(f"bad mark price/funding {d.p}/{rate}")
        self.tick("markPrice")
        if d.E <= self._last_mark_ts:
            if d.E == self._last_mark_ts:
                self.duplicates += 1
            else:
                self.out_of_order += 1
            return []
        self._last_mark_ts = d.E
        self._mark_price = d.p
        nxt = d.T or None
        out: list[MarketEvent] = [
            MarkPrice(
                venue=Venue.BINANCE,
                symbol=self.symbol,
                ts=d.E,
                recv_ts=recv_ts,
                mark=d.p,
                index=d.i,
                funding_rate=rate,
                next_funding_ts=nxt,
            )
        ]
        if rate is not None:
            out.append(
                FundingRate(
                    venue=Venue.BINANCE,
                    symbol=self.symbol,
                    ts=d.E,
                    recv_ts=recv_ts,
                    rate=rate,
                    next_funding_ts=nxt,
                )
            )
        if self._pending_oi is not None:
            base, ts = self._pending_oi
            self._pending_oi = None
            out.append(self._oi_event(base, ts, recv_ts))
        return out

    def _kline(self, k: _K, recv_ts: int) -> Candle:
        if bad_bar(k.o, k.h, k.l, k.c, k.v):
            raise ValueError(f"inconsistent kline o={k.o} h={k.h} l={k.l} c={k.c}")
        return Candle(
            venue=Venue.BINANCE,
            symbol=self.symbol,
            ts=k.t,
            recv_ts=recv_ts,
            interval_s=interval_seconds(k.i),
            open=k.o,
            high=k.h,
            low=k.l,
            close=k.c,
            volume=k.v,
            quote_volume=k.q,
            taker_buy_volume=k.V,
            taker_buy_quote=k.Q,
            closed=k.x,
        )

    def _liquidation(self, o: _FO, recv_ts: int) -> list[MarketEvent]:
        price = o.ap if o.ap > 0.0 else o.p
        qty = o.z if o.z > 0.0 else o.q
        return self.liquidations(((o.s, o.S, price, qty, o.T),), _LIQ_SIDES, recv_ts)

    # -- everything that is not a market payload ------------------------------------------------------
    def _other(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        g = _GENERIC.decode(frame)  # malformed JSON raises here -> counted by decode()
        if g.openInterest is not None:
            return self._rest_oi(g, frame, recv_ts)
        if g.error or (g.code is not None and g.code < 0):
            msg = g.msg or bytes(g.error).decode("utf-8", "replace")
            if g.code == -1121 or "symbol" in msg.lower():
                self.refused(frame, msg)
            else:
                self.bad("exchange_error", frame, msg)
            return []
        if g.result or g.id is not None:
            self.control += 1
            return []
        event = g.e
        if g.data:
            event = _INNER.decode(g.data).e
        if event is None:
            self.bad("unexpected", frame, "not a Binance market frame")
        elif event in ("aggTrade", "trade", "markPriceUpdate", "kline", "forceOrder"):
            # one of our event types that failed its typed decode: a field has the wrong type or is missing
            _BARE.decode(g.data if g.data else frame)
            self.bad("wrong_type", frame, f"{event} frame did not validate")
        elif event in UNUSED_EVENTS:
            self.ignored += 1  # a Binance stream we do not use (e.g. depth in a third-party recording)
        else:
            self.bad("unexpected", frame, f"unexpected event type {event!r}")
        return []

    def _rest_oi(self, g: _Generic, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        if g.symbol is not None and g.symbol != self.symbol:
            self.ignored += 1
            return []
        base = float(g.openInterest or 0.0)
        if not 0.0 <= base < INF:
            raise ValueError(f"bad open interest {base}")
        ts = g.time or recv_ts
        if self.last_price is None:
            self._pending_oi = (base, ts)
            return []
        return [self._oi_event(base, ts, recv_ts)]

    def _oi_event(self, base: float, ts: int, recv_ts: int) -> OpenInterest:
        price = self.last_price or 0.0
        return OpenInterest(
            venue=Venue.BINANCE, symbol=self.symbol, ts=ts, recv_ts=recv_ts, base=base, usd=base * price
        )
