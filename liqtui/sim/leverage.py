"""Liquidation price of the simulator's positions: the project's Binance USDⓈ-M math (isolated margin).

A thin adapter over :mod:`liqtui.core.leverage`, so the truth the scorecard measures against uses exactly
the formula and bracket tables the estimator uses.
"""

from __future__ import annotations

from functools import lru_cache

from liqtui.core.leverage import BracketTable, load_brackets
from liqtui.core.leverage import liquidation_price as _core_liquidation_price

__all__ = ["brackets_for", "liquidation_factor"]


@lru_cache(maxsize=8)
def brackets_for(symbol: str) -> BracketTable:
    """The symbol's shipped bracket table; BTCUSDT's for symbols without one."""
    try:
        return load_brackets(symbol)
    except ValueError:
        return load_brackets("BTCUSDT")


def liquidation_factor(side: int, leverage: float, position_usd: float, symbol: str = "BTCUSDT") -> float:
    """Liquidation price / entry price of an isolated position of ``position_usd`` with ``leverage``.

    ``side`` is +1 long, −1 short. Raises ``ValueError`` when the leverage exceeds what the position's
    bracket allows or the position could never be liquidated."""
    table = brackets_for(symbol)
    bracket = table.for_notional(position_usd)
    if leverage > bracket.max_leverage:
        raise ValueError(
            f"{leverage:g}x is above the {bracket.max_leverage:g}x allowed for a "
            f"{position_usd:,.0f} USD position"
        )
    f = float(_core_liquidation_price("binance", side, 1.0, leverage, notional=position_usd, table=table))
    if not (0.0 < f < 1.0 if side == 1 else f > 1.0):
        raise ValueError(f"a {leverage:g}x {'long' if side == 1 else 'short'} has no liquidation price")
    return f
