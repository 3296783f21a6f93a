"""Store damage never stops liqtui: random page damage, a bad row, a store of a newer version, an unreadable
data folder (docs/FAULTS.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from liqtui.config import Config, StoreConfig
from liqtui.history.store import DAY_MS, SCHEMA_VERSION, Store, StoreError, StoreWriter
from liqtui.sources import open_store

from .helpers import (
    MIN,
    damage_page,
    drop_root_file_powers,
    fill_store,
    first_day_ms,
    integrity_problems,
    minute_bars,
    sha256,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("filled") / "liqtui.sqlite3"
    return path, fill_store(path)


def _set_aside(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.damaged-*"))


# ------------------------------------------------------------------------------------------ random page damage


@pytest.mark.parametrize("seed", range(8))
def test_a_random_damaged_page_never_stops_the_store(tmp_path, filled, seed) -> None:
    src, counts = filled
    path = tmp_path / "liqtui.sqlite3"
    shutil.copy(src, path)
    rng = random.Random(seed)
    page = damage_page(path, rng)
    damaged_hash, problems = sha256(path), integrity_problems(path)
    with Store(path, retention_days=200) as s:  # before: sqlite3.DatabaseError out of prune/compact
        if problems:
            assert s.notice.startswith("the history store was damaged (") and "\n" not in s.notice
            (aside,) = _set_aside(tmp_path, "liqtui.sqlite3")
            assert aside.name in s.notice and sha256(aside) == damaged_hash  # kept as it was
            assert s.integrity_ok() and s.count_bars() == 0  # a new store, usable at once
            s.write_bars("binance", "BTCUSDT", minute_bars(first_day_ms(), 10))
            assert s.count_bars() == 10
        else:  # a page SQLite does not use (on the free list): nothing is wrong and nothing is moved
            assert s.notice == "" and not _set_aside(tmp_path, "liqtui.sqlite3"), f"page {page}"
            assert s.count_bars("binance", "BTCUSDT") == counts["binance"]


def test_most_random_pages_are_damage_the_store_notices(tmp_path, filled) -> None:
    """The test above is not vacuous: over 40 seeds most damaged pages are pages SQLite uses."""
    src, _ = filled
    seen = 0
    for seed in range(40):
        path = tmp_path / f"{seed}.sqlite3"
        shutil.copy(src, path)
        damage_page(path, random.Random(seed))
        if integrity_problems(path):
            seen += 1
            with Store(path) as s:
                assert s.notice
        path.unlink()
    assert seen >= 30


def test_damage_found_during_housekeeping_is_set_aside_too(tmp_path, filled, monkeypatch) -> None:
    """Damage the read-only check did not see (it appeared since, or is of a kind it does not look at)."""
    src, _ = filled
    path = tmp_path / "liqtui.sqlite3"
    shutil.copy(src, path)

    # a real SQLITE_CORRUPT / SQLITE_NOTADB from SQLite itself, raised by the first compact only
    real: list[sqlite3.DatabaseError] = []
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"\0" * 100 + b"x" * 4000)
    try:
        sqlite3.connect(junk).execute("SELECT 1 FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        real.append(exc)
    assert real and real[0].sqlite_errorcode in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    calls = {"n": 0}
    original = Store.compact

    def compact_once_damaged(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 1:
            raise real[0]
        return original(self, *a, **k)

    monkeypatch.setattr(Store, "compact", compact_once_damaged)
    with Store(path) as s:
        assert "damaged" in s.notice and s.count_bars() == 0
    assert len(_set_aside(tmp_path, "liqtui.sqlite3")) == 1


# ------------------------------------------------------------------------------------------ bad rows


def _raw(path: Path, sql: str, args: tuple[object, ...] = ()) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, args)
    db.close()


def test_a_bad_value_in_an_old_row_does_not_stop_the_open(tmp_path, caplog) -> None:
    """integrity_check is ok, but one stored value is not a number: compacting at open drops that row (counted,
    logged) and packs the rest; before, ``ValueError`` out of ``compact`` stopped liqtui."""
    path = tmp_path / "s.sqlite3"
    start = first_day_ms()
    with Store(path) as s:
        s.write_bars("binance", "BTCUSDT", minute_bars(start, 1440))  # rows until the next open packs them
    _raw(path, "UPDATE bars SET close = 'garbage' WHERE ts = ?", (start + 7 * MIN,))
    assert integrity_problems(path) == ""
    with caplog.at_level(logging.WARNING, "liqtui.history"), Store(path) as s:
        assert s.notice == "" and s.skipped_rows == 1
        got = s.read_bars("binance", "BTCUSDT", start, start + DAY_MS)
        assert len(got) == 1439 and start + 7 * MIN not in got["ts"]
        assert s._db.execute("SELECT count(*) FROM bars").fetchone()[0] == 0  # all packed, the bad one gone
    assert "dropped (while packing old days) the bar row (series 1, ts" in caplog.text
    assert "close holds 'garbage', not a number" in caplog.text


def test_bad_rows_met_while_reading_are_skipped_and_counted(tmp_path, caplog) -> None:
    path = tmp_path / "s.sqlite3"
    start = first_day_ms()
    now_day = int(time.time() * 1000) // DAY_MS * DAY_MS
    with Store(path) as s:
        s.write_bars("binance", "BTCUSDT", minute_bars(start, 1440))  # packed below
        s.compact()
        s.write_bars("binance", "BTCUSDT", minute_bars(now_day, 60))  # today: rows
        s.save_checkpoint("k", 1, b"older")
        s.save_checkpoint("k", 2, b"newer")
    _raw(path, "UPDATE bars SET high = X'00ff' WHERE ts = ?", (now_day + 3 * MIN,))  # a blob for a number
    _raw(path, "UPDATE bars SET interval_s = 'sixty' WHERE ts = ?", (now_day + 4 * MIN,))
    _raw(path, "UPDATE packs SET data = substr(data, 1, 1000)")  # a cut pack
    _raw(path, "UPDATE checkpoints SET data = 'text' WHERE ts = 2")
    with caplog.at_level(logging.WARNING, "liqtui.history"), Store(path) as s:
        got = s.read_bars("binance", "BTCUSDT", start, now_day + DAY_MS)
        assert len(got) == 58 and s.skipped_rows == 3  # the pack and two rows, each counted once
        # what could not be read counts as missing: backfill fetches it again
        assert s.missing_ranges("binance", "BTCUSDT", 60, start, start + DAY_MS) == [(start, start + DAY_MS)]
        assert s.last_bar_ts("binance", "BTCUSDT") == now_day + 59 * MIN
        assert s.load_checkpoint("k") == (1, b"older")  # the unreadable newest one is passed over
        # writing into the day of the unreadable pack replaces it
        s.write_bars("binance", "BTCUSDT", minute_bars(start, 1440, close=101.0))
        assert len(s.read_bars("binance", "BTCUSDT", start, start + DAY_MS)) == 1440
    assert "1000 data bytes and 1440 source bytes for 1440 bars" in caplog.text
    assert "high holds b'\\x00\\xff', not a number" in caplog.text
    assert "interval_s holds 'sixty', not an integer" in caplog.text
    assert "skipped the checkpoint k at ts 2: int time, str data" in caplog.text


def test_a_failing_write_is_a_store_error_and_the_live_writer_counts_it(tmp_path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path) as s:
        s.write_bars("binance", "BTCUSDT", minute_bars(first_day_ms(), 5))
        s._db.execute("PRAGMA query_only = 1")  # every write now fails inside SQLite, as on a full disk
        with pytest.raises(StoreError, match="writing bars failed: attempt to write a readonly database"):
            s.write_bars("binance", "BTCUSDT", minute_bars(first_day_ms(), 5))
        with pytest.raises(StoreError, match="saving a checkpoint failed"):
            s.save_checkpoint("k", 1, b"x")
        w = StoreWriter(s, flush_s=3600)
        from liqtui.core.events import OpenInterest, Venue

        w(OpenInterest(venue=Venue.BINANCE, symbol="BTCUSDT", ts=MIN, recv_ts=MIN, base=1.0, usd=1e6))
        assert w.flush() == 0 and w.stats.errors == 1 and "readonly" in w.stats.last_error


# ------------------------------------------------------------------------------------------ newer schema


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_store_of_a_newer_version_is_refused_untouched(tmp_path, journal) -> None:
    path = tmp_path / "liqtui.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode={journal}")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION + 1),))
    db.execute("CREATE TABLE bars_v2 (x)")
    db.commit()
    db.close()
    before, files = sha256(path), sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StoreError, match=r"newer liqtui \(schema version 2; this one reads version 1\)"):
        Store(path, retention_days=30)
    assert sha256(path) == before  # not one byte changed: no tables added, journal mode as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # nothing created, nothing moved


def test_a_foreign_database_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "liqtui.sqlite3"
    _raw(path, "CREATE TABLE contacts (name TEXT)")
    before = sha256(path)
    with pytest.raises(StoreError, match=r"not a liqtui store \(tables: contacts\); left untouched"):
        Store(path)
    assert sha256(path) == before


def test_the_app_goes_on_without_a_newer_store(tmp_path, caplog) -> None:
    path = tmp_path / "liqtui.sqlite3"
    _raw(path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    _raw(path, "INSERT INTO meta VALUES ('schema', '7')")
    cfg = Config(store=StoreConfig(path=str(path)))
    with caplog.at_level(logging.WARNING):
        assert open_store(cfg) is None
    assert "newer liqtui" in caplog.text


def test_the_app_starts_on_a_damaged_store(tmp_path, filled) -> None:
    """The TUI's and headless' way in (``sources.open_store``): a store, with the notice to show."""
    src, _ = filled
    path = tmp_path / "liqtui.sqlite3"
    shutil.copy(src, path)
    with path.open("r+b") as f:  # the first page: the header and the schema
        f.write(b"\xff" * 4096)
    store = open_store(Config(store=StoreConfig(path=str(path))))
    assert store is not None and "damaged" in store.notice
    store.close()


# ------------------------------------------------------------------------------------------ unreadable folder


def test_a_data_folder_under_a_regular_file_is_one_clear_line(tmp_path, caplog) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "data" / "liqtui.sqlite3"
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == f"cannot open the history store {str(path)!r}: Not a directory ({path.parent})"
    with caplog.at_level(logging.WARNING):
        assert open_store(Config(store=StoreConfig(path=str(path)))) is None
    assert "continuing without it" in caplog.text and "Traceback" not in caplog.text


def test_a_store_path_that_is_a_directory_is_one_clear_line(tmp_path) -> None:
    with pytest.raises(StoreError, match="that path is a directory, not a file"):
        Store(tmp_path)


_UNREADABLE = textwrap.dedent(
    """
    import json, sys
    from liqtui.history.store import Store, StoreError
    try:
        Store(sys.argv[1]).close()
        print(json.dumps({"opened": True}))
    except StoreError as exc:
        print(json.dumps({"opened": False, "error": str(exc)}))
    """
)


@pytest.mark.parametrize("mode", [0o000, 0o500])  # unreadable; readable but not writable
def test_a_data_folder_without_permission_is_one_clear_line(tmp_path, filled, mode) -> None:
    """Permissions, really enforced: as root the child drops the capabilities that bypass file modes."""
    src, _ = filled
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(src, folder / "liqtui.sqlite3")
    folder.chmod(mode)
    try:
        r = subprocess.run(
            [sys.executable, "-c", _UNREADABLE, str(folder / "liqtui.sqlite3")],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=drop_root_file_powers if os.geteuid() == 0 else None,
        )
    finally:
        folder.chmod(0o700)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    assert out["opened"] is False
    assert out["error"].startswith("cannot open the history store") and "\n" not in out["error"]
    wanted = "Permission denied" if mode == 0 else "unable to open database file"
    assert wanted in out["error"] or "readonly" in out["error"], out["error"]
    assert sorted(p.name for p in folder.iterdir()) == ["liqtui.sqlite3"]  # nothing moved aside or created


async def test_the_checkpointer_goes_on_when_the_store_refuses_a_save(tmp_path, caplog) -> None:
    from liqtui.core.model import HeatModel
    from liqtui.history.restore import Checkpointer, model_bars

    store = Store(tmp_path / "c.sqlite3")
    model = HeatModel()
    b = minute_bars(first_day_ms(), 120)
    b["high"] += 10
    model.step_many(model_bars(b))
    ck = Checkpointer(store, "k", model, interval_s=0.01)
    store._db.execute("PRAGMA query_only = 1")  # every write fails from now on, as on a full disk
    task = asyncio.create_task(ck.run())
    deadline = time.monotonic() + 60
    while ck.failed < 3 and not task.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not task.done() and ck.failed >= 3 and "saving a checkpoint failed" in ck.last_error
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # cancelled as asked: the final save failed too, and was only counted
    assert ck.saved == 0 and "checkpoint of k not saved" in caplog.text
    store.close()
