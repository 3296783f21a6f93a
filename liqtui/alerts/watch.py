"""``liqtui watch``: a :class:`~liqtui.sources.Source` feeding an engine without a screen, and an
:class:`~liqtui.alerts.controller.AlertsController` firing the alerts.

Alerts are evaluated on market time: once per exchange second of the events (as the headless zones command ticks
the engine), so a replay at any speed fires exactly what the recorded market would have; the state file for
``liqtui status`` is rewritten once a wall-clock second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import msgspec

from liqtui.alerts.actions import Notifier
from liqtui.alerts.controller import AlertsController
from liqtui.alerts.evaluator import Alert
from liqtui.alerts.rules import AlertRule, parse_rules
from liqtui.alerts.spentlog import SpentStore
from liqtui.alerts.state import data_dir
from liqtui.core.book_events import BookEvent, BookStatus, BookUpdate
from liqtui.core.events import FeedStatus, MarketEvent

__all__ = ["MarketClockDriver", "rules_from_config", "spent_store_for", "watch"]

log = logging.getLogger("liqtui.alerts")


def rules_from_config(cfg: Any) -> list[AlertRule]:
    """The config's ``alerts`` (raw ``[[alerts]]`` tables, or rules already parsed); absent → the defaults."""
    raw = getattr(cfg, "alerts", None)
    if isinstance(raw, list) and all(isinstance(r, AlertRule) for r in raw):
        return list(raw)
    return parse_rules(raw)


def spent_store_for(cfg: Any) -> SpentStore | None:
    """The spent-zone table in the history store's file (live data only), or None when the store is off or
    unusable (logged)."""
    store = getattr(cfg, "store", None)
    if store is not None and not getattr(store, "enabled", True):
        return None
    configured = str(getattr(store, "path", "") or "")
    path = Path(configured).expanduser() if configured else Path(data_dir()) / "liqtui.sqlite3"
    try:
        return SpentStore(path)
    except (OSError, sqlite3.Error) as exc:  # the log works without it
        log.warning("spent-zone log: cannot open %s, keeping it in memory: %s", path, exc)
        return None


class MarketClockDriver:
    """The source's sink: applies events to the engine, ticks it and evaluates the alerts once per exchange
    second of event time."""

    def __init__(self, engine: Any, controller: AlertsController) -> None:
        self.engine = engine
        self.controller = controller
        self.events = 0
        self._next = 0

    def __call__(self, ev: MarketEvent | BookEvent) -> None:
        self.engine.apply(ev)
        if isinstance(ev, (FeedStatus, BookUpdate, BookStatus)):  # order books: not market time
            return
        self.events += 1
        if ev.ts >= self._next:
            self.engine.tick(ev.ts)
            self.controller.reader.sample()
            self.controller.evaluate(ev.ts)
            self._next = (ev.ts // 1000 + 1) * 1000


def _printer(out: TextIO, as_json: bool) -> Callable[[Alert], None]:
    def show(alert: Alert) -> None:
        if as_json:
            line = msgspec.json.encode(alert).decode()
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(alert.ts / 1000))
            line = f"{stamp} {alert.kind:<11} {alert.text}"
        print(line, file=out, flush=True)

    return show


def watch(
    cfg: Any,
    rules: list[AlertRule],
    *,
    kind: str = "live",
    replay_path: str | None = None,
    symbol: str | None = None,
    seconds: float | None = None,
    as_json: bool = False,
    status_file: bool = True,
    seed: int | None = None,
    speed: float = 1.0,
    out: TextIO | None = None,
    until: Callable[[AlertsController], bool] | None = None,
) -> int:
    """Run until Ctrl-C, ``seconds``, the end of a replay, or ``until(controller)`` says true (checked about
    once a second, e.g. "three alerts fired"); returns the exit status. The demo loads the history of the longest
    lookback the rules use (at least 1d), not six months: the zones need no more, and it starts fast; live keeps
    the app's six months (the store's checkpoints are shared with it)."""
    from liqtui.sources import Source, open_store

    out = out or sys.stdout
    store = open_store(cfg) if kind == "live" else None
    from liqtui.core.model import LOOKBACK_MS

    kw: dict[str, Any] = {"store": store, "seed": seed, "speed": speed}
    if kind == "demo":  # live keeps six months: its checkpoints are shared with the app
        kw["history_lookback"] = max(["1d", *(r.lookback for r in rules)], key=LOOKBACK_MS.__getitem__)
    if kind == "replay":
        kw.update(replay_path=replay_path, symbol=symbol)
    src = Source.from_config(kind, cfg, **kw)  # type: ignore[arg-type]  # kind is one of SOURCE_KINDS
    term = sys.stderr if as_json else out

    def write(text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            term.write(text)
            term.flush()

    notifier = Notifier(write=write, toast=_printer(out, as_json))
    controller = AlertsController(
        src.engine,
        rules,
        symbol=src.symbol,
        notifier=notifier,
        write_state=status_file,
        spent_store=spent_store_for(cfg) if kind == "live" else None,
        source=kind,
        ready=src.history_loaded.is_set,
    )
    driver = MarketClockDriver(src.engine, controller)

    async def go() -> int:
        task = asyncio.create_task(src(driver), name="watch-source")
        deadline = None if seconds is None else time.monotonic() + seconds
        status = 0
        try:
            while not task.done():
                controller.reader.sample()
                controller.write_state_file()
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if until is not None and until(controller):
                    break
                await asyncio.wait(
                    {task}, timeout=1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                )
            if task.done() and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                log.error("source failed: %s", exc)
                print(f"liqtui watch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
                status = 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await notifier.drain(timeout=5.0)
            controller.close()
            if store is not None:
                store.close()
        for note in src.notes:
            log.info("%s", note)
        return status

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        return 0
