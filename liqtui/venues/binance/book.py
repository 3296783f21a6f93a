"""Binance USDⓈ-M order book: ``<sym>@depth@100ms`` diffs (on the ``/public`` route) synchronised with the
REST snapshot.

The documented procedure ("How to manage a local order book correctly", USDⓈ-M futures):

1. open the stream and buffer its events;
2. get ``GET /fapi/v1/depth?symbol=...&limit=1000`` (``lastUpdateId``);
3. drop buffered events whose ``u`` < ``lastUpdateId``;
4. the first event applied has ``U`` <= ``lastUpdateId`` <= ``u`` (else the snapshot is too old: fetch again);
   an event whose ``pu`` is ``lastUpdateId`` starts right after the snapshot and is taken too (a snapshot taken
   exactly between two events);
5. each later event's ``pu`` equals the previous event's ``u``, otherwise start again from step 2;
6. quantities are absolute; 0 removes the level (removing an absent level is normal).

Without a snapshot (a recording of diffs alone) the book stays ``syncing`` and is never guessed.
"""

from __future__ import annotations

import msgspec

from liqtui.core.book_events import BookEvent, BookState
from liqtui.core.events import Venue
from liqtui.venues.book import BookChannel, BookKeeper, Need

__all__ = ["DEPTH_PATH", "BinanceBookKeeper", "book_channel", "depth_stream", "public_url"]

DEPTH_PATH = "/fapi/v1/depth"
SNAPSHOT_LIMIT = 1000
#: Diffs kept while waiting for the snapshot (10 a second: over a minute and a half).
MAX_BUFFER = 1000


class _Diff(msgspec.Struct, tag_field="e", tag="depthUpdate", gc=False):
    s: str
    U: int
    u: int
    pu: int
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    E: int = 0
    T: int = 0


class _Combined(msgspec.Struct, gc=False):
    stream: str
    data: _Diff


class _Other(msgspec.Struct, gc=False):
    """Acks (``result``/``id``), errors, and other events on the connection."""

    stream: str | None = None
    e: str | None = None
    result: msgspec.Raw | None = None
    id: int | str | None = None
    code: int | None = None
    msg: str | None = None


class _Snapshot(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    E: int = 0
    T: int = 0


_COMBINED = msgspec.json.Decoder(_Combined, strict=False)
_BARE = msgspec.json.Decoder(_Diff, strict=False)
_OTHER = msgspec.json.Decoder(_Other, strict=False)
_SNAPSHOT = msgspec.json.Decoder(_Snapshot, strict=False)


def depth_stream(inst: str) -> str:
    return f"{inst.lower()}@depth@100ms"


class BinanceBookKeeper(BookKeeper):
    venue = Venue.BINANCE
    rest_snapshot = True

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self._buffer: list[_Diff] = []
        self._last_u: int | None = None  # u of the last event applied (None: not synchronised)
        self._first = False  # synchronised from a snapshot, the event that straddles it not yet seen
        self.dropped = 0  # buffered diffs dropped (older than the snapshot, or the buffer full)

    def _reset_sequence(self) -> None:
        self._buffer.clear()
        self._last_u = None
        self._first = False

    def _frame(self, frame: str | bytes, recv_ts: int) -> list[BookEvent]:
        try:
            d = _COMBINED.decode(frame).data
        except msgspec.ValidationError:
            return self._other(frame)
        except msgspec.DecodeError:
            try:
                d = _BARE.decode(frame)
            except msgspec.ValidationError:
                return self._other(frame)
        if d.s != self.symbol:
            self.ignored += 1
            return []
        self.book_frames += 1
        if self._last_u is None:  # waiting for (or repairing with) a snapshot: buffer
            self._buffer.append(d)
            if len(self._buffer) > MAX_BUFFER:
                del self._buffer[0]
                self.dropped += 1
            return []
        if self._first:  # the first event after the snapshot: U <= lastUpdateId <= u, older ones dropped
            if d.u < self._last_u:
                self.dropped += 1
                return []
            if d.U > self._last_u and d.pu != self._last_u:
                events = self._fail(
                    "gap", f"first event U {d.U} after snapshot {self._last_u}", recv_ts, Need.SNAPSHOT
                )
                self._buffer.append(d)
                return events
            self._first = False
            return self._apply(d, recv_ts)
        if d.pu != self._last_u:
            events = self._fail("gap", f"gap: pu {d.pu} != previous u {self._last_u}", recv_ts, Need.SNAPSHOT)
            self._buffer.append(d)
            return events
        return self._apply(d, recv_ts)

    def _other(self, frame: str | bytes) -> list[BookEvent]:
        o = _OTHER.decode(frame)  # malformed JSON raises: counted by on_frame
        if o.code is not None and o.code < 0:
            raise ValueError(f"Binance error {o.code}: {o.msg}")
        if o.result is not None or o.id is not None:
            self.control += 1
            return []
        self.ignored += 1  # another event type on this connection
        return []

    def _apply(self, d: _Diff, recv_ts: int) -> list[BookEvent]:
        bids, asks = self._levels(d.b), self._levels(d.a)
        book = self.book
        book.apply(book.bids, bids)
        book.apply(book.asks, asks)
        self._last_u = d.u
        return self._emit(bids, asks, d.E or recv_ts, recv_ts, False)

    def _snapshot(self, body: bytes, recv_ts: int) -> list[BookEvent]:
        snap = _SNAPSHOT.decode(body)
        last = snap.lastUpdateId
        pending = [d for d in self._buffer if d.u >= last]
        self.dropped += len(self._buffer) - len(pending)
        if pending and pending[0].U > last and pending[0].pu != last:
            # the snapshot is older than the first event we still have: fetch another one (events kept)
            self._buffer = pending
            self.need = Need.SNAPSHOT
            return [
                self.set_state(
                    self.state, f"snapshot {last} older than the stream (U {pending[0].U})", recv_ts
                )
            ]
        book = self.book
        book.clear()
        book.apply(book.bids, self._levels(snap.bids))
        book.apply(book.asks, self._levels(snap.asks))
        self._buffer = []
        self._last_u = last
        out: list[BookEvent] = []
        self._first = first = True
        for d in pending:
            if not first and d.pu != self._last_u:
                return out + self._fail("gap", f"gap while catching up: pu {d.pu} != u {self._last_u}", recv_ts,
                                        Need.SNAPSHOT)  # fmt: skip
            self._first = first = False
            book.apply(book.bids, self._levels(d.b))
            book.apply(book.asks, self._levels(d.a))
            self._last_u = d.u
        ts = pending[-1].E if pending else (snap.E or recv_ts)
        self.state = BookState.SYNCING  # _emit sends the whole book and says live
        return out + self._emit((), (), ts, recv_ts, True)


def public_url(ws_url: str) -> str:
    """The ``/public`` route of a Binance websocket base: since 2026 ``fstream.binance.com`` routes the
    high-frequency streams (``@depth``, ``@bookTicker``) to ``/public`` and the others (``@aggTrade``,
    ``@markPrice``...) to ``/market``; a base ending in ``/market`` is turned into its ``/public`` sibling, any
    other base is kept (an unrouted root delivers the public streams)."""
    base = ws_url.rstrip("/")
    return base[: -len("/market")] + "/public" if base.endswith("/market") else base


def book_channel(symbol: str, ws_url: str, rest_url: str) -> BookChannel:
    """A combined-stream connection on the ``/public`` route carrying only the depth stream; the snapshot from
    REST."""
    from liqtui.venues.binance.feed import instrument

    inst = instrument(symbol)
    return BookChannel(
        url=f"{public_url(ws_url)}/stream?streams={depth_stream(inst)}",
        keeper=BinanceBookKeeper(inst),
        snapshot_url=f"{rest_url}{DEPTH_PATH}?symbol={inst}&limit={SNAPSHOT_LIMIT}",
        stale_s=10.0,
    )
