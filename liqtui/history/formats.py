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
shape, in that order. :func:`infer_symbols` picks the instrument per venue from the frames themselves.
"""

from __future__ import annotations

import collections
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

import msgspec

from liqtui.core.events import VENUES

__all__ = [
    "FORMATS",
    "RawFrame",
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

# Substrings of host names / exchange names that identify a venue.
_VENUE_HINTS: tuple[tuple[str, str], ...] = (
    ("hyperliquid", "hyperliquid"),
    ("binance", "binance"),
    ("bybit", "bybit"),
    ("okex", "okx"),
    ("okx", "okx"),
)


class RecordingError(ValueError):
    """A recording that cannot be read: unknown format, unreadable file, or bad content."""


class RawFrame(NamedTuple):
    """One received websocket frame."""

    recv_ms: int
    venue: str | None
    frame: str


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
    """The venue named in a URL, exchange name or file name (``wss://fstream.binance.com/...`` → binance)."""
    low = text.lower()
    for hint, venue in _VENUE_HINTS:
        if hint in low:
            return venue
    return None


def venue_of_frame(frame: str) -> str | None:
    """Guess the venue from a raw frame's shape (combined-stream envelope, Bybit topic, OKX arg, ...)."""
    head = frame[:200]
    if '"stream":' in head or re.search(r'"e":\s*"(aggTrade|trade|kline|markPriceUpdate|forceOrder)"', head):
        return "binance"
    if '"topic":' in head or '"ret_msg":' in head:
        return "bybit"
    if '"arg":' in head or head.startswith('{"event":'):
        return "okx"
    if '"channel":' in head:
        return "hyperliquid"
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
    path: str | os.PathLike[str], *, fmt: str | None = None, venue: str | None = None
) -> Iterator[RawFrame]:
    """Yield the received frames of a recording in file order.

    ``venue`` forces the venue of every frame; otherwise it is taken from the record, the connection URL,
    the file name, or the frame itself. Malformed lines are skipped; a file in no known format raises
    :class:`RecordingError`.
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise RecordingError(f"unknown recording format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if venue is not None and venue not in VENUES:
        raise RecordingError(f"unknown venue {venue!r}; allowed: {', '.join(VENUES)}")
    name_venue = venue_from_text(Path(path).name)
    reader = _READERS[fmt]
    with open_text(path) as fh:
        try:
            for rf in reader(fh):
                v = venue or rf.venue or name_venue or venue_of_frame(rf.frame)
                yield rf if v == rf.venue else RawFrame(rf.recv_ms, v, rf.frame)
        except EOFError:
            return  # a gzip file cut short (recorder killed): everything up to its last flush was read
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise RecordingError(f"corrupt compressed recording {str(path)!r}: {exc}") from None


class _LiqtuiLine(msgspec.Struct):
    ts: int
    frame: str
    exchange: str | None = None


_decode_liqtui_line = msgspec.json.Decoder(_LiqtuiLine).decode


def _read_liqtui(fh: IO[str]) -> Iterator[RawFrame]:
    for line in fh:
        if not line.strip():
            continue
        try:
            rec = _decode_liqtui_line(line)
        except msgspec.DecodeError:
            continue  # a line cut by a crash, or foreign content
        yield RawFrame(rec.ts, rec.exchange if rec.exchange in VENUES else None, rec.frame)


def _read_hftbacktest(fh: IO[str]) -> Iterator[RawFrame]:
    for line in fh:
        m = _HFT_RE.match(line.rstrip("\r\n"))
        if m:
            yield RawFrame(int(m.group(1)) // 1_000_000, None, m.group(2))


def _read_cryptofeed1(fh: IO[str]) -> Iterator[RawFrame]:
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


def _read_cryptofeed3(fh: IO[str]) -> Iterator[RawFrame]:
    conn_venue: dict[str, str | None] = {}
    exch_venue: str | None = None
    for line in fh:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict):
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
                continue
            yield RawFrame(ts, v, obj["data"])


def _read_tardis(fh: IO[str]) -> Iterator[RawFrame]:
    for line in fh:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "msg" in obj:
            v = venue_from_text(str(obj.get("exchange", "")))
            yield RawFrame(0, v, json.dumps(obj["msg"], separators=(",", ":")))


_READERS = {
    "liqtui": _read_liqtui,
    "hftbacktest": _read_hftbacktest,
    "cryptofeed1": _read_cryptofeed1,
    "cryptofeed3": _read_cryptofeed3,
    "tardis": _read_tardis,
}

# ------------------------------------------------------------------------------------------ symbol inference

_TRADE_CHANNELS = ("trade", "aggtrade", "publictrade", "trades")


def symbol_of_frame(venue: str, frame: str) -> tuple[str | None, bool]:
    """The instrument a frame is about, and whether it is a trade frame (``(None, False)`` if unknown)."""
    try:
        obj = json.loads(frame)
    except ValueError:
        return None, False
    if not isinstance(obj, dict):
        return None, False
    if venue == "binance":
        return _binance_symbol(obj)
    if venue == "bybit":
        topic = obj.get("topic")
        if isinstance(topic, str) and "." in topic:
            return topic.rsplit(".", 1)[1].upper(), topic.split(".", 1)[0].lower() in _TRADE_CHANNELS
        return None, False
    if venue == "okx":
        arg = obj.get("arg")
        if isinstance(arg, dict) and "data" in obj and isinstance(arg.get("instId"), str):
            return arg["instId"].upper(), str(arg.get("channel", "")).lower() in _TRADE_CHANNELS
        return None, False
    if venue == "hyperliquid":
        return _hyperliquid_symbol(obj)
    return None, False


def _binance_symbol(obj: dict) -> tuple[str | None, bool]:
    stream = obj.get("stream")
    data = obj.get("data", obj)
    if isinstance(stream, str) and "@" in stream:
        name, _, chan = stream.partition("@")
        return name.upper(), chan.split("@")[0].lower() in _TRADE_CHANNELS
    if isinstance(data, dict):
        sym = data.get("s")
        order = data.get("o")
        if not isinstance(sym, str) and isinstance(order, dict):
            sym = order.get("s")
        if isinstance(sym, str):
            return sym.upper(), str(data.get("e", "")).lower() in _TRADE_CHANNELS
    return None, False


def _hyperliquid_symbol(obj: dict) -> tuple[str | None, bool]:
    chan = str(obj.get("channel", ""))
    data = obj.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        coin = data.get("coin")
        if isinstance(coin, str):
            return coin.upper(), chan.lower() in _TRADE_CHANNELS
    return None, False


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
