"""The alert evaluator: fed market snapshots, it fires each rule once, re-arms it with hysteresis and keeps
its cooldown. Pure (stdlib + msgspec); the engine is read by :func:`liqtui.alerts.snapshot.snapshot_from_engine`.

A :class:`Snapshot` is what the market looked like at ``ts`` (ms, market time): price (and the range it traded
since the previous snapshot), the zones above (squeeze: short liquidation levels) and below (flush: long levels)
with ``low``/``high``/``usd``, the liquidations realized since the previous snapshot, and the imbalance.

Per kind:

* ``near_zone``: a zone of at least ``min_usd`` whose nearest edge is within ``within_pct`` % of the price fires
  once; that zone re-arms when the price is more than ``within_pct + hysteresis`` % away from it (or it is gone).
  A different zone (not overlapping) coming near fires on its own.
* ``zone_spent``: a zone of at least ``min_usd`` (its USD before the price reached it) of which ``spent_pct`` %
  was consumed as the price traded into it (:class:`SweepTracker`). Each sweep fires once.
* ``liquidation``: one liquidation of at least ``min_usd``; with ``burst_s`` > 0 the sum of the liquidations
  of the last ``burst_s`` seconds, re-armed when that sum falls below ``min_usd × (1 − hysteresis)``.
* ``imbalance``: ``(above − below) / (above + below)`` reaching ``+level`` (side above) or ``−level`` (below),
  re-armed when it is back within ``level − hysteresis``.

Cooldown: after a rule fired, it stays silent for ``cooldown_s`` (per rule and side); an alert held back by
the cooldown is not lost for a standing condition (a zone still near fires when the cooldown ends).
A rule with a ``symbols`` filter is evaluated only for those symbols.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from liqtui.alerts.fmt import fmt_pct, fmt_price, fmt_usd
from liqtui.alerts.rules import AlertRule

__all__ = ["Alert", "Evaluator", "LiqView", "Snapshot", "Sweep", "SweepTracker", "ZoneLike", "ZoneView"]

SIDE_NAMES = {"above": "squeeze", "below": "flush"}
#: liquidated position side → the side of the price its levels sat on
LIQ_SIDE = {"short": "above", "long": "below"}


class ZoneLike(Protocol):
    """What the evaluator reads of a zone (``liqtui.core.zones.Zone`` fits)."""

    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def usd(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ZoneView:
    """A zone reduced to what alerts need (scripted markets in tests build these directly)."""

    low: float
    high: float
    usd: float


@dataclass(frozen=True, slots=True)
class LiqView:
    """A realized liquidation: ``side`` of the liquidated position, "long" or "short"."""

    ts: int
    side: str
    price: float
    usd: float


@dataclass(slots=True)
class Snapshot:
    """The market at ``ts`` (ms). ``low``/``high``: the price range traded since the previous snapshot (default:
    the price itself). ``liquidations``: those realized since the previous snapshot."""

    ts: int
    price: float
    above: Sequence[ZoneLike] = ()
    below: Sequence[ZoneLike] = ()
    liquidations: Sequence[LiqView] = ()
    imbalance: float | None = None
    symbol: str = ""
    low: float | None = None
    high: float | None = None

    def range(self) -> tuple[float, float]:
        lo = self.price if self.low is None else min(self.low, self.price)
        hi = self.price if self.high is None else max(self.high, self.price)
        return lo, hi


class Alert(msgspec.Struct, kw_only=True):
    """One fired alert: what the actions receive (the user command gets it as one JSON object)."""

    ts: int  # market time, ms
    symbol: str
    kind: str  # near_zone | zone_spent | liquidation | imbalance
    rule: int  # index of the rule (0-based) in the rule list
    name: str  # the rule's name
    side: str  # above | below
    text: str  # one line for a human
    price: float
    zone_low: float | None = None
    zone_high: float | None = None
    distance_pct: float | None = None  # % from the price to the zone's nearest edge (≥ 0)
    usd: float = 0.0  # the zone's USD, the liquidation(s)' USD, or the side total (imbalance)
    consumed_pct: float | None = None  # zone_spent
    count: int = 0  # liquidations in a burst
    imbalance: float | None = None


@dataclass(slots=True)
class Sweep:
    """A zone consumed by the price: ``usd`` before the price reached it, ``consumed_pct`` of it gone."""

    ts: int
    side: str  # above (squeeze zone swept upwards) | below (flush zone swept downwards)
    low: float
    high: float
    usd: float
    consumed_pct: float
    price: float
    touched_ts: int
    realized_usd: float
    realized_count: int


@dataclass(slots=True)
class _Watched:
    side: str
    low: float
    high: float
    usd: float
    touched_ts: int | None = None
    missing: int = 0
    realized_usd: float = 0.0
    realized_count: int = 0


def _overlaps(a_lo: float, a_hi: float, b_lo: float, b_hi: float) -> bool:
    return a_lo <= b_hi and b_lo <= a_hi


def _overlap_share(z: ZoneLike, lo: float, hi: float) -> float:
    """The share of zone ``z``'s range inside ``[lo, hi]`` (1 for a zero-width zone inside it)."""
    width = z.high - z.low
    inside = min(z.high, hi) - max(z.low, lo)
    if width <= 0:
        return 1.0 if lo <= z.low <= hi else 0.0
    return max(0.0, min(1.0, inside / width))


class SweepTracker:
    """Watches the strongest zones and reports those the price consumed (:class:`Sweep`).

    The ``watch_top`` strongest zones per side (those of at least ``min_share`` of the biggest one's USD: the
    zones are ranked by forecast strength, and a crumb next to the price can rank high) are followed across snapshots by overlap (the model's zones shift a
    little as positions open): before the price reaches one, its range and USD follow the current zone overlapping
    it most. Once the price traded into its range (``snapshot.range()`` joined with the previous snapshot's price)
    the range is frozen, and the USD still standing in it (the current zones on the same side, each counted for
    the share of its range inside) is compared with the USD before the touch: when ``spent_pct`` % is gone, it
    is a sweep. Liquidations of the side's positions realized from the touch to the sweep are summed. An
    untouched zone missing from ``forget_after`` snapshots in a row (faded, or out of the list) is forgotten.
    """

    def __init__(
        self, spent_pct: float = 50.0, *, watch_top: int = 5, min_share: float = 0.1, forget_after: int = 3
    ) -> None:
        self.spent_frac = spent_pct / 100.0
        self.watch_top = watch_top
        self.min_share = min_share
        self.forget_after = forget_after
        self.watched: list[_Watched] = []
        self._prev_ts: int | None = None
        self._prev_price: float | None = None

    def observe(self, snap: Snapshot) -> list[Sweep]:
        lo, hi = snap.range()
        if self._prev_price is not None:  # the price went continuously from the previous one to this one
            lo, hi = min(lo, self._prev_price), max(hi, self._prev_price)
        out: list[Sweep] = []
        keep: list[_Watched] = []
        for w in self.watched:
            zones = self._zones(snap, w.side)
            if w.touched_ts is None and _overlaps(lo, hi, w.low, w.high):
                w.touched_ts = self._prev_ts if self._prev_ts is not None else snap.ts
            if w.touched_ts is None:
                cur = [z for z in zones if _overlaps(z.low, z.high, w.low, w.high)]
                if cur:
                    best = max(cur, key=lambda z: (min(z.high, w.high) - max(z.low, w.low), z.usd))
                    w.low, w.high, w.usd, w.missing = float(best.low), float(best.high), float(best.usd), 0
                    if not any(k.side == w.side and (k.low, k.high) == (w.low, w.high) for k in keep):
                        keep.append(w)
                else:
                    w.missing += 1
                    if w.missing < self.forget_after:
                        keep.append(w)
                continue
            for liq in snap.liquidations:
                if LIQ_SIDE.get(liq.side) == w.side and liq.ts >= w.touched_ts:
                    w.realized_usd += liq.usd
                    w.realized_count += 1
            standing = sum(float(z.usd) * _overlap_share(z, w.low, w.high) for z in zones)
            gone = 1.0 - standing / w.usd if w.usd > 0 else 0.0
            if gone >= self.spent_frac:
                out.append(
                    Sweep(
                        ts=snap.ts, side=w.side, low=w.low, high=w.high, usd=w.usd,
                        consumed_pct=round(min(1.0, gone) * 100.0, 2), price=snap.price,
                        touched_ts=w.touched_ts, realized_usd=w.realized_usd,
                        realized_count=w.realized_count,
                    )
                )  # fmt: skip
            else:
                keep.append(w)
        for side in ("above", "below"):
            top = list(self._zones(snap, side))[: self.watch_top]
            floor = self.min_share * max((float(z.usd) for z in top), default=0.0)
            for z in top:
                if (
                    z.usd > 0
                    and z.usd >= floor
                    and not any(k.side == side and _overlaps(z.low, z.high, k.low, k.high) for k in keep)
                    and not any(s.side == side and _overlaps(z.low, z.high, s.low, s.high) for s in out)
                ):
                    keep.append(_Watched(side, float(z.low), float(z.high), float(z.usd)))
        self.watched = keep
        self._prev_ts = snap.ts
        self._prev_price = snap.price
        return out

    @staticmethod
    def _zones(snap: Snapshot, side: str) -> Sequence[ZoneLike]:
        return snap.above if side == "above" else snap.below


def zone_distance_pct(side: str, low: float, high: float, price: float) -> float:
    """% from ``price`` to the zone's nearest edge, ≥ 0 (0 when the price is inside the zone)."""
    if price <= 0:
        return math.inf
    d = (low - price) if side == "above" else (price - high)
    if low <= price <= high:
        return 0.0
    return max(0.0, d / price * 100.0)


@dataclass(slots=True)
class _RuleState:
    last_fired: dict[str, int] = field(default_factory=dict)  # side → ts
    near: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {"above": [], "below": []})
    armed: dict[str, bool] = field(default_factory=lambda: {"above": True, "below": True})
    window: collections.deque[LiqView] = field(default_factory=collections.deque)


class Evaluator:
    """Evaluates ``rules`` over a sequence of snapshots (see the module doc); :meth:`evaluate` returns the
    alerts that fired, and :attr:`sweeps` the zones the last snapshot found consumed (for the spent-zone log)."""

    def __init__(self, rules: Iterable[AlertRule], symbol: str = "BTC") -> None:
        self.rules = [r for r in rules]
        self.symbol = symbol
        spent = [r.spent_pct for r in self.rules if r.kind == "zone_spent" and r.enabled]
        self.tracker = SweepTracker(spent_pct=min(spent, default=50.0))
        self._state = [_RuleState() for _ in self.rules]
        self.sweeps: list[Sweep] = []

    def evaluate(self, snap: Snapshot) -> list[Alert]:
        self.sweeps = self.tracker.observe(snap)
        out: list[Alert] = []
        symbol = snap.symbol or self.symbol
        for i, rule in enumerate(self.rules):
            if not rule.enabled or not rule.applies_to(symbol):  # a rule for other symbols stays silent
                continue
            st = self._state[i]
            if rule.kind == "near_zone":
                out.extend(self._near(i, rule, st, snap))
            elif rule.kind == "zone_spent":
                out.extend(self._spent(i, rule, st, snap))
            elif rule.kind == "liquidation":
                out.extend(self._liquidation(i, rule, st, snap))
            else:
                out.extend(self._imbalance(i, rule, st, snap))
        return out

    # ------------------------------------------------------------------------------------------- helpers
    def _sides(self, rule: AlertRule) -> tuple[str, ...]:
        return ("above", "below") if rule.side == "both" else (rule.side,)

    def _cool(self, rule: AlertRule, st: _RuleState, side: str, ts: int) -> bool:
        """True while ``side`` of the rule is in its cooldown."""
        last = st.last_fired.get(side)
        return last is not None and ts - last < rule.cooldown_s * 1000.0

    def _alert(
        self, i: int, rule: AlertRule, st: _RuleState, snap: Snapshot, side: str, **kw: object
    ) -> Alert:
        st.last_fired[side] = snap.ts
        return Alert(
            ts=snap.ts, symbol=snap.symbol or self.symbol, kind=rule.kind, rule=i, name=rule.name, side=side,
            price=snap.price, **kw,  # type: ignore[arg-type]  # keyword fields of Alert, checked by msgspec
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------- kinds
    def _near(self, i: int, rule: AlertRule, st: _RuleState, snap: Snapshot) -> list[Alert]:
        out: list[Alert] = []
        sym = snap.symbol or self.symbol
        for side in self._sides(rule):
            zones = [z for z in (snap.above if side == "above" else snap.below) if z.usd >= rule.usd_floor]
            dist = [(z, zone_distance_pct(side, z.low, z.high, snap.price)) for z in zones]
            # re-arm: a fired zone stays "near" while a big zone overlapping it is within within + hysteresis
            rearm_at = rule.within_pct + rule.hyst
            held: list[tuple[float, float]] = []
            for lo, hi in st.near[side]:
                close = [(z, d) for z, d in dist if _overlaps(z.low, z.high, lo, hi) and d <= rearm_at]
                if close:
                    held.append((min(z.low for z, _ in close), max(z.high for z, _ in close)))
            st.near[side] = held
            for z, d in sorted(dist, key=lambda zd: zd[1]):
                if d > rule.within_pct or any(_overlaps(z.low, z.high, lo, hi) for lo, hi in held):
                    continue
                if self._cool(rule, st, side, snap.ts):
                    break
                name = SIDE_NAMES[side]
                text = (
                    f"{sym} {fmt_price(snap.price)}: {d:.2f}% from the {fmt_usd(z.usd)} {name} zone "
                    f"{fmt_price(z.low)}–{fmt_price(z.high)}"
                )
                out.append(
                    self._alert(
                        i, rule, st, snap, side, text=text, zone_low=float(z.low), zone_high=float(z.high),
                        distance_pct=round(d, 4), usd=float(z.usd),
                    )
                )  # fmt: skip
                held.append((float(z.low), float(z.high)))
        return out

    def _spent(self, i: int, rule: AlertRule, st: _RuleState, snap: Snapshot) -> list[Alert]:
        out: list[Alert] = []
        sym = snap.symbol or self.symbol
        for sw in self.sweeps:
            if (
                sw.side not in self._sides(rule)
                or sw.usd < rule.usd_floor
                or sw.consumed_pct < rule.spent_pct
            ):
                continue
            if self._cool(rule, st, sw.side, snap.ts):
                continue
            text = (
                f"{sym} {fmt_price(snap.price)}: the {fmt_usd(sw.usd)} {SIDE_NAMES[sw.side]} zone "
                f"{fmt_price(sw.low)}–{fmt_price(sw.high)} was swept ({sw.consumed_pct:.0f}% consumed, "
                f"{fmt_usd(sw.realized_usd)} liquidated)"
            )
            out.append(
                self._alert(
                    i, rule, st, snap, sw.side, text=text, zone_low=sw.low, zone_high=sw.high, distance_pct=0.0,
                    usd=sw.usd, consumed_pct=sw.consumed_pct, count=sw.realized_count,
                )
            )  # fmt: skip
        return out

    def _liquidation(self, i: int, rule: AlertRule, st: _RuleState, snap: Snapshot) -> list[Alert]:
        out: list[Alert] = []
        sym = snap.symbol or self.symbol
        sides = self._sides(rule)
        liqs = [x for x in snap.liquidations if LIQ_SIDE.get(x.side) in sides]
        if rule.burst_s <= 0:
            for x in sorted(liqs, key=lambda q: q.ts):
                side = LIQ_SIDE[x.side]
                if x.usd < rule.usd_floor or self._cool(rule, st, side, snap.ts):
                    continue
                text = f"{sym}: {fmt_usd(x.usd)} {x.side} liquidated at {fmt_price(x.price)}"
                out.append(self._alert(i, rule, st, snap, side, text=text, usd=float(x.usd), count=1))
            return out
        win = st.window
        win.extend(sorted(liqs, key=lambda q: q.ts))
        start = snap.ts - rule.burst_s * 1000.0
        while win and win[0].ts < start:
            win.popleft()
        key = "burst"
        for side in sides if rule.side != "both" else (key,):
            part = [x for x in win if side == key or LIQ_SIDE[x.side] == side]
            total = sum(x.usd for x in part)
            if not st.armed.get(side, True):
                if total < rule.usd_floor * (1.0 - rule.hyst):
                    st.armed[side] = True
                continue
            if total < rule.usd_floor or self._cool(rule, st, side, snap.ts):
                continue
            st.armed[side] = False
            longs = sum(x.usd for x in part if x.side == "long")
            fired_side = side if side != key else ("below" if longs >= total - longs else "above")
            who = {"above": "shorts", "below": "longs"}[fired_side]
            if side != key:
                text = f"{sym}: {fmt_usd(total)} of {who} liquidated within {rule.burst_s:g}s ({len(part)} orders)"
            else:
                most = max(longs, total - longs) / total
                text = f"{sym}: {fmt_usd(total)} liquidated within {rule.burst_s:g}s ({len(part)} orders, {most:.0%} {who})"
            alert = self._alert(i, rule, st, snap, fired_side, text=text, usd=float(total), count=len(part))
            st.last_fired[side] = snap.ts
            out.append(alert)
        return out

    def _imbalance(self, i: int, rule: AlertRule, st: _RuleState, snap: Snapshot) -> list[Alert]:
        imb = snap.imbalance
        if imb is None or not math.isfinite(imb):
            return []
        out: list[Alert] = []
        sym = snap.symbol or self.symbol
        for side in self._sides(rule):
            signed = imb if side == "above" else -imb
            if not st.armed[side]:
                if signed < rule.level - rule.hyst:
                    st.armed[side] = True
                continue
            if signed < rule.level or self._cool(rule, st, side, snap.ts):
                continue
            st.armed[side] = False
            more = "above (squeeze fuel)" if side == "above" else "below (flush fuel)"
            text = f"{sym} {fmt_price(snap.price)}: imbalance {fmt_pct(imb * 100, 0)}, more liquidity {more}"
            out.append(self._alert(i, rule, st, snap, side, text=text, imbalance=round(imb, 4)))
        return out
