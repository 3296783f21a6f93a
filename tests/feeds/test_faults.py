"""Standing fault suite of the feeds: one local server per fault, every venue where the fault is venue-specific.

Each class of fault liqtui promises to survive, and where it is tested:

* silent with pongs: the server answers pings and acks but sends no market data → ``stale`` then a
  reconnect (here, every venue); a quiet trade channel with the mark/ticker channel ticking is *not* a fault
  (here, every venue);
* stall (socket open, nothing at all, pings unanswered) → stale, reconnect:
  ``test_connection.py::test_stall_with_socket_open_goes_stale_then_reconnects`` and here for every venue;
* oversized frame → counted, reconnect: ``test_connection.py::test_oversized_frame_is_counted_and_the_feed_reconnects``;
* close on every connect → growing backoff, then ``failed`` after ``max_attempts``:
  ``test_connection.py::test_backoff_grows_when_the_server_accepts_then_closes_and_then_fails`` and here
  for every venue;
* refusal (unknown symbol) → ``failed`` naming the symbol: ``test_connection.py::test_unknown_symbol_fails_with_a_clear_message``;
* connection refused (nothing listening) → retries with status: ``test_connection.py::test_unreachable_endpoint_retries_with_status``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from liqtui.core.events import FeedState, MarkPrice, Trade
from tests.feeds import frames as F
from tests.feeds.helpers import Collector, manager, running, until
from tests.feeds.servers import Close, ExchangeServer, Stall, Stream

T0 = 1_786_310_817_583
VENUES = ["binance", "bybit", "okx", "hyperliquid"]
#: The channel each venue must keep ticking, as named in the stale reason.
CHANNEL = {"binance": "markPrice", "bybit": "tickers", "okx": "mark-price", "hyperliquid": "activeAssetCtx"}


def _mark_only(venue: str) -> Callable[[int], str]:
    """The venue's mark/ticker frames, one per call, never a trade."""
    if venue == "binance":
        return lambda i: F.bn_mark(T0 + i * 1000, 60000.0 + i, 60000.0, 0.0001)
    if venue == "bybit":
        return lambda i: (
            F.bb_ticker_snapshot(T0, 1, 65000.0, 30000.0, 0.0001)
            if i == 0
            else F.bb_ticker_delta(T0 + i, i + 1, markPrice=f"{65000 + i}.00")
        )
    if venue == "okx":
        return lambda i: F.okx_mark(T0 + i, 64000.0 + i)
    return lambda i: F.hl_ctx(63000.0 + i, 1000.0, 0.0001)


@pytest.mark.parametrize("venue", VENUES)
async def test_pongs_and_acks_without_market_data_go_stale_then_reconnect(venue: str) -> None:
    # the socket is busy (pongs to our 20 Hz pings, subscription acks) but no market data ever comes: the
    # frame-level stall check (30 s here) never fires; the must-tick channel check (0.3 s) does
    async with ExchangeServer(venue, [[]]) as srv:
        sink = Collector()
        mgr = manager([srv], [venue], sink, stale_s=30.0, silence_s=0.3, ping_interval_s=0.05)
        async with running(mgr):
            await until(lambda: mgr.stats[venue].reconnects >= 2, f"{venue} reconnects after going stale")
            await until(lambda: len(srv.conns) >= 3 + (venue == "okx"), f"{venue} connected again")
    stale = sink.statuses(FeedState.STALE)
    assert stale, sink.states()
    assert f"no {CHANNEL[venue]} for" in stale[0].reason, stale[0].reason
    assert mgr.stats[venue].stale >= 1
    # (Binance's keepalive is protocol-level: websockets answers it and the application sees nothing)
    if venue != "binance":
        assert mgr.decoders[venue].control >= 2  # pongs and acks did arrive: they do not count as data
    # the state went stale, then reconnecting (with backoff), then live again on the new connection
    states = sink.states(venue)
    i = states.index(FeedState.STALE)
    assert FeedState.RECONNECTING in states[i:]
    # with backoff: no market data came, so each attempt waits longer than the one before
    assert [s.attempt for s in sink.statuses(FeedState.RECONNECTING)][:2] == [1, 2]


async def test_trades_without_the_mark_channel_go_stale_with_growing_backoff() -> None:
    # trades flow, the markPrice@1s stream is dead: the venue is not live, and reconnecting does not reset
    # the backoff as real market data would
    trades = Stream(lambda i: F.bn_agg_trade(i + 1, 60000, 0.1, False, T0 + i), interval_s=0.01)
    async with ExchangeServer("binance", [[trades]]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink, stale_s=30.0, silence_s=0.3)
        async with running(mgr):
            await until(lambda: mgr.stats["binance"].reconnects >= 2, "reconnects after going stale")
    assert sink.of(Trade)
    assert all("no markPrice for" in s.reason for s in sink.statuses(FeedState.STALE))
    assert [s.attempt for s in sink.statuses(FeedState.RECONNECTING)][:2] == [1, 2]


@pytest.mark.parametrize("venue", VENUES)
async def test_mark_channel_alone_keeps_the_venue_live_without_trades(venue: str) -> None:
    async with ExchangeServer(venue, [[Stream(_mark_only(venue), interval_s=0.02)]]) as srv:
        sink = Collector()
        mgr = manager([srv], [venue], sink, stale_s=30.0, silence_s=0.3, ping_interval_s=0.05)
        async with running(mgr):
            channel = CHANNEL[venue]
            # 60 ticks at 50 Hz: well over three times the 0.3 s limit of silence
            await until(lambda: mgr.decoders[venue].ticks.get(channel, 0) >= 60, f"{venue} {channel} ticks")
    assert not sink.of(Trade)  # the trade channel stayed quiet the whole time
    assert sink.of(MarkPrice)
    assert FeedState.STALE not in sink.states(venue), sink.of_status()
    assert mgr.stats[venue].reconnects == 0 and mgr.stats[venue].stale == 0


@pytest.mark.parametrize("venue", VENUES)
async def test_stall_goes_stale_on_every_venue(venue: str) -> None:
    # one mark, then nothing at all: not even pongs (the server stops answering)
    first = [_mark_only(venue)(0), Stall()]
    async with ExchangeServer(venue, [first, [Stream(_mark_only(venue), interval_s=0.05)]]) as srv:
        sink = Collector()
        mgr = manager([srv], [venue], sink, stale_s=0.3, ping_interval_s=0.05)
        async with running(mgr):
            await until(lambda: mgr.stats[venue].reconnects >= 1, f"{venue} reconnect after the stall")
            await until(lambda: len(sink.of(MarkPrice)) >= 2, f"{venue} data from the next connection")
    stale = sink.statuses(FeedState.STALE)
    assert stale and "no data for" in stale[0].reason


@pytest.mark.parametrize("venue", VENUES)
async def test_close_on_every_connect_backs_off_then_fails(venue: str) -> None:
    async with ExchangeServer(venue, [[Close(1011, "overloaded")]]) as srv:
        sink = Collector()
        mgr = manager([srv], [venue], sink, max_attempts=3)
        async with running(mgr):
            await until(lambda: FeedState.FAILED in sink.states(), f"{venue} failure after max attempts")
    # (OKX has two connections, each counting its own attempts)
    assert sorted({s.attempt for s in sink.statuses(FeedState.RECONNECTING)}) == [1, 2, 3]
    (failed,) = sink.statuses(FeedState.FAILED)
    assert "gave up after 3 reconnect attempts" in failed.reason and "1011" in failed.reason
