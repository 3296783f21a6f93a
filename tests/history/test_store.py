"""The SQLite store: bars, merging, live writer, retention, checkpoints, and surviving kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from liqtui.core.events import (
    Candle,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
    Venue,
)
from liqtui.history.store import (
    BAR_DTYPE,
    Store,
    StoreError,
    StoreWriter,
    checkpoint_key,
    default_store_path,
    empty_bars,
    merge_resolutions,
)

from .helpers import same_bars

ROOT = Path(__file__).resolve().parents[2]
MIN = 60_000


def bars(ts, interval_s=60, close=100.0):
    b = empty_bars(len(ts))
    b["ts"] = ts
    b["interval_s"] = interval_s
    for f in ("open", "high", "low", "close"):
        b[f] = close
    b["volume"] = 1.0
    return b


def trade(ts, price, qty=1.0, side=TakerSide.BUY):
    return Trade(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, price=price, qty=qty, side=side)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite3")
    yield s
    s.close()


def test_default_path_follows_liqtui_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQTUI_DATA", str(tmp_path / "d"))
    assert default_store_path() == tmp_path / "d" / "liqtui.sqlite3"
    with Store() as s:
        assert s.path.exists() and s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unusable_path_gives_a_clear_error_and_a_non_database_is_set_aside(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open the history store .*Not a directory"):
        Store(tmp_path / "file" / "sub" / "s.sqlite3")
    junk = b"this is not a database" * 100
    (tmp_path / "junk.sqlite3").write_bytes(junk)
    with Store(tmp_path / "junk.sqlite3") as s:  # a damaged store: kept aside, a new one started
        assert "file is not a database" in s.notice and s.integrity_ok()
    (aside,) = tmp_path.glob("junk.sqlite3.damaged-*")
    assert aside.read_bytes() == junk


def test_write_read_roundtrip_and_missing_ranges(store):
    b = bars(np.arange(10) * MIN)
    b["oi_usd"][3] = 5e8
    assert store.write_bars("binance", "BTCUSDT", b) == 10
    got = store.read_bars("binance", "BTCUSDT", 0, 10 * MIN)
    assert got.dtype == BAR_DTYPE and same_bars(got, b)
    assert store.missing_ranges("binance", "BTCUSDT", 60, 0, 15 * MIN) == [(10 * MIN, 15 * MIN)]
    assert store.missing_ranges("binance", "BTCUSDT", 60, 0, 5 * MIN, oi=True) == [
        (0, 3 * MIN),
        (4 * MIN, 5 * MIN),
    ]
    assert store.read_bars("bybit", "BTCUSDT", 0, 10 * MIN).size == 0  # series are separate
    with pytest.raises(ValueError, match="BAR_DTYPE"):
        store.write_bars("binance", "BTCUSDT", np.zeros(3))


def test_klines_replace_ohlcv_but_keep_stored_oi_and_liquidations(store):
    b = bars([0], close=100.0)
    b["oi_usd"] = 7e8
    b["liq_long_usd"] = 123.0
    store.write_bars("binance", "BTCUSDT", b)
    again = bars([0], close=101.0)  # a REST kline without OI (older than the venue's OI history)
    store.write_bars("binance", "BTCUSDT", again)
    (row,) = store.read_bars("binance", "BTCUSDT", 0, MIN)
    assert row["close"] == 101.0 and row["oi_usd"] == 7e8 and row["liq_long_usd"] == 123.0


def test_merge_resolutions_prefers_fine_bars():
    coarse = bars([0, 900_000, 1_800_000], interval_s=900, close=1.0)
    fine = bars(np.arange(900_000, 1_800_000, MIN), close=2.0)
    m = merge_resolutions(np.concatenate([coarse, fine]))
    assert list(m["interval_s"][:1]) == [900] and m["ts"][0] == 0 and m["ts"][-1] == 1_800_000
    assert len(m) == 1 + 15 + 1 and (np.diff(m["ts"]) > 0).all()


def test_writer_builds_minute_bars_from_live_events(store):
    w = StoreWriter(store, flush_s=3600)
    t0 = 10 * MIN
    w(trade(t0 + 1, 100.0, 1.0, TakerSide.BUY))
    w(trade(t0 + 2, 103.0, 2.0, TakerSide.SELL))
    w(
        Liquidation(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=t0 + 3,
            recv_ts=0,
            side=PositionSide.LONG,
            price=99.0,
            qty=1.0,
            usd=99.0,
        )
    )
    assert w.flush() == 1
    w(trade(t0 + 4, 98.0, 1.0, TakerSide.BUY))
    w(
        Liquidation(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=t0 + 5,
            recv_ts=0,
            side=PositionSide.SHORT,
            price=104.0,
            qty=1.0,
            usd=104.0,
        )
    )
    w(OpenInterest(venue=Venue.BINANCE, symbol="BTCUSDT", ts=t0 + 6, recv_ts=0, base=10.0, usd=1000.0))
    w(MarkPrice(venue=Venue.BINANCE, symbol="BTCUSDT", ts=t0 + 7, recv_ts=0, mark=99.0, funding_rate=1e-4))
    w.flush()
    (r,) = store.read_bars("binance", "BTCUSDT", t0, t0 + MIN)
    assert (r["open"], r["high"], r["low"], r["close"]) == (100.0, 103.0, 98.0, 98.0)
    assert (r["volume"], r["taker_buy_volume"], r["quote_volume"]) == (4.0, 2.0, 100.0 + 206.0 + 98.0)
    assert (r["oi_usd"], r["funding"], r["liq_long_usd"], r["liq_short_usd"]) == (1000.0, 1e-4, 99.0, 104.0)
    # the closed kline is final: it replaces the trade aggregate, later trades no longer change it
    w(
        Candle(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=t0,
            recv_ts=0,
            interval_s=60,
            open=100.5,
            high=104.0,
            low=97.5,
            close=98.5,
            volume=5.0,
            quote_volume=500.0,
            taker_buy_volume=2.5,
        )
    )
    w.flush()
    w(trade(t0 + 59_000, 120.0))
    w.flush()
    (r,) = store.read_bars("binance", "BTCUSDT", t0, t0 + MIN)
    assert (r["high"], r["close"], r["volume"], r["liq_long_usd"]) == (104.0, 98.5, 5.0, 99.0)
    assert w.stats.flushes == 4 and w.stats.errors == 0


def test_writer_flushes_on_its_own_at_least_once_a_second(store):
    w = StoreWriter(store, flush_s=0.05)
    w(trade(0, 100.0))
    deadline = time.monotonic() + 10
    i = 0
    while store.count_bars() == 0 and time.monotonic() < deadline:
        i += 1
        w(trade(i, 100.0))  # each event checks the clock; one lands after flush_s
        time.sleep(0.001)
    assert store.count_bars() == 1


async def test_writer_run_flushes_periodically_and_on_cancel(store):
    w = StoreWriter(store, flush_s=3600)
    task = asyncio.create_task(w.run(interval_s=0.01))
    w(trade(0, 100.0))
    for _ in range(1000):
        if store.count_bars():
            break
        await asyncio.sleep(0.01)
    assert store.count_bars() == 1
    w(trade(MIN, 100.0))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.count_bars() == 2


def test_retention_prunes_old_bars_and_checkpoints(store):
    day = 86_400_000
    store.write_bars("binance", "BTCUSDT", bars([0, 5 * day, 9 * day]))
    for ts in (1, 2, 3):
        store.save_checkpoint("k", ts, b"x" * ts, keep=5)
    assert store.prune(3, now_ms=10 * day) == 2
    assert store.count_bars() == 1 and store.load_checkpoint("k") == (3, b"xxx")
    assert store._db.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 1
    with pytest.raises(ValueError, match="retention_days"):
        store.prune(0)


def test_checkpoints_keep_the_newest(store):
    assert store.load_checkpoint("none") is None
    for ts in (10, 30, 20):
        store.save_checkpoint("k", ts, str(ts).encode())
    assert store.load_checkpoint("k") == (30, b"30")
    assert store._db.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 2
    a = checkpoint_key("btc", ["bybit", "binance"], {"x": 1})
    assert (
        a
        == checkpoint_key("BTC", ["binance", "bybit"], {"x": 1})
        != checkpoint_key("BTC", ["binance"], {"x": 1})
    )
    assert checkpoint_key("BTC", ["binance"], {"x": 2}) != checkpoint_key("BTC", ["binance"], {"x": 1})


# ------------------------------------------------------------------------------------------------ kill -9

_BATCH_WRITER = """
import sys, numpy as np
from liqtui.history.store import Store, empty_bars
s = Store(sys.argv[1])
n, B = 0, 500
while True:
    b = empty_bars(B)
    b["ts"] = (np.arange(B) + n) * 60000
    b["interval_s"] = 60
    b["close"] = b["open"] = b["high"] = b["low"] = 1.0 + n
    s.write_bars("binance", "BTCUSDT", b)
    n += B
    print(n, flush=True)
"""

_LIVE_WRITER = """
import sys
from liqtui.core.events import Trade, TakerSide, Venue
from liqtui.history.store import Store, StoreWriter
w = StoreWriter(Store(sys.argv[1]), flush_s=0.02)
i, flushes = 0, 0
while True:
    w(Trade(venue=Venue.BINANCE, symbol="BTCUSDT", ts=i * 60000, recv_ts=0, price=100.0, qty=1.0,
            side=TakerSide.BUY))
    if w.stats.flushes != flushes:  # the flush inside on_event committed every event up to and including i
        flushes = w.stats.flushes
        print(i, flush=True)
    i += 1
"""


def _kill_after(script: str, db: Path, lines_wanted: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    try:
        assert p.stdout is not None
        while len(seen) < lines_wanted:
            line = p.stdout.readline()
            if not line:
                raise AssertionError(f"writer exited early: {p.stderr.read() if p.stderr else ''}")
            seen.append(line.strip())
        p.send_signal(signal.SIGKILL)  # mid-batch: the writer never stops writing
    finally:
        p.kill()
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    return seen


def test_killed_mid_batch_reopens_intact_with_whole_batches(tmp_path):
    db = tmp_path / "crash.sqlite3"
    seen = _kill_after(_BATCH_WRITER, db, 8)
    committed = int(seen[-1])
    with Store(db) as s:
        assert s.integrity_ok()
        n = s.count_bars()
        assert n >= committed and n % 500 == 0  # every acknowledged batch, and no half batch
        got = s.read_bars("binance", "BTCUSDT", 0, 2**62)
        assert (np.diff(got["ts"]) == MIN).all() and got["ts"][0] == 0
        s.write_bars("binance", "BTCUSDT", bars([n * MIN]))  # and it is writable again
        assert s.count_bars() == n + 1


def test_killed_live_writer_keeps_everything_it_flushed(tmp_path):
    db = tmp_path / "live.sqlite3"
    seen = _kill_after(_LIVE_WRITER, db, 5)
    flushed_upto = int(seen[-1])
    with Store(db) as s:
        assert s.integrity_ok()
        got = s.read_bars("binance", "BTCUSDT", 0, 2**62)
        assert got["ts"][0] == 0 and (np.diff(got["ts"]) == MIN).all()  # a prefix of what was fed, no holes
        assert got["ts"][-1] // MIN >= flushed_upto  # nothing acknowledged was lost
        assert (got["volume"] == 1.0).all()


# ------------------------------------------------------------------------------------------------ day packs

DAY = 86_400_000


def test_compaction_packs_old_days_and_reads_stay_identical(store):
    b = bars(np.arange(0, 5 * DAY, 5 * MIN), interval_s=300, close=100.0)
    b["oi_usd"][::7] = 3e8
    b["close"] += np.arange(len(b)) * 0.01
    store.write_bars("binance", "BTCUSDT", b)
    coarse = bars(np.arange(-3 * DAY, 0, 900_000), interval_s=900, close=90.0)
    store.write_bars("binance", "BTCUSDT", coarse)
    before = store.read_bars("binance", "BTCUSDT", -10 * DAY, 10 * DAY)
    gaps = store.missing_ranges("binance", "BTCUSDT", 300, -DAY, 6 * DAY, oi=True)
    n = store.count_bars()
    moved = store.compact(now_ms=5 * DAY + 5)  # days before day 3 are packed
    assert moved == len(coarse) + 3 * 288
    assert store._db.execute("SELECT count(*) FROM packs").fetchone()[0] == 3 + 3
    assert store._db.execute("SELECT count(*) FROM bars").fetchone()[0] == 2 * 288
    assert store.count_bars() == n and store.count_bars("binance", "BTCUSDT") == n
    assert same_bars(store.read_bars("binance", "BTCUSDT", -10 * DAY, 10 * DAY), before)
    assert store.missing_ranges("binance", "BTCUSDT", 300, -DAY, 6 * DAY, oi=True) == gaps
    part = store.read_bars("binance", "BTCUSDT", DAY + 7 * MIN, DAY + 30 * MIN, interval_s=300)
    assert list(part["ts"]) == [DAY + 10 * MIN, DAY + 15 * MIN, DAY + 20 * MIN, DAY + 25 * MIN]
    assert store.last_bar_ts("binance", "BTCUSDT") == 5 * DAY - 5 * MIN
    assert store.compact(now_ms=5 * DAY + 5) == 0  # idempotent


def test_writing_into_a_packed_day_unpacks_it_and_merges(store):
    b = bars(np.arange(0, DAY, MIN), close=100.0)
    b["oi_usd"] = 5e8
    b["liq_long_usd"][10] = 42.0
    store.write_bars("binance", "BTCUSDT", b)
    store.compact(now_ms=10 * DAY)
    late = bars([10 * MIN], close=101.0)  # a late kline without OI for a packed minute
    store.write_bars("binance", "BTCUSDT", late)
    assert store._db.execute("SELECT count(*) FROM packs").fetchone()[0] == 0
    got = store.read_bars("binance", "BTCUSDT", 0, DAY)
    assert len(got) == 1440 and got[10]["close"] == 101.0 and got[10]["oi_usd"] == 5e8
    assert got[10]["liq_long_usd"] == 42.0 and got[11]["close"] == 100.0
    w = StoreWriter(store, flush_s=3600)
    store.compact(now_ms=10 * DAY)
    w(trade(20 * MIN + 1, 150.0))  # a trade-built partial bar never overrides a final kline
    w(
        Liquidation(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=20 * MIN + 2,
            recv_ts=0,
            side=PositionSide.SHORT,
            price=150.0,
            qty=1.0,
            usd=150.0,
        )
    )
    w.flush()
    (r,) = store.read_bars("binance", "BTCUSDT", 20 * MIN, 21 * MIN)
    assert r["close"] == 100.0 and r["liq_short_usd"] == 150.0 and store.count_bars() == 1440


def test_prune_drops_whole_packed_days(store):
    store.write_bars("binance", "BTCUSDT", bars(np.arange(0, 4 * DAY, 60 * MIN)))
    store.compact(now_ms=10 * DAY)
    assert store.prune(retention_days=7, now_ms=9 * DAY + 1) == 48  # days 0 and 1 are wholly too old
    assert store.count_bars() == 48
    assert store.read_bars("binance", "BTCUSDT", 0, 10 * DAY)["ts"][0] == 2 * DAY


def test_bars_built_from_live_trades_count_as_missing_for_backfill(store):
    w = StoreWriter(store, flush_s=3600)
    for m in (0, 1, 2):
        w(trade(m * MIN + 5, 100.0))
    w(
        Candle(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=MIN,
            recv_ts=0,
            interval_s=60,
            open=1.0,
            high=1.0,
            low=1.0,
            close=1.0,
            volume=1.0,
        )
    )
    w.flush()
    assert list(store.bar_times("binance", "BTCUSDT", 60, 0, 3 * MIN)) == [0, MIN, 2 * MIN]
    assert store.missing_ranges("binance", "BTCUSDT", 60, 0, 3 * MIN) == [(0, MIN), (2 * MIN, 3 * MIN)]
    store.compact(now_ms=10 * DAY)  # the same once packed
    assert store.missing_ranges("binance", "BTCUSDT", 60, 0, 3 * MIN) == [(0, MIN), (2 * MIN, 3 * MIN)]


def test_reading_an_unknown_series_writes_nothing(store):
    assert store.read_bars("okx", "ETH-USDT-SWAP", 0, DAY).size == 0
    assert store.missing_ranges("okx", "ETH-USDT-SWAP", 60, 0, 3 * MIN) == [(0, 3 * MIN)]
    assert store.last_bar_ts("okx", "ETH-USDT-SWAP") is None and store.count_bars("okx", "ETH-USDT-SWAP") == 0
    assert store.series() == []
