"""Order-book benchmarks: the cost of keeping books right and of drawing them in the model's buckets.

* ``book_updates_per_s``: Binance ``depth@100ms`` diff frames (made by the simulator's resting book, ~10
  levels each, around a 1,000-level book) through :class:`BinanceBookKeeper` (typed decode, ``pu`` chain,
  levels checked) and into :class:`DepthBook` (the engine's consumer); its ratio is against a bare apply of the
  same frames: a typed msgspec decode of only ``b``/``a`` and a plain dict set/pop per level, same run.
* ``book_cpu_pct_10hz``: the share of one core the book layer takes at 10 updates/s on each of 4 venues
  (from ``book_updates_per_s``): what the feeds add to idle CPU.
* ``depth_profile_ms``: :meth:`DepthBook.profile` (4 venues × 2 × 1,000 levels into a 0.1 % grid) plus
  :meth:`DepthBook.record`: the per-frame cost the UI pays when the book changed; against a bare
  ``numpy.histogram`` of the same levels.
* ``depth_history_ms``: :meth:`DepthBook.history` for the overlay (200 columns × 60 rows out of 12 hours of
  one-minute slices); its ratio is against the same bare histogram.
"""

from __future__ import annotations

import json
import time

import msgspec
import numpy as np

from liqtui.core.book_events import BookState, BookStatus, BookUpdate
from liqtui.core.depth import DepthBook
from liqtui.core.events import Venue
from liqtui.core.grid import PriceGrid
from liqtui.sim.depth import DepthSim
from liqtui.venues.binance.book import BinanceBookKeeper


class _Bare(msgspec.Struct):
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]


class _BareEnv(msgspec.Struct):
    data: _Bare


def _frames(n: int) -> tuple[bytes, list[bytes]]:
    sim = DepthSim("BTCUSDT", 60_000.0, seed=11, levels=1000)
    snap = json.dumps(sim.snapshot()).encode()
    price = 60_000.0
    rng = np.random.default_rng(5)
    out = []
    for i in range(n):
        price *= 1.0 + rng.normal(0, 2e-5)
        out.append(json.dumps({"stream": sim.stream, "data": json.loads(sim.step(price, i * 100))}).encode())
    return snap, out


def _best_pair(fa, fb, reps: int) -> tuple[float, float]:
    best_a = best_b = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fa()
        t1 = time.perf_counter()
        fb()
        t2 = time.perf_counter()
        best_a, best_b = min(best_a, t1 - t0), min(best_b, t2 - t1)
    return best_a, best_b


def bench_updates(quick: bool) -> list[dict]:
    snap, data = _frames(2_000 if quick else 6_000)
    reps = 5 if quick else 9

    def keep() -> None:
        k = BinanceBookKeeper("BTCUSDT")
        depth = DepthBook()
        k.reset(0)
        k.on_frame(data[0], 0)
        for ev in k.on_snapshot(snap, 0):
            depth.apply(ev)
        apply = depth.apply
        on_frame = k.on_frame
        for i, fr in enumerate(data[1:]):  # the first one is in the snapshot's catch-up
            for ev in on_frame(fr, i):
                apply(ev)
        assert k.gaps == 0 and k.errors == 0 and k.state is BookState.LIVE

    bare = msgspec.json.Decoder(_BareEnv, strict=False)

    def baseline() -> None:
        bids: dict[float, float] = {}
        asks: dict[float, float] = {}
        for fr in data:
            d = bare.decode(fr).data
            for side, rows in ((bids, d.b), (asks, d.a)):
                for p, q in rows:
                    if q == 0.0:
                        side.pop(p, None)
                    else:
                        side[p] = q

    t_keep, t_base = _best_pair(keep, baseline, reps)
    ups = len(data) / t_keep
    base = len(data) / t_base
    return [
        {
            "name": "book_updates_per_s",
            "value": round(ups),
            "unit": "updates/s",
            "ratio": round(ups / base, 3),
            "baseline": round(base),
            "frames": len(data),
            "levels_per_update": round(
                sum(len(d["data"]["b"]) + len(d["data"]["a"]) for d in map(json.loads, data)) / len(data), 1
            ),
        },
        {
            "name": "book_cpu_pct_10hz",
            "value": round(40 / ups * 100, 4),
            "unit": "% of a core",
            "ratio": round(ups / base, 3),
            "note": "4 venues × 10 updates/s",
        },
    ]


def bench_profile(quick: bool) -> list[dict]:
    grid = PriceGrid(60_000.0, bucket_pct=0.1, range_pct=60.0)
    depth = DepthBook()
    rng = np.random.default_rng(3)
    all_px = []
    all_usd = []
    for v in Venue:
        sim = DepthSim(
            "X", 60_000.0 * (1 + rng.normal(0, 1e-4)), seed=int(rng.integers(1 << 30)), levels=1000
        )
        bids = tuple((p * 0.1, q) for p, q in sim.bids.items())
        asks = tuple((p * 0.1, q) for p, q in sim.asks.items())
        depth.apply(BookUpdate(venue=v, symbol="X", ts=0, recv_ts=0, bids=bids, asks=asks, is_snapshot=True))
        depth.apply(BookStatus(venue=v, symbol="X", ts=0, recv_ts=0, state=BookState.LIVE))
        for side in (bids, asks):
            all_px += [p for p, _ in side]
            all_usd += [p * q for p, q in side]
    px = np.array(all_px)
    usd = np.array(all_usd)
    reps = 20 if quick else 60
    t_mine, t_base = _best_pair(
        lambda: depth.record(1_000, grid), lambda: np.histogram(px, bins=grid.edges, weights=usd), reps
    )
    for m in range(720):  # 12 hours of one-minute slices
        depth.record(m * 60_000, grid)
    lo, hi = 60_000.0 * 0.9, 60_000.0 * 1.1
    t_hist = float("inf")
    for _ in range(5 if quick else 15):
        t0 = time.perf_counter()
        depth.history(200, lo, hi, 60, span_ms=720 * 60_000, now_ms=720 * 60_000)
        t_hist = min(t_hist, time.perf_counter() - t0)
    return [
        {
            "name": "depth_history_ms",
            "value": round(t_hist * 1000, 2),
            "unit": "ms",
            "ratio": round(t_hist / t_base, 1),
            "note": "200 columns × 60 rows from 720 one-minute slices (the overlay; redrawn once a slice)",
        },
        {
            "name": "depth_profile_ms",
            "value": round(t_mine * 1000, 3),
            "unit": "ms",
            "ratio": round(t_mine / t_base, 3),
            "baseline_ms": round(t_base * 1000, 3),
            "levels": len(px),
            "buckets": int(grid.n),
        },
    ]


def run(quick: bool) -> list[dict]:
    """Benchmark rows for ``python -m benchmarks``."""
    return bench_updates(quick) + bench_profile(quick)
