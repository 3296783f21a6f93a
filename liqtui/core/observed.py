"""The observed liquidation map: real positions (Hyperliquid's public accounts) beside the estimate.

Pure (numpy + msgspec + stdlib). :class:`ObservedBook` holds the latest snapshot of each polled account's
position in one coin; its :meth:`~ObservedBook.profile` is, per side, the notional at each position's
liquidation price in the buckets of the model's grid (only ``grid.edges`` is used, so any grid works). A level
the price crosses is consumed at once (and marked as a realized liquidation) until the next poll of the account
refreshes it. :func:`calibrate` measures the estimate against the observed profile; :func:`fit_tiers` fits the
estimator's leverage mix to the observed positions; :func:`observed_json` is the ``liqtui zones --json`` piece.

Notional at a level = ``|size| × liquidation price`` (what is force-sold or bought there), the same measure as
the simulator's truth. Coverage compares the observed notional at the mark (``|size| × price``) with the coin's
open interest (one side, USD): ``observed long + short`` / 2 / OI, clipped to 0..1.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import numpy as np

from liqtui.core.leverage import half_life_for
from liqtui.core.zones import Zone, ZoneReport, find_zones

__all__ = [
    "LEVERAGE_BINS",
    "Calibration",
    "Coverage",
    "ObservedBook",
    "ObservedPosition",
    "Realized",
    "TierFit",
    "calibrate",
    "fit_tiers",
    "observed_json",
    "tier_config_fields",
]

#: Leverages the observed positions are grouped by (zone tiers) and fitted to (the estimator's tier keys).
LEVERAGE_BINS: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 40.0, 50.0, 75.0, 100.0)


class ObservedPosition(msgspec.Struct, frozen=True, kw_only=True):
    """One account's position in one coin as the venue reported it (Hyperliquid is one-way: one per coin)."""

    address: str
    coin: str
    side: int  # +1 long, -1 short
    size: float  # coins, > 0
    entry_px: float
    leverage: float  # leverage.value
    margin: str  # "cross" (liquidation price is the account's) | "isolated"
    liq_px: float | None  # None: the venue gives none (e.g. cross with ample account value)
    value_usd: float  # positionValue at the snapshot
    ts: int  # snapshot time, ms

    @property
    def usd_at_liq(self) -> float:
        """Notional force-closed at the liquidation price (0 without one)."""
        return self.size * self.liq_px if self.liq_px is not None else 0.0


class Realized(msgspec.Struct, frozen=True):
    """An observed level the price crossed: a liquidation of a known account (until a poll says otherwise)."""

    address: str
    side: int
    price: float
    usd: float
    ts: int


class Coverage(msgspec.Struct, frozen=True):
    """How much of the market the observed map shows."""

    accounts_seen: int  # discovered (address book)
    accounts_polled: int  # with a snapshot
    accounts_with_position: int
    positions_no_liq: int  # positions whose liquidation price is null
    observed_usd: float  # (long + short notional at the price) / 2
    oi_usd: float | None  # the coin's open interest, one side, USD
    coverage: float | None  # observed_usd / oi_usd, 0..1 (None without OI)
    age_s: float | None  # age of the oldest snapshot (None before any)


class ObservedBook:
    """Latest snapshot per account for one coin, and the levels the price has consumed since.

    ``max_realized`` bounds the list of realized (crossed) levels kept for display.
    """

    def __init__(self, coin: str, *, max_realized: int = 500) -> None:
        self.coin = coin
        self.positions: dict[str, ObservedPosition] = {}  # standing: not crossed since the snapshot
        self.polled: dict[str, int] = {}  # address -> time of its latest snapshot (flat accounts too)
        self.consumed: dict[str, ObservedPosition] = {}  # crossed since its snapshot
        self.realized: deque[Realized] = deque(maxlen=max_realized)
        self.version = 0

    # -- updates -------------------------------------------------------------------------------------------
    def update(self, address: str, positions: Iterable[ObservedPosition], ts: int) -> None:
        """Replace ``address``'s snapshot with ``positions`` (other coins and zero sizes are ignored)."""
        self.polled[address] = ts
        self.consumed.pop(address, None)
        self.positions.pop(address, None)
        for p in positions:
            if p.coin == self.coin and p.size > 0 and p.address == address:
                self.positions[address] = p
        self.version += 1

    def forget(self, address: str) -> None:
        """Drop an account (evicted from the address book)."""
        if self.polled.pop(address, None) is not None:
            self.positions.pop(address, None)
            self.consumed.pop(address, None)
            self.version += 1

    def cross(self, low: float, high: float, ts: int) -> list[Realized]:
        """The price traded over ``[low, high]``: longs with a liquidation price ≥ low and shorts with one
        ≤ high are consumed and returned as realized."""
        out: list[Realized] = []
        for a, p in list(self.positions.items()):
            liq = p.liq_px
            if liq is None or not ((p.side > 0 and low <= liq) or (p.side < 0 and high >= liq)):
                continue
            del self.positions[a]
            self.consumed[a] = p
            r = Realized(address=a, side=p.side, price=liq, usd=p.usd_at_liq, ts=ts)
            self.realized.append(r)
            out.append(r)
        if out:
            self.version += 1
        return out

    # -- views ---------------------------------------------------------------------------------------------
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(side, liquidation price, USD at it, leverage) of the standing positions with a liquidation price."""
        rows = [(p.side, p.liq_px, p.usd_at_liq, p.leverage) for p in self.positions.values() if p.liq_px]
        if not rows:
            z = np.empty(0)
            return z, z, z, z
        a = np.asarray(rows, dtype=np.float64)
        return a[:, 0], a[:, 1], a[:, 2], a[:, 3]

    def profile(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(long_usd, short_usd) per bucket of a grid with these ``edges`` (levels off the grid are left out)."""
        edges = np.asarray(edges, dtype=np.float64)
        side, liq, usd, _ = self._arrays()
        long_ = np.histogram(liq[side > 0], bins=edges, weights=usd[side > 0])[0]
        short = np.histogram(liq[side < 0], bins=edges, weights=usd[side < 0])[0]
        return long_.astype(np.float64), short.astype(np.float64)

    def profile_by_tier(
        self, edges: np.ndarray, bins: Sequence[float] = LEVERAGE_BINS
    ) -> tuple[np.ndarray, np.ndarray]:
        """(long, short), each ``(len(bins), n_buckets)``: the profile split by the nearest leverage bin."""
        edges = np.asarray(edges, dtype=np.float64)
        n = len(edges) - 1
        lt, st = np.zeros((len(bins), n)), np.zeros((len(bins), n))
        side, liq, usd, lev = self._arrays()
        if liq.size == 0 or n <= 0:
            return lt, st
        k = _nearest_bin(lev, bins)
        pos = np.searchsorted(edges, liq, side="right") - 1
        ok = (pos >= 0) & (pos < n)
        for target, mask in ((lt, side > 0), (st, side < 0)):
            m = mask & ok
            np.add.at(target, (k[m], pos[m]), usd[m])
        return lt, st

    def zones(
        self,
        edges: np.ndarray,
        price: float,
        *,
        top_n: int = 5,
        threshold_pct: float = 0.0,
        ts: int = 0,
        window_pct: float | None = 10.0,
    ) -> ZoneReport:
        """Observed zones, the same schema as the estimate's (tiers are the leverage bins). Every observed
        level is real, so by default no percentile hides the smaller clusters (``threshold_pct`` 0): zones
        are the clusters of standing levels within ``window_pct`` of the price (None: anywhere), ranked by
        USD: the levels a move of the coming hours can reach, as the estimate's zones are."""
        lt, st = self.profile_by_tier(edges)
        if window_pct is not None and price > 0:
            e = np.asarray(edges, dtype=np.float64)
            far = np.abs(np.log(np.sqrt(e[:-1] * e[1:]) / price)) > math.log1p(window_pct / 100.0)
            lt[:, far] = 0.0
            st[:, far] = 0.0
        names = tuple(f"{b:g}x" for b in LEVERAGE_BINS)
        return find_zones(
            edges, lt, st, price, tier_names=names, top_n=top_n, threshold_pct=threshold_pct,
            lookback="observed", ts=ts,
        )  # fmt: skip

    def coverage(self, now_ms: int, price: float, *, oi_usd: float | None, accounts_seen: int) -> Coverage:
        """Coverage of the standing snapshot (consumed positions still count: they are still polled)."""
        held = list(self.positions.values()) + list(self.consumed.values())
        long_usd = sum(p.size * price for p in held if p.side > 0)
        short_usd = sum(p.size * price for p in held if p.side < 0)
        observed = 0.5 * (long_usd + short_usd)
        cov = None
        if oi_usd is not None and oi_usd > 0 and math.isfinite(oi_usd):
            cov = min(1.0, max(0.0, observed / oi_usd))
        age = (now_ms - min(self.polled.values())) / 1000.0 if self.polled else None
        return Coverage(
            accounts_seen=max(accounts_seen, len(self.polled)),
            accounts_polled=len(self.polled),
            accounts_with_position=len(held),
            positions_no_liq=sum(1 for p in held if p.liq_px is None),
            observed_usd=observed,
            oi_usd=oi_usd,
            coverage=cov,
            age_s=max(0.0, age) if age is not None else None,
        )

    def leverage_mix(self) -> dict[float, float]:
        """Observed notional (at the snapshot) per leverage value."""
        out: dict[float, float] = {}
        for p in list(self.positions.values()) + list(self.consumed.values()):
            out[p.leverage] = out.get(p.leverage, 0.0) + p.value_usd
        return out


def _nearest_bin(lev: np.ndarray, bins: Sequence[float]) -> np.ndarray:
    """Index of the nearest bin of each leverage, on a log scale."""
    b = np.log(np.asarray(bins, dtype=np.float64))
    x = np.log(np.maximum(np.asarray(lev, dtype=np.float64), 1.0))
    out: np.ndarray = np.abs(x[:, None] - b[None, :]).argmin(axis=1)
    return out


# -- calibration ---------------------------------------------------------------------------------------------
class Calibration(msgspec.Struct, frozen=True):
    """The estimate measured against the observed profile (None where not yet known).

    ``corr_long`` / ``corr_short``: Pearson correlation of the two profiles (smoothed over ``smooth_pct`` of
    price, within ``window_pct`` of the price) below / above the price. ``recall_top5``: share of the
    observed top zones whose peak lies inside one of the estimated top zones of the same side.
    ``distance_pct``: mean distance (% of price) from each observed top zone's peak to the nearest estimated
    top zone of its side (0 inside one)."""

    corr_long: float | None
    corr_short: float | None
    recall_top5: float | None
    distance_pct: float | None
    observed_zones: int


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 3 or float(a.std()) <= 0.0 or float(b.std()) <= 0.0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _smoothed(v: np.ndarray, edges: np.ndarray, pct: float) -> np.ndarray:
    step = math.log(edges[1] / edges[0]) if len(edges) > 1 else 1.0
    w = 2 * int(max(0.0, math.log1p(pct / 100.0) / step) // 2) + 1
    return np.convolve(v, np.ones(w) / w, mode="same") if w > 1 else v


def calibrate(
    edges: np.ndarray,
    price: float,
    estimate: tuple[np.ndarray, np.ndarray],
    observed: tuple[np.ndarray, np.ndarray],
    *,
    estimate_zones: ZoneReport | None = None,
    observed_zones: ZoneReport | None = None,
    window_pct: float = 25.0,
    smooth_pct: float = 0.5,
) -> Calibration:
    """Correlation per side, top-zone recall and distance of the estimated vs the observed profile.

    ``estimate`` and ``observed`` are ``(long_usd, short_usd)`` on the same ``edges``."""
    edges = np.asarray(edges, dtype=np.float64)
    n = len(edges) - 1
    if n < 3 or not (math.isfinite(price) and price > 0):
        return Calibration(None, None, None, None, 0)
    centers = np.sqrt(edges[:-1] * edges[1:])
    near = np.abs(np.log(centers / price)) <= math.log1p(window_pct / 100.0)
    corrs: list[float | None] = []
    for j, mask in ((0, near & (centers < price)), (1, near & (centers > price))):
        e = _smoothed(np.asarray(estimate[j], dtype=np.float64), edges, smooth_pct)[mask]
        o = _smoothed(np.asarray(observed[j], dtype=np.float64), edges, smooth_pct)[mask]
        corrs.append(_corr(e, o) if float(o.sum()) > 0 else None)
    recall = dist = None
    count = 0
    # no estimated zone at all (an estimate without history yet): nothing to measure, not a recall of 0
    if (
        estimate_zones is not None
        and observed_zones is not None
        and (estimate_zones.above or estimate_zones.below)
    ):
        hits, dists = 0, []
        for obs, est in (
            (observed_zones.below, estimate_zones.below),
            (observed_zones.above, estimate_zones.above),
        ):
            for z in obs:
                count += 1
                d = min((_zone_distance_pct(z.peak, e, price) for e in est), default=math.inf)
                hits += d == 0.0
                if math.isfinite(d):
                    dists.append(d)
        if count:
            recall = hits / count
            dist = float(np.mean(dists)) if dists else None
    return Calibration(corrs[0], corrs[1], recall, dist, count)


def _zone_distance_pct(peak: float, z: Zone, price: float) -> float:
    if z.low <= peak <= z.high:
        return 0.0
    return 100.0 * min(abs(peak - z.low), abs(peak - z.high)) / price


# -- the leverage mix ----------------------------------------------------------------------------------------
class TierFit(msgspec.Struct, frozen=True):
    """The estimator's leverage mix fitted to observed positions (notional-weighted ``leverage.value``).

    ``custom_tiers`` is ready for ``ModelConfig(tiers="custom", custom_tiers=...)``. Quality: ``positions``
    and ``notional_usd`` fitted, ``n_eff`` the effective number of positions ((Σw)²/Σw²: how much the mix
    rests on a few whales), ``kept_share`` the share of the notional in the kept tiers (the rest is
    re-weighted onto them), ``rebin_error`` the notional-weighted mean |ln(leverage / its tier)|."""

    custom_tiers: dict[str, float]
    positions: int
    notional_usd: float
    n_eff: float
    kept_share: float
    rebin_error: float

    @property
    def quality(self) -> str:
        """A plain word for the status line: "good", "fair" or "poor"."""
        if self.n_eff >= 30 and self.kept_share >= 0.9:
            return "good"
        if self.n_eff >= 8 and self.kept_share >= 0.75:
            return "fair"
        return "poor"


def fit_tiers(
    positions: Iterable[ObservedPosition],
    *,
    bins: Sequence[float] = LEVERAGE_BINS,
    max_tiers: int = 6,
    min_positions: int = 3,
    half_life_h: dict[str, float] | None = None,
) -> TierFit | None:
    """Fit the estimator's tier weights to ``positions`` (None with fewer than ``min_positions``).

    Each position's notional goes to the nearest leverage bin (log scale; the estimator accepts 2x..200x);
    the ``max_tiers`` heaviest bins are kept and normalised. The estimator's weights split *new* notional,
    whose levels then decay with a half-life per leverage, so a standing snapshot over-represents the
    long-lived low leverage: given ``half_life_h`` (the model's table), each bin's standing notional is
    divided by its half-life, giving the opening mix that, decayed, stands as observed. Without it: the
    standing mix."""
    if not 1 <= max_tiers <= len(bins):
        raise ValueError(f"max_tiers must be within 1..{len(bins)}, got {max_tiers!r}")
    ps = [p for p in positions if p.value_usd > 0 and p.leverage > 0]
    if len(ps) < max(1, min_positions):
        return None
    lev = np.array([p.leverage for p in ps])
    w = np.array([p.value_usd for p in ps])
    k = _nearest_bin(lev, bins)
    mass = np.bincount(k, weights=w, minlength=len(bins))
    if half_life_h:
        mass = mass / np.array([half_life_for(b, half_life_h) for b in bins])
    keep = [i for i in np.argsort(-mass, kind="stable")[:max_tiers].tolist() if mass[i] > 0]
    total = float(w.sum())
    kept_mass = float(mass[keep].sum())
    tiers = {f"{bins[i]:g}": float(mass[i] / kept_mass) for i in sorted(keep)}
    kept = float(w[np.isin(k, keep)].sum())
    b = np.log(np.asarray(bins, dtype=np.float64))
    err = float((np.abs(np.log(np.maximum(lev, 1.0)) - b[k]) * w).sum() / total)
    return TierFit(
        custom_tiers=tiers,
        positions=len(ps),
        notional_usd=total,
        n_eff=float(total**2 / float((w**2).sum())),
        kept_share=kept / total,
        rebin_error=err,
    )


def tier_config_fields(fit: TierFit) -> dict[str, Any]:
    """The ``ModelConfig`` fields that make the estimator use the fitted mix (``msgspec.structs.replace``)."""
    return {"tiers": "custom", "custom_tiers": dict(fit.custom_tiers)}


# -- JSON ----------------------------------------------------------------------------------------------------
def observed_json(
    coverage: Coverage | None,
    zones: ZoneReport | None,
    calibration: Calibration | None,
    *,
    fit: TierFit | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """``{"observed": {...}, "calibration": {...}}`` for ``liqtui zones --json`` (null where unknown)."""

    def zlist(zs: list[Zone] | None) -> list[Any]:
        return [msgspec.to_builtins(z) for z in zs] if zs else []

    obs: dict[str, Any] = {
        "accounts_seen": coverage.accounts_seen if coverage else 0,
        "accounts_polled": coverage.accounts_polled if coverage else 0,
        "coverage": _num(coverage.coverage) if coverage else None,
        "age_s": _num(coverage.age_s) if coverage else None,
        "above": zlist(zones.above if zones else None),
        "below": zlist(zones.below if zones else None),
    }
    if notes:
        obs["notes"] = list(notes)
    cal: dict[str, Any] = {
        "corr_long": _num(calibration.corr_long) if calibration else None,
        "corr_short": _num(calibration.corr_short) if calibration else None,
        "recall_top5": _num(calibration.recall_top5) if calibration else None,
    }
    if fit is not None:
        cal["observed_tiers"] = dict(fit.custom_tiers)
        cal["fit_quality"] = fit.quality
    return {"observed": obs, "calibration": cal}


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)
