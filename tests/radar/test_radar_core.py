"""The radar's rows and ranking on a scripted market (pure: no feed, no server)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from liqtui.core.events import Candle, Liquidation, PositionSide, Venue
from liqtui.core.model import bars_from_arrays
from liqtui.core.radar import LIGHT_CONFIG, MEMORY_BUDGET_MB, Radar, RadarTable, row_json

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 900_000
BAR_MS = 900_000


def _bars(price: float, oi_usd: float, n: int = 48, seed: int = 1, oi_growth: float = 0.01) -> np.ndarray:
    """``n`` 15m bars drifting around ``price`` with open interest growing ``oi_growth`` per bar (volume in
    proportion to the open interest: 10 x the OI is 10 x the market)."""
    rng = np.random.default_rng(seed)
    rel = np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    c = price * rel / rel[-1]
    o = np.r_[c[0], c[:-1]]
    h, lo = np.maximum(o, c) * 1.002, np.minimum(o, c) * 0.998
    oi = oi_usd * np.exp(oi_growth * (np.arange(n) - n + 1))
    ts = T0 - (n - np.arange(n)) * BAR_MS
    return bars_from_arrays(ts, o, h, lo, c, volume=np.full(n, oi_usd / 1e4), oi_usd=oi, interval_s=900)


def _scripted() -> Radar:
    r = Radar()
    r.set_instruments(["SMALLUSDT", "BIGUSDT", "FLATUSDT"])
    r.on_history("SMALLUSDT", _bars(10.0, 1e7))
    r.on_history("BIGUSDT", _bars(10.0, 1e8))  # the same path with ten times the open interest
    # FLATUSDT: a mark but no history yet (a fresh listing): no model levels, no zone
    r.on_marks(T0, [("SMALLUSDT", 10.0), ("BIGUSDT", 10.0), ("FLATUSDT", 10.0)])
    return r


def test_ranking_puts_the_bigger_pool_at_the_same_distance_first() -> None:
    r = _scripted()
    rows = {x.symbol: x for x in r.rows()}
    small, big, flat = rows["SMALLUSDT"], rows["BIGUSDT"], rows["FLATUSDT"]
    assert big.squeeze_pct == pytest.approx(small.squeeze_pct)
    assert big.flush_pct == pytest.approx(small.flush_pct)
    assert big.squeeze_usd == pytest.approx(10 * small.squeeze_usd, rel=1e-6)
    assert small.squeeze_pct is not None and small.squeeze_pct >= 0 and small.flush_pct is not None
    assert small.flush_pct <= 0
    assert flat.squeeze_pct is None and flat.flush_pct is None and flat.score == 0.0
    table = RadarTable()
    assert [x.symbol for x in table.view(r.rows())] == ["BIGUSDT", "SMALLUSDT", "FLATUSDT"]
    table.sort_by("score")  # the same column again: ascending
    assert [x.symbol for x in table.view(r.rows())] == ["FLATUSDT", "SMALLUSDT", "BIGUSDT"]
    table.sort_by("symbol", descending=False)
    assert [x.symbol for x in table.view(r.rows())] == ["BIGUSDT", "FLATUSDT", "SMALLUSDT"]
    table.set_filter(" big ")
    assert [x.symbol for x in table.view(r.rows())] == ["BIGUSDT"]
    with pytest.raises(ValueError, match="sort column must be one of"):
        table.sort_by("nope")
    doc = row_json(big)
    assert set(doc) >= {
        "symbol",
        "venue",
        "price",
        "squeeze",
        "flush",
        "imbalance",
        "liq_1h_usd",
        "oi_change_1h_pct",
    }
    assert set(doc["squeeze"]) == {"distance_pct", "usd"}  # type: ignore[arg-type]


def test_row_fields_follow_the_market() -> None:
    r = _scripted()
    # liquidations: only the last hour counts
    for ts, usd in ((T0 - 2 * 3_600_000, 5e5), (T0 - 600_000, 2e4), (T0, 3e4)):
        r.on_liquidation(
            Liquidation(
                venue=Venue.BINANCE,
                symbol="BIGUSDT",
                ts=ts,
                recv_ts=ts,
                side=PositionSide.LONG,
                price=10.0,
                qty=usd / 10.0,
                usd=usd,
            )
        )
    # open interest 1 h ago and now (priced at the mark)
    r.on_open_interest("BIGUSDT", 1e7, T0 - 3_600_000)
    r.on_open_interest("BIGUSDT", 1.1e7, T0)
    r.on_marks(T0 + 1000, [("BIGUSDT", 11.0)])
    row = r.row("BIGUSDT")
    assert row.liq_1h_usd == pytest.approx(5e4)
    assert row.price == 11.0
    assert row.chg_1h == pytest.approx(10.0, abs=2.0)  # the scripted path ends at 10 one hour ago, ±noise
    assert row.oi_change_1h_pct is not None and row.oi_change_1h_pct > 0
    assert len(row.spark) > 10 and row.spark[-1] == 11.0
    # a closed candle steps the model; an old or forming one does not
    v = r.model("BIGUSDT").version
    c = Candle(venue=Venue.BINANCE, symbol="BIGUSDT", ts=T0, recv_ts=T0, interval_s=60, open=10.0, high=11.2,
               low=9.9, close=11.0, volume=50.0, closed=True)  # fmt: skip
    r.on_candle(c)
    assert r.model("BIGUSDT").version > v
    v = r.model("BIGUSDT").version
    r.on_candle(c)
    assert r.model("BIGUSDT").version == v
    # the marks crossing levels spend them (batched by tick)
    before = r.model("BIGUSDT").stats()["consumed"]
    r.on_marks(T0 + 6000, [("BIGUSDT", 8.0)])
    r.tick(T0 + 60_000)
    assert r.model("BIGUSDT").stats()["consumed"] > before


def test_listing_and_delisting_change_the_rows() -> None:
    r = _scripted()
    added, removed = r.set_instruments(["BIGUSDT", "FLATUSDT", "NEWUSDT"])
    assert added == ["NEWUSDT"] and removed == ["SMALLUSDT"]
    assert r.stats()["listed"] == 1 and r.stats()["delisted"] == 1
    assert "SMALLUSDT" not in {x.symbol for x in r.rows()}
    assert "NEWUSDT" not in {x.symbol for x in r.rows()}  # no price yet
    r.on_marks(T0 + 1000, [("NEWUSDT", 0.5), ("SMALLUSDT", 3.0)])
    syms = {x.symbol for x in r.rows()}
    assert "NEWUSDT" in syms and "SMALLUSDT" not in syms


def test_light_model_memory_within_budget() -> None:
    tracemalloc.start()
    try:
        r = Radar()
        names = [f"S{i}USDT" for i in range(20)]
        r.set_instruments(names)
        for i, s in enumerate(names):
            r.on_history(s, _bars(1.0 + i, 1e7 * (i + 1), seed=i))
            r.on_marks(T0, [(s, 1.0 + i)])
        rows = r.rows()
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == 20
    per_symbol_mb = used / 20 / 1e6
    assert per_symbol_mb < MEMORY_BUDGET_MB, f"{per_symbol_mb:.2f} MB per symbol"
    assert LIGHT_CONFIG.bucket_pct > 0.1 and LIGHT_CONFIG.range_pct < 60.0
    assert all(math.isfinite(x.score) for x in rows)


def test_zone_searches_within_a_budget_catch_up_over_later_calls() -> None:
    r = _scripted()
    first = r.rows(budget_s=0.0)  # no time to spare: one zone search a call, the stalest first
    assert sum(x.squeeze_pct is not None for x in first) <= 1
    second = r.rows(budget_s=0.0)
    assert sum(x.squeeze_pct is not None for x in second) == 2  # both symbols with a model by now
    assert {x.symbol: x for x in r.rows(budget_s=0.0)} == {x.symbol: x for x in r.rows()}  # none stale left
    # a new bar makes one model stale: the next bounded call searches it again
    r.on_candle(
        Candle(
            venue=Venue.BINANCE,
            symbol="BIGUSDT",
            ts=T0,
            recv_ts=T0,
            interval_s=60,
            open=10.0,
            high=10.4,
            low=9.6,
            close=10.0,
            volume=50.0,
            closed=True,
        )
    )
    before = r._reports
    r.rows(budget_s=0.0)
    assert r._reports == before + 1
