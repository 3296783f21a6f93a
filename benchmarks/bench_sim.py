"""Demo exchange benchmarks: start-up time of the demo and the zones scorecard against the simulator's truth.

* ``demo_startup_s``: ``DemoExchange`` ready to serve (183 days of history generated, both servers listening),
  best of N; ``ratio`` against a same-run baseline: the same exchange with no history (servers + live market
  only), so the ratio isolates what the history costs. Goal ≤ 1 s.
* ``history_gen_s``: ``MarketSim`` construction alone (183 days), best of N.
* ``live_step_us``: cost of one simulated live second (trades, forced orders, kline, mark frames).
* ``zones_hit_rate``: share of the liquidated notional of the following 12 h inside the real model's top-5
  zones per side (1d lookback), mean over seeds; ``ratio`` against the naive baseline scored on the same
  liquidations (zones of the same widths at fixed distances from the price,
  :func:`liqtui.sim.scorecard.naive_report`); a deliberately broken model (2x-only tiers) is reported
  alongside. Goal ≥ 0.70.
* ``zones_hit_rate_existing``: the same share among positions already open when the zones were drawn.
* ``model_truth_corr_{7d,1M}``: the map against the truth (:mod:`liqtui.sim.truth`): Pearson correlation of
  the model's standing estimate with the simulator's true standing USD per 0.5 % bucket within ±15 % of the
  price, per side, mean over seeds and sides; ``ratio`` against the naive baseline (today's open interest
  opened at today's price over the model's tiers; None when that mean is below 0.05, see ``difference``), with p10/p90
  over seeds and sides. Goal ≥ 0.70.
* ``model_truth_recall_{7d,1M}``: share of the true five biggest clusters inside the top-5 zones, same
  layout. Goal ≥ 0.70.
* ``model_truth_realized_{7d,1M}``: the second line for the same zones: share of the notional liquidated in the
  next 12 h inside them, against the fixed-distance baseline.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from liqtui.core.model import ModelConfig
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS, run_scorecard
from liqtui.sim.server import DemoExchange
from liqtui.sim.truth import run_truth, summarize


async def _ready_s(history_days: float) -> float:
    t0 = time.perf_counter()
    async with DemoExchange(seed=0, start_ms=DEFAULT_START_MS, history_days=history_days):
        return time.perf_counter() - t0


def _best(fn: Callable[[], float], n: int) -> float:
    return min(fn() for _ in range(n))


def _gen_s() -> float:
    t0 = time.perf_counter()
    MarketSim(seed=0, start_ms=DEFAULT_START_MS)
    return time.perf_counter() - t0


def _live_step_us() -> float:
    m = MarketSim(seed=0, start_ms=DEFAULT_START_MS, history_days=1)
    n = 600
    t0 = time.perf_counter()
    m.advance(m.now_ms + n * 1000)
    return (time.perf_counter() - t0) / n * 1e6


def _hit_rates(
    seeds: range, history_days: float, model_config: ModelConfig | None = None
) -> tuple[float, float, float]:
    """Mean (share, share among existing positions, naive baseline share) over seeds."""
    cards = [
        run_scorecard(s, lookback="1d", horizon_h=12, history_days=history_days, model_config=model_config)[0]
        for s in seeds
    ]

    def mean(xs: list[float | None]) -> float:
        return statistics.fmean(x for x in xs if x is not None)

    return (
        mean([c.share for c in cards]),
        mean([c.share_existing for c in cards]),
        mean([c.naive_share for c in cards]),
    )


def _truth_rows(seeds: range) -> list[dict]:
    cards = [c for s in seeds for c in run_truth(s, lookbacks=("7d", "1M"))]
    rows = []
    for lb, entry in summarize(cards).items():
        for metric, goal in (("corr", 0.70), ("recall", 0.70)):
            m, n = entry[metric]["model"], entry[metric]["naive"]
            ratio = None
            if m["mean"] is not None and n["mean"] is not None and n["mean"] >= 0.05:
                ratio = round(m["mean"] / n["mean"], 2)
            rows.append(
                {
                    "name": f"model_truth_{metric}_{lb}",
                    "value": m["mean"],
                    "unit": "pearson r" if metric == "corr" else "share",
                    "goal": goal,
                    "ratio": ratio,  # None when the baseline is < 0.05: a ratio to ~0 misleads
                    "difference": None
                    if m["mean"] is None or n["mean"] is None
                    else round(m["mean"] - n["mean"], 4),
                    "naive_baseline": n["mean"],
                    "median": m["median"],
                    "p10": m["p10"],
                    "p90": m["p90"],
                    "naive_p10": n["p10"],
                    "naive_p90": n["p90"],
                    "seeds": len(seeds),
                    "baseline": "today's open interest opened at today's price over the model's tiers",
                }
            )
        m, n = entry["realized"]["model"], entry["realized"]["naive"]
        rows.append(
            {
                "name": f"model_truth_realized_{lb}",
                "value": m["mean"],
                "unit": "share",
                "ratio": round(m["mean"] / n["mean"], 2) if m["mean"] is not None and n["mean"] else None,
                "naive_baseline": n["mean"],
                "p10": m["p10"],
                "p90": m["p90"],
                "seeds": len(seeds),
                "baseline": "zones of the same widths at fixed distances from the price",
            }
        )
    return rows


def run(quick: bool) -> list[dict]:
    reps = 2 if quick else 5
    base = _best(lambda: asyncio.run(_ready_s(0)), reps)
    startup = _best(lambda: asyncio.run(_ready_s(183)), reps)
    gen = _best(_gen_s, reps)
    step = _best(_live_step_us, reps)
    seeds = range(3 if quick else 8)
    days = 30 if quick else 183
    hit, existing, naive = _hit_rates(seeds, history_days=days)
    two_x = ModelConfig(tiers="custom", custom_tiers={"2": 1.0})
    broken = _hit_rates(seeds, history_days=days, model_config=two_x)[0]
    truth = _truth_rows(range(4 if quick else 20))
    return [
        *truth,
        {
            "name": "demo_startup_s",
            "value": round(startup, 3),
            "unit": "s",
            "ratio": round(startup / base, 2),
            "goal": 1.0,
            "baseline_s": round(base, 3),
            "baseline": "the same exchange without history",
        },
        {"name": "history_gen_s", "value": round(gen, 3), "unit": "s", "ratio": round(gen / startup, 2)},
        {
            "name": "live_step_us",
            "value": round(step, 1),
            "unit": "us/market-second",
            "ratio": round(step / 1e6, 5),
            "baseline": "one second of wall time (CPU share at speed 1)",
        },
        {
            "name": "zones_hit_rate",
            "value": round(hit, 3),
            "unit": "share",
            "goal": 0.70,
            "ratio": round(hit / naive, 2) if naive > 0 else None,
            "naive_baseline": round(naive, 3),
            "broken_model": round(broken, 3),
            "seeds": len(seeds),
            "history_days": days,
        },
        {
            "name": "zones_hit_rate_existing",
            "value": round(existing, 3),
            "unit": "share",
            "ratio": round(existing / hit, 2) if hit > 0 else None,
        },
    ]
