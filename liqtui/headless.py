"""Headless ``liqtui zones``: collect from a source, then print the ranked liquidation zones.

``await collect_zones("replay", replay_path=FILE)`` reads a recording to its end; ``"demo"`` runs the embedded
demo exchange and ``"live"`` the real feeds for ``seconds``. Live and demo first backfill the lookback over
REST (the demo exchange serves the same REST shapes) so the zones have history behind them. The result is one
JSON-ready dict: ``symbol``, ``price``, ``lookback``, ``above`` / ``below`` (zones with ``low``, ``high``,
``peak``, ``usd``, ``distance_pct``, ``tiers`` ...), ``totals`` {above, below, imbalance}, ``stats`` {frames,
decode_errors, reconnects, events, candles, backfill_bars} and ``notes`` (what was missing, e.g. open interest).

The command ``liqtui zones`` itself (flags, stderr, exit codes) is :func:`liqtui.commands.zones.run_zones`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from liqtui.config import ZONES_TOP
from liqtui.core.engine import Engine
from liqtui.core.events import VENUES, FeedStatus, MarketEvent
from liqtui.core.model import LOOKBACKS, ModelConfig
from liqtui.feeds.endpoints import Endpoints
from liqtui.history.formats import FORMATS, RecordingError
from liqtui.sources import Source

__all__ = ["SOURCES", "ZonesArgError", "collect_zones", "format_text", "zones_document"]

SOURCES: tuple[str, ...] = ("replay", "demo", "live", "bus")
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
    if not isinstance(top, int) or top not in ZONES_TOP:
        raise ZonesArgError(
            f"--top must be an integer between {ZONES_TOP.lo:g} and {ZONES_TOP.hi:g}, got {top!r}"
        )
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
    bus: Any = None,
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
        bus=bus,
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
    cleaned: dict[str, Any] = _clean(doc)
    return cleaned


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
