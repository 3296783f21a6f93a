"""OKX v5 order book: the ``books`` channel (400 levels), snapshot then updates, checked on every message.

Rules (OKX v5 docs, "Order book channel" and "Checksum"):

* ``action: "snapshot"`` replaces the book; ``action: "update"`` sets levels ``[price, size, _, orders]``,
  size ``"0"`` removes the level.
* ``checksum``: after applying a message, take the best 25 bids (highest first) and asks (lowest first) and
  join ``bid_px:bid_sz:ask_px:ask_sz:...`` level by level (a side that has run out is skipped), using the
  strings exactly as received; CRC32 of it as a **signed** 32-bit integer must equal ``checksum``.
* ``seqId``/``prevSeqId`` (newer servers): an update's ``prevSeqId`` equals the previous message's ``seqId``;
  a heartbeat has ``prevSeqId == seqId`` and no levels; after maintenance ``seqId`` may be smaller than
  ``prevSeqId`` (a reset, not a gap).

A checksum mismatch or a sequence gap drops the book and asks for a resubscription (OKX then sends a new
snapshot). Sizes are contracts: converted to base units with the instrument's contract spec.
"""

from __future__ import annotations

import heapq
import zlib

import msgspec

from liqtui.core.book_events import BookEvent
from liqtui.core.events import Venue
from liqtui.venues.book import BookChannel, BookKeeper, Need
from liqtui.venues.okx.feed import DEFAULT_CONTRACTS, PING, ContractSpec

__all__ = ["CHECKSUM_DEPTH", "OkxBookKeeper", "book_channel", "checksum"]

CHECKSUM_DEPTH = 25


class _Data(msgspec.Struct, gc=False):
    asks: list[list[str]]
    bids: list[list[str]]
    ts: str = "0"
    checksum: int | None = None
    prevSeqId: int | None = None
    seqId: int | None = None


class _Arg(msgspec.Struct, gc=False):
    channel: str = ""
    instId: str = ""


class _Msg(msgspec.Struct, gc=False):
    arg: _Arg | None = None
    action: str | None = None
    data: list[msgspec.Raw] | None = None
    event: str | None = None
    code: str | None = None
    msg: str | None = None


_MSG = msgspec.json.Decoder(_Msg, strict=False)
_DATA = msgspec.json.Decoder(_Data, strict=False)


def checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """OKX's signed CRC32 of the best 25 bids (highest first) and asks (lowest first) as strings."""
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class OkxBookKeeper(BookKeeper):
    venue = Venue.OKX

    def __init__(self, symbol: str, spec: ContractSpec | None = None) -> None:
        super().__init__(symbol)
        self.spec = spec or DEFAULT_CONTRACTS.get(symbol) or ContractSpec(1.0)
        self._bid_str: dict[float, tuple[str, str]] = {}
        self._ask_str: dict[float, tuple[str, str]] = {}
        self._seq: int | None = None
        self._synced = False
        self.verified = 0  # messages whose checksum matched

    def to_base(self, size: float, price: float) -> float:
        return self.spec.to_base(size, price)

    def _reset_sequence(self) -> None:
        self._bid_str.clear()
        self._ask_str.clear()
        self._seq = None
        self._synced = False

    def _frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        if frame in ("pong", b"pong"):
            self.control += 1
            return []
        m = _MSG.decode(frame)
        if m.event is not None:
            if m.event == "error":
                raise ValueError(f"OKX error {m.code}: {m.msg}")
            self.control += 1  # subscribe / unsubscribe acks
            return []
        if m.arg is None or m.data is None or m.arg.channel != "books" or m.arg.instId != self.symbol:
            self.ignored += 1
            return []
        out: list[BookEvent] = []
        for d in m.data:
            out += self._message(m.action or "update", _DATA.decode(d), recv_ts)
        return out

    def _message(self, action: str, d: _Data, recv_ts: int) -> list[BookEvent]:
        self.book_frames += 1
        snap = action == "snapshot"
        if not snap:
            if not self._synced:
                self.ignored += 1  # updates before the (new) snapshot: waiting for it
                return []
            if d.prevSeqId is not None and self._seq is not None and d.prevSeqId != self._seq:
                return self._fail("gap", f"gap: prevSeqId {d.prevSeqId} != seqId {self._seq}", recv_ts,
                                  Need.RESUBSCRIBE)  # fmt: skip
        else:
            self.book.clear()
            self._bid_str.clear()
            self._ask_str.clear()
        bids = self._set(self.book.bids, self._bid_str, d.bids)
        asks = self._set(self.book.asks, self._ask_str, d.asks)
        if d.checksum is not None:
            mine = checksum(self._top(self._bid_str, True), self._top(self._ask_str, False))
            if mine != d.checksum:
                return self._fail(
                    "checksum", f"checksum mismatch: {mine} != {d.checksum}", recv_ts, Need.RESUBSCRIBE
                )
            self.verified += 1
        self._seq = d.seqId
        self._synced = True
        return self._emit(bids, asks, int(d.ts), recv_ts, snap)

    def _set(
        self, side: dict[float, float], strs: dict[float, tuple[str, str]], rows: list[list[str]]
    ) -> tuple[tuple[float, float], ...]:
        out = []
        to_base = self.spec.to_base
        for r in rows:
            px_s, sz_s = r[0], r[1]
            p, q = float(px_s), float(sz_s)
            if not (0.0 < p < float("inf") and 0.0 <= q < float("inf")):
                raise ValueError(f"bad book level {px_s}/{sz_s}")
            if q == 0.0:
                side.pop(p, None)
                strs.pop(p, None)
            else:
                side[p] = q
                strs[p] = (px_s, sz_s)
            out.append((p, to_base(q, p)))
        return tuple(out)

    @staticmethod
    def _top(strs: dict[float, tuple[str, str]], desc: bool) -> list[tuple[str, str]]:
        keys = heapq.nlargest(CHECKSUM_DEPTH, strs) if desc else heapq.nsmallest(CHECKSUM_DEPTH, strs)
        return [strs[k] for k in keys]


def book_channel(symbol: str, ws_url: str, spec: ContractSpec | None) -> BookChannel:
    """The public connection with ``books`` for the instrument; text pings; resubscribe on a mismatch."""
    from liqtui.venues.okx.feed import instrument

    inst = instrument(symbol)
    arg = [{"channel": "books", "instId": inst}]
    return BookChannel(
        url=ws_url,
        keeper=OkxBookKeeper(inst, spec),
        subscribe=(msgspec.json.encode({"op": "subscribe", "args": arg}).decode(),),
        unsubscribe=(msgspec.json.encode({"op": "unsubscribe", "args": arg}).decode(),),
        ping=PING,
        ping_interval_s=20.0,
        stale_s=30.0,  # books push at least on change; OKX sends an empty heartbeat when nothing changes
    )
