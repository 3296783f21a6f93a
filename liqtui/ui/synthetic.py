"""A deterministic, seeded stream of real core events: the UI's test, snapshot and benchmark input.

A random walk of closed 1m candles with rising/falling open interest, marks, trades, funding, realized
liquidations and feed status events, fed into the real Engine/HeatModel. Same seed → same screen.
Pure (no textual): :func:`live_events` continues the same market at a steady live rate for the benchmarks, and
:class:`SyntheticBook` gives a venue's order book (the demo's seeded depth simulator) as book events: a snapshot,
then a diff every 100 ms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from liqtui.core.book_events import BookEvent, BookState, BookStatus, BookUpdate
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
    TakerSide,
    Trade,
    Venue,
)
from liqtui.core.model import HeatModel, ModelConfig

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000


def events(
    n_bars: int = 1440, *, seed: int = 7, price: float = 70_000.0, t0: int = T0
) -> Iterator[MarketEvent]:
    """``n_bars`` minutes of market events for BTCUSDT on Binance (plus a Bybit status), oldest first."""
    rng = np.random.default_rng(seed)
    sym = "BTCUSDT"
    b = Venue.BINANCE
    yield FeedStatus(venue=b, symbol=sym, ts=t0, recv_ts=t0, state=FeedState.LIVE)
    yield FeedStatus(
        venue=Venue.BYBIT, symbol=sym, ts=t0, recv_ts=t0, state=FeedState.RECONNECTING, attempt=2
    )
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
        yield Trade(
            venue=b,
            symbol=sym,
            ts=ts + 59_500,
            recv_ts=ts + 59_530,
            price=c,
            qty=0.01,
            side=TakerSide.BUY if ret > 0 else TakerSide.SELL,
        )
        yield MarkPrice(
            venue=b,
            symbol=sym,
            ts=ts + 59_900,
            recv_ts=ts + 59_930,
            mark=c,
            index=c,
            funding_rate=0.0001 + 0.00001 * np.sin(i / 90.0),
        )
        buy = vol * (0.5 + ret * 50)
        yield Candle(
            venue=b,
            symbol=sym,
            ts=ts,
            recv_ts=ts + MINUTE + 25,
            interval_s=60,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=vol,
            quote_volume=vol * (o + c) / 2,
            taker_buy_volume=buy,
            taker_buy_quote=buy * c,
            closed=True,
        )
        if rng.random() < 0.08:
            side = PositionSide.LONG if ret < 0 else PositionSide.SHORT
            qty = float(rng.gamma(1.2, 3.0))
            yield Liquidation(
                venue=b,
                symbol=sym,
                ts=ts + 30_000,
                recv_ts=ts + 30_050,
                side=side,
                price=lo if side == PositionSide.LONG else h,
                qty=qty,
                usd=qty * c,
            )
        if i % 480 == 0:
            yield FundingRate(venue=b, symbol=sym, ts=ts, recv_ts=ts + 20, rate=0.0001)
        p = c


# The estimator choices spelled out, so a change of the core's *defaults* does not change UI snapshots
# (a change of the algorithm still does, and then the snapshots are regenerated on purpose).
MODEL_CONFIG = ModelConfig(
    bucket_pct=0.1, range_pct=60.0, split="taker", entry="vwap", tiers="custom",
    custom_tiers={"5": 0.15, "10": 0.30, "25": 0.25, "50": 0.20, "100": 0.10}, formula="binance",
    kernel=(0.25, 0.5, 0.25), closing="prorata", decay=True,
    half_life_h={"3": 1440.0, "5": 720.0, "10": 240.0, "25": 96.0, "50": 36.0, "100": 12.0},
    history_slice_s=180, position_usd=10_000.0, open_share=0.0,
)  # fmt: skip


def make_engine(n_bars: int = 1440, *, seed: int = 7) -> Engine:
    """A real Engine/HeatModel (with :data:`MODEL_CONFIG`) fed with :func:`events`."""
    eng = Engine(HeatModel(MODEL_CONFIG), symbol="BTC", reference=Venue.BINANCE)
    for ev in events(n_bars, seed=seed):
        eng.apply(ev)
        if isinstance(ev, Candle):  # the UI ticks the engine (live consumption) as the stream goes on
            eng.tick(ev.recv_ts)
    eng.tick(T0 + n_bars * MINUTE)
    return eng


def long_history_engine(*, seed: int = 3, days: float = 183.0, start_ms: int | None = None) -> Engine:
    """A real Engine whose model, with the *current* ModelConfig defaults (no decay: levels stand until consumed
    or closed), has stepped ``days`` of the demo simulator's history the way the backfill does (``step_many``
    via ``Engine.load_history``, which also keeps the candles). For the long-lookback (6M) snapshot: bands
    older than a week stand. ``start_ms`` (default the scorecard's fixed start) is where the history ends."""
    from liqtui.sim.market import MarketSim
    from liqtui.sim.scorecard import DEFAULT_START_MS, model_bars

    market = MarketSim(seed, start_ms=DEFAULT_START_MS if start_ms is None else start_ms, history_days=days)
    eng = Engine(HeatModel(ModelConfig()), symbol="BTC", reference=Venue.BINANCE)
    eng.load_history(model_bars(market))
    return eng


def live_events(
    start_ts: int, price: float, ms: int, *, seed: int = 11, trades_per_s: float = 20.0
) -> Iterator[MarketEvent]:
    """``ms`` milliseconds of steady live traffic after ``start_ts``: trades, a mark every second, OI every
    3 s, a closed 1m candle at each minute boundary and an occasional liquidation."""
    rng = np.random.default_rng(seed + start_ts // 1000)
    b, sym = Venue.BINANCE, "BTCUSDT"
    n = max(1, int(ms / 1000 * trades_per_s))
    ts = np.sort(start_ts + rng.integers(0, ms, n))
    walk = price * np.exp(np.cumsum(rng.normal(0.0, 0.00004, n)))
    for t, p in zip(ts.tolist(), walk.tolist()):
        yield Trade(
            venue=b,
            symbol=sym,
            ts=t,
            recv_ts=t + 30,
            price=p,
            qty=float(rng.gamma(1.0, 0.05)),
            side=TakerSide.BUY if rng.random() < 0.5 else TakerSide.SELL,
        )
    end = start_ts + ms
    last = float(walk[-1])
    for sec in range(start_ts // 1000 + 1, end // 1000 + 1):
        t = sec * 1000
        yield MarkPrice(venue=b, symbol=sym, ts=t, recv_ts=t + 30, mark=last, index=last, funding_rate=0.0001)
        if sec % 3 == 0:
            yield OpenInterest(venue=b, symbol=sym, ts=t, recv_ts=t + 40, base=1.2e5, usd=1.2e5 * last)
        if sec % 60 == 0:
            o = last * (1 + rng.normal(0, 0.0005))
            yield Candle(
                venue=b,
                symbol=sym,
                ts=t - MINUTE,
                recv_ts=t + 25,
                interval_s=60,
                open=o,
                high=max(o, last) * 1.0004,
                low=min(o, last) * 0.9996,
                close=last,
                volume=50.0,
                quote_volume=50.0 * last,
                taker_buy_volume=25.0,
                taker_buy_quote=25.0 * last,
            )
        if rng.random() < 0.05:
            yield Liquidation(
                venue=b,
                symbol=sym,
                ts=t,
                recv_ts=t + 50,
                side=PositionSide.LONG,
                price=last,
                qty=0.5,
                usd=0.5 * last,
            )


def end_ts(n_bars: int = 1440) -> int:
    """The clock to freeze the app at after :func:`make_engine` (the end of the stream)."""
    return T0 + n_bars * MINUTE


class SyntheticBook:
    """A seeded order book of one venue as :class:`~liqtui.core.book_events.BookUpdate` events: the demo
    exchange's :class:`~liqtui.sim.depth.DepthSim` (a ladder out to ±6 % with a few walls), already in sync.
    Same seed and prices → the same events."""

    def __init__(self, price: float, *, seed: int = 5, venue: Venue = Venue.BINANCE, symbol: str = "BTCUSDT"):
        from liqtui.sim.depth import DepthSim

        self.venue, self.symbol = venue, symbol
        self.sim = DepthSim(symbol, price, seed=seed)
        self.updates = 0

    def start(self, ts: int, price: float) -> list[BookEvent]:
        """The book going live at ``ts``: its whole snapshot (diffs follow from there), then a ``live`` status."""
        self.sim.frames(ts, price)  # the simulator's clock starts here (that diff is in the snapshot)
        snap = self.sim.snapshot()
        self.updates += 1

        def levels(rows: object) -> tuple[tuple[float, float], ...]:
            return tuple((float(p), float(q)) for p, q in rows)  # type: ignore[attr-defined]  # [[p, q], ...]

        return [
            BookUpdate(
                venue=self.venue, symbol=self.symbol, ts=ts, recv_ts=ts, is_snapshot=True,
                bids=levels(snap["bids"]), asks=levels(snap["asks"]),
            ),
            BookStatus(venue=self.venue, symbol=self.symbol, ts=ts, recv_ts=ts, state=BookState.LIVE,
                       updates=self.updates),
        ]  # fmt: skip

    def diffs(self, start_ts: int, price: float, ms: int) -> Iterator[BookUpdate]:
        """The diffs due in ``(start_ts, start_ts + ms]`` (one every 100 ms) with the book moved to ``price``."""
        for f in self.sim.frames(start_ts + ms, price):
            if f.E <= start_ts:
                continue
            d = json.loads(f.payload)
            self.updates += 1
            yield BookUpdate(
                venue=self.venue, symbol=self.symbol, ts=f.E, recv_ts=f.E + 20,
                bids=tuple((float(p), float(q)) for p, q in d["b"]),
                asks=tuple((float(p), float(q)) for p, q in d["a"]),
            )  # fmt: skip


def engine_with_book(n_bars: int = 1440, *, seed: int = 7, book_seed: int = 3, minutes: int = 30) -> Engine:
    """:func:`make_engine` with a live Binance book (:class:`SyntheticBook`) recorded over its last ``minutes``:
    the book layer's test and snapshot input."""
    eng = make_engine(n_bars, seed=seed)
    end = end_ts(n_bars)
    price = float(eng.price or 70_000.0)
    book = SyntheticBook(price, seed=book_seed)
    t = end - minutes * MINUTE
    for ev in book.start(t, price):
        eng.apply(ev)
    while t < end:
        for ev in book.diffs(t, price, 10_000):
            eng.apply(ev)
        t += 10_000
        eng.tick(t)
    return eng
