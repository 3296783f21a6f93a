"""The configured alert rules on the radar's rows: which rows cross a rule now (a mark), without firing actions.

Rules that make sense for one row of the radar, per symbol (a rule's ``symbols`` filter honoured):

* ``near_zone``: a zone of the symbol's radar model (its ``12h`` light model: the radar keeps one lookback per
  symbol, whatever the rule's ``lookback``) of at least ``min_usd`` within ``within_pct`` % of the price, on the
  rule's side(s). The mark stays while such a zone is within ``within_pct + hysteresis`` %.
* ``imbalance``: the row's imbalance at ``+level`` (side above) or ``−level`` (below); the mark stays while it
  is beyond ``level − hysteresis``.
* ``liquidation``: with ``burst_s`` > 0 the symbol's liquidations (of the rule's side) within the last
  ``burst_s`` seconds summing to ``min_usd``, the mark staying while the sum is at least ``min_usd × (1 −
  hysteresis)``; with ``burst_s`` 0 one liquidation of ``min_usd`` within the last :data:`SINGLE_HOLD_S`
  seconds (a mark is a state: a single order is held that long).

``zone_spent`` is left out: a sweep is an event of a zone followed across snapshots, not a state of a row.

Why marks and no actions: the radar watches hundreds of symbols; with toasts, bells and commands per row the
default rules would ring every few seconds, a rule's cooldown (per rule, not per symbol) would let the first
symbol silence all the others, and the commands users hook to alerts expect the symbol they follow. The
actions stay with the heatmap's symbol (:class:`~liqtui.alerts.controller.AlertsController`); the radar shows
which rows cross which rule, and Enter opens one. Pure (stdlib + msgspec).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import msgspec

from liqtui.alerts.evaluator import ZoneLike, zone_distance_pct
from liqtui.alerts.rules import AlertRule

__all__ = ["RADAR_KINDS", "SINGLE_HOLD_S", "RadarMarks", "mark_code"]

#: The rule kinds evaluated per radar row.
RADAR_KINDS: tuple[str, ...] = ("near_zone", "imbalance", "liquidation")
#: How long one liquidation of a ``burst_s = 0`` rule keeps its row marked.
SINGLE_HOLD_S = 60.0
#: The letter of each kind in the screen's mark column.
_CODES = {"near_zone": "Z", "imbalance": "I", "liquidation": "L"}
#: the rule's side → the liquidated positions' side (shorts, longs; 0: either, summed together as a burst of
#: both sides is by the evaluator)
_LIQ_SIDE = {"above": -1, "below": 1, "both": 0}


def mark_code(kinds: Iterable[str]) -> str:
    """The mark column's text for the crossed kinds (``Z`` near zone, ``I`` imbalance, ``L`` liquidations)."""
    return "".join(dict.fromkeys(_CODES[k] for k in kinds if k in _CODES))


class _Report(Protocol):
    @property
    def above(self) -> Sequence[ZoneLike]: ...
    @property
    def below(self) -> Sequence[ZoneLike]: ...


class RadarLike(Protocol):
    """What the marks read of the radar (:class:`liqtui.core.radar.Radar` fits)."""

    now_ms: int

    def zones(self, symbol: str) -> Any: ...
    def liquidations(self, symbol: str, since_ms: int) -> list[tuple[int, float, int]]: ...


class RowLike(Protocol):
    """What the marks read of a row (:class:`liqtui.core.radar.RadarRow` fits; a msgspec Struct with ``alerts``)."""

    @property
    def symbol(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def imbalance(self) -> float: ...
    @property
    def squeeze_pct(self) -> float | None: ...
    @property
    def squeeze_usd(self) -> float: ...
    @property
    def flush_pct(self) -> float | None: ...
    @property
    def flush_usd(self) -> float: ...


class RadarMarks:
    """Evaluates ``rules`` over radar rows each refresh; :meth:`mark` returns the rows with ``alerts`` set (the
    names of the rules crossed, in rule order) and remembers what is crossing for the rules' hysteresis."""

    def __init__(self, rules: Iterable[AlertRule]) -> None:
        self.rules = [r for r in rules if r.enabled and r.kind in RADAR_KINDS]
        self._on: set[tuple[int, str, str]] = set()  # (rule index, symbol, side) crossing now
        self.kinds: dict[str, tuple[str, ...]] = {}  # symbol → kinds crossed (the screen's mark column)

    def mark(self, rows: Iterable[Any], radar: RadarLike) -> list[Any]:
        out = []
        seen: set[str] = set()
        now = int(radar.now_ms)
        kinds: dict[str, tuple[str, ...]] = {}
        for row in rows:
            seen.add(row.symbol)
            names: list[str] = []
            crossed: list[str] = []
            for i, rule in enumerate(self.rules):
                if not rule.applies_to(row.symbol):
                    continue
                if self._crosses(i, rule, row, radar, now):
                    names.append(rule.name)
                    crossed.append(rule.kind)
            names = list(dict.fromkeys(names))
            if crossed:
                kinds[row.symbol] = tuple(dict.fromkeys(crossed))
            out.append(msgspec.structs.replace(row, alerts=tuple(names)) if names or row.alerts else row)
        self._on = {k for k in self._on if k[1] in seen}  # rows gone (delisted, filtered) start afresh
        self.kinds = kinds
        return out

    # ----------------------------------------------------------------------------------------- per kind
    def _crosses(self, i: int, rule: AlertRule, row: RowLike, radar: RadarLike, now: int) -> bool:
        hit = False
        both = rule.side == "both" and rule.kind != "liquidation"
        for side in ("above", "below") if both else (rule.side,):
            key = (i, row.symbol, side)
            on = key in self._on
            if rule.kind == "near_zone":
                on = self._near(rule, row, radar, side, on)
            elif rule.kind == "imbalance":
                signed = row.imbalance if side == "above" else -row.imbalance
                on = signed >= (rule.level - rule.hyst if on else rule.level)
            else:
                on = self._liquidations(rule, row.symbol, radar, side, now, on)
            if on:
                self._on.add(key)
                hit = True
            else:
                self._on.discard(key)
        return hit

    @staticmethod
    def _near(rule: AlertRule, row: RowLike, radar: RadarLike, side: str, on: bool) -> bool:
        reach = rule.within_pct + (rule.hyst if on else 0.0)
        price = row.price
        if not price > 0:
            return False
        rep: _Report | None = radar.zones(row.symbol)
        if rep is not None:
            # the zones were found at the model's price: those the price has gone through since are behind it
            if side == "above":
                zones = [z for z in rep.above if z.high > price]
            else:
                zones = [z for z in rep.below if z.low < price]
            return any(
                z.usd >= rule.usd_floor and zone_distance_pct(side, z.low, z.high, price) <= reach
                for z in zones
            )
        pct, usd = (row.squeeze_pct, row.squeeze_usd) if side == "above" else (row.flush_pct, row.flush_usd)
        return pct is not None and usd >= rule.usd_floor and abs(pct) <= reach

    @staticmethod
    def _liquidations(rule: AlertRule, symbol: str, radar: RadarLike, side: str, now: int, on: bool) -> bool:
        want = _LIQ_SIDE[side]
        if rule.burst_s <= 0:
            since = now - int(SINGLE_HOLD_S * 1000)
            liqs = radar.liquidations(symbol, since)
            return any(want in (0, s) and usd >= rule.usd_floor for _, usd, s in liqs)
        since = now - int(rule.burst_s * 1000)
        total = sum(usd for _, usd, s in radar.liquidations(symbol, since) if want in (0, s))
        return total >= (rule.usd_floor * (1.0 - rule.hyst) if on else rule.usd_floor)
