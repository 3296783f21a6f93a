"""The simulator's truth: standing leveraged positions, indexed by their true liquidation price.

Positions are held as *cohorts*: the aggregate of the positions one leverage tier opened on one side during
one step. A cohort's notional closes gradually (exponential lifetime per tier: high leverage is short-lived),
and the whole remainder is force-closed when the price reaches its liquidation price.

Lookup is bucketed on a fine log grid: a sorted list of non-empty buckets per side makes the common case
("the price did not reach any standing level") O(1) and a cascade O(levels crossed). Pure Python + numpy.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["LONG", "SHORT", "Liquidated", "PositionBook", "Tier"]

LONG = 1
SHORT = -1


@dataclass(frozen=True, slots=True)
class Tier:
    """One leverage tier of the simulated crowd.

    ``weight`` is the tier's share of new notional, ``lifetime_h`` the mean holding time (positions close
    gradually, exponentially), ``position_usd`` the typical single-position notional, which sets the
    maintenance-margin bracket and so the liquidation price.
    """

    leverage: float
    weight: float
    lifetime_h: float
    position_usd: float


class Liquidated(NamedTuple):
    """One cohort force-closed: its true liquidation price and what was still open."""

    cohort: int
    side: int
    price: float
    qty: float
    usd: float
    opened_ts: int


def _side_index(side: int) -> int:
    if side not in (LONG, SHORT):
        raise ValueError(f"side must be +1 (long) or -1 (short), got {side!r}")
    return 0 if side == LONG else 1


class PositionBook:
    """Standing position cohorts of both sides, bucketed by true liquidation price.

    ``min_usd``: a cohort that has closed down below this notional is dropped silently when reached (it is
    dust, not a liquidation worth reporting).
    """

    def __init__(self, tiers: tuple[Tier, ...], *, bucket_rel: float = 2e-4, min_usd: float = 1_000.0):
        if not tiers:
            raise ValueError("at least one leverage tier is required")
        self.tiers = tiers
        self._inv_log_step = 1.0 / math.log1p(bucket_rel)
        self._tau_ms = [t.lifetime_h * 3_600_000.0 for t in tiers]
        self.min_usd = min_usd
        # cohorts (append-only): (side, tier, entry, liq, qty0, t0); live ones are those still in a bucket
        self.cohorts: list[tuple[int, int, float, float, float, int]] = []
        self._buckets: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self._keys: tuple[list[int], list[int]] = ([], [])  # sorted non-empty bucket keys per side
        # open quantity per side and tier, decayed incrementally to ``_sum_ts``
        self._qty = [[0.0] * len(tiers), [0.0] * len(tiers)]
        self._sum_ts: int | None = None
        self._decay: dict[int, list[float]] = {}  # step (ms) -> per-tier decay factors

    # -- queries -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.cohorts)

    def open_qty(self, side: int) -> float:
        """Open base quantity of one side (all tiers) as of the last :meth:`advance`."""
        return float(sum(self._qty[_side_index(side)]))

    def levels(
        self, side: int, ts: int, *, since_ts: int | None = None, tier: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Standing (liquidation price, open USD there) of one side's live cohorts at ``ts``, by price.

        ``since_ts``: only cohorts opened at or after it (what a lookback window shows); ``tier``: one tier."""
        si = _side_index(side)
        idx = np.fromiter((i for b in self._buckets[si].values() for i in b), dtype=np.int64, count=-1)
        if idx.size == 0:
            return np.empty(0), np.empty(0)
        rows = np.array([self.cohorts[i] for i in idx.tolist()], dtype=np.float64).reshape(-1, 6)
        keep = np.ones(len(rows), dtype=bool)
        if since_ts is not None:
            keep &= rows[:, 5] >= since_ts
        if tier is not None:
            keep &= rows[:, 1] == tier
        rows = rows[keep]
        liq, qty, t0 = rows[:, 3], rows[:, 4], rows[:, 5]
        tau = np.asarray(self._tau_ms)[rows[:, 1].astype(np.int64)]
        usd = qty * np.exp(-np.maximum(ts - t0, 0.0) / tau) * liq
        order = np.argsort(liq, kind="stable")
        return liq[order], usd[order]

    # -- updates -----------------------------------------------------------------------------------------
    def advance(self, ts: int) -> None:
        """Let positions close (exponential lifetimes) up to ``ts``."""
        if self._sum_ts is not None and ts > self._sum_ts:
            dt = ts - self._sum_ts
            factors = self._decay.get(dt)
            if factors is None:
                factors = self._decay[dt] = [math.exp(-dt / tau) for tau in self._tau_ms]
            for q in self._qty:
                for k, f in enumerate(factors):
                    q[k] *= f
        if self._sum_ts is None or ts > self._sum_ts:
            self._sum_ts = ts

    def open(self, side: int, tier: int, entry: float, liq: float, qty: float, ts: int) -> int:
        """Add a cohort of ``qty`` base units opened at ``entry`` (liquidated at ``liq``); returns its id."""
        if not (entry > 0 and liq > 0 and qty > 0):
            raise ValueError(f"cohort needs positive entry, liq and qty, got {entry}, {liq}, {qty}")
        si = _side_index(side)
        cid = len(self.cohorts)
        self.cohorts.append((side, tier, entry, liq, qty, ts))
        key = int(math.log(liq) * self._inv_log_step)
        bucket = self._buckets[si].get(key)
        if bucket is None:
            self._buckets[si][key] = [cid]
            bisect.insort(self._keys[si], key)
        else:
            bucket.append(cid)
        ref = self._sum_ts
        aged = 1.0 if ref is None or ref <= ts else math.exp((ts - ref) / self._tau_ms[tier])
        self._qty[si][tier] += qty * aged
        return cid

    def open_many(
        self, side: int, tiers: list[int], entries: list[float], liqs: list[float], qtys: list[float], ts: int
    ) -> None:
        """Add cohorts of one side opened at ``ts``: cohort ``j`` in tier ``tiers[j]`` at ``entries[j]``."""
        si = _side_index(side)
        if not (len(tiers) == len(entries) == len(liqs) == len(qtys)):
            raise ValueError("open_many() needs as many tiers, entries, liqs and qtys")
        if any(not 0 <= k < len(self.tiers) for k in tiers):
            raise ValueError(f"tier index out of range 0..{len(self.tiers) - 1}: {tiers}")
        if self._sum_ts is not None and self._sum_ts > ts:
            raise ValueError("open_many() cannot open cohorts in the past; use open()")
        cohorts, buckets, keys, q = self.cohorts, self._buckets[si], self._keys[si], self._qty[si]
        inv, log, insort = self._inv_log_step, math.log, bisect.insort
        cid = len(cohorts)
        for k, entry, liq, qty in zip(tiers, entries, liqs, qtys):
            if not (entry > 0 and liq > 0 and qty > 0):
                raise ValueError(f"cohort needs positive entry, liq and qty, got {entry}, {liq}, {qty}")
            cohorts.append((side, k, entry, liq, qty, ts))
            key = int(log(liq) * inv)
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [cid]
                insort(keys, key)
            else:
                bucket.append(cid)
            q[k] += qty
            cid += 1

    def liquidate(self, side: int, price: float, ts: int) -> list[Liquidated]:
        """Force-close every live cohort of ``side`` the price reached: longs with liq ≥ price, shorts ≤."""
        si = _side_index(side)
        keys = self._keys[si]
        if not keys:
            return []
        key = int(math.log(price) * self._inv_log_step)
        if side == LONG:
            if keys[-1] < key:
                return []
            cut = bisect.bisect_left(keys, key)
            crossed = keys[cut:]
        else:
            if keys[0] > key:
                return []
            cut = bisect.bisect_right(keys, key)
            crossed = keys[:cut]
        out: list[Liquidated] = []
        remaining: list[int] = []
        buckets = self._buckets[si]
        cohorts = self.cohorts
        for k in crossed:
            keep: list[int] = []
            for c in buckets[k]:
                liq = cohorts[c][3]
                if (liq >= price) if side == LONG else (liq <= price):
                    self._force_close(c, si, ts, out)
                else:
                    keep.append(c)
            if keep:
                buckets[k] = keep
                remaining.append(k)
            else:
                del buckets[k]
        if side == LONG:
            keys[cut:] = remaining
        else:
            keys[:cut] = remaining
        return out

    # -- internals ---------------------------------------------------------------------------------------
    def _force_close(self, c: int, si: int, ts: int, out: list[Liquidated]) -> None:
        side, tier, _, liq, qty0, t0 = self.cohorts[c]
        qty = qty0 * math.exp(-max(0, ts - t0) / self._tau_ms[tier])
        q = self._qty[si]
        q[tier] = max(0.0, q[tier] - qty)
        usd = qty * liq
        if usd >= self.min_usd:
            out.append(Liquidated(c, side, liq, qty, usd, t0))
