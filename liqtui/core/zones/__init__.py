"""Zones: the strongest runs of estimated liquidation levels above and below the price.

:mod:`.finder` finds and ranks them on per-bucket profiles; :mod:`.forecast` estimates the recent
market activity and the chance each level is reached within a horizon.
"""

from liqtui.core.zones.finder import ORDERS, QUANTUM_USD, Zone, ZoneReport, find_zones, reach_of

__all__ = ["ORDERS", "QUANTUM_USD", "Zone", "ZoneReport", "find_zones", "reach_of"]
