"""Bar history of the simulated market at mixed resolution, resampled to any Binance kline interval.

The past is stored compressed (coarse bars far back, 1-minute bars recently, see ``market.py``). A request
at a finer interval than what is stored splits a stored bar into deterministic sub-bars (a seeded bridge that
keeps the bar's open, high, low, close and volume exactly); a coarser one aggregates. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["INTERVALS_MS", "OI_PERIODS_MS", "BarStore", "Bars", "ceil_to", "floor_to"]

MINUTE_MS = 60_000
#: Binance kline intervals served (``1m`` .. ``1d``).
INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}
#: ``/futures/data/openInterestHist`` periods.
OI_PERIODS_MS: dict[str, int] = {
    k: INTERVALS_MS[k] for k in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
}

_FLOAT_COLS = ("o", "h", "l", "c", "v", "q", "tbv", "tbq", "oi")
_INT_COLS = ("ts", "dur", "n")


def floor_to(t: int, step: int) -> int:
    """Largest multiple of ``step`` ≤ ``t``."""
    return (t // step) * step


def ceil_to(t: int, step: int) -> int:
    """Smallest multiple of ``step`` ≥ ``t``."""
    return -((-t) // step) * step


@dataclass(slots=True)
class Bars:
    """Column arrays of OHLCV bars: open time and duration (ms), prices, base volume ``v``, quote volume
    ``q``, trade count ``n``, taker-buy base/quote volume ``tbv``/``tbq``; ``oi`` is open interest (base
    units) at the bar's close (NaN when unknown)."""

    ts: np.ndarray
    dur: np.ndarray
    o: np.ndarray
    h: np.ndarray
    l: np.ndarray
    c: np.ndarray
    v: np.ndarray
    q: np.ndarray
    n: np.ndarray
    tbv: np.ndarray
    tbq: np.ndarray
    oi: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.size)

    def take(self, idx: np.ndarray | slice) -> Bars:
        """A subset of rows (copies for fancy indices, views for slices)."""
        return Bars(**{f: getattr(self, f)[idx] for f in self.__dataclass_fields__})

    @staticmethod
    def concat(parts: list[Bars]) -> Bars:
        """Rows of several ``Bars`` one after the other."""
        return Bars(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in Bars.__dataclass_fields__})


class BarStore:
    """Append-only bar history (time-ordered, each bar aligned to its own duration)."""

    def __init__(self, seed: int, capacity: int = 8192) -> None:
        self._seed = seed
        self._n = 0
        self._cols: dict[str, np.ndarray] = {}
        for f in _INT_COLS:
            self._cols[f] = np.zeros(capacity, dtype=np.int64)
        for f in _FLOAT_COLS:
            self._cols[f] = np.zeros(capacity, dtype=np.float64)

    def __len__(self) -> int:
        return self._n

    @property
    def bars(self) -> Bars:
        """All stored bars (views; do not mutate)."""
        return Bars(**{f: a[: self._n] for f, a in self._cols.items()})

    def extend(self, **cols: np.ndarray) -> None:
        """Append many bars at once (every column, same length)."""
        if set(cols) != set(_INT_COLS + _FLOAT_COLS):
            raise ValueError(f"extend() needs exactly the columns {sorted(_INT_COLS + _FLOAT_COLS)}")
        m = len(cols["ts"])
        if m == 0:
            return
        if self._n and int(cols["ts"][0]) < self.end_ms:
            raise ValueError("bars must be appended in time order without overlap")
        self._reserve(self._n + m)
        for f, a in cols.items():
            self._cols[f][self._n : self._n + m] = a
        self._n += m

    def append(self, **row: float) -> None:
        """Append one bar."""
        self.extend(**{k: np.asarray([v]) for k, v in row.items()})

    @property
    def start_ms(self) -> int:
        return int(self._cols["ts"][0]) if self._n else 0

    @property
    def end_ms(self) -> int:
        """Close time (exclusive) of the last stored bar."""
        if not self._n:
            return 0
        return int(self._cols["ts"][self._n - 1] + self._cols["dur"][self._n - 1])

    def _reserve(self, n: int) -> None:
        cap = self._cols["ts"].size
        if n <= cap:
            return
        new = max(n, 2 * cap)
        for f, a in self._cols.items():
            b = np.zeros(new, dtype=a.dtype)
            b[: self._n] = a[: self._n]
            self._cols[f] = b

    # -- resampling --------------------------------------------------------------------------------------
    def window(self, t0: int, t1: int) -> tuple[Bars, np.ndarray]:
        """Stored bars overlapping ``[t0, t1)`` and their row numbers (for deterministic sub-bars)."""
        b = self.bars
        lo = int(np.searchsorted(b.ts + b.dur, t0, side="right"))
        hi = int(np.searchsorted(b.ts, t1, side="left"))
        return b.take(slice(lo, hi)), np.arange(lo, hi)

    def resample(self, interval_ms: int, t0: int, t1: int, extra: Bars | None = None) -> Bars:
        """Bars of ``interval_ms`` whose open time is in ``[t0, t1)`` (aligned), from stored bars plus
        ``extra`` (e.g. the forming live bar). Bars partly outside the history are partial, as on Binance."""
        part, rows = self.window(t0, t1)
        if extra is not None and len(extra):
            part = Bars.concat([part, extra])
            rows = np.concatenate([rows, np.full(len(extra), -1, dtype=np.int64)])
        if len(part) == 0:
            return part
        pieces = self._split_coarse(part, rows, interval_ms)
        out = _aggregate(pieces, interval_ms)
        keep = (out.ts >= t0) & (out.ts < t1)
        return out.take(np.flatnonzero(keep))

    def _split_coarse(self, part: Bars, rows: np.ndarray, interval_ms: int) -> Bars:
        """Split every bar longer than ``gcd(duration, interval)`` into deterministic sub-bars."""
        g = np.gcd(part.dur, interval_ms)
        coarse = np.flatnonzero(g < part.dur)
        if coarse.size == 0:
            return part
        chunks: list[Bars] = []
        prev = 0
        for i in coarse.tolist():
            if i > prev:
                chunks.append(part.take(slice(prev, i)))
            k = int(part.dur[i] // g[i])
            rng = np.random.default_rng([self._seed, 7, int(rows[i]) + 1, k])
            chunks.append(split_bar(part.take(slice(i, i + 1)), k, rng))
            prev = i + 1
        if prev < len(part):
            chunks.append(part.take(slice(prev, len(part))))
        return Bars.concat(chunks)

    def oi_at(self, ts: np.ndarray) -> np.ndarray:
        """Open interest (base) at the given times, interpolated between bar closes; NaN outside."""
        b = self.bars
        close = (b.ts + b.dur).astype(np.float64)
        ok = ~np.isnan(b.oi)
        if not ok.any():
            return np.full(len(ts), np.nan)
        x, y = close[ok], b.oi[ok]
        out: np.ndarray = np.interp(np.asarray(ts, dtype=np.float64), x, y)
        out[(ts < x[0]) | (ts > x[-1])] = np.nan
        return out


def split_bar(bar: Bars, k: int, rng: np.random.Generator) -> Bars:
    """Split one bar into ``k`` equal sub-bars along a seeded bridge from open to close that touches the
    bar's high and low; the sub-bars aggregate back exactly to the bar (prices, volumes, trade count)."""
    o, h, lo, c = (float(x[0]) for x in (bar.o, bar.h, bar.l, bar.c))
    ts0, dur = int(bar.ts[0]), int(bar.dur[0])
    step = dur // k
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(k))])
    frac = np.arange(k + 1) / k
    bridge = walk - frac * walk[-1]
    span = float(np.ptp(bridge)) or 1.0
    path = o + (c - o) * frac + bridge / span * (h - lo) * 0.5
    path = np.clip(path, lo, h)
    path[0], path[-1] = o, c
    so, sc = path[:-1], path[1:]
    sh, sl = np.maximum(so, sc), np.minimum(so, sc)
    ih, il = int(rng.integers(k)), int(rng.integers(k))
    if k > 1 and il == ih:
        il = (ih + 1 + int(rng.integers(k - 1))) % k
    sh[ih], sl[il] = h, lo
    w = rng.dirichlet(np.ones(k))
    v = w * float(bar.v[0])
    typ = (sh + sl + sc) / 3.0
    qv = v * typ
    total_q = float(bar.q[0])
    q = qv * (total_q / qv.sum()) if qv.sum() > 0 else np.full(k, total_q / k)
    share = float(bar.tbv[0] / bar.v[0]) if bar.v[0] > 0 else 0.5
    n_total = int(bar.n[0])
    n = np.floor(w * n_total).astype(np.int64)
    n[: n_total - int(n.sum())] += 1
    oi = np.full(k, np.nan)
    oi[-1] = float(bar.oi[0])
    return Bars(
        ts=ts0 + step * np.arange(k, dtype=np.int64),
        dur=np.full(k, step, dtype=np.int64),
        o=so,
        h=sh,
        l=sl,
        c=sc,
        v=v,
        q=q,
        n=n,
        tbv=v * share,
        tbq=q * (float(bar.tbq[0] / bar.q[0]) if bar.q[0] > 0 else share),
        oi=oi,
    )


def _aggregate(p: Bars, interval_ms: int) -> Bars:
    """Group time-ordered pieces (each within one interval) into bars of ``interval_ms``."""
    group = p.ts // interval_ms
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    ends = np.concatenate([starts[1:], [len(p)]]) - 1
    return Bars(
        ts=group[starts] * interval_ms,
        dur=np.full(starts.size, interval_ms, dtype=np.int64),
        o=p.o[starts],
        h=np.maximum.reduceat(p.h, starts),
        l=np.minimum.reduceat(p.l, starts),
        c=p.c[ends],
        v=np.add.reduceat(p.v, starts),
        q=np.add.reduceat(p.q, starts),
        n=np.add.reduceat(p.n, starts),
        tbv=np.add.reduceat(p.tbv, starts),
        tbq=np.add.reduceat(p.tbq, starts),
        oi=p.oi[ends],
    )
