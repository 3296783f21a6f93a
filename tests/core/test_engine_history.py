"""Engine.load_history: backfilled bars step the model AND become the klines overlay's candles — six months,
time-ordered, bounded (1h aggregates far back, the bars' own resolution over the last day)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from liqtui.core.engine import CANDLE_FINE_MS, Engine
from liqtui.core.events import Candle, Venue
from liqtui.core.model import LOOKBACK_MS, HeatModel

from .conftest import T0, make_bars

H, M, DAY = 3_600_000, 60_000, 86_400_000
T_H = T0 - T0 % H  # hour-aligned start: every hour aggregate is a full hour


def _mixed_history(days_coarse: int = 185, days_fine: int = 3) -> np.ndarray:
    """1h bars far back, then 1m bars (what a REST backfill delivers), contiguous in time."""
    coarse = make_bars(days_coarse * 24, seed=4, interval_s=3600, vol=0.006, oi_vol=0.004, t0=T_H)
    t1 = int(coarse["ts"][-1]) + H
    fine = make_bars(days_fine * 1440, seed=5, p0=float(coarse["close"][-1]), t0=t1)
    return np.concatenate([coarse, fine])


def _ordered(e: Engine) -> list[Candle]:
    out = list(e.candles)
    assert all(a.ts < b.ts for a, b in itertools.pairwise(out))
    assert all(a.ts + a.interval_s * 1000 <= b.ts for a, b in itertools.pairwise(out))  # no overlaps
    return out


def test_history_steps_the_model_and_covers_six_months_bounded() -> None:
    bars = _mixed_history()
    e, ref = Engine(HeatModel()), HeatModel()
    v0 = e.version
    end = int(bars["ts"][-1])
    n = sum(e.load_history(bars[i : i + 997], until_ts=end) for i in range(0, len(bars), 997))
    ref.step_many(bars)
    assert n == len(bars) and e.version > v0 and e.price == pytest.approx(bars["close"][-1])
    for lb in ("1d", "6M"):
        assert np.allclose(np.stack(e.model.profile(lb)), np.stack(ref.profile(lb)), rtol=1e-9, atol=1e-3)
    cs = _ordered(e)
    assert len(cs) <= 6500
    assert cs[-1].ts == end and cs[0].ts <= end - LOOKBACK_MS["6M"]  # the 6M overlay is covered
    assert cs[0].ts >= end - LOOKBACK_MS["6M"] - 3 * DAY  # ... and not much more is kept
    fine = [c for c in cs if c.interval_s == 60]
    assert fine and end - CANDLE_FINE_MS - H < fine[0].ts <= end - CANDLE_FINE_MS and fine[0].ts % H == 0
    assert len(fine) == (end - fine[0].ts) // M + 1  # every minute of the last day, at 1m
    assert all(c.interval_s == 3600 for c in cs if c.ts < fine[0].ts)
    assert {c.venue for c in cs} == {Venue.BINANCE} and cs[0].symbol == "BTC"


def test_hour_aggregates_are_exact_across_chunk_boundaries() -> None:
    bars = make_bars(5 * 1440, seed=6, t0=T_H)  # 5 days of 1m bars; the first 4 days become hours
    e = Engine(HeatModel())
    for i in range(0, len(bars), 137):  # chunks that split hours
        e.load_history(bars[i : i + 137], until_ts=int(bars["ts"][-1]))
    cs = _ordered(e)
    hours = [c for c in cs if c.interval_s == 3600]
    assert len(hours) >= 4 * 24 - 1
    for c in hours[:30]:
        sel = bars[(bars["ts"] >= c.ts) & (bars["ts"] < c.ts + H)]
        assert len(sel) == 60
        assert (c.open, c.close) == (sel["open"][0], sel["close"][-1])
        assert (c.high, c.low) == (sel["high"].max(), sel["low"].min())
        assert c.volume == pytest.approx(sel["volume"].sum())
    assert sum(c.interval_s for c in cs) * 1000 == len(bars) * M  # every minute exactly once


def test_live_candles_append_and_old_minutes_fold_into_hours() -> None:
    bars = make_bars(2 * 1440, seed=7, t0=T_H)
    e = Engine(HeatModel(), max_candles=3000)
    e.load_history(bars)
    before = len(e.candles)
    t = int(bars["ts"][-1])
    p = float(bars["close"][-1])
    for i in range(1, 1441 + 120):  # a day and two hours of live minutes
        ts = t + i * M
        e.apply(Candle(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, interval_s=60, open=p, high=p,
                       low=p, close=p, volume=1.0))  # fmt: skip
    cs = _ordered(e)
    assert cs[-1].ts == t + (1440 + 120) * M and e.model.last_ts == cs[-1].ts
    assert len(cs) < before + 1440  # the minutes that left the last day were folded into hours
    assert all(c.interval_s == 3600 for c in cs if c.ts < cs[-1].ts - CANDLE_FINE_MS - H)
    assert sum(c.interval_s for c in cs) * 1000 == (len(bars) + 1440 + 120) * M


def test_overlap_is_skipped_and_bad_input_refused() -> None:
    bars = make_bars(300, seed=8)
    e = Engine(HeatModel())
    assert e.load_history(bars[:200]) == 200
    assert e.load_history(bars[:250]) == 50  # the overlap with what is applied is skipped
    assert e.load_history(bars[:250]) == 0 and len(e.candles) == 250
    with pytest.raises(ValueError, match="BAR_DTYPE"):
        e.load_history(np.zeros((3, 4)))
    bad = bars[250:].copy()
    bad["high"][5] = bad["low"][5] * 0.5
    n, v = len(e.candles), e.version
    with pytest.raises(ValueError, match="high/low"):
        e.load_history(bad)
    assert len(e.candles) == n and e.version == v  # nothing recorded for a refused batch
    assert e.load_history(bars[:0]) == 0


def test_reference_venue_tags_the_candles() -> None:
    e = Engine(HeatModel(), reference="bybit", symbol="ETH")
    e.load_history(make_bars(10, seed=9, t0=T0))
    assert {(c.venue, c.symbol) for c in e.candles} == {(Venue.BYBIT, "ETH")}


def test_oi_history_keeps_backfill_and_live_apart_and_bounded():
    """Live OI arrives first (the feed starts at once), the backfill's past later: both end up in order."""
    import numpy as np

    from liqtui.core.engine import Engine
    from liqtui.core.events import OpenInterest, Venue
    from liqtui.core.model import BAR_DTYPE, HeatModel

    eng = Engine(HeatModel(), symbol="BTC", reference=Venue.BINANCE)
    t_live = 1_790_000_000_000
    eng.apply(
        OpenInterest(venue=Venue.BINANCE, symbol="BTCUSDT", ts=t_live, recv_ts=t_live, base=1.0, usd=5e9)
    )
    v0 = eng.oi_history_version
    n = 3 * 24 * 60  # three days of minute bars ending just before the live figure
    bars = np.zeros(n, dtype=BAR_DTYPE)
    bars["ts"] = t_live - 60_000 * (n - np.arange(n))
    bars["open"] = bars["high"] = bars["low"] = bars["close"] = bars["vwap"] = 80_000.0
    bars["volume"], bars["taker_buy_share"], bars["interval_s"] = 1.0, 0.5, 60
    bars["oi_usd"] = np.linspace(4e9, 4.9e9, n)
    bars["oi_usd"][10] = np.nan  # a bar without OI is skipped, not plotted as 0
    eng.load_history(bars, until_ts=int(bars["ts"][-1]))
    hist = eng.oi_history
    ts = [t for t, _ in hist]
    assert ts == sorted(ts) and hist[-1] == (t_live, 5e9) and eng.oi_history_version > v0
    assert all(np.isfinite(v) and v > 0 for _, v in hist)
    day = [t for t in ts if t >= t_live - 86_400_000]
    old = [t for t in ts if t < t_live - 86_400_000]
    assert len(day) >= 24 * 60 - 2  # the last day at one point a minute
    assert len(old) <= 2 * 24 + 2  # older history at one point an hour
