"""The zone forecast: recent market activity and the USD expected to be liquidated within a horizon.

A heatmap's zones answer "where will positions be force-closed next". With ``zone_horizon_h`` > 0 a
bucket's strength is its standing estimate plus the levels that positions opened meanwhile at the recent
opening rate will add (``zone_new_positions``: entries spread around the price as it diffuses over the
horizon), each weighted by the probability that a driftless price with the recent volatility touches the
bucket within the horizon (``zone_reach``: ``erfc(|ln(level/price)| / (σ·√(2H)))``). Both rates are
exponentially weighted over ``activity_half_life_h`` (:class:`Activity`).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from liqtui.core.layout import SIDES, Layout
from liqtui.core.model_config import HOUR_MS, ModelConfig

__all__ = ["Activity", "forecast_strength", "reach"]

_LN2 = math.log(2.0)


class Activity(msgspec.Struct):
    """Exponentially weighted market activity (memory ``activity_half_life_h``): price variance per hour
    (Parkinson's high-low estimator, so coarse backfill bars count too) and USD seeded per side and hour."""

    var: float = 0.0  # Σ w·variance of each bar (log-price²)
    hours: float = 0.0  # Σ w·bar duration (h)
    seeded: tuple[float, float] = (0.0, 0.0)  # Σ w·USD seeded (long, short)
    ts: int = 0  # the time the sums are weighted to (ms)

    def track(self, b: np.ndarray, rows: np.ndarray, side_usd: np.ndarray, half_life_h: float) -> None:
        """Fold a chunk's bars ``b`` (and the USD per side its seeding ``rows`` opened) into the sums."""
        t_end = int(b["ts"][-1])
        tau_h = half_life_h / _LN2
        keep = math.exp(-(t_end - self.ts) / HOUR_MS / tau_h) if self.ts else 0.0
        w = np.exp(-(t_end - b["ts"]) / HOUR_MS / tau_h)
        var = np.log(b["high"] / b["low"]) ** 2 / (4.0 * _LN2)
        seeded = (side_usd * w[rows][:, None]).sum(axis=0) if len(rows) else np.zeros(2)
        self.var = self.var * keep + float((var * w).sum())
        self.hours = self.hours * keep + float((b["interval_s"] / 3600.0 * w).sum())
        self.seeded = (self.seeded[0] * keep + float(seeded[0]), self.seeded[1] * keep + float(seeded[1]))
        self.ts = t_end

    def rates(self) -> dict[str, float]:
        """``vol_per_h`` (log-price standard deviation per hour) and ``long_usd_per_h`` / ``short_usd_per_h``
        (new positions seeded per hour); zeros before any bar."""
        if self.hours <= 0:
            return {"vol_per_h": 0.0, "long_usd_per_h": 0.0, "short_usd_per_h": 0.0}
        return {
            "vol_per_h": math.sqrt(self.var / self.hours),
            "long_usd_per_h": self.seeded[0] / self.hours,
            "short_usd_per_h": self.seeded[1] / self.hours,
        }


def reach(x: np.ndarray, sig: float) -> np.ndarray:
    """Chance a driftless log-price with standard deviation ``sig`` over the horizon touches each level at
    log-distance ``x`` within it (reflection principle: ``erfc(|x| / (sig·√2))``), in 0..1."""
    return np.asarray([math.erfc(v) for v in (np.abs(x) / (sig * math.sqrt(2.0))).tolist()])


def _new_levels(lay: Layout, price: float, side: str, usd: float, sd: float, x: np.ndarray) -> np.ndarray:
    """USD per bucket of the levels ``usd`` of new positions would add, entered around the price with a
    log-price spread ``sd`` (the mean spread of entries over the horizon), per tier weight."""
    out = np.zeros(len(x))
    if not usd > 0:
        return out
    for j, lev in enumerate(lay.tiers):
        ratio = float(lay.lp(side, np.asarray([price]), lev)[0]) / price
        if not ratio > 0:
            continue
        pdf = np.exp(-0.5 * ((x - math.log(ratio)) / sd) ** 2)
        total = pdf.sum()
        if total > 0:
            out += usd * lay.w[j] * pdf / total
    return out


def forecast_strength(
    cfg: ModelConfig,
    lay: Layout,
    act: Activity,
    centers: np.ndarray,
    price: float,
    standing: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray] | None:
    """(long, short) USD per bucket expected to be liquidated within ``zone_horizon_h`` (None: off)."""
    h = cfg.zone_horizon_h
    rates = act.rates()
    if h <= 0 or not (cfg.zone_reach or cfg.zone_new_positions) or not price > 0:
        return None
    sig = rates["vol_per_h"] * math.sqrt(h)  # log-price sd over the horizon
    if not sig > 0:
        return None
    x = np.log(centers / price)
    out = [standing[0], standing[1]]
    if cfg.zone_new_positions:
        for s, side in enumerate(SIDES):
            usd = rates[f"{side}_usd_per_h"] * h
            out[s] = out[s] + _new_levels(lay, price, side, usd, sig / math.sqrt(2.0), x)
    if cfg.zone_reach:
        r = reach(x, sig)
        out = [v * r for v in out]
    return out[0], out[1]
