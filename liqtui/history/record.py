"""Record raw websocket frames as JSON lines, the format :mod:`liqtui.history.replay` reads back.

One line per received frame: ``{"ts": <receive ms>, "exchange": "<venue>", "frame": "<raw text>"}``; the file
is gzip-compressed when its name ends in ``.gz``. :class:`Recorder` is directly usable as the ``on_raw(venue,
frame, recv_ms)`` hook of :class:`liqtui.feeds.connection.FeedManager` (``liqtui record`` in
:mod:`liqtui.sources` does exactly that). Each frame flushes the file when ``flush_s`` has passed since the
last flush (call :meth:`Recorder.flush` on a timer to cover quiet spells), so a killed recorder loses at most
about a second (a truncated gzip file is still read up to its last flush).
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path
from typing import IO, Self

import msgspec

from liqtui.core.events import VENUES

__all__ = ["Recorder"]


class _Line(msgspec.Struct):
    ts: int
    exchange: str
    frame: str


_encode = msgspec.json.Encoder().encode


class Recorder:
    """Append received frames to ``path`` as JSON lines (gzip when the name ends in ``.gz``).

    ``flush_s`` bounds what a crash can lose. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_s: float = 1.0, append: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"record target {str(self.path)!r} is a directory; give a file name")
        if not self.path.parent.exists():
            raise ValueError(f"record target folder {str(self.path.parent)!r} does not exist")
        self.flush_s = flush_s
        self.frames = 0
        self.bytes = 0
        mode = "ab" if append else "wb"
        # the recorder owns the file until close(): no context manager here
        self._fh: IO[bytes] = (
            gzip.open(self.path, mode, compresslevel=6)  # noqa: SIM115
            if self.path.name.endswith(".gz")
            else open(self.path, mode)  # noqa: SIM115
        )
        self._last_flush = time.monotonic()
        self._closed = False

    def __call__(self, venue: str, frame: str | bytes, recv_ms: int) -> None:
        """Record one frame (the FeedManager ``on_raw`` hook signature)."""
        if self._closed:
            return
        if isinstance(frame, (bytes, bytearray, memoryview)):
            frame = bytes(frame).decode("utf-8", errors="replace")
        venue = str(getattr(venue, "value", venue))
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; allowed: {', '.join(VENUES)}")
        line = _encode(_Line(int(recv_ms), venue, frame)) + b"\n"
        self._fh.write(line)
        self.frames += 1
        self.bytes += len(line)
        now = time.monotonic()
        if now - self._last_flush >= self.flush_s:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Push buffered lines to the OS (a gzip sync-flush point: readable up to here after a crash)."""
        if self._closed:
            return
        self._fh.flush()
        self._last_flush = time.monotonic() if now is None else now

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if not self._closed:
            self._fh.flush()
            self._fh.close()
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
