"""The book layer wired end to end: the engine's DepthBook, the sources' book feeds and replays, the headless
document and the pure frame (ViewState / build_frame). The app's keys and snapshot are in tests/ui."""

from __future__ import annotations

import asyncio
import contextlib
import copy

import pytest

from liqtui.core.book_events import BookState, BookStatus, BookUpdate
from liqtui.core.engine import DEPTH_RECORD_MS, Engine
from liqtui.core.events import Venue
from liqtui.core.model import HeatModel
from liqtui.feeds.endpoints import Endpoints
from liqtui.headless import _Driver, collect_zones, zones_document
from liqtui.sim.server import DemoExchange
from liqtui.sources import Source
from liqtui.ui.synthetic import MODEL_CONFIG, SyntheticBook, end_ts, engine_with_book, make_engine
from liqtui.ui.themes import HeatPalette, load_theme
from liqtui.ui.view import BOOK_REFRESH_MS, ViewState, build_frame
from liqtui.ui.widgets.zones import render_zones
from tests.feeds import realdata as R

N_BARS = 720
SIZE = (120, 40)


@pytest.fixture(scope="module")
def booked():
    """The synthetic market with a live Binance book (seeded): the layer's input."""
    return engine_with_book(N_BARS)


def _status(state: BookState, ts: int = 1) -> BookStatus:
    return BookStatus(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, state=state)


# ------------------------------------------------------------------------------------------------ engine
def test_book_events_reach_the_depth_book_without_bumping_the_engine():
    eng = Engine(HeatModel(MODEL_CONFIG), symbol="BTC")
    v0, d0 = eng.version, eng.depth.version
    snap = BookUpdate(
        venue=Venue.BINANCE, symbol="BTCUSDT", ts=1, recv_ts=1, is_snapshot=True,
        bids=((99.0, 2.0),), asks=((101.0, 1.0),),
    )  # fmt: skip
    eng.apply(snap)
    eng.apply(_status(BookState.LIVE))
    assert eng.version == v0 and eng.counters["events"] == 0 and eng.last_event_ts == 0
    assert eng.depth.version == d0 + 2 and eng.depth.states() == {"binance": "live"}
    assert eng.depth.stats()["book_updates"] == 1


def test_tick_records_the_book_at_the_models_slice(booked):
    ring = booked.depth._ring
    assert booked.depth.slice_ms == MODEL_CONFIG.history_slice_s * 1000
    assert len(ring) >= 10  # 30 minutes of 3-minute slices
    assert all(b[0] % booked.depth.slice_ms == 0 for b in ring)
    assert len(ring[-1][1]) > 0  # levels were recorded


def test_ticks_record_the_books_once_per_slice_start_and_every_few_seconds():
    eng = copy.deepcopy(engine_with_book(N_BARS, minutes=1))
    calls: list[int] = []
    record = eng.depth.record
    eng.depth.record = lambda now, grid: calls.append(now) or record(now, grid)
    slice_ms = eng.depth.slice_ms
    t0 = (end_ts(N_BARS) // slice_ms + 1) * slice_ms  # a slice starts
    for k in range(200):  # 20 s of 100 ms ticks
        eng.tick(t0 + 100 * k)
    assert calls == [t0, t0 + DEPTH_RECORD_MS, t0 + 2 * DEPTH_RECORD_MS, t0 + 3 * DEPTH_RECORD_MS]


# ------------------------------------------------------------------------------------------------ frame
def test_build_frame_has_the_book_only_when_the_view_shows_it(booked):
    now = end_ts(N_BARS)
    off = build_frame(booked, ViewState(lookback="12h"), SIZE, now)
    assert off.book is None
    view = ViewState(lookback="12h", book=True)
    f = build_frame(booked, view, SIZE, now)
    b = f.book
    assert b is not None and b.profile is not None and b.overlay is None
    assert b.states == {"binance": "live"} and b.state_text == "binance live"
    lo, hi = f.window
    edges = b.profile.edges
    inside = (edges[:-1] >= lo) & (edges[1:] <= hi)
    assert b.profile.total_bid > 0 and b.profile.total_ask > 0
    assert b.profile.bid_usd[~inside & (edges[1:] <= lo)].sum() == 0  # nothing outside the window
    assert len(b.marks.wall) == len(f.zones.above) + len(f.zones.below)
    assert b.marks.walls and all(lo <= w.price <= hi for w in b.marks.walls)
    for i, z in enumerate([*f.zones.above, *f.zones.below]):
        assert b.marks.wall[i] == any(z.low <= w.price <= z.high for w in b.marks.walls)


def test_book_frame_is_reused_until_the_books_change(booked):
    booked = copy.deepcopy(booked)
    now = end_ts(N_BARS)
    view = ViewState(lookback="12h", book=True, book_overlay=True)
    f1 = build_frame(booked, view, SIZE, now)
    f2 = build_frame(booked, view, SIZE, now, previous=f1)
    assert f2.book.profile is f1.book.profile and f2.book.overlay is f1.book.overlay
    bid, ask = f1.book.overlay
    assert bid.shape == (SIZE[1], SIZE[0]) and (bid > 0).any() and (ask > 0).any()
    book = SyntheticBook(float(booked.price), seed=9)  # the books change (same states) ...
    for ev in book.start(now, float(booked.price)):
        booked.apply(ev)
    f3 = build_frame(booked, view, SIZE, now + BOOK_REFRESH_MS - 1, previous=f2)
    assert f3.book.profile is f2.book.profile  # ... within the refresh interval: not redrawn yet
    assert f3.book.version < booked.depth.version
    f4 = build_frame(booked, view, SIZE, now + BOOK_REFRESH_MS, previous=f3)
    assert f4.book.profile is not f3.book.profile and f4.book.version == booked.depth.version
    assert f4.book.overlay is f3.book.overlay  # the recorded slices did not change
    f5 = build_frame(booked, view, SIZE, now + booked.depth.slice_ms, previous=f4)
    assert f5.book.overlay is not f4.book.overlay  # a new time slice: the overlay is drawn again
    booked.apply(_status(BookState.STALE))  # a state change shows at once, within the interval
    f6 = build_frame(booked, view, SIZE, now + booked.depth.slice_ms + 1, previous=f5)
    assert f6.book.states == {"binance": "stale"} and f6.book.profile is None
    assert f6.book.version == booked.depth.version


def test_a_book_that_is_not_live_shows_no_depth_and_no_wall():
    eng = make_engine(N_BARS)
    book = SyntheticBook(float(eng.price))
    for ev in book.start(end_ts(N_BARS), float(eng.price)):
        eng.apply(ev)
    eng.apply(_status(BookState.RESYNCING))
    f = build_frame(eng, ViewState(lookback="12h", book=True), SIZE, end_ts(N_BARS))
    assert f.book.profile is None and not any(f.book.marks.wall) and f.book.marks.walls == []
    assert f.book.state_text == "binance resyncing"


def test_view_state_book_toggles():
    v = ViewState()
    assert not v.book and not v.book_overlay
    v.toggle_book_overlay()
    assert v.book and v.book_overlay  # the overlay needs the layer
    v.toggle_book_overlay()
    assert v.book and not v.book_overlay
    v.toggle_book()
    assert not v.book


def test_zones_list_marks_the_zones_holding_a_wall(booked):
    f = build_frame(booked, ViewState(lookback="12h", book=True), SIZE, end_ts(N_BARS))
    marks = f.book.marks.wall
    assert any(marks), "the seeded book has a wall inside a zone"
    pal = HeatPalette(load_theme("dark"), "truecolor")
    lines = render_zones(f.zones, 44, 5, pal, (), walls=marks).plain.split("\n")
    rows = [ln for ln in lines if "%" in ln]
    assert len(rows) == len(marks) and all(len(r) == 44 for r in rows)
    assert [r.endswith("W") for r in rows] == marks
    plain = render_zones(f.zones, 44, 5, pal).plain
    assert "W" not in plain  # layer off: no marker column


# ------------------------------------------------------------------------------------------------ headless
def test_headless_driver_applies_book_events_uncounted_and_keeps_them_after_close():
    eng = Engine(HeatModel(MODEL_CONFIG), symbol="BTC")
    drv = _Driver(eng)
    drv(_status(BookState.LIVE, ts=10**12))
    assert drv.events == 0 and eng.depth.states() == {"binance": "live"} and eng.model.last_ts == 0
    drv.close_books()
    drv(_status(BookState.STOPPED))
    assert eng.depth.states() == {"binance": "live"}  # the feeds' "stopped" on the way out is not collected


def test_zones_document_with_book_over_the_default_window(booked):
    doc = zones_document(booked, lookback="12h", top=5)
    b = doc["book"]
    assert b["bid_usd"] > 0 and b["ask_usd"] > 0 and b["walls"]
    price = doc["price"]
    assert all(abs(w["price"] / price - 1) <= 0.04 + 1e-3 for w in b["walls"])  # the 12h window: ±4 %
    assert {w["side"] for w in b["walls"]} <= {"bid", "ask"}
    zones = [*doc["above"], *doc["below"]]
    assert zones and all(isinstance(z["wall"], bool) for z in zones) and any(z["wall"] for z in zones)
    st = doc["stats"]
    assert st["book_updates"] > 1000 and st["book_resyncs"] == 0 and st["book_checksum_errors"] == 0


async def _until(cond, what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", ["demo", "live"])
async def test_demo_and_live_sources_run_the_book_feed(kind):
    """The live source against the demo exchange (its endpoints) and the demo source itself: the book goes live
    beside the trade feed, and the document carries it."""
    async with contextlib.AsyncExitStack() as stack:
        kw: dict = {"backfill": False, "seed": 4}
        if kind == "live":
            demo = await stack.enter_async_context(DemoExchange(seed=4, history_days=0.1))
            kw["endpoints"] = (
                Endpoints()
                .with_override("binance", "ws", demo.ws_url)
                .with_override("binance", "rest", demo.rest_url)
            )
        src = Source(kind, **kw)
        drv = _Driver(src.engine)
        task = asyncio.create_task(src(drv))
        try:
            depth = src.engine.depth
            await _until(lambda: depth.states() == {"binance": "live"} and depth.updates >= 20, "a live book")
            await _until(lambda: src.engine.price is not None, "a price")
            assert src.stats()["book"]["book_updates"] >= 20
            assert src.totals()["frames"] == sum(s.frames for s in src._feeds.stats.values())
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert depth.states() == {"binance": "stopped"}  # stopping is said, and the levels dropped
        assert depth.profile(src.engine.model.grid or _grid(src.engine.price)).total_bid == 0.0


def _grid(price):
    from liqtui.core.grid import PriceGrid

    return PriceGrid(price)


async def test_zones_json_of_the_demo_carries_the_book():
    doc = await collect_zones("demo", seconds=1.0, lookback="12h", top=4, seed=3)
    assert set(doc["book"]) == {"bid_usd", "ask_usd", "walls"}
    assert all(isinstance(z["wall"], bool) for z in [*doc["above"], *doc["below"]])
    st = doc["stats"]
    assert {"book_updates", "book_resyncs", "book_checksum_errors"} <= set(st)
    assert st["book_states"]["binance"] in {"live", "syncing"}  # never "stopped": the books as collected
    if st["book_states"]["binance"] == "live":
        assert doc["book"]["bid_usd"] > 0 and doc["book"]["ask_usd"] > 0


# ------------------------------------------------------------------------------------------------ replay
async def test_replay_of_binance_diffs_without_a_snapshot_is_unsynced(real_data):
    doc = await collect_zones("replay", replay_path=str(real_data / R.BINANCE_ALTS), lookback="12h")
    assert doc["stats"]["book_states"] == {"binance": "unsynced"}
    assert doc["book"] == {"bid_usd": 0.0, "ask_usd": 0.0, "walls": []}
    assert not any(z["wall"] for z in [*doc["above"], *doc["below"]])


async def test_replay_of_okx_books_checks_every_checksum(real_data):
    doc = await collect_zones(
        "replay", replay_path=str(real_data / R.OKX), symbol="UNI-USD-SWAP", venues=["okx"], lookback="12h"
    )
    st = doc["stats"]
    assert st["book_states"] == {"okx": "live"}
    assert st["book_updates"] > 50 and st["book_checksum_errors"] == 0 and st["book_resyncs"] == 0
    assert doc["book"]["bid_usd"] > 0 and doc["book"]["ask_usd"] > 0
    # bids rest below the price, asks above (a wall's price is its bucket's centre: within a bucket of it)
    assert all(w["price"] < doc["price"] * 1.002 for w in doc["book"]["walls"] if w["side"] == "bid")
    assert all(w["price"] > doc["price"] / 1.002 for w in doc["book"]["walls"] if w["side"] == "ask")


async def test_replay_of_hyperliquid_l2book_without_candles_still_shows_the_book(real_data):
    doc = await collect_zones("replay", replay_path=str(real_data / R.HYPERLIQUID), lookback="12h")
    assert doc["stats"]["book_states"] == {"hyperliquid": "live"}
    assert doc["book"]["bid_usd"] > 0 and doc["book"]["ask_usd"] > 0
