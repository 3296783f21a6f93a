"""Shared test helpers for the history tests."""

from __future__ import annotations

import numpy as np


def same_bars(a: np.ndarray, b: np.ndarray) -> bool:
    """Field-by-field equality of two bar arrays (NaN equals NaN; struct padding bytes are ignored)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return all(np.array_equal(a[f], b[f], equal_nan=a[f].dtype.kind == "f") for f in a.dtype.names or ())
