"""The log of spent zones: each zone the price consumed, what was liquidated during the sweep, and how the price
reacted 5, 15 and 60 minutes later (continued through, or reversed) — the evidence for "does price react at these
zones?".

:class:`SpentLog` turns the evaluator's :class:`~liqtui.alerts.evaluator.Sweep` s into :class:`SpentZone` records
and fills their reactions from later snapshots (market time). A reaction is the signed % move from the price at
the sweep, positive in the sweep's direction (up through a squeeze zone, down through a flush zone): > 0 the move
continued, < 0 it reversed. :func:`summarize` gives the share of each outcome per horizon.

:class:`SpentStore` keeps the records in their own table (``spent_zones``) of an SQLite file — by default the
history store's file (``liqtui.sqlite3`` in the data dir), through its own connection, so the history store's
code is untouched.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from liqtui.alerts.evaluator import Snapshot, Sweep

__all__ = ["HORIZONS_MIN", "SpentLog", "SpentStore", "SpentZone", "spent_document", "summarize"]

HORIZONS_MIN: tuple[int, ...] = (5, 15, 60)
#: a reaction smaller than this (% of the price) is "flat": neither continued nor reversed
FLAT_PCT = 0.02


class SpentZone(msgspec.Struct, kw_only=True):
    """One consumed zone. ``reactions``: horizon ("5m", "15m", "60m") → signed % move in the sweep's
    direction (None until that much market time has passed)."""

    symbol: str
    ts: int  # when the zone counted as spent (ms, market time)
    touched_ts: int  # when the price first traded into it
    side: str  # above (squeeze zone, swept upwards) | below (flush zone, swept downwards)
    low: float
    high: float
    usd: float  # standing USD before the price reached it
    consumed_pct: float
    realized_usd: float  # liquidations of that side realized during the sweep
    realized_count: int
    price: float  # price when it counted as spent
    reactions: dict[str, float | None] = msgspec.field(
        default_factory=lambda: {f"{h}m": None for h in HORIZONS_MIN}
    )
    id: int = 0

    def outcome(self, horizon: str) -> str | None:
        """``continued`` | ``reversed`` | ``flat`` at ``horizon`` ("5m" ...), None while unknown."""
        r = self.reactions.get(horizon)
        if r is None:
            return None
        if abs(r) < FLAT_PCT:
            return "flat"
        return "continued" if r > 0 else "reversed"

    @property
    def complete(self) -> bool:
        return all(v is not None for v in self.reactions.values())


def summarize(records: Iterable[SpentZone]) -> dict[str, dict[str, float | int]]:
    """Per horizon: how many sweeps have a reaction, how many continued / reversed / stayed flat, the share that
    reversed and that continued (of those known), and the mean reaction (%)."""
    recs = list(records)
    out: dict[str, dict[str, float | int]] = {}
    for h in HORIZONS_MIN:
        key = f"{h}m"
        known = [r for r in recs if r.reactions.get(key) is not None]
        counts = collections.Counter(r.outcome(key) for r in known)
        n = len(known)
        mean = sum(float(r.reactions[key] or 0.0) for r in known) / n if n else 0.0
        out[key] = {
            "n": n,
            "continued": counts["continued"],
            "reversed": counts["reversed"],
            "flat": counts["flat"],
            "share_reversed": round(counts["reversed"] / n, 4) if n else 0.0,
            "share_continued": round(counts["continued"] / n, 4) if n else 0.0,
            "mean_pct": round(mean, 4),
        }
    return out


class SpentStore:
    """The ``spent_zones`` table in an SQLite file (WAL, like the history store). Thread-safe; every call
    commits. Raises ``sqlite3.Error`` / ``OSError`` when the file cannot be used (callers log and go on)."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS spent_zones (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        symbol TEXT NOT NULL, ts INTEGER NOT NULL, doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS spent_zones_symbol_ts ON spent_zones (symbol, ts);
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(self._SCHEMA)

    def save(self, rec: SpentZone) -> int:
        """Insert (``rec.id`` == 0, then set) or update the record; returns its id."""
        doc = msgspec.json.encode(rec).decode()
        with self._lock:
            if rec.id:
                self._db.execute("UPDATE spent_zones SET doc = ? WHERE id = ?", (doc, rec.id))
            else:
                cur = self._db.execute(
                    "INSERT INTO spent_zones (symbol, ts, doc) VALUES (?, ?, ?)", (rec.symbol, rec.ts, doc)
                )
                rec.id = int(cur.lastrowid or 0)  # the row's id is authoritative (load sets it)
        return rec.id

    def load(self, symbol: str, limit: int = 500) -> list[SpentZone]:
        """The newest ``limit`` records of ``symbol``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, doc FROM spent_zones WHERE symbol = ? ORDER BY ts DESC, id DESC LIMIT ?",
                (symbol, limit),
            ).fetchall()
        out = []
        for rid, doc in reversed(rows):
            try:
                rec = msgspec.json.decode(doc, type=SpentZone)
            except msgspec.DecodeError:
                continue  # a damaged row is skipped, never fatal
            rec.id = int(rid)
            out.append(rec)
        return out

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()


class SpentLog:
    """Spent zones of one symbol, newest last (at most ``max_records`` in memory), with their reactions filled
    as market time passes. With a ``store``, records are loaded from it and every change is saved (a failing
    store is logged once by the caller's ``on_error`` and then left alone)."""

    def __init__(
        self,
        symbol: str,
        *,
        store: SpentStore | None = None,
        max_records: int = 500,
        on_error: Any = None,
    ) -> None:
        self.symbol = symbol
        self.store = store
        self.on_error = on_error
        self.records: collections.deque[SpentZone] = collections.deque(maxlen=max_records)
        self.version = 0
        if store is not None:
            try:
                self.records.extend(store.load(symbol, max_records))
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(exc)
        self.store = None

    def _save(self, rec: SpentZone) -> None:
        if self.store is None:
            return
        try:
            self.store.save(rec)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)

    def observe(self, snap: Snapshot, sweeps: Sequence[Sweep] = ()) -> list[SpentZone]:
        """Fill the reactions the snapshot's time reaches, then record ``sweeps``; returns the new records."""
        for rec in self.records:
            if rec.complete:
                continue
            changed = False
            for h in HORIZONS_MIN:
                key = f"{h}m"
                if rec.reactions.get(key) is None and snap.ts >= rec.ts + h * 60_000 and rec.price > 0:
                    direction = 1.0 if rec.side == "above" else -1.0
                    rec.reactions[key] = round(direction * (snap.price - rec.price) / rec.price * 100.0, 4)
                    changed = True
            if changed:
                self.version += 1
                self._save(rec)
        new = []
        for sw in sweeps:
            rec = SpentZone(
                symbol=self.symbol, ts=sw.ts, touched_ts=sw.touched_ts, side=sw.side, low=sw.low, high=sw.high,
                usd=sw.usd, consumed_pct=sw.consumed_pct, realized_usd=sw.realized_usd,
                realized_count=sw.realized_count, price=sw.price,
            )  # fmt: skip
            self.records.append(rec)
            self._save(rec)
            new.append(rec)
        if new:
            self.version += 1
        return new

    def summary(self) -> dict[str, dict[str, float | int]]:
        return summarize(self.records)


def spent_document(records: Iterable[SpentZone]) -> dict[str, Any]:
    """The ``spent`` part of ``liqtui zones --spent --json``: the records (oldest first) and the summary."""
    recs = list(records)
    return {"spent": [msgspec.to_builtins(r) for r in recs], "spent_summary": summarize(recs)}
