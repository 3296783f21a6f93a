"""Hyperliquid account discovery: a bounded address book fed by the trades tape, seed files and a store.

Every Hyperliquid trade names its buyer and seller (``users``); :meth:`AddressBook.on_trade` is the decoder's
``on_users`` sink. The book keeps, per address, when it was first and last seen trading the followed coin and
the notional it traded; it holds at most ``capacity`` addresses and evicts the least valuable (seeded
addresses never): value = notional traded, halved every ``half_life_h`` hours since last seen.

:class:`AddressStore` persists the book in its own SQLite table ``hl_accounts`` (a file of its own, or the
history store's file: the tables do not touch the store's schema), and logs the calibration of the estimate
against the observed map over time in ``hl_calibration``.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from liqtui.core.observed import Calibration, Coverage
from liqtui.venues.hyperliquid.feed import TradeUsers

__all__ = ["AccountEntry", "AddressBook", "AddressStore", "normalise_address", "read_seed_file"]

_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")


def normalise_address(text: str) -> str:
    """``0x`` + 40 hex digits, lower case; anything else raises ``ValueError`` naming the text."""
    a = text.strip().lower()
    if not _ADDRESS.match(a):
        raise ValueError(f"not a Hyperliquid address (0x followed by 40 hex digits): {text.strip()[:60]!r}")
    return a


def read_seed_file(path: str | Path) -> list[str]:
    """Addresses of a seed file: one per line, ``#`` comments and blank lines allowed; a bad line raises
    ``ValueError`` naming the file and the line number."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read the address file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the address file {p} is not UTF-8 text") from None
    out: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            out.append(normalise_address(text))
        except ValueError as exc:
            raise ValueError(f"{p}:{n}: {exc}") from None
    return out


@dataclass(slots=True)
class AccountEntry:
    """What the book knows of one address."""

    address: str
    first_seen_ms: int
    last_seen_ms: int
    notional_usd: float = 0.0  # traded in the followed coin
    trades: int = 0
    seeded: bool = False

    def value(self, now_ms: int, half_life_h: float) -> float:
        """Notional traded, decayed since last seen (seeded addresses: infinite, never evicted)."""
        if self.seeded:
            return math.inf
        age_h = max(0.0, (now_ms - self.last_seen_ms) / 3_600_000.0)
        return (self.notional_usd + 1.0) * math.pow(0.5, age_h / half_life_h)


class AddressBook:
    """The addresses seen trading one coin, bounded to ``capacity`` (evicting the least valuable)."""

    def __init__(self, coin: str, *, capacity: int = 5000, half_life_h: float = 24.0) -> None:
        if capacity < 1:
            raise ValueError(f"address book capacity must be >= 1, got {capacity!r}")
        if not half_life_h > 0:
            raise ValueError(f"address book half_life_h must be > 0, got {half_life_h!r}")
        self.coin = coin
        self.capacity = capacity
        self.half_life_h = half_life_h
        self.entries: dict[str, AccountEntry] = {}
        self.new: list[str] = []  # added since the last :meth:`take_new`
        self.evicted: list[str] = []  # removed since the last :meth:`take_evicted`
        self.dirty: set[str] = set()  # changed since the last save
        self.now_ms = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, address: object) -> bool:
        return address in self.entries

    def __iter__(self) -> Iterator[AccountEntry]:
        return iter(self.entries.values())

    def on_trade(self, t: TradeUsers) -> None:
        """The decoder's ``on_users`` sink: both sides of one trade of the followed coin."""
        if t.coin != self.coin:
            return
        usd = t.price * t.size
        for a in (t.buyer, t.seller):
            self.see(a, t.ts, usd)

    def see(self, address: str, ts: int, usd: float = 0.0, *, seeded: bool = False) -> bool:
        """Record ``address`` trading ``usd`` at ``ts``; returns True when it is new. Malformed addresses
        (not 0x + 40 hex) are ignored."""
        e = self.entries.get(address)
        if e is None:
            if not _ADDRESS.match(address):
                try:
                    address = normalise_address(address)
                except ValueError:
                    return False
                if address in self.entries:
                    return self.see(address, ts, usd, seeded=seeded)
            e = self.entries[address] = AccountEntry(address, ts, ts, seeded=seeded)
            self.new.append(address)
            is_new = True
        else:
            is_new = False
        if usd > 0:
            e.notional_usd += usd
            e.trades += 1
        e.last_seen_ms = max(e.last_seen_ms, ts)
        e.seeded = e.seeded or seeded
        self.dirty.add(address)
        self.now_ms = max(self.now_ms, ts)
        if len(self.entries) > self.capacity + max(1, self.capacity // 20):
            self._evict()
        return is_new

    def seed(self, addresses: Iterable[str], ts: int) -> int:
        """Add addresses the user keeps (never evicted); returns how many were new."""
        return sum(self.see(normalise_address(a), ts, seeded=True) for a in addresses)

    def _evict(self) -> None:
        """Back down to ``capacity``: the least valuable go (batched, so eviction is rare)."""
        ranked = sorted(
            self.entries.values(), key=lambda e: (e.value(self.now_ms, self.half_life_h), e.last_seen_ms)
        )
        for e in ranked[: len(self.entries) - self.capacity]:
            if e.seeded:
                continue
            del self.entries[e.address]
            self.dirty.discard(e.address)
            self.evicted.append(e.address)

    def take_new(self) -> list[str]:
        """Addresses added since the last call."""
        out, self.new = [e for e in self.new if e in self.entries], []
        return out

    def take_evicted(self) -> list[str]:
        """Addresses evicted since the last call."""
        out, self.evicted = self.evicted, []
        return out

    def load(self, entries: Iterable[AccountEntry]) -> None:
        """Entries from a store (newest first wins the capacity)."""
        for e in sorted(entries, key=lambda e: -e.last_seen_ms):
            if e.address in self.entries:
                continue
            if len(self.entries) >= self.capacity and not e.seeded:
                continue
            self.entries[e.address] = e
            self.new.append(e.address)
            self.now_ms = max(self.now_ms, e.last_seen_ms)


class AddressStore:
    """The address book in SQLite (``hl_accounts``, keyed by (coin, address)) and the calibration log
    (``hl_calibration``, one row per (coin, time), at most one a minute)."""

    _SCHEMA = (
        (
            "CREATE TABLE IF NOT EXISTS hl_accounts (coin TEXT NOT NULL, address TEXT NOT NULL, "
            "first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, notional_usd REAL NOT NULL, "
            "trades INTEGER NOT NULL, seeded INTEGER NOT NULL, PRIMARY KEY (coin, address))"
        ),
        (
            "CREATE TABLE IF NOT EXISTS hl_calibration (coin TEXT NOT NULL, ts INTEGER NOT NULL, "
            "corr_long REAL, corr_short REAL, recall_top5 REAL, distance_pct REAL, coverage REAL, "
            "accounts_polled INTEGER, PRIMARY KEY (coin, ts))"
        ),
    )

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            for ddl in self._SCHEMA:
                self._db.execute(ddl)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"cannot open the address store {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def save(self, book: AddressBook) -> int:
        """Write the changed entries and delete the evicted ones; returns rows written."""
        rows = [
            (book.coin, e.address, e.first_seen_ms, e.last_seen_ms, e.notional_usd, e.trades, int(e.seeded))
            for a in book.dirty
            if (e := book.entries.get(a)) is not None
        ]
        gone = [(book.coin, a) for a in book.take_evicted()]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO hl_accounts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (coin, address) DO UPDATE SET "
                "last_seen_ms = excluded.last_seen_ms, notional_usd = excluded.notional_usd, "
                "trades = excluded.trades, seeded = excluded.seeded",
                rows,
            )
            self._db.executemany("DELETE FROM hl_accounts WHERE coin = ? AND address = ?", gone)
        book.dirty.clear()
        return len(rows)

    def load(self, coin: str, limit: int) -> list[AccountEntry]:
        """The ``limit`` most recently seen entries of ``coin`` (seeded ones always)."""
        cur = self._db.execute(
            "SELECT address, first_seen_ms, last_seen_ms, notional_usd, trades, seeded FROM hl_accounts "
            "WHERE coin = ? ORDER BY seeded DESC, last_seen_ms DESC LIMIT ?",
            (coin, int(limit)),
        )
        return [AccountEntry(a, f, la, n, t, bool(s)) for a, f, la, n, t, s in cur.fetchall()]

    def log_calibration(self, coin: str, ts: int, cal: Calibration, cov: Coverage) -> bool:
        """Append one calibration row (at most one a minute per coin); returns whether it was written."""
        minute = ts - ts % 60_000
        cur = self._db.execute(
            "INSERT OR IGNORE INTO hl_calibration VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (coin, minute, cal.corr_long, cal.corr_short, cal.recall_top5, cal.distance_pct, cov.coverage,
             cov.accounts_polled),
        )  # fmt: skip
        return cur.rowcount == 1

    def calibration_history(self, coin: str, since_ms: int = 0) -> list[tuple[int, dict[str, float | None]]]:
        """(minute, figures) of the calibration log of ``coin``, oldest first."""
        cur = self._db.execute(
            "SELECT ts, corr_long, corr_short, recall_top5, distance_pct, coverage, accounts_polled "
            "FROM hl_calibration WHERE coin = ? AND ts >= ? ORDER BY ts",
            (coin, since_ms),
        )
        keys = ("corr_long", "corr_short", "recall_top5", "distance_pct", "coverage", "accounts_polled")
        return [(int(r[0]), dict(zip(keys, r[1:]))) for r in cur.fetchall()]
