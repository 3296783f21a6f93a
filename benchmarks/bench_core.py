"""Core benchmarks: 6-month rebuild, lookback switch, live step rate, memory.

Each row has a same-run baseline in ``ratio``:

* ``rebuild_6m_s`` — ``HeatModel.step_many`` over six months of 1-minute bars (262,800), against a
  plain numpy pass over the same bars (liquidation buckets of every tier + one ``bincount`` seed
  into a single array: no lookbacks, no consumption, no ledger). Goal ≤ 2 s.
* ``lookback_switch_ms_6m`` — after a new bar on the loaded 6-month model, the worst time to switch
  to a lookback (profile by tier + zones), against a naive full recompute of that lookback's profile
  from the cohort log. Goal ≤ 50 ms.
* ``model_steps_per_s`` — live single ``step()`` calls per second on the loaded model, against the
  per-bar rate of the batch path.
* ``rss_mb`` — resident memory with the 6-month model loaded, against the process before building it.
* ``history_ms_6m`` — a 200 × 120 time × price picture of the 6M lookback, against the live profile read.
* ``engine_trades_per_s`` — ``Engine.apply`` on trades (the per-frame cost the feeds pay), against a bare
  loop that only reads each trade's price.
"""

from __future__ import annotations

import gc
import time

import numpy as np

from liqtui.core.model import LOOKBACKS, HeatModel, bars_from_arrays

SIX_MONTHS_1M = 180 * 24 * 60 + 3 * 24 * 60  # a little over 6 months so the 6M window is full


def _bars(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p0 = 60_000.0
    c = p0 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    o = np.concatenate([[p0], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.0004, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.0004, n)))
    oi = 5e9 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    return bars_from_arrays(ts, o, h, lo, c, taker_buy_share=rng.uniform(0.3, 0.7, n), oi_usd=oi)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20
    except OSError:  # pragma: no cover - non-Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline_pass(bars: np.ndarray, model: HeatModel) -> float:
    """A plain numpy pass: every tier's liquidation bucket, then one bincount seed (no model logic)."""
    t0 = time.perf_counter()
    vwap = (bars["high"] + bars["low"] + bars["close"]) / 3
    ratios = model.layout.lp_ratio  # (2, T) LP/EP per side and tier
    step = model.grid.step if model.grid is not None else np.log1p(0.001)
    k = np.floor(np.log(vwap[:, None, None] * ratios[None]) / step).astype(np.int64)
    d = np.maximum(np.diff(bars["oi_usd"] / bars["close"], prepend=np.nan), 0.0)
    w = np.nan_to_num(d * vwap)[:, None, None] * model.layout.w[None, None, :]
    k -= k.min()
    np.bincount(k.reshape(-1), weights=np.broadcast_to(w, k.shape).reshape(-1))
    return time.perf_counter() - t0


def _naive_profile_ms(model: HeatModel, lookback: str) -> float:
    """Recompute one lookback from scratch out of the cohort log (what an unincremental model does)."""
    from liqtui.core.cohorts import ALL
    from liqtui.core.layout import values
    from liqtui.core.model import LOOKBACK_MS

    st = model.state
    assert st.grid is not None
    t0 = time.perf_counter()
    win = st.windows
    arr = np.zeros_like(win.arr[ALL])
    start = win.log.first_after(model.last_ts - LOOKBACK_MS[lookback])
    win.apply_rows(arr, start, win.log.end, +1.0, st.grid, model.layout)
    values(arr, st.lnD, st.lnC).sum(axis=1)
    return (time.perf_counter() - t0) * 1000


def run(quick: bool) -> list[dict]:
    """Benchmark rows (see the module docstring). ``quick`` only repeats less."""
    rows: list[dict] = []
    gc.collect()
    rss0 = _rss_mb()
    bars = _bars(SIX_MONTHS_1M)
    rss_bars = _rss_mb()
    model = HeatModel()
    t0, c0 = time.perf_counter(), time.process_time()
    model.step_many(bars)
    rebuild, rebuild_cpu = time.perf_counter() - t0, time.process_time() - c0
    baseline = min(_baseline_pass(bars, model) for _ in range(1 if quick else 3))
    rows.append(
        {
            "name": "rebuild_6m_s",
            "value": round(rebuild, 3),
            "unit": "s",
            "ratio": round(rebuild / baseline, 1),
            "goal": 2.0,
            "bars": len(bars),
            "cpu_s": round(rebuild_cpu, 3),
        }
    )
    rss = _rss_mb()
    rows.append(
        {
            "name": "rss_mb",
            "value": round(rss - (rss_bars - rss0), 1),
            "unit": "MiB",
            "ratio": round((rss - (rss_bars - rss0)) / rss0, 2),
            "model_mb": round(rss - rss_bars, 1),
        }
    )

    # live single steps on the loaded model
    last = bars[-1]
    t_next = int(last["ts"])
    p, oi = float(last["close"]), float(last["oi_usd"])
    rng = np.random.default_rng(3)
    n_steps = 200 if quick else 1000
    t0 = time.perf_counter()
    for _ in range(n_steps):
        t_next += 60_000
        c = p * float(np.exp(rng.normal(0, 0.0008)))
        oi *= float(np.exp(rng.normal(0, 0.0005)))
        model.step(t_next, p, max(p, c) * 1.0002, min(p, c) * 0.9998, c, taker_buy_share=0.5, oi_usd=oi)
        p = c
    steps_s = n_steps / (time.perf_counter() - t0)
    rows.append(
        {
            "name": "model_steps_per_s",
            "value": round(steps_s, 1),
            "unit": "steps/s",
            "ratio": round(steps_s / (len(bars) / rebuild), 4),
        }
    )

    # lookback switch after a fresh bar: profile by tier + zones, worst lookback
    model.zones("6M")  # warm numpy's percentile machinery once, outside the timing
    worst, worst_naive = 0.0, 0.0
    for _ in range(2 if quick else 5):
        t_next += 60_000
        model.step(t_next, p, p * 1.001, p * 0.999, p, taker_buy_share=0.5, oi_usd=oi * 1.0001)
        for lb in LOOKBACKS:
            t0 = time.perf_counter()
            model.profile_by_tier(lb)
            model.zones(lb)
            worst = max(worst, (time.perf_counter() - t0) * 1000)
    worst_naive = max(_naive_profile_ms(model, lb) for lb in ("6M",))
    t0 = time.perf_counter()
    for _ in range(5):
        model.history("6M", 200, p * 0.94, p * 1.06, 120)
    hist_ms = (time.perf_counter() - t0) / 5 * 1000
    t_next += 60_000
    model.step(t_next, p, p, p, p, oi_usd=oi)  # a new version: the next read is not cached
    t0 = time.perf_counter()
    model.profile("6M")
    prof_ms = (time.perf_counter() - t0) * 1000
    rows.append({"name": "history_ms_6m", "value": round(hist_ms, 3), "unit": "ms",
                 "ratio": round(hist_ms / max(prof_ms, 1e-3), 2)})  # fmt: skip
    rows.append(_engine_row(quick))
    rows.append(
        {
            "name": "lookback_switch_ms_6m",
            "value": round(worst, 3),
            "unit": "ms",
            "ratio": round(worst / worst_naive, 4),
            "goal": 50.0,
            "naive_ms": round(worst_naive, 1),
        }
    )
    return rows


def _engine_row(quick: bool) -> dict:
    from liqtui.core.engine import Engine
    from liqtui.core.events import TakerSide, Trade, Venue

    n = 100_000 if quick else 500_000
    trades = [
        Trade(venue=Venue.BINANCE, symbol="BTCUSDT", ts=i, recv_ts=i, price=60_000.0 + (i % 97), qty=0.01,
              side=TakerSide.BUY)
        for i in range(n)
    ]  # fmt: skip
    eng = Engine(HeatModel())
    t0 = time.perf_counter()
    for ev in trades:
        eng.apply(ev)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    last = 0.0
    for ev in trades:
        last = ev.price
    base = time.perf_counter() - t0 + 1e-9
    assert last > 0
    return {
        "name": "engine_trades_per_s",
        "value": round(n / dt),
        "unit": "events/s",
        "ratio": round(dt / base, 1),
        "goal": 300_000,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    for r in run(quick=True):
        print(json.dumps(r))
