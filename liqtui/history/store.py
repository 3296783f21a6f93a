"""The local history store: SQLite (standard library) in WAL mode.

What survives a restart, per venue and instrument: bars (OHLCV, taker-buy volume, open interest in USD,
funding, realized liquidations long/short in USD) at 1-minute resolution from the live feeds and at whatever
resolution the REST backfill used, the realized liquidations one by one (no venue serves their history), plus
model checkpoints (``HeatModel.to_bytes()``).

Writes are batched into one transaction each (atomic: a batch is all there or not at all). WAL with
``synchronous=NORMAL`` survives a killed process (kill -9) without losing committed transactions; the live
writer (:class:`StoreWriter`) commits at least once a second, so a crash loses at most the last second.

Bars travel as numpy structured arrays of :data:`BAR_DTYPE` (NaN = unknown), sorted by ``ts`` (open time, ms).
Whole days older than two days are compacted into one blob per series, resolution and day (on open, or with
:meth:`Store.compact`), so a six-month rebuild reads a few hundred blobs instead of 260k rows.

Faults (docs/FAULTS.md): a damaged store never stops liqtui. On open the file is checked read-only first
(schema version, then ``PRAGMA quick_check``): a store written by a newer liqtui, or a database that is not a
liqtui store, is refused untouched (:class:`StoreError`); a damaged one (corrupt pages, not a database) is moved
aside, renamed with the time (``liqtui.sqlite3.damaged-20261129T183213Z`` with its ``-wal``/``-shm``), a new one
is started and :attr:`Store.notice` says so in one line. An unreadable row or pack met while reading is skipped
and counted (:attr:`Store.skipped_rows`), never raised; a failed write raises :class:`StoreError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import os
import sqlite3
import stat
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from liqtui.core.events import (
    Candle,
    FundingRate,
    Liquidation,
    MarketEvent,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
    Venue,
)

__all__ = [
    "BAR_DTYPE",
    "BAR_FIELDS",
    "SRC_KLINE",
    "SRC_TRADES",
    "Store",
    "StoreError",
    "StoreWriter",
    "checkpoint_key",
    "default_store_path",
    "empty_bars",
    "pack_checkpoint",
    "unpack_checkpoint",
]

log = logging.getLogger("liqtui.history")

SCHEMA_VERSION = 1
DAY_MS = 86_400_000

#: Value columns of a bar, in table order (after series, interval_s, ts).
BAR_FIELDS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_volume",
    "oi_usd",
    "funding",
    "liq_long_usd",
    "liq_short_usd",
)
BAR_DTYPE = np.dtype([("ts", "<i8"), ("interval_s", "<i4")] + [(f, "<f8") for f in BAR_FIELDS], align=True)

#: Where a bar's OHLCV came from: aggregated from live trades (partial, merged) or an exchange kline (final).
SRC_TRADES = 0
SRC_KLINE = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, venue TEXT NOT NULL, symbol TEXT NOT NULL, UNIQUE (venue, symbol));
CREATE TABLE IF NOT EXISTS bars (
    series INTEGER NOT NULL, interval_s INTEGER NOT NULL, ts INTEGER NOT NULL,
    open REAL, high REAL, low REAL, close REAL, volume REAL, quote_volume REAL, taker_buy_volume REAL,
    oi_usd REAL, funding REAL, liq_long_usd REAL NOT NULL DEFAULT 0, liq_short_usd REAL NOT NULL DEFAULT 0,
    src INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (series, interval_s, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs (
    series INTEGER NOT NULL, interval_s INTEGER NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,
    data BLOB NOT NULL, src BLOB NOT NULL, PRIMARY KEY (series, interval_s, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT NOT NULL, ts INTEGER NOT NULL, created_ms INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (key, ts));
CREATE TABLE IF NOT EXISTS liquidations (
    series INTEGER NOT NULL, ts INTEGER NOT NULL, side INTEGER NOT NULL, price REAL NOT NULL,
    qty REAL NOT NULL, usd REAL NOT NULL, PRIMARY KEY (series, ts, side, price, qty)) WITHOUT ROWID;
"""
# The liquidations table came after schema version 1 without a version bump: it is only added (CREATE IF NOT
# EXISTS on every open is the migration), an older liqtui opening the store ignores it, and a store without
# it reads as one without realized liquidations. A change that older readers would misread bumps the version.

# One upsert for every writer. A kline (src 1) replaces OHLCV; trade aggregates (src 0) merge into a partial
# bar (first open, max high, min low, last close, volumes added) unless a kline already made it final.
# OI and funding keep the newest known value; realized liquidations add up.
_UPSERT = """
INSERT INTO bars (series, ts, interval_s, open, high, low, close, volume, quote_volume, taker_buy_volume,
                  oi_usd, funding, liq_long_usd, liq_short_usd, src)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (series, interval_s, ts) DO UPDATE SET
  open = CASE WHEN excluded.src = 1 AND excluded.open IS NOT NULL THEN excluded.open
              ELSE COALESCE(bars.open, excluded.open) END,
  high = CASE WHEN excluded.src = 1 AND excluded.high IS NOT NULL THEN excluded.high
              WHEN bars.src = 1 THEN bars.high
              ELSE max(COALESCE(bars.high, excluded.high), COALESCE(excluded.high, bars.high)) END,
  low = CASE WHEN excluded.src = 1 AND excluded.low IS NOT NULL THEN excluded.low
             WHEN bars.src = 1 THEN bars.low
             ELSE min(COALESCE(bars.low, excluded.low), COALESCE(excluded.low, bars.low)) END,
  close = CASE WHEN excluded.src = 1 AND excluded.close IS NOT NULL THEN excluded.close
               WHEN bars.src = 1 THEN bars.close
               ELSE COALESCE(excluded.close, bars.close) END,
  volume = CASE WHEN excluded.src = 1 AND excluded.close IS NOT NULL THEN excluded.volume
                WHEN bars.src = 1 THEN bars.volume
                ELSE COALESCE(bars.volume, 0) + COALESCE(excluded.volume, 0) END,
  quote_volume = CASE WHEN excluded.src = 1 AND excluded.close IS NOT NULL THEN excluded.quote_volume
                      WHEN bars.src = 1 THEN bars.quote_volume
                      ELSE COALESCE(bars.quote_volume, 0) + COALESCE(excluded.quote_volume, 0) END,
  taker_buy_volume = CASE WHEN excluded.src = 1 AND excluded.close IS NOT NULL THEN excluded.taker_buy_volume
                          WHEN bars.src = 1 THEN bars.taker_buy_volume
                          ELSE COALESCE(bars.taker_buy_volume, 0) + COALESCE(excluded.taker_buy_volume, 0) END,
  oi_usd = COALESCE(excluded.oi_usd, bars.oi_usd),
  funding = COALESCE(excluded.funding, bars.funding),
  liq_long_usd = bars.liq_long_usd + excluded.liq_long_usd,
  liq_short_usd = bars.liq_short_usd + excluded.liq_short_usd,
  src = max(bars.src, CASE WHEN excluded.close IS NULL THEN 0 ELSE excluded.src END)
"""

_INSERT_LIQ = "INSERT OR IGNORE INTO liquidations VALUES (?, ?, ?, ?, ?, ?)"

_SELECT_COLS = "ts, interval_s, " + ", ".join(BAR_FIELDS) + ", src"
_READ_COLS = ("ts", "interval_s", *BAR_FIELDS, "src")
_COMPACT_COLS = ("series", *_READ_COLS)
#: Days older than this (UTC days before today) are packed: one row of raw bytes per series, resolution and day.
PACK_AFTER_DAYS = 2


class StoreError(RuntimeError):
    """The store cannot be opened or used (one line: the path and the reason)."""


#: SQLite result codes that mean the file itself is damaged (not busy, not a permission or disk problem).
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_OUR_TABLES = frozenset({"meta", "series", "bars", "packs", "checkpoints", "liquidations"})
#: Extra files SQLite keeps next to the database; moved aside together with it.
_SIDE_FILES = ("-wal", "-shm", "-journal")


def _is_damage(exc: BaseException) -> bool:
    """``exc`` says the database file is damaged (corrupt page, not a database)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and (code & 0xFF) in _DAMAGE_CODES


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _worth_logging(n: int) -> bool:
    """Log the first five occurrences of a repeated fault, then the 10th, 100th, 1000th..."""
    return 0 < n <= 5 or (n > 0 and 10 ** int(math.log10(n)) == n)


def default_store_path() -> Path:
    """``$LIQTUI_DATA/liqtui.sqlite3``, else the platform's user data directory."""
    env = os.environ.get("LIQTUI_DATA")
    if env:
        base = Path(env).expanduser()
    else:
        import platformdirs

        base = Path(platformdirs.user_data_dir("liqtui"))
    return base / "liqtui.sqlite3"


def empty_bars(n: int = 0) -> np.ndarray:
    """An array of ``n`` bars, every value unknown (NaN), liquidations 0."""
    a = np.zeros(n, dtype=BAR_DTYPE)
    for f in BAR_FIELDS:
        a[f] = np.nan
    a["liq_long_usd"] = 0.0
    a["liq_short_usd"] = 0.0
    return a


def checkpoint_key(symbol: str, venues: Sequence[str], config: Any = None) -> str:
    """A checkpoint key for a model of ``symbol`` fed by ``venues`` with ``config`` (a msgspec Struct or any
    object with a stable repr): a checkpoint made under another configuration is never restored."""
    import msgspec

    try:
        blob = msgspec.json.encode(config) if config is not None else b""
    except TypeError:
        blob = repr(config).encode()
    digest = hashlib.sha256(blob).hexdigest()[:12]
    return f"{symbol.upper()}|{','.join(sorted(venues))}|{digest}"


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


class Store:
    """The SQLite history store. Open with a path (default :func:`default_store_path`), close when done.

    All methods are synchronous and short; a single connection is used (call from one thread at a time).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, retention_days: int | None = None
    ) -> None:
        self.path = Path(path) if path else default_store_path()
        #: What was wrong with the store at open and what was done about it, in one line ("" when nothing).
        self.notice = ""
        #: Unreadable rows, packs and checkpoints met since open (each counted once), skipped by the readers
        #: and dropped by compaction.
        self.skipped_rows = 0
        self._skipped: set[str] = set()
        self._series: dict[tuple[str, str], int] = {}
        damage = self._inspect()
        if damage:
            self._set_aside(damage)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise self._error(exc) from None
            self._set_aside(str(exc))
            self._db = self._connect_or_raise()
        try:
            self._housekeeping(retention_days)
        except sqlite3.DatabaseError as exc:  # damage the quick check did not see (or appeared since)
            if not _is_damage(exc):
                raise
            self._db.close()
            self._set_aside(str(exc))
            self._db = self._connect_or_raise()

    # ------------------------------------------------------------------------------------------ plumbing

    def _error(self, reason: object) -> StoreError:
        return StoreError(f"cannot open the history store {str(self.path)!r}: {_one_line(reason)}")

    def _inspect(self) -> str:
        """Look at an existing file read-only, before anything writes to it. Raises :class:`StoreError` for a
        store of a newer schema or a database that is not a liqtui store (both left untouched) and for a path
        that cannot be used; returns why the file is damaged, or "" when it looks fine (or does not exist)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            st = self.path.stat()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise self._error(f"{exc.strerror or exc} ({exc.filename or self.path})") from None
        if not stat.S_ISREG(st.st_mode):
            raise self._error(
                "that path is a directory, not a file" if stat.S_ISDIR(st.st_mode) else "not a file"
            )
        if st.st_size == 0 or Path(f"{self.path}-journal").exists():
            return ""  # empty; or a rollback journal to replay, which needs the read-write connection
        # immutable=1 creates no -wal/-shm next to a file that has none (a clean store of another version);
        # with a -wal present, mode=ro reads it too (a writer may be running)
        wal = Path(f"{self.path}-wal")
        uri = self.path.resolve().as_uri() + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")
        try:
            ro = sqlite3.connect(uri, uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            tables = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" in tables:
                row = ro.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is not None:
                    try:
                        version = int(row[0])
                    except (TypeError, ValueError):
                        return f"unreadable schema version {row[0]!r}"
                    if version > SCHEMA_VERSION:
                        raise self._error(
                            f"it was written by a newer liqtui (schema version {version}; this one reads "
                            f"version {SCHEMA_VERSION}); left untouched"
                        )
                    if version < 1:
                        return f"unreadable schema version {row[0]!r}"
            elif tables - _OUR_TABLES:
                raise self._error(
                    f"it is an SQLite database but not a liqtui store (tables: {', '.join(sorted(tables))}); "
                    "left untouched"
                )
            problems = [str(r[0]) for r in ro.execute("PRAGMA quick_check(2)")]
            if problems != ["ok"]:
                found = "; ".join(_one_line(p.replace("*** in database main ***", "")) for p in problems)
                return f"integrity check failed: {found}"
            return ""
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                return str(exc)
            raise self._error(exc) from None
        finally:
            ro.close()

    def _set_aside(self, reason: str) -> None:
        """Move a damaged store (and its -wal/-shm) aside, named with the time, and say so in :attr:`notice`."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
            n += 1
        reason = _one_line(reason)
        try:
            for side in _SIDE_FILES:  # side files first: a crash half-way leaves the main file where it was
                if Path(f"{self.path}{side}").exists():
                    os.replace(f"{self.path}{side}", f"{aside}{side}")
            os.replace(self.path, aside)
        except OSError as exc:
            raise self._error(f"it is damaged ({reason}) and could not be moved aside: {exc}") from None
        self.notice = (
            f"the history store was damaged ({reason}); kept it as {aside.name} and started a new one "
            f"in {self.path.parent}"
        )
        log.warning("%s", self.notice)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif str(row[0]) != str(SCHEMA_VERSION):  # changed since _inspect looked: another liqtui
                raise StoreError(
                    f"cannot open the history store {str(self.path)!r}: schema version {row[0]}, this liqtui "
                    f"reads version {SCHEMA_VERSION}"
                )
        except BaseException:
            db.close()
            raise
        return db

    def _connect_or_raise(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _housekeeping(self, retention_days: int | None) -> None:
        try:
            if retention_days is not None:
                self.prune(retention_days)
            self.compact()
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise
            # another liqtui holds the write lock, or the disk is full: housekeeping can wait
            log.warning("store housekeeping skipped: %s", _one_line(exc))

    def _skip(self, what: str, why: object, done: str = "skipped") -> None:
        """Count and log an unreadable row or pack the first time it is met (the reader goes on without it)."""
        if what in self._skipped:
            return
        if len(self._skipped) < 100_000:
            self._skipped.add(what)
        self.skipped_rows += 1
        if _worth_logging(self.skipped_rows):
            log.warning(
                "history store %s: %s %s: %s (%d unreadable since open)",
                self.path,
                done,
                what,
                _one_line(why),
                self.skipped_rows,
            )

    def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """All rows of a read query; a damaged page met on the way is counted and reads as no rows."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _is_damage(exc):
                raise StoreError(f"history store {str(self.path)!r}: read failed: {_one_line(exc)}") from None
            self._skip("an unreadable part of the store", exc)
            return []

    @contextlib.contextmanager
    def transaction(self) -> Any:
        """One atomic write batch: everything inside commits together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already (a full disk, an I/O error)
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _writing(self, what: str) -> Any:
        """Turn an SQLite failure of a write into a one-line :class:`StoreError` (the batch is rolled back)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"history store {str(self.path)!r}: {what} failed: {_one_line(exc)}") from exc

    def close(self) -> None:
        """Close the connection (a WAL checkpoint folds the log back into the main file)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        """``PRAGMA integrity_check`` says ok."""
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def series_id(self, venue: str, symbol: str) -> int:
        """The id of a venue+instrument series, created on first use (writers)."""
        sid = self._find_series(venue, symbol)
        if sid is None:
            with self._writing("adding a series"):
                self._db.execute(
                    "INSERT OR IGNORE INTO series (venue, symbol) VALUES (?, ?)", (str(venue), symbol.upper())
                )
            sid = self._find_series(venue, symbol)
            if sid is None:
                raise StoreError(
                    f"history store {str(self.path)!r}: the series {venue} {symbol} cannot be read back"
                )
        return sid

    def _find_series(self, venue: str, symbol: str) -> int | None:
        """The id of an existing series, or None (readers never write)."""
        key = (str(venue), symbol.upper())
        sid = self._series.get(key)
        if sid is None:
            rows = self._fetch("SELECT id FROM series WHERE venue=? AND symbol=?", key)
            if not rows:
                return None
            if type(rows[0][0]) is not int:
                self._skip(f"the series row of {key[0]} {key[1]}", f"id {rows[0][0]!r}")
                return None
            sid = self._series[key] = rows[0][0]
        return sid

    def series(self) -> list[tuple[str, str]]:
        """Every (venue, instrument) the store holds bars of."""
        return [(str(v), str(s)) for v, s in self._fetch("SELECT venue, symbol FROM series ORDER BY id")]

    # ------------------------------------------------------------------------------------------ bars
    #
    # Recent bars are rows of ``bars`` (upserted and merged by SQL). Whole UTC days older than
    # ``PACK_AFTER_DAYS`` are moved by :meth:`compact` into ``packs``: one BLOB of raw numpy bytes per series,
    # resolution and day, so reading six months is a few hundred blobs rather than 260k rows. A bar lives in
    # exactly one of the two: a write into a packed day first turns that day back into rows.

    def write_bars(self, venue: str, symbol: str, bars: np.ndarray, *, src: int = SRC_KLINE) -> int:
        """Upsert bars (one transaction). ``src`` SRC_KLINE: exchange klines (final OHLCV; NaN OI keeps the
        stored OI); SRC_TRADES: partial aggregates merged into what is stored. Returns the row count."""
        if bars.dtype != BAR_DTYPE:
            raise ValueError(f"bars must have dtype BAR_DTYPE, got {bars.dtype}")
        if len(bars) == 0:
            return 0
        sid = self.series_id(venue, symbol)
        rows = _rows(sid, bars, src)
        with self._writing("writing bars"), self.transaction() as db:
            self._unpack(db, [(sid, int(iv), int(ts)) for iv, ts in zip(bars["interval_s"], bars["ts"])])
            db.executemany(_UPSERT, rows)
        return len(rows)

    def upsert_rows(
        self, rows: Sequence[tuple[Any, ...]], liquidations: Sequence[tuple[Any, ...]] = ()
    ) -> None:
        """Upsert prepared rows ``(series, ts, interval_s, *BAR_FIELDS, src)`` and add realized liquidations
        ``(series, ts, side, price, qty, usd)`` (the same one heard twice is kept once), in one transaction."""
        with self._writing("writing bars"), self.transaction() as db:
            self._unpack(db, [(int(r[0]), int(r[2]), int(r[1])) for r in rows])
            db.executemany(_UPSERT, rows)
            if liquidations:
                db.executemany(_INSERT_LIQ, liquidations)

    # ------------------------------------------------------------------------------------------ liquidations
    #
    # Realized liquidations one by one (the bars only hold their per-minute sums): no venue serves their
    # history, so the tape and the spent-zone log of a restart exist only if a liqtui (or liqtui collect) heard
    # them. Keyed by (series, ts, side, price, qty): two writers that heard the same one store it once.

    def write_liquidations(self, events: Iterable[Liquidation]) -> int:
        """Add realized liquidations (one transaction); returns how many were given."""
        rows = [self.liquidation_row(ev) for ev in events]
        if rows:
            with self._writing("writing liquidations"), self.transaction() as db:
                db.executemany(_INSERT_LIQ, rows)
        return len(rows)

    def liquidation_row(self, ev: Liquidation) -> tuple[Any, ...]:
        sid = self.series_id(str(ev.venue), ev.symbol)
        return (sid, int(ev.ts), int(ev.side), float(ev.price), float(ev.qty), float(ev.usd))

    def read_liquidations(
        self, venue: str, symbol: str, start_ms: int, end_ms: int, *, limit: int | None = None
    ) -> list[Liquidation]:
        """Realized liquidations of one series with ``start_ms <= ts < end_ms``, oldest first; with ``limit``
        the newest ``limit`` of them. An unreadable row is skipped and counted."""
        sid = self._find_series(venue, symbol)
        if sid is None:
            return []
        q = "SELECT ts, side, price, qty, usd FROM liquidations WHERE series=? AND ts>=? AND ts<? ORDER BY ts DESC"
        args: list[Any] = [sid, int(start_ms), int(end_ms)]
        if limit is not None:
            q += " LIMIT ?"
            args.append(max(0, int(limit)))
        out: list[Liquidation] = []
        v = Venue(venue)
        sym = symbol.upper()
        for ts, side, price, qty, usd in self._fetch(q, args):
            if (
                type(ts) is not int
                or side not in (1, -1)
                or not all(type(x) in (int, float) for x in (price, qty, usd))
            ):
                self._skip(f"the liquidation row ({venue} {symbol} ts {ts!r:.24})", "not numbers")
                continue
            out.append(
                Liquidation(
                    venue=v,
                    symbol=sym,
                    ts=ts,
                    recv_ts=ts,
                    side=PositionSide(side),
                    price=price,
                    qty=qty,
                    usd=usd,
                )
            )
        out.reverse()
        return out

    def _unpack(self, db: sqlite3.Connection, keys: Iterable[tuple[int, int, int]]) -> None:
        """Turn the packed days holding any of ``(series, interval_s, ts)`` back into rows."""
        days = {(sid, iv, ts // DAY_MS) for sid, iv, ts in keys}
        for sid, iv, day in days:
            row = db.execute(
                "SELECT n, data, src FROM packs WHERE series=? AND interval_s=? AND day=?", (sid, iv, day)
            ).fetchone()
            if row is None:
                continue
            unpacked = self._pack(sid, iv, day, *row)
            if unpacked is not None:  # an unreadable pack is dropped: the write replaces what it held
                db.executemany(
                    f"INSERT INTO bars (series, {_SELECT_COLS}) VALUES ({', '.join('?' * (4 + len(BAR_FIELDS)))})",
                    _pack_rows(sid, *unpacked),
                )
            db.execute("DELETE FROM packs WHERE series=? AND interval_s=? AND day=?", (sid, iv, day))

    def _pack(
        self, sid: int, iv: int, day: int, n: Any, data: Any, src: Any
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The bars and sources of one stored pack, or None (counted and logged) when it is unreadable: wrong
        types or sizes, or bars that are not of its day and resolution."""
        why = _pack_problem(iv, day, n, data, src)
        if why:
            self._skip(f"the packed day {_day_text(day)} of series {sid} ({iv}s bars)", why)
            return None
        return np.frombuffer(data, dtype=BAR_DTYPE), np.frombuffer(src, dtype=np.int8)

    def _bar_rows(self, rows: list[Any], cols: Sequence[str], done: str = "skipped") -> np.ndarray:
        """Query rows of columns ``cols`` (integer keys, the bar values, then ``src``) as a float array; a row
        holding something else (a damaged cell) is skipped, counted and logged."""
        try:
            return np.array(rows, dtype=np.float64).reshape(len(rows), len(cols))
        except (TypeError, ValueError):
            pass
        good = []
        for r in rows:
            why = _row_problem(r, cols)
            if why is None:
                good.append(r)
            else:
                key = ", ".join(
                    f"{c} {v!r:.24}" for c, v in zip(cols, r) if c in ("series", "ts", "interval_s")
                )
                self._skip(f"the bar row ({key})", why, done)
        return np.array(good, dtype=np.float64).reshape(len(good), len(cols))

    def compact(self, now_ms: int | None = None, *, keep_days: int = PACK_AFTER_DAYS) -> int:
        """Pack every whole UTC day older than ``keep_days`` into one blob per series and resolution (one
        transaction; also done on open). Returns how many rows were packed."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = (now_ms // DAY_MS - keep_days) * DAY_MS
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT series, {_SELECT_COLS} FROM bars WHERE ts < ? ORDER BY series, interval_s, ts",
                (cutoff,),
            ).fetchall()
            if not rows:
                return 0
            raw = self._bar_rows(rows, _COMPACT_COLS, "dropped (while packing old days)")
            if not len(raw):
                db.execute("DELETE FROM bars WHERE ts < ?", (cutoff,))
                return 0
            groups = np.stack([raw[:, 0], raw[:, 2], raw[:, 1] // DAY_MS], axis=1).astype(np.int64)
            starts = np.concatenate(
                [[0], np.nonzero(np.any(np.diff(groups, axis=0) != 0, axis=1))[0] + 1, [len(raw)]]
            )
            for a, b in itertools.pairwise(starts):
                sid, iv, day = (int(x) for x in groups[a])
                arr, src = _raw_to_bars(raw[a:b, 1:])
                old = db.execute(
                    "SELECT n, data, src FROM packs WHERE series=? AND interval_s=? AND day=?", (sid, iv, day)
                ).fetchone()
                unpacked = None if old is None else self._pack(sid, iv, day, *old)
                if unpacked is not None:
                    arr = np.concatenate([unpacked[0], arr])
                    src = np.concatenate([unpacked[1], src])
                    order = np.argsort(arr["ts"], kind="stable")
                    arr, src = arr[order], src[order]
                db.execute(
                    "INSERT OR REPLACE INTO packs VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, iv, day, len(arr), arr.tobytes(), src.tobytes()),
                )
            db.execute("DELETE FROM bars WHERE ts < ?", (cutoff,))
        return len(rows)

    def _select(
        self, sid: int | None, start_ms: int, end_ms: int, interval_s: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every stored bar (rows and packs) of a series with ``start_ms <= ts < end_ms`` (unsorted), and the
        source of each (SRC_TRADES / SRC_KLINE). An unknown series (``None``) has none."""
        if sid is None:
            return empty_bars(0), np.zeros(0, dtype=np.int8)
        q = f"SELECT {_SELECT_COLS} FROM bars WHERE series=? AND ts>=? AND ts<?"
        pq = "SELECT interval_s, day, n, data, src FROM packs WHERE series=? AND day>=? AND day<=?"
        args: list[Any] = [sid, int(start_ms), int(end_ms)]
        pargs: list[Any] = [sid, int(start_ms) // DAY_MS, (int(end_ms) - 1) // DAY_MS]
        if interval_s is not None:
            q += " AND interval_s=?"
            pq += " AND interval_s=?"
            args.append(int(interval_s))
            pargs.append(int(interval_s))
        rows = self._fetch(q, args)
        parts: list[np.ndarray] = []
        srcs: list[np.ndarray] = []
        for iv, day, n, data, src in self._fetch(pq, pargs):
            unpacked = self._pack(sid, iv, day, n, data, src)
            if unpacked is not None:
                parts.append(unpacked[0])
                srcs.append(unpacked[1])
        if rows:
            arr, src = _raw_to_bars(self._bar_rows(rows, _READ_COLS))
            parts.append(arr)
            srcs.append(src)
        if not parts:
            return empty_bars(0), np.zeros(0, dtype=np.int8)
        arr, src = np.concatenate(parts), np.concatenate(srcs)
        keep = (arr["ts"] >= start_ms) & (arr["ts"] < end_ms)
        return arr[keep], src[keep]

    def read_bars(
        self, venue: str, symbol: str, start_ms: int, end_ms: int, *, interval_s: int | None = None
    ) -> np.ndarray:
        """Bars with ``start_ms <= ts < end_ms`` and a known close, sorted by time.

        With ``interval_s`` only that resolution; without it, every resolution merged: the finest bars win and
        a coarser bar is used only where no finer bar falls inside it.
        """
        arr, _ = self._select(self._find_series(venue, symbol), start_ms, end_ms, interval_s)
        arr = arr[~np.isnan(arr["close"])]
        if interval_s is None and len(arr):
            return merge_resolutions(arr)
        return _sorted(arr)

    def bar_times(
        self, venue: str, symbol: str, interval_s: int, start_ms: int, end_ms: int, *, final: bool = False
    ) -> np.ndarray:
        """Open times of the closed-price bars of one resolution in ``[start_ms, end_ms)`` (sorted int64);
        ``final``: only exchange klines, not bars built from live trades."""
        arr, src = self._select(self._find_series(venue, symbol), start_ms, end_ms, interval_s)
        keep = ~np.isnan(arr["close"])
        if final:
            keep &= src == SRC_KLINE
        return np.sort(arr["ts"][keep])

    def oi_times(self, venue: str, symbol: str, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        """Open times of bars of one resolution in the range that carry an open-interest value."""
        arr, _ = self._select(self._find_series(venue, symbol), start_ms, end_ms, interval_s)
        return np.sort(arr["ts"][~np.isnan(arr["oi_usd"])])

    def missing_ranges(
        self, venue: str, symbol: str, interval_s: int, start_ms: int, end_ms: int, *, oi: bool = False
    ) -> list[tuple[int, int]]:
        """Half-open ``[a, b)`` ranges of bar open times (aligned to ``interval_s``) in ``[start_ms, end_ms)``
        the store has no exchange kline for (a bar built from live trades counts as missing: the venue's own
        kline is better), or with ``oi=True`` no open interest for."""
        step = int(interval_s) * 1000
        first = -(-int(start_ms) // step) * step
        want = np.arange(first, int(end_ms), step, dtype=np.int64)
        if len(want) == 0:
            return []
        if oi:
            have = self.oi_times(venue, symbol, interval_s, first, int(end_ms))
        else:
            have = self.bar_times(venue, symbol, interval_s, first, int(end_ms), final=True)
        missing = want[~np.isin(want, have)]
        return _runs(missing, step)

    def last_bar_ts(self, venue: str, symbol: str) -> int | None:
        """Open time of the newest bar with a price, any resolution."""
        sid = self._find_series(venue, symbol)
        if sid is None:
            return None
        rows = self._fetch("SELECT max(ts) FROM bars WHERE series=? AND close IS NOT NULL", (sid,))
        best = rows[0][0] if rows and type(rows[0][0]) is int else None
        found_day = None
        for iv, day, n, data, src in self._fetch(
            "SELECT interval_s, day, n, data, src FROM packs WHERE series=? ORDER BY day DESC", (sid,)
        ):
            if found_day is not None and day < found_day:
                break  # every pack of the newest priced day has been seen
            unpacked = self._pack(sid, iv, day, n, data, src)
            if unpacked is None:
                continue
            arr = unpacked[0]
            priced = arr["ts"][~np.isnan(arr["close"])]
            if len(priced):
                found_day = day
                best = max(best or 0, int(priced.max()))
        return best

    def count_bars(self, venue: str | None = None, symbol: str | None = None) -> int:
        """Number of stored bars (of one series, or all; rows and packed days)."""
        where = ""
        args: tuple[Any, ...] = ()
        if venue is not None and symbol is not None:
            sid = self._find_series(venue, symbol)
            if sid is None:
                return 0
            where, args = " WHERE series=?", (sid,)
        rows = self._fetch(f"SELECT count(*) FROM bars{where}", args)
        packed = self._fetch(f"SELECT coalesce(sum(n), 0) FROM packs{where}", args)
        total = 0
        for got in (rows, packed):
            if got and isinstance(got[0][0], (int, float)):
                total += int(got[0][0])
        return total

    def prune(self, retention_days: int, now_ms: int | None = None) -> int:
        """Delete bars older than ``retention_days`` (packed days once wholly older) and all but the newest
        checkpoint of each key. Returns how many bars went."""
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = now_ms - retention_days * DAY_MS
        last_old_day = cutoff // DAY_MS - 1  # days entirely before the cutoff
        with self.transaction() as db:
            n = db.execute("DELETE FROM bars WHERE ts < ?", (cutoff,)).rowcount
            n += db.execute(
                "SELECT coalesce(sum(n), 0) FROM packs WHERE day <= ?", (last_old_day,)
            ).fetchone()[0]
            db.execute("DELETE FROM packs WHERE day <= ?", (last_old_day,))
            db.execute("DELETE FROM liquidations WHERE ts < ?", (cutoff,))
            db.execute(
                "DELETE FROM checkpoints WHERE ts < (SELECT max(ts) FROM checkpoints c WHERE c.key = checkpoints.key)"
            )
        return int(n)

    # ------------------------------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, key: str, ts: int, data: bytes, *, keep: int = 2, packed: bool = False) -> None:
        """Store a model checkpoint (``HeatModel.to_bytes()``) taken at bar time ``ts``; keep the newest
        ``keep`` per key. Atomic: a crash leaves the previous checkpoint intact. ``packed``: ``data`` is already
        :func:`pack_checkpoint` output (compressed off the event loop); otherwise it is compressed here."""
        blob = bytes(data) if packed else pack_checkpoint(data)
        now = int(time.time() * 1000)
        with self._writing("saving a checkpoint"), self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)", (key, int(ts), now, blob))
            db.execute(
                "DELETE FROM checkpoints WHERE key=? AND ts NOT IN "
                "(SELECT ts FROM checkpoints WHERE key=? ORDER BY ts DESC LIMIT ?)",
                (key, key, max(1, keep)),
            )

    def load_checkpoint(self, key: str) -> tuple[int, bytes] | None:
        """The newest checkpoint of ``key`` as ``(ts, data)`` (decompressed), or None. A blob that does not
        decompress comes back as it is (``HeatModel.from_bytes`` then refuses it clearly)."""
        q = "SELECT ts, data FROM checkpoints WHERE key=? ORDER BY ts DESC LIMIT 1 OFFSET ?"
        for nth in itertools.count():  # one blob at a time (a checkpoint can be tens of MB)
            rows = self._fetch(q, (key, nth))
            if not rows:
                return None
            ts, data = rows[0]
            if type(ts) is int and isinstance(data, bytes):
                return ts, unpack_checkpoint(data)
            self._skip(
                f"the checkpoint {key} at ts {ts!r}", f"{type(ts).__name__} time, {type(data).__name__} data"
            )
        return None  # pragma: no cover - the loop above only ends by returning


_CKPT_MAGIC = b"LQZ1"


def pack_checkpoint(data: bytes) -> bytes:
    """Compress a checkpoint for the store (zlib level 1: a 6-month model shrinks about 3x)."""
    return _CKPT_MAGIC + zlib.compress(bytes(data), 1)


def unpack_checkpoint(blob: bytes) -> bytes:
    """Inverse of :func:`pack_checkpoint`; data stored uncompressed (or corrupt) is returned unchanged."""
    if blob.startswith(_CKPT_MAGIC):
        try:
            return zlib.decompress(blob[len(_CKPT_MAGIC) :])
        except zlib.error:
            return blob
    return blob


def _rows(sid: int, bars: np.ndarray, src: int) -> list[tuple[Any, ...]]:
    """Upsert parameters of bars; SQLite stores a NaN parameter as NULL, which is exactly "unknown"."""
    cols = [bars["ts"].tolist(), bars["interval_s"].tolist()] + [bars[f].tolist() for f in BAR_FIELDS]
    cols[-2] = np.nan_to_num(bars["liq_long_usd"]).tolist()
    cols[-1] = np.nan_to_num(bars["liq_short_usd"]).tolist()
    return [(sid, *r, src) for r in zip(*cols)]


def _raw_to_bars(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 14)`` float rows ``ts, interval_s, *BAR_FIELDS, src`` → (bars, src int8)."""
    out = np.zeros(len(raw), dtype=BAR_DTYPE)
    out["ts"] = raw[:, 0].astype(np.int64)
    out["interval_s"] = raw[:, 1].astype(np.int32)
    for i, f in enumerate(BAR_FIELDS):
        out[f] = raw[:, 2 + i]
    return out, raw[:, 2 + len(BAR_FIELDS)].astype(np.int8)


def _pack_rows(sid: int, arr: np.ndarray, src: np.ndarray) -> list[tuple[Any, ...]]:
    """Plain INSERT parameters ``(series, ts, interval_s, *BAR_FIELDS, src)`` of packed bars (NaN → NULL)."""
    cols = [arr["ts"].tolist(), arr["interval_s"].tolist()] + [arr[f].tolist() for f in BAR_FIELDS]
    cols.append(src.tolist())
    return [(sid, *r) for r in zip(*cols)]


def _row_problem(row: Sequence[Any], cols: Sequence[str]) -> str | None:
    """Why a bar row of columns ``cols`` cannot be read (keys and ``src`` must be integers, values numbers or
    NULL), or None when it is fine."""
    for c, v in zip(cols, row):
        if c in ("series", "ts", "interval_s", "src"):
            if type(v) is not int:
                return f"{c} holds {v!r:.40}, not an integer"
        elif v is not None and type(v) not in (int, float):
            return f"{c} holds {v!r:.40}, not a number"
    return None


def _pack_problem(iv: Any, day: Any, n: Any, data: Any, src: Any) -> str | None:
    """Why a stored pack cannot be read, or None when it is fine."""
    if not (type(iv) is int and type(day) is int and type(n) is int):
        return "its key or count is not an integer"
    if not (isinstance(data, bytes) and isinstance(src, bytes)):
        return "its data is not a blob"
    if len(data) != n * BAR_DTYPE.itemsize or len(src) != n:
        return f"{len(data)} data bytes and {len(src)} source bytes for {n} bars"
    arr = np.frombuffer(data, dtype=BAR_DTYPE)
    if n and not (
        bool(np.all(arr["interval_s"] == iv))
        and bool(np.all((arr["ts"] >= day * DAY_MS) & (arr["ts"] < (day + 1) * DAY_MS)))
    ):
        return "it holds bars of another day or resolution"
    return None


def _day_text(day: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(int(day) * 86_400))
    except (TypeError, ValueError, OverflowError, OSError):
        return repr(day)


def _sorted(bars: np.ndarray) -> np.ndarray:
    ts = bars["ts"]
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return bars
    return bars[np.argsort(ts, kind="stable")]


def merge_resolutions(bars: np.ndarray) -> np.ndarray:
    """Merge bars of several resolutions into one non-overlapping series sorted by time: every bar of the
    finest resolution, and a coarser bar only where no finer bar opens inside it."""
    iv = bars["interval_s"]
    if len(iv) == 0 or bool(np.all(iv == iv[0])):
        return _sorted(bars)
    intervals = np.unique(iv)
    kept = bars[bars["interval_s"] == intervals[0]]
    for iv in intervals[1:]:
        coarse = bars[bars["interval_s"] == iv]
        fine_ts = np.sort(kept["ts"])
        lo = np.searchsorted(fine_ts, coarse["ts"], side="left")
        hi = np.searchsorted(fine_ts, coarse["ts"] + int(iv) * 1000, side="left")
        kept = np.concatenate([kept, coarse[hi == lo]])
    return _sorted(kept)


def _runs(ts: np.ndarray, step: int) -> list[tuple[int, int]]:
    """Contiguous runs of aligned times as half-open ranges ``[first, last + step)``."""
    if len(ts) == 0:
        return []
    breaks = np.nonzero(np.diff(ts) != step)[0]
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(ts) - 1]])
    return [(int(ts[a]), int(ts[b]) + step) for a, b in zip(starts, ends)]


# ---------------------------------------------------------------------------------------------- live writer


@dataclass
class _Minute:
    """What the live feeds said about one venue+instrument minute since the last flush."""

    open: float = float("nan")
    high: float = float("nan")
    low: float = float("nan")
    close: float = float("nan")
    volume: float = 0.0
    quote: float = 0.0
    taker_buy: float = 0.0
    oi_usd: float = float("nan")
    funding: float = float("nan")
    liq_long: float = 0.0
    liq_short: float = 0.0
    kline: Candle | None = None
    trades: int = 0

    def add_trade(self, price: float, qty: float, buy: bool) -> None:
        if self.trades == 0:
            self.open = self.high = self.low = price
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.quote += qty * price
        if buy:
            self.taker_buy += qty
        self.trades += 1


@dataclass
class WriterStats:
    """Counters of a :class:`StoreWriter`."""

    events: int = 0
    flushes: int = 0
    rows: int = 0
    errors: int = 0
    last_error: str = ""
    pending: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class StoreWriter:
    """Cheap per-event sink that turns live events into 1-minute bars in the store.

    ``on_event(ev)`` only updates in-memory accumulators (O(1)); every ``flush_s`` (checked on each event and
    by :meth:`run`) the accumulated deltas go to SQLite in one transaction. Closed 1m candles are final;
    trades build partial bars where no kline is available; OI and funding keep the newest value per minute;
    realized liquidations are summed per side. A failing disk is counted in ``stats``, never raised at the
    caller.
    """

    def __init__(self, store: Store, *, flush_s: float = 1.0) -> None:
        if flush_s <= 0:
            raise ValueError(f"flush_s must be > 0, got {flush_s}")
        self.store = store
        self.flush_s = flush_s
        self.stats = WriterStats()
        self._pending: dict[tuple[Venue, str, int], _Minute] = {}
        self._liqs: list[Liquidation] = []
        self._last_flush = time.monotonic()

    def __call__(self, ev: MarketEvent) -> None:
        self.on_event(ev)

    def on_event(self, ev: MarketEvent) -> None:
        """Account one event (any type; unknown ones are ignored). A trade costs a dict lookup and a few adds."""
        self.stats.events += 1
        t = type(ev)
        if t is Trade:
            self._minute(ev).add_trade(ev.price, ev.qty, ev.side is TakerSide.BUY)  # type: ignore[union-attr]
        elif t is Candle:
            if ev.closed and ev.interval_s == 60:  # type: ignore[union-attr]
                self._minute(ev).kline = ev  # type: ignore[assignment]
        elif t is OpenInterest:
            self._minute(ev).oi_usd = ev.usd  # type: ignore[union-attr]
        elif t is MarkPrice:
            if ev.funding_rate is not None:  # type: ignore[union-attr]
                self._minute(ev).funding = ev.funding_rate  # type: ignore[union-attr]
        elif t is FundingRate:
            self._minute(ev).funding = ev.rate  # type: ignore[union-attr]
        elif t is Liquidation:
            m = self._minute(ev)
            self._liqs.append(ev)  # type: ignore[arg-type]
            if ev.side is PositionSide.LONG:  # type: ignore[union-attr]
                m.liq_long += ev.usd  # type: ignore[union-attr]
            else:
                m.liq_short += ev.usd  # type: ignore[union-attr]
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def _minute(self, ev: MarketEvent) -> _Minute:
        ts = ev.ts
        key = (ev.venue, ev.symbol, ts - ts % 60_000)
        m = self._pending.get(key)
        if m is None:
            m = self._pending[key] = _Minute()
        return m

    def flush(self) -> int:
        """Write everything accumulated since the last flush in one transaction; returns rows written."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        liqs, self._liqs = self._liqs, []
        rows: list[tuple[Any, ...]] = []
        try:
            for (venue, symbol, ts), m in pending.items():
                rows.append(_minute_row(self.store.series_id(venue.value, symbol), ts, m))
            self.store.upsert_rows(rows, [self.store.liquidation_row(ev) for ev in liqs])
        except (sqlite3.Error, StoreError) as exc:
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            return 0
        self.stats.flushes += 1
        self.stats.rows += len(rows)
        return len(rows)

    async def run(self, interval_s: float | None = None) -> None:
        """Flush periodically until cancelled; a final flush on the way out."""
        try:
            while True:
                await asyncio.sleep(interval_s or self.flush_s / 2)
                self.flush()
        finally:
            self.flush()

    def close(self) -> None:
        """Flush what is pending (the store stays open)."""
        self.flush()


def _minute_row(sid: int, ts: int, m: _Minute) -> tuple[Any, ...]:
    k = m.kline
    if k is not None:
        ohlcv: tuple[Any, ...] = (
            k.open,
            k.high,
            k.low,
            k.close,
            k.volume,
            k.quote_volume if k.quote_volume is not None else k.volume * k.vwap,
            k.taker_buy_volume,
        )
        src = SRC_KLINE
    elif m.trades:
        ohlcv = (m.open, m.high, m.low, m.close, m.volume, m.quote, m.taker_buy)
        src = SRC_TRADES
    else:
        ohlcv = (None,) * 7
        src = SRC_TRADES
    return (
        sid,
        ts,
        60,
        *ohlcv,
        _none_if_nan(m.oi_usd),
        _none_if_nan(m.funding),
        m.liq_long,
        m.liq_short,
        src,
    )
