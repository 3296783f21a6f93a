"""Hyperliquid perpetuals: trades, activeAssetCtx (mark, funding, open interest), 1m candles.

Subscriptions ``{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}``, ``activeAssetCtx``
and ``candle`` (interval ``1m``); keepalive ``{"method":"ping"}`` answered by ``{"channel":"pong"}``.
``side`` ``B``/``A`` is the taker side (B = buyer lifted the ask). ``ctx.openInterest`` is in coins; USD =
coins × ``markPx``. The context has no timestamp: its events use the receive time. Candles carry no
"closed" flag: a candle is emitted as closed when the next interval's first update arrives.
Hyperliquid publishes no liquidation stream.
"""

from __future__ import annotations

from operator import attrgetter

import msgspec

from liqtui.core.events import (
    Candle,
    FundingRate,
    MarketEvent,
    MarkPrice,
    OpenInterest,
    TakerSide,
    Venue,
)
from liqtui.venues.base import INF, BaseDecoder, ConnSpec, TradeLayout, bad_bar, bad_rate, interval_seconds
from liqtui.venues.symbols import split_symbol

__all__ = ["PING", "HyperliquidDecoder", "conn_specs", "instrument", "subscriptions"]

PING = '{"method":"ping"}'
_ABSENT = msgspec.Raw(b"")


class _Env(msgspec.Struct, gc=False):
    channel: str = ""
    data: msgspec.Raw = _ABSENT


class _HTrade(msgspec.Struct, gc=False):
    coin: str
    side: str
    px: float
    sz: float
    time: int
    tid: int | None = None


class _Ctx(msgspec.Struct, gc=False):
    markPx: float
    openInterest: float
    funding: float
    oraclePx: float | None = None


class _AssetCtx(msgspec.Struct, gc=False):
    coin: str
    ctx: _Ctx


class _HCandle(msgspec.Struct, gc=False):
    t: int
    s: str
    i: str
    o: float
    c: float
    h: float
    l: float
    v: float


_ENV = msgspec.json.Decoder(_Env)
_TRADES = msgspec.json.Decoder(list[_HTrade], strict=False)
_CTX = msgspec.json.Decoder(_AssetCtx, strict=False)
_CANDLE = msgspec.json.Decoder(_HCandle, strict=False)


_TRADE_LAYOUT = TradeLayout(
    attrgetter("coin", "tid", "px", "sz", "side", "time"), {"B": TakerSide.BUY, "A": TakerSide.SELL}
)


def _error_text(data: msgspec.Raw) -> str:
    """The message of an ``error`` push: a JSON string, or whatever JSON came instead."""
    if not data:
        return "error"
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return bytes(data).decode("utf-8", "replace")
    return value if isinstance(value, str) else bytes(data).decode("utf-8", "replace")


def instrument(symbol: str) -> str:
    """The coin: ``BTC``, ``BTCUSDT`` and ``BTC-USDT-SWAP`` all give ``BTC``."""
    return split_symbol(symbol)[0]


def subscriptions(symbol: str) -> list[dict[str, str]]:
    """The subscription objects liqtui sends for ``symbol``."""
    coin = instrument(symbol)
    return [
        {"type": "trades", "coin": coin},
        {"type": "activeAssetCtx", "coin": coin},
        {"type": "candle", "coin": coin, "interval": "1m"},
    ]


#: ``activeAssetCtx`` pushes every block while the mark moves; this long without one is a fault.
CTX_SILENCE_S = 45.0


def conn_specs(symbol: str, ws_url: str) -> list[ConnSpec]:
    """One connection; ``{"method":"ping"}`` every 20 s (the server closes after 60 s idle);
    ``activeAssetCtx`` must tick."""
    subs = tuple(
        msgspec.json.encode({"method": "subscribe", "subscription": s}).decode()
        for s in subscriptions(symbol)
    )
    return [
        ConnSpec(
            name="ws",
            url=ws_url,
            subscribe=subs,
            ping=PING,
            ping_interval_s=20.0,
            stale_s=45.0,
            ticks=(("activeAssetCtx", CTX_SILENCE_S),),
        )
    ]


class HyperliquidDecoder(BaseDecoder):
    """Decoder of Hyperliquid websocket frames for one coin."""

    venue = Venue.HYPERLIQUID

    def __init__(self, symbol: str) -> None:
        super().__init__(instrument(symbol))
        self._last_oi: float | None = None
        self._last_funding: float | None = None
        self._candle: _HCandle | None = None  # the forming bar, emitted closed when the next one starts

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        env = _ENV.decode(frame)
        ch = env.channel
        if ch == "trades":
            return self.trades(_TRADES.decode(env.data), _TRADE_LAYOUT, recv_ts)
        if ch == "activeAssetCtx":
            return self._ctx(_CTX.decode(env.data), recv_ts)
        if ch == "candle":
            return self._candles(_CANDLE.decode(env.data), recv_ts)
        if ch in ("pong", "subscriptionResponse"):
            self.control += 1
            return []
        if ch == "error":
            msg = _error_text(env.data)
            if self.symbol in msg or "coin" in msg.lower() or "subscri" in msg.lower():
                self.refused(frame, msg)
            else:
                self.bad("exchange_error", frame, msg)
            return []
        if ch in ("l2Book", "bbo", "allMids", "activeAssetData"):
            self.ignored += 1
            return []
        self.bad("unexpected", frame, f"unexpected channel {ch!r}" if ch else "no channel")
        return []

    def _ctx(self, a: _AssetCtx, recv_ts: int) -> list[MarketEvent]:
        if a.coin != self.symbol:
            self.ignored += 1
            return []
        c = a.ctx
        if not (0.0 < c.markPx < INF and 0.0 <= c.openInterest < INF) or bad_rate(c.funding):
            raise ValueError(f"bad asset context mark={c.markPx} oi={c.openInterest} funding={c.funding}")
        self.tick("activeAssetCtx")
        v, s = Venue.HYPERLIQUID, self.symbol
        out: list[MarketEvent] = [
            MarkPrice(
                venue=v,
                symbol=s,
                ts=recv_ts,
                recv_ts=recv_ts,
                mark=c.markPx,
                index=c.oraclePx,
                funding_rate=c.funding,
            )
        ]
        if c.funding != self._last_funding:
            self._last_funding = c.funding
            out.append(FundingRate(venue=v, symbol=s, ts=recv_ts, recv_ts=recv_ts, rate=c.funding))
        if c.openInterest != self._last_oi:
            self._last_oi = c.openInterest
            out.append(
                OpenInterest(
                    venue=v,
                    symbol=s,
                    ts=recv_ts,
                    recv_ts=recv_ts,
                    base=c.openInterest,
                    usd=c.openInterest * c.markPx,
                )
            )
        return out

    def _candles(self, k: _HCandle, recv_ts: int) -> list[MarketEvent]:
        if k.s != self.symbol:
            self.ignored += 1
            return []
        if bad_bar(k.o, k.h, k.l, k.c, k.v):
            raise ValueError(f"inconsistent candle o={k.o} h={k.h} l={k.l} c={k.c}")
        out: list[MarketEvent] = []
        prev = self._candle
        if prev is not None and k.t < prev.t:
            self.out_of_order += 1
            return []
        if prev is not None and k.t > prev.t:
            out.append(self._candle_event(prev, recv_ts, closed=True))
        self._candle = k
        out.append(self._candle_event(k, recv_ts, closed=False))
        return out

    def _candle_event(self, k: _HCandle, recv_ts: int, *, closed: bool) -> Candle:
        return Candle(
            venue=Venue.HYPERLIQUID,
            symbol=self.symbol,
            ts=k.t,
            recv_ts=recv_ts,
            interval_s=interval_seconds(k.i),
            open=k.o,
            high=k.h,
            low=k.l,
            close=k.c,
            volume=k.v,
            closed=closed,
        )
