"""What travels on the bus: versioned msgspec Structs, msgpack-encoded (see :mod:`liqtui.bus`)."""

from __future__ import annotations

import msgspec
import numpy as np

from liqtui.core import model as core_model
from liqtui.core.events import MarketEvent

__all__ = [
    "VERSION",
    "Batch",
    "History",
    "Payload",
    "decode",
    "encode_batch",
    "encode_history",
    "history_bars",
]

#: The payload format this liqtui writes and reads; a newer one is skipped by an older reader.
VERSION = 1


class Batch(msgspec.Struct, tag="batch", kw_only=True):
    """Events of one subject (one venue, ticker and kind), oldest first."""

    v: int = VERSION
    events: list[MarketEvent]


class History(msgspec.Struct, tag="history", kw_only=True):
    """One chunk of the collector's history: ``bars`` is the raw bytes of :data:`liqtui.core.model.BAR_DTYPE`
    rows (oldest first, open interest summed over ``venues``); ``part``/``parts`` number the chunks of one
    snapshot, ``first_ts``/``last_ts`` bound its bars (open times, ms), ``until_ts`` is the snapshot's last."""

    v: int = VERSION
    venue: str
    symbol: str
    venues: list[str]
    snapshot: str
    part: int
    parts: int
    first_ts: int
    last_ts: int
    until_ts: int
    dtype: str
    bars: bytes


Payload = Batch | History

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Payload)


class _Head(msgspec.Struct):
    v: int = VERSION


_head = msgspec.msgpack.Decoder(_Head)
_DTYPE_TEXT = str(core_model.BAR_DTYPE.descr)


def encode_batch(events: list[MarketEvent]) -> bytes:
    return _enc.encode(Batch(events=events))


def encode_history(
    bars: np.ndarray,
    *,
    venue: str,
    symbol: str,
    venues: list[str],
    snapshot: str,
    part: int,
    parts: int,
    until_ts: int,
) -> bytes:
    return _enc.encode(
        History(
            venue=venue,
            symbol=symbol,
            venues=venues,
            snapshot=snapshot,
            part=part,
            parts=parts,
            first_ts=int(bars["ts"][0]) if len(bars) else 0,
            last_ts=int(bars["ts"][-1]) if len(bars) else 0,
            until_ts=int(until_ts),
            dtype=_DTYPE_TEXT,
            bars=np.ascontiguousarray(bars, dtype=core_model.BAR_DTYPE).tobytes(),
        )
    )


def decode(data: bytes) -> Payload | None:
    """The payload, or None for a version newer than :data:`VERSION` (raises ``msgspec.DecodeError`` for bytes
    that are not a payload at all)."""
    if _head.decode(data).v > VERSION:
        return None
    return _dec.decode(data)


def history_bars(h: History) -> np.ndarray:
    """The model bars of a history chunk (a copy, writable); ValueError when they are not of our bar layout."""
    if h.dtype != _DTYPE_TEXT or len(h.bars) % core_model.BAR_DTYPE.itemsize:
        raise ValueError(f"history chunk of another bar layout ({len(h.bars)} bytes, {h.dtype[:60]})")
    return np.frombuffer(h.bars, dtype=core_model.BAR_DTYPE).copy()
