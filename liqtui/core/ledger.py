"""The USD ledger: seeded = standing + consumed + closed + decayed (+ trimmed), booked exactly per chunk."""

from __future__ import annotations

import msgspec
import numpy as np

__all__ = ["Event", "Stats", "book_chunk"]

#: A consumption event of a chunk: (side, first bucket, last bucket, sequence number, bar index).
Event = tuple[int, int, int, int, int]


class Stats(msgspec.Struct):
    """Cumulative USD per fate since the model started."""

    seeded: float = 0.0
    consumed: float = 0.0
    closed: float = 0.0
    decayed: float = 0.0
    trimmed: float = 0.0


def _suffix_losses(lnD_ext: np.ndarray, lnC_ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P (decay) and Q (closing) losses per (side, tier) as *suffix* sums over the chunk's bars, (2, T, m+1).

    A unit's loss is P[t0] − P[t_end]; suffix sums keep that difference accurate while the decay
    product spans many orders of magnitude inside one chunk.
    """
    m, T = len(lnD_ext) - 1, lnD_ext.shape[1]
    Dv, Cv = np.exp(lnD_ext), np.exp(lnC_ext)
    P = np.zeros((2, T, m + 1))
    Q = np.zeros((2, T, m + 1))
    dP = Cv[:-1].T[:, None, :] * (Dv[:-1] - Dv[1:]).T[None, :, :]  # (2, T, m): loss at bar τ+1
    dQ = Dv[1:].T[None, :, :] * (Cv[:-1] - Cv[1:]).T[:, None, :]
    P[:, :, :-1] = np.cumsum(dP[:, :, ::-1], axis=2)[:, :, ::-1]
    Q[:, :, :-1] = np.cumsum(dQ[:, :, ::-1], axis=2)[:, :, ::-1]
    return P, Q


def event_pairs(ev: list[Event], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(covered[side*n + bucket], sorted (side, bucket, seq) keys, bar of each key) of a chunk's events."""
    if not ev:
        return None
    e = np.asarray(ev, dtype=np.int64)
    lens = e[:, 2] - e[:, 1] + 1
    e_rep = np.repeat(np.arange(len(e)), lens)
    offs = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    sb = e[e_rep, 0] * n + e[e_rep, 1] + offs  # (side, bucket) of each (event, bucket) pair
    covered = np.zeros(2 * n, bool)
    covered[sb] = True
    pkey = (sb << 32) | e[e_rep, 3]
    order = np.argsort(pkey, kind="stable")
    return covered, pkey[order], e[e_rep[order], 4]


#: Units of mass: (side, tier, bucket, normalised amount, bar it starts at (0 = chunk start), its sequence).
Units = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def book_chunk(
    stats: Stats,
    lnD_ext: np.ndarray,
    lnC_ext: np.ndarray,
    units: list[Units],
    ev: list[Event],
    n: int,
) -> None:
    """Book the USD decayed, closed and consumed during a chunk, exactly, per (side, tier, bucket).

    ``lnD_ext``/``lnC_ext`` are the decay and closing products at the chunk start (row 0) and after each
    bar. Every unit of mass — what stood at the chunk start and what each bar seeded — lives from its
    creation to the first consumption event covering its bucket after it (or the chunk end). With
    prefix sums of the decay and closing losses per (side, tier) over the chunk's bars, each
    unit's decayed and closed USD is a difference of two prefix values (telescoping, so
    seeded = standing + consumed + closed + decayed holds to rounding).
    """
    m, T = len(lnD_ext) - 1, lnD_ext.shape[1]
    P, Q = _suffix_losses(lnD_ext, lnC_ext)
    Dv, Cv = np.exp(lnD_ext), np.exp(lnC_ext)
    Pf, Qf = P.reshape(-1), Q.reshape(-1)
    pairs = event_pairs(ev, n)
    for su, ju, bu, au, tu, qu in units:
        if len(au) == 0:
            continue
        sj = (su * T + ju) * (m + 1)
        dec = float((au * Pf[sj + tu]).sum())  # not `@`: BLAS threads cost more than they save here
        clo = float((au * Qf[sj + tu]).sum())
        if pairs is not None:
            covered, pkey, p_bar = pairs
            cand = np.nonzero(covered[su * n + bu])[0]
            if len(cand):
                ukey = ((su[cand] * n + bu[cand]) << 32) | (qu[cand] + 1)  # first event with seq > unit's
                raw = np.searchsorted(pkey, ukey, side="left")
                pos = np.minimum(raw, len(pkey) - 1)
                hit = (raw < len(pkey)) & ((pkey[pos] >> 32) == (ukey >> 32))
                c, te = cand[hit], p_bar[pos[hit]] + 1
                ac, sjc = au[c], sj[c]
                dec -= float((ac * Pf[sjc + te]).sum())
                clo -= float((ac * Qf[sjc + te]).sum())
                stats.consumed += float((ac * Dv[te, ju[c]] * Cv[te, su[c]]).sum())
        stats.decayed += dec
        stats.closed += clo
