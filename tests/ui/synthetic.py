"""A deterministic, seeded stream of real core events for UI tests, snapshots and benchmarks.

A random walk of closed 1m candles with rising/falling open interest, marks, trades, funding, realized
liquidations and feed status events, fed into the real Engine/HeatModel. Same seed → same screen.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from liqtui.core.engine import Engine
from liqtui.core.events import (
    Candle,
    FeedState,
    FeedStatus,
    FundingRate,
    Liquidation,
    MarketEvent,
    MarkPrice,
    OpenInterest,
    PositionSide,
    Trade,
    TakerSide,
    Venue,
)
from liqtui.core.model import HeatModel

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000


def events(n_bars: int = 1440, *, seed: int = 7, price: float = 70_000.0, t0: int = T0) -> Iterator[MarketEvent]:
    """``n_bars`` minutes of market events for BTCUSDT on Binance (plus a Bybit status), oldest first."""
    rng = np.random.default_rng(seed)
    sym = "BTCUSDT"
    b = Venue.BINANCE
    yield FeedStatus(venue=b, symbol=sym, ts=t0, recv_ts=t0, state=FeedState.LIVE)
    yield FeedStatus(venue=Venue.BYBIT, symbol=sym, ts=t0, recv_ts=t0, state=FeedState.RECONNECTING, attempt=2)
    oi = 8.0e9
    p = price
    for i in range(n_bars):
        ts = t0 + i * MINUTE
        ret = rng.normal(0.0, 0.0012) + 0.0004 * np.sin(i / 180.0)
        o, c = p, p * (1 + ret)
        h = max(o, c) * (1 + abs(rng.normal(0, 0.0006)))
        lo = min(o, c) * (1 - abs(rng.normal(0, 0.0006)))
        vol = float(rng.gamma(2.0, 60.0))
        oi *= 1 + rng.normal(0.0004, 0.0015)
        yield OpenInterest(venue=b, symbol=sym, ts=ts + 59_000, recv_ts=ts + 59_040, base=oi / c, usd=oi)
        yield Trade(venue=b, symbol=sym, ts=ts + 59_500, recv_ts=ts + 59_530, price=c, qty=0.01,
                    side=TakerSide.BUY if ret > 0 else TakerSide.SELL)
        yield MarkPrice(venue=b, symbol=sym, ts=ts + 59_900, recv_ts=ts + 59_930, mark=c, index=c,
                        funding_rate=0.0001 + 0.00001 * np.sin(i / 90.0))
        yield Candle(venue=b, symbol=sym, ts=ts, recv_ts=ts + MINUTE + 25, interval_s=60, open=o, high=h, low=lo,
                     close=c, volume=vol, quote_volume=vol * (o + c) / 2, taker_buy_volume=vol * (0.5 + ret * 50),
                     taker_buy_quote=vol * (0.5 + ret * 50) * c, closed=True)
        if rng.random() < 0.08:
            side = PositionSide.LONG if ret < 0 else PositionSide.SHORT
            qty = float(rng.gamma(1.2, 3.0))
            yield Liquidation(venue=b, symbol=sym, ts=ts + 30_000, recv_ts=ts + 30_050, side=side,
                              price=lo if side == PositionSide.LONG else h, qty=qty, usd=qty * c)
        if i % 480 == 0:
            yield FundingRate(venue=b, symbol=sym, ts=ts, recv_ts=ts + 20, rate=0.0001)
        p = c


def make_engine(n_bars: int = 1440, *, seed: int = 7) -> Engine:
    """A real Engine/HeatModel fed with :func:`events`."""
    eng = Engine(HeatModel(), symbol="BTC", reference=Venue.BINANCE)
    for ev in events(n_bars, seed=seed):
        eng.apply(ev)
        if isinstance(ev, Candle):  # the UI ticks the engine (live consumption) as the stream goes on
            eng.tick(ev.recv_ts)
    eng.tick(T0 + n_bars * MINUTE)
    return eng


def end_ts(n_bars: int = 1440) -> int:
    """The clock to freeze the app at after :func:`make_engine` (the end of the stream)."""
    return T0 + n_bars * MINUTE
