"""``liqtui record FILE``: raw frames as JSON lines (gzip for .gz), live or from the demo exchange."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from liqtui.commands.ui import source_kind
from liqtui.config import Config
from liqtui.sources import Source, SourceError, flush_every

__all__ = ["run_record"]


def run_record(ns: argparse.Namespace, cfg: Config) -> int:
    """Record until ``--duration`` or Ctrl-C; exit 0 with frames, 3 without, 2 for a bad file or setting."""
    from liqtui.history.record import Recorder, RecordError

    try:
        # a recording holds the trade feeds' websocket frames (and REST OI polls) only: no REST backfill during
        # it, and no order books (their own connections and REST snapshots, none of it recorded)
        src = Source.from_config(
            source_kind(ns),
            cfg,
            backfill=False,
            books=False,
            seed=getattr(ns, "seed", None),
            speed=getattr(ns, "speed", 1.0),
        )
    except SourceError as exc:
        print(f"liqtui record: error: {exc}", file=sys.stderr)
        return 2
    try:
        rec = Recorder(ns.file)
    except (OSError, ValueError) as exc:
        print(f"liqtui record: error: FILE: {exc}", file=sys.stderr)
        return 2
    src.on_raw = rec

    async def feed_for(seconds: float | None) -> None:
        async with asyncio.timeout(seconds):  # not wait_for: it can lose a cancel on Python 3.11
            await src(src.engine.apply)

    async def go() -> None:
        flusher = asyncio.create_task(flush_every(rec, 0.5))
        feed = asyncio.create_task(feed_for(ns.duration))
        t0 = time.monotonic()
        outcomes: list[BaseException | None] = []
        try:
            # the flusher ends only when a write fails (a full disk): stop recording then, not at --duration
            await asyncio.wait({feed, flusher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (feed, flusher):
                task.cancel()
            outcomes = list(await asyncio.gather(feed, flusher, return_exceptions=True))
            with contextlib.suppress(RecordError):  # said below from rec.error
                rec.close()
            t = src.totals()
            print(
                f"recorded {rec.kept_frames} frames ({rec.bytes} bytes) in {time.monotonic() - t0:.1f}s to "
                f"{ns.file}; decode errors {t['decode_errors']}, reconnects {t['reconnects']}",
                file=sys.stderr,
            )
        for o in outcomes:
            if isinstance(o, Exception) and not isinstance(o, (asyncio.TimeoutError, RecordError)):
                raise o

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
    if rec.error is not None:
        print(f"liqtui record: error: {rec.error}", file=sys.stderr)
        return 2
    return 0 if rec.frames else 3
