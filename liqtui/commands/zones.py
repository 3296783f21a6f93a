"""``liqtui zones``: collect (replay, demo or live), then print the ranked zones as text or JSON.

Exit 0 ok, 2 bad arguments (the message names the flag and the allowed values), 3 when no data arrived (no
event from the feeds or the recording, and no backfilled bar), 1 when something else failed (said on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from liqtui.config import Config, StoreConfig
from liqtui.feeds.endpoints import Endpoints
from liqtui.headless import ZonesArgError, _check, collect_zones, format_text
from liqtui.sources import SourceError, reference_first

__all__ = ["EXIT_BAD_ARGS", "EXIT_FAILED", "EXIT_NO_DATA", "EXIT_OK", "run_zones"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS, EXIT_NO_DATA = 0, 1, 2, 3
log = logging.getLogger("liqtui.headless")


class _StderrProgress:
    """Backfill progress as lines on stderr, at most one every 0.5 s (plus every message that is not a tick)."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, done: int, total: int, msg: str) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.5:
            return
        self._last = now
        print(f"backfill [{done}/{total}] {msg}", file=sys.stderr, flush=True)


def run_zones(args: argparse.Namespace, cfg: Config | None = None) -> int:
    """The ``liqtui zones`` command: parse ``args`` (argparse namespace), collect, print, return the exit code."""
    try:
        kw = _kwargs_from_args(args, cfg)
    except ZonesArgError as exc:
        print(f"liqtui zones: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    store = _open_store(kw.pop("_store_cfg"), kw["source"])
    try:
        doc = asyncio.run(collect_zones(**kw, store=store, progress=_StderrProgress()))
    except (ZonesArgError, SourceError) as exc:
        print(f"liqtui zones: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    except (OSError, RuntimeError, ValueError) as exc:  # e.g. a store or demo server that cannot start
        log.exception("zones failed")
        print(f"liqtui zones: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if store is not None:
            store.close()
    if not doc["stats"].get("events") and not doc["stats"].get("backfill_bars"):
        src = kw["source"] + (f" {kw['replay_path']}" if kw.get("replay_path") else "")
        print(
            f"liqtui zones: no data arrived from {src} ({doc['stats'].get('frames', 0)} frames, "
            f"{doc['stats'].get('decode_errors', 0)} decode errors)",
            file=sys.stderr,
        )
        if getattr(args, "json", False):
            _emit(json.dumps(doc))
        return EXIT_NO_DATA
    if getattr(args, "spent", False):
        _add_spent(doc, kw["source"], cfg)
    _emit(json.dumps(doc) if getattr(args, "json", False) else format_text(doc))
    return EXIT_OK


def _add_spent(doc: dict[str, Any], source: str, cfg: Config | None) -> None:
    """``--spent``: the spent-zone log (sweeps and the price reaction after them) under ``spent``. It is kept
    in the store for live data (a running liqtui, ``liqtui watch`` or ``liqtui collect`` writes it)."""
    from liqtui.alerts.spentlog import spent_document
    from liqtui.alerts.watch import spent_store_for

    spent = spent_store_for(cfg) if source == "live" and cfg is not None else None
    records = spent.load(cfg.symbol) if spent is not None and cfg is not None else []
    doc.update(spent_document(records))
    if spent is None:
        doc.setdefault("notes", []).append(
            "spent zones are logged for live data in the store; a demo or replay run keeps them on its screen (l)"
        )


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _kwargs_from_args(args: argparse.Namespace, cfg: Config | None) -> dict[str, Any]:
    source = "replay" if getattr(args, "replay", None) else "demo" if getattr(args, "demo", False) else "live"
    if source == "live" and getattr(args, "bus", None) and not getattr(args, "live", False):
        source = "bus"
    venues = list(getattr(args, "exchange", None) or (cfg.venues if cfg is not None else ["binance"]))
    if cfg is not None and not getattr(args, "exchange", None):
        venues = reference_first(venues, cfg.reference_venue)
    ui = getattr(cfg, "ui", None)
    lookback = getattr(args, "lookback", None) or (ui.lookback if ui is not None else "1d")
    top = getattr(args, "top", None)
    top = top if top is not None else (ui.top_n if ui is not None else 5)
    seconds = getattr(args, "seconds", None)
    seconds = float(seconds) if seconds is not None else 30.0
    order = getattr(args, "order", None) or "strength"
    _check(lookback, top, seconds, source, order)
    endpoints = Endpoints.from_overrides(getattr(cfg, "endpoints", None) or None)
    for key, url in getattr(args, "endpoint", None) or []:
        venue, _, kind = key.partition(".")
        try:
            endpoints = endpoints.with_override(venue, kind or "ws", url)
        except ValueError as exc:
            raise ZonesArgError(f"--endpoint: {exc}") from None
    store_cfg = getattr(cfg, "store", None)
    backfill_cfg = getattr(cfg, "backfill", None)
    return {
        "source": source,
        "seconds": seconds,
        "lookback": lookback,
        "order": order,
        "top": int(top),
        "symbol": getattr(args, "symbol", None)
        or (None if source == "replay" else getattr(cfg, "symbol", "BTC")),
        "venues": venues,
        "replay_path": getattr(args, "replay", None),
        # a replay is read to its end as fast as possible; --speed paces the demo market
        "speed": 0.0 if source == "replay" else float(getattr(args, "speed", 1.0) or 1.0),
        "seed": getattr(args, "seed", None),
        "endpoints": endpoints,
        "model_config": getattr(cfg, "model", None),
        "hyperliquid": getattr(cfg, "hyperliquid", None),
        "threshold_pct": float(ui.threshold_pct) if ui is not None else 50.0,
        "backfill": bool(getattr(backfill_cfg, "enabled", True)) and not getattr(args, "no_backfill", False),
        "_store_cfg": None if getattr(args, "no_store", False) else store_cfg,
        "bus": getattr(cfg, "bus", None),
    }


def _open_store(store_cfg: StoreConfig | None, source: str) -> Any:
    """The history store for a live run (demo and replay data never go into the user's store)."""
    if source != "live" or store_cfg is None or not getattr(store_cfg, "enabled", True):
        return None
    from liqtui.history.store import Store, StoreError

    try:
        store = Store(store_cfg.path or None, retention_days=store_cfg.retention_days)
    except StoreError as exc:
        print(f"liqtui zones: warning: {exc}; continuing without the store", file=sys.stderr)
        return None
    if store.notice:
        print(f"liqtui zones: warning: {store.notice}", file=sys.stderr)
    return store
