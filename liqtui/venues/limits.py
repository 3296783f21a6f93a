"""An exact sliding-window rate limit: at most ``limit`` units in any ``window_s`` seconds.

The all-market feeds of OKX and Hyperliquid use it for the limits those venues document as counts per window
(OKX: 3 new connections a second per IP, 480 subscribe requests an hour per connection; Hyperliquid: 2,000
websocket messages and 1,200 REST weight a minute per IP). Unlike a token bucket it never lets two bursts
meet across a window boundary: the times of what was spent are kept until they leave the window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` units in any window of ``window_s`` seconds (``limit`` None: unlimited).

    :meth:`hold` pauses everything (a 429's ``Retry-After``)."""

    def __init__(
        self, limit: float | None, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit is not None and not (limit > 0 and math.isfinite(limit)):
            raise ValueError(f"a rate limit must be a finite number > 0, got {limit!r}")
        if not (window_s > 0 and math.isfinite(window_s)):
            raise ValueError(f"a rate window must be a finite number of seconds > 0, got {window_s!r}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._log: deque[tuple[float, float]] = deque()  # (time, units) still inside the window
        self.in_window = 0.0
        self.used = 0.0  # units spent since the start
        self.hold_until = -math.inf

    def _expire(self, now: float) -> None:
        edge = now - self.window_s
        log = self._log
        while log and log[0][0] <= edge:
            self.in_window -= log.popleft()[1]
        if not log:
            self.in_window = 0.0

    def wait_s(self, units: float = 1.0) -> float:
        """Seconds until ``units`` may be spent (0: now)."""
        now = self._clock()
        if now < self.hold_until:
            return self.hold_until - now
        if self.limit is None:
            return 0.0
        if units > self.limit:
            raise ValueError(f"{units} units can never fit a limit of {self.limit} per {self.window_s} s")
        self._expire(now)
        excess = self.in_window + units - self.limit
        if excess <= 1e-9:
            return 0.0
        freed = 0.0
        for t, k in self._log:  # the oldest entries leave first
            freed += k
            if freed >= excess - 1e-9:
                return max(t + self.window_s - now, 1e-6)
        return self.window_s

    def take(self, units: float = 1.0) -> bool:
        """Spend ``units`` now if the window allows."""
        if self.wait_s(units) > 0:
            return False
        if self.limit is not None:
            self._log.append((self._clock(), units))
            self.in_window += units
        self.used += units
        return True

    async def acquire(self, units: float = 1.0) -> None:
        """Wait until ``units`` fit, then spend them."""
        while not self.take(units):
            await asyncio.sleep(self.wait_s(units))

    def hold(self, seconds: float) -> None:
        """Nothing may be spent for ``seconds``."""
        self.hold_until = max(self.hold_until, self._clock() + max(0.0, seconds))
