"""The order-book layer in the app: ``b`` (depth column, wall marks, book status), ``B`` (resting-liquidity
overlay), the keymap, help, and a snapshot of the layer on the seeded synthetic market with its book."""

from __future__ import annotations

import asyncio
import copy

import pytest

from liqtui.core.book_events import BookState, BookStatus
from liqtui.core.events import Venue
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.screens import HelpScreen
from liqtui.ui.synthetic import end_ts, engine_with_book

N_BARS = 720  # as tests/ui/conftest.py
SIZE = (160, 30)


def make_app(engine, clock, **kw) -> LiqtuiApp:
    kw.setdefault("colors", "truecolor")
    kw.setdefault("lookback", "12h")
    return LiqtuiApp(engine, clock=clock, **kw)


async def settle(pilot, app, cond=lambda: True, timeout: float = 10.0) -> None:
    """Wait (never a fixed sleep) until the app drew its first frame and ``cond`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await pilot.pause()
        if app.heatmap.frames_drawn > 0 and cond():
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def _freeze_time(pilot) -> None:
    """Stop the UI timer (fps) and draw once more with the frozen clock (as tests/ui/test_snapshots.py)."""
    app: LiqtuiApp = pilot.app
    app._timer.pause()
    await pilot.pause()
    app._frame_times.clear()
    app._tick()
    await pilot.pause()


@pytest.fixture(scope="module")
def _book_template():
    return engine_with_book(N_BARS)


@pytest.fixture
def book_engine(_book_template):
    """A fresh copy of the synthetic engine with a live, seeded Binance book recorded over its last 30 minutes."""
    return copy.deepcopy(_book_template)


async def test_b_toggles_the_book_layer(book_engine, frozen_clock):
    app = make_app(book_engine, frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        col = app.depth_column
        assert not col.display and "book" not in str(app.status.render())
        heat_w = app.heatmap.size.width
        await pilot.press("b")
        await settle(pilot, app, lambda: col.display and col.size.width > 0 and app._book_drawn is not None)
        assert app.view.book and app._frame.book is not None
        text = str(col.render())
        assert "█" in text and "◆" in text  # bars, and a wall row
        await settle(pilot, app, lambda: app.heatmap.size.width < heat_w)  # the column takes its room
        status = str(app.status.render())
        assert "book binance live" in status and "bids $" in status
        zones = str(app.zones.render())
        marks = app._frame.book.marks.wall
        assert any(marks) and sum(line.endswith("W") for line in zones.split("\n")) == sum(marks)
        await pilot.press("b")
        await settle(pilot, app, lambda: not col.display)
        assert "book" not in str(app.status.render()) and "W\n" not in str(app.zones.render())


async def test_the_book_layer_redraws_on_the_books_not_on_the_engine(book_engine, frozen_clock):
    app = make_app(book_engine, frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await settle(pilot, app, lambda: app._book_drawn is not None)
        version = book_engine.version
        now = end_ts(N_BARS)
        app._sink(
            BookStatus(venue=Venue.BINANCE, symbol="BTCUSDT", ts=now, recv_ts=now, state=BookState.RESYNCING)
        )
        assert book_engine.version == version and app.events_seen == 0  # book events: not market events
        app._tick()
        await settle(pilot, app, lambda: "binance resyncing" in str(app.status.render()))
        assert app._frame.book.profile is None
        assert str(app.depth_column.render()).startswith("binance")  # the column says the state, no bars
        assert "█" not in str(app.depth_column.render())


async def test_shift_b_draws_resting_liquidity_over_the_heatmap(book_engine, frozen_clock):
    app = make_app(book_engine, frozen_clock)
    # 48 lines: char rows fine enough that a wall stands ≥5× the median row (coarser rows average it away)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        assert not any(ch == "━" for ch, _ in app.heatmap._frame.overlay.values())
        drawn = app.heatmap.frames_drawn
        await pilot.press("B")
        await settle(pilot, app, lambda: app.heatmap.frames_drawn > drawn)
        assert app.view.book and app.view.book_overlay and app.depth_column.display  # B turns the layer on
        cells = [(r, c) for (r, c), (ch, _) in app.heatmap._frame.overlay.items() if ch == "━"]
        width = app.heatmap.size.width
        assert cells and all(
            c >= width * 0.9 for _, c in cells
        )  # the book's 30 minutes: the right edge of 12h
        drawn = app.heatmap.frames_drawn
        await pilot.press("B")
        await settle(pilot, app, lambda: app.heatmap.frames_drawn > drawn)
        assert not app.view.book_overlay and app.view.book
        assert not any(ch == "━" for ch, _ in app.heatmap._frame.overlay.values())


async def test_book_keys_are_remappable_and_in_help(book_engine, frozen_clock):
    app = make_app(book_engine, frozen_clock, keymap={"book": "x", "book_overlay": "X"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await pilot.pause()
        assert not app.view.book
        await pilot.press("x")
        await settle(pilot, app, lambda: app.depth_column.display)
        await pilot.press("X")
        await settle(pilot, app, lambda: app.view.book_overlay)
        rows = dict(app.help_rows())
        assert "order-book layer" in rows["x"] and "W after a zone" in rows["x"]
        assert "resting-liquidity overlay" in rows["X"]
        await pilot.press("question_mark")
        await settle(pilot, app, lambda: isinstance(app.screen, HelpScreen))


def test_snapshot_book_layer_160x48(snap_compare, book_engine, frozen_clock):
    async def before(pilot):
        await pilot.press("B")
        await _freeze_time(pilot)

    app = LiqtuiApp(book_engine, clock=frozen_clock, colors="truecolor", lookback="12h")
    assert snap_compare(app, terminal_size=(160, 48), run_before=before)
