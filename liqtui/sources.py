"""Where market events come from, for the UI and the headless commands alike.

A :class:`Source` is an async callable ``await source(sink)`` that pushes :class:`~liqtui.core.events.MarketEvent`
objects into ``sink`` (normally ``engine.apply``) until it is cancelled (live, demo) or the recording ends
(replay). Three kinds, one path:

* ``live``   — restore the model from the local store's checkpoint (if any), backfill the lookback over REST
  (resuming what the store has), then the websocket feeds of every configured venue; bars and checkpoints
  are written back to the store.
* ``demo``   — start the simulated exchange (:class:`liqtui.sim.server.DemoExchange`) on 127.0.0.1 and run the
  *same* backfill and feed code against it through endpoint overrides. Demo data never enters the store.
* ``replay`` — a recording file through the same decoders (ours, hftbacktest, cryptofeed v1/v3).

This module is pure (no textual); :func:`run_ui` imports the UI lazily.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec

from liqtui.config import Config
from liqtui.core.engine import Engine
from liqtui.core.events import Candle, MarketEvent
from liqtui.core.model import LOOKBACK_MS, HeatModel
from liqtui.feeds.endpoints import Endpoints
from liqtui.feeds.symbols import instrument

__all__ = ["Source", "SourceKind", "make_engine", "open_store", "run_ui", "run_record"]

log = logging.getLogger("liqtui.sources")

SourceKind = Literal["live", "demo", "replay"]
Progress = Callable[[int, int, str], None]
Sink = Callable[[MarketEvent], None]

#: The demo's simulated past: enough for the longest lookback, generated compressed on start.
DEMO_HISTORY_DAYS = 183.0


def make_engine(cfg: Config, symbol: str | None = None, venues: list[str] | None = None) -> Engine:
    """A fresh engine + model for ``symbol`` with the configured estimator."""
    venues = venues or cfg.venues
    return Engine(HeatModel(cfg.model), symbol=symbol or cfg.symbol, reference=venues[0])


def open_store(cfg: Config) -> Any:
    """The local history store, or None when disabled or unusable (said in the log, never fatal)."""
    if not cfg.store.enabled:
        return None
    from liqtui.history.store import Store, StoreError

    try:
        return Store(cfg.store.path or None, retention_days=cfg.store.retention_days)
    except StoreError as exc:
        log.warning("store unavailable, continuing without it: %s", exc)
        return None


class Source:
    """One runnable source of market events (see module doc). ``progress(done, total, text)`` receives
    backfill progress; ``stats()`` gives per-venue feed counters; ``notes`` collects plain-language remarks
    (what history was missing, why backfill was skipped)."""

    def __init__(
        self,
        kind: SourceKind,
        engine: Engine,
        cfg: Config,
        *,
        symbol: str | None = None,
        venues: list[str] | None = None,
        replay_path: str | None = None,
        seed: int | None = None,
        speed: float = 1.0,
        store: Any = None,
        lookback: str | None = None,
        progress: Progress | None = None,
        on_raw: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self.kind = kind
        self.engine = engine
        self.cfg = cfg
        self.symbol = symbol or cfg.symbol
        self.venues = list(venues or cfg.venues)
        self.replay_path = replay_path
        self.seed = seed
        self.speed = speed
        self.store = store if kind == "live" else None
        self.lookback = lookback or cfg.ui.lookback
        self.progress = progress
        self.on_raw = on_raw
        self.notes: list[str] = []
        self.replay_stats: Any = None
        self._feeds: Any = None
        self.demo: Any = None

    # -------------------------------------------------------------------------------------- public

    def stats(self) -> Mapping[str, Any]:
        """Per-venue counters (frames, decode_errors, reconnects, state ...) of the running feeds."""
        if self._feeds is not None:
            return self._feeds.stats
        if self.replay_stats is not None:
            return {"replay": self.replay_stats}
        return {}

    def totals(self) -> dict[str, int]:
        """frames, decode_errors and reconnects summed over venues."""
        out = {"frames": 0, "decode_errors": 0, "reconnects": 0}
        for st in self.stats().values():
            for k in out:
                out[k] += int(getattr(st, k, 0) if not isinstance(st, Mapping) else st.get(k, 0))
        return out

    async def __call__(self, sink: Sink) -> None:
        if self.kind == "replay":
            await self._replay(sink)
        elif self.kind == "demo":
            await self._demo(sink)
        else:
            await self._live(sink)

    # ------------------------------------------------------------------------------------ the kinds

    async def _replay(self, sink: Sink) -> None:
        from liqtui.history.replay import ReplayStats, replay

        if not self.replay_path:
            raise ValueError("replay needs a recording FILE")
        self.replay_stats = ReplayStats()
        await replay(self.replay_path, sink, speed=self.speed, stats=self.replay_stats, on_raw=self.on_raw)

    async def _demo(self, sink: Sink) -> None:
        from liqtui.sim.server import DemoExchange

        days = min(DEMO_HISTORY_DAYS, LOOKBACK_MS["6M"] / 86_400_000 + 1)
        async with DemoExchange(
            seed=self.seed or 0, speed=self.speed, symbol=instrument("binance", self.symbol), history_days=days
        ) as demo:
            self.demo = demo
            ep = Endpoints.from_overrides(None)
            ep = ep.with_override("binance", "ws", demo.ws_url).with_override("binance", "rest", demo.rest_url)
            now = int(demo.market.now_ms) if demo.market is not None else None
            await self._backfill_then_feeds(sink, ["binance"], ep, now_ms=now, backfill_lookback="6M")

    async def _live(self, sink: Sink) -> None:
        ep = Endpoints.from_overrides(self.cfg.endpoints or None)
        await self._backfill_then_feeds(sink, self.venues, ep, now_ms=None, backfill_lookback="6M")

    # ------------------------------------------------------------------------------------ the steps

    async def _backfill_then_feeds(
        self, sink: Sink, venues: list[str], ep: Endpoints, *, now_ms: int | None, backfill_lookback: str
    ) -> None:
        """The feeds start at once, so price, tape and status are live within a second; the history backfill
        runs beside them. Closed candles (the only events that step the model) are held back until the backfill
        has stepped the past, then applied in order, so the model sees one monotonic sequence of bars."""
        from liqtui.feeds.connection import FeedManager

        writer = None
        if self.store is not None:
            from liqtui.history.store import StoreWriter

            writer = StoreWriter(self.store)
        gate = _CandleGate(sink, writer)
        self._feeds = FeedManager(venues, self.symbol, endpoints=ep, sink=gate, on_raw=self.on_raw)
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(self._feeds.run(), name="feeds")]
        if writer is not None:
            tasks.append(asyncio.create_task(self._flush_loop(writer), name="store-flush"))
            tasks.append(asyncio.create_task(self._checkpoint_loop(), name="checkpoint"))
        try:
            if self.cfg.backfill.enabled:
                await self._backfill(venues[0], ep, backfill_lookback, now_ms)
            gate.open(after_ts=self.engine.model.last_ts)
            await tasks[0]
        finally:
            gate.open(after_ts=None)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.flush()

    async def _backfill(self, venue: str, ep: Endpoints, lookback: str, now_ms: int | None) -> None:
        """History for the longest lookback, so switching lookback later costs nothing."""
        from liqtui.history.backfill import SUPPORTED_VENUES, BackfillError, backfill
        from liqtui.history.restore import model_bars

        if venue not in SUPPORTED_VENUES:
            self._note(f"no REST backfill for {venue}: zones are built from live data only")
            return
        model = self.engine.model

        def on_bars(chunk: Any) -> None:
            bars = model_bars(chunk, after_ts=model.last_ts or None)
            if len(bars):
                model.step_many(bars)
                self.engine.version += 1

        try:
            res = await backfill(
                venue, self.symbol, lookback, rest_url=ep.rest_url(venue), on_bars=on_bars,
                progress=self.progress, store=self.store, now_ms=now_ms,
                since_ms=(model.last_ts or None) if self.store is not None else None,
            )
        except BackfillError as exc:
            self._note(f"backfill failed: {exc}")
            return
        except Exception as exc:  # a network fault in backfill must not stop the live feed
            log.exception("backfill failed")
            self._note(f"backfill failed: {type(exc).__name__}: {exc}")
            return
        for m in res.messages:
            if "no open interest" in m or "missing" in m:
                self._note(m)
        if self.progress is not None:
            self.progress(1, 1, "history loaded")

    async def _flush_loop(self, writer: Any) -> None:
        while True:
            await asyncio.sleep(1.0)
            writer.flush()

    async def _checkpoint_loop(self) -> None:
        from liqtui.history.restore import Checkpointer
        from liqtui.history.store import checkpoint_key

        key = checkpoint_key(self.symbol, self.venues, self.cfg.model)
        await Checkpointer(self.store, key, self.engine.model, interval_s=self.cfg.store.checkpoint_s).run()

    def _note(self, text: str) -> None:
        log.info("%s", text)
        self.notes.append(text)


class _CandleGate:
    """The feeds' sink while history loads: every event goes to the engine at once except closed candles,
    which wait until :meth:`open` (those the backfill already covered are dropped then). Every event also goes
    to the store writer, if any."""

    def __init__(self, sink: Sink, writer: Any = None) -> None:
        self._sink = sink
        self._writer = writer
        self._held: list[Candle] | None = []

    def __call__(self, ev: MarketEvent) -> None:
        if self._writer is not None:
            self._writer.on_event(ev)
        if self._held is not None and isinstance(ev, Candle) and ev.closed:
            self._held.append(ev)
            return
        self._sink(ev)

    def open(self, *, after_ts: int | None) -> None:
        held, self._held = self._held, None
        for c in held or ():
            if after_ts is None or c.ts > after_ts:
                self._sink(c)


def restore_engine(cfg: Config, store: Any, symbol: str, venues: list[str]) -> Engine:
    """An engine whose model is the store's newest checkpoint caught up with stored bars (or a fresh one)."""
    engine = make_engine(cfg, symbol, venues)
    if store is None:
        return engine
    from liqtui.history.restore import restore
    from liqtui.history.store import checkpoint_key

    try:
        model, restored = restore(
            store, checkpoint_key(symbol, venues, cfg.model), venues[0], instrument(venues[0], symbol),
            config=cfg.model,
        )
    except Exception:  # a damaged store never blocks the start
        log.exception("restore from the store failed; starting empty")
        return engine
    if model.last_ts:
        engine.model = model
        log.info("restored model (%s) up to %s", "checkpoint" if restored else "rebuilt", model.last_ts)
    return engine


# ---------------------------------------------------------------------------------------- commands


def _source_for(ns: argparse.Namespace, cfg: Config, symbol: str, venues: list[str], store: Any) -> Source:
    kind: SourceKind = "replay" if ns.command == "replay" else "demo" if getattr(ns, "demo", False) else "live"
    engine = restore_engine(cfg, store, symbol, venues) if kind == "live" else make_engine(cfg, symbol, venues)
    return Source(
        kind, engine, cfg, symbol=symbol, venues=venues, replay_path=getattr(ns, "file", None),
        seed=getattr(ns, "seed", None), speed=getattr(ns, "speed", 1.0), store=store,
    )


def run_ui(ns: argparse.Namespace, cfg: Config) -> int:
    """``liqtui [--demo]`` and ``liqtui replay FILE``: the full-screen monitor."""
    from liqtui.ui.app import LiqtuiApp

    store = open_store(cfg) if ns.command == "run" and not getattr(ns, "demo", False) else None
    state: dict[str, Any] = {"symbol": cfg.symbol, "venues": list(cfg.venues)}
    source = _source_for(ns, cfg, cfg.symbol, cfg.venues, store)

    def restart(symbol: str | None = None, venues: list[str] | None = None) -> tuple[Engine, Source]:
        if symbol:
            state["symbol"] = symbol
        if venues:
            state["venues"] = list(venues)
        nonlocal source
        source = _source_for(ns, cfg, state["symbol"], state["venues"], store)
        source.progress = app.set_progress
        return source.engine, source

    app = LiqtuiApp(
        source.engine, source=source, ui=cfg.ui, keymap=cfg.keymap, symbol=cfg.symbol, venues=cfg.venues,
        stats=lambda: source.stats(),
        on_symbol_change=lambda s: restart(symbol=s),
        on_venues_change=lambda v: restart(venues=v),
    )
    source.progress = app.set_progress
    try:
        app.run()
    finally:
        if store is not None:
            store.close()
    return int(app.return_code or 0)


def run_record(ns: argparse.Namespace, cfg: Config) -> int:
    """``liqtui record FILE``: raw frames as JSON lines (gzip for .gz), live or from the demo exchange."""
    from liqtui.history.record import Recorder

    kind: SourceKind = "demo" if getattr(ns, "demo", False) else "live"
    engine = make_engine(cfg)
    # a recording holds raw websocket frames only: no REST backfill during it
    cfg_nb = msgspec.structs.replace(cfg, backfill=msgspec.structs.replace(cfg.backfill, enabled=False))
    try:
        rec = Recorder(ns.file)
    except (OSError, ValueError) as exc:
        print(f"liqtui record: error: FILE: {exc}", file=sys.stderr)
        return 2
    src = Source(kind, engine, cfg_nb, seed=getattr(ns, "seed", None), speed=getattr(ns, "speed", 1.0), on_raw=rec)

    async def go() -> None:
        async def flusher() -> None:
            while True:
                await asyncio.sleep(0.5)
                rec.flush()

        f = asyncio.create_task(flusher())
        t0 = time.monotonic()
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(src(engine.apply), timeout=ns.duration)
        finally:
            f.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await f
            rec.close()
            t = src.totals()
            print(
                f"recorded {rec.frames} frames ({rec.bytes} bytes) in {time.monotonic() - t0:.1f}s to {ns.file}; "
                f"decode errors {t['decode_errors']}, reconnects {t['reconnects']}",
                file=sys.stderr,
            )

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass
    return 0 if rec.frames else 3
