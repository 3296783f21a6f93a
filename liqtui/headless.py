"""Headless ``liqtui zones``: collect from a source, then print the ranked liquidation zones.

``await collect_zones("replay", replay_path=FILE)`` reads a recording to its end; ``"demo"`` runs the embedded
demo exchange and ``"live"`` the real feeds for ``seconds``. Live and demo first backfill the lookback over
REST (the demo exchange serves the same REST shapes) so the zones have history behind them. The result is one
JSON-ready dict: ``symbol``, ``price``, ``lookback``, ``above`` / ``below`` (zones with ``low``, ``high``,
``peak``, ``usd``, ``distance_pct``, ``tiers`` ...), ``totals`` {above, below, imbalance}, ``stats`` {frames,
decode_errors, reconnects, events, candles, backfill_bars} and ``notes`` (what was missing, e.g. open interest).

:func:`run_zones` is what the CLI calls: exit 0 ok, 2 bad arguments (the message names the flag and the
allowed values), 3 when no data arrived (no event from the feeds or the recording, and no backfilled bar),
1 when something else failed (said on stderr).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from liqtui.core.engine import Engine
from liqtui.core.events import VENUES, FeedStatus, MarketEvent
from liqtui.core.model import LOOKBACKS, ModelConfig
from liqtui.feeds.endpoints import Endpoints
from liqtui.history.formats import FORMATS, RecordingError
from liqtui.sources import Source, reference_first

__all__ = ["SOURCES", "ZonesArgError", "collect_zones", "format_text", "run_zones", "zones_document"]

SOURCES: tuple[str, ...] = ("replay", "demo", "live")
EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS, EXIT_NO_DATA = 0, 1, 2, 3
log = logging.getLogger("liqtui.headless")

Progress = Callable[[int, int, str], None]


class ZonesArgError(ValueError):
    """A bad argument; the message names the flag and the allowed values."""


class _Driver:
    """The sink every source feeds: applies events to the engine and ticks it on event time (once per
    exchange second), so a replay of a recording makes exactly the calls the recorded run made."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events = 0
        self._next_tick = 0

    def __call__(self, ev: MarketEvent) -> None:
        if isinstance(ev, FeedStatus):
            self.engine.apply(ev)
            return
        self.events += 1
        self.engine.apply(ev)
        if ev.ts >= self._next_tick:
            self.engine.tick(ev.ts)
            self._next_tick = (ev.ts // 1000 + 1) * 1000


def _check(lookback: str, top: int, seconds: float, source: str) -> None:
    if source not in SOURCES:
        raise ZonesArgError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if lookback not in LOOKBACKS:
        raise ZonesArgError(f"--lookback must be one of {' '.join(LOOKBACKS)}, got {lookback!r}")
    if not (isinstance(top, int) and 1 <= top <= 50):
        raise ZonesArgError(f"--top must be an integer from 1 to 50, got {top!r}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ZonesArgError(f"--seconds must be a number > 0, got {seconds!r}")


async def collect_zones(
    source: str,
    *,
    seconds: float = 30.0,
    lookback: str = "1d",
    top: int = 5,
    symbol: str | None = None,
    venues: Sequence[str] = ("binance",),
    replay_path: str | None = None,
    speed: float = 0.0,
    seed: int | None = None,
    endpoints: Endpoints | None = None,
    model_config: ModelConfig | None = None,
    threshold_pct: float = 50.0,
    backfill: bool = True,
    store: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Collect from ``source`` ("replay" | "demo" | "live") and return the zones document (see module doc).

    ``symbol``: a ticker (default BTC); for a replay, None follows the recording's most traded instrument.
    ``speed`` paces a replay (0 = as fast as possible) or the demo market. Raises :class:`ZonesArgError` for
    bad arguments (unknown lookback, missing or unreadable recording...).
    ``store`` (a :class:`liqtui.history.store.Store`, live only): backfill resumes from it and live bars are
    written to it.
    """
    _check(lookback, top, seconds, source)
    venues = list(venues) or ["binance"]
    for v in venues:
        if v not in VENUES:
            raise ZonesArgError(f"--exchange must name venues among {', '.join(VENUES)}, got {v!r}")
    if source == "replay":
        if not replay_path:
            raise ZonesArgError("--replay needs a recording FILE")
        if not Path(replay_path).is_file():
            raise ZonesArgError(f"--replay: no such file {replay_path!r}")
    src = Source(
        source,  # type: ignore[arg-type]
        symbol=symbol,
        venues=venues,
        model_config=model_config,
        endpoints=endpoints,
        backfill=backfill,
        history_lookback=lookback,
        store=store,
        replay_path=replay_path,
        seed=seed,
        speed=speed,
        progress=progress,
    )
    driver = _Driver(src.engine)
    try:
        await src.collect(driver, seconds)
    except RecordingError as exc:
        raise ZonesArgError(f"--replay: {exc} (readable formats: {', '.join(FORMATS)})") from None
    stats: dict[str, Any] = dict(src.totals())
    if src.replay_stats is not None:
        st = src.replay_stats
        stats.update(format=st.format, instruments=st.symbols)
    if src.backfill_bars:
        stats["backfill_bars"] = src.backfill_bars
    stats["events"] = driver.events
    stats["candles"] = int(src.engine.counters.get("candles", 0))
    return zones_document(
        src.engine,
        lookback=lookback,
        top=top,
        threshold_pct=threshold_pct,
        source=source,
        venues=src.venues,
        stats=stats,
        notes=src.notes,
    )


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def zones_document(
    engine: Engine,
    *,
    lookback: str,
    top: int,
    threshold_pct: float = 50.0,
    source: str = "",
    venues: Sequence[str] = (),
    stats: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON-ready zones document of an engine's model (NaN/inf become null)."""
    rep = engine.model.zones(lookback, threshold_pct=threshold_pct, top_n=top)
    price = _finite(rep.price) or _finite(engine.price) or _finite(engine.mark)
    doc = {
        "symbol": engine.symbol,
        "venues": list(venues),
        "source": source,
        "price": price,
        "lookback": lookback,
        "ts": int(rep.ts or engine.last_event_ts),
        "above": [_zone(z) for z in rep.above],
        "below": [_zone(z) for z in rep.below],
        "totals": {"above": rep.total_above, "below": rep.total_below, "imbalance": rep.imbalance},
        "stats": dict(stats or {}),
        "notes": list(notes),
    }
    return _clean(doc)


def _zone(z: Any) -> dict[str, Any]:
    return msgspec.to_builtins(z)  # type: ignore[no-any-return]


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def format_text(doc: dict[str, Any]) -> str:
    """A short human-readable table of the zones document."""
    price = doc.get("price")
    head = (
        f"{doc['symbol']} {doc['lookback']}  price {price if price is not None else '?'}  "
        f"({doc['stats'].get('frames', 0)} frames, {doc['stats'].get('events', 0)} events)"
    )
    lines = [head]
    for side, title in (("above", "above (short liquidations)"), ("below", "below (long liquidations)")):
        lines.append(title)
        for z in doc[side]:
            lines.append(
                f"  {z['low']:>12.2f} – {z['high']:<12.2f} peak {z['peak']:>12.2f}  "
                f"${z['usd'] / 1e6:>10.2f}M  {z['distance_pct']:+6.2f}%"
            )
        if not doc[side]:
            lines.append("  (none)")
    t = doc["totals"]
    lines.append(
        f"totals  above ${t['above'] / 1e6:.2f}M  below ${t['below'] / 1e6:.2f}M  "
        f"imbalance {t['imbalance']:+.2f}"
    )
    lines.extend(f"note: {n}" for n in doc.get("notes", []))
    return "\n".join(lines)


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


def run_zones(args: Any, cfg: Any = None) -> int:
    """The ``liqtui zones`` command: parse ``args`` (argparse namespace), collect, print, return the exit code."""
    try:
        kw = _kwargs_from_args(args, cfg)
    except ZonesArgError as exc:
        print(f"liqtui zones: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    store = _open_store(kw.pop("_store_cfg"), kw["source"])
    try:
        doc = asyncio.run(collect_zones(**kw, store=store, progress=_StderrProgress()))
    except ZonesArgError as exc:
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
    _emit(json.dumps(doc) if getattr(args, "json", False) else format_text(doc))
    return EXIT_OK


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _kwargs_from_args(args: Any, cfg: Any) -> dict[str, Any]:
    source = "replay" if getattr(args, "replay", None) else "demo" if getattr(args, "demo", False) else "live"
    venues = list(getattr(args, "exchange", None) or (cfg.venues if cfg is not None else ["binance"]))
    if cfg is not None and not getattr(args, "exchange", None):
        venues = reference_first(venues, cfg.reference_venue)
    ui = getattr(cfg, "ui", None)
    lookback = getattr(args, "lookback", None) or (ui.lookback if ui is not None else "1d")
    top = getattr(args, "top", None)
    top = top if top is not None else (ui.top_n if ui is not None else 5)
    seconds = getattr(args, "seconds", None)
    seconds = float(seconds) if seconds is not None else 30.0
    _check(lookback, top, seconds, source)
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
        "threshold_pct": float(ui.threshold_pct) if ui is not None else 50.0,
        "backfill": bool(getattr(backfill_cfg, "enabled", True)) and not getattr(args, "no_backfill", False),
        "_store_cfg": None if getattr(args, "no_store", False) else store_cfg,
    }


def _open_store(store_cfg: Any, source: str) -> Any:
    """The history store for a live run (demo and replay data never go into the user's store)."""
    if source != "live" or store_cfg is None or not getattr(store_cfg, "enabled", True):
        return None
    from liqtui.history.store import Store, StoreError

    try:
        return Store(store_cfg.path or None, retention_days=store_cfg.retention_days)
    except StoreError as exc:
        print(f"liqtui zones: warning: {exc}; continuing without the store", file=sys.stderr)
        return None
