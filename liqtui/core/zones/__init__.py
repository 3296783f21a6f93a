"""Zones: the strongest runs of estimated liquidation levels above and below the price.

:mod:`.finder` finds and ranks them on per-bucket profiles; :mod:`.forecast` estimates the recent
market activity and the chance each level is reached within a horizon.
"""

from liqtui.core.zones.finder import QUANTUM_USD, Zone, ZoneReport, find_zones

__all__ = ["QUANTUM_USD", "Zone", "ZoneReport", "find_zones"]
