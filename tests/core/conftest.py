"""Synthetic bar generators shared by the core tests (seeded, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from liqtui.core.model import bars_from_arrays

T0 = 1_700_000_000_000


def make_bars(
    n: int,
    *,
    seed: int = 1,
    p0: float = 60_000.0,
    vol: float = 0.0008,
    interval_s: int = 60,
    oi0: float = 5e9,
    oi_vol: float = 0.0005,
    t0: int = T0,
) -> np.ndarray:
    """A random-walk market with random taker share and a random-walk open interest."""
    rng = np.random.default_rng(seed)
    c = p0 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    o = np.concatenate([[p0], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    oi = oi0 * np.exp(np.cumsum(rng.normal(0, oi_vol, n)))
    ts = t0 + np.arange(n, dtype=np.int64) * interval_s * 1000
    return bars_from_arrays(
        ts, o, h, lo, c, taker_buy_share=rng.uniform(0.3, 0.7, n), oi_usd=oi, interval_s=interval_s
    )


@pytest.fixture
def bars_5k() -> np.ndarray:
    return make_bars(5000)
