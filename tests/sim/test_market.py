"""The simulated market: reproducibility, history coverage and the properties of its truth."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pytest

from liqtui.core.events import PositionSide
from liqtui.sim.bars import MINUTE_MS
from liqtui.sim.book import LONG, SHORT, PositionBook, Tier
from liqtui.sim.market import DAY_MS, MarketSim, SimConfig

from .conftest import START_MS


def test_same_seed_same_market_and_frames() -> None:
    a = MarketSim(seed=7, start_ms=START_MS, history_days=5)
    b = MarketSim(seed=7, start_ms=START_MS, history_days=5)
    for f in ("ts", "dur", "o", "h", "l", "c", "v", "q", "n", "tbv", "tbq", "oi"):
        np.testing.assert_array_equal(getattr(a.store.bars, f), getattr(b.store.bars, f))
    assert msgspec.json.encode(a.realized) == msgspec.json.encode(b.realized)
    fa = a.advance(START_MS + 3 * MINUTE_MS)
    fb = b.advance(START_MS + 3 * MINUTE_MS)
    assert fa == fb and len(fa) > 300
    # chunking the same span differently gives the same frames
    c = MarketSim(seed=7, start_ms=START_MS, history_days=5)
    fc = []
    for t in range(START_MS + 7_000, START_MS + 3 * MINUTE_MS + 1, 7_000):
        fc.extend(c.advance(t))
    fc.extend(c.advance(START_MS + 3 * MINUTE_MS))
    assert fc == fa


def test_a_seed_gives_the_same_market_whatever_the_start_time() -> None:
    """``--seed N`` reproduces the market on another day and hour: the same content, shifted in time."""
    hour = 3_600_000
    a = MarketSim(seed=6, start_ms=START_MS + 7 * hour + 5 * MINUTE_MS + 17_000, history_days=10)
    b = MarketSim(seed=6, start_ms=START_MS + 9 * DAY_MS + 2 * hour + 30 * MINUTE_MS, history_days=10)
    ba, bb = a.store.bars, b.store.bars
    assert int(ba.ts[-1] + ba.dur[-1]) == a.start_ms and int(bb.ts[-1] + bb.dur[-1]) == b.start_ms
    k = min(len(ba), len(bb))  # b filled 150 minutes after the last 4h boundary, a 185: b is a's prefix
    np.testing.assert_array_equal(ba.c[:k], bb.c[:k])
    np.testing.assert_array_equal(ba.ts[:k] - ba.ts[0], bb.ts[:k] - bb.ts[0])
    assert len(ba) == len(bb) + 35


def test_different_seeds_differ() -> None:
    a = MarketSim(seed=1, start_ms=START_MS, history_days=3)
    b = MarketSim(seed=2, start_ms=START_MS, history_days=3)
    assert not np.array_equal(a.store.bars.c, b.store.bars.c)


def test_history_covers_six_months_at_mixed_resolution(market: MarketSim) -> None:
    b = market.store.bars
    assert market.history_start_ms <= START_MS - 183 * DAY_MS
    assert int(b.ts[-1] + b.dur[-1]) == market.start_ms == START_MS
    np.testing.assert_array_equal(b.ts[1:], b.ts[:-1] + b.dur[:-1])  # contiguous, no gaps
    assert set(np.unique(b.dur).tolist()) == {60_000, 900_000, 3_600_000, 14_400_000}
    assert np.all(b.ts % b.dur == 0)  # every bar aligned to its own duration
    recent = b.ts >= START_MS - 12 * 3_600_000
    assert np.all(b.dur[recent] == 60_000)  # the 12h lookback has 1-minute bars
    # every lookback window has price movement and open-interest changes (structure)
    for days in (0.5, 1, 3, 7, 14, 30, 90, 180):
        w = b.ts >= START_MS - int(days * DAY_MS)
        assert np.ptp(b.c[w]) / b.c[w].mean() > 0.005, days
        assert np.ptp(b.oi[w]) / b.oi[w].mean() > 0.01, days
    assert np.all((b.l <= np.minimum(b.o, b.c)) & (b.h >= np.maximum(b.o, b.c)))
    assert 30_000 < b.c.min() and b.c.max() < 250_000  # BTC-like


def test_price_has_volatility_clustering(market: MarketSim) -> None:
    b = market.store.bars
    r = np.abs(np.diff(np.log(b.c[b.dur == 3_600_000])))
    ac = np.corrcoef(r[:-1], r[1:])[0, 1]
    assert ac > 0.1, f"|returns| autocorrelation {ac:.3f}: no volatility clustering"


def test_true_levels_straddle_the_price(market: MarketSim) -> None:
    longs, shorts = market.true_levels("long"), market.true_levels(PositionSide.SHORT)
    assert longs.total_usd > 1e8 and shorts.total_usd > 1e8
    assert longs.price.max() < market.price < shorts.price.min()
    assert np.all(np.diff(longs.price) >= 0)
    edges = np.linspace(longs.price.min(), shorts.price.max() * 1.001, 101)
    assert longs.histogram(edges).sum() == pytest.approx(longs.total_usd, rel=1e-3)


def test_realized_liquidations_are_where_price_went(market: MarketSim) -> None:
    b = market.store.bars
    realized = market.realized
    assert len(realized) > 1000
    ts = np.array([x.ts for x in realized])
    price = np.array([x.price for x in realized])
    side = np.array([int(x.side) for x in realized])
    i = np.searchsorted(b.ts, ts, side="right") - 1
    eps = 1e-9
    assert np.all(price[side == LONG] >= b.l[i][side == LONG] * (1 - eps))  # longs die on the way down
    assert np.all(price[side == SHORT] <= b.h[i][side == SHORT] * (1 + eps))
    assert np.all(np.array([x.usd for x in realized]) >= 1_000)


def test_cascades_push_price_beyond_the_volatility_draw(market: MarketSim) -> None:
    per_bar = {}
    for x in market.realized:
        per_bar[x.ts] = per_bar.get(x.ts, 0.0) + x.usd
    biggest = max(per_bar.values())
    assert biggest > 5e7, "no liquidation cascade in six months"


def test_live_frames_follow_binance_rules(market: MarketSim) -> None:
    m = MarketSim(seed=3, start_ms=START_MS, history_days=1)
    n0 = len(m.store)
    frames = m.advance(START_MS + 12 * MINUTE_MS)
    streams = {f.stream for f in frames}
    assert streams >= {"btcusdt@aggTrade", "btcusdt@markPrice@1s", "btcusdt@kline_1m"}
    assert [f.E for f in frames] == sorted(f.E for f in frames)
    fo = [f for f in frames if f.stream == "btcusdt@forceOrder"]
    seconds = [f.E // 1000 for f in fo]
    assert len(seconds) == len(set(seconds)), "more than one forceOrder in a second"
    agg_ids = []
    for f in frames:
        d = json.loads(f.payload)
        if d["e"] == "aggTrade":
            assert round(float(d["p"]) * 10) == pytest.approx(float(d["p"]) * 10, abs=1e-6)  # 0.1 tick
            agg_ids.append(d["a"])
        if d["e"] == "kline" and d["k"]["x"]:
            assert d["k"]["t"] % MINUTE_MS == 0
    assert agg_ids == sorted(agg_ids) and len(set(agg_ids)) == len(agg_ids)
    closed = [json.loads(f.payload)["k"] for f in frames if f.stream.endswith("kline_1m")]
    assert sum(k["x"] for k in closed) == 12
    assert len(m.store) == n0 + 12


def test_fast_forward_keeps_the_market_consistent() -> None:
    m = MarketSim(seed=4, start_ms=START_MS, history_days=1)
    n0, oi0 = len(m.store), m.open_interest()
    m.advance(START_MS + 30_000)
    m.fast_forward(START_MS + 6 * 3_600_000 + 5_000)
    assert m.now_ms == START_MS + 6 * 3_600_000 + 5_000
    b = m.store.bars
    np.testing.assert_array_equal(b.ts[1:], b.ts[:-1] + b.dur[:-1])
    assert len(m.store) == n0 + 360
    assert m.open_interest() != oi0
    assert len(m.advance(m.now_ms + 3_000)) > 3  # live again afterwards


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="seed"):
        MarketSim(seed=-1)
    with pytest.raises(ValueError, match="history_days"):
        MarketSim(history_days=1000)
    with pytest.raises(ValueError, match="symbol"):
        SimConfig(symbol="btc-usdt")
    with pytest.raises(ValueError, match="resolution"):
        SimConfig(resolution=((1.0, 60), (7.0, 700)))
    with pytest.raises(ValueError, match="position_usd|allowed"):
        MarketSim(
            config=SimConfig(tiers=(Tier(leverage=100, weight=1, lifetime_h=1, position_usd=5e6),)),
            history_days=0,
        )
    with pytest.raises(ValueError):
        PositionBook(())
    book = PositionBook((Tier(10, 1, 10, 1e5),))
    with pytest.raises(ValueError, match="side"):
        book.liquidate(0, 100.0, 0)
    with pytest.raises(ValueError, match="positive"):
        book.open(LONG, 0, 100.0, -1.0, 1.0, 0)


def test_book_liquidates_exactly_the_reached_levels() -> None:
    book = PositionBook((Tier(10, 1.0, 1e6, 1e5),), min_usd=0.0)
    book.advance(0)
    for liq in (90.0, 91.0, 95.0):
        book.open(LONG, 0, 100.0, liq, 1.0, 0)
    for liq in (105.0, 110.0):
        book.open(SHORT, 0, 100.0, liq, 1.0, 0)
    assert book.liquidate(LONG, 95.5, 1) == []
    hit = book.liquidate(LONG, 91.0, 1)
    assert sorted(h.price for h in hit) == [91.0, 95.0]
    assert [h.price for h in book.liquidate(SHORT, 107.0, 1)] == [105.0]
    prices, usd = book.levels(LONG, 1)
    assert prices.tolist() == [90.0] and usd[0] == pytest.approx(90.0, rel=1e-5)
    assert book.open_qty(LONG) == pytest.approx(1.0, rel=1e-5)
