"""Record raw websocket frames as JSON lines, the format :mod:`liqtui.history.replay` reads back.

One line per received frame: ``{"ts": <receive ms>, "exchange": "<venue>", "frame": "<raw text>"}``; the file
is gzip-compressed when its name ends in ``.gz``. :class:`Recorder` is directly usable as the ``on_raw(venue,
frame, recv_ms)`` hook of :class:`liqtui.feeds.connection.FeedManager` (``liqtui record`` in
:mod:`liqtui.sources` does exactly that). Lines are buffered and written when ``flush_s`` has passed since the
last write (checked on each frame; call :meth:`Recorder.flush` on a timer to cover quiet spells) or 256 KiB
are waiting, so a killed recorder loses at most about a second: every write ends on a whole line, and a gzip
file on a sync-flush point (a truncated gzip file is read up to its last flush).

A write that fails (a full disk, an I/O error) never leaves a broken file: a plain file is cut back to its
last complete line, a gzip file to its last flush and then closed with a valid gzip end when the disk takes
those 10 bytes. The recorder then stops and :meth:`Recorder.flush` / :meth:`Recorder.close` raise
:class:`RecordError` (an :class:`OSError`) once, with the reason and what was kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Self

import msgspec

from liqtui.core.events import VENUES

__all__ = ["RecordError", "Recorder"]

#: Write when this much is waiting, whatever the time (bounds memory and what a crash loses).
BUFFER_BYTES = 256 * 1024
_GZIP_END = b"\x03\x00"  # an empty final deflate block: ends the stream after a sync flush


class RecordError(OSError):
    """The recording cannot be written (one line: the file, the reason, what was kept)."""


class _Line(msgspec.Struct):
    ts: int
    exchange: str
    frame: str


_encode = msgspec.json.Encoder().encode


class Recorder:
    """Append received frames to ``path`` as JSON lines (gzip when the name ends in ``.gz``).

    ``flush_s`` bounds what a crash can lose. Use as a context manager, or call :meth:`close`. ``frames`` and
    ``bytes`` count what was recorded (uncompressed), ``kept_frames`` what is safely in the file, ``dropped``
    the frames that arrived after a write failed; ``error`` is that failure.
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
        self.kept_frames = 0
        self.dropped = 0
        self.error: RecordError | None = None
        self._raised = False
        self._pending = bytearray()
        self._pending_frames = 0
        self._gzip = self.path.name.endswith(".gz")
        self._comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0  # CRC-32 and length of the uncompressed data written so far (the gzip trailer)
        self._size = 0
        # unbuffered: every write's outcome is known, so a failed one can be undone exactly
        self._fh = open(self.path, "ab" if append else "wb", buffering=0)  # noqa: SIM115 - owned until close()
        self._good = os.fstat(self._fh.fileno()).st_size  # the file is complete up to here
        self._closed = False
        self._last_flush = time.monotonic()
        self._started = not self._gzip  # a gzip member begins with its header
        if self._gzip:
            header = b"\x1f\x8b\x08\x00" + struct.pack("<I", int(time.time()) & 0xFFFFFFFF) + b"\x00\xff"
            if not self._write(header, 0):
                self._raise()
            self._started = True

    def __call__(self, venue: str, frame: str | bytes, recv_ms: int) -> None:
        """Record one frame (the FeedManager ``on_raw`` hook signature). Never raises for a failing disk: the
        next :meth:`flush` or :meth:`close` does."""
        if self._closed:
            self.dropped += 1
            return
        if isinstance(frame, (bytes, bytearray, memoryview)):
            frame = bytes(frame).decode("utf-8", errors="replace")
        venue = str(getattr(venue, "value", venue))
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; allowed: {', '.join(VENUES)}")
        line = _encode(_Line(int(recv_ms), venue, frame)) + b"\n"
        self._pending += line
        self._pending_frames += 1
        self.frames += 1
        self.bytes += len(line)
        now = time.monotonic()
        if now - self._last_flush >= self.flush_s or len(self._pending) >= BUFFER_BYTES:
            self._write_pending(now)

    def flush(self, now: float | None = None) -> None:
        """Write the waiting lines (a gzip sync-flush point: readable up to here after a crash). Raises
        :class:`RecordError` once if a write failed (here or since the last call)."""
        if not self._closed:
            self._write_pending(time.monotonic() if now is None else now)
        self._raise()

    def close(self) -> None:
        """Write what is waiting, end the gzip stream and close the file (idempotent). Raises
        :class:`RecordError` once if a write failed and that was not raised yet."""
        if not self._closed:
            if self._write_pending(time.monotonic()) and self._gzip:
                end = self._comp.flush(zlib.Z_FINISH) + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
                self._write(end, 0)
            self._close_file()
        self._raise()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------------------

    def _write_pending(self, now: float) -> bool:
        """Write the waiting lines; False (and the recorder stopped) when the write failed."""
        self._last_flush = now
        if not self._pending:
            return True
        raw, frames = bytes(self._pending), self._pending_frames
        self._pending.clear()
        self._pending_frames = 0
        if self._gzip:
            data = self._comp.compress(raw) + self._comp.flush(zlib.Z_SYNC_FLUSH)
            if not self._write(data, frames):
                return False
            self._crc = zlib.crc32(raw, self._crc)
            self._size += len(raw)
            return True
        return self._write(raw, frames)

    def _write(self, data: bytes, frames: int) -> bool:
        """Write ``data`` (holding ``frames`` whole lines) at the end of the file; on failure undo the partial
        write (a plain file keeps its complete lines), stop the recorder and remember the error."""
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                n = self._fh.write(view[done:])
                if not n:  # pragma: no cover - a blocking regular file or device writes something or raises
                    raise OSError(errno.EIO, "the write made no progress")
                done += n
        except OSError as exc:
            self._failed(exc, data, done)
            return False
        self._good += len(data)
        self.kept_frames += frames
        return True

    def _failed(self, exc: OSError, data: bytes, done: int) -> None:
        keep = self._good
        if not self._gzip:  # complete lines of a partial write are fine as they are
            last = data.rfind(b"\n", 0, done)
            if last >= 0:
                keep += last + 1
                self.kept_frames += data.count(b"\n", 0, last + 1)
        fd = self._fh.fileno()
        with contextlib.suppress(OSError):  # a device such as /dev/full cannot be cut: nothing reached it
            os.ftruncate(fd, keep)
        how = "the file ends on a complete line"
        if self._gzip and not self._started:
            how = "nothing could be written"
        elif self._gzip:
            end = _GZIP_END + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
            try:  # a valid end when the disk takes 10 more bytes (the cut usually freed them)
                ended = os.pwrite(fd, end, keep) == len(end)
            except OSError:
                ended = False
            how = "a complete gzip file" if ended else "gzip readable up to its last flush, without its end"
        reason = exc.strerror or str(exc)
        self.error = RecordError(
            f"cannot write the recording {str(self.path)!r}: {reason}; kept {self.kept_frames} frames ({how})"
        )
        self.error.errno = exc.errno
        self._close_file()

    def _close_file(self) -> None:
        self._closed = True
        self._pending.clear()
        self._pending_frames = 0
        with contextlib.suppress(OSError):
            self._fh.close()

    def _raise(self) -> None:
        if self.error is not None and not self._raised:
            self._raised = True
            raise self.error
