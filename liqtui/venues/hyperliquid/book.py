"""Hyperliquid order book: ``l2Book`` messages, each a whole snapshot of the book.

Subscription ``{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}``; every message is
``{"channel":"l2Book","data":{"coin","time","levels":[bids, asks]}}`` with levels ``{"px","sz","n"}`` best
first (20 a side). Nothing to chain: each message replaces the book. A message older than the last one
(``time``) is skipped and counted; a book that stops coming is stale (the runner reconnects).
"""

from __future__ import annotations

import msgspec

from liqtui.core.book_events import BookEvent
from liqtui.core.events import Venue
from liqtui.venues.book import BookChannel, BookKeeper
from liqtui.venues.hyperliquid.feed import PING

__all__ = ["HyperliquidBookKeeper", "book_channel"]


class _Lvl(msgspec.Struct, gc=False):
    px: float
    sz: float
    n: int = 0


class _Book(msgspec.Struct, gc=False):
    coin: str
    levels: tuple[list[_Lvl], list[_Lvl]]
    time: int = 0


class _Msg(msgspec.Struct, gc=False):
    channel: str
    data: msgspec.Raw = msgspec.Raw(b"null")


_MSG = msgspec.json.Decoder(_Msg, strict=False)
_BOOK = msgspec.json.Decoder(_Book, strict=False)


class HyperliquidBookKeeper(BookKeeper):
    venue = Venue.HYPERLIQUID

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.out_of_order = 0

    def _frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        m = _MSG.decode(frame)
        if m.channel != "l2Book":
            if m.channel == "error":
                raise ValueError(f"Hyperliquid error: {bytes(m.data)[:200]!r}")
            if m.channel in ("subscriptionResponse", "pong"):
                self.control += 1
            else:
                self.ignored += 1  # another channel (trades in a recording)
            return []
        b = _BOOK.decode(m.data)
        if b.coin != self.symbol:
            self.ignored += 1
            return []
        self.book_frames += 1
        if b.time and b.time < self.last_ts:
            self.out_of_order += 1
            return []
        bids = self._levels((x.px, x.sz) for x in b.levels[0])
        asks = self._levels((x.px, x.sz) for x in b.levels[1])
        book = self.book
        book.clear()
        book.apply(book.bids, bids)
        book.apply(book.asks, asks)
        return self._emit(bids, asks, b.time or recv_ts, recv_ts, True)


def book_channel(symbol: str, ws_url: str) -> BookChannel:
    from liqtui.venues.hyperliquid.feed import instrument

    coin = instrument(symbol)
    sub = {"method": "subscribe", "subscription": {"type": "l2Book", "coin": coin}}
    unsub = {"method": "unsubscribe", "subscription": {"type": "l2Book", "coin": coin}}
    return BookChannel(
        url=ws_url,
        keeper=HyperliquidBookKeeper(coin),
        subscribe=(msgspec.json.encode(sub).decode(),),
        unsubscribe=(msgspec.json.encode(unsub).decode(),),
        ping=PING,
        ping_interval_s=20.0,
        stale_s=20.0,
    )
