"""Helpers of the fault suite: a store with real content, file hashes, page damage."""

from __future__ import annotations

import ctypes
import hashlib
import random
import sqlite3
import time
from pathlib import Path

import numpy as np

from liqtui.history.store import DAY_MS, Store, empty_bars

MIN = 60_000
DAYS = 6  # four of them old enough to be packed on open, two kept as rows


def minute_bars(start_ms: int, n: int, close: float = 100.0) -> np.ndarray:
    b = empty_bars(n)
    b["ts"] = start_ms + np.arange(n, dtype=np.int64) * MIN
    b["interval_s"] = 60
    for f in ("open", "high", "low", "close"):
        b[f] = close
    b["volume"] = 1.0
    b["oi_usd"] = 5e8
    return b


def first_day_ms(now_ms: int | None = None) -> int:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return (now // DAY_MS - DAYS + 1) * DAY_MS


def fill_store(path: Path) -> dict[str, int]:
    """A store holding six days of 1m bars for two venues (old days packed, recent ones rows) and two
    checkpoints; returns the bar count per venue."""
    start = first_day_ms()
    n = (int(time.time() * 1000) - start) // MIN
    with Store(path) as s:
        for venue in ("binance", "bybit"):
            s.write_bars(venue, "BTCUSDT", minute_bars(start, n))
        s.compact()
        s.save_checkpoint("BTC|binance|x", start + MIN, random.Random(1).randbytes(60_000))
        s.save_checkpoint("BTC|binance|x", start + 2 * MIN, random.Random(2).randbytes(60_000))
        return {v: s.count_bars(v, "BTCUSDT") for v in ("binance", "bybit")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def page_count(path: Path) -> tuple[int, int]:
    """(page size, number of pages) of an SQLite file."""
    head = path.read_bytes()[:100]
    size = int.from_bytes(head[16:18], "big")
    size = 65536 if size == 1 else size
    return size, path.stat().st_size // size


def damage_page(path: Path, rng: random.Random) -> int:
    """Overwrite one random page with random bytes; returns its number (1-based)."""
    size, pages = page_count(path)
    page = rng.randrange(pages)
    with path.open("r+b") as f:
        f.seek(page * size)
        f.write(rng.randbytes(size))
    return page + 1


def integrity_problems(path: Path) -> str:
    """What ``PRAGMA integrity_check`` says about a file (read-only, nothing created): "" when it is fine."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if rows == ["ok"] else "; ".join(rows)


def drop_root_file_powers() -> None:
    """For a child process (``preexec_fn``) of a test run as root: without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH root obeys file modes like anyone, so a chmod 000 folder is really unreadable."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone from the exec'd program's capabilities
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
