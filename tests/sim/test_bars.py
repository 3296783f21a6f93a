"""Resampling the compressed history to any kline interval: exact, aligned and deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from liqtui.sim.bars import INTERVALS_MS, Bars, BarStore, split_bar
from liqtui.sim.market import MarketSim

from .conftest import START_MS


def _one(ts: int, dur: int, o: float, h: float, lo: float, c: float, v: float = 10.0) -> Bars:
    return Bars(
        ts=np.array([ts]),
        dur=np.array([dur]),
        o=np.array([o]),
        h=np.array([h]),
        l=np.array([lo]),
        c=np.array([c]),
        v=np.array([v]),
        q=np.array([v * o]),
        n=np.array([101]),
        tbv=np.array([v * 0.4]),
        tbq=np.array([v * o * 0.4]),
        oi=np.array([5.0]),
    )


def test_split_bar_aggregates_back_exactly() -> None:
    bar = _one(0, 3_600_000, 100.0, 104.0, 97.0, 101.0)
    sub = split_bar(bar, 60, np.random.default_rng(1))
    assert len(sub) == 60 and np.all(sub.dur == 60_000)
    np.testing.assert_array_equal(sub.ts, np.arange(60) * 60_000)
    assert sub.o[0] == 100.0 and sub.c[-1] == 101.0
    assert sub.h.max() == 104.0 and sub.l.min() == 97.0
    np.testing.assert_array_equal(sub.o[1:], sub.c[:-1])
    assert np.all(sub.l <= np.minimum(sub.o, sub.c)) and np.all(sub.h >= np.maximum(sub.o, sub.c))
    assert sub.v.sum() == pytest.approx(10.0) and sub.q.sum() == pytest.approx(1000.0)
    assert sub.n.sum() == 101 and sub.tbv.sum() == pytest.approx(4.0)


def test_resample_coarser_and_finer_agree_with_stored(market: MarketSim) -> None:
    b = market.store.bars
    # 1d bars over the 4h region = aggregate of six stored bars each
    day = 86_400_000
    t0 = int(b.ts[0] // day + 2) * day
    d = market.store.resample(day, t0, t0 + 3 * day)
    w = (b.ts >= t0) & (b.ts < t0 + day)
    assert d.o[0] == b.o[w][0] and d.c[0] == b.c[w][-1]
    assert d.h[0] == b.h[w].max() and d.l[0] == b.l[w].min() and d.v[0] == pytest.approx(b.v[w].sum())
    # 1m bars inside one stored 1h bar reproduce it exactly
    i = int(np.flatnonzero(b.dur == 3_600_000)[10])
    m1 = market.store.resample(60_000, int(b.ts[i]), int(b.ts[i] + b.dur[i]))
    assert len(m1) == 60
    assert m1.o[0] == b.o[i] and m1.c[-1] == b.c[i] and m1.h.max() == b.h[i] and m1.l.min() == b.l[i]
    # 3m bars across 15m bars (gcd split) cover each one with five bars
    j = int(np.flatnonzero(b.dur == 900_000)[3])
    m3 = market.store.resample(180_000, int(b.ts[j]), int(b.ts[j] + b.dur[j]))
    assert len(m3) == 5 and m3.h.max() == b.h[j]


def test_sub_bars_do_not_depend_on_the_request_window(market: MarketSim) -> None:
    b = market.store.bars
    i = int(np.flatnonzero(b.dur == 3_600_000)[20])
    t = int(b.ts[i])
    whole = market.store.resample(60_000, t - 3_600_000, t + 7_200_000)
    part = market.store.resample(60_000, t + 600_000, t + 1_200_000)
    k = np.searchsorted(whole.ts, part.ts)
    np.testing.assert_array_equal(whole.c[k], part.c)
    np.testing.assert_array_equal(whole.v[k], part.v)


@pytest.mark.parametrize("interval", sorted(INTERVALS_MS, key=INTERVALS_MS.get))
def test_every_interval_is_aligned_and_contiguous(market: MarketSim, interval: str) -> None:
    step = INTERVALS_MS[interval]
    k = market.klines(interval, limit=1500)
    assert 1 <= len(k) <= 1500
    assert np.all(k.ts % step == 0) and np.all(np.diff(k.ts) == step)
    assert k.ts[-1] == START_MS - START_MS % step  # the forming bar is last
    assert np.all(k.l <= k.h) and np.all(k.v >= 0) and np.all(k.tbv <= k.v + 1e-9)


def test_store_refuses_bad_appends() -> None:
    s = BarStore(seed=0)
    s.append(ts=0, dur=60_000, o=1.0, h=1.0, l=1.0, c=1.0, v=0.0, q=0.0, n=0, tbv=0.0, tbq=0.0, oi=1.0)
    with pytest.raises(ValueError, match="time order"):
        s.append(ts=0, dur=60_000, o=1.0, h=1.0, l=1.0, c=1.0, v=0.0, q=0.0, n=0, tbv=0.0, tbq=0.0, oi=1.0)
    with pytest.raises(ValueError, match="columns"):
        s.extend(ts=np.array([60_000]))
