"""Bybit v5 linear perpetuals: tickers snapshot+delta merge, trades, allLiquidation, 1m klines.

Subscribe ``{"op":"subscribe","args":["tickers.S","publicTrade.S","allLiquidation.S","kline.1.S"]}`` and send
``{"op":"ping"}`` every 20 s (the pong is recognised by ``ret_msg``). ``tickers`` sends a ``snapshot`` then
``delta`` frames holding only the changed fields; they are merged into per-symbol state, and a delta with a
cross sequence ``cs`` not above the last one is dropped (duplicate / out of order).

Open interest: ``singleOpenInterest`` (one side, comparable to Binance) when present; otherwise
``openInterest``, which counts **both sides since 2026-06-11** (halved for frames from that date on).
USD = base × mark. ``allLiquidation`` ``S`` is the liquidated **position** side (``Buy`` ⇒ a long was
liquidated, the opposite of Binance's order side); ``publicTrade`` ``S`` is the taker side.
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
    PositionSide,
    TakerSide,
    Venue,
)
from liqtui.venues.base import INF, BaseDecoder, ConnSpec, TradeLayout, bad_bar, interval_seconds
from liqtui.venues.symbols import split_symbol

__all__ = ["PING", "TWO_SIDED_OI_SINCE_MS", "BybitDecoder", "conn_specs", "instrument", "topics"]

#: 2026-06-11 00:00 UTC: from then on ``openInterest`` counts both sides.
TWO_SIDED_OI_SINCE_MS = 1781136000000
PING = '{"op":"ping"}'

_ABSENT = msgspec.Raw(b"")


class _Env(msgspec.Struct, gc=False):
    topic: str = ""
    type: str = ""
    ts: int = 0
    cs: int = 0
    data: msgspec.Raw = _ABSENT
    success: bool | None = None
    ret_msg: str = ""
    op: str = ""


class _BTrade(msgspec.Struct, gc=False):
    T: int
    s: str
    S: str
    v: float
    p: float
    i: str = ""


class _BLiq(msgspec.Struct, gc=False):
    T: int
    s: str
    S: str
    v: float
    p: float


class _BKline(msgspec.Struct, gc=False):
    start: int
    interval: str
    open: float
    close: float
    high: float
    low: float
    volume: float
    confirm: bool
    turnover: float | None = None


class _Ticker(msgspec.Struct, gc=False):
    """Ticker fields we use; strings because Bybit sends ``""`` for fields without a value."""

    symbol: str = ""
    markPrice: str | None = None
    indexPrice: str | None = None
    lastPrice: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None
    openInterest: str | None = None
    singleOpenInterest: str | None = None


_ENV = msgspec.json.Decoder(_Env, strict=False)
_TRADES = msgspec.json.Decoder(list[_BTrade], strict=False)
_LIQS = msgspec.json.Decoder(list[_BLiq], strict=False)
_KLINES = msgspec.json.Decoder(list[_BKline], strict=False)
_TICKER = msgspec.json.Decoder(_Ticker)

_TICKER_FIELDS = _Ticker.__struct_fields__[1:]


def _num(s: str | None) -> float | None:
    """A Bybit numeric string as float; ``None`` for absent or empty values."""
    return float(s) if s else None


def instrument(symbol: str) -> str:
    """``BTC`` → ``BTCUSDT`` (an explicit quote is kept)."""
    base, quote, _ = split_symbol(symbol)
    return f"{base}{quote or 'USDT'}"


def topics(symbol: str) -> list[str]:
    """The topics liqtui subscribes to for ``symbol``."""
    s = instrument(symbol)
    return [f"tickers.{s}", f"publicTrade.{s}", f"allLiquidation.{s}", f"kline.1.{s}"]


#: ``tickers`` pushes several times a second while the market moves; this long without one is a fault.
TICKERS_SILENCE_S = 30.0


def conn_specs(symbol: str, ws_url: str) -> list[ConnSpec]:
    """One connection; ``{"op":"ping"}`` every 20 s, ``tickers`` must tick."""
    sub = msgspec.json.encode({"op": "subscribe", "args": topics(symbol)}).decode()
    return [
        ConnSpec(
            name="linear",
            url=ws_url,
            subscribe=(sub,),
            ping=PING,
            ping_interval_s=20.0,
            stale_s=30.0,
            ticks=(("tickers", TICKERS_SILENCE_S),),
        )
    ]


_TRADE_LAYOUT = TradeLayout(
    attrgetter("s", "i", "p", "v", "S", "T"), {"Buy": TakerSide.BUY, "Sell": TakerSide.SELL}
)
#: ``allLiquidation`` ``S`` is the liquidated *position* side (not the order side).
_LIQ_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}


class BybitDecoder(BaseDecoder):
    """Decoder of Bybit v5 public linear frames for one symbol."""

    venue = Venue.BYBIT

    def __init__(self, symbol: str) -> None:
        super().__init__(instrument(symbol))
        self.ticker: dict[str, str] = {}
        self._have_snapshot = False
        self._last_cs = -1
        self._last_kline_key: tuple[int, bool] | None = None

    def reset(self) -> None:
        """A new connection starts with a fresh ticker snapshot."""
        super().reset()
        self.ticker = {}
        self._have_snapshot = False
        self._last_cs = -1

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        env = _ENV.decode(frame)
        if not env.topic:
            return self._control(env, frame)
        channel, _, sym = env.topic.partition(".")
        if channel == "kline":
            sym = sym.partition(".")[2]
        if sym != self.symbol:
            self.ignored += 1
            return []
        if not env.data:
            raise ValueError(f"{env.topic} frame without data")
        if channel == "publicTrade":
            return self.trades(_TRADES.decode(env.data), _TRADE_LAYOUT, recv_ts)
        if channel == "tickers":
            return self._ticker(env, _TICKER.decode(env.data), recv_ts)
        if channel == "allLiquidation":
            rows = _LIQS.decode(env.data)
            return self.liquidations(((r.s, r.S, r.p, r.v, r.T) for r in rows), _LIQ_SIDES, recv_ts)
        if channel == "kline":
            return self._klines(_KLINES.decode(env.data), recv_ts)
        if channel in ("orderbook", "tickers_lt", "lt"):
            self.ignored += 1  # a Bybit topic we do not use (e.g. the order book in a third-party recording)
            return []
        self.bad("unexpected", frame, f"unexpected topic {env.topic!r}")
        return []

    def _control(self, env: _Env, frame: str | bytes) -> list[MarketEvent]:
        if env.success is None and not env.op:
            self.bad("unexpected", frame, "neither a topic frame nor a reply")
        elif env.success is False:
            if env.op == "subscribe":
                self.refused(frame, env.ret_msg or "subscription refused")
            else:
                self.bad("exchange_error", frame, env.ret_msg or f"op {env.op!r} failed")
        else:
            self.control += 1
        return []

    def _klines(self, rows: list[_BKline], recv_ts: int) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for k in rows:
            if bad_bar(k.open, k.high, k.low, k.close, k.volume):
                raise ValueError(f"inconsistent kline o={k.open} h={k.high} l={k.low} c={k.close}")
            out.append(
                Candle(
                    venue=Venue.BYBIT,
                    symbol=self.symbol,
                    ts=k.start,
                    recv_ts=recv_ts,
                    interval_s=interval_seconds(k.interval),
                    open=k.open,
                    high=k.high,
                    low=k.low,
                    close=k.close,
                    volume=k.volume,
                    quote_volume=k.turnover,
                    closed=k.confirm,
                )
            )
        return out

    # -- tickers: snapshot then deltas ----------------------------------------------------------------
    def _ticker(self, env: _Env, t: _Ticker, recv_ts: int) -> list[MarketEvent]:
        if env.type in ("snapshot", "delta"):
            self.tick("tickers")
        if env.type == "snapshot":
            self.ticker = {}
            self._have_snapshot = True
            self._last_cs = -1  # a snapshot restarts the sequence (e.g. after a reconnect)
        elif env.type != "delta":
            raise ValueError(f"unknown tickers type {env.type!r}")
        elif not self._have_snapshot:
            self.ignored += 1  # a delta before its snapshot cannot be merged meaningfully
            return []
        if env.cs:
            if env.cs <= self._last_cs:
                if env.cs == self._last_cs:
                    self.duplicates += 1
                else:
                    self.out_of_order += 1
                return []
            self._last_cs = env.cs
        changed = {f: v for f in _TICKER_FIELDS if (v := getattr(t, f)) is not None}
        for f, v in changed.items():
            # validate before merging, so a bad delta leaves the state intact
            if v and f != "symbol" and not -INF < float(v) < INF:
                raise ValueError(f"{f} is not a finite number: {v!r}")
        self.ticker.update(changed)
        return self._ticker_events(env.ts or recv_ts, changed, recv_ts)

    def _ticker_events(self, ts: int, changed: dict[str, str], recv_ts: int) -> list[MarketEvent]:
        st = self.ticker
        mark = _num(st.get("markPrice")) or _num(st.get("lastPrice"))
        funding = _num(st.get("fundingRate"))
        nft = st.get("nextFundingTime")
        nxt = int(nft) if nft else None
        out: list[MarketEvent] = []
        if "markPrice" in changed and mark is not None:
            out.append(
                MarkPrice(
                    venue=Venue.BYBIT,
                    symbol=self.symbol,
                    ts=ts,
                    recv_ts=recv_ts,
                    mark=mark,
                    index=_num(st.get("indexPrice")),
                    funding_rate=funding,
                    next_funding_ts=nxt,
                )
            )
        if "fundingRate" in changed and funding is not None:
            out.append(
                FundingRate(
                    venue=Venue.BYBIT,
                    symbol=self.symbol,
                    ts=ts,
                    recv_ts=recv_ts,
                    rate=funding,
                    next_funding_ts=nxt,
                )
            )
        if ("openInterest" in changed or "singleOpenInterest" in changed) and mark is not None:
            base = self._one_side_oi(ts)
            if base is not None:
                out.append(
                    OpenInterest(
                        venue=Venue.BYBIT,
                        symbol=self.symbol,
                        ts=ts,
                        recv_ts=recv_ts,
                        base=base,
                        usd=base * mark,
                    )
                )
        return out

    def _one_side_oi(self, ts: int) -> float | None:
        single = _num(self.ticker.get("singleOpenInterest"))
        if single is not None:
            return single
        both = _num(self.ticker.get("openInterest"))
        if both is None:
            return None
        return both / 2.0 if ts >= TWO_SIDED_OI_SINCE_MS else both
