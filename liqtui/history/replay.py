"""Replay a recording through the same decoders the live feeds use.

``await replay(path, sink)`` reads any format of :mod:`liqtui.history.formats`, finds the venue of every frame
and the instrument to follow per venue (from the frames when ``symbol`` is not given), decodes each frame with
``liqtui.feeds.make_decoder(venue, symbol)`` and hands every :class:`~liqtui.core.events.MarketEvent` to
``sink``. ``speed`` 0 runs as fast as possible while still yielding to the event loop every few hundred frames
(a UI stays responsive); ``speed`` X > 0 replays X times faster than recorded.

Nothing is dropped silently: lines that cannot be read are counted in ``ReplayStats.bad_lines``, a gzip
stream cut short sets ``ReplayStats.truncated``, and both are said in ``ReplayStats.notes``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from liqtui.core.events import MarketEvent
from liqtui.history.formats import ReadCounts, RecordingError, detect_format, infer_symbols, read_frames
from liqtui.venues import ADAPTERS

__all__ = ["DecoderLike", "ReplayStats", "plan_replay", "replay"]

YIELD_EVERY = 256


class DecoderLike(Protocol):
    """What replay needs of a decoder (``liqtui.feeds`` Decoder protocol)."""

    errors: int

    def decode(self, frame: str | bytes, recv_ts: int) -> list[MarketEvent]: ...


DecoderSource = Mapping[str, DecoderLike] | Callable[[str, str], DecoderLike]


@dataclasses.dataclass
class ReplayStats:
    """Progress and outcome of a replay (updated while it runs, so a UI can show it)."""

    path: str = ""
    format: str = ""
    symbols: dict[str, str] = dataclasses.field(default_factory=dict)  # venue -> instrument followed
    frames: int = 0
    events: int = 0
    decode_errors: int = 0
    skipped: int = 0  # frames of a venue without a decoder
    bad_lines: int = 0  # lines of the file that could not be read (cut by a crash, foreign content)
    truncated: bool = False  # the file ends in a gzip stream cut short (frames after the cut are lost)
    notes: list[str] = dataclasses.field(default_factory=list)  # what was skipped, in plain words
    first_ms: int = 0
    last_ms: int = 0
    done: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plan_replay(
    path: str | os.PathLike[str], *, venue: str | None = None, symbol: str | None = None
) -> tuple[str, dict[str, str]]:
    """The format of ``path`` and the instrument to follow per venue found in it.

    ``symbol`` (a ticker such as ``BTC`` or an instrument name) applies to every venue; without it, each
    venue's most traded instrument in the recording is chosen.
    """
    if not Path(path).is_file():
        raise RecordingError(f"recording {str(path)!r} does not exist or is not a file")
    fmt = detect_format(path)
    found = infer_symbols(read_frames(path, fmt=fmt, venue=venue))
    if not found:
        raise RecordingError(
            f"no frame of a known venue ({', '.join(ADAPTERS)}) in {str(path)!r}; pass the venue explicitly"
        )
    if symbol:
        found = {v: symbol for v in found}
    return fmt, found


def _decoder_for(decoders: DecoderSource | None, venue: str, symbol: str) -> DecoderLike | None:
    if decoders is None:
        from liqtui.feeds import make_decoder  # the feeds piece: the very decoders the live feeds use

        return make_decoder(venue, symbol)
    if isinstance(decoders, Mapping):
        return decoders.get(venue)
    return decoders(venue, symbol)


async def replay(
    path: str | os.PathLike[str],
    sink: Callable[[MarketEvent], None],
    speed: float = 0.0,
    decoders: DecoderSource | None = None,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    stats: ReplayStats | None = None,
    on_raw: Callable[[str, str, int], None] | None = None,
    limit: int | None = None,
) -> ReplayStats:
    """Decode every frame of the recording at ``path`` and pass each event to ``sink``.

    ``decoders``: a mapping venue → decoder, or a factory ``(venue, symbol) -> decoder`` (default
    ``liqtui.feeds.make_decoder``). ``venue`` forces the venue of every frame. ``on_raw`` sees each frame
    (e.g. to re-record it). ``limit`` stops after that many frames. Raises :class:`RecordingError` for a
    missing or unreadable file; per-frame problems are counted in ``decode_errors``, unreadable lines in
    ``bad_lines`` and a gzip tail cut short in ``truncated`` (both also said in ``notes``), never raised.
    """
    if speed < 0:
        raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
    fmt, symbols = plan_replay(path, venue=venue, symbol=symbol)
    st = stats if stats is not None else ReplayStats()
    st.path, st.format, st.symbols = str(path), fmt, dict(symbols)
    decs: dict[str, DecoderLike | None] = {v: _decoder_for(decoders, v, s) for v, s in symbols.items()}
    counts = ReadCounts()
    frames = read_frames(path, fmt=fmt, venue=venue, counts=counts)
    if limit is not None:
        frames = itertools.islice(frames, limit)
    t0 = time.monotonic()
    for rf in frames:
        st.frames += 1
        if rf.recv_ms:
            st.first_ms = st.first_ms or rf.recv_ms
            st.last_ms = rf.recv_ms
            if speed > 0:
                await _pace(t0, (rf.recv_ms - st.first_ms) / 1000.0 / speed)
        if on_raw is not None and rf.venue:
            on_raw(rf.venue, rf.frame, rf.recv_ms)
        dec = decs.get(rf.venue or "")
        if dec is None:
            st.skipped += 1
        else:
            for ev in dec.decode(rf.frame, rf.recv_ms):
                st.events += 1
                sink(ev)
        if st.frames % YIELD_EVERY == 0:
            st.decode_errors = _errors(decs)
            st.bad_lines = counts.bad_lines
            await asyncio.sleep(0)
    st.decode_errors = _errors(decs)
    st.bad_lines, st.truncated = counts.bad_lines, counts.truncated
    st.notes.extend(_notes(st))
    st.done = True
    return st


def _notes(st: ReplayStats) -> list[str]:
    """What the replay could not read, in plain words."""
    out = []
    if st.bad_lines:
        s = "" if st.bad_lines == 1 else "s"
        out.append(
            f"{st.bad_lines} unreadable line{s} skipped in {st.path} (cut by a crash, or not a recording)"
        )
    if st.truncated:
        out.append(
            f"{st.path} ends in a truncated gzip stream (the recorder was stopped before closing it): "
            f"replayed the {st.frames} frames before the cut"
        )
    return out


async def _pace(t0: float, due_s: float) -> None:
    """Sleep until ``due_s`` seconds after ``t0`` on the monotonic clock (no-op when already late)."""
    delay = t0 + due_s - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _errors(decs: Mapping[str, DecoderLike | None]) -> int:
    return sum(int(getattr(d, "errors", 0)) for d in decs.values() if d is not None)
