"""Recording formats: read raw websocket frames from our own recordings and from third-party ones.

Every reader yields :class:`RawFrame` (receive time in ms, venue when known, the raw frame text) in file order.
Supported, detected from the content (gzip by its magic bytes, not by the name):

* ``liqtui``: our JSON lines ``{"ts": <recv ms>, "exchange": "<venue>", "frame": "<raw text>"}``.
* ``hftbacktest``: ``<receive_time_ns> <raw frame>`` per line (usually gzip).
* ``cryptofeed1``: cryptofeed v1 ``*.ws.txt``: a first line ``<url> <-> <connect_ts>``, data lines
  ``<recv_ts>: <raw frame>``, sent messages ``<url> <- <ts>: <msg>`` (skipped).
* ``cryptofeed3``: cryptofeed v3 JSON lines ``{"t": "recv", "conn": ..., "ts": <unix s>, "data": "<frame>"}``
  plus ``header`` / ``connect`` / ``send`` records.
* ``tardis``: one message per line ``{"exchange": ..., "channel": ..., "msg": {...}}`` (no receive time: 0).

The venue comes from the record (ours), the connection URL, the exchange name, the file name, or the frame's
shape, in that order; what names and shapes identify a venue comes from its adapter (:mod:`liqtui.venues`).
:func:`infer_symbols` picks the instrument per venue from the frames themselves.

Lines that cannot be read (cut by a crash, foreign content) are skipped and counted, and a gzip stream cut
short (the recorder was killed) ends the frames; pass a :class:`ReadCounts` to learn about both.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

import msgspec

from liqtui.venues import ADAPTERS

__all__ = [
    "FORMATS",
    "RawFrame",
    "ReadCounts",
    "RecordingError",
    "detect_format",
    "infer_symbols",
    "open_text",
    "read_frames",
    "symbol_of_frame",
    "venue_from_text",
    "venue_of_frame",
]

FORMATS: tuple[str, ...] = ("liqtui", "hftbacktest", "cryptofeed1", "cryptofeed3", "tardis")

_GZIP_MAGIC = b"\x1f\x8b"
_HFT_RE = re.compile(r"^(\d{15,20}) (.*)$", re.DOTALL)
_CF1_DATA_RE = re.compile(r"^(\d+(?:\.\d+)?): (.*)$", re.DOTALL)
_CF1_HEADER_RE = re.compile(r"^(\S+://\S+) (<->|<-|->) ")
_SNIFF_LINES = 20


class RecordingError(ValueError):
    """A recording that cannot be read: unknown format, unreadable file, or bad content."""


class RawFrame(NamedTuple):
    """One received websocket frame."""

    recv_ms: int
    venue: str | None
    frame: str


@dataclasses.dataclass
class ReadCounts:
    """What :func:`read_frames` could not read: lines skipped as malformed (a line cut by a crash, foreign
    content), and whether the file ends in a gzip stream cut short (``truncated``; the frames before the cut
    were read)."""

    bad_lines: int = 0
    truncated: bool = False


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open ``path`` for reading text, transparently gunzipping when the content is gzip."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise RecordingError(f"cannot read recording {str(p)!r}: {exc.strerror or exc}") from None
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", errors="replace", newline="\n")
    return p.open("r", encoding="utf-8", errors="replace", newline="\n")


def venue_from_text(text: str) -> str | None:
    """The venue named in a URL, exchange name or file name (an exchange host such as ``wss://stream.<exchange>.com/...`` → that venue)."""
    low = text.lower()
    for name, a in ADAPTERS.items():
        if any(hint in low for hint in a.url_hints):
            return name
    return None


def venue_of_frame(frame: str) -> str | None:
    """Guess the venue from a raw frame's shape (each adapter recognises its own envelopes)."""
    head = frame[:200]
    for name, a in ADAPTERS.items():
        if a.frame_is_mine(head):
            return name
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a recording file (one of :data:`FORMATS`), from its first lines."""
    with open_text(path) as fh:
        lines = []
        for line in fh:
            line = line.strip()
            if line:
                lines.append(line)
            if len(lines) >= _SNIFF_LINES:
                break
    if not lines:
        raise RecordingError(f"recording {str(path)!r} is empty")
    for line in lines:
        fmt = _format_of_line(line)
        if fmt:
            return fmt
    raise RecordingError(
        f"unknown recording format in {str(path)!r}: expected one of {', '.join(FORMATS)} "
        f"(first line starts {lines[0][:60]!r})"
    )


def _format_of_line(line: str) -> str | None:
    if _HFT_RE.match(line):
        return "hftbacktest"
    if _CF1_HEADER_RE.match(line) or _CF1_DATA_RE.match(line):
        return "cryptofeed1"
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        if "frame" in obj and "ts" in obj and "exchange" in obj:
            return "liqtui"
        if obj.get("t") in ("header", "connect", "recv", "send", "disconnect"):
            return "cryptofeed3"
        if "msg" in obj and "exchange" in obj:
            return "tardis"
    return None


def read_frames(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    venue: str | None = None,
    counts: ReadCounts | None = None,
) -> Iterator[RawFrame]:
    """Yield the received frames of a recording in file order.

    ``venue`` forces the venue of every frame; otherwise it is taken from the record, the connection URL,
    the file name, or the frame itself. Malformed lines are skipped and a gzip stream cut short ends the
    frames, both counted in ``counts`` when given; a file in no known format raises :class:`RecordingError`.
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise RecordingError(f"unknown recording format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if venue is not None and venue not in ADAPTERS:
        raise RecordingError(f"unknown venue {venue!r}; allowed: {', '.join(ADAPTERS)}")
    name_venue = venue_from_text(Path(path).name)
    cnt = counts if counts is not None else ReadCounts()
    reader = _READERS[fmt]
    with open_text(path) as fh:
        try:
            for rf in reader(fh, cnt):
                v = venue or rf.venue or name_venue or venue_of_frame(rf.frame)
                yield rf if v == rf.venue else RawFrame(rf.recv_ms, v, rf.frame)
        except EOFError:
            cnt.truncated = (
                True  # a gzip file cut short (recorder killed): everything up to its last flush was read
            )
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise RecordingError(f"corrupt compressed recording {str(path)!r}: {exc}") from None


class _LiqtuiLine(msgspec.Struct):
    ts: int
    frame: str
    exchange: str | None = None


_decode_liqtui_line = msgspec.json.Decoder(_LiqtuiLine).decode


def _read_liqtui(fh: IO[str], cnt: ReadCounts) -> Iterator[RawFrame]:
    for line in fh:
        if not line.strip():
            continue
        try:
            rec = _decode_liqtui_line(line)
        except msgspec.DecodeError:
            cnt.bad_lines += 1  # a line cut by a crash, or foreign content
            continue
        yield RawFrame(rec.ts, rec.exchange if rec.exchange in ADAPTERS else None, rec.frame)


def _read_hftbacktest(fh: IO[str], cnt: ReadCounts) -> Iterator[RawFrame]:
    for line in fh:
        m = _HFT_RE.match(line.rstrip("\r\n"))
        if m:
            yield RawFrame(int(m.group(1)) // 1_000_000, None, m.group(2))
        elif line.strip():
            cnt.bad_lines += 1


def _read_cryptofeed1(fh: IO[str], cnt: ReadCounts) -> Iterator[RawFrame]:
    url_venue: str | None = None
    for line in fh:
        line = line.rstrip("\r\n")
        h = _CF1_HEADER_RE.match(line)
        if h:
            url_venue = venue_from_text(h.group(1)) or url_venue
            continue  # connection headers and sent messages are not received frames
        m = _CF1_DATA_RE.match(line)
        if m:
            yield RawFrame(int(float(m.group(1)) * 1000), url_venue, m.group(2))
        elif line.strip():
            cnt.bad_lines += 1


def _read_cryptofeed3(fh: IO[str], cnt: ReadCounts) -> Iterator[RawFrame]:
    conn_venue: dict[str, str | None] = {}
    exch_venue: str | None = None
    for line in fh:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            cnt.bad_lines += 1
            continue
        if not isinstance(obj, dict):
            cnt.bad_lines += 1
            continue
        kind = obj.get("t")
        if kind == "header":
            exch_venue = venue_from_text(str(obj.get("exchange", "")))
        elif kind == "connect":
            conn_venue[str(obj.get("conn"))] = venue_from_text(str(obj.get("addr", ""))) or exch_venue
        elif kind == "recv" and isinstance(obj.get("data"), str):
            v = conn_venue.get(str(obj.get("conn")), exch_venue)
            try:
                ts = int(float(obj.get("ts", 0)) * 1000)
            except (TypeError, ValueError):
                cnt.bad_lines += 1
                continue
            yield RawFrame(ts, v, obj["data"])


def _read_tardis(fh: IO[str], cnt: ReadCounts) -> Iterator[RawFrame]:
    for line in fh:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            cnt.bad_lines += 1
            continue
        if isinstance(obj, dict) and "msg" in obj:
            v = venue_from_text(str(obj.get("exchange", "")))
            yield RawFrame(0, v, json.dumps(obj["msg"], separators=(",", ":")))
        else:
            cnt.bad_lines += 1


_READERS: dict[str, Callable[[IO[str], ReadCounts], Iterator[RawFrame]]] = {
    "liqtui": _read_liqtui,
    "hftbacktest": _read_hftbacktest,
    "cryptofeed1": _read_cryptofeed1,
    "cryptofeed3": _read_cryptofeed3,
    "tardis": _read_tardis,
}

# ------------------------------------------------------------------------------------------ symbol inference


def symbol_of_frame(venue: str, frame: str) -> tuple[str | None, bool]:
    """The instrument a frame is about, and whether it is a trade frame (``(None, False)`` if unknown)."""
    a = ADAPTERS.get(venue)
    if a is None:
        return None, False
    try:
        obj = json.loads(frame)
    except ValueError:
        return None, False
    if not isinstance(obj, dict):
        return None, False
    return a.symbol_of_frame(obj)


def infer_symbols(frames: Iterator[RawFrame], *, limit: int = 5_000) -> dict[str, str]:
    """The instrument to follow per venue: the most traded one in the first ``limit`` frames (or, without
    trades, the most frequent one)."""
    trades: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    other: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for i, rf in enumerate(frames):
        if i >= limit:
            break
        if rf.venue is None:
            continue
        sym, is_trade = symbol_of_frame(rf.venue, rf.frame)
        if sym:
            (trades if is_trade else other)[rf.venue][sym] += 1
    out: dict[str, str] = {}
    for venue in set(trades) | set(other):
        counts = trades.get(venue) or other[venue]
        out[venue] = counts.most_common(1)[0][0]
    return out
