"""Binance USDⓈ-M wire formats: websocket payloads and REST rows, numbers as strings as Binance sends them.

Field names and formats follow the public Binance futures docs and real recorded frames
(``aggTrade``: e,E,a,s,p,q,f,l,T,m; ``markPriceUpdate``: e,E,s,p,i,P,r,T; ``kline``: e,E,s,k{...};
``forceOrder``: e,E,o{s,S,o,f,q,p,ap,X,l,z,T}). By default prices are on the 0.1 tick, printed with 2 decimals,
and quantities on the 0.001 step (BTC's contract, the full simulator's); a :class:`Contract` gives another
instrument its own tick and step (the demo's light symbols opened in full), passed as ``contract=``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import msgspec

__all__ = [
    "BTC_CONTRACT",
    "TICK",
    "Contract",
    "Frame",
    "agg_trade",
    "combined",
    "contract_for",
    "fmt_price",
    "fmt_qty",
    "force_order",
    "kline",
    "kline_row",
    "mark_price",
]

TICK = 0.1
_enc = msgspec.json.Encoder()


class Frame(NamedTuple):
    """One websocket payload: its stream name (lowercase), event time ``E`` (ms) and JSON text."""

    stream: str
    E: int
    payload: str


def tick_round(p: float) -> float:
    """Round a price to the 0.1 tick."""
    return round(p / TICK) * TICK


def fmt_price(p: float) -> str:
    return f"{tick_round(p):.2f}"


def fmt_qty(q: float) -> str:
    return f"{q:.3f}"


class Contract(msgspec.Struct, frozen=True):
    """An instrument's price tick and quantity step (powers of ten), and the decimals they print with
    (``price_dp``, ``qty_dp``; BTC's contract prints 2 price decimals on its 0.1 tick, as Binance does)."""

    tick: float
    step: float
    price_dp: int
    qty_dp: int

    @classmethod
    def of(cls, tick: float, step: float) -> Contract:
        """A contract whose decimals are those of its tick and step."""
        for name, v in (("tick", tick), ("step", step)):
            if not (math.isfinite(v) and v > 0 and abs(math.log10(v) - round(math.log10(v))) < 1e-9):
                raise ValueError(f"{name} must be a positive power of ten, got {v!r}")
        return cls(tick, step, max(0, -round(math.log10(tick))), max(0, -round(math.log10(step))))

    def round_price(self, p: float) -> float:
        return round(round(p / self.tick) * self.tick, self.price_dp + 1)

    def price(self, p: float) -> str:
        return f"{self.round_price(p):.{self.price_dp}f}"

    def qty(self, q: float) -> str:
        if self.step >= 1.0:  # a step of 10 or 100 units: the decimals alone would not round to it
            q = round(q / self.step) * self.step
        return f"{q:.{self.qty_dp}f}"

    def filters(self) -> list[dict[str, object]]:
        """The ``PRICE_FILTER`` and ``LOT_SIZE`` entries of ``exchangeInfo``."""
        return [
            {"filterType": "PRICE_FILTER", "minPrice": self.price(self.tick), "maxPrice": "10000000",
             "tickSize": self.price(self.tick)},
            {"filterType": "LOT_SIZE", "minQty": self.qty(self.step), "maxQty": "100000000000",
             "stepSize": self.qty(self.step)},
        ]  # fmt: skip


#: BTCUSDT's contract: what the full simulator of BTC, ETH and SOL prints (unchanged for them).
BTC_CONTRACT = Contract(tick=TICK, step=0.001, price_dp=2, qty_dp=3)

#: The notional of one quantity step the light contracts aim at (BTC's 0.001 at ~72,000 USD).
_STEP_USD = 72.0


def contract_for(price: float, *, step_usd: float = _STEP_USD) -> Contract:
    """A contract for an instrument trading near ``price``: six significant digits of tick (BTC's 0.1 at
    ~72,000) and a quantity step worth between ``step_usd`` / 10 and ``step_usd`` (BTC's 0.001 is ~72 USD),
    both powers of ten."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be finite and > 0, got {price!r}")
    if not (math.isfinite(step_usd) and step_usd > 0):
        raise ValueError(f"step_usd must be finite and > 0, got {step_usd!r}")
    tick = 10.0 ** (math.floor(math.log10(price) + 1e-12) - 5)
    step = 10.0 ** math.floor(math.log10(step_usd / price) + 1e-12)
    return Contract.of(float(f"{tick:.0e}"), float(f"{step:.0e}"))


def _fmt8(x: float) -> str:
    return f"{x:.8f}"


def _json(d: dict[str, object]) -> str:
    return _enc.encode(d).decode()


def agg_trade(
    sym: str,
    E: int,
    a: int,
    price: float,
    qty: float,
    first: int,
    last: int,
    T: int,
    buyer_is_maker: bool,
    *,
    contract: Contract | None = None,
) -> str:
    """``aggTrade`` payload; ``buyer_is_maker`` true means the taker sold."""
    c = contract or BTC_CONTRACT
    return _json(
        {
            "e": "aggTrade",
            "E": E,
            "a": a,
            "s": sym,
            "p": c.price(price),
            "q": c.qty(qty),
            "f": first,
            "l": last,
            "T": T,
            "m": buyer_is_maker,
        }
    )


def mark_price(sym: str, E: int, mark: float, index: float, settle: float, rate: float, next_ms: int) -> str:
    """``markPriceUpdate`` payload (the ``@markPrice@1s`` stream)."""
    return _json(
        {
            "e": "markPriceUpdate",
            "E": E,
            "s": sym,
            "p": _fmt8(mark),
            "i": _fmt8(index),
            "P": _fmt8(settle),
            "r": _fmt8(rate),
            "T": next_ms,
        }
    )


def kline(
    sym: str,
    E: int,
    t: int,
    interval: str,
    interval_ms: int,
    first: int,
    last: int,
    o: float,
    c: float,
    h: float,
    low: float,
    v: float,
    n: int,
    closed: bool,
    q: float,
    tbv: float,
    tbq: float,
    *,
    contract: Contract | None = None,
) -> str:
    """``kline`` payload for one (forming or closed) bar."""
    cp = contract or BTC_CONTRACT
    k = {
        "t": t,
        "T": t + interval_ms - 1,
        "s": sym,
        "i": interval,
        "f": first,
        "L": last,
        "o": cp.price(o),
        "c": cp.price(c),
        "h": cp.price(h),
        "l": cp.price(low),
        "v": cp.qty(v),
        "n": n,
        "x": closed,
        "q": f"{q:.4f}",
        "V": cp.qty(tbv),
        "Q": f"{tbq:.4f}",
        "B": "0",
    }
    return _json({"e": "kline", "E": E, "s": sym, "k": k})


def force_order(
    sym: str,
    E: int,
    order_side: str,
    qty: float,
    price: float,
    avg_price: float,
    T: int,
    *,
    contract: Contract | None = None,
) -> str:
    """``forceOrder`` payload: ``order_side`` ``SELL`` closes a long; ``price`` is the order (bankruptcy)
    price, ``avg_price`` the average fill."""
    c = contract or BTC_CONTRACT
    o = {
        "s": sym,
        "S": order_side,
        "o": "LIMIT",
        "f": "IOC",
        "q": c.qty(qty),
        "p": c.price(price),
        "ap": c.price(avg_price),
        "X": "FILLED",
        "l": c.qty(qty),
        "z": c.qty(qty),
        "T": T,
    }
    return _json({"e": "forceOrder", "E": E, "o": o})


def kline_row(
    t: int,
    interval_ms: int,
    o: float,
    h: float,
    low: float,
    c: float,
    v: float,
    q: float,
    n: int,
    tbv: float,
    tbq: float,
    *,
    contract: Contract | None = None,
) -> list[object]:
    """One ``GET /fapi/v1/klines`` row: ``[openTime, o, h, l, c, vol, closeTime, quoteVol, trades,
    takerBuyBase, takerBuyQuote, ignore]``."""
    cp = contract or BTC_CONTRACT
    return [
        t,
        cp.price(o),
        cp.price(h),
        cp.price(low),
        cp.price(c),
        cp.qty(v),
        t + interval_ms - 1,
        f"{q:.4f}",
        n,
        cp.qty(tbv),
        f"{tbq:.4f}",
        "0",
    ]


def combined(frame: Frame) -> str:
    """The combined-stream envelope ``{"stream": ..., "data": ...}`` around a payload."""
    return f'{{"stream":"{frame.stream}","data":{frame.payload}}}'
