"""Headless ``liqtui zones``: collect from a source, then print the ranked liquidation zones.

``await collect_zones("replay", replay_path=FILE)`` reads a recording to its end; ``"demo"`` runs the embedded
demo exchange and ``"live"`` the real feeds for ``seconds``. Live and demo first backfill the lookback over
REST (the demo exchange serves the same REST shapes) so the zones have history behind them. The result is one
JSON-ready dict: ``symbol``, ``price``, ``lookback``, ``order`` ("strength" | "reach": how each side is listed),
``above`` / ``below`` (zones with ``low``, ``high``, ``peak``, ``usd``, ``distance_pct``, ``tiers``, ``reach``
(chance to be touched within the forecast horizon, 3 significant digits), ``wall`` ...), ``totals`` {above, below,
imbalance}, ``book`` {bid_usd, ask_usd, walls: [{side, price, usd}]} (the order books over the price window the UI
shows by default), ``stats`` {frames, decode_errors, reconnects, events, candles, backfill_bars, book_updates,
book_resyncs, book_checksum_errors, book_states} and ``notes`` (what was missing, e.g. open interest). A demo run
adds ``truth``: the map against the simulator's true positions for the lookback
(:func:`liqtui.sim.truth.demo_truth`, with the naive baseline).

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
from liqtui.core.book_events import BookEvent, BookStatus, BookUpdate
from liqtui.core.engine import Engine
from liqtui.core.events import VENUES, FeedStatus, MarketEvent
from liqtui.core.model import LOOKBACKS, ModelConfig
from liqtui.core.zones import ORDERS
from liqtui.feeds.endpoints import Endpoints
from liqtui.history.formats import FORMATS, RecordingError
from liqtui.sources import Source

__all__ = [
    "REACH_DIGITS",
    "SOURCES",
    "ZonesArgError",
    "collect_zones",
    "demo_truth_document",
    "format_text",
    "with_book",
    "zones_document",
]

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
        self.books_open = True

    def close_books(self) -> None:
        """The collection is over: the books stay as they stood (the feeds' ``stopped`` on the way out is not
        applied)."""
        self.books_open = False

    def __call__(self, ev: MarketEvent | BookEvent) -> None:
        if isinstance(ev, (BookUpdate, BookStatus)):  # not market events: neither counted nor ticked
            if self.books_open:
                self.engine.apply(ev)
            return
        if isinstance(ev, FeedStatus):
            self.engine.apply(ev)
            return
        self.events += 1
        self.engine.apply(ev)
        if ev.ts >= self._next_tick:
            self.engine.tick(ev.ts)
            self._next_tick = (ev.ts // 1000 + 1) * 1000


def _check(lookback: str, top: int, seconds: float, source: str, order: str = "strength") -> None:
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
    if order not in ORDERS:
        raise ZonesArgError(f"--order must be one of {' '.join(ORDERS)}, got {order!r}")


async def collect_zones(
    source: str,
    *,
    seconds: float = 30.0,
    lookback: str = "1d",
    order: str = "strength",
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
    hyperliquid: Any = None,
    bus: Any = None,
) -> dict[str, Any]:
    """Collect from ``source`` ("replay" | "demo" | "live") and return the zones document (see module doc).

    ``symbol``: a ticker (default BTC); for a replay, None follows the recording's most traded instrument.
    ``speed`` paces a replay (0 = as fast as possible) or the demo market. Raises :class:`ZonesArgError` for
    bad arguments (unknown lookback or order, missing or unreadable recording...). ``order`` ("strength" |
    "reach") lists each side's zones.
    ``store`` (a :class:`liqtui.history.store.Store`, live only): backfill resumes from it and live bars are
    written to it. ``hyperliquid``: the config's [hyperliquid] section (observed positions; None: defaults).
    """
    _check(lookback, top, seconds, source, order)
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
        hyperliquid=hyperliquid,
        bus=bus,
    )
    driver = _Driver(src.engine)
    try:
        await src.collect(driver, seconds, before_stop=driver.close_books)
    except RecordingError as exc:
        raise ZonesArgError(f"--replay: {exc} (readable formats: {', '.join(FORMATS)})") from None
    stats: dict[str, Any] = dict(src.totals())
    if src.replay_stats is not None:
        st = src.replay_stats
        stats.update(format=st.format, instruments=st.symbols, bad_lines=st.bad_lines, truncated=st.truncated)
    if src.backfill_bars:
        stats["backfill_bars"] = src.backfill_bars
    stats["events"] = driver.events
    stats["candles"] = int(src.engine.counters.get("candles", 0))
    doc = zones_document(
        src.engine,
        lookback=lookback,
        top=top,
        threshold_pct=threshold_pct,
        source=source,
        venues=src.venues,
        stats=stats,
        notes=src.notes,
        order=order,
    )
    market = getattr(src.demo, "market", None) if source == "demo" else None
    if market is not None:
        doc["truth"] = demo_truth_document(src.engine, market, lookback)
    doc.update(observed_document(src, lookback, top))
    return doc


def demo_truth_document(engine: Engine, market: Any, lookback: str) -> dict[str, Any]:
    """The truth scorecard of the demo's map for ``lookback`` (:func:`liqtui.sim.truth.demo_truth`: per side the
    correlation, top-5 recall and earth mover's distance of the model and of the naive baseline)."""
    from liqtui.sim.truth import demo_truth

    out: dict[str, Any] = _clean(demo_truth(engine.model, market, (lookback,)))
    return out


def with_book(doc: dict[str, Any], engine: Engine, lookback: str) -> dict[str, Any]:
    """``doc`` with the order books over the price window the UI shows by default for ``lookback``: ``book``
    {bid_usd, ask_usd, walls}, ``wall`` on every zone, and the book counters and states in ``stats``."""
    from liqtui.core.depth import zones_doc_with_book
    from liqtui.ui.view import ViewState, book_grid

    win = ViewState(lookback=lookback).window(doc.get("price"))
    lo, hi = win if win is not None else (None, None)
    grid = book_grid(engine, win) if win is not None else None
    out: dict[str, Any] = _clean(zones_doc_with_book(doc, engine.depth, grid, price_lo=lo, price_hi=hi))
    return out


def observed_document(src: Source, lookback: str, top: int) -> dict[str, Any]:
    """``observed`` and ``calibration`` of the zones document when Hyperliquid is followed (else nothing):
    coverage, the observed zones and the estimate measured against them (null where not yet known)."""
    # a replay follows the venues of its recording
    followed = src.replay_stats.symbols if src.replay_stats is not None else src.venues
    if "hyperliquid" not in followed:
        return {}
    from liqtui.core.observed import observed_json

    obs = src.observer
    if obs is None:  # observed positions switched off ([hyperliquid] observed = false)
        off: dict[str, Any] = observed_json(
            None, None, None, notes=["observed positions are off in the config"]
        )
        return off
    # the clock the snapshots carry (a snapshot's age is wall time; the demo market runs on its own clock)
    rep = obs.report(src.engine.model, lookback, obs.poller.wall_ms(), top_n=top)
    cleaned: dict[str, Any] = _clean(
        observed_json(rep.coverage, rep.zones, rep.calibration, fit=rep.fit, notes=obs.notes)
    )
    return cleaned


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
    order: str = "strength",
) -> dict[str, Any]:
    """The JSON-ready zones document of an engine's model and its order books (see :func:`with_book`; NaN/inf
    become null), each side listed by ``order``."""
    rep = engine.model.zones(lookback, threshold_pct=threshold_pct, top_n=top, order=order)
    price = _finite(rep.price) or _finite(engine.price) or _finite(engine.mark)
    doc = {
        "symbol": engine.symbol,
        "venues": list(venues),
        "source": source,
        "price": price,
        "lookback": lookback,
        "order": order,
        "ts": int(rep.ts or engine.last_event_ts),
        "above": [_zone(z) for z in rep.above],
        "below": [_zone(z) for z in rep.below],
        "totals": {"above": rep.total_above, "below": rep.total_below, "imbalance": rep.imbalance},
        "stats": dict(stats or {}),
        "notes": list(notes),
    }
    cleaned: dict[str, Any] = _clean(doc)
    return with_book(cleaned, engine, lookback)


REACH_DIGITS = 3
"""``reach`` in the JSON: a chance from a volatility forecast, 3 significant digits are all it carries (digits,
not decimals: the strongest zones often stand far away, with chances of 1e-4 or less that are still not 0)."""


def _zone(z: Any) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(z)
    out["reach"] = float(f"{float(out.get('reach', 0.0)):.{REACH_DIGITS}g}")
    return out


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
    lines = [head, f"zones by {doc.get('order', 'strength')}"]
    for side, title in (("above", "above (short liquidations)"), ("below", "below (long liquidations)")):
        lines.append(title)
        for z in doc[side]:
            lines.append(
                f"  {z['low']:>12.2f} – {z['high']:<12.2f} peak {z['peak']:>12.2f}  "
                f"${z['usd'] / 1e6:>10.2f}M  {z['distance_pct']:+6.2f}%  reach {z.get('reach', 0.0):6.1%}"
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
