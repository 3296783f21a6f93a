"""Order-book events: what the venues' book keepers produce and :class:`~liqtui.core.depth.DepthBook` consumes.

Pure (msgspec/stdlib). A :class:`BookUpdate` carries price levels already checked by the venue's rules
(sequence continuity, checksum): sizes in **base units**, a size of 0 removes the level, and
``is_snapshot`` replaces the venue's whole book. A :class:`BookStatus` says whether a venue's book can be
trusted (``live``) or not (``syncing``, ``resyncing``, ``stale``, ``unsynced``, ``stopped``) with the keeper's
running counters; a consumer drops a venue's levels as soon as it is not ``live``, so a book is never shown
silently wrong.
"""

from __future__ import annotations

import enum

import msgspec

from liqtui.core.events import Venue

__all__ = ["BookEvent", "BookState", "BookStatus", "BookUpdate", "Level"]

#: One price level: (price, size in base units).
Level = tuple[float, float]


class BookState(str, enum.Enum):
    """Whether a venue's book is right."""

    SYNCING = "syncing"  # connected, waiting for the first snapshot (Binance: the REST one)
    LIVE = "live"  # in sync: every update continued the sequence (and matched the checksum)
    RESYNCING = "resyncing"  # a gap or a checksum failure was found: repairing (new snapshot / resubscribe)
    STALE = "stale"  # no book frame for too long: reconnecting
    UNSYNCED = "unsynced"  # diffs without a snapshot (a recording): not shown, never guessed
    STOPPED = "stopped"


class BookUpdate(msgspec.Struct, kw_only=True, gc=False, tag="book"):
    """Levels of one venue's book that changed (or all of them when ``is_snapshot``)."""

    venue: Venue
    symbol: str
    ts: int
    recv_ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    is_snapshot: bool = False


class BookStatus(msgspec.Struct, kw_only=True, gc=False, tag="book_status"):
    """A venue's book state changed; the counters are the keeper's totals so far."""

    venue: Venue
    symbol: str
    ts: int
    recv_ts: int
    state: BookState
    reason: str = ""
    updates: int = 0
    resyncs: int = 0
    checksum_errors: int = 0
    gaps: int = 0
    stale: int = 0


BookEvent = BookUpdate | BookStatus
