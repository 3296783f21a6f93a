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
    from liqtui.history.record import Recorder

    try:
        # a recording holds the websocket frames (and REST OI polls) only: no REST backfill during it
        src = Source.from_config(
            source_kind(ns),
            cfg,
            backfill=False,
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

    async def go() -> None:
        flusher = asyncio.create_task(flush_every(rec, 0.5))
        t0 = time.monotonic()
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(src(src.engine.apply), timeout=ns.duration)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            rec.close()
            t = src.totals()
            print(
                f"recorded {rec.frames} frames ({rec.bytes} bytes) in {time.monotonic() - t0:.1f}s to {ns.file}; "
                f"decode errors {t['decode_errors']}, reconnects {t['reconnects']}",
                file=sys.stderr,
            )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
    return 0 if rec.frames else 3
