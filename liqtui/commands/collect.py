"""``liqtui collect``: the standing collector. Runs the feeds of a list of symbols and venues without a
screen, keeps the store complete, and (``--bus``) publishes everything on NATS JetStream for desk screens.

What it keeps, per symbol: 1-minute bars with open interest, funding and realized-liquidation sums (the store's
live writer, flushed every second), every realized liquidation one by one (no venue serves their history: a
screen's tape after a restart is what some collector heard), and the model's checkpoints (every
``[store] checkpoint_s`` and on exit). On start each symbol restores from the store and backfills over REST only
what is missing, so a restart after any downtime leaves no gap the venues can still serve. The feeds reconnect
on their own (:class:`liqtui.feeds.connection.FeedManager`); the bus reconnects and re-sends what JetStream did
not acknowledge (:class:`liqtui.bus.publisher.Publisher`). SIGTERM/SIGINT stop it cleanly (last flush,
last checkpoint, the outbox emptied when the bus is up).

``--demo`` collects the simulated exchange (one per symbol) into a store of its own (``demo.sqlite3`` next to
the user's store, or ``--store FILE``): demo data never enters the real history.

Exit 0 after ``--seconds`` or a signal with events heard, 3 when nothing arrived, 2 for a bad flag or setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from liqtui.config import Config
from liqtui.core.book_events import BookEvent, BookStatus, BookUpdate
from liqtui.core.events import FeedStatus, MarketEvent
from liqtui.core.model import LOOKBACK_MS
from liqtui.feeds.symbols import instrument
from liqtui.sources import DEMO_SYMBOLS, Source, SourceError, reference_first

__all__ = ["Collector", "history_snapshot", "run_collect"]

log = logging.getLogger("liqtui.collect")

#: Seconds between the one-line summaries in the log.
SUMMARY_S = 60.0


def history_snapshot(store: Any, venues: list[str], ticker: str, until_ts: int, lookback: str) -> np.ndarray:
    """The model bars (:data:`liqtui.core.model.BAR_DTYPE`) the store holds for ``ticker`` over ``lookback``
    up to ``until_ts`` (open time of the model's last bar): the reference venue's bars (``venues[0]``) with the
    open interest of every venue summed, as the backfill steps them."""
    from liqtui.history.backfill import combine_oi
    from liqtui.history.restore import model_bars

    start = until_ts - LOOKBACK_MS[lookback]
    read = [store.read_bars(v, instrument(v, ticker), start, until_ts + 1) for v in venues]
    bars = combine_oi(read[0], read[1:]) if len(read) > 1 else read[0]
    return model_bars(bars)


class _Sink:
    """What every event of one symbol goes to: the engine (ticked once per second of event time, like a
    screen), the bus publisher (if any), and the log for feed state changes."""

    def __init__(self, src: Source, publisher: Any) -> None:
        self.engine = src.engine
        self.publisher = publisher
        self.events = 0
        self._next_tick = 0

    def __call__(self, ev: MarketEvent | BookEvent) -> None:
        self.engine.apply(ev)
        if isinstance(
            ev, BookUpdate | BookStatus
        ):  # order books: the engine's depth only (not stored, not published)
            return
        if self.publisher is not None:
            self.publisher(ev)
        if type(ev) is FeedStatus:
            log.info("feed %s %s: %s %s", ev.venue.value, ev.symbol, ev.state.value, ev.reason)
            return
        self.events += 1
        if ev.ts >= self._next_tick:
            self.engine.tick(ev.ts)
            self._next_tick = (ev.ts // 1000 + 1) * 1000


class Collector:
    """The sources of every symbol, the store they share and the bus publisher; :meth:`run` until cancelled."""

    def __init__(
        self,
        cfg: Config,
        *,
        symbols: list[str],
        demo: bool,
        store: Any,
        lookback: str,
        bus: Any = None,
        seed: int | None = None,
        speed: float = 1.0,
    ) -> None:
        self.cfg = cfg
        self.symbols = symbols
        self.store = store
        self.lookback = lookback
        self.bus = bus
        self.link: Any = None
        self.publisher: Any = None
        if bus is not None:
            from liqtui.bus.client import BusLink
            from liqtui.bus.publisher import Publisher

            self.link = BusLink(bus, name="liqtui collect")
            self.publisher = Publisher(self.link, bus)
        kind = "demo" if demo else "live"
        self.sources: list[Source] = []
        self.sinks: list[_Sink] = []
        for sym in symbols:
            src = Source.from_config(
                kind,  # type: ignore[arg-type]
                cfg,
                symbol=sym,
                venues=reference_first(cfg.venues, cfg.reference_venue),
                store=store,
                demo_store=True,
                history_lookback=lookback,
                seed=seed,
                speed=speed,
            )
            src.on_history = self._publish_history
            self.sources.append(src)
            self.sinks.append(_Sink(src, self.publisher))
        self.started = time.monotonic()

    def _publish_history(self, src: Source) -> None:
        """Once a symbol's history is in: its snapshot goes on the bus ahead of the held-back live candles."""
        if self.publisher is None or self.store is None:
            return
        until = src.engine.model.last_ts
        if not until:
            return
        try:
            bars = history_snapshot(self.store, src.venues, src.symbol, until, self.lookback)
        except Exception:  # the live events still go out; a screen then builds from those
            log.exception("reading the history snapshot of %s failed", src.symbol)
            return
        parts = self.publisher.publish_history(
            bars, venue=src.venues[0], ticker=src.symbol, venues=src.venues
        )
        log.info(
            "%s: history snapshot queued for the bus (%d bars, %d messages)", src.symbol, len(bars), parts
        )

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sinks)

    def summary(self) -> str:
        parts = [
            f"{len(self.symbols)} symbols, {self.events} events in {time.monotonic() - self.started:.0f}s"
        ]
        for src in self.sources:
            t = src.totals()
            parts.append(
                f"{src.symbol}: {t['frames']} frames, {t['reconnects']} reconnects, "
                f"{len(src.engine.liquidations)} liquidations on the tape"
            )
        if self.publisher is not None:
            c = self.publisher.counters()
            parts.append(
                f"bus {self.link.state}: {c['acked']} events acknowledged (feed states included), "
                f"{c['pending']} batches pending, "
                f"{c['retries']} retries, {c['dropped']} dropped"
            )
        return "; ".join(parts)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(src(sink), name=f"collect-{src.symbol}")
            for src, sink in zip(self.sources, self.sinks)
        ]
        if self.link is not None:
            tasks.append(asyncio.create_task(self._bus(), name="bus"))
        tasks.append(asyncio.create_task(self._summaries(), name="summaries"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            # the sources first (their last bars, liquidations and checkpoints), then the publisher's last drain
            for t in tasks[: len(self.sources)]:
                t.cancel()
            for t in tasks[: len(self.sources)]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            for t in tasks[len(self.sources) :]:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if self.link is not None:
                await self.link.close()
            log.info("collector stopped: %s", self.summary())

    async def _bus(self) -> None:
        await self.link.open()
        await self.publisher.run()

    async def _summaries(self) -> None:
        while True:
            await asyncio.sleep(SUMMARY_S)
            log.info("%s", self.summary())


def _bus_options(cfg: Config) -> Any:
    if not cfg.bus.url:
        return None
    from liqtui.bus.client import check_options

    check_options(cfg.bus)
    return cfg.bus


def _store_path(ns: argparse.Namespace, cfg: Config, demo: bool) -> Path:
    from liqtui.config import user_data_dir

    if getattr(ns, "store", None):
        return Path(ns.store)
    if demo:
        return user_data_dir() / "demo.sqlite3"
    return Path(cfg.store.path) if cfg.store.path else user_data_dir() / "liqtui.sqlite3"


def run_collect(ns: argparse.Namespace, cfg: Config) -> int:
    """The ``liqtui collect`` command (see module doc)."""
    from liqtui.bus import BusError
    from liqtui.history.store import Store, StoreError

    demo = bool(getattr(ns, "demo", False))
    symbols = list(getattr(ns, "symbols", None) or cfg.collect.symbols or [cfg.symbol])
    if demo:
        bad = [s for s in symbols if s not in DEMO_SYMBOLS]
        if bad:
            print(
                f"liqtui collect: error: --symbols: the demo exchange simulates {', '.join(DEMO_SYMBOLS)} only, "
                f"not {', '.join(bad)}",
                file=sys.stderr,
            )
            return 2
    if getattr(ns, "no_store", False):
        print(
            "liqtui collect: error: --no-store: the collector's job is the store; drop the flag",
            file=sys.stderr,
        )
        return 2
    lookback = getattr(ns, "lookback", None) or cfg.collect.lookback
    try:
        bus = _bus_options(cfg)
    except BusError as exc:
        print(f"liqtui collect: error: {exc}", file=sys.stderr)
        return 2
    path = _store_path(ns, cfg, demo)
    try:
        store = Store(path, retention_days=cfg.store.retention_days)
    except StoreError as exc:
        print(f"liqtui collect: error: {exc}", file=sys.stderr)
        return 2
    if store.notice:
        print(f"liqtui collect: warning: {store.notice}", file=sys.stderr)
    try:
        collector = Collector(
            cfg,
            symbols=symbols,
            demo=demo,
            store=store,
            lookback=lookback,
            bus=bus,
            seed=getattr(ns, "seed", None),
            speed=float(getattr(ns, "speed", 1.0) or 1.0),
        )
    except (SourceError, BusError, ValueError) as exc:
        store.close()
        print(f"liqtui collect: error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "collecting %s from %s into %s%s",
        ",".join(symbols),
        "the demo exchange" if demo else ",".join(cfg.venues),
        path,
        f", publishing on {bus.url} stream {bus.stream}" if bus is not None else "",
    )
    print(
        f"liqtui collect: {','.join(symbols)} → {path}" + (f" and {bus.url}" if bus is not None else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        asyncio.run(_main(collector, getattr(ns, "seconds", None)))
    except BusError as exc:
        print(f"liqtui collect: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    print(f"liqtui collect: stopped: {collector.summary()}", file=sys.stderr)
    return 0 if collector.events else 3


async def _main(collector: Collector, seconds: float | None) -> None:
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert main is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, main.cancel)
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        async with asyncio.timeout(seconds):  # not wait_for: it can lose a cancel on Python 3.11
            await collector.run()
