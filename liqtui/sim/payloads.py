"""Binance USDⓈ-M wire formats: websocket payloads and REST rows, numbers as strings as Binance sends them.

Field names and formats follow the public Binance futures docs and real recorded frames
(``aggTrade``: e,E,a,s,p,q,f,l,T,m; ``markPriceUpdate``: e,E,s,p,i,P,r,T; ``kline``: e,E,s,k{...};
``forceOrder``: e,E,o{s,S,o,f,q,p,ap,X,l,z,T}). Prices are on the 0.1 tick, printed with 2 decimals.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

__all__ = [
    "TICK",
    "Frame",
    "agg_trade",
    "combined",
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


def _fmt8(x: float) -> str:
    return f"{x:.8f}"


def _json(d: dict[str, object]) -> str:
    return _enc.encode(d).decode()


def agg_trade(
    sym: str, E: int, a: int, price: float, qty: float, first: int, last: int, T: int, buyer_is_maker: bool
) -> str:
    """``aggTrade`` payload; ``buyer_is_maker`` true means the taker sold."""
    return _json(
        {
            "e": "aggTrade",
            "E": E,
            "a": a,
            "s": sym,
            "p": fmt_price(price),
            "q": fmt_qty(qty),
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
) -> str:
    """``kline`` payload for one (forming or closed) bar."""
    k = {
        "t": t,
        "T": t + interval_ms - 1,
        "s": sym,
        "i": interval,
        "f": first,
        "L": last,
        "o": fmt_price(o),
        "c": fmt_price(c),
        "h": fmt_price(h),
        "l": fmt_price(low),
        "v": fmt_qty(v),
        "n": n,
        "x": closed,
        "q": f"{q:.4f}",
        "V": fmt_qty(tbv),
        "Q": f"{tbq:.4f}",
        "B": "0",
    }
    return _json({"e": "kline", "E": E, "s": sym, "k": k})


def force_order(sym: str, E: int, order_side: str, qty: float, price: float, avg_price: float, T: int) -> str:
    """``forceOrder`` payload: ``order_side`` ``SELL`` closes a long; ``price`` is the order (bankruptcy)
    price, ``avg_price`` the average fill."""
    o = {
        "s": sym,
        "S": order_side,
        "o": "LIMIT",
        "f": "IOC",
        "q": fmt_qty(qty),
        "p": fmt_price(price),
        "ap": fmt_price(avg_price),
        "X": "FILLED",
        "l": fmt_qty(qty),
        "z": fmt_qty(qty),
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
) -> list[object]:
    """One ``GET /fapi/v1/klines`` row: ``[openTime, o, h, l, c, vol, closeTime, quoteVol, trades,
    takerBuyBase, takerBuyQuote, ignore]``."""
    return [
        t,
        fmt_price(o),
        fmt_price(h),
        fmt_price(low),
        fmt_price(c),
        fmt_qty(v),
        t + interval_ms - 1,
        f"{q:.4f}",
        n,
        fmt_qty(tbv),
        f"{tbq:.4f}",
        "0",
    ]


def combined(frame: Frame) -> str:
    """The combined-stream envelope ``{"stream": ..., "data": ...}`` around a payload."""
    return f'{{"stream":"{frame.stream}","data":{frame.payload}}}'
