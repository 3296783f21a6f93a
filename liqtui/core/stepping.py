"""Stepping bars and live consumption: the rules of REFERENCE §3 applied to a :class:`ModelState`.

Per closed bar: decay → close on falling OI → consume the levels the bar traded through → seed new
positions from rising OI. Each new position is spread over leverage tiers; each tier's exact
liquidation price goes into a log-spaced bucket, smeared (when read) by a small conserving kernel.

A batch of bars is cut into chunks. Everything in a chunk that does not depend on the standing
estimate (OI deltas, closing and decay products, liquidation buckets, seeding amounts) is vectorised
(:func:`_prepare`); one sequential pass walks integers only — which bucket ranges each bar consumed,
sequence numbers (:class:`_Walk`); the arrays and the USD ledger are then updated with vectorised
passes (:meth:`Stepper._book`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liqtui.core.bars import checked_bars
from liqtui.core.cohorts import ALL
from liqtui.core.grid import PriceGrid
from liqtui.core.layout import Layout
from liqtui.core.ledger import Event, Units, book_chunk
from liqtui.core.model_config import HOUR_MS, ModelConfig
from liqtui.core.state import ModelState

__all__ = ["Stepper", "turnover_rates"]

_LN2 = math.log(2.0)
_F_MAX = 1.0 - 1e-9  # largest fraction of a side one bar can close (keeps lnC finite)
_RENORM_AT = -300.0  # renormalise stored units before exp(-lnD - lnC) nears float64 overflow
_Turnover = tuple[tuple[float, float], int]  # (Σ w·open_share·volume, Σ w·OI·hours), the time they weigh to


@dataclass
class _Chunk:
    """The vectorised facts of one chunk of bars (see :func:`_prepare`)."""

    b: np.ndarray  # the bars
    d: np.ndarray  # OI change per bar in base units (0 when unknown)
    oi_last: float | None  # OI baseline after the chunk
    lnD_rows: np.ndarray  # (m, T) decay products after each bar
    lnC_rows: np.ndarray  # (m, 2) closing products after each bar
    kcols: np.ndarray  # (m, E) lattice bucket of every level each bar would seed
    rows: np.ndarray  # bars that seed
    side_usd: np.ndarray  # (R, 2) USD they seed per side
    amt: np.ndarray  # (R, E) normalised amounts
    turnover: _Turnover  # turnover sums after the chunk (Activity.turnover, Activity.turnover_ts)


@dataclass
class _Walk:
    """The sequential pass's output so far: consumption events, seeded rows' sequence numbers, extents."""

    seq: int
    long_hi: int
    short_lo: int
    ev: list[Event] = field(default_factory=list)  # (side, lo, hi, seq, bar)
    row_seq: list[int] = field(default_factory=list)
    done_ev: int = 0  # events already applied to the epochs
    done_rows: int = 0  # rows already written to the log


def turnover_rates(
    b: np.ndarray,
    prev: np.ndarray,
    open_share: float,
    half_life_h: float,
    sums: tuple[float, float],
    sums_ts: int,
) -> tuple[np.ndarray, tuple[float, float], int]:
    """Per bar: the share of the standing open interest that closes per hour (``kappa``), and the new sums.

    The rate is ``open_share`` × volume over open interest × hours, both exponentially weighted over
    ``half_life_h`` (the bar itself included): on average a bar opens ``open_share`` of its volume, and as
    much closes. ``prev`` is the open interest before each bar (base units; 0 when unknown: such a bar adds
    nothing). ``sums`` are the weighted (Σ open_share·volume, Σ OI·hours) at ``sums_ts`` (0: none yet);
    returns ``(kappa, sums, ts)`` weighted to the last bar. One recursion in bar order, the same float
    operations whether the bars come in one batch or one by one (so both paths give the same estimate).
    """
    tau_ms = half_life_h * HOUR_MS / _LN2
    known = prev > 0
    vol = np.nan_to_num(b["volume"], nan=0.0, posinf=0.0, neginf=0.0)
    xs = np.where(known, open_share * np.maximum(vol, 0.0), 0.0).tolist()
    ys = np.where(known, prev * b["interval_s"] / 3600.0, 0.0).tolist()
    sx, sy = sums
    t_prev = sums_ts
    fade: dict[int, float] = {}
    kappa = []
    for t, x, y in zip(b["ts"].tolist(), xs, ys):
        if t_prev:
            dt = t - t_prev
            a = fade.get(dt)
            if a is None:
                a = fade[dt] = math.exp(-dt / tau_ms)
            sx, sy = sx * a + x, sy * a + y
        else:
            sx, sy = sx + x, sy + y
        t_prev = t
        kappa.append(sx / sy if sy > 0 else 0.0)
    return np.asarray(kappa), (sx, sy), t_prev


class Stepper:
    """Applies bars (:meth:`step_many`) and live price ranges (:meth:`consume`) to ``st``."""

    def __init__(self, cfg: ModelConfig, lay: Layout, st: ModelState):
        self.cfg, self.lay, self.st = cfg, lay, st

    @property
    def grid(self) -> PriceGrid:
        g = self.st.grid
        assert g is not None
        return g

    # -- batches --------------------------------------------------------------------------------
    def step_many(self, bars: np.ndarray, until_ts: int | None) -> None:
        st = self.st
        b = checked_bars(bars, st.last_ts)
        if len(b) == 0:
            return
        if st.grid is None:
            st.start_grid(self.cfg, self.lay, float(b["close"][0]))
        end_ts = max(int(b["ts"][-1]), int(until_ts) if until_ts is not None else 0)
        i = 0
        while i < len(b):
            self._maybe_renormalise()
            j = i + self._chunk_len(b, i)
            i += self._run_chunk(b[i:j], end_ts)
        st.version += 1
        w = st.windows
        if w.log.end - w.sync["6M"].end > 512 or (len(b) > 1 and end_ts <= st.last_ts):
            w.sync_all(st.last_ts, self.grid, self.lay)

    def _chunk_len(self, b: np.ndarray, i: int) -> int:
        """At most 20k bars, short enough that decay cannot overflow the stored units, and with a
        price span the grid can hold (levels of one chunk must fit ``max_buckets``)."""
        cfg = self.cfg
        m = min(len(b) - i, 20_000)
        budget_h = 250.0 / _LN2 * float(self.lay.hl_h.min()) if cfg.decay else math.inf
        # the grid must hold the chunk's prices ± range (the widest tier's levels sit inside that)
        step = math.log1p(cfg.bucket_pct / 100.0)
        r = cfg.range_pct / 100.0
        budget_k = 0.9 * cfg.max_buckets - (math.log((1 + r) / (1 - r)) / step + 4)
        while m > 1:
            span_h = (int(b["ts"][i + m - 1]) - int(b["ts"][i])) / HOUR_MS
            hi, lo = float(b["high"][i : i + m].max()), float(b["low"][i : i + m].min())
            if span_h <= budget_h and math.log(hi / lo) / step <= budget_k:
                break
            m //= 2
        return m

    def _maybe_renormalise(self) -> None:
        st, lay = self.st, self.lay
        if min(st.lnD.min(), 0.0) + min(st.lnC.min(), 0.0) > _RENORM_AT:
            return
        st.windows.sync_all(st.last_ts, self.grid, lay)
        g = np.exp(st.lnD[None, :] + st.lnC[:, None])  # (2, T)
        for arr in st.windows.arr.values():
            arr *= g[:, :, None]
        log = st.windows.log
        log.amt[: log.size] *= g[lay.col_side, lay.col_tier][None, :]
        st.lnD[:] = 0.0
        st.lnC[:] = 0.0

    # -- one chunk ------------------------------------------------------------------------------
    def _oi_pass(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None, _Turnover]:
        """Per bar: the contracts opened (base units; 0 when OI is unknown), the closing products ``lnC``
        after it, the last OI and the turnover sums after the bars. Opened (``opening``):

        * ``"turnover"``: the OI change plus what the standing OI closed during the bar, OI × κ × hours, with
          κ the turnover rate of :func:`turnover_rates` (at least 0);
        * ``"volume"``: the OI rise, or ``open_share`` of the bar's volume when that is more.

        What it opens beyond the OI change closed positions (closed = opened − OI change)."""
        m = len(b)
        ob = b["oi_usd"] / b["close"]
        valid = np.nonzero(np.isfinite(ob))[0]
        d = np.zeros(m)
        prev = np.zeros(m)
        last = self.st.oi_base
        if len(valid):
            vals = ob[valid]
            before = np.concatenate([[np.nan if last is None else last], vals[:-1]])
            has = np.isfinite(before)
            d[valid[has]] = vals[has] - before[has]
            prev[valid[has]] = before[has]
            last = float(vals[-1])
        opened = np.maximum(d, 0.0)
        cfg, act = self.cfg, self.st.activity
        # no OI base (the start, or rebase_oi: the OI series jumped): the rate starts afresh, on the new scale
        turn: _Turnover = (act.turnover, act.turnover_ts) if self.st.oi_base is not None else ((0.0, 0.0), 0)
        if cfg.opening == "turnover" and cfg.open_share > 0:
            # OI nets opening against closing: a bar opened its OI change plus what the standing OI closed
            kappa, sums, sums_ts = turnover_rates(b, prev, cfg.open_share, cfg.turnover_half_life_h, *turn)
            turn = (sums, sums_ts)
            flow = d + prev * kappa * (b["interval_s"] / 3600.0)
            opened = np.where(prev > 0, np.maximum(flow, 0.0), opened)
        elif cfg.open_share > 0:  # "volume": OI nets opening against closing within the bar
            vol = np.nan_to_num(b["volume"], nan=0.0, posinf=0.0)
            opened = np.where(prev > 0, np.maximum(opened, cfg.open_share * vol), opened)
        frac = np.divide(opened - d, prev, out=np.zeros(m), where=(opened - d > 0) & (prev > 0))
        if self.cfg.closing == "prorata":
            f = np.stack([frac, frac], axis=1)
        else:  # longs close by selling (taker sells), shorts by buying
            share = self.lay.long_share(b)
            f = np.stack([2.0 * frac * (1.0 - share), 2.0 * frac * share], axis=1)
        lnC_rows = self.st.lnC[None, :] + np.cumsum(np.log1p(-np.minimum(f, _F_MAX)), axis=0)
        return opened, lnC_rows, last, turn

    def _decay_rows(self, b: np.ndarray) -> np.ndarray:
        """Running log decay product per bar and tier, shape (m, T) (constant when decay is off)."""
        ts, st = b["ts"], self.st
        prev_ts = st.last_ts if st.last_ts else int(ts[0]) - int(b["interval_s"][0]) * 1000
        lnD_rows = np.repeat(st.lnD[None, :], len(b), axis=0)
        if self.cfg.decay:
            dt_h = np.diff(np.concatenate([[prev_ts], ts])) / HOUR_MS
            lnD_rows -= np.cumsum(dt_h)[:, None] * (_LN2 / self.lay.hl_h)[None, :]
        return lnD_rows

    def _prepare(self, b: np.ndarray) -> _Chunk:
        """The chunk's vectorised facts, cut short where the closing product would need renormalising;
        the grid is grown to hold every level it seeds."""
        d, lnC_rows, oi_last, turn = self._oi_pass(b)
        low_c = np.nonzero(lnC_rows.min(axis=1) < _RENORM_AT)[0]
        if len(low_c) and low_c[0] + 1 < len(b):  # renormalise before the closing product underflows
            b = b[: low_c[0] + 1]
            d, lnC_rows, oi_last, turn = self._oi_pass(b)
        st, lay = self.st, self.lay
        st.windows.sync_to(ALL, st.last_ts, self.grid, lay)  # the ledger starts from a current all-time array
        lnD_rows = self._decay_rows(b)
        entries = lay.entries(b)
        kcols = lay.liq_buckets(self.grid, entries)  # (m, E) lattice buckets
        g = self.grid
        half = len(lay.kernel) // 2
        k_lo = min(int(kcols.min()) - half - 1, g.span_for(float(b["close"].min()))[0])
        k_hi = max(int(kcols.max()) + half + 2, g.span_for(float(b["close"].max()))[1])
        self._cover(k_lo, k_hi)
        # seeding: every new contract has a long and a short; 2·ΔOI·price is split by the long share
        rows = np.nonzero(d > 0)[0]
        usd = d[rows] * (entries[rows] * lay.anchor_w[None, :]).sum(axis=1)
        share = lay.long_share(b)[rows]
        side_usd = np.stack([2.0 * usd * share, 2.0 * usd * (1.0 - share)], axis=1)
        amt = lay.row_amounts(lnD_rows[rows], side_usd * np.exp(-lnC_rows[rows]))
        return _Chunk(b, d, oi_last, lnD_rows, lnC_rows, kcols, rows, side_usd, amt, turn)

    def _seed_extents(self, ch: _Chunk) -> tuple[list[int], list[int]]:
        """Per bar: the highest long and the lowest short level bucket it seeds (−1 / n when none)."""
        g, m = self.grid, len(ch.b)
        seed_hi = np.full(m, -1, np.int64)
        seed_lo = np.full(m, g.n, np.int64)
        if len(ch.rows):
            long_cols = self.lay.col_side == 0
            kr = ch.kcols[ch.rows]
            seed_hi[ch.rows] = np.minimum(kr[:, long_cols].max(axis=1) - g.k0, g.n - 1)
            seed_lo[ch.rows] = np.maximum(kr[:, ~long_cols].min(axis=1) - g.k0, 0)
        return seed_hi.tolist(), seed_lo.tolist()

    def _run_chunk(self, b: np.ndarray, end_ts: int) -> int:
        """Apply bars ``b`` (one chunk); returns how many bars were applied (all, unless lnC needs renorm)."""
        ch = self._prepare(b)
        st = self.st
        walk = _Walk(st.windows.seq, st.long_hi, st.short_lo)
        self._walk(ch, walk, end_ts)
        self._book(ch, walk)
        self._catch_up(ch, walk)
        st.stats.seeded += float(ch.side_usd.sum())
        st.activity.track(ch.b, ch.rows, ch.side_usd, self.cfg.activity_half_life_h)
        st.activity.turnover, st.activity.turnover_ts = ch.turnover
        st.long_hi, st.short_lo, st.oi_base = walk.long_hi, walk.short_lo, ch.oi_last
        st.lnD = ch.lnD_rows[-1].copy()
        st.lnC = ch.lnC_rows[-1].copy()
        st.last_ts = int(ch.b["ts"][-1])
        st.last_close_ts = st.last_ts + int(ch.b["interval_s"][-1]) * 1000
        st.price = float(ch.b["close"][-1])
        st.windows.sync_to(ALL, st.last_ts, self.grid, self.lay)
        return len(ch.b)

    def _walk(self, ch: _Chunk, w: _Walk, end_ts: int) -> None:
        """The sequential pass (integers only): consumption events, sequence numbers, history slices."""
        g, b, ts = self.grid, ch.b, ch.b["ts"]
        k0, n, step = g.k0, g.n, g.step
        seeding = np.zeros(len(b), bool)
        seeding[ch.rows] = True
        sd = seeding.tolist()
        shi, slo = self._seed_extents(ch)
        cons_long = np.ceil(np.log(b["low"]) / step - k0 - 0.5).astype(np.int64).tolist()
        cons_short = np.floor(np.log(b["high"]) / step - k0 - 0.5).astype(np.int64).tolist()
        hist_at = self.st.ring.boundaries(ts, end_ts)
        ev, row_seq = w.ev, w.row_seq
        seq, long_hi, short_lo = w.seq, w.long_hi, w.short_lo
        for i in range(len(b)):
            if i in hist_at:
                w.seq = seq
                self._catch_up(ch, w)
                self._write_history(ch, i, hist_at[i])
            lo_b = cons_long[i]
            if lo_b <= long_hi:
                if lo_b < 0:  # noqa: PLR1730 - an if is cheaper than max() in this hot loop
                    lo_b = 0
                ev.append((0, lo_b, long_hi, seq, i))
                seq += 1
                long_hi = lo_b - 1
            hi_b = cons_short[i]
            if hi_b >= short_lo:
                if hi_b >= n:
                    hi_b = n - 1
                ev.append((1, short_lo, hi_b, seq, i))
                seq += 1
                short_lo = hi_b + 1
            if sd[i]:
                row_seq.append(seq)
                seq += 1
                if shi[i] > long_hi:  # noqa: PLR1730
                    long_hi = shi[i]
                if slo[i] < short_lo:  # noqa: PLR1730
                    short_lo = slo[i]
        w.seq, w.long_hi, w.short_lo = seq, long_hi, short_lo

    def _catch_up(self, ch: _Chunk, w: _Walk) -> None:
        """Apply the walk's new events to the epochs and write its new seeded rows to the log."""
        win = self.st.windows
        for side, lo, hi, s, _ in w.ev[w.done_ev :]:
            win.epoch[side, lo : hi + 1] = s
            win.max_epoch = s
        w.done_ev = len(w.ev)
        r0, r1 = w.done_rows, len(w.row_seq)
        if r1 > r0:
            sel = ch.rows[r0:r1]
            seqs = np.asarray(w.row_seq[r0:r1], np.int32)
            win.log.append(ch.b["ts"][sel], seqs, ch.kcols[sel], ch.amt[r0:r1])
            w.done_rows = r1
        win.seq = w.seq

    def _write_history(self, ch: _Chunk, i: int, items: list[tuple[str, int]]) -> None:
        """History slices that bar ``i`` opens: the levels standing just before it."""
        st, g, lay = self.st, self.grid, self.lay
        now = int(ch.b["ts"][i - 1]) if i > 0 else st.last_ts
        lnD_now = ch.lnD_rows[i - 1] if i > 0 else st.lnD
        lnC_now = ch.lnC_rows[i - 1] if i > 0 else st.lnC
        mult = np.exp(lnD_now[None, :] + lnC_now[:, None])  # (2, T)

        def levels(lb: str) -> np.ndarray:
            arr = st.windows.sync_to(lb, now, g, lay)
            out: np.ndarray = np.einsum("stb,st->b", arr, mult)  # levels; smeared when read
            return out

        st.ring.write(items, levels)

    def _book(self, ch: _Chunk, w: _Walk) -> None:
        """The chunk's decayed, closed and consumed USD into the ledger (see :func:`book_chunk`)."""
        st, lay, g = self.st, self.lay, self.grid
        lnD_ext = np.vstack([st.lnD[None, :], ch.lnD_rows])  # (m+1, T): index 0 = chunk start
        lnC_ext = np.vstack([st.lnC[None, :], ch.lnC_rows])  # (m+1, 2)
        a0 = st.windows.arr[ALL]
        s0, j0, b0 = np.nonzero(a0 > 0)
        # units: what stood at the start (t0 = 0, seq −1) ...
        units: list[Units] = [
            (s0, j0, b0, a0[s0, j0, b0], np.zeros(len(s0), np.int64), np.full(len(s0), -1, np.int64))
        ]
        rows = ch.rows
        if len(rows):  # ... and every level of every seeded row (t0 = bar + 1)
            E = ch.amt.shape[1]
            t0 = np.repeat(rows + 1, E)
            q0 = np.repeat(np.asarray(w.row_seq, np.int64), E)
            sc = np.tile(lay.col_side, len(rows))
            jc = np.tile(lay.col_tier, len(rows))
            bu = np.clip(ch.kcols[rows].astype(np.int64).reshape(-1) - g.k0, 0, g.n - 1)
            units.append((sc, jc, bu, ch.amt.reshape(-1), t0, q0))
        book_chunk(st.stats, lnD_ext, lnC_ext, units, w.ev, g.n)

    # -- grid growth ----------------------------------------------------------------------------
    def _cover(self, k_lo: int, k_hi: int) -> None:
        """Grow (or, past max_buckets, shift) the grid so lattice buckets [k_lo, k_hi) are inside."""
        st, g, lay = self.st, self.grid, self.lay
        if k_lo >= g.k0 and k_hi <= g.k0 + g.n:
            return
        new_lo, new_hi = g.plan_cover(k_lo, k_hi, self.cfg.max_buckets)
        st.windows.sync_every(st.last_ts, g, lay)
        if new_lo > g.k0 or new_hi < g.k0 + g.n:  # mass falling off the grid (and the new edges) leaves
            keep = np.zeros(g.n, bool)
            lo_i, hi_i = max(0, new_lo - g.k0), min(g.n, new_hi - g.k0)
            keep[lo_i + 1 : hi_i - 1] = True
            mult = np.exp(st.lnD[None, :, None] + st.lnC[:, None, None])
            st.stats.trimmed += float((st.windows.arr[ALL][:, :, ~keep] * mult).sum())
            st.windows.trim(keep)
        shift = (g.k0, g.n, new_lo, new_hi)
        st.windows.moved(shift)
        st.ring.moved(shift)
        n_new = new_hi - new_lo
        st.long_hi += g.k0 - new_lo
        st.short_lo = min(st.short_lo + (g.k0 - new_lo), 1 << 40)
        st.long_hi = max(-1, min(st.long_hi, n_new - 1))
        st.short_lo = min(n_new, max(st.short_lo, 0))
        st.grid = g.moved(new_lo, new_hi)

    # -- live -----------------------------------------------------------------------------------
    def consume(self, low: float, high: float) -> bool:
        """Spend every level inside ``low``..``high``; True when anything changed."""
        st = self.st
        g = st.grid
        if g is None:
            return False
        lo_b = math.ceil(math.log(low) / g.step - g.k0 - 0.5)
        hi_b = math.floor(math.log(high) / g.step - g.k0 - 0.5)
        changed = False
        if lo_b <= st.long_hi:
            self._consume(0, max(lo_b, 0), st.long_hi)
            st.long_hi = lo_b - 1
            changed = True
        if hi_b >= st.short_lo:
            self._consume(1, st.short_lo, min(hi_b, g.n - 1))
            st.short_lo = hi_b + 1
            changed = True
        if changed:
            st.version += 1
        return changed

    def _consume(self, side: int, lo: int, hi: int) -> None:
        """Zero side ``side``'s buckets [lo, hi] in every array, booking their USD as consumed."""
        if hi < lo:
            return
        st = self.st
        a = st.windows.sync_to(ALL, st.last_ts, self.grid, self.lay)
        seg = a[side, :, lo : hi + 1]
        st.stats.consumed += float((seg.sum(axis=1) * np.exp(st.lnD + st.lnC[side])).sum())
        seg[:] = 0.0
        st.windows.stamp(side, lo, hi)
