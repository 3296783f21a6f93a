"""The cohort log and the lookback windows read from it.

Every amount is stored in *normalised* units: USD divided by the running decay product of its tier
(``exp(lnD[j])``) and the running closing product of its side (``exp(lnC[s])``) at creation. Decay and
pro-rata closing then only move those scalars; the current value is ``stored × exp(lnD + lnC)``.

Each seeded bar becomes a row of the time-ordered *cohort log* (lattice bucket + amount per
side × tier × entry anchor). Arrays ``arr[lookback][side, tier, bucket]`` (and an all-time ``arr["all"]``)
are brought up to date lazily from the log: rows entering the window are added, rows ageing out are
subtracted. Consumption zeroes buckets and stamps ``epoch[side, bucket]`` with a sequence number;
a log row is still *alive* in a bucket iff its sequence is newer than that bucket's epoch, so ageing
out subtracts only what was not consumed. Switching lookback is therefore just reading an array.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np

from liqtui.core.grid import PriceGrid
from liqtui.core.layout import Layout
from liqtui.core.model_config import LOOKBACK_MS, LOOKBACKS

__all__ = ["ALL", "KEYS", "CohortLog", "Sync", "Windows"]

ALL = "all"  #: the key of the all-time array (every level standing, whatever its age)
KEYS: tuple[str, ...] = (ALL, *LOOKBACKS)


@dataclass
class CohortLog:
    """Append-only, time-ordered rows of seeded mass (normalised units), indexed absolutely.

    ``ts``/``seq``/``k``/``amt`` have spare capacity past ``size``; row ``i`` of them is absolute row ``base + i``.
    """

    ts: np.ndarray  # (cap,) int64 bar time of each row
    seq: np.ndarray  # (cap,) int32 sequence number of each row
    k: np.ndarray  # (cap, width) int32 lattice bucket of each column's level
    amt: np.ndarray  # (cap, width) float64 normalised amount of each column
    base: int = 0  # absolute index of stored row 0
    size: int = 0

    @classmethod
    def empty(cls, width: int, cap: int = 1024) -> CohortLog:
        return cls(
            np.zeros(cap, np.int64), np.zeros(cap, np.int32),
            np.zeros((cap, width), np.int32), np.zeros((cap, width), np.float64),
        )  # fmt: skip

    @property
    def end(self) -> int:
        return self.base + self.size

    def _resize(self, cap: int) -> None:
        for name in ("ts", "seq", "k", "amt"):
            old = getattr(self, name)
            arr = np.zeros((cap, *old.shape[1:]), old.dtype)
            arr[: self.size] = old[: self.size]
            setattr(self, name, arr)

    def append(self, ts: np.ndarray, seq: np.ndarray, k: np.ndarray, amt: np.ndarray) -> None:
        m = len(ts)
        if self.size + m > len(self.ts):
            self._resize(max(2 * len(self.ts), self.size + m))
        s = self.size
        self.ts[s : s + m], self.seq[s : s + m], self.k[s : s + m], self.amt[s : s + m] = ts, seq, k, amt
        self.size += m

    def shrink(self) -> None:
        """Drop the spare capacity (before a checkpoint, so it stores only rows)."""
        if len(self.ts) != self.size:
            self._resize(self.size)

    def first_after(self, t: int) -> int:
        """Absolute index of the first row with ts > t."""
        return self.base + int(np.searchsorted(self.ts[: self.size], t, side="right"))

    def rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i, j = a - self.base, b - self.base
        return self.k[i:j], self.amt[i:j], self.seq[i:j]

    def drop_before(self, a: int) -> None:
        """Forget rows before absolute index ``a`` (compacting when it frees enough space)."""
        d = a - self.base
        if d <= 0 or d < max(4096, self.size // 2):
            return
        keep = self.size - d
        for name in ("ts", "seq", "k", "amt"):
            arr = getattr(self, name)
            arr[:keep] = arr[d : self.size]
        self.base, self.size = a, keep


class Sync(msgspec.Struct):
    """How far a lookback array has been brought up to date from the cohort log."""

    start: int = 0  # first log row inside the window at the last sync
    end: int = 0  # log rows [start, end) are accounted
    seq: int = -1  # sequence number at the last sync (buckets consumed after it are zeroed)


@dataclass
class Windows:
    """The cohort log, one normalised array per lookback (and all-time), and the consumption epochs."""

    arr: dict[str, np.ndarray]  # key (ALL or a lookback) -> (2, T, n) normalised levels
    epoch: np.ndarray  # (2, n) int32 sequence number of each bucket's last consumption (-1: never)
    sync: dict[str, Sync]
    log: CohortLog
    seq: int = 0  # next sequence number (consumption events and seeded rows share it)
    max_epoch: int = -1  # newest consumption sequence number

    @classmethod
    def empty(cls, lay: Layout, n: int) -> Windows:
        T = lay.n_tiers
        return cls(
            arr={key: np.zeros((2, T, n)) for key in KEYS},
            epoch=np.full((2, n), -1, np.int32),
            sync={key: Sync() for key in KEYS},
            log=CohortLog.empty(lay.width),
        )

    def resized(self, n: int, T: int) -> None:
        """Empty arrays for a grid of ``n`` buckets (when the first price arrives)."""
        self.arr = {key: np.zeros((2, T, n)) for key in KEYS}
        self.epoch = np.full((2, n), -1, np.int32)

    def stamp(self, side: int, lo: int, hi: int) -> None:
        """Mark ``side``'s buckets [lo, hi] consumed now (levels made before this no longer count there)."""
        self.epoch[side, lo : hi + 1] = self.seq
        self.max_epoch = self.seq
        self.seq += 1

    def apply_rows(self, arr: np.ndarray, a: int, b: int, sign: float, g: PriceGrid, lay: Layout) -> None:
        """Add (sign=+1) or subtract (−1) the still-alive levels of log rows [a, b) into ``arr``.

        A row's level is alive in its bucket iff the row's sequence number is newer than the
        bucket's last consumption (``epoch``).
        """
        if b <= a:
            return
        k, amt, seq = self.log.rows(a, b)
        n, T = g.n, lay.n_tiers
        idx = k - np.int32(g.k0)  # (m, E) level buckets
        if int(idx.min()) < 0 or int(idx.max()) >= n:
            idx = np.clip(idx, 0, n - 1)
        if self.max_epoch < int(seq.min()):  # nothing consumed since these rows were made
            val = amt if sign > 0 else -amt
        else:  # dead levels weigh zero (cheaper than compressing both arrays)
            sidebase = (lay.col_side * n).astype(np.int32)[None, :]
            val = np.where(self.epoch.reshape(-1)[idx + sidebase] < seq[:, None], amt, 0.0)
            if sign < 0:
                val = -val
        colbase = ((lay.col_side * T + lay.col_tier) * n).astype(np.int32)[None, :]
        flat = (idx + colbase).reshape(-1)
        out = arr.reshape(-1)
        if flat.size * 4 < arr.size:
            np.add.at(out, flat, val.reshape(-1))
        else:
            out += np.bincount(flat, weights=val.reshape(-1), minlength=arr.size)
        if sign < 0:
            np.maximum(arr, 0.0, out=arr)

    def sync_to(self, key: str, now_ts: int, g: PriceGrid, lay: Layout) -> np.ndarray:
        """Bring the array of ``key`` (ALL or a lookback) up to date at time ``now_ts``; returns it."""
        st, arr = self.sync[key], self.arr[key]
        hit = self.epoch >= st.seq
        if hit.any():
            arr.swapaxes(1, 2)[hit] = 0.0
        end = self.log.end
        new_start = st.start if key == ALL else max(st.start, self.log.first_after(now_ts - LOOKBACK_MS[key]))
        self.apply_rows(arr, max(st.end, new_start), end, +1.0, g, lay)
        self.apply_rows(arr, st.start, min(st.end, new_start), -1.0, g, lay)
        if new_start >= end:  # an empty window holds nothing (not the rounding left by subtracting its rows)
            arr[:] = 0.0
        st.start, st.end, st.seq = new_start, end, self.seq
        return arr

    def sync_every(self, now_ts: int, g: PriceGrid, lay: Layout) -> None:
        for key in KEYS:
            self.sync_to(key, now_ts, g, lay)

    def sync_all(self, now_ts: int, g: PriceGrid, lay: Layout) -> None:
        """Every array up to date, and the log rows no window needs any more forgotten."""
        self.sync_every(now_ts, g, lay)
        self.log.drop_before(min(st.start for key, st in self.sync.items() if key != ALL))

    def trim(self, keep: np.ndarray) -> None:
        """Zero every bucket outside ``keep`` and stamp it consumed (the grid is cutting it off)."""
        for arr in self.arr.values():
            arr[:, :, ~keep] = 0.0
        self.epoch[:, ~keep] = self.seq
        self.max_epoch = self.seq
        self.seq += 1

    def moved(self, shift: tuple[int, int, int, int]) -> None:
        """Re-window every array onto lattice buckets [new_lo, new_hi) from the old window (old_k0, old_n)."""
        self.arr = {key: move_window(arr, shift, 0.0) for key, arr in self.arr.items()}
        self.epoch = move_window(self.epoch, shift, -1)


def move_window(old: np.ndarray, shift: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """``old`` (last axis = lattice buckets [old_k0, old_k0 + old_n)) re-windowed onto [new_lo, new_hi)."""
    old_k0, old_n, new_lo, new_hi = shift
    src_lo, src_hi = max(old_k0, new_lo), min(old_k0 + old_n, new_hi)
    out = np.full((*old.shape[:-1], new_hi - new_lo), fill, old.dtype)
    if src_hi > src_lo:
        out[..., src_lo - new_lo : src_hi - new_lo] = old[..., src_lo - old_k0 : src_hi - old_k0]
    return out
