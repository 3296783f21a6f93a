"""The app's key bindings as plain data: id, default key, action, footer label, group.

Pure (no textual): the config checks a ``[keymap]`` against :data:`BINDING_IDS` without importing the UI;
:mod:`liqtui.ui.app` turns :data:`KEYS` into Textual bindings.
"""

from __future__ import annotations

from typing import NamedTuple

from liqtui.core.model import LOOKBACKS

__all__ = ["BINDING_IDS", "HELP_TEXT", "KEYS", "LOOKBACK_KEYS", "KeySpec"]

LOOKBACK_KEYS: dict[str, str] = dict(zip(LOOKBACKS, "12345678"))
"""Lookback name → default key."""


class KeySpec(NamedTuple):
    id: str
    key: str
    action: str
    label: str
    group: str | None = None
    show: bool = True  # False: in help and the command palette, not in the footer


KEYS: tuple[KeySpec, ...] = (
    *(
        KeySpec(f"lookback_{lb}", key, f"lookback('{lb}')", lb, "lookback")
        for lb, key in LOOKBACK_KEYS.items()
    ),
    KeySpec("threshold_down", "t", "threshold(-1)", "threshold −", "threshold"),
    KeySpec("threshold_up", "T", "threshold(1)", "threshold +", "threshold"),
    KeySpec("heat_down", "h", "heat(-1)", "heat −", "heat"),
    KeySpec("heat_up", "H", "heat(1)", "heat +", "heat"),
    KeySpec("klines", "k", "klines", "klines"),
    # help and quit early: at 80 columns the footer shows only the first bindings
    KeySpec("help", "question_mark", "help", "help"),
    KeySpec("quit", "q", "quit", "quit"),
    KeySpec("freeze", "f", "freeze", "freeze"),
    KeySpec("zoom_in", "plus,equals_sign", "zoom(1)", "zoom in", "zoom"),
    KeySpec("zoom_out", "minus", "zoom(-1)", "zoom out", "zoom"),
    KeySpec("recentre", "c", "recentre", "recentre"),
    KeySpec("ticker", "s", "ticker", "ticker"),
    KeySpec("venues", "e", "venues", "venues"),
    KeySpec("context", "o", "context", "charts"),
    KeySpec("zone_order", "z", "zone_order", "zone order", show=False),
    KeySpec("truth", "v", "truth", "truth", show=False),
    KeySpec("alert_log", "a", "alert_log", "alerts", show=False),
    KeySpec("spent_zones", "l", "spent_zones", "spent", show=False),
    # the order-book layer: in help and the command palette, not in the footer (it keeps its 80-column look)
    KeySpec("book", "b", "book", "book", show=False),
    KeySpec("book_overlay", "B", "book_overlay", "book overlay", show=False),
    KeySpec("observed", "O", "observed", "observed", show=False),
    # the radar (liqtui.ui.radar): r opens it; Esc on a heatmap opened from it goes back (elsewhere Esc does nothing)
    KeySpec("radar", "r", "radar", "radar", show=False),
    KeySpec("radar_back", "escape", "radar_back", "back to the radar", show=False),
)

BINDING_IDS: tuple[str, ...] = tuple(k.id for k in KEYS)
"""Every remappable binding id, for the config's ``[keymap]`` (e.g. ``freeze = "p"``)."""

HELP_TEXT: dict[str, str] = {
    "threshold_down": "liquidity threshold down (show weaker levels)",
    "threshold_up": "liquidity threshold up (hide weak noise)",
    "heat_down": "less heat (darken light zones)",
    "heat_up": "more heat (boost light zones)",
    "klines": "candles on/off",
    "ticker": "ticker picker (BTC, ETH, SOL or typed)",
    "venues": "venues on/off",
    "context": "context charts on/off (open interest, funding, cumulative liquidations)",
    "freeze": "freeze the picture (data keeps flowing)",
    "zoom_in": "zoom in on price",
    "zoom_out": "zoom out on price",
    "recentre": "recentre on the live price",
    "zone_order": "zones listed by strength (biggest USD first) or by reach (likeliest to be touched first)",
    "truth": "truth scorecard (demo only): the map against the simulator's true positions",
    "alert_log": "alert log (what fired, newest first)",
    "spent_zones": "spent zones: sweeps and how price reacted (reversed vs continued)",
    "book": "order-book layer on/off: depth column (asks above the price, bids below, ◆ a wall), "
    "W after a zone that holds a wall (≥5× the median resting depth), book state in the status line",
    "book_overlay": "resting-liquidity overlay on the heatmap on/off (walls standing over time as ━ lines)",
    "observed": "Hyperliquid's observed positions on/off (their heat column, markers, zones, coverage)",
    "radar": "radar: every perpetual at once (Enter opens one, Esc returns)",
    "radar_back": "back to the radar from the heatmap it opened",
    "help": "this help",
    "quit": "quit",
}
