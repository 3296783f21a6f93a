"""Zones: contiguous buckets above a percentile threshold, merged, ranked by USD, per side of price.

Above the price are *short* liquidation levels (a squeeze fuels up-moves); below are *long* ones (a
flush fuels down-moves). Pure numpy + msgspec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
import numpy as np

__all__ = ["ORDERS", "QUANTUM_USD", "Zone", "ZoneReport", "find_zones", "reach_of"]

#: How a side's zones are listed: by standing USD (the strongest first) or by the chance to be reached.
ORDERS = ("strength", "reach")

#: Profiles are rounded to this many USD before any threshold or merge: levels are estimates, and two
#: equal estimates reached by different float paths (a batch backfill vs bar-by-bar steps) differ by
#: ~1e-5 USD, or leave 1e-12 USD crumbs where the other path has exact zeros. Rounding to cents makes
#: the zones a function of the estimate, not of its rounding noise.
QUANTUM_USD = 0.01


class Zone(msgspec.Struct):
    """One merged run of strong buckets on one side of the price."""

    side: str  # "short" (above price, squeeze) | "long" (below price, flush)
    low: float
    high: float
    peak: float  # price (bucket centre) of the strongest bucket
    usd: float
    share: float  # share of its side's total (0..1)
    distance_pct: float  # signed % from price to the nearest edge (+ above, − below)
    cum_usd: float  # USD standing between price and the zone, same side
    tiers: dict[str, float]  # {"25x": usd, ...}
    confluence: bool  # >= 2 tiers each >= 20 % of the zone
    reach: float = 0.0  # chance the price reaches the zone within the forecast horizon (0..1; 0: not known)


class ZoneReport(msgspec.Struct):
    """Top zones per side plus side totals and their imbalance ((above − below)/(above + below))."""

    price: float
    lookback: str
    ts: int
    above: list[Zone]
    below: list[Zone]
    total_above: float
    total_below: float
    imbalance: float


def _smooth(v: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` buckets (``width`` <= 1: unchanged)."""
    if width <= 1 or len(v) == 0:
        return v
    k = np.ones(width) / width
    return np.convolve(v, k, mode="same")


def _quantise(v: np.ndarray, quantum: float) -> np.ndarray:
    """``v`` rounded to multiples of ``quantum`` (negatives and crumbs below half a quantum become 0)."""
    if quantum <= 0:
        clipped: np.ndarray = np.maximum(v, 0.0)
        return clipped
    out: np.ndarray = np.maximum(np.round(v / quantum), 0.0) * quantum
    return out


def _buckets(pct: float, edges: np.ndarray) -> int:
    """How many buckets of this grid span ``pct`` percent (at least 0)."""
    if len(edges) < 2:
        return 0
    width_pct = (edges[1] / edges[0] - 1.0) * 100.0
    return max(0, round(float(pct / width_pct)))


def reach_of(distance_pct: float, horizon_sd: float | None) -> float:
    """Chance a driftless price whose log has standard deviation ``horizon_sd`` over the horizon touches a level
    ``distance_pct`` percent away within it: ``erfc(|ln(1 + d)| / (sd·√2))`` (reflection principle), in 0..1.
    A level at the price is reached (1); with no volatility known (``None`` or 0) nothing farther is (0)."""
    x = abs(math.log1p(distance_pct / 100.0))
    if x == 0.0:
        return 1.0
    if horizon_sd is None or not horizon_sd > 0:
        return 0.0
    return min(1.0, max(0.0, math.erfc(x / (horizon_sd * math.sqrt(2.0)))))


def _runs(idx: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Inclusive (start, end) runs of sorted bucket indices, joining holes of at most ``gap`` buckets."""
    if len(idx) == 0:
        return []
    breaks = np.nonzero(np.diff(idx) > gap + 1)[0]
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    return [(int(idx[a]), int(idx[b])) for a, b in zip(starts, ends)]


def _split(
    a: int, b: int, shape: np.ndarray, edges: np.ndarray, max_width_pct: float, valley_ratio: float
) -> list[tuple[int, int]]:
    """Split the run ``a..b`` (inclusive) into clusters at the valleys of ``shape`` (the smoothed standing USD).

    A run is cut at its deepest interior local minimum when that valley is below ``valley_ratio`` × the lower of
    the peaks on either side (two clusters, not one), or when the run is wider than ``max_width_pct`` percent
    of price (a band that wide tells a trader nothing; with no valley inside it is cut in the middle). The valley
    bucket itself goes to neither side. Returns inclusive runs in price order.
    """
    out: list[tuple[int, int]] = []
    stack = [(a, b)]
    while stack:
        lo, hi = stack.pop()
        wide = max_width_pct > 0 and (edges[hi + 1] / edges[lo] - 1.0) * 100.0 > max_width_pct
        seg = shape[lo : hi + 1]
        cut = -1
        if hi - lo >= 2:
            inner = seg[1:-1]
            is_min = (inner <= seg[:-2]) & (inner <= seg[2:]) & ((inner < seg[:-2]) | (inner < seg[2:]))
            cands = np.nonzero(is_min)[0] + 1
            if len(cands):
                m = int(cands[np.argmin(seg[cands])])
                valley_deep = seg[m] < valley_ratio * min(float(seg[:m].max()), float(seg[m + 1 :].max()))
                if valley_deep or wide:
                    cut = m
        if cut < 0 and wide and hi > lo:
            cut = (hi - lo) // 2
        if cut < 0:
            out.append((lo, hi))
            continue
        left, right = (lo, lo + cut - 1), (lo + cut + 1, hi)
        if wide and cut == (hi - lo) // 2 and not (hi - lo >= 2 and seg[cut] < seg.max()):
            left = (lo, lo + cut)  # a cut in a flat band loses no bucket
        for r in (right, left):
            if r[0] <= r[1]:
                stack.append(r)
    return sorted(out)


@dataclass(frozen=True)
class _Side:
    """One side's inputs to the zone finder (every array has one value per bucket)."""

    name: str  # "short" (above the price) | "long" (below)
    vals: np.ndarray  # standing USD (zero on the other side of the price)
    by_tier: np.ndarray  # (n_tiers, n) standing USD per tier
    rank: np.ndarray  # what strength is judged and ranked on (the USD, or ``strength``)
    strong: np.ndarray  # bool: buckets strong enough to be in a zone
    shape: np.ndarray  # smoothed standing USD: where the levels stack (cut at its valleys)


def _zone(
    side: _Side, a: int, b: int, cs: np.ndarray, edges: np.ndarray, price: float, tier_names: tuple[str, ...]
) -> Zone:
    """The zone of buckets ``a..b`` (inclusive) on ``side`` (``cs``: cumulative standing USD, from 0)."""
    vals = side.vals
    total = float(vals.sum())
    usd = float(cs[b + 1] - cs[a])
    per_tier = side.by_tier[:, a : b + 1].sum(axis=1)
    tiers = {name: float(v) for name, v in zip(tier_names, per_tier)}
    confluence = int(np.count_nonzero(per_tier >= 0.2 * usd)) >= 2
    low, high = float(edges[a]), float(edges[b + 1])
    if side.name == "short":
        dist = (max(low, price) - price) / price * 100.0
        cum = float(cs[a])  # vals is zero at and below price on this side
    else:
        dist = (min(high, price) - price) / price * 100.0
        cum = float(cs[-1] - cs[b + 1])
    centers = np.sqrt(edges[a : b + 2][:-1] * edges[a : b + 2][1:])
    peak = float(centers[int(np.argmax(vals[a : b + 1]))])
    return Zone(side=side.name, low=low, high=high, peak=peak, usd=usd, share=usd / total if total > 0 else 0.0,
                distance_pct=dist, cum_usd=cum, tiers=tiers, confluence=confluence)  # fmt: skip


def _side_zones(
    side: _Side,
    edges: np.ndarray,
    price: float,
    tier_names: tuple[str, ...],
    top_n: int,
    gap: int,
    split: tuple[float, float],
    horizon_sd: float | None = None,
    order: str = "strength",
) -> list[Zone]:
    """The ``top_n`` strongest zones of one side (by ``rank``; equal strength: the nearer first), listed
    strongest first, or with ``order="reach"`` most reachable first (equal reach: the stronger first)."""
    rank = side.rank
    rank_cs = np.concatenate([[0.0], np.cumsum(rank)])
    cs = np.concatenate([[0.0], np.cumsum(side.vals)])
    keyed: list[tuple[float, Zone]] = []
    runs = [
        piece
        for a0, b0 in _runs(np.nonzero(side.strong)[0], gap)
        for piece in _split(a0, b0, side.shape, edges, *split)
    ]
    for a, b in runs:
        nz = np.nonzero(rank[a : b + 1] > 0)[0]
        if len(nz) == 0:
            continue
        a, b = a + int(nz[0]), a + int(nz[-1])  # tight around the mass (or expected mass) itself
        if float(cs[b + 1] - cs[a]) <= 0:
            continue  # a zone holds standing USD
        zone = _zone(side, a, b, cs, edges, price, tier_names)
        zone.reach = reach_of(zone.distance_pct, horizon_sd)
        keyed.append((float(rank_cs[b + 1] - rank_cs[a]), zone))
    keyed.sort(key=lambda kz: (-kz[0], abs(kz[1].distance_pct)))
    top = keyed[:top_n]
    if order == "reach":
        top.sort(key=lambda kz: (-kz[1].reach, -kz[0], abs(kz[1].distance_pct)))
    return [z for _, z in top]


def _check_args(
    threshold_pct: float,
    top_n: int,
    gap: int | None,
    gap_pct: float,
    smooth_pct: float,
    quantum_usd: float,
    max_width_pct: float,
    valley_ratio: float,
    order: str,
) -> None:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(repr(o) for o in ORDERS)}; got {order!r}")
    if not (0.0 <= threshold_pct <= 100.0):
        raise ValueError(f"threshold_pct must be in [0, 100]; got {threshold_pct!r}")
    if not (isinstance(top_n, int) and top_n >= 0):
        raise ValueError(f"top_n must be an int >= 0; got {top_n!r}")
    if gap is not None and not (isinstance(gap, int) and gap >= 0):
        raise ValueError(f"gap must be an int >= 0; got {gap!r}")
    if not (0.0 <= gap_pct <= 20.0) or not (0.0 <= smooth_pct <= 20.0):
        raise ValueError(f"gap_pct and smooth_pct must be in [0, 20]; got {gap_pct!r}, {smooth_pct!r}")
    if not (math.isfinite(quantum_usd) and quantum_usd >= 0):
        raise ValueError(f"quantum_usd must be a finite number >= 0; got {quantum_usd!r}")
    if not (0.0 <= max_width_pct <= 100.0) or not (0.0 <= valley_ratio <= 1.0):
        raise ValueError(
            f"max_width_pct must be in [0, 100] and valley_ratio in [0, 1]; got {max_width_pct!r}, {valley_ratio!r}"
        )


def _profiles(
    edges: np.ndarray, long_by_tier: np.ndarray, short_by_tier: np.ndarray, quantum_usd: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, long, short) as float arrays, the profiles quantised; ValueError when the shapes disagree."""
    lt = _quantise(np.atleast_2d(np.asarray(long_by_tier, dtype=np.float64)), quantum_usd)
    st = _quantise(np.atleast_2d(np.asarray(short_by_tier, dtype=np.float64)), quantum_usd)
    edges = np.asarray(edges, dtype=np.float64)
    if st.shape != lt.shape or len(edges) != lt.shape[1] + 1:
        raise ValueError(f"profiles {lt.shape}/{st.shape} do not match {len(edges)} edges")
    return edges, lt, st


def _sides(
    edges: np.ndarray,
    lt: np.ndarray,
    st: np.ndarray,
    price: float,
    strength: tuple[np.ndarray, np.ndarray] | None,
    quantum_usd: float,
    threshold_pct: float,
    w: int,
) -> tuple[_Side, _Side]:
    """(above, below): each side's standing USD, ranking values and strong buckets."""
    n = lt.shape[1]
    centers = np.sqrt(edges[:-1] * edges[1:])
    above_mask, below_mask = centers > price, centers < price
    short_tiers = st * above_mask[None, :]
    long_tiers = lt * below_mask[None, :]
    short_v, long_v = short_tiers.sum(axis=0), long_tiers.sum(axis=0)
    if strength is None:
        short_r, long_r = short_v, long_v
    else:
        long_r, short_r = (_quantise(np.asarray(v, dtype=np.float64), quantum_usd) for v in strength)
        if long_r.shape != (n,) or short_r.shape != (n,):
            raise ValueError(f"strength arrays must have {n} buckets; got {long_r.shape}/{short_r.shape}")
        short_r, long_r = short_r * above_mask, long_r * below_mask
    short_s, long_s = _smooth(short_r, w) * above_mask, _smooth(long_r, w) * below_mask
    nz = np.concatenate([short_s[short_s > 0], long_s[long_s > 0]])
    thr = float(np.percentile(nz, threshold_pct)) - quantum_usd / 2 if len(nz) else math.inf
    # a zone lies wholly on its side: the bucket holding the price is in the totals, never in a zone
    strong_short = (short_s >= thr) & (short_s > 0) & (edges[:-1] >= price)
    strong_long = (long_s >= thr) & (long_s > 0) & (edges[1:] <= price)
    above = _Side("short", short_v, short_tiers, short_r, strong_short, _smooth(short_v, w))
    below = _Side("long", long_v, long_tiers, long_r, strong_long, _smooth(long_v, w))
    return above, below


def find_zones(
    edges: np.ndarray,
    long_by_tier: np.ndarray,
    short_by_tier: np.ndarray,
    price: float,
    *,
    tier_names: tuple[str, ...] | None = None,
    threshold_pct: float = 50.0,
    top_n: int = 5,
    lookback: str = "",
    ts: int = 0,
    gap: int | None = None,
    gap_pct: float = 0.5,
    smooth_pct: float = 0.5,
    quantum_usd: float = QUANTUM_USD,
    strength: tuple[np.ndarray, np.ndarray] | None = None,
    max_width_pct: float = 1.5,
    valley_ratio: float = 0.6,
    horizon_sd: float | None = None,
    order: str = "strength",
) -> ZoneReport:
    """Zones from per-tier profiles ``(n_tiers, n_buckets)`` on a grid with ``n_buckets + 1`` ``edges``.

    Strength is judged on the profile smoothed over ``smooth_pct`` percent of price (a dense band of small
    levels is one zone, not a comb): a bucket is *strong* when its smoothed USD is at least the
    ``threshold_pct`` percentile of the positive smoothed buckets of both sides. Strong runs separated by at
    most ``gap_pct`` percent (or ``gap`` buckets) merge, then are cut into clusters at the valleys of the
    smoothed standing USD (a valley below ``valley_ratio`` × the lower neighbouring peak, or any run wider than
    ``max_width_pct`` percent, 0: no limit). Each zone is trimmed to the buckets that hold USD; its USD is the
    raw sum. The ``top_n`` per side are the strongest (equal USD: the nearer first). ``strength`` (per-bucket
    ``(long, short)`` arrays) replaces the USD for judging strength and ranking; ``usd`` stays the profile's.

    A zone's ``reach`` is the chance its near edge is touched within a horizon over which the log-price has
    standard deviation ``horizon_sd`` (:func:`reach_of`); ``order`` ("strength" | "reach") lists the ``top_n``.
    Profiles are first rounded to ``quantum_usd`` (0: only clipped at 0) and a bucket counts as strong within
    half a quantum of the threshold, so float noise far below a cent cannot move a zone.
    """
    _check_args(
        threshold_pct, top_n, gap, gap_pct, smooth_pct, quantum_usd, max_width_pct, valley_ratio, order
    )
    edges, lt, st = _profiles(edges, long_by_tier, short_by_tier, quantum_usd)
    n = lt.shape[1]
    names = tier_names if tier_names is not None else tuple(f"tier{i}" for i in range(lt.shape[0]))
    if not (math.isfinite(price) and price > 0) or n == 0:
        return ZoneReport(price=price, lookback=lookback, ts=ts, above=[], below=[],
                          total_above=0.0, total_below=0.0, imbalance=0.0)  # fmt: skip
    w = 2 * (_buckets(smooth_pct, edges) // 2) + 1  # odd, so the window stays centred
    g = gap if gap is not None else _buckets(gap_pct, edges)
    up, down = _sides(edges, lt, st, price, strength, quantum_usd, threshold_pct, w)
    split = (max_width_pct, valley_ratio)
    above = _side_zones(up, edges, price, names, top_n, g, split, horizon_sd, order)
    below = _side_zones(down, edges, price, names, top_n, g, split, horizon_sd, order)
    ta, tb = float(up.vals.sum()), float(down.vals.sum())
    imb = (ta - tb) / (ta + tb) if ta + tb > 0 else 0.0
    return ZoneReport(price=price, lookback=lookback, ts=ts, above=above, below=below,
                      total_above=ta, total_below=tb, imbalance=imb)  # fmt: skip
