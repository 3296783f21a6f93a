"""Context series for the small charts: open interest, funding and cumulative realized liquidations over time.

Pure (numpy + stdlib, never textual): the app calls :meth:`ContextSeries.update` on every UI tick with the
engine and its clock. That call is O(new liquidations) and reads a few scalars; a sample is stored once per
``interval_ms``. The ring is bounded: when it is full, every second sample is dropped and the interval doubles,
so the series always reaches back to the start of the session with at most ``capacity`` points (5 s samples
cover ~2.8 h in 2,048 points, then 10 s … and so on).

Liquidations are counted as they arrive (``engine.counters["liquidations"]`` tells how many are new, so
nothing is counted twice even when the engine's tape is bounded), split by the liquidated position's side:
longs (flushed) and shorts (squeezed), in USD.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from liqtui.core.events import PositionSide

if TYPE_CHECKING:
    from liqtui.ui.view import EngineView

__all__ = ["ContextSeries", "ContextView", "decimate", "time_unit"]

_FIELDS = ("oi_usd", "funding", "liq_long_usd", "liq_short_usd")


@dataclass(frozen=True)
class ContextView:
    """A copy of the stored samples, oldest first (float arrays; NaN where a value was not known yet)."""

    ts: np.ndarray  # int64 ms
    oi_usd: np.ndarray  # summed open interest over venues, USD
    funding: np.ndarray  # mean funding rate over venues (a fraction, 0.0001 = 0.01 %)
    liq_long_usd: np.ndarray  # cumulative realized long liquidations since the start, USD
    liq_short_usd: np.ndarray  # cumulative realized short liquidations since the start, USD

    def __len__(self) -> int:
        return len(self.ts)


class ContextSeries:
    """A bounded, self-coarsening ring of context samples (see the module docstring).

    ``version`` bumps whenever a sample is stored: the charts redraw only when it changed.
    """

    def __init__(self, interval_ms: int = 5_000, capacity: int = 2_048) -> None:
        if not isinstance(interval_ms, int) or interval_ms < 1:
            raise ValueError(f"interval_ms must be a positive integer, got {interval_ms!r}")
        if not isinstance(capacity, int) or capacity < 4 or capacity % 2:
            raise ValueError(f"capacity must be an even integer >= 4, got {capacity!r}")
        self.interval_ms = interval_ms
        self.capacity = capacity
        self.version = 0
        self.liq_long_usd = 0.0
        self.liq_short_usd = 0.0
        self.liq_missed = 0  # liquidations that left the engine's bounded tape before they were counted
        self._ts = np.zeros(capacity, np.int64)
        self._vals = np.full((len(_FIELDS), capacity), np.nan)
        self._n = 0
        self._liq_seen: int | None = None
        self._engine_id: int | None = None

    def __len__(self) -> int:
        return self._n

    # ------------------------------------------------------------------------------------ input
    def update(self, engine: EngineView, now_ms: int) -> bool:
        """Count new liquidations of ``engine`` and store a sample when ``interval_ms`` has passed since the
        last one (and something is known). Returns True when a sample was stored.

        A different engine object (a ticker or venue switch) starts the series afresh."""
        if self._engine_id != id(engine):
            if self._engine_id is not None:
                self.reset()
            self._engine_id = id(engine)
        self._count_liquidations(engine)
        if self._n and now_ms - int(self._ts[self._n - 1]) < self.interval_ms:
            return False
        oi = _oi(engine)
        funding = _mean_funding(engine)
        if oi is None and funding is None and self._liq_seen in (None, 0):
            return False  # nothing to show yet
        self.append(now_ms, oi, funding, self.liq_long_usd, self.liq_short_usd)
        return True

    def append(
        self, ts: int, oi_usd: float | None, funding: float | None, liq_long_usd: float, liq_short_usd: float
    ) -> None:
        """Store one sample (time order is the caller's: an older ``ts`` than the last is refused)."""
        if self._n and ts < int(self._ts[self._n - 1]):
            raise ValueError(f"sample at {ts} is older than the last one at {int(self._ts[self._n - 1])}")
        if self._n == self.capacity:
            self._coarsen()
        i = self._n
        self._ts[i] = ts
        for row, v in enumerate((oi_usd, funding, liq_long_usd, liq_short_usd)):
            self._vals[row, i] = math.nan if v is None else float(v)
        self._n += 1
        self.version += 1

    def reset(self) -> None:
        """Forget every sample and the liquidation totals (the interval keeps its current value)."""
        self._n = 0
        self._vals.fill(np.nan)
        self.liq_long_usd = self.liq_short_usd = 0.0
        self.liq_missed = 0
        self._liq_seen = None
        self.version += 1

    def _coarsen(self) -> None:
        """Full: keep every other sample from the first (the start of the session stays), double the interval.
        The next sample then continues the even spacing."""
        keep = np.arange(0, self._n, 2)
        m = len(keep)
        self._ts[:m] = self._ts[keep]
        self._vals[:, :m] = self._vals[:, keep]
        self._vals[:, m:] = np.nan
        self._n = m
        self.interval_ms *= 2

    def _count_liquidations(self, engine: EngineView) -> None:
        tape = engine.liquidations
        total = int(engine.counters.get("liquidations", 0))
        seen = self._liq_seen
        if seen is None or total < seen:  # first look (or a reset engine): count what the tape holds
            new = len(tape)
        else:
            new = total - seen
        self._liq_seen = total
        if new <= 0:
            return
        if new > len(tape):
            self.liq_missed += new - len(tape)
            new = len(tape)
        self._add_liquidations(itertools.islice(reversed(tape), new))

    def _add_liquidations(self, liqs: Iterable[Any]) -> None:
        for liq in liqs:
            usd = float(liq.usd)
            if not (math.isfinite(usd) and usd > 0):
                continue
            if liq.side == PositionSide.LONG:
                self.liq_long_usd += usd
            else:
                self.liq_short_usd += usd

    # ----------------------------------------------------------------------------------- output
    def view(self) -> ContextView:
        """The stored samples, oldest first (copies)."""
        n = self._n
        vals = self._vals[:, :n].copy()
        return ContextView(self._ts[:n].copy(), *vals)


def _oi(engine: EngineView) -> float | None:
    if not engine.oi_usd:
        return None
    total = float(engine.oi_usd_total)
    return total if math.isfinite(total) else None


def _mean_funding(engine: EngineView) -> float | None:
    """Mean funding rate over the venues that reported one (as the status line shows it)."""
    rates = [float(f) for f in engine.funding.values() if f is not None and math.isfinite(f)]
    return sum(rates) / len(rates) if rates else None


def decimate(x: np.ndarray, y: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``2 * n_cols`` points of ``(x, y)`` (x ascending) for a chart ``n_cols`` wide: per column of
    x the minimum and the maximum in time order, so spikes survive. NaN points are dropped first."""
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    ok = np.isfinite(y)
    x, y = np.asarray(x, np.float64)[ok], np.asarray(y, np.float64)[ok]
    if len(x) <= 2 * n_cols:
        return x, y
    span = x[-1] - x[0]
    col = np.minimum(((x - x[0]) / span * n_cols).astype(np.int64), n_cols - 1)
    starts = np.flatnonzero(np.diff(col, prepend=-1))
    ends = np.append(starts[1:], len(x))
    picks: list[int] = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        seg = y[s:e]
        a, b = s + int(np.argmin(seg)), s + int(np.argmax(seg))
        picks.extend(sorted({a, b}))
    idx = np.array(picks, np.int64)
    return x[idx], y[idx]


def time_unit(span_ms: float) -> tuple[float, str]:
    """(ms per axis unit, unit label) for a time axis spanning ``span_ms``: seconds, minutes, hours or days,
    so the tick labels stay short."""
    for ms, label, upto in (
        (1_000, "s", 180_000),
        (60_000, "min", 3 * 3_600_000),
        (3_600_000, "h", 3 * 86_400_000),
    ):
        if span_ms <= upto:
            return float(ms), label
    return 86_400_000.0, "d"
