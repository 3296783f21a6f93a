"""Liquidation price of the simulator's positions: Binance USDⓈ-M, isolated margin.

Uses :mod:`liqtui.core.leverage` (the project's exact per-exchange math) when it provides
``liquidation_price``; the local fallback implements the same published formula
``LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)`` with ``WB = Q·EP/L`` and the 2021 BTCUSDT brackets.
"""

from __future__ import annotations

__all__ = ["liquidation_price", "BRACKETS"]

#: (notional cap USD, max leverage, maintenance margin rate), BTCUSDT, Binance 2021 announcement.
BRACKETS: tuple[tuple[float, float, float], ...] = (
    (50_000, 125, 0.004), (250_000, 100, 0.005), (1_000_000, 50, 0.01), (10_000_000, 20, 0.025),
    (20_000_000, 10, 0.05), (50_000_000, 5, 0.10), (100_000_000, 4, 0.125), (200_000_000, 3, 0.15),
    (300_000_000, 2, 0.25), (500_000_000, 1, 0.50),
)


def _bracket(notional: float) -> tuple[float, float, float]:
    """(MMR, maintenance amount ``cum``, max leverage) of the bracket a notional falls in."""
    cum, prev_cap, prev_mmr = 0.0, 0.0, 0.0
    for cap, max_lev, mmr in BRACKETS:
        cum += prev_cap * (mmr - prev_mmr)
        if notional <= cap:
            return mmr, cum, max_lev
        prev_cap, prev_mmr = cap, mmr
    raise ValueError(f"notional {notional:,.0f} exceeds the largest bracket ({BRACKETS[-1][0]:,.0f})")


def liquidation_price(side: int, entry: float, leverage: float, notional: float, symbol: str = "BTCUSDT") -> float:
    """Isolated liquidation price of a position of ``notional`` USD opened at ``entry`` with ``leverage``.

    ``side`` is +1 long, −1 short. Raises ``ValueError`` for a leverage above the bracket's maximum."""
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side!r}")
    if entry <= 0 or leverage <= 0 or notional <= 0:
        raise ValueError("entry, leverage and notional must be positive")
    mmr, cum, max_lev = _bracket(notional)
    if leverage > max_lev:
        raise ValueError(f"{leverage:g}x is above the {max_lev:g}x allowed for a {notional:,.0f} USD position")
    qty = notional / entry
    wallet = notional / leverage
    return (wallet + cum - side * qty * entry) / (qty * mmr - side * qty)
