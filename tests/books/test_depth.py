"""DepthBook: resting USD per bucket of the model's grid, only from live books; the ring; walls."""

from __future__ import annotations

import numpy as np
import pytest

from liqtui.core.book_events import BookState, BookStatus, BookUpdate
from liqtui.core.depth import DepthBook, DepthProfile, book_json, mark_walls, zones_doc_with_book
from liqtui.core.events import Venue
from liqtui.core.grid import PriceGrid
from liqtui.core.zones import Zone


def _upd(venue, bids, asks, snap=False):
    return BookUpdate(
        venue=venue, symbol="X", ts=1, recv_ts=1, bids=tuple(bids), asks=tuple(asks), is_snapshot=snap
    )


def _st(venue, state, **kw):
    return BookStatus(venue=venue, symbol="X", ts=1, recv_ts=1, state=state, **kw)


def _live(d, venue, bids, asks):
    d.apply(_upd(venue, bids, asks, snap=True))
    d.apply(_st(venue, BookState.LIVE))


def test_profile_sums_live_venues_in_grid_buckets_within_the_window() -> None:
    g = PriceGrid(100.0, bucket_pct=1.0, range_pct=20.0)
    d = DepthBook()
    _live(d, Venue.BINANCE, [(99.5, 2.0), (95.0, 1.0)], [(100.5, 1.0), (110.0, 3.0)])
    _live(d, Venue.OKX, [(99.5, 1.0)], [])
    d.apply(_upd(Venue.OKX, [(99.5, 0.0)], [(100.5, 2.0)]))  # delta: delete and add
    p = d.profile(g)
    i = g.index(99.5)
    assert p.bid_usd[i] == pytest.approx(199.0) and p.bid_usd[g.index(95.0)] == pytest.approx(95.0)
    assert p.ask_usd[g.index(100.5)] == pytest.approx(301.5)
    assert p.total_ask == pytest.approx(301.5 + 330.0)
    w = d.profile(g, 97.0, 105.0)  # the visible window
    assert w.total_bid == pytest.approx(199.0) and w.total_ask == pytest.approx(301.5)


def test_a_venue_not_live_contributes_nothing_until_resynced() -> None:
    g = PriceGrid(100.0, bucket_pct=1.0, range_pct=20.0)
    d = DepthBook()
    _live(d, Venue.BINANCE, [(99.5, 2.0)], [(100.5, 1.0)])
    d.apply(_st(Venue.BINANCE, BookState.RESYNCING, resyncs=1, gaps=1))
    assert d.profile(g).total_bid == 0.0 and d.states() == {"binance": "resyncing"}
    d.apply(_upd(Venue.BINANCE, [(100.0, 0.0)], []))  # a stray delta does not resurrect anything
    assert d.profile(g).total_bid == 0.0
    _live(d, Venue.BINANCE, [(98.0, 1.0)], [])
    assert d.profile(g).total_bid == pytest.approx(98.0)
    d.apply(_st(Venue.OKX, BookState.RESYNCING, resyncs=2, checksum_errors=2))
    s = d.stats()
    assert s["book_resyncs"] == 2 and s["book_checksum_errors"] == 2  # the latest keeper totals per venue
    assert s["book_updates"] == 3


def test_ring_keeps_a_wall_as_a_band_over_time() -> None:
    g = PriceGrid(100.0, bucket_pct=0.5, range_pct=20.0)
    d = DepthBook(slice_ms=60_000, n_slices=100)
    _live(d, Venue.BINANCE, [(95.0, 100.0), (99.0, 1.0)], [(104.0, 1.0)])
    for m in range(30):
        d.record(m * 60_000, g)
        if m == 15:
            d.apply(_upd(Venue.BINANCE, [(95.0, 0.0)], []))  # the wall is pulled half-way
    bid, ask = d.history(30, 90.0, 110.0, 40, span_ms=30 * 60_000, now_ms=30 * 60_000 - 1)
    row = int(np.argmax(bid[:, 0]))
    assert row in (29, 30)  # rows top = price_hi: 95 sits 3/4 of the way down 90..110
    assert (bid[row, :15] > 9000).all() and (bid[row, 17:] == 0).all()
    assert ask.sum() > 0 and bid.shape == (40, 30)


def _zone(low, high, side="short"):
    return Zone(side=side, low=low, high=high, peak=(low + high) / 2, usd=1.0, share=0.5, distance_pct=1.0,
                cum_usd=0.0, tiers={}, confluence=False)  # fmt: skip


def test_mark_walls_and_json() -> None:
    edges = np.array([95.0, 96.0, 97.0, 98.0, 99.0, 100.0, 101.0, 102.0, 103.0])
    bid = np.array([10.0, 100.0, 10.0, 10.0, 10.0, 0.0, 0.0, 0.0])
    ask = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 10.0, 60.0])
    depth = DepthProfile(edges, bid, ask)
    zones = [_zone(96.2, 96.8, "long"), _zone(100.1, 101.9), _zone(102.1, 102.9)]
    m = mark_walls(zones, depth)
    assert m.median_usd == 10.0 and m.wall == [True, False, True]
    assert [(w.side, w.usd) for w in m.walls] == [("bid", 100.0), ("ask", 60.0)]
    j = book_json(zones, depth, x=8.0)
    assert j["wall"] == [True, False, False]
    assert j["book"] == {"bid_usd": 140.0, "ask_usd": 80.0,
                         "walls": [{"side": "bid", "price": pytest.approx(96.499, abs=1e-3), "usd": 100.0}]}  # fmt: skip
    with pytest.raises(ValueError, match="wall multiple"):
        mark_walls(zones, depth, x=0)
    empty = DepthProfile(edges, np.zeros(8), np.zeros(8))
    assert mark_walls(zones, empty).wall == [False, False, False]


def test_zones_document_gets_the_book() -> None:
    g = PriceGrid(100.0, bucket_pct=1.0, range_pct=20.0)
    d = DepthBook()
    _live(
        d, Venue.BINANCE, [(99.5, 1.0), (98.5, 1.0), (97.5, 1.0), (90.2, 40.0)], [(100.5, 1.0), (101.5, 1.0)]
    )
    d.apply(_st(Venue.BINANCE, BookState.LIVE, resyncs=1))
    doc = {
        "above": [{"low": 103.0, "high": 105.0}],
        "below": [{"low": 89.0, "high": 91.0}],
        "stats": {"frames": 3},
    }
    out = zones_doc_with_book(doc, d, g, price_lo=85.0, price_hi=115.0)
    assert out is doc and [z["wall"] for z in doc["above"] + doc["below"]] == [False, True]
    assert doc["book"]["walls"][0]["side"] == "bid" and doc["book"]["walls"][0]["usd"] == pytest.approx(
        3608.0
    )
    assert doc["stats"]["book_resyncs"] == 1 and doc["stats"]["frames"] == 3
    assert doc["stats"]["book_states"] == {"binance": "live"}
    empty = zones_doc_with_book({"above": [{"low": 1.0, "high": 2.0}], "below": []}, DepthBook(), None)
    assert (
        empty["book"] == {"bid_usd": 0.0, "ask_usd": 0.0, "walls": []} and empty["above"][0]["wall"] is False
    )
