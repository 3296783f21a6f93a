"""How well estimated zones caught what was then liquidated: the model's scorecard against the sim's truth.

``score(report, realized)``: of the liquidated notional in a window after the report, the share that fell
inside the report's top zones of its own side (liquidated longs inside the zones *below* the price,
liquidated shorts inside the zones *above*). The model's goal is ≥ 70 %.

``run_scorecard(...)``: end to end with the real estimator — a seeded :class:`~liqtui.sim.market.MarketSim`
generates its history, the history goes through :class:`liqtui.core.engine.Engine` (as normalised events)
into a :class:`liqtui.core.model.HeatModel`, zones are taken, the market runs on for ``horizon_h`` and the
realized liquidations are scored. Pure (numpy + msgspec), no textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from liqtui.core.events import Liquidation, PositionSide
from liqtui.core.zones import Zone, ZoneReport

if TYPE_CHECKING:
    from liqtui.sim.market import MarketSim

__all__ = [
    "DEFAULT_START_MS",
    "NAIVE_DISTANCES_PCT",
    "Scorecard",
    "SideScore",
    "model_bars",
    "naive_report",
    "run_scorecard",
    "score",
]

#: A fixed start for reproducible scorecards (2026-06-01T00:00Z).
DEFAULT_START_MS = 1_780_272_000_000


class SideScore(msgspec.Struct, frozen=True):
    """One side: liquidated notional in the window, the part inside that side's zones, and the share."""

    side: str  # "long" (liquidated longs, zones below) | "short" (liquidated shorts, zones above)
    zones: int
    realized_usd: float
    inside_usd: float
    share: float | None  # None when nothing of this side was liquidated
    n: int


class Scorecard(msgspec.Struct, frozen=True):
    """Both sides and the overall share (inside / realized notional, both sides together)."""

    lookback: str
    price: float
    start_ms: int
    end_ms: int
    long: SideScore
    short: SideScore
    realized_usd: float
    inside_usd: float
    share: float | None
    tolerance_pct: float = 0.0
    # the same share restricted to positions already open at ``start_ms`` (when opening times are known):
    # how well the zones located the levels that existed when they were drawn
    share_existing: float | None = None
    existing_usd: float | None = None
    # a naive baseline scored on the same liquidations: zones of the same widths at fixed distances from
    # the price (where 100x..5x positions opened at the current price would be liquidated)
    naive_share: float | None = None


#: Distances (%) of the naive baseline's zones from the price.
NAIVE_DISTANCES_PCT: tuple[float, ...] = (0.6, 1.5, 3.5, 8.0, 17.0)


def naive_report(report: ZoneReport) -> ZoneReport:
    """The naive baseline for ``report``: per side, zones as wide as the report's (mean width) centred at
    :data:`NAIVE_DISTANCES_PCT` from its price. No history, no open interest: what a model must beat."""

    def side(zones: list[Zone], name: str, sign: int) -> list[Zone]:
        width = sum(z.high / z.low - 1 for z in zones) / len(zones) if zones else 0.01
        out = []
        for d in NAIVE_DISTANCES_PCT[: max(1, len(zones))]:
            mid = report.price * (1 + sign * d / 100)
            half = (1 + width) ** 0.5
            lo, hi = mid / half, mid * half
            lo, hi = (max(lo, report.price), hi) if sign > 0 else (lo, min(hi, report.price))  # own side
            out.append(
                Zone(
                    side=name,
                    low=lo,
                    high=hi,
                    peak=mid,
                    usd=0.0,
                    share=0.0,
                    distance_pct=sign * d,
                    cum_usd=0.0,
                    tiers={},
                    confluence=False,
                )
            )
        return out

    return msgspec.structs.replace(
        report, above=side(report.above, "short", 1), below=side(report.below, "long", -1)
    )


def _inside(price: float, zones: Sequence[Zone], tol: float) -> bool:
    return any(z.low * (1 - tol) <= price <= z.high * (1 + tol) for z in zones)


def _side_score(name: str, zones: Sequence[Zone], liqs: list[Liquidation], tol: float) -> SideScore:
    total = sum(x.usd for x in liqs)
    inside = sum(x.usd for x in liqs if _inside(x.price, zones, tol))
    return SideScore(
        side=name,
        zones=len(zones),
        realized_usd=total,
        inside_usd=inside,
        share=inside / total if total > 0 else None,
        n=len(liqs),
    )


def score(
    report: ZoneReport,
    realized: Sequence[Liquidation],
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    top_n: int = 5,
    tolerance_pct: float = 0.0,
    opened_ms: Sequence[int] | None = None,
) -> Scorecard:
    """Score ``report`` against the liquidations of ``realized`` with ``start_ms ≤ ts < end_ms``.

    ``start_ms`` defaults to the report's time. Only the first ``top_n`` zones per side count.
    ``tolerance_pct`` widens every zone by that percentage on both edges (0: exact). ``opened_ms`` (parallel
    to ``realized``: when each position was opened) adds ``share_existing``, the share among positions that
    were already open at ``start_ms``."""
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if not (0.0 <= tolerance_pct < 50.0):
        raise ValueError(f"tolerance_pct must be within [0, 50), got {tolerance_pct}")
    if opened_ms is not None and len(opened_ms) != len(realized):
        raise ValueError("opened_ms must have one opening time per realized liquidation")
    t0 = report.ts if start_ms is None else start_ms
    t1 = end_ms if end_ms is not None else 2**62
    if t1 < t0:
        raise ValueError(f"end_ms {t1} is before start_ms {t0}")
    tol = tolerance_pct / 100.0
    keep = [i for i, x in enumerate(realized) if t0 <= x.ts < t1]
    window = [realized[i] for i in keep]
    ls, ss = _sides(report, window, top_n, tol)
    total, inside = ls.realized_usd + ss.realized_usd, ls.inside_usd + ss.inside_usd
    share_existing = existing_usd = None
    if opened_ms is not None:
        el, es = _sides(report, [realized[i] for i in keep if opened_ms[i] < t0], top_n, tol)
        existing_usd = el.realized_usd + es.realized_usd
        share_existing = (el.inside_usd + es.inside_usd) / existing_usd if existing_usd > 0 else None
    last = max((x.ts for x in window), default=t0)
    return Scorecard(
        lookback=report.lookback,
        price=report.price,
        start_ms=t0,
        end_ms=end_ms if end_ms is not None else last + 1,
        long=ls,
        short=ss,
        realized_usd=total,
        inside_usd=inside,
        share=inside / total if total > 0 else None,
        tolerance_pct=tolerance_pct,
        share_existing=share_existing,
        existing_usd=existing_usd,
    )


def _sides(
    report: ZoneReport, window: list[Liquidation], top_n: int, tol: float
) -> tuple[SideScore, SideScore]:
    longs = [x for x in window if x.side is PositionSide.LONG]
    shorts = [x for x in window if x.side is PositionSide.SHORT]
    return (
        _side_score("long", report.below[:top_n], longs, tol),
        _side_score("short", report.above[:top_n], shorts, tol),
    )


def model_bars(market: MarketSim, since_ms: int | None = None) -> np.ndarray:
    """The market's stored bars (mixed resolution) as a :data:`liqtui.core.model.BAR_DTYPE` array, the way
    the REST backfill hands history to ``HeatModel.step_many`` (OI in USD at each bar's close)."""
    from liqtui.core.model import bars_from_arrays

    b = market.store.bars
    if since_ms is not None:
        b = b.take(np.flatnonzero(b.ts >= since_ms))
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(b.v > 0, b.q / b.v, np.nan)
        share = np.where(b.v > 0, b.tbv / b.v, np.nan)
    return bars_from_arrays(
        b.ts,
        b.o,
        b.h,
        b.l,
        b.c,
        volume=b.v,
        vwap=vwap,
        taker_buy_share=share,
        oi_usd=b.oi * b.c,
        interval_s=b.dur // 1000,
    )


def run_scorecard(
    seed: int = 0,
    *,
    lookback: str = "1d",
    horizon_h: float = 12.0,
    history_days: float = 183,
    start_ms: int = DEFAULT_START_MS,
    top_n: int = 5,
    threshold_pct: float = 50.0,
    model_config: object | None = None,
    tolerance_pct: float = 0.0,
    per_bar: bool = False,
    sim_config: object | None = None,
) -> tuple[Scorecard, ZoneReport]:
    """End to end: simulate, estimate with the real model, forecast, run the market on, score.

    The history reaches the model as the app's backfill delivers it (``HeatModel.step_many`` on the whole
    history) or, with ``per_bar``, as normalised events through :class:`liqtui.core.engine.Engine` one closed
    candle at a time (the live path; ~20x slower). Returns the scorecard and the zone report it scored.
    ``model_config`` is a :class:`liqtui.core.model.ModelConfig` (default settings when None), ``sim_config``
    a :class:`liqtui.sim.market.SimConfig`."""
    from liqtui.core.engine import Engine
    from liqtui.core.model import HeatModel, ModelConfig
    from liqtui.sim.market import MarketSim, SimConfig

    if horizon_h <= 0:
        raise ValueError(f"horizon_h must be positive, got {horizon_h}")
    if model_config is not None and not isinstance(model_config, ModelConfig):
        raise TypeError("model_config must be a liqtui.core.model.ModelConfig")
    if sim_config is not None and not isinstance(sim_config, SimConfig):
        raise TypeError("sim_config must be a liqtui.sim.market.SimConfig")
    market = MarketSim(seed, start_ms=start_ms, history_days=history_days, config=sim_config)
    engine = Engine(HeatModel(model_config), symbol="BTC")
    if per_bar:
        for ev in market.history_events():
            engine.apply(ev)
    else:
        engine.model.step_many(model_bars(market))
    report = engine.model.zones(lookback, threshold_pct=threshold_pct, top_n=top_n)
    t0, n0 = market.now_ms, len(market.realized)
    t1 = t0 + int(horizon_h * 3_600_000)
    market.fast_forward(t1)
    realized = market.realized[n0:]
    card = score(
        report,
        realized,
        start_ms=t0,
        end_ms=t1,
        top_n=top_n,
        tolerance_pct=tolerance_pct,
        opened_ms=market.realized_opened_ms[n0:],
    )
    naive = score(
        naive_report(report), realized, start_ms=t0, end_ms=t1, top_n=top_n, tolerance_pct=tolerance_pct
    )
    return msgspec.structs.replace(card, naive_share=naive.share), report
