"""Headless zones, the record → replay round trip, and restart from a checkpoint."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from liqtui.cli import parse_args
from liqtui.commands.zones import run_zones
from liqtui.config import Config
from liqtui.core.engine import Engine
from liqtui.core.model import HeatModel, ModelConfig
from liqtui.feeds.connection import FeedManager
from liqtui.feeds.endpoints import Endpoints
from liqtui.headless import _Driver, collect_zones, zones_document
from liqtui.history.backfill import DAY_MS, backfill
from liqtui.history.record import Recorder
from liqtui.history.restore import Checkpointer, model_bars, rebuild, restore
from liqtui.history.store import Store, checkpoint_key
from liqtui.sim.server import DemoExchange

from .restserver import NOW_MS, RestServer
from .test_replay import agg, write_ours


def demo_endpoints(demo: DemoExchange) -> Endpoints:
    return (
        Endpoints()
        .with_override("binance", "ws", demo.ws_url)
        .with_override("binance", "rest", demo.rest_url)
    )


async def wait_for(cond, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------------------------------------ round trip


async def test_record_replay_round_trip_gives_the_same_zones(tmp_path):
    path = tmp_path / "demo.jsonl.gz"
    engine = Engine(HeatModel(), symbol="BTC", reference="binance")
    async with DemoExchange(seed=7, speed=240.0, history_days=0.1) as demo:
        with Recorder(path) as rec:
            fm = FeedManager(
                ["binance"],
                "BTC",
                endpoints=demo_endpoints(demo),
                sink=_Driver(engine),
                on_raw=rec,
                oi_poll_s=0.2,
            )
            task = asyncio.create_task(fm.run())
            try:
                await wait_for(lambda: engine.counters["candles"] >= 10 and engine.model.zones("12h").above)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
    live = zones_document(engine, lookback="12h", top=5)
    assert live["above"] and live["below"] and live["totals"]["above"] > 0
    replayed = await collect_zones("replay", replay_path=str(path), lookback="12h", top=5)
    assert replayed["stats"]["frames"] == fm.stats["binance"].frames
    for key in ("price", "above", "below", "totals", "symbol"):
        assert replayed[key] == live[key], key


# ------------------------------------------------------------------------------------------------ restart


async def test_restart_from_a_checkpoint_gives_the_same_zones(tmp_path):
    db = tmp_path / "h.sqlite3"
    t1 = NOW_MS - DAY_MS
    with RestServer() as srv:
        store = Store(db)
        await backfill("binance", "BTC", "3d", rest_url=srv.url, now_ms=NOW_MS, store=store, min_interval_s=0)
        model = rebuild(store, "binance", "BTCUSDT", lookback="3d", now_ms=t1)  # up to yesterday
        before = model.zones("1d")
        assert before.above and before.below
        key = checkpoint_key("BTC", ["binance"], ModelConfig())
        assert Checkpointer(store, key, model).save()
        store.close()

        store = Store(db)  # the restart
        again, from_checkpoint = restore(store, key, "binance", "BTCUSDT", lookback="3d", now_ms=t1)
        assert from_checkpoint and again.last_ts == model.last_ts
        assert again.zones("1d") == before
        # the next day arrives: the restored model and the one that never stopped stay identical
        rebuild(store, "binance", "BTCUSDT", model=model, lookback="3d", now_ms=NOW_MS)
        rebuild(store, "binance", "BTCUSDT", model=again, lookback="3d", now_ms=NOW_MS)
        assert again.last_ts == NOW_MS - 60_000
        assert again.zones("1d") == model.zones("1d") and again.zones("3d") == model.zones("3d")

        store.save_checkpoint(key, NOW_MS, b"garbage")  # a corrupt checkpoint falls back to a rebuild
        fresh, from_checkpoint = restore(store, key, "binance", "BTCUSDT", lookback="3d", now_ms=NOW_MS)
        assert not from_checkpoint and fresh.last_ts == NOW_MS - 60_000 and fresh.zones("1d").above
        store.close()


def test_model_bars_derive_vwap_share_and_drop_unpriced_rows():
    from liqtui.history.store import empty_bars

    b = empty_bars(3)
    b["ts"] = [0, 60_000, 120_000]
    b["interval_s"] = 60
    b["open"], b["high"], b["low"], b["close"] = [10, 10, np.nan], [12, 11, 1], [9, 9.5, 1], [11, 10.5, 1]
    b["volume"], b["quote_volume"], b["taker_buy_volume"] = [2, 0, 1], [21, 0, 1], [1.5, 0, 1]
    m = model_bars(b)
    assert len(m) == 2 and list(m["ts"]) == [0, 60_000]
    assert m["vwap"][0] == 10.5 and m["taker_buy_share"][0] == 0.75
    assert np.isnan(m["vwap"][1]) and np.isnan(m["taker_buy_share"][1])
    assert len(model_bars(b, after_ts=0)) == 1


# ------------------------------------------------------------------------------------------------ CLI


def run_cli(argv, capsys):
    code = run_zones(parse_args(argv), Config())
    out = capsys.readouterr()
    return code, out.out, out.err


def test_zones_json_from_a_replay(tmp_path, capsys):
    path = write_ours(tmp_path / "t.jsonl", [agg(i) for i in range(100)])
    code, out, err = run_cli(
        ["zones", "--replay", str(path), "--json", "--lookback", "1d", "--top", "3"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbol"] == "BTC" and doc["lookback"] == "1d" and doc["price"] == 60_099.0
    assert isinstance(doc["above"], list) and isinstance(doc["below"], list)
    assert set(doc["totals"]) >= {"above", "below", "imbalance"}
    assert (
        doc["stats"]["frames"] == 100
        and doc["stats"]["decode_errors"] == 0
        and doc["stats"]["reconnects"] == 0
    )
    code, out, _ = run_cli(["zones", "--replay", str(path)], capsys)
    assert code == 0 and "BTC 1d" in out and "imbalance" in out  # the text table


def test_zones_bad_arguments_exit_2_naming_the_flag(tmp_path, capsys):
    code, _, err = run_cli(["zones", "--replay", str(tmp_path / "missing.jsonl"), "--json"], capsys)
    assert code == 2 and "--replay" in err and "missing.jsonl" in err
    (tmp_path / "prose.txt").write_text("not a recording\n")
    code, _, err = run_cli(["zones", "--replay", str(tmp_path / "prose.txt")], capsys)
    assert code == 2 and "--replay" in err and "hftbacktest" in err
    ns = parse_args(["zones", "--replay", str(tmp_path / "prose.txt")])
    ns.lookback = "2y"
    assert run_zones(ns, Config()) == 2
    assert "--lookback must be one of 12h 1d 3d 7d 14d 1M 3M 6M" in capsys.readouterr().err
    ns.lookback, ns.top = "1d", 0
    assert run_zones(ns, Config()) == 2
    assert "--top must be an integer between 1 and 50" in capsys.readouterr().err


def test_zones_exit_3_when_no_data_arrived(tmp_path, capsys):
    path = write_ours(tmp_path / "junk.jsonl", ['{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}}'] * 5)
    code, out, err = run_cli(["zones", "--replay", str(path), "--json"], capsys)
    assert code == 3 and "no data arrived" in err and "5 frames" in err
    assert json.loads(out)["stats"]["events"] == 0


async def test_zones_from_the_demo_exchange_backfill_first():
    doc = await collect_zones("demo", seconds=1.5, lookback="12h", top=4, seed=3)
    assert doc["source"] == "demo" and doc["symbol"] == "BTC"
    assert doc["stats"]["frames"] > 0 and doc["stats"]["events"] > 0
    assert doc["stats"]["backfill_bars"] == 720
    assert 1 <= len(doc["above"]) <= 4 and 1 <= len(doc["below"]) <= 4
    z = doc["above"][0]
    assert z["low"] <= z["peak"] <= z["high"] and z["distance_pct"] > 0 and z["usd"] > 0 and z["tiers"]
    assert all(b["distance_pct"] < 0 for b in doc["below"])
    assert doc["totals"]["above"] >= sum(z["usd"] for z in doc["above"]) * 0.999


async def test_live_zones_write_the_store_and_resume_from_it(tmp_path):
    store = Store(tmp_path / "live.sqlite3")
    async with DemoExchange(seed=5, speed=1.0, history_days=1.0) as demo:
        doc = await collect_zones(
            "live", seconds=1.0, lookback="12h", endpoints=demo_endpoints(demo), store=store
        )
        assert doc["stats"]["frames"] > 0 and doc["above"]
        n = store.count_bars("binance", "BTCUSDT")
        assert n >= 719  # the backfilled 12 hours (plus the live minute)
        doc2 = await collect_zones(
            "live", seconds=0.5, lookback="12h", endpoints=demo_endpoints(demo), store=store
        )
        assert doc2["above"] and "model restored from a checkpoint" in doc2["notes"]
    assert store.count_bars("binance", "BTCUSDT") - n <= 3  # the second run fetched only the new minutes
    store.close()


async def test_checkpointer_compresses_off_the_loop_and_skips_unchanged_models(tmp_path):
    from liqtui.history.store import empty_bars

    store = Store(tmp_path / "c.sqlite3")
    model = HeatModel()
    ck = Checkpointer(store, "k", model, interval_s=0.01)
    assert not await ck.save_async()  # nothing stepped yet
    b = empty_bars(120)
    b["ts"] = np.arange(120) * 60_000 + 1_700_000_000_000
    b["interval_s"] = 60
    b["open"] = b["high"] = b["low"] = b["close"] = 50_000.0 + np.arange(120)
    b["high"] += 10
    b["volume"], b["oi_usd"] = 5.0, 1e9 + np.arange(120) * 1e6
    model.step_many(model_bars(b))
    assert await ck.save_async() and not await ck.save_async()  # saved once, then unchanged
    raw = store._db.execute("SELECT data FROM checkpoints").fetchone()[0]
    ts, data = store.load_checkpoint("k")
    assert raw[:4] == b"LQZ1" and len(raw) < len(data) and ts == model.last_ts
    assert HeatModel.from_bytes(data).zones("1d") == model.zones("1d")
    task = asyncio.create_task(ck.run())
    nxt = b[-1:].copy()
    nxt["ts"] += 60_000
    model.step_many(model_bars(nxt))  # the model changes while the checkpointer runs
    await wait_for(lambda: ck.saved == 2, timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ck.saved == 2 and store.load_checkpoint("k")[0] == model.last_ts  # and no rewrite when unchanged
    store.close()


def test_rebuild_skips_the_minute_still_forming(tmp_path):
    from liqtui.history.store import empty_bars

    now = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
    b = empty_bars(4)
    b["ts"] = now + np.arange(-3, 1) * 60_000
    b["interval_s"] = 60
    b["open"] = b["low"] = 100.0
    b["high"] = b["close"] = 101.0
    b["oi_usd"] = [1e9, 1.1e9, 1.2e9, 1.3e9]
    with Store(tmp_path / "r.sqlite3") as store:
        store.write_bars("binance", "BTCUSDT", b)
        model = rebuild(store, "binance", "BTCUSDT", lookback="12h", now_ms=now + 30_000)
        assert model.last_ts == now - 60_000
        rebuild(store, "binance", "BTCUSDT", model=model, lookback="12h", now_ms=now + 60_000)
        assert model.last_ts == now
