"""OKX v5 swaps: trades, mark price, open interest, funding, liquidation orders, 1m candles.

Two connections: ``/ws/v5/public`` (trades, mark-price, open-interest, funding-rate, liquidation-orders) and
``/ws/v5/business`` (candle1m). Keepalive is the **text** ``ping`` answered by the text ``pong``.

Sizes on swaps are **contracts**: base = contracts × ``ctVal`` for linear contracts (``ctValCcy`` = the base
coin) and contracts × ``ctVal`` / price for inverse ones (``ctValCcy`` = USD). ``ctVal`` comes from
``GET {rest}/api/v5/public/instruments`` (see :func:`parse_instruments`), with a safe built-in table for
BTC/ETH/SOL. ``liquidation-orders`` is subscribed per instrument *type* and filtered by ``instId`` here;
``details[].side`` is the forced order side (``sell`` closes a long). Timestamps are ms strings.
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
from liqtui.venues.base import INF, BaseDecoder, ConnSpec, TradeLayout, bad_bar, bad_rate, interval_seconds
from liqtui.venues.symbols import split_symbol

__all__ = [
    "DEFAULT_CONTRACTS",
    "PING",
    "PONG",
    "ContractSpec",
    "OkxDecoder",
    "business_url",
    "conn_specs",
    "instrument",
    "instruments_path",
    "parse_instruments",
]

PING = "ping"
PONG = "pong"
_PONG_BYTES = b"pong"
_ABSENT = msgspec.Raw(b"")


class ContractSpec(msgspec.Struct, frozen=True):
    """Size of one contract: ``ct_val`` base units (linear), or ``ct_val`` USD when ``inverse``."""

    ct_val: float
    inverse: bool = False

    def to_base(self, contracts: float, price: float) -> float:
        """Contracts → base units at ``price``."""
        if self.inverse:
            return contracts * self.ct_val / price
        return contracts * self.ct_val


#: Used when the instruments endpoint cannot be reached (OKX's published contract values).
DEFAULT_CONTRACTS: dict[str, ContractSpec] = {
    "BTC-USDT-SWAP": ContractSpec(0.01),
    "ETH-USDT-SWAP": ContractSpec(0.1),
    "SOL-USDT-SWAP": ContractSpec(1.0),
}


class _Arg(msgspec.Struct, gc=False):
    channel: str = ""
    instId: str = ""
    instType: str = ""


class _Env(msgspec.Struct, gc=False):
    arg: _Arg | None = None
    data: msgspec.Raw = _ABSENT
    event: str = ""
    code: str = ""
    msg: str = ""


class _OTrade(msgspec.Struct, gc=False):
    instId: str
    px: float
    sz: float
    side: str
    ts: int
    tradeId: str = ""


class _OMark(msgspec.Struct, gc=False):
    instId: str
    markPx: float
    ts: int


class _OOi(msgspec.Struct, gc=False):
    instId: str
    oi: float
    ts: int
    oiCcy: float | None = None
    oiUsd: float | None = None


class _OFunding(msgspec.Struct, gc=False):
    instId: str
    fundingRate: float | None = None  # some pushes carry only nextFundingRate
    fundingTime: int | None = None
    ts: int | None = None


class _ODetail(msgspec.Struct, gc=False):
    side: str
    bkPx: float
    sz: float
    ts: int
    posSide: str = ""


class _OLiq(msgspec.Struct, gc=False):
    instId: str
    details: list[_ODetail]


class _OInstrument(msgspec.Struct):
    instId: str
    ctVal: str = ""
    ctValCcy: str = ""
    ctType: str = ""


class _OInstruments(msgspec.Struct):
    code: str
    msg: str = ""
    data: list[_OInstrument] = []


_ENV = msgspec.json.Decoder(_Env, strict=False)
_TRADES = msgspec.json.Decoder(list[_OTrade], strict=False)
_MARKS = msgspec.json.Decoder(list[_OMark], strict=False)
_OIS = msgspec.json.Decoder(list[_OOi], strict=False)
_FUNDING = msgspec.json.Decoder(list[_OFunding], strict=False)
_LIQS = msgspec.json.Decoder(list[_OLiq], strict=False)
_CANDLES = msgspec.json.Decoder(list[list[str]])
_INSTRUMENTS = msgspec.json.Decoder(_OInstruments)


def instruments_path(inst_id: str) -> str:
    """REST path of the instrument definition of a swap."""
    return f"/api/v5/public/instruments?instType=SWAP&instId={inst_id}"


def parse_instruments(body: bytes | str, inst_id: str) -> ContractSpec:
    """The contract spec of ``inst_id`` from an instruments REST reply.

    Raises ``LookupError`` when OKX does not list the instrument (unknown symbol) and ``ValueError`` for a
    reply that is not an instruments list.
    """
    try:
        reply = _INSTRUMENTS.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"unreadable OKX instruments reply: {exc}") from None
    if reply.code != "0":
        raise LookupError(f"OKX does not list {inst_id}: {reply.msg or 'code ' + reply.code}")
    for row in reply.data:
        if row.instId == inst_id:
            try:
                ct_val = float(row.ctVal)
            except ValueError:
                raise ValueError(f"OKX instrument {inst_id} has no usable ctVal ({row.ctVal!r})") from None
            if not 0.0 < ct_val < INF:
                raise ValueError(f"OKX instrument {inst_id} has ctVal {ct_val}")
            inverse = row.ctType == "inverse" or row.ctValCcy.upper() in ("USD", "USDT", "USDC")
            return ContractSpec(ct_val, inverse)
    raise LookupError(f"OKX does not list {inst_id}")


def business_url(public_url: str) -> str:
    """The ``business`` endpoint next to a ``public`` one (candles live there)."""
    if public_url.endswith("/public"):
        return public_url[: -len("/public")] + "/business"
    return public_url.rstrip("/") + "/business"


def instrument(symbol: str) -> str:
    """``BTC`` → ``BTC-USDT-SWAP``; an explicit quote or suffix (``BTC-USD-220527``) is kept."""
    base, quote, suffix = split_symbol(symbol)
    return f"{base}-{quote or 'USDT'}-{suffix or 'SWAP'}"


#: ``mark-price`` pushes at least every few seconds; this long without one is a fault.
MARK_SILENCE_S = 30.0


def conn_specs(symbol: str, public: str) -> list[ConnSpec]:
    """The public connection (market data; ``mark-price`` must tick) and the business connection (candles,
    which are trade-driven and may be quiet), both with text pings."""
    inst = instrument(symbol)
    channels = ("trades", "mark-price", "open-interest", "funding-rate")
    args = [{"channel": ch, "instId": inst} for ch in channels]
    args.append({"channel": "liquidation-orders", "instType": "SWAP"})
    sub_public = msgspec.json.encode({"op": "subscribe", "args": args}).decode()
    sub_business = msgspec.json.encode({"op": "subscribe", "args": [{"channel": "candle1m", "instId": inst}]})
    return [
        ConnSpec(
            name="public",
            url=public,
            subscribe=(sub_public,),
            ping=PING,
            ping_interval_s=20.0,
            stale_s=30.0,
            ticks=(("mark-price", MARK_SILENCE_S),),
        ),
        # candles push on every trade of the bar, but a quiet minute can pass: allow longer
        ConnSpec(
            name="business",
            url=business_url(public),
            subscribe=(sub_business.decode(),),
            ping=PING,
            ping_interval_s=20.0,
            stale_s=90.0,
        ),
    ]


_TRADE_LAYOUT = TradeLayout(
    attrgetter("instId", "tradeId", "px", "sz", "side", "ts"), {"buy": TakerSide.BUY, "sell": TakerSide.SELL}
)
#: ``details[].side`` is the forced order side: a forced sell closes a long.
_LIQ_SIDES = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}

#: Documented OKX v5 public channels liqtui does not consume: counted as ignored, not as errors.
UNUSED_CHANNELS = frozenset(
    {"books", "books5", "bbo-tbt", "books-l2-tbt", "books50-l2-tbt", "tickers", "index-tickers", "price-limit",
     "estimated-price", "opt-summary", "status"}
)  # fmt: skip


class OkxDecoder(BaseDecoder):
    """Decoder of OKX v5 public/business frames for one instrument."""

    venue = Venue.OKX

    def __init__(self, symbol: str, spec: ContractSpec | None = None) -> None:
        # an OKX instId (BTC-USDT-SWAP, BTC-USD-220527, BTC-USDT spot) is kept verbatim
        inst = symbol.strip().upper() if "-" in symbol else instrument(symbol)
        super().__init__(inst)
        self.spec = spec or DEFAULT_CONTRACTS.get(inst) or ContractSpec(1.0)
        self.spec_known = spec is not None or inst in DEFAULT_CONTRACTS
        self.last_price: float | None = None
        self.funding: float | None = None
        self.pending_oi: tuple[float, int] | None = None  # OI (base, ts) that arrived before any price

    def _decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]:
        if frame == PONG or frame == _PONG_BYTES:
            self.control += 1
            return []
        env = _ENV.decode(frame)
        if env.event:
            return self._event(env, frame)
        if env.arg is None or not env.data:
            self.bad("unexpected", frame, "neither a data push nor an event")
            return []
        ch = env.arg.channel
        if ch == "liquidation-orders":
            rows = _LIQS.decode(env.data)
            return self.liquidations(
                ((r.instId, d.side, d.bkPx, d.sz, d.ts) for r in rows for d in r.details),
                _LIQ_SIDES,
                recv_ts,
                self._to_base,
            )
        if env.arg.instId != self.symbol:
            self.ignored += 1
            return []
        if ch == "trades":
            out = self.trades(_TRADES.decode(env.data), _TRADE_LAYOUT, recv_ts, self._to_base)
            if out:
                self.last_price = self.trade_price
            return out
        if ch == "mark-price":
            return self._marks(_MARKS.decode(env.data), recv_ts)
        if ch == "open-interest":
            return self._ois(_OIS.decode(env.data), recv_ts)
        if ch == "funding-rate":
            return self._funding(_FUNDING.decode(env.data), recv_ts)
        if ch.startswith("candle"):
            return self._candles(ch, _CANDLES.decode(env.data), recv_ts)
        if ch in UNUSED_CHANNELS:
            self.ignored += 1  # an OKX channel we do not use (e.g. books in a third-party recording)
            return []
        self.bad("unexpected", frame, f"unexpected channel {ch!r}")
        return []

    def _event(self, env: _Env, frame: str | bytes) -> list[MarketEvent]:
        if env.event == "error":
            msg = f"{env.msg} (code {env.code})" if env.code else env.msg
            if env.code in ("60018", "51001") or "instId" in env.msg or "exist" in env.msg:
                self.refused(frame, msg)
            else:
                self.bad("exchange_error", frame, msg)
        elif env.event in ("subscribe", "unsubscribe", "login", "notice", "channel-conn-count"):
            self.control += 1
        else:
            self.bad("unexpected", frame, f"unexpected event {env.event!r}")
        return []

    def _to_base(self, contracts: float, price: float) -> float:
        return self.spec.to_base(contracts, price)

    def _marks(self, rows: list[_OMark], recv_ts: int) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for r in rows:
            if not 0.0 < r.markPx < INF:
                raise ValueError(f"bad mark price {r.markPx}")
            self.tick("mark-price")
            self.last_price = r.markPx
            out.append(
                MarkPrice(
                    venue=Venue.OKX,
                    symbol=self.symbol,
                    ts=r.ts,
                    recv_ts=recv_ts,
                    mark=r.markPx,
                    funding_rate=self.funding,
                )
            )
        if self.pending_oi is not None and self.last_price is not None:
            base, ts = self.pending_oi
            self.pending_oi = None
            out.append(
                OpenInterest(
                    venue=Venue.OKX,
                    symbol=self.symbol,
                    ts=ts,
                    recv_ts=recv_ts,
                    base=base,
                    usd=base * self.last_price,
                )
            )
        return out

    def _ois(self, rows: list[_OOi], recv_ts: int) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for r in rows:
            price = self.last_price
            if (
                not 0.0 <= r.oi < INF
                or not (r.oiCcy is None or 0.0 <= r.oiCcy < INF)
                or not (r.oiUsd is None or 0.0 <= r.oiUsd < INF)
            ):
                raise ValueError(f"bad open interest {r.oi}/{r.oiCcy}/{r.oiUsd}")
            if r.oiCcy is None and self.spec.inverse and price is None:
                self.ignored += 1  # inverse contracts need a price to convert; the next push (3 s) will do
                continue
            base = r.oiCcy if r.oiCcy is not None else self.spec.to_base(r.oi, price or 1.0)
            if r.oiUsd is not None:
                usd = r.oiUsd
            elif price is not None:
                usd = base * price
            else:
                self.pending_oi = (base, r.ts)  # valued with the first mark price
                continue
            out.append(
                OpenInterest(
                    venue=Venue.OKX, symbol=self.symbol, ts=r.ts, recv_ts=recv_ts, base=base, usd=usd
                )
            )
        return out

    def _funding(self, rows: list[_OFunding], recv_ts: int) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for r in rows:
            if r.fundingRate is None:
                self.ignored += 1
                continue
            if bad_rate(r.fundingRate):
                raise ValueError(f"bad funding rate {r.fundingRate}")
            self.funding = r.fundingRate
            out.append(
                FundingRate(
                    venue=Venue.OKX,
                    symbol=self.symbol,
                    ts=r.ts or recv_ts,
                    recv_ts=recv_ts,
                    rate=r.fundingRate,
                    next_funding_ts=r.fundingTime,
                )
            )
        return out

    def _candles(self, channel: str, rows: list[list[str]], recv_ts: int) -> list[MarketEvent]:
        interval_s = interval_seconds(channel[len("candle") :])
        out: list[MarketEvent] = []
        for row in rows:
            if len(row) < 6:
                raise ValueError(f"candle row with {len(row)} fields")
            ts = int(row[0])
            o, h, low, c = float(row[1]), float(row[2]), float(row[3]), float(row[4])
            vol_base = float(row[6]) if len(row) > 6 and row[6] else self.spec.to_base(float(row[5]), c)
            if bad_bar(o, h, low, c, vol_base):
                raise ValueError(f"inconsistent candle o={o} h={h} l={low} c={c} v={vol_base}")
            quote = float(row[7]) if len(row) > 7 and row[7] else None
            closed = len(row) > 8 and row[8] == "1"
            out.append(
                Candle(
                    venue=Venue.OKX,
                    symbol=self.symbol,
                    ts=ts,
                    recv_ts=recv_ts,
                    interval_s=interval_s,
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=vol_base,
                    quote_volume=quote,
                    closed=closed,
                )
            )
        return out
