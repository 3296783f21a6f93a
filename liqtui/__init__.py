"""liqtui: a terminal live monitor of estimated crypto liquidation levels."""

__version__ = "0.1.0"
