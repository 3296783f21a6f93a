"""A seeded resting order book around the simulated price, served the Binance USDⓈ-M way.

``<sym>@depth@100ms`` diffs (``depthUpdate`` with ``U``/``u``/``pu``: each diff's ``pu`` is the previous diff's
``u``, ``U`` its first update id) and the REST snapshot ``GET /fapi/v1/depth`` (``lastUpdateId``, best ``limit``
levels a side), so a client keeps its book by Binance's documented procedure.

The book is a ladder out to ~±6 % of the price: dense at the touch, evenly spaced further out (so the demo's
depth column has something in every row), with a few *walls* — resting orders of ~80× a typical level at round
prices — that stand for hours and are sometimes pulled and placed again elsewhere. Levels the price crosses are
removed; new ones appear near the touch. Everything depends only on the seed and the prices it is given.
"""

from __future__ import annotations

import json
import math

import numpy as np

from liqtui.sim.payloads import Frame

__all__ = ["DepthSim"]

TICK = 0.1
INTERVAL_MS = 100
_DENSE = 20  # levels on every tick at the touch
_SPACING = 60  # ticks between the levels further out


def _fmt(x: float, nd: int) -> str:
    return f"{x:.{nd}f}"


class DepthSim:
    """The resting book of one symbol. Prices are kept as integer ticks."""

    def __init__(
        self,
        symbol: str,
        price: float,
        *,
        seed: int = 0,
        levels: int = 600,
        mean_size: float = 0.6,
        n_walls: int = 8,
        wall_x: float = 80.0,
    ) -> None:
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"depth price must be finite and > 0, got {price!r}")
        self.symbol = symbol
        self.stream = f"{symbol.lower()}@depth@100ms"
        self._rng = np.random.default_rng(seed)
        self.mean_size = mean_size
        self.wall_x = wall_x
        self.levels = levels
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        self.walls: set[int] = set()
        self.u = 1_000_000_000  # last update id
        self.last_E = 0
        self._next_ms: int | None = None
        t = round(price / TICK)
        for i in range(1, levels + 1):
            off = self._offset(i)
            self.bids[t - off] = self._size()
            self.asks[t + off] = self._size()
        for _ in range(n_walls):
            self._place_wall(t)

    # -- shape -------------------------------------------------------------------------------------------
    def _offset(self, i: int) -> int:
        """Ticks from the touch of the i-th level (1-based): every tick near the touch, then evenly spaced out to
        ~6 % (at BTC prices), so resting USD per price bucket is about even and the walls stand out."""
        return i if i <= _DENSE else _DENSE + (i - _DENSE) * _SPACING

    def _size(self) -> float:
        return float(round(self._rng.exponential(self.mean_size) + 0.001, 3))

    def _place_wall(self, t: int) -> None:
        """A wall at a round price (a multiple of 0.5 % of the price, rounded to 10 USD) within ~5 %."""
        step = max(1, round(t * 0.005 / 100) * 100)
        k = int(self._rng.integers(1, 11)) * (1 if self._rng.random() < 0.5 else -1)
        w = (t // step + k) * step
        if w == t:
            return
        side = self.bids if w < t else self.asks
        side[w] = float(round(self.mean_size * self.wall_x * (0.5 + self._rng.random()), 3))
        self.walls.add(w)

    # -- time --------------------------------------------------------------------------------------------
    def frames(
        self, until_ms: int, price: float, *, wanted: bool = True, interval_ms: int = INTERVAL_MS
    ) -> list[Frame]:
        """The diffs due up to ``until_ms`` (one every ``interval_ms`` of market time: 100 ms, or a multiple of
        it for a market running faster than real time, so a fast demo sends ~10 diffs per wall second instead of
        burning its loop on them) with the book moved to ``price``. Not ``wanted`` (nobody follows the
        stream): the book rests and nothing is made (the ids stay continuous)."""
        if self._next_ms is None or not wanted:
            self._next_ms = until_ms - until_ms % INTERVAL_MS + (0 if wanted else INTERVAL_MS)
            if not wanted:
                return []
        out = []
        while self._next_ms <= until_ms:
            out.append(Frame(self.stream, self._next_ms, self.step(price, self._next_ms)))
            self._next_ms += interval_ms
        return out

    def step(self, price: float, E: int) -> str:
        """One diff at event time ``E``: levels crossed by ``price`` removed, a few sizes changed, levels added
        near the touch, sometimes a wall pulled and placed again; returns the ``depthUpdate`` payload JSON."""
        rng = self._rng
        t = round(price / TICK)
        bids: dict[int, float] = {}
        asks: dict[int, float] = {}
        for p in [p for p in self.bids if p >= t]:
            bids[p] = 0.0
        for p in [p for p in self.asks if p <= t]:
            asks[p] = 0.0
        for side, out, sign in ((self.bids, bids, -1), (self.asks, asks, 1)):
            for _ in range(int(rng.integers(2, 8))):
                i = int(min(self.levels, rng.geometric(0.02)))
                p = t + sign * self._offset(i)
                if p in self.walls:
                    continue
                out[p] = 0.0 if (p in side and rng.random() < 0.2) else self._size()
        if rng.random() < 0.002 and self.walls:  # a wall is pulled (about every 50 s) and placed again
            w = sorted(self.walls)[int(rng.integers(0, len(self.walls)))]
            self.walls.discard(w)
            (bids if w in self.bids else asks)[w] = 0.0
            before = set(self.walls)
            self._place_wall(t)
            for nw in self.walls - before:
                (bids if nw < t else asks)[nw] = (self.bids if nw < t else self.asks).pop(nw)
        for side, ch in ((self.bids, bids), (self.asks, asks)):
            for p, q in ch.items():
                if q == 0.0:
                    side.pop(p, None)
                    self.walls.discard(p)
                else:
                    side[p] = q
        n = max(1, len(bids) + len(asks))
        pu, U = self.u, self.u + 1
        self.u += n
        self.last_E = E
        data = {
            "e": "depthUpdate", "E": E, "T": E, "s": self.symbol, "U": U, "u": self.u, "pu": pu,
            "b": [[_fmt(p * TICK, 1), _fmt(q, 3)] for p, q in sorted(bids.items(), reverse=True)],
            "a": [[_fmt(p * TICK, 1), _fmt(q, 3)] for p, q in sorted(asks.items())],
        }  # fmt: skip
        return json.dumps(data, separators=(",", ":"))

    def snapshot(self, limit: int = 1000) -> dict[str, object]:
        """The REST ``/fapi/v1/depth`` body: the best ``limit`` levels a side and ``lastUpdateId``."""
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        asks = sorted(self.asks.items())[:limit]
        return {
            "lastUpdateId": self.u,
            "E": self.last_E,
            "T": self.last_E,
            "bids": [[_fmt(p * TICK, 1), _fmt(q, 3)] for p, q in bids],
            "asks": [[_fmt(p * TICK, 1), _fmt(q, 3)] for p, q in asks],
        }
