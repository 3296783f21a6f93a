"""Layout: what a :class:`ModelConfig` fixes for the model's lifetime, and the pure level maths on it.

Tiers, their weights and half-lives, the smearing kernel, the bracket table, the entry anchors, and
the columns of a cohort-log row (one per side × tier × anchor). Nothing here changes while the model
runs, so none of it is checkpointed: it is rebuilt from the config.
"""

from __future__ import annotations

import numpy as np

from liqtui.core.grid import PriceGrid
from liqtui.core.leverage import BracketTable, half_life_for, liquidation_price, load_brackets
from liqtui.core.model_config import ModelConfig

__all__ = ["SIDES", "Layout"]

SIDES = ("long", "short")


class Layout:
    """Config-derived constants: ``tiers``, ``tier_names``, ``w`` (tier weights), ``hl_h`` (half-lives),
    ``kernel``/``koff`` (smearing taps), ``table`` (brackets), ``anchor_w``/``anchor_cols`` (entry anchors;
    ``range_q``: where in a bar's low..high the ``range`` entries sit),
    ``width`` and ``col_side``/``col_tier`` (cohort-log columns), ``lp_ratio`` (LP/EP per side and tier)."""

    def __init__(self, cfg: ModelConfig):
        self.config = cfg
        self.tiers, weights = cfg.resolved_tiers()
        self.tier_names: tuple[str, ...] = tuple(f"{lv:g}x" for lv in self.tiers)
        self.w = np.asarray(weights, dtype=np.float64)
        self.hl_h = np.asarray([half_life_for(lv, cfg.half_life_h) for lv in self.tiers], dtype=np.float64)
        k = np.asarray(cfg.kernel, dtype=np.float64)
        self.kernel = k / k.sum()
        self.koff = np.arange(len(k), dtype=np.int64) - len(k) // 2
        self.table: BracketTable = load_brackets(cfg.symbol, cfg.brackets_file or None)
        anchors = (1.0, 0.0, 0.0) if cfg.entry != "anchors" else cfg.entry_anchors
        aw = np.asarray([a for a in anchors if a > 0] if cfg.entry == "anchors" else [1.0])
        self.anchor_cols = [i for i, a in enumerate(anchors) if a > 0] if cfg.entry == "anchors" else [0]
        # entry == "range": entry_points prices at the midpoints of equal slices of the bar's low..high
        self.range_q = (np.arange(cfg.entry_points) + 0.5) / cfg.entry_points
        if cfg.entry == "range":
            aw = np.ones(cfg.entry_points)
            self.anchor_cols = list(range(cfg.entry_points))
        self.anchor_w = aw / aw.sum()
        T, A = len(self.tiers), len(self.anchor_w)
        self.width = 2 * T * A
        self.col_side = np.repeat(np.arange(2), T * A)
        self.col_tier = np.tile(np.repeat(np.arange(T), A), 2)
        self.lp_ratio = self._liq_ratios()

    @property
    def n_tiers(self) -> int:
        return len(self.tiers)

    def _liq_ratios(self) -> np.ndarray:
        """LP/EP per (side, tier) at a unit entry; exact for cum = 0, re-evaluated per bar otherwise."""
        cfg = self.config
        out = np.zeros((2, len(self.tiers)))
        for s, side in enumerate(SIDES):
            for j, lev in enumerate(self.tiers):
                out[s, j] = self.lp(side, np.asarray([1.0]), lev)[0]
        if cfg.formula == "binance" and any(
            self.table.for_notional(cfg.position_for(lev)).cum != 0.0 for lev in self.tiers
        ):
            return np.full_like(out, np.nan)  # cum ≠ 0: LP is not proportional to EP
        return out

    def lp(self, side: str, entry: np.ndarray, lev: float) -> np.ndarray:
        """Liquidation prices of ``side`` positions entered at ``entry`` with leverage ``lev`` (the tier's
        representative position, :meth:`ModelConfig.position_for`)."""
        cfg = self.config
        mx = max(cfg.hl_max_leverage, lev) if cfg.formula == "hyperliquid" else None
        notional = cfg.position_for(lev)
        return np.asarray(
            liquidation_price(
                cfg.formula, side, entry, lev, notional=notional, table=self.table, max_leverage=mx
            ),
            dtype=np.float64,
        )

    def entries(self, b: np.ndarray) -> np.ndarray:
        """Entry price per bar and anchor, shape (m, A)."""
        cfg = self.config
        if cfg.entry == "range":  # a bar's trades span its range: spread its entries evenly over low..high
            lo, hi = b["low"], b["high"]
            out: np.ndarray = lo[:, None] + (hi - lo)[:, None] * self.range_q[None, :]
            return out
        if cfg.entry == "close":
            return b["close"][:, None].copy()
        if cfg.entry == "vwap":
            v = b["vwap"].copy()
            bad = ~np.isfinite(v) | (v < b["low"]) | (v > b["high"])
            v[bad] = (b["high"][bad] + b["low"][bad] + b["close"][bad]) / 3.0
            return v[:, None]
        cols = np.stack([b["close"], b["high"], b["low"]], axis=1)
        return cols[:, self.anchor_cols]

    def long_share(self, b: np.ndarray) -> np.ndarray:
        """Share of each bar's new positions that are long (``split``)."""
        split = self.config.split
        if split == "even":
            return np.full(len(b), 0.5)
        if split == "taker":
            s = b["taker_buy_share"].copy()
            s[~np.isfinite(s)] = 0.5
            clipped: np.ndarray = np.clip(s, 0.0, 1.0)
            return clipped
        rng = b["high"] - b["low"]
        body = np.divide(b["close"] - b["open"], rng, out=np.zeros(len(b)), where=rng > 0)
        out: np.ndarray = 0.5 + 0.3 * body
        return out

    def liq_buckets(self, g: PriceGrid, entries: np.ndarray) -> np.ndarray:
        """Lattice bucket of each (bar, side, tier, anchor) liquidation price, shape (m, E)."""
        m, A = entries.shape
        T = len(self.tiers)
        lp = np.empty((m, 2, T, A))
        if np.all(np.isfinite(self.lp_ratio)):
            lp[:] = entries[:, None, None, :] * self.lp_ratio[None, :, :, None]
        else:
            for s, side in enumerate(SIDES):
                for j, lev in enumerate(self.tiers):
                    lp[:, s, j, :] = self.lp(side, entries.reshape(-1), lev).reshape(m, A)
        floor = entries[:, None, None, :] * (1.0 - self.config.range_pct / 100.0)
        lp = np.maximum(lp, floor)  # an LP <= 0 (cannot be liquidated) sits at the grid's lower reach
        return g.k_array(lp.reshape(m, -1))

    def row_amounts(self, lnD_rows: np.ndarray, side_scale: np.ndarray) -> np.ndarray:
        """Normalised amounts (R, E): tier × anchor weight × side USD / (decay product of the tier)."""
        base = np.tile((self.w[:, None] * self.anchor_w[None, :]).reshape(-1), 2)  # (E,)
        out: np.ndarray = base[None, :] * np.exp(-lnD_rows[:, self.col_tier]) * side_scale[:, self.col_side]
        return out

    def smear(self, v: np.ndarray) -> np.ndarray:
        """Spread each level over its neighbours with the kernel (last axis; edges fold, the sum is kept).

        Levels are what is seeded, consumed and aged; the kernel expresses the uncertainty of where
        exactly they sit, so it is applied when the USD is read, not stored.
        """
        if len(self.kernel) == 1:
            return v
        n = v.shape[-1]
        out = np.zeros_like(v)
        for off, kw in zip(self.koff.tolist(), self.kernel.tolist()):
            if off == 0:
                out += kw * v
            elif off > 0:
                out[..., off:] += kw * v[..., : n - off]
                out[..., -1] += kw * v[..., n - off :].sum(axis=-1)
            else:
                o = -off
                out[..., : n - o] += kw * v[..., o:]
                out[..., 0] += kw * v[..., :o].sum(axis=-1)
        return out


def values(arr: np.ndarray, lnD: np.ndarray, lnC: np.ndarray) -> np.ndarray:
    """USD per (side, tier, level bucket) of a normalised array (decay ``lnD`` per tier, closing ``lnC``
    per side)."""
    out: np.ndarray = arr * np.exp(lnD[None, :, None] + lnC[:, None, None])
    return out
