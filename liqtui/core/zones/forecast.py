"""The zone forecast: recent market activity, and how far the price may travel within a horizon.

Zones are the strongest standing levels; the forecast is information on each of them: its ``reach``,
the probability that a driftless price with the recent volatility touches it within ``zone_horizon_h``
(``erfc(|ln(level/price)| / (σ·√(2H)))``, :func:`liqtui.core.zones.finder.reach_of`). The volatility
and the opening rate are exponentially weighted over ``activity_half_life_h`` (:class:`Activity`), which also
carries the open-interest turnover rate the seeding uses (``opening = "turnover"``, see
:func:`liqtui.core.stepping.turnover_rates`).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from liqtui.core.model_config import HOUR_MS, ModelConfig

__all__ = ["Activity", "horizon_sd"]

_LN2 = math.log(2.0)


class Activity(msgspec.Struct):
    """Exponentially weighted market activity (memory ``activity_half_life_h``): price variance per hour
    (Parkinson's high-low estimator, so coarse backfill bars count too) and USD seeded per side and hour."""

    var: float = 0.0  # Σ w·variance of each bar (log-price²)
    hours: float = 0.0  # Σ w·bar duration (h)
    seeded: tuple[float, float] = (0.0, 0.0)  # Σ w·USD seeded (long, short)
    ts: int = 0  # the time the sums are weighted to (ms)
    # the open-interest turnover behind ``opening = "turnover"`` (memory ``turnover_half_life_h``):
    # Σ w·open_share·volume and Σ w·OI·hours (base units), weighted to ``turnover_ts``
    turnover: tuple[float, float] = (0.0, 0.0)
    turnover_ts: int = 0

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


def horizon_sd(cfg: ModelConfig, act: Activity) -> float:
    """Standard deviation of the log-price over ``zone_horizon_h`` at the recent volatility (0: not known)."""
    return act.rates()["vol_per_h"] * math.sqrt(cfg.zone_horizon_h)
