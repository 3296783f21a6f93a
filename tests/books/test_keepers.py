"""The venues' book rules without a socket: snapshots, deltas, sequence gaps, checksums, repairs."""

from __future__ import annotations

import numpy as np

from liqtui.core.book_events import BookState, BookStatus, BookUpdate
from liqtui.venues.binance.book import BinanceBookKeeper
from liqtui.venues.book import Book, Need
from liqtui.venues.bybit.book import BybitBookKeeper
from liqtui.venues.hyperliquid.book import HyperliquidBookKeeper
from liqtui.venues.okx.book import OkxBookKeeper, checksum
from liqtui.venues.okx.feed import ContractSpec
from tests.books.frames import OkxBook, binance_diff, binance_snapshot, bybit, hl_book


def _states(events) -> list[BookState]:
    return [e.state for e in events if isinstance(e, BookStatus)]


def test_book_apply_top_and_usd_buckets() -> None:
    b = Book()
    b.apply(b.bids, [(99.0, 2.0), (98.0, 1.0), (97.0, 0.0)])
    b.apply(b.asks, [(101.0, 1.0), (102.0, 3.0)])
    b.apply(b.bids, [(98.0, 0.0)])  # 0 deletes
    assert b.best_bid() == 99.0 and b.best_ask() == 101.0
    assert b.top(2) == ([(99.0, 2.0)], [(101.0, 1.0), (102.0, 3.0)])
    bid, ask = b.usd_by_bucket(np.array([95.0, 100.0, 101.5, 110.0]))
    assert bid.tolist() == [198.0, 0.0, 0.0] and ask.tolist() == [0.0, 101.0, 306.0]


def test_binance_snapshot_sync_drops_stale_and_chains() -> None:
    k = BinanceBookKeeper("BTCUSDT")
    assert k.reset(0)[0].state is BookState.SYNCING and k.need is Need.SNAPSHOT
    # buffered before the snapshot: one too old (u < lastUpdateId), one straddling it, one after
    assert k.on_frame(binance_diff("BTCUSDT", 90, 95, 89, [("100", "9")], []), 1) == []
    assert k.on_frame(binance_diff("BTCUSDT", 96, 105, 95, [("99", "3")], [("101", "0")]), 2) == []
    assert k.on_frame(binance_diff("BTCUSDT", 106, 110, 105, [], [("102", "4")]), 3) == []
    out = k.on_snapshot(binance_snapshot(100, [("100", "1"), ("99", "1")], [("101", "2")]), 4)
    assert _states(out) == [BookState.LIVE]
    first = out[0]
    assert isinstance(first, BookUpdate) and first.is_snapshot
    assert k.book.bids == {100.0: 1.0, 99.0: 3.0} and k.book.asks == {102.0: 4.0}
    assert k.dropped == 1
    out = k.on_frame(binance_diff("BTCUSDT", 111, 115, 110, [("100", "0")], []), 5)
    assert isinstance(out[0], BookUpdate) and not out[0].is_snapshot and k.top() == (99.0, 102.0)


def test_binance_gap_resyncs_and_too_old_snapshot_asks_again() -> None:
    k = BinanceBookKeeper("BTCUSDT")
    k.reset(0)
    k.on_frame(binance_diff("BTCUSDT", 100, 101, 99, [("100", "1")], []), 1)
    k.on_snapshot(binance_snapshot(100, [("100", "1")], [("101", "1")]), 2)
    out = k.on_frame(binance_diff("BTCUSDT", 110, 112, 108, [("99", "1")], []), 3)  # pu 108 != 101
    assert _states(out) == [BookState.RESYNCING] and k.gaps == 1 and k.need is Need.SNAPSHOT
    assert not k.book.bids
    k.need = Need.NONE
    out = k.on_snapshot(binance_snapshot(105, [], []), 4)  # older than the buffered event (U 110 > 105)
    assert (
        k.need is Need.SNAPSHOT
        and k.state is BookState.RESYNCING
        and not [e for e in out if e.state is BookState.LIVE]
    )
    out = k.on_snapshot(binance_snapshot(111, [("98", "1")], [("103", "1")]), 5)
    assert BookState.LIVE in _states(out) and k.book.bids == {98.0: 1.0, 99.0: 1.0}


def test_bybit_snapshot_delta_gap_and_new_snapshot() -> None:
    k = BybitBookKeeper("BTCUSDT")
    k.reset(0)
    assert k.on_frame(bybit("BTCUSDT", "delta", 5, [("1", "1")], []), 1) == []  # before any snapshot
    out = k.on_frame(bybit("BTCUSDT", "snapshot", 10, [("100", "1"), ("99", "2")], [("101", "1")]), 2)
    assert _states(out) == [BookState.LIVE]
    k.on_frame(bybit("BTCUSDT", "delta", 11, [("99", "0")], [("102", "5")]), 3)
    assert k.book.bids == {100.0: 1.0} and k.book.asks == {101.0: 1.0, 102.0: 5.0}
    assert k.on_frame(bybit("BTCUSDT", "delta", 11, [("100", "7")], []), 4) == [] and k.repeats == 1
    out = k.on_frame(bybit("BTCUSDT", "delta", 13, [], []), 5)
    assert _states(out) == [BookState.RESYNCING] and k.need is Need.RESUBSCRIBE and k.gaps == 1
    out = k.on_frame(bybit("BTCUSDT", "snapshot", 1, [("95", "1")], [("96", "1")]), 6)  # u=1 after a restart
    assert BookState.LIVE in _states(out) and k.top() == (95.0, 96.0)


def test_okx_checksum_and_sequence() -> None:
    ob = OkxBook("BTC-USDT-SWAP")
    k = OkxBookKeeper("BTC-USDT-SWAP", ContractSpec(0.01))
    k.reset(0)
    out = k.on_frame(ob.message("snapshot", [("100", "10"), ("99", "5")], [("101", "3")]), 1)
    assert _states(out) == [BookState.LIVE]
    snap = out[0]
    assert isinstance(snap, BookUpdate) and sorted(snap.bids) == [
        (99.0, 0.05),
        (100.0, 0.1),
    ]  # contracts → base
    k.on_frame(ob.message("update", [("100", "0")], [("101.5", "2")]), 2)
    assert k.verified == 2 and k.top() == (99.0, 101.0)
    out = k.on_frame(ob.message("update", [("98", "1")], [], bad=True), 3)
    assert _states(out) == [BookState.RESYNCING] and k.checksum_errors == 1 and k.need is Need.RESUBSCRIBE
    assert k.on_frame(ob.message("update", [("97", "1")], []), 4) == []  # waits for the new snapshot
    out = k.on_frame(ob.message("snapshot", [("100", "1")], [("101", "1")]), 5)
    assert BookState.LIVE in _states(out)
    out = k.on_frame(ob.message("update", [("99", "1")], [], skip_seq=True), 6)
    assert _states(out) == [BookState.RESYNCING] and k.gaps == 1 and k.resyncs == 2


def test_okx_signed_checksum_matches_a_known_value() -> None:
    """A checksum with the top bit set is negative, as OKX sends it (value from zlib by hand)."""
    import zlib

    s = "3366.1:7:3366.8:9:3366:6:3368:8"
    want = zlib.crc32(s.encode())
    want = want - (1 << 32) if want >= 1 << 31 else want
    assert checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")]) == want


def test_hyperliquid_snapshots_replace_and_old_ones_are_skipped() -> None:
    k = HyperliquidBookKeeper("BTC")
    k.reset(0)
    out = k.on_frame(hl_book("BTC", [("100", "1")], [("101", "1")], 1000), 1)
    assert _states(out) == [BookState.LIVE]
    k.on_frame(hl_book("BTC", [("99", "2")], [("102", "1")], 2000), 2)
    assert k.book.bids == {99.0: 2.0}
    assert k.on_frame(hl_book("BTC", [("98", "2")], [("103", "1")], 1500), 3) == [] and k.out_of_order == 1
    assert k.on_frame(hl_book("ETH", [("1", "1")], [("2", "1")], 3000), 4) == [] and k.ignored == 1


def test_bad_frames_are_counted_never_raised() -> None:
    for k in (BinanceBookKeeper("BTCUSDT"), BybitBookKeeper("BTCUSDT"), OkxBookKeeper("BTC-USDT-SWAP"),
              HyperliquidBookKeeper("BTC")):  # fmt: skip
        k.reset(0)
        assert k.on_frame(b"{not json", 1) == []
        assert k.errors == 1
    k = HyperliquidBookKeeper("BTC")
    assert k.on_frame(hl_book("BTC", [("-1", "1")], [("2", "1")], 1), 1) == [] and k.errors == 1


def test_stale_drops_the_book_and_is_counted() -> None:
    k = HyperliquidBookKeeper("BTC")
    k.reset(0)
    k.on_frame(hl_book("BTC", [("100", "1")], [("101", "1")], 1000), 1)
    out = k.mark_stale(5, "stale: no book update for 20.0 s")
    assert _states(out) == [BookState.STALE] and k.stale == 1 and not k.book.bids
    assert out[0].stale == 1


def test_binance_snapshot_exactly_between_two_events() -> None:
    """A snapshot at the u of the last event sent: the next event (pu == lastUpdateId) continues it."""
    k = BinanceBookKeeper("BTCUSDT")
    k.reset(0)
    k.on_frame(binance_diff("BTCUSDT", 101, 104, 100, [("99", "1")], []), 1)
    out = k.on_snapshot(binance_snapshot(100, [("100", "1")], [("101", "1")]), 2)
    assert BookState.LIVE in _states(out) and k.book.bids == {100.0: 1.0, 99.0: 1.0}
    k2 = BinanceBookKeeper("BTCUSDT")
    k2.reset(0)
    k2.on_frame(binance_diff("BTCUSDT", 90, 95, 89, [], []), 1)
    k2.on_snapshot(binance_snapshot(100, [("100", "1")], []), 2)  # nothing buffered straddles it: waits
    assert k2.on_frame(
        binance_diff("BTCUSDT", 96, 100, 95, [("98", "1")], []), 3
    )  # u == lastUpdateId: applied
    assert k2.book.bids == {100.0: 1.0, 98.0: 1.0}
    out = k2.on_frame(binance_diff("BTCUSDT", 110, 111, 105, [], []), 4)
    assert _states(out) == [BookState.RESYNCING]


def test_binance_depth_goes_to_the_public_route() -> None:
    from liqtui.venues import adapter

    ch = adapter("binance").book("BTC", "wss://fstream.binance.com/market", "https://fapi.binance.com")
    assert ch is not None
    assert ch.url == "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms"
    assert ch.snapshot_url == "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    other = adapter("binance").book("ETH", "ws://127.0.0.1:9/", "http://127.0.0.1:9")
    assert other is not None and other.url == "ws://127.0.0.1:9/stream?streams=ethusdt@depth@100ms"
