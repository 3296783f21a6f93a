"""Where market events come from, for the UI and the headless commands alike.

A :class:`Source` is an async callable ``await source(sink)`` that pushes :class:`~liqtui.core.events.MarketEvent`
objects into ``sink`` (normally ``engine.apply``) until it is cancelled (live, demo) or the recording ends
(replay). Three kinds, one path:

* ``live``   — restore the model from the local store's checkpoint (if any), backfill the lookback over REST
  (resuming what the store has), then the websocket feeds of every configured venue; bars and checkpoints
  are written back to the store.
* ``demo``   — start the simulated exchange (:class:`liqtui.sim.server.DemoExchange`) on 127.0.0.1 and run the
  *same* backfill and feed code against it through endpoint overrides. Demo data never enters the store. With
  the radar's light market (``demo_radar``) any of its symbols can be the one served in full: a full market
  anchored at its light price. A symbol opened from the radar (:meth:`Source.hand_over`) continues the running
  light market, so the radar and the new heatmap stay one market.
* ``replay`` — a recording file through the same decoders (ours, hftbacktest, cryptofeed v1/v3).
* ``bus``    — desk mode: what a ``liqtui collect --bus`` publishes on NATS JetStream, replayed from the
  lookback's start (history) and then followed live (:mod:`liqtui.bus.reader`); no exchange is contacted and
  nothing is written to the store.

This module is pure (no textual). The commands that run a source (``liqtui``, ``record``, ``zones``) are in
:mod:`liqtui.commands`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from liqtui.config import Config
from liqtui.core.book_events import BookEvent
from liqtui.core.engine import Engine
from liqtui.core.events import Candle, FeedState, MarketEvent
from liqtui.core.model import LOOKBACK_MS, HeatModel, ModelConfig
from liqtui.feeds.endpoints import Endpoints
from liqtui.feeds.symbols import instrument
from liqtui.sim.market import DEFAULT_PRICES
from liqtui.sim.multi import light_names

if TYPE_CHECKING:
    from liqtui.venues.book import BookReplay

__all__ = [
    "DEMO_SYMBOLS",
    "SOURCE_KINDS",
    "Source",
    "SourceError",
    "SourceKind",
    "base_of_recording",
    "flush_every",
    "open_store",
    "reference_first",
]

log = logging.getLogger("liqtui.sources")

SourceKind = Literal["live", "demo", "replay", "bus"]
SOURCE_KINDS: tuple[str, ...] = ("live", "demo", "replay", "bus")
Progress = Callable[[int, int, str], None]
Sink = Callable[[MarketEvent | BookEvent], None]

#: Seconds a headless bus run waits for the bus to answer (beyond its --seconds) before it gives up.
BUS_ANSWER_S = 15.0
#: The demo's simulated past: enough for the longest lookback, generated compressed on start.
DEMO_HISTORY_DAYS = 183.0
#: The tickers the demo exchange simulates, each with its own price level (the simulator's per-instrument
#: configurations); another ticker would be BTC's market under a wrong name, so it is refused.
DEMO_SYMBOLS: tuple[str, ...] = tuple(s.removesuffix("USDT") for s in DEFAULT_PRICES)


class SourceError(ValueError):
    """A source asked for something it cannot serve (e.g. a ticker the demo does not simulate)."""


#: The radar's Enter on the demo: (instrument, seed, the running demo exchange) whose light market the next demo
#: source made for that instrument continues (taken once; see :meth:`Source.hand_over`).
_handover: tuple[str, int, Any] | None = None


def _take_handover(inst: str, seed: int) -> Any:
    """The demo exchange handed over for ``inst`` (and ``seed``), if any; the hand-over is spent either way."""
    global _handover
    offer, _handover = _handover, None
    if offer is None or offer[0] != inst or offer[1] != seed or not getattr(offer[2], "running", False):
        return None
    return offer[2]


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
    """One runnable source of market events (see module doc) and the engine it feeds.

    ``engine`` is built here: for a live source with a store, from the store's newest checkpoint caught up with
    the stored bars. ``progress(done, total, text)`` receives backfill progress; ``stats()`` per-venue feed
    counters; ``notes`` plain-language remarks (what history was missing, why backfill was skipped, which feed
    failed); ``history_loaded`` is set once the backfill is done (or skipped, or failed).
    """

    def __init__(
        self,
        kind: SourceKind,
        *,
        symbol: str | None = None,
        venues: Sequence[str] = ("binance",),
        model_config: ModelConfig | None = None,
        endpoints: Endpoints | None = None,
        backfill: bool = True,
        history_lookback: str = "6M",
        store: Any = None,
        checkpoint_s: float = 600.0,
        replay_path: str | None = None,
        seed: int | None = None,
        speed: float = 1.0,
        progress: Progress | None = None,
        on_raw: Callable[[str, str, int], None] | None = None,
        hyperliquid: Any = None,
        bus: Any = None,
        demo_store: bool = False,
        books: bool = True,
        demo_radar: int = 0,
    ) -> None:
        if kind not in SOURCE_KINDS:
            raise ValueError(f"source kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
        if history_lookback not in LOOKBACK_MS:
            raise ValueError(
                f"history lookback must be one of {' '.join(LOOKBACK_MS)}, got {history_lookback!r}"
            )
        #: a running demo exchange whose light market this demo continues (the radar's Enter), else None
        self.takeover: Any = None
        #: the demo serves one of its light market's symbols in full (anchored at its light price)
        self.light = False
        if kind == "demo":
            self.takeover = _take_handover(instrument("binance", symbol or "BTC"), seed or 0)
            self.light = self._check_demo_symbol(symbol or "BTC", seed or 0, demo_radar)
        if kind == "bus":
            from liqtui.bus import BusError, import_nats
            from liqtui.bus.client import check_options

            if bus is None or not bus.servers():
                raise SourceError("the bus source needs a server: --bus nats://HOST:4222")
            try:
                check_options(bus)
                import_nats()
            except BusError as exc:
                raise SourceError(str(exc)) from None
        self.kind = kind
        # a replay without a symbol follows the recording's most traded instrument
        self._replay_symbol = symbol
        self.symbol = symbol or "BTC"
        # the demo exchange speaks the Binance protocol, and Hyperliquid's when asked for (BTC ETH SOL only)
        self.venues = _demo_venues(venues, self.light) if kind == "demo" else list(venues) or ["binance"]
        self.model_config = model_config
        self.endpoints = endpoints or Endpoints()
        self.backfill_on = backfill
        self.history_lookback = history_lookback
        # demo and replay data never enter the user's store (a collector's demo keeps a store of its own:
        # ``demo_store``); a bus screen reads the collector's stream, and the collector keeps the store
        self.store = store if kind == "live" or (kind == "demo" and demo_store) else None
        self.bus = bus
        self._bus_feed: Any = None
        self._bus_up = asyncio.Event()  # set once the bus connection was first made
        #: called once the history is in and before the held-back live candles are applied (the collector
        #: publishes its history snapshot here, so it precedes those candles on the bus)
        self.on_history: Callable[[Source], None] | None = None
        self.checkpoint_s = checkpoint_s
        self.replay_path = replay_path
        self.seed = seed
        self.speed = speed
        self.progress = progress
        self.on_raw = on_raw
        #: follow the order books (live, demo: their own connections and, for Binance, REST snapshots; a replay:
        #: its recorded book frames). ``liqtui record`` turns them off: it records the trade feeds' frames only
        self.books_on = books
        # the demo's many-symbol market for the radar (the screen's `r`): it costs a few ms per market second,
        # which a headless run at --speed 100s cannot spare, so only the screen asks for it
        self.demo_radar = demo_radar
        #: called with each note as it is made (the UI shows it as a notification)
        self.on_note: Callable[[str], None] | None = None
        self.notes: list[str] = []
        self.replay_stats: Any = None
        self.backfill_bars = 0
        self.history_loaded = asyncio.Event()
        self.demo: Any = None
        #: where the demo's history ends and its live market begins (None: now); tests pin it
        self.demo_start_ms: int | None = None
        self._feeds: Any = None
        self._books: Any = None  # the BookFeed (live, demo) or the BookReplay keepers (replay)
        self._checkpoint_key: str | None = None
        #: Hyperliquid's observed positions (a HyperliquidObserver) while "hyperliquid" is followed, else None;
        #: ``hyperliquid`` is the config's [hyperliquid] section (None: its defaults)
        self.hl_config = hyperliquid
        self.observer: Any = None
        self.demo_hyperliquid: Any = None  # the demo's Hyperliquid server (liqtui.sim.hyperliquid)
        self.engine = Engine(
            HeatModel(model_config),
            symbol=self.symbol,
            reference=self.venues[0] if kind != "replay" else None,
        )
        if self.store is not None:
            if self.store.notice:  # a damaged store was set aside and a fresh one started
                self._note(self.store.notice)
            self._restore()
        if self.light and "hyperliquid" in venues:
            self._note(
                f"the demo's Hyperliquid serves {', '.join(DEMO_SYMBOLS)} only; {self.symbol} is on Binance"
            )

    def _check_demo_symbol(self, symbol: str, seed: int, demo_radar: int) -> bool:
        """Whether ``symbol`` is one of the demo's light symbols (else BTC ETH SOL); SourceError if neither."""
        if symbol in DEMO_SYMBOLS:
            return False
        inst = instrument("binance", symbol)
        multi = getattr(self.takeover, "multi", None)
        if (multi is not None and inst in multi.index) or (
            demo_radar > 0 and inst in light_names(demo_radar, seed)
        ):
            return True
        more = " (or one of the light symbols its radar lists: key r)" if demo_radar > 0 else ""
        raise SourceError(
            f"symbol {symbol}: the demo exchange simulates {', '.join(DEMO_SYMBOLS)} only{more}; choose one of them"
        )

    @classmethod
    def from_config(cls, kind: SourceKind, cfg: Config, **kw: Any) -> Source:
        """A source set up from the config file (+ CLI overrides); ``kw`` override single arguments."""
        args: dict[str, Any] = {
            "symbol": cfg.symbol,
            "venues": reference_first(cfg.venues, cfg.reference_venue),
            "model_config": cfg.model,
            "endpoints": Endpoints.from_overrides(cfg.endpoints or None),
            "backfill": cfg.backfill.enabled,
            "checkpoint_s": cfg.store.checkpoint_s,
            "hyperliquid": cfg.hyperliquid,
            "bus": cfg.bus,
        }
        args.update(kw)
        return cls(kind, **args)

    # -------------------------------------------------------------------------------------- public
    @property
    def symbols(self) -> tuple[str, ...] | None:
        """The tickers this source can serve (a ticker switch offers only these), or None for any."""
        return DEMO_SYMBOLS if self.kind == "demo" else None

    def can_open(self, inst: str) -> bool:
        """Whether a demo source for instrument ``inst`` can be made from this one (the radar's Enter): BTC, ETH,
        SOL, and on a demo with a light market every symbol it lists. Live: any."""
        if self.kind != "demo":
            return self.kind == "live"
        if inst.removesuffix("USDT") in DEMO_SYMBOLS:
            return True
        multi = getattr(self.demo, "multi", None)
        return multi is not None and inst in multi.index

    def hand_over(self, inst: str) -> None:
        """The radar's Enter on ``inst``: the next demo source made for it continues this demo's light market
        (same market time and paths; ``inst`` anchored at its light price) instead of starting a new one."""
        global _handover
        if inst == instrument("binance", self.symbol):  # already shown: nothing is made
            return
        if self.kind == "demo" and self.demo is not None and getattr(self.demo, "multi", None) is not None:
            _handover = (inst, self.seed or 0, self.demo)

    @property
    def wall_clock(self) -> bool:
        """Whether the feed's timestamps run with the wall clock, so that receive − exchange time is a lag:
        not for a demo market running at another speed."""
        return not (self.kind == "demo" and self.speed != 1.0)

    def stats(self) -> Mapping[str, Any]:
        """Per-venue counters (frames, decode_errors, reconnects, state ...) of the running feeds, and under
        ``book`` the order books' (see :meth:`book_stats`)."""
        out: dict[str, Any] = {}
        if self._feeds is not None:
            out.update(self._feeds.stats)
        elif self._bus_feed is not None:
            out.update(self._bus_feed.stats())
        elif self.replay_stats is not None:
            out["replay"] = self.replay_stats
        if self._books is not None:
            out["book"] = self.book_stats()
        return out

    def book_stats(self) -> dict[str, int]:
        """``book_updates`` (book events applied), ``book_resyncs``, ``book_checksum_errors``, ``book_gaps`` and
        ``book_stale``, summed over the venues (the engine's :class:`~liqtui.core.depth.DepthBook` figures)."""
        return self.engine.depth.stats()

    def totals(self) -> dict[str, int]:
        """frames, decode_errors and reconnects summed over venues."""
        out = {"frames": 0, "decode_errors": 0, "reconnects": 0}
        for st in self.stats().values():
            for k in out:
                out[k] += int(st.get(k, 0) if isinstance(st, Mapping) else getattr(st, k, 0))
        return out

    async def __call__(self, sink: Sink) -> None:
        """Run until cancelled (live, demo) or the end of the recording (replay)."""
        try:
            if self.kind == "replay":
                await self._replay(sink)
            elif self.kind == "demo":
                await self._demo(sink)
            elif self.kind == "bus":
                await self._bus(sink)
            else:
                await self._feeds_with_history(sink, self.endpoints, now_ms=None)
        finally:
            self.history_loaded.set()

    async def collect(
        self, sink: Sink, seconds: float, *, before_stop: Callable[[], None] | None = None
    ) -> None:
        """Headless: run to the end of a replay, or until the history is loaded plus ``seconds`` of live data.
        ``before_stop`` is called when the collection time is over, before the feeds are stopped (what they say
        while stopping, e.g. books going ``stopped``, is not what was collected)."""
        if self.kind == "replay":
            await self(sink)
            return
        task = asyncio.create_task(self(sink), name=f"source-{self.kind}")
        try:
            if self.kind == "bus":  # a bus that never answers must not hang a headless run
                up = asyncio.create_task(self._bus_up.wait())
                await asyncio.wait(
                    {task, up}, timeout=seconds + BUS_ANSWER_S, return_when=asyncio.FIRST_COMPLETED
                )
                up.cancel()
                if not self._bus_up.is_set() and not task.done():
                    self._note(f"the bus did not answer within {seconds + BUS_ANSWER_S:.0f} s")
                    return
            waiter = asyncio.create_task(self.history_loaded.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not task.done():
                await asyncio.wait({task}, timeout=seconds)
        finally:
            if before_stop is not None:
                before_stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    # ------------------------------------------------------------------------------------ the kinds

    async def _replay(self, sink: Sink) -> None:
        from liqtui.history.replay import ReplayStats, replay

        if not self.replay_path:
            raise ValueError("replay needs a recording FILE")
        self.replay_stats = st = ReplayStats()
        on_raw = self.on_raw
        if self.books_on:
            on_raw = self._books = _ReplayBooks(st, sink, self.on_raw)
        observed = _ObservedTee(self, sink, info_url=None)
        try:
            await replay(
                self.replay_path,
                observed,
                decoders=observed.decoder,
                speed=self.speed,
                stats=st,
                on_raw=on_raw,
                symbol=self._replay_symbol,
            )
        finally:
            observed.stop()
        for text in self.replay_stats.notes:  # unreadable lines, a truncated gzip tail
            self._note(text)
        if self._replay_symbol is None:  # the recording named the instrument: show its ticker
            self.symbol = base_of_recording(self.replay_stats.symbols, self.engine.reference)
            self.engine.set_symbol(self.symbol)

    async def _demo(self, sink: Sink) -> None:
        from liqtui.sim.server import DemoExchange

        # always the whole simulated past, whatever the lookback: the market runs forward from its history's
        # start, so a shorter history would be another market (another price) for the same seed; generating
        # 183 days takes ~0.2 s, and the backfill only fetches the lookback
        takeover, self.takeover = self.takeover, None  # not kept: the old exchange can go once taken over
        async with (
            DemoExchange(
                seed=self.seed or 0,
                speed=self.speed or 1.0,
                symbol=instrument("binance", self.symbol),
                history_days=DEMO_HISTORY_DAYS,
                start_ms=self.demo_start_ms,
                multi_symbols=self.demo_radar,
                takeover=takeover,
            ) as demo,
            contextlib.AsyncExitStack() as stack,
        ):
            self.demo = demo
            ep = self.endpoints.with_override("binance", "ws", demo.ws_url)
            ep = ep.with_override("binance", "rest", demo.rest_url)
            if "hyperliquid" in self.venues:  # the same market and accounts, in Hyperliquid's protocol
                ep = await self._demo_hyperliquid(stack, demo, ep)
            now = int(demo.market.now_ms) if demo.market is not None else None
            # our own exchange on 127.0.0.1: no rate limit to respect, and it keeps its whole OI history
            await self._feeds_with_history(sink, ep, now_ms=now, full_oi_history=True, min_interval_s=0.0)

    async def _demo_hyperliquid(
        self, stack: contextlib.AsyncExitStack, demo: Any, ep: Endpoints
    ) -> Endpoints:
        """Serve Hyperliquid's websocket and info endpoint beside the demo exchange; the endpoints to use."""
        from liqtui.sim.hyperliquid import HyperliquidDemo

        hl = await stack.enter_async_context(HyperliquidDemo(demo, seed=self.seed or 0))
        self.demo_hyperliquid = hl
        ep = ep.with_override("hyperliquid", "ws", hl.ws_url)
        return ep.with_override("hyperliquid", "rest", hl.rest_url)

    async def _bus(self, sink: Sink) -> None:
        import time

        from liqtui.bus.reader import BusFeed

        start = int(time.time() * 1000) - LOOKBACK_MS[self.history_lookback]
        self._bus_feed = feed = BusFeed(
            self.bus,
            ticker=self.symbol,
            venues=self.venues,
            engine=self.engine,
            sink=sink,
            start_ms=start,
            progress=self.progress if self.backfill_on else None,
        )
        waiter = asyncio.create_task(self._bus_loaded(feed))
        try:
            await feed.run()
        finally:
            waiter.cancel()

    async def _bus_loaded(self, feed: Any) -> None:
        await feed.link.connected.wait()
        self._bus_up.set()
        await feed.loaded.wait()
        self.history_loaded.set()

    # ------------------------------------------------------------------------------------ the steps

    async def _feeds_with_history(
        self,
        sink: Sink,
        ep: Endpoints,
        *,
        now_ms: int | None,
        full_oi_history: bool = False,
        min_interval_s: float | None = None,
    ) -> None:
        """The feeds start at once, so price, tape and status are live within a second; the history backfill
        runs beside them. Closed candles (the only events that step the model) are held back until the backfill
        has stepped the past, then applied in order, so the model sees one monotonic sequence of bars."""
        from liqtui.feeds.connection import FeedManager
        from liqtui.venues.book import BookFeed

        writer = None
        if self.store is not None:
            from liqtui.history.store import StoreWriter

            writer = StoreWriter(self.store)
        gate = _CandleGate(sink, writer)
        observed = _ObservedTee(self, gate, info_url=ep.rest_url("hyperliquid"))
        self._feeds = FeedManager(self.venues, self.symbol, endpoints=ep, sink=observed, on_raw=self.on_raw)
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(self._feeds.run(), name="feeds")]
        if self.books_on:
            # the order books on their own connections (book traffic never delays the trade feed); straight to
            # the engine: books are neither held back with the candles nor stored
            self._books = BookFeed(self.venues, self.symbol, sink=sink, endpoints=ep)
            tasks.append(asyncio.create_task(self._books.run(), name="books"))
        if "hyperliquid" in self._feeds.decoders:
            tasks.extend(observed.start(self._feeds.decoders["hyperliquid"]))
        if writer is not None:
            tasks.append(asyncio.create_task(flush_every(writer, 1.0), name="store-flush"))
        if self.store is not None and self._checkpoint_key is not None:
            from liqtui.history.restore import Checkpointer

            cp = Checkpointer(
                self.store, self._checkpoint_key, self.engine.model, interval_s=self.checkpoint_s
            )
            tasks.append(asyncio.create_task(cp.run(), name="checkpoint"))
        try:
            if self.backfill_on:
                await self._backfill(ep, now_ms, full_oi_history, min_interval_s)
            if self.on_history is not None:
                self.on_history(self)
            gate.open(after_ts=self.engine.model.last_ts)
            self.history_loaded.set()
            await tasks[0]
        finally:
            gate.open(after_ts=None)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            observed.stop()
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.flush()
            for st in self._feeds.stats.values():
                if st.message and st.state is FeedState.FAILED:
                    self._note(f"feed failed: {st.message}")

    async def _backfill(
        self, ep: Endpoints, now_ms: int | None, full_oi_history: bool, min_interval_s: float | None
    ) -> None:
        """History for ``history_lookback`` (every venue's open interest summed) into the model."""
        from liqtui.history.backfill import SUPPORTED_VENUES, BackfillError, backfill_venues

        venues = [v for v in self.venues if v in SUPPORTED_VENUES]
        if not venues or venues[0] != self.venues[0]:
            self._note(f"no REST backfill for {self.venues[0]}: zones are built from live data only")
            return
        model = self.engine.model
        try:
            results = await backfill_venues(
                venues,
                self.symbol,
                self.history_lookback,
                rest_urls={v: ep.rest_url(v) for v in venues},
                model=self.engine,  # steps the model and keeps the candles for the klines overlay
                progress=self.progress,
                store=self.store,
                now_ms=now_ms,
                since_ms=(model.last_ts or None),
                full_oi_history=full_oi_history,
                min_interval_s=min_interval_s,
            )
        except BackfillError as exc:
            self._backfill_failed(f"backfill failed: {exc}")
            return
        except (OSError, ValueError, RuntimeError) as exc:  # a network fault in backfill never stops the feed
            log.exception("backfill failed")
            self._backfill_failed(f"backfill failed: {type(exc).__name__}: {exc}")
            return
        self.backfill_bars = results[0].delivered_bars
        for r in results:
            self.notes.extend(m for m in r.messages if "no open interest" in m or "failed" in m)
        self.engine.touch()
        if self.progress is not None:
            self.progress(1, 1, "history loaded")

    def _backfill_failed(self, text: str) -> None:
        """Say so (the live feed goes on, the heatmap builds from live data) and take the progress bar down."""
        self._note(f"{text}; the heatmap builds from live data only")
        if self.progress is not None:
            self.progress(1, 1, "")

    def _restore(self) -> None:
        """Start from the store's newest checkpoint caught up with the stored bars (or a rebuild from them)."""
        from liqtui.history.restore import restore
        from liqtui.history.store import checkpoint_key

        store = self.store
        if store is None:
            return
        self._checkpoint_key = checkpoint_key(self.symbol, self.venues, self.model_config)
        ref = self.venues[0]
        try:
            model, restored = restore(
                store,
                self._checkpoint_key,
                ref,
                instrument(ref, self.symbol),
                config=self.model_config,
                lookback=self.history_lookback,
            )
        except Exception:  # a damaged store never blocks the start
            log.exception("restore from the store failed; starting empty")
            self._note("the local store could not be read; starting without history from it")
            return
        if model.last_ts:
            self.engine.replace_model(model)
            self._note(f"model {'restored from a checkpoint' if restored else 'rebuilt from the store'}")
            self._candles_from_store(ref, model.last_ts)
        self._liquidations_from_store()

    def _liquidations_from_store(self) -> None:
        """The realized liquidations the store heard (a collector's, or an earlier run's) into the tape, newest
        last, as many as the engine keeps."""
        import time

        if self.store is None or not hasattr(self.store, "read_liquidations"):
            return
        now = int(time.time() * 1000)
        keep = self.engine.liquidations.maxlen or 2000
        found: list[Any] = []
        try:
            for v in self.venues:
                found += self.store.read_liquidations(
                    v,
                    instrument(v, self.symbol),
                    now - LOOKBACK_MS[self.history_lookback],
                    now + 86_400_000,
                    limit=keep,
                )
        except Exception:  # the tape is a nicety: a damaged store never blocks the start
            log.exception("reading liquidations from the store failed")
            return
        found.sort(key=lambda ev: ev.ts)
        self.engine.liquidations.extend(found[-keep:])
        if found:
            self.engine.touch()

    def _candles_from_store(self, venue: str, until_ms: int) -> None:
        """The restored model already holds the stored history: keep its candles and OI for the overlay/charts."""
        from liqtui.history.restore import model_bars

        start = until_ms - LOOKBACK_MS[self.history_lookback]
        if self.store is None:
            return
        try:
            bars = model_bars(
                self.store.read_bars(venue, instrument(venue, self.symbol), start, until_ms + 1)
            )
            self.engine.record_history(bars)
        except Exception:  # the overlay is a nicety: a damaged store never blocks the start
            log.exception("reading candles from the store failed")

    def _note(self, text: str) -> None:
        log.info("%s", text)
        self.notes.append(text)
        if self.on_note is not None:
            self.on_note(text)


async def flush_every(writer: Any, seconds: float) -> None:
    """Call ``writer.flush()`` every ``seconds`` until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        writer.flush()


def base_of_recording(instruments: Mapping[str, str], reference: Any) -> str:
    """The ticker of the instrument a replay followed on its reference venue (else any venue)."""
    from liqtui.feeds.symbols import base_of

    inst = instruments.get(str(reference)) if reference is not None else None
    inst = inst or next(iter(instruments.values()), "BTC")
    try:
        return base_of(inst)
    except ValueError:
        return inst


def _demo_venues(venues: Sequence[str], light: bool = False) -> list[str]:
    """The venues the demo serves among ``venues`` (Binance's protocol, and Hyperliquid's for BTC ETH SOL), else
    Binance."""
    served = ("binance",) if light else ("binance", "hyperliquid")
    return [v for v in venues if v in served] or ["binance"]


class _ObservedTee:
    """The sink in front of ``sink`` that also feeds Hyperliquid's observed positions (``source.observer``):
    created once the Hyperliquid decoder exists (:meth:`start`, or :meth:`decoder` for a replay), polling the
    info endpoint (None: a recording, said in the source's notes), closed by :meth:`stop`."""

    def __init__(self, source: Source, sink: Callable[[MarketEvent], None], *, info_url: str | None) -> None:
        self.source = source
        self.sink = sink
        self.info_url = info_url
        self.observer: Any = None

    def __call__(self, ev: MarketEvent) -> None:
        self.sink(ev)
        if self.observer is not None:
            self.observer.apply(ev)

    def _attach(self, decoder: Any, symbol: str) -> None:
        from liqtui.venues.hyperliquid.observer import HyperliquidObserver

        src, cfg = self.source, self.source.hl_config
        if cfg is None:
            from liqtui.config import HyperliquidConfig

            cfg = HyperliquidConfig()
        if not cfg.observed or self.observer is not None:
            return
        obs = HyperliquidObserver(
            symbol,
            info_url=self.info_url,
            share=cfg.info_share,
            store_path=src.store.path if src.store is not None else None,
            seed_file=cfg.addresses or None,
            capacity=cfg.max_accounts,
            dex=cfg.dex,
        )
        obs.attach(decoder)
        self.observer = src.observer = obs
        for text in obs.notes:  # a recording: accounts discovered, nothing polled
            src._note(text)

    def start(self, decoder: Any) -> list[asyncio.Task[Any]]:
        """Attach to the live feeds' Hyperliquid decoder; the polling task (cancel it to stop)."""
        self._attach(decoder, instrument("hyperliquid", self.source.symbol))
        if self.observer is None:
            return []
        return [asyncio.create_task(self.observer.run(), name="hyperliquid-observed")]

    def decoder(self, venue: str, symbol: str) -> Any:
        """A replay's decoder factory: the feeds' decoder, the Hyperliquid one with the observer attached."""
        from liqtui.feeds import make_decoder

        dec = make_decoder(venue, symbol)
        if venue == "hyperliquid" and dec is not None:
            self._attach(dec, symbol)
        return dec

    def stop(self) -> None:
        """Save and close the observer's store (its task is cancelled by the caller)."""
        if self.observer is not None:
            with contextlib.suppress(Exception):
                self.observer.close()


def reference_first(venues: Sequence[str], reference: str) -> list[str]:
    """``venues`` with the price-anchor venue first (the one that steps the model)."""
    out = list(venues)
    if reference in out:
        out.remove(reference)
        out.insert(0, reference)
    return out


class _ReplayBooks:
    """The replay's ``on_raw``: every recorded frame also goes to its venue's book keeper (a
    :class:`~liqtui.venues.book.BookReplay` per venue, for the instrument the replay follows there), whose book
    events go to ``sink``; then to ``on_raw``, if any. A Binance diff stream without its REST snapshot is said
    ``unsynced``, never guessed."""

    def __init__(self, stats: Any, sink: Sink, on_raw: Callable[[str, str, int], None] | None) -> None:
        self._stats = stats  # ReplayStats: ``symbols`` (venue -> instrument) is set before the first frame
        self._sink = sink
        self._on_raw = on_raw
        self.books: dict[str, BookReplay | None] = {}

    def __call__(self, venue: str, frame: str, recv_ms: int) -> None:
        if venue not in self.books:
            from liqtui.venues.book import BookReplay

            inst = self._stats.symbols.get(venue)
            self.books[venue] = BookReplay(inst, self._sink) if inst else None
        rep = self.books[venue]
        if rep is not None:
            rep.feed(venue, frame, recv_ms)
        if self._on_raw is not None:
            self._on_raw(venue, frame, recv_ms)


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
