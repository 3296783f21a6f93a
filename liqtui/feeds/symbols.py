"""Symbols and venue names, for the feeds' callers: the code lives in :mod:`liqtui.venues.symbols`."""

from __future__ import annotations

from liqtui.venues.symbols import base_of, instrument, split_symbol, to_venue

__all__ = ["base_of", "instrument", "split_symbol", "to_venue"]
