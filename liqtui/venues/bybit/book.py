"""Bybit v5 linear order book: ``orderbook.{depth}.{symbol}`` snapshot + delta.

Rules (Bybit v5 docs, "Orderbook"): after subscribing a ``snapshot`` arrives, then ``delta`` messages; a new
``snapshot`` (also sent by Bybit after a problem on its side, or with ``u`` = 1 after a service restart)
replaces the local book; in a delta a size of 0 deletes the level; ``u`` is the update id, consecutive per
topic, and ``seq`` the cross sequence. A delta whose ``u`` is not the previous ``u`` + 1 is a gap: the book is
dropped and the topic resubscribed (which sends a new snapshot); a delta at or below the last ``u`` is a
repeat and is skipped.
"""

from __future__ import annotations

import msgspec

from liqtui.core.book_events import BookEvent
from liqtui.core.events import Venue
from liqtui.venues.book import BookChannel, BookKeeper, Need
from liqtui.venues.bybit.feed import PING

__all__ = ["DEPTH", "BybitBookKeeper", "book_channel"]

#: 200 levels a side, pushed every 100 ms on linear contracts.
DEPTH = 200


class _Data(msgspec.Struct, gc=False):
    s: str
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    u: int
    seq: int = 0


class _Msg(msgspec.Struct, gc=False):
    topic: str | None = None
    type: str | None = None
    ts: int = 0
    data: _Data | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


_MSG = msgspec.json.Decoder(_Msg, strict=False)


class BybitBookKeeper(BookKeeper):
    venue = Venue.BYBIT

    def __init__(self, symbol: str, depth: int = DEPTH) -> None:
        super().__init__(symbol)
        self.topic = f"orderbook.{depth}.{symbol}"
        self._u: int | None = None
        self.repeats = 0

    def _reset_sequence(self) -> None:
        self._u = None

    def _frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        m = _MSG.decode(frame)
        if m.op is not None or m.success is not None:
            if m.success is False:
                raise ValueError(f"Bybit refused {m.op}: {m.ret_msg}")
            self.control += 1  # subscribe acks, pongs
            return []
        d = m.data
        if m.topic != self.topic or d is None or d.s != self.symbol:
            self.ignored += 1
            return []
        self.book_frames += 1
        ts = m.ts or recv_ts
        book = self.book
        if m.type == "snapshot":
            book.clear()
            bids, asks = self._levels(d.b), self._levels(d.a)
            book.apply(book.bids, bids)
            book.apply(book.asks, asks)
            self._u = d.u
            return self._emit(bids, asks, ts, recv_ts, True)
        if m.type != "delta":
            raise ValueError(f"unknown orderbook message type {m.type!r}")
        if self._u is None:
            self.ignored += 1  # a delta before the (new) snapshot: waiting for it
            return []
        if d.u <= self._u:
            self.repeats += 1
            return []
        if d.u != self._u + 1:
            return self._fail("gap", f"gap: u {d.u} after {self._u}", recv_ts, Need.RESUBSCRIBE)
        bids, asks = self._levels(d.b), self._levels(d.a)
        book.apply(book.bids, bids)
        book.apply(book.asks, asks)
        self._u = d.u
        return self._emit(bids, asks, ts, recv_ts, False)


def book_channel(symbol: str, ws_url: str) -> BookChannel:
    """The linear public connection with the orderbook topic; ``{"op":"ping"}`` keepalive."""
    from liqtui.venues.bybit.feed import instrument

    keeper = BybitBookKeeper(instrument(symbol))
    return BookChannel(
        url=ws_url,
        keeper=keeper,
        subscribe=(msgspec.json.encode({"op": "subscribe", "args": [keeper.topic]}).decode(),),
        unsubscribe=(msgspec.json.encode({"op": "unsubscribe", "args": [keeper.topic]}).decode(),),
        ping=PING,
        ping_interval_s=20.0,
        stale_s=10.0,
    )
