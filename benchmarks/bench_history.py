"""History benchmarks: rebuild from the store, checkpoint restore, store write/read rates, live writer cost,
replay throughput.

``rebuild_6m_s``: six months of minute bars in SQLite → one HeatModel covering all eight lookbacks, through the
store path (read, convert, ``step_many``); its ``ratio`` is against ``step_many`` on the same bars already in
memory (the model's own cost), measured in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from liqtui.core.events import TakerSide, Trade, Venue
from liqtui.core.model import HeatModel
from liqtui.history.replay import replay
from liqtui.history.restore import STEP_CHUNK, model_bars, rebuild, step_bars
from liqtui.history.store import Store, StoreWriter, empty_bars

MIN = 60_000
NOW = 1_795_000_000_000 - 1_795_000_000_000 % MIN


def synthetic_bars(n: int, seed: int = 0) -> np.ndarray:
    """``n`` minute bars ending at NOW: a seeded random walk with taker volume and open interest."""
    rng = np.random.default_rng(seed)
    close = 60_000.0 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0005, n)) * close
    b = empty_bars(n)
    b["ts"] = NOW - (n - np.arange(n)) * MIN
    b["interval_s"] = 60
    b["open"], b["close"] = open_, close
    b["high"] = np.maximum(open_, close) + wick
    b["low"] = np.minimum(open_, close) - wick
    b["volume"] = rng.uniform(50, 150, n)
    b["quote_volume"] = b["volume"] * (b["high"] + b["low"] + b["close"]) / 3
    b["taker_buy_volume"] = b["volume"] * rng.uniform(0.3, 0.7, n)
    b["oi_usd"] = 8e9 * np.exp(np.cumsum(rng.normal(0, 0.0004, n)))
    return b


def _timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _model_only(bars: np.ndarray) -> HeatModel:
    """The model alone on bars already in memory, through the same chunked path the store rebuild uses."""
    m = HeatModel()
    step_bars(m, model_bars(bars))
    return m


def _store_rows(quick: bool, tmp: Path) -> list[dict]:
    n = 180 * 1440
    bars = synthetic_bars(n)
    store = Store(tmp / "bench.sqlite3")
    t_write, _ = _timed(
        lambda: [store.write_bars("binance", "BTCUSDT", bars[i : i + 10_000]) for i in range(0, n, 10_000)]
    )
    t_plain = _plain_insert_s(store, bars[:50_000]) * n / 50_000
    # before packing, as SQL rows (quick: the last 30 days, scaled)
    sub = n if not quick else 30 * 1440
    t_rows, _ = _timed(lambda: store.read_bars("binance", "BTCUSDT", NOW - sub * MIN, NOW + 1))
    t_rows *= n / sub
    t_pack, _ = _timed(lambda: store.compact(now_ms=NOW + 3 * 86_400_000))  # what the next open does
    t_read, got = _timed(lambda: store.read_bars("binance", "BTCUSDT", 0, NOW + 1))
    assert len(got) == n  # type: ignore[arg-type]
    _model_only(bars[: 3 * STEP_CHUNK])  # warm-up, so the baseline is not charged for first-touch costs
    t_base, base_model = _timed(lambda: _model_only(bars))  # the model alone on the same bars in memory
    t_rebuild, model = _timed(lambda: rebuild(store, "binance", "BTCUSDT", lookback="6M", now_ms=NOW))
    assert model.last_ts == base_model.last_ts  # type: ignore[attr-defined]
    blob = model.to_bytes()  # type: ignore[attr-defined]
    store.save_checkpoint("bench", model.last_ts, blob)  # type: ignore[attr-defined]
    t_restore, _ = _timed(lambda: HeatModel.from_bytes(store.load_checkpoint("bench")[1]))  # type: ignore[index]
    store.close()
    return [
        {
            "name": "rebuild_6m_s",
            "value": round(t_rebuild, 3),
            "unit": "s",
            "goal": 2.0,
            "ratio": round(t_rebuild / t_base, 3),
            "baseline": round(t_base, 3),
            "bars": n,
            "note": "baseline: the model alone on the same bars in memory (same chunked step_many path)",
        },
        {
            "name": "restore_checkpoint_s",
            "value": round(t_restore, 4),
            "unit": "s",
            "ratio": round(t_restore / t_rebuild, 4),
            "baseline": round(t_rebuild, 3),
            "bytes": len(blob),
        },
        {
            "name": "store_write_rows_per_s",
            "value": round(n / t_write),
            "unit": "rows/s",
            "ratio": round(t_plain / t_write, 3),
            "baseline": round(n / t_plain),
            "note": "baseline: plain INSERT",
        },
        {
            "name": "store_read_rows_per_s",
            "value": round(n / t_read),
            "unit": "rows/s",
            "ratio": round(t_rows / t_read, 1),
            "baseline": round(n / t_rows),
            "note": "baseline: unpacked SQL rows",
        },
        {
            "name": "store_compact_rows_per_s",
            "value": round(n / t_pack),
            "unit": "rows/s",
            "ratio": round(t_write / t_pack, 3),
            "baseline": round(n / t_write),
            "note": "baseline: upsert rate",
        },
    ]


def _plain_insert_s(store: Store, bars: np.ndarray) -> float:
    """Seconds to INSERT ``bars`` into a bare table with the same columns (no upsert, no index): the floor."""
    db = store._db
    db.execute("CREATE TEMP TABLE plain (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o)")
    rows = [(1, *r, 1) for r in zip(*(bars[f].tolist() for f in bars.dtype.names or ()))]
    t, _ = _timed(
        lambda: (
            db.execute("BEGIN"),
            db.executemany(f"INSERT INTO plain VALUES ({','.join('?' * 15)})", rows),
            db.execute("COMMIT"),
        )
    )
    db.execute("DROP TABLE plain")
    return t


def _backfilled_rows(tmp: Path, t_full: float) -> list[dict]:
    """The store a fresh 6M backfill leaves (15m bars, 1m for the last 30 days) → the model."""
    fine = synthetic_bars(30 * 1440, seed=1)
    coarse = synthetic_bars(150 * 96, seed=2)
    coarse["interval_s"] = 900
    coarse["ts"] = fine["ts"][0] - (len(coarse) - np.arange(len(coarse))) * 900_000
    store = Store(tmp / "backfilled.sqlite3")
    store.write_bars("binance", "BTCUSDT", coarse)
    store.write_bars("binance", "BTCUSDT", fine)
    store.compact(now_ms=NOW + 3 * 86_400_000)
    t_rebuild, _ = _timed(lambda: rebuild(store, "binance", "BTCUSDT", lookback="6M", now_ms=NOW))
    store.close()
    return [
        {
            "name": "rebuild_6m_backfilled_s",
            "value": round(t_rebuild, 3),
            "unit": "s",
            "goal": 2.0,
            "ratio": round(t_rebuild / t_full, 3),
            "baseline": round(t_full, 3),
            "bars": len(fine) + len(coarse),
            "note": "15m bars + 1m for the last 30 days, as backfill stores; baseline: rebuild_6m_s",
        }
    ]


def _writer_rows(quick: bool, tmp: Path) -> list[dict]:
    n = 50_000 if quick else 200_000
    trades = [
        Trade(
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            ts=NOW + i * 10,
            recv_ts=0,
            price=60_000.0 + i % 50,
            qty=0.01,
            side=TakerSide.BUY if i % 3 else TakerSide.SELL,
        )
        for i in range(n)
    ]
    store = Store(tmp / "writer.sqlite3")
    w = StoreWriter(store, flush_s=1.0)
    t_writer, _ = _timed(lambda: [w.on_event(t) for t in trades])
    w.flush()
    sink: list = []
    t_base, _ = _timed(lambda: [sink.append(t) for t in trades])
    store.close()
    return [
        {
            "name": "writer_event_us",
            "value": round(t_writer / n * 1e6, 3),
            "unit": "us/event",
            "ratio": round(t_writer / t_base, 2),
            "baseline": round(t_base / n * 1e6, 3),
        }
    ]


def _replay_rows(quick: bool, tmp: Path) -> list[dict]:
    from liqtui.feeds import make_decoder
    from liqtui.history.record import Recorder

    n = 50_000 if quick else 200_000
    frames = [
        f'{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":{NOW + i},"s":"BTCUSDT","a":{i},'
        f'"p":"{60_000 + i % 97:.1f}","q":"0.010","f":1,"l":1,"T":{NOW + i},"m":{"true" if i % 2 else "false"}}}}}'
        for i in range(n)
    ]
    path = tmp / "bench.jsonl.gz"
    t_rec, _ = _timed(lambda: _record(Recorder, path, frames))
    t_raw, _ = _timed(lambda: _raw_gzip(tmp / "raw.txt.gz", frames))
    count = [0]

    def sink(ev: object) -> None:
        count[0] += 1

    t_replay, _ = _timed(lambda: asyncio.run(replay(path, sink)))
    dec = make_decoder("binance", "BTC")
    t_base, _ = _timed(lambda: [dec.decode(f, 0) for f in frames])
    assert count[0] == n
    return [
        {
            "name": "replay_frames_per_s",
            "value": round(n / t_replay),
            "unit": "frames/s",
            "ratio": round(t_base / t_replay, 3),
            "baseline": round(n / t_base),
            "note": "baseline: decode only",
        },
        {
            "name": "record_frames_per_s",
            "value": round(n / t_rec),
            "unit": "frames/s",
            "ratio": round(t_raw / t_rec, 3),
            "baseline": round(n / t_raw),
            "note": "baseline: raw lines into gzip",
        },
    ]


def _raw_gzip(path: Path, frames: list[str]) -> None:
    import gzip

    with gzip.open(path, "wt", compresslevel=6) as fh:
        for f in frames:
            fh.write(f + "\n")


def _record(cls, path: Path, frames: list[str]) -> None:  # type: ignore[no-untyped-def]
    with cls(path) as rec:
        for i, f in enumerate(frames):
            rec("binance", f, NOW + i)


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="liqtui-bench-") as d:
        tmp = Path(d)
        rows = _store_rows(quick, tmp)
        return (
            rows
            + _backfilled_rows(tmp, rows[0]["value"])
            + _writer_rows(quick, tmp)
            + _replay_rows(quick, tmp)
        )
