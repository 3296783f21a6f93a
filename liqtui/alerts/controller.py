"""What a running liqtui owns for alerts: engine → snapshots → evaluator → actions, the alert log, the spent-zone
log and the state file for ``liqtui status``. Used by the app (polled on its UI timer) and by ``liqtui watch``.
Pure: no textual; the engine is read through its public attributes (``price``, ``mark``, ``model.zones``,
``liquidations``, ``counters``, ``version``, ``last_event_ts``).
"""

from __future__ import annotations

import collections
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from liqtui.alerts.actions import Notifier
from liqtui.alerts.evaluator import Alert, Evaluator, LiqView, Snapshot, ZoneLike, zone_distance_pct
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.spentlog import SpentLog, SpentStore
from liqtui.alerts.state import remove_state, state_path, write_state

__all__ = ["AlertsController", "EngineReader", "nearest_zone"]

log = logging.getLogger("liqtui.alerts")

_SIDE = {1: "long", -1: "short"}


def _valid(p: Any) -> float | None:
    return float(p) if isinstance(p, (int, float)) and math.isfinite(p) and p > 0 else None


class EngineReader:
    """Reads :class:`~liqtui.alerts.evaluator.Snapshot` s off an engine: the liquidations that arrived since the
    previous read (by the engine's ``liquidations`` counter), and the price range sampled in between (call
    :meth:`sample` as often as convenient, e.g. every UI tick, so a quick wick through a zone is seen)."""

    def __init__(self, engine: Any, *, symbol: str | None = None, top_n: int = 20) -> None:
        self.engine = engine
        self.symbol = symbol or str(getattr(engine, "symbol", "") or "BTC")
        self.top_n = top_n
        self._liq_seen = int(engine.counters.get("liquidations", 0))
        self._lo = math.inf
        self._hi = -math.inf

    def price(self) -> float | None:
        e = self.engine
        return _valid(e.price) or _valid(e.mark) or _valid(getattr(e.model, "price", None))

    def sample(self) -> None:
        p = self.price()
        if p is not None:
            self._lo = min(self._lo, p)
            self._hi = max(self._hi, p)

    def new_liquidations(self) -> list[LiqView]:
        e = self.engine
        count = int(e.counters.get("liquidations", 0))
        new, self._liq_seen = count - self._liq_seen, count
        if new <= 0:
            return []
        tail = list(e.liquidations)[-new:]
        out = []
        for x in tail:
            side = _SIDE.get(int(x.side))
            if side is not None and math.isfinite(x.usd):
                out.append(LiqView(ts=int(x.ts), side=side, price=float(x.price), usd=float(x.usd)))
        return out

    def snapshots(self, lookbacks: Iterable[str], now_ms: int) -> dict[str, Snapshot] | None:
        """One snapshot per lookback (same price, range and liquidations), or None before the first price."""
        self.sample()
        price = self.price()
        if price is None:
            return None
        liqs = self.new_liquidations()
        lo, hi = self._lo, self._hi
        for x in liqs:  # a liquidation's fill price is a price the market traded at
            lo, hi = min(lo, x.price), max(hi, x.price)
        self._lo, self._hi = math.inf, -math.inf
        e = self.engine
        # market time: the newest non-trade event (marks arrive every few seconds live) or the model's last bar
        ts = max(int(getattr(e, "last_event_ts", 0) or 0), int(getattr(e.model, "last_ts", 0) or 0)) or now_ms
        out = {}
        for lb in lookbacks:
            rep = e.model.zones(lb, top_n=self.top_n)
            imb = (
                float(rep.imbalance)
                if math.isfinite(rep.imbalance) and (rep.total_above + rep.total_below) > 0
                else None
            )
            out[lb] = Snapshot(
                ts=ts, price=price, above=list(rep.above), below=list(rep.below), liquidations=liqs, imbalance=imb,
                symbol=self.symbol, low=lo if lo <= hi else None, high=hi if lo <= hi else None,
            )  # fmt: skip
        return out


def nearest_zone(side: str, zones: Sequence[ZoneLike], price: float, top: int = 5) -> dict[str, float] | None:
    """The zone nearest the price among the ``top`` strongest, for the state file."""
    best = None
    for z in list(zones)[:top]:
        d = zone_distance_pct(side, z.low, z.high, price)
        if best is None or d < best[0]:
            best = (d, z)
    if best is None:
        return None
    d, z = best
    return {
        "low": float(z.low),
        "high": float(z.high),
        "usd": round(float(z.usd), 2),
        "distance_pct": round(d, 3),
    }


class AlertsController:
    """Owns the evaluators (one per lookback the rules use), the notifier, the alert log, the spent-zone log and
    the state file of one engine.

    Call :meth:`poll` often (the UI timer); it samples the price every call, evaluates at most every
    ``min_interval_s`` and only when the engine's version moved, and rewrites the state file once a second.
    ``state_dir``: the data dir (None: ``$LIQTUI_DATA`` / the user data dir); ``write_state=False`` for none.
    ``spent_store``: where the spent-zone log persists (None: memory only — the demo and replays).
    ``on_alert`` sees every alert after its actions ran (the app refreshes its log screen). ``ready``: alerts wait
    until it says true (e.g. ``source.history_loaded.is_set``); the state file does not wait.
    """

    def __init__(
        self,
        engine: Any,
        rules: Sequence[AlertRule],
        *,
        symbol: str | None = None,
        notifier: Notifier | None = None,
        state_dir: Path | None = None,
        write_state: bool = True,
        spent_store: SpentStore | None = None,
        source: str = "live",
        status_lookback: str = "1d",
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        max_log: int = 500,
        on_alert: Callable[[Alert], None] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.rules = list(rules)
        self.notifier = notifier or Notifier()
        self.state_dir = state_dir
        self.write_state_on = write_state
        self.spent_store = spent_store
        self.source = source
        self.status_lookback = status_lookback
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.on_alert = on_alert
        self.ready = ready
        self.log: collections.deque[Alert] = collections.deque(maxlen=max_log)
        self.version = 0  # bumps on a new alert or spent-zone record (screens redraw on it)
        self.last_alert: Alert | None = None
        self._last_alert_wall: float | None = None
        self.set_engine(engine, symbol)

    # ----------------------------------------------------------------------------------------- engine
    def set_engine(self, engine: Any, symbol: str | None = None) -> None:
        """Follow a new engine (a ticker or venue change): fresh evaluators and spent log; the alert log stays."""
        old = getattr(self, "state_file", None)
        self.engine = engine
        self.symbol = (symbol or str(getattr(engine, "symbol", "") or "BTC")).upper()
        self.reader = EngineReader(engine, symbol=self.symbol)
        groups: dict[str, list[int]] = {}  # lookback → indices of its rules
        for i, r in enumerate(self.rules):
            groups.setdefault(r.lookback, []).append(i)
        groups.setdefault(self.status_lookback, [])
        self.evaluators = {
            lb: Evaluator([self.rules[i] for i in idx], self.symbol) for lb, idx in groups.items()
        }
        self._index = {(lb, k): i for lb, idx in groups.items() for k, i in enumerate(idx)}
        self.spent = SpentLog(self.symbol, store=self.spent_store, on_error=self._store_failed)
        self.state_file = state_path(self.symbol, self.state_dir) if self.write_state_on else None
        if old is not None and old != self.state_file:
            remove_state(old)
        self._seen_version: int | None = None
        self._last_eval = -math.inf
        self._last_state = -math.inf
        self._state: dict[str, Any] | None = None

    def _store_failed(self, exc: BaseException) -> None:
        log.warning("spent-zone log: the store failed, keeping it in memory only: %s", exc)

    # ----------------------------------------------------------------------------------------- polling
    def poll(self, now: float | None = None) -> list[Alert]:
        """Sample, maybe evaluate (fire the actions), maybe write the state file; returns the new alerts."""
        now = self.clock() if now is None else now
        self.reader.sample()
        fired: list[Alert] = []
        version = getattr(self.engine, "version", None)
        if version != self._seen_version and now - self._last_eval >= self.min_interval_s:
            self._seen_version = version
            self._last_eval = now
            fired = self.evaluate(int(now * 1000))
        if fired or now - self._last_state >= 1.0:
            self.write_state_file(now)
        return fired

    def evaluate(self, now_ms: int) -> list[Alert]:
        """One evaluation over a fresh snapshot of the engine: alerts fired (actions run), spent log updated.
        While ``ready()`` is false (the history still loading: zones of a partial past), nothing is evaluated and
        the liquidations meanwhile are passed over, so no alert fires on a half-built picture."""
        if self.ready is not None and not self.ready():
            self.reader.new_liquidations()
            return []
        try:
            snaps = self.reader.snapshots(self.evaluators, now_ms)
        except Exception:  # a model in a bad state must not stop the app or the watcher
            log.exception("alerts: reading the engine failed")
            return []
        if snaps is None:
            return []
        fired: list[Alert] = []
        for lb, ev in self.evaluators.items():
            for alert in ev.evaluate(snaps[lb]):
                alert.rule = self._index[(lb, alert.rule)]
                self.notifier.fire(alert, self.rules[alert.rule])
                self.log.append(alert)
                fired.append(alert)
            if lb == self.status_lookback:
                self.spent.observe(snaps[lb], ev.sweeps)
        status = snaps[self.status_lookback]
        self._state = {
            "price": status.price,
            "squeeze": nearest_zone("above", status.above, status.price),
            "flush": nearest_zone("below", status.below, status.price),
            "imbalance": None if status.imbalance is None else round(status.imbalance, 4),
        }
        if fired:
            self.last_alert = fired[-1]
            self._last_alert_wall = self.clock()  # wall time: the status line marks recent alerts
            self.version += 1
            for a in fired:
                if self.on_alert is not None:
                    self.on_alert(a)
        return fired

    # ----------------------------------------------------------------------------------------- state file
    def state_doc(self, now: float) -> dict[str, Any] | None:
        if self._state is None:
            price = self.reader.price()
            if price is None:
                return None
            self._state = {"price": price, "squeeze": None, "flush": None, "imbalance": None}
        alert = None
        if self.last_alert is not None and self._last_alert_wall is not None:
            alert = {
                "ts": int(self._last_alert_wall * 1000),
                "text": self.last_alert.text,
                "kind": self.last_alert.kind,
            }
        return {
            "v": 1, "symbol": self.symbol, "ts": int(now * 1000), "pid": os.getpid(), "source": self.source,
            **self._state, "alert": alert,
        }  # fmt: skip

    def write_state_file(self, now: float | None = None) -> None:
        """Replace the state file now (``now``: wall-clock seconds); a failure is logged once, then no more."""
        now = self.clock() if now is None else now
        if self.state_file is None:
            return
        doc = self.state_doc(now)
        if doc is None:  # no price yet: nothing to say (and the next poll tries again)
            return
        self._last_state = now
        try:
            write_state(self.state_file, doc)
        except (OSError, ValueError) as exc:
            log.warning("cannot write the status file %s: %s", self.state_file, exc)
            self.state_file = None  # said once; the app goes on without it

    def close(self) -> None:
        """A clean exit: the state file goes (``liqtui status`` says not running), the store is closed."""
        if self.state_file is not None:
            remove_state(self.state_file)
        self.notifier.cancel()
        if self.spent_store is not None:
            self.spent_store.close()
