"""Compact number formats for alert texts and the status line (stdlib only: used by ``liqtui status``)."""

from __future__ import annotations

import math

__all__ = ["fmt_pct", "fmt_price", "fmt_price_short", "fmt_usd"]


def fmt_usd(usd: float, missing: str = "$?") -> str:
    """``$950``, ``$12.3K``, ``$182M``, ``$1.23B`` (``missing`` for NaN/inf). The one compact-dollar format:
    the screen's :func:`liqtui.ui.render.fmt_usd` uses it too."""
    if not math.isfinite(usd):
        return missing
    sign = "-" if usd < 0 else ""
    a = abs(usd)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div * 0.9995:
            x = a / div
            digits = 2 if x < 10 else 1 if x < 100 else 0
            return f"{sign}${x:.{digits}f}{suf}"
    return f"{sign}${a:.0f}"


def fmt_price(p: float) -> str:
    """A price with thousands separators and the decimals its size needs: ``97,235``, ``3,412.5``, ``0.1234``."""
    if not math.isfinite(p) or p <= 0:
        return "?"
    if p >= 10_000:
        return f"{p:,.0f}"
    if p >= 100:
        return f"{p:,.1f}"
    if p >= 1:
        return f"{p:,.3f}"
    return f"{p:.{max(2, 3 - math.floor(math.log10(p)))}f}"


def fmt_price_short(p: float) -> str:
    """A zone edge in at most ~6 characters: ``98.1k``, ``3,412``, ``142.3``, ``0.2134``."""
    if not math.isfinite(p) or p <= 0:
        return "?"
    if p >= 1_000_000:
        return f"{p / 1e6:.2f}m"
    if p >= 10_000:
        return f"{p / 1e3:.1f}k"
    if p >= 1_000:
        return f"{p:,.0f}"
    return fmt_price(p)


def fmt_pct(x: float, digits: int = 1) -> str:
    """Signed percent: ``+0.9%``."""
    if not math.isfinite(x):
        return "?%"
    return f"{round(x, digits) + 0.0:+.{digits}f}%"  # never -0.0%
