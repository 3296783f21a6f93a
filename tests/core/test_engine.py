"""Engine: reference venue, OI across venues, candle stepping, live consumption, tape, status, version."""

from __future__ import annotations

import pytest

from liqtui.core.engine import Engine
from liqtui.core.events import (
    Candle,
    FeedState,
    FeedStatus,
    FundingRate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
    Venue,
)
from liqtui.core.model import HeatModel, ModelConfig

T = 1_700_000_000_000
B, Y = Venue.BINANCE, Venue.BYBIT


def trade(p: float, venue: Venue = B, ts: int = T) -> Trade:
    return Trade(venue=venue, symbol="BTCUSDT", ts=ts, recv_ts=ts, price=p, qty=0.1, side=TakerSide.BUY)


def candle(
    i: int,
    p: float = 100.0,
    venue: Venue = B,
    closed: bool = True,
    lo: float | None = None,
    hi: float | None = None,
    interval_s: int = 60,
) -> Candle:
    return Candle(
        venue=venue,
        symbol="BTCUSDT",
        ts=T + i * interval_s * 1000,
        recv_ts=0,
        interval_s=interval_s,
        open=p,
        high=hi or p,
        low=lo or p,
        close=p,
        volume=10.0,
        quote_volume=10 * p,
        taker_buy_volume=5.0,
        closed=closed,
    )


def oi(usd: float, venue: Venue = B, ts: int = T) -> OpenInterest:
    return OpenInterest(venue=venue, symbol="BTCUSDT", ts=ts, recv_ts=ts, base=usd / 100, usd=usd)


def engine() -> Engine:
    return Engine(HeatModel(ModelConfig(decay=False)))


def test_first_venue_is_the_reference_and_anchors_price():
    e = engine()
    e.apply(trade(100.0, B))
    e.apply(trade(999.0, Y))
    assert e.reference is B and e.price == 100.0
    assert e.counters["trades"] == 2


def net_oi_engine() -> Engine:
    """Seeding on the net OI change only (no turnover): these tests count the OI the venues sum to."""
    return Engine(HeatModel(ModelConfig(decay=False, open_share=0.0)))


def test_closed_reference_candles_step_the_model_with_summed_oi():
    e = net_oi_engine()
    e.apply(oi(1e6, B))
    e.apply(oi(1e6, Y))
    assert e.oi_usd_total == 2e6
    e.apply(candle(0))
    e.apply(oi(1.5e6, B, T + 60_000))
    e.apply(candle(1))
    # both venues' OI: 2e6 -> 2.5e6, i.e. 0.5e6 of new contracts on each side
    assert e.model.stats()["seeded"] == pytest.approx(1e6)
    e.apply(candle(2, venue=Y))  # another venue's candle: no step
    e.apply(candle(3, closed=False))  # a forming candle: no step
    e.apply(candle(1))  # a duplicate: ignored
    assert e.counters["candles"] == 2 and e.counters["candles_other"] == 1
    assert e.counters["candles_open"] == 1 and e.counters["candles_stale"] == 1
    assert len(e.candles) == 2 and e.model.last_ts == T + 60_000


def test_bars_of_any_interval():
    e = engine()
    e.apply(oi(1e6))
    e.apply(candle(0, interval_s=3600))
    e.apply(oi(2e6))
    e.apply(candle(1, interval_s=3600))
    assert e.model.last_ts == T + 3_600_000 and e.model.stats()["seeded"] > 0
    # live 1m bars that still fall inside the last hourly backfill bar are skipped, later ones step
    e.apply(candle(60 + 59))  # opens 10:59 inside the 10:00 hourly bar
    assert e.counters["candles_stale"] == 1
    e.apply(candle(120))  # opens when the hourly bar closed
    assert e.model.last_ts == T + 120 * 60_000 and e.counters["candles"] == 3


def test_tick_consumes_what_the_mark_crossed():
    e = engine()
    e.apply(oi(1e6))
    e.apply(candle(0))
    e.apply(oi(2e6))
    e.apply(candle(1))
    before = e.model.stats()["standing"]
    v = e.version
    e.tick(T + 61_000)  # nothing crossed yet
    assert e.model.stats()["consumed"] == 0
    for p in (100.0, 95.0, 100.0):  # a 5 % dip by trades only (the 25x longs sit ~3.2 % below)
        e.apply(trade(p))
    e.tick(T + 62_000)
    assert e.model.stats()["consumed"] > 0 and e.version > v
    # the mark, when present, is what counts (exchanges liquidate on the mark price)
    consumed = e.model.stats()["consumed"]
    e.apply(
        MarkPrice(venue=B, symbol="BTCUSDT", ts=T, recv_ts=T, mark=104.0, funding_rate=0.0001)
    )  # past the 25x shorts (~+3.1 %)
    e.apply(trade(120.0))  # a wild print that the mark did not follow
    e.tick(T + 63_000)
    s = e.model.stats()
    assert s["consumed"] > consumed
    short_left = e.model.profile("12h")[1]
    assert short_left[e.model.grid.centers > 110].sum() > 0  # levels above 110 survive the print
    assert e.funding[B] == 0.0001 and e.mark == 104.0
    assert before > 0


def test_tape_status_funding_and_oi_change():
    e = Engine(HeatModel(), max_liquidations=3)
    for i in range(5):
        e.apply(
            Liquidation(
                venue=B,
                symbol="BTCUSDT",
                ts=T + i,
                recv_ts=T + i,
                side=PositionSide.LONG,
                price=100.0,
                qty=1.0,
                usd=100.0 * (i + 1),
            )
        )
    assert [liq.usd for liq in e.liquidations] == [300, 400, 500]
    e.apply(FeedStatus(venue=Y, symbol="BTCUSDT", ts=T, recv_ts=T, state=FeedState.STALE))
    assert e.status[Y].state is FeedState.STALE
    e.apply(FundingRate(venue=Y, symbol="BTCUSDT", ts=T, recv_ts=T, rate=-0.0002))
    assert e.funding[Y] == -0.0002
    for k in range(0, 61, 5):
        e.apply(oi(1e9 * (1 + k / 600), ts=T + k * 60_000))
    assert e.oi_change_pct_1h == pytest.approx(10.0)
    e.apply(oi(float("nan"), ts=T + 3_700_000))
    assert e.counters["bad_oi"] == 1


def test_version_bumps_on_every_event():
    e = engine()
    v = e.version
    e.apply(trade(1.0))
    e.apply(FundingRate(venue=Y, symbol="X", ts=T, recv_ts=T, rate=0.0))
    assert e.version == v + 2


def test_bad_candle_is_counted_not_raised():
    e = engine()
    e.apply(candle(0, p=100.0, lo=101.0))  # low above the close: the model refuses the bar
    assert e.counters["candles_bad"] == 1 and e.model.last_ts == 0


def test_a_venue_joining_the_oi_sum_is_not_new_positions():
    e = net_oi_engine()
    e.apply(oi(1e6, B))
    e.apply(candle(0))
    e.apply(oi(1.1e6, B))
    e.apply(candle(1))
    seeded = e.model.stats()["seeded"]
    assert seeded == pytest.approx(2e5)
    e.apply(oi(5e6, Y))  # Bybit's OI arrives: the total jumps from 1.1e6 to 6.1e6
    e.apply(candle(2))
    assert e.model.stats()["seeded"] == seeded  # the jump only re-bases
    e.apply(oi(6e6, Y))
    e.apply(candle(3))
    assert e.model.stats()["seeded"] == pytest.approx(seeded + 2e6)
