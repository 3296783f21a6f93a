"""UI benchmarks: heatmap frame render time, bytes written per UI tick, whole-process CPU while live.

* ``frame_ms_200x60`` – levels + candle overlay + half-block rows + Strips for a full 200×60 heatmap from
  the real model's history, cache cold (median). Baseline in the same run: a naive render with one
  Segment and one new Style per cell. Goal ≤ 8 ms.
* ``tick_bytes`` – median bytes the app writes to the terminal per UI tick at 160×48 with steady live
  traffic (trades, marks, OI, candles, liquidations) into the real Engine; a driver counts the bytes.
  Baseline: a full repaint of the same screen. Goal ≤ 8 KiB.
* ``context_charts_ms`` – CPU ms to render the three context charts (textual-plotext, 160×48 layout) from a
  full ring of 2,048 samples, decimated to the chart width. Baseline: plotext rendering the raw samples at the
  same sizes. No goal; they render at most once a second, only when a sample was stored.
* ``context_redraw_bytes`` – bytes written on the tick that feeds the charts (160×48); ratio against a full
  repaint. Spread over the 5 s sample interval this is what the charts add to the line.
* ``idle_cpu_pct`` – process CPU (% of one core) while the app runs live at 10 fps with that traffic
  flowing in real time (full runs: the real ``liqtui --demo`` in tmux, simulator included). Baseline: the
  same app with no traffic. Goal ≤ 15 %.
* ``frame_ms`` / ``frame_ms_book`` – CPU ms of one UI tick at 10 fps on a 200×60 heatmap: 100 ms of live traffic
  applied, ``build_frame`` (reusing the previous frame: it bins the heat column) and the parts that changed
  rendered (heat strips when a slice closed; with the book layer on also the depth column, wall marks and, ``overlay_ms``, the
  resting-liquidity overlay), median over the run. ``frame_ms_book`` has the book layer on while the books of 4
  venues change 10×/s each (one diff per venue per tick, the seeded demo book); its ratio is against
  ``frame_ms`` measured in the same run (medians; ``mean_ratio`` of the means: the layer follows the books at
  most 4×/s, so most ticks reuse it). ``frame_ms`` also says the cost with the books flowing and the layer off.
* ``idle_cpu_pct_book`` – ``idle_cpu_pct``'s synthetic run with the book layer on and the books of 4 venues
  changing 10×/s each; its ratio is against the same run without books.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from textual.drivers.headless_driver import HeadlessDriver
from textual.strip import Strip
from textual_plotext.plot import Plot

from liqtui.core.events import Venue
from liqtui.ui.app import CONTEXT_REDRAW_MS, OVERLAY_WALL_X, LiqtuiApp
from liqtui.ui.context import ContextSeries
from liqtui.ui.render import HeatScale, heatmap_rows, naive_heatmap_rows
from liqtui.ui.synthetic import SyntheticBook, end_ts, live_events, make_engine
from liqtui.ui.themes import HeatPalette, load_theme
from liqtui.ui.view import ViewState, build_frame
from liqtui.ui.widgets.depth import book_colors, book_overlay, render_depth_column
from liqtui.ui.widgets.heatmap import HeatFrame

N_BARS = 720


class CountingDriver(HeadlessDriver):
    """A headless driver that lets Textual render (``is_headless`` False) and counts the bytes written."""

    bytes_written = 0

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CountingDriver.bytes_written += len(data.encode("utf-8"))


def _frame_ms(engine: Any, reps: int) -> tuple[float, float, float]:
    """(ours, naive) median CPU ms of this thread per frame, and our median wall ms.

    CPU time, because wall time on a shared, loaded machine mostly measures the wait for a core (seen
    here: wall median 11 ms with load 4 on 2 cores, minimum 3 ms); the wall median is reported too."""
    pal = HeatPalette(load_theme("dark"), "truecolor")
    price = float(engine.price)
    lo, hi = price * 0.94, price * 1.06
    values = engine.model.history("12h", 200, lo, hi, 120)
    app = LiqtuiApp(engine, colors="truecolor", lookback="12h")  # only to reuse its candle aggregation
    t1 = engine.model.last_ts
    candles = app._candles(t1 - 12 * 3_600_000, t1, 200)
    ours, naive, wall = [], [], []
    for _ in range(reps):
        w, t = time.perf_counter(), time.thread_time()
        f = HeatFrame(values, HeatScale(50.0, 1.0), pal, lo, hi, candles, price)
        strips = [Strip(s, 200) for s in heatmap_rows(f.upper, f.lower, pal, f.overlay)]
        ours.append((time.thread_time() - t) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
        assert len(strips) == 60
        t = time.thread_time()
        lv = HeatScale(50.0, 1.0).levels(values, pal.n_levels)
        naive_strips = [Strip(s, 200) for s in naive_heatmap_rows(lv[0::2], lv[1::2])]
        naive.append((time.thread_time() - t) * 1000)
        assert len(naive_strips) == 60
    return statistics.median(ours), statistics.median(naive), statistics.median(wall)


async def _tick_bytes(engine: Any, ticks: int) -> dict[str, float]:
    """Bytes per tick over ``ticks`` ticks of 100 ms, plus a full repaint as the baseline. The run starts just
    before a display column of the 12h heatmap closes, so one tick rebuilds the history picture."""
    now = [end_ts(N_BARS)]
    app = LiqtuiApp(
        engine, clock=lambda: now[0], colors="truecolor", lookback="12h", driver_class=CountingDriver
    )
    result: dict[str, float] = {}

    async def pilot_fn(pilot: Any) -> None:
        app._timer.pause()  # the benchmark steps the ticks itself
        for _ in range(5):
            await pilot.pause(0.05)
        # fast-forward the market so that, mid-run, a closing 1m bar starts a new display column
        lb_ms, width = 12 * 3_600_000, app.heatmap.size.width
        first_col = ((engine.model.last_ts * width) // lb_ms + 1) * lb_ms / width
        close_at = -(-int(first_col) // 60_000) * 60_000 + 60_000  # that bar arrives when it closes
        gap = close_at - ticks * 50 - now[0]
        if gap > 0:
            for ev in live_events(now[0], float(engine.price), gap):
                app._sink(ev)
            now[0] += gap
            app._tick()
            await pilot.pause(0.05)
        price = float(engine.price)
        per_tick: list[int] = []
        for _ in range(ticks):
            for ev in live_events(now[0], price, 100):
                app._sink(ev)
            now[0] += 100
            price = float(engine.price)
            before = CountingDriver.bytes_written
            app._tick()
            await pilot.pause(0.03)
            per_tick.append(CountingDriver.bytes_written - before)
        before = CountingDriver.bytes_written
        app.screen.refresh()  # baseline: one full repaint of the same screen
        await pilot.pause(0.05)
        result["full"] = CountingDriver.bytes_written - before
        result["median"] = statistics.median(per_tick)
        result["p95"] = sorted(per_tick)[int(0.95 * (len(per_tick) - 1))]
        result["max"] = max(per_tick)
        result["slices"] = app.heatmap.frames_drawn
        result.update(await _context_redraw(app, pilot, now))
        app.exit()

    await app.run_async(size=(160, 48), auto_pilot=pilot_fn)
    return result


def _fill_context(series: ContextSeries, end_ms: int, n: int) -> None:
    """``n`` seeded samples every ``series.interval_ms`` up to just before ``end_ms``."""
    rng = np.random.default_rng(3)
    oi = 9e9 * np.exp(np.cumsum(rng.normal(0, 4e-4, n)))
    funding = 1e-4 + 2e-5 * np.sin(np.arange(n) / 200)
    liq = np.cumsum(rng.gamma(0.3, 2e4, (2, n)), axis=1)
    t0 = end_ms - n * series.interval_ms
    for i in range(n):
        series.append(
            t0 + i * series.interval_ms, float(oi[i]), float(funding[i]), float(liq[0, i]), float(liq[1, i])
        )


def _raw_plot_ms(panel: Any, view: Any) -> float:
    """Baseline: plotext builds the same three charts from the raw (undecimated) samples."""
    t = time.thread_time()
    x = ((view.ts - view.ts[-1]) / 60_000).tolist()
    for chart, ys in (
        (panel.oi, [view.oi_usd / 1e9]),
        (panel.funding, [view.funding * 100]),
        (panel.liqs, [view.liq_long_usd / 1e6, view.liq_short_usd / 1e6]),
    ):
        plot = Plot()
        w, h = chart.size
        plot.plotsize(w, h)
        for y in ys:
            plot.plot(x, y.tolist(), marker="braille")
        plot.build()
    return (time.thread_time() - t) * 1000


async def _context_redraw(app: Any, pilot: Any, now: list[int]) -> dict[str, float]:
    """Bytes written by the tick that feeds the context charts a full ring, and their render CPU ms."""
    panel = app.context_panel
    if not panel.display:
        return {}
    series = app.context_series = ContextSeries()
    n = series.capacity - 2
    series.update(app.engine, now[0] - (n + 1) * series.interval_ms)  # binds the engine: its first sample
    _fill_context(series, now[0], n)
    now[0] += CONTEXT_REDRAW_MS + app.context_series.interval_ms
    draws = panel.oi.draws
    before = CountingDriver.bytes_written
    app._tick()
    await pilot.pause(0.1)
    assert panel.oi.draws == draws + 1, "the charts were not fed"
    out = {"ctx_bytes": CountingDriver.bytes_written - before}
    ours, raw = [], []
    view = app.context_series.view()
    for _ in range(5):
        t = time.thread_time()
        for chart in (panel.oi, panel.funding, panel.liqs):
            chart.render()
        ours.append((time.thread_time() - t) * 1000)
        raw.append(_raw_plot_ms(panel, view))
    out["ctx_ms"], out["ctx_raw_ms"] = statistics.median(ours), statistics.median(raw)
    return out


BOOK_VENUES = (Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.HYPERLIQUID)


def _books(engine: Any, start_ms: int) -> list[SyntheticBook]:
    """Seeded books of 4 venues around the engine's price, live at ``start_ms`` (snapshots applied)."""
    price = float(engine.price)
    books = [SyntheticBook(price, seed=3 + i, venue=v) for i, v in enumerate(BOOK_VENUES)]
    for b in books:
        for ev in b.start(start_ms, price):
            engine.apply(ev)
    return books


def _tick_ms(
    engine: Any, ticks: int, *, book: bool, overlay: bool = False, books_flow: bool | None = None
) -> tuple[float, float]:
    """(median, mean) CPU ms of one 10 fps UI tick (see the module docstring): the tick's events applied, frame
    built, the parts that changed rendered. ``book``: the layer on; ``books_flow`` (default: ``book``): each
    venue's book changing once per tick. The events are made before the clock starts (the simulators' own cost
    is not the UI's)."""
    pal = HeatPalette(load_theme("dark"), "truecolor")
    colors = book_colors(pal.spec)
    size = (200, 60)
    now = end_ts(N_BARS)
    books = _books(engine, now) if (book if books_flow is None else books_flow) else []
    view = ViewState(lookback="12h", book=book, book_overlay=overlay)
    prev = build_frame(engine, view, size, now)
    per: list[float] = []
    for _ in range(ticks):
        price = float(engine.price)
        evs: list[Any] = list(live_events(now, price, 100))
        for b in books:
            evs.extend(b.diffs(now, price, 100))
        t = time.thread_time()
        for ev in evs:
            engine.apply(ev)
        now += 100
        engine.tick(now)
        frame = build_frame(engine, view, size, now, previous=prev)
        heat = frame.heat
        assert heat is not None and frame.window is not None
        lo, hi = frame.window
        bk = frame.book
        if heat is not prev.heat or (bk is not None and bk.overlay is not (prev.book and prev.book.overlay)):
            f = HeatFrame(heat.values, heat.scale, pal, heat.lo, heat.hi, heat.candles, price)
            if bk is not None and bk.overlay is not None:
                f.overlay = {
                    **book_overlay(*bk.overlay, colors, pal, heat_upper=f.upper, x=OVERLAY_WALL_X),
                    **f.overlay,
                }
            strips = [Strip(segs, size[0]) for segs in heatmap_rows(f.upper, f.lower, pal, f.overlay)]
            assert len(strips) == size[1]
        if bk is not None and (prev.book is None or bk is not prev.book):
            render_depth_column(bk.profile, lo, hi, size[1], 8, colors, price=price, walls=bk.marks.walls)
        per.append((time.thread_time() - t) * 1000)
        prev = frame
    return statistics.median(per), statistics.fmean(per)


async def _cpu_pct(engine: Any, seconds: float, traffic: bool, books: bool = False) -> float:
    start = end_ts(N_BARS)
    t_wall0 = time.monotonic()
    app = LiqtuiApp(
        engine,
        clock=lambda: start + int((time.monotonic() - t_wall0) * 1000),
        colors="truecolor",
        lookback="12h",
        fps=10.0,
        driver_class=CountingDriver,
    )
    out: dict[str, float] = {}
    book_events: list[Any] = []  # made beforehand: the simulator's cost is not the app's
    if books:
        app.view.book = True
        price = float(engine.price)
        for b in _books(engine, start):
            book_events.extend(b.diffs(start, price, int((seconds + 3) * 1000)))
        book_events.sort(key=lambda ev: ev.ts)
    pending = iter(book_events)
    next_book: list[Any] = [next(pending, None)]

    async def feeder(sink: Any) -> None:
        t = start
        while True:
            await asyncio.sleep(0.05)
            target = start + int((time.monotonic() - t_wall0) * 1000)
            if traffic and target > t:
                price = float(engine.price)
                for ev in live_events(t, price, target - t):
                    sink(ev)
                while next_book[0] is not None and next_book[0].ts <= target:
                    sink(next_book[0])
                    next_book[0] = next(pending, None)
            t = target

    app._source = feeder

    async def pilot_fn(pilot: Any) -> None:
        await pilot.pause(1.0)  # warm-up: first frames drawn
        c0, w0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        out["pct"] = 100.0 * (time.process_time() - c0) / (time.monotonic() - w0)
        app.exit()

    await app.run_async(size=(160, 48), auto_pilot=pilot_fn)
    return out["pct"]


def _demo_cpu_pct(seconds: float) -> float | None:
    """Whole-process CPU of the real ``liqtui --demo`` (simulator included) at 10 fps in a tmux pane, after
    it went live; None when tmux or the command is missing or it never showed a frame."""
    tmux, exe = shutil.which("tmux"), shutil.which("liqtui")
    if not tmux or not exe:
        return None
    sock = f"liqtui-bench-{os.getpid()}"
    cmd = f"TERM=xterm-256color {shlex.quote(exe)} --demo --no-store --fps 10; sleep 120"
    subprocess.run(
        [tmux, "-L", sock, "new-session", "-d", "-s", "b", "-x", "160", "-y", "48", cmd], check=True
    )
    socket_path = subprocess.run(
        [tmux, "-L", sock, "display-message", "-p", "#{socket_path}"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            pane = subprocess.run(
                [tmux, "-L", sock, "capture-pane", "-p", "-t", "b"],
                check=False,
                capture_output=True,
                text=True,
            ).stdout
            if "● live" in pane and "Above price" in pane and "backfill" not in pane:
                break
            time.sleep(0.5)
        else:
            return None
        pid = subprocess.run(
            [tmux, "-L", sock, "list-panes", "-t", "b", "-F", "#{pane_pid}"],
            check=False,
            capture_output=True,
            text=True,
        ).stdout.strip()
        kids = subprocess.run(
            ["pgrep", "-P", pid], check=False, capture_output=True, text=True
        ).stdout.split()
        target = int(kids[0]) if kids else int(pid)
        hz = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{target}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / hz

        time.sleep(3.0)  # let the last backfilled bars and the first live minute settle
        c0, w0 = cpu(), time.monotonic()
        time.sleep(seconds)
        return 100.0 * (cpu() - c0) / (time.monotonic() - w0)
    finally:
        subprocess.run([tmux, "-L", sock, "kill-server"], check=False, capture_output=True)
        if socket_path.endswith(sock):  # our private socket only: tmux leaves the file behind
            Path(socket_path).unlink(missing_ok=True)


def run(quick: bool) -> list[dict]:
    """The UI benchmark rows (see the module docstring)."""
    engine = make_engine(N_BARS)
    ours, naive, wall = _frame_ms(engine, 15 if quick else 60)
    rows: list[dict] = [
        {
            "name": "frame_ms_200x60",
            "value": round(ours, 3),
            "unit": "ms",
            "ratio": round(ours / naive, 4),
            "goal": 8.0,
            "baseline_ms": round(naive, 3),
            "wall_ms": round(wall, 3),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    ]
    import copy

    tb = asyncio.run(_tick_bytes(copy.deepcopy(engine), 40 if quick else 200))
    rows.append(
        {
            "name": "tick_bytes",
            "value": tb["median"],
            "unit": "bytes",
            "ratio": round(tb["median"] / tb["full"], 4),
            "goal": 8192,
            "p95_bytes": tb["p95"],
            "max_bytes_slice_close": tb["max"],
            "heatmap_frames": tb["slices"],
            "baseline_full_repaint_bytes": tb["full"],
        }
    )
    if "ctx_ms" in tb:
        rows.append(
            {
                "name": "context_charts_ms",
                "value": round(tb["ctx_ms"], 2),
                "unit": "ms",
                "ratio": round(tb["ctx_ms"] / tb["ctx_raw_ms"], 4),
                "baseline_raw_ms": round(tb["ctx_raw_ms"], 2),
                "samples": 2048,
            }
        )
        rows.append(
            {
                "name": "context_redraw_bytes",
                "value": tb["ctx_bytes"],
                "unit": "bytes",
                "ratio": round(tb["ctx_bytes"] / tb["full"], 4),
                "baseline_full_repaint_bytes": tb["full"],
            }
        )
    ticks = 60 if quick else 300
    plain, plain_mean = _tick_ms(copy.deepcopy(engine), ticks, book=False)
    hidden, hidden_mean = _tick_ms(copy.deepcopy(engine), ticks, book=False, books_flow=True)
    booked, booked_mean = _tick_ms(copy.deepcopy(engine), ticks, book=True)
    overlay, overlay_mean = _tick_ms(copy.deepcopy(engine), ticks, book=True, overlay=True)
    rows.append(
        {
            "name": "frame_ms",
            "value": round(plain, 3),
            "unit": "ms",
            "mean_ms": round(plain_mean, 3),
            "ticks": ticks,
            "size": "200x60",
            "books_flowing_layer_off_ms": round(hidden, 3),
            "books_flowing_layer_off_mean_ms": round(hidden_mean, 3),
        }
    )
    rows.append(
        {
            "name": "frame_ms_book",
            "value": round(booked, 3),
            "unit": "ms",
            "ratio": round(booked / plain, 3),
            "mean_ms": round(booked_mean, 3),
            "mean_ratio": round(booked_mean / plain_mean, 3),
            "baseline_frame_ms": round(plain, 3),
            "overlay_ms": round(overlay, 3),
            "overlay_mean_ms": round(overlay_mean, 3),
            "book_updates_per_s": 10 * len(BOOK_VENUES),
            "venues": len(BOOK_VENUES),
        }
    )
    secs = 3.0 if quick else 10.0
    busy = asyncio.run(_cpu_pct(copy.deepcopy(engine), secs, traffic=True))
    idle = asyncio.run(_cpu_pct(copy.deepcopy(engine), secs, traffic=False))
    with_books = asyncio.run(_cpu_pct(copy.deepcopy(engine), secs, traffic=True, books=True))
    row = {
        "name": "idle_cpu_pct",
        "value": round(busy, 2),
        "unit": "%",
        "ratio": round(busy / max(idle, 0.01), 3),
        "goal": 15.0,
        "baseline_no_traffic_pct": round(idle, 2),
        "source": "synthetic live traffic",
    }
    if not quick:  # the real demo (simulator + feeds + UI in one process): slower to start, so full runs only
        demo = _demo_cpu_pct(10.0)
        if demo is not None:
            row.update(
                value=round(demo, 2),
                ratio=round(demo / max(idle, 0.01), 3),
                source="liqtui --demo",
                synthetic_pct=round(busy, 2),
            )
    rows.append(row)
    rows.append(
        {
            "name": "idle_cpu_pct_book",
            "value": round(with_books, 2),
            "unit": "%",
            "ratio": round(with_books / max(busy, 0.01), 3),
            "goal": 15.0,
            "baseline_no_books_pct": round(busy, 2),
            "book_updates_per_s": 10 * len(BOOK_VENUES),
            "source": "synthetic live traffic + 4 books at 10/s, book layer on",
        }
    )
    return rows
