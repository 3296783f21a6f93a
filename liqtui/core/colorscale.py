"""Heat levels: intensity relative to a high percentile, gamma ("more heat"), a percentile threshold.

``heat = (v / p_ref)^γ`` clipped to [0, 1] and quantised to ``levels`` (≤ 64, so a renderer's style
cache stays small) as ``uint8``; level 0 means "not drawn" (zero, or below the threshold
percentile). γ < 1 lifts weak buckets ("more heat"). Works on any array shape.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_LEVELS", "heat_levels", "percentile_of_positive"]

MAX_LEVELS = 64


def percentile_of_positive(values: np.ndarray, pct: float) -> float:
    """The ``pct`` percentile of the strictly positive entries of ``values`` (0.0 when there are none)."""
    if not (0.0 <= pct <= 100.0):
        raise ValueError(f"percentile must be in [0, 100]; got {pct!r}")
    v = np.asarray(values)
    pos = v[v > 0]
    return float(np.percentile(pos, pct)) if pos.size else 0.0


def heat_levels(
    values: np.ndarray,
    *,
    gamma: float = 1.0,
    threshold_pct: float = 0.0,
    levels: int = MAX_LEVELS,
    ref_pct: float = 99.7,
    ref: float | None = None,
) -> np.ndarray:
    """Quantised heat (``uint8`` in ``[0, levels-1]``) of ``values``, same shape.

    ``ref`` overrides the ``ref_pct`` percentile reference (e.g. to keep the scale steady across
    frames); buckets below the ``threshold_pct`` percentile of the positive values map to level 0.
    Any positive value at or above the threshold gets at least level 1.
    """
    if not (math.isfinite(gamma) and 0.05 <= gamma <= 10.0):
        raise ValueError(f"gamma must be in [0.05, 10]; got {gamma!r}")
    if not (isinstance(levels, int) and 2 <= levels <= MAX_LEVELS):
        raise ValueError(f"levels must be an int in [2, {MAX_LEVELS}]; got {levels!r}")
    v = np.asarray(values, dtype=np.float64)
    r = percentile_of_positive(v, ref_pct) if ref is None else float(ref)
    out = np.zeros(v.shape, np.uint8)
    if not (r > 0 and math.isfinite(r)):
        return out
    thr = percentile_of_positive(v, threshold_pct) if threshold_pct > 0 else 0.0
    shown = (v > 0) & (v >= thr)
    h = np.clip(v[shown] / r, 0.0, 1.0) ** gamma
    out[shown] = np.clip(np.ceil(h * (levels - 1)), 1, levels - 1).astype(np.uint8)
    return out
