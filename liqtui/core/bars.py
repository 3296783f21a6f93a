"""Bars the model steps on: :data:`BAR_DTYPE`, packing columns into it, and checking a batch."""

from __future__ import annotations

import numpy as np

__all__ = ["BAR_DTYPE", "bars_from_arrays", "checked_bars"]

#: One bar for :meth:`HeatModel.step_many`. NaN in vwap / taker_buy_share / oi_usd means "unknown".
BAR_DTYPE = np.dtype(
    [
        ("ts", "i8"),
        ("open", "f8"),
        ("high", "f8"),
        ("low", "f8"),
        ("close", "f8"),
        ("volume", "f8"),
        ("vwap", "f8"),
        ("taker_buy_share", "f8"),
        ("oi_usd", "f8"),
        ("interval_s", "i8"),
    ]
)
_NAMES: tuple[str, ...] = BAR_DTYPE.names or ()


def bars_from_arrays(
    ts: np.ndarray,
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    *,
    volume: np.ndarray | None = None,
    vwap: np.ndarray | None = None,
    taker_buy_share: np.ndarray | None = None,
    oi_usd: np.ndarray | None = None,
    interval_s: int | np.ndarray = 60,
) -> np.ndarray:
    """Pack column arrays into a :data:`BAR_DTYPE` array for :meth:`HeatModel.step_many`."""
    n = len(ts)
    out = np.zeros(n, dtype=BAR_DTYPE)
    out["ts"], out["open"], out["high"], out["low"], out["close"] = ts, open, high, low, close
    out["volume"] = 0.0 if volume is None else volume
    out["vwap"] = np.nan if vwap is None else vwap
    out["taker_buy_share"] = np.nan if taker_buy_share is None else taker_buy_share
    out["oi_usd"] = np.nan if oi_usd is None else oi_usd
    out["interval_s"] = interval_s
    return out


def checked_bars(bars: np.ndarray, last_ts: int) -> np.ndarray:
    """``bars`` as a :data:`BAR_DTYPE` array (a 2-D float array of its columns is converted), checked:
    strictly increasing time after ``last_ts``, finite positive prices bounded by high/low, interval > 0,
    open interest >= 0 or NaN. Raises ``ValueError`` saying which rule failed."""
    arr = np.asarray(bars)
    if arr.dtype != BAR_DTYPE:
        if arr.dtype.names is None and arr.ndim == 2 and arr.shape[1] == len(_NAMES):
            out = np.zeros(len(arr), BAR_DTYPE)
            for c, name in enumerate(_NAMES):
                out[name] = arr[:, c]
            arr = out
        else:
            raise ValueError(f"bars must be a BAR_DTYPE array or a 2-D array of {len(_NAMES)} columns")
    if len(arr) == 0:
        return arr
    ts = arr["ts"]
    if ts[0] <= last_ts or np.any(np.diff(ts) <= 0):
        raise ValueError(f"bars must be in strictly increasing time after the last bar ({last_ts})")
    ohlc = np.stack([arr["open"], arr["high"], arr["low"], arr["close"]])
    if not np.all(np.isfinite(ohlc)) or np.any(ohlc <= 0):
        raise ValueError("bar prices must be finite and > 0")
    if np.any(arr["high"] < np.maximum(arr["open"], arr["close"])) or np.any(
        arr["low"] > np.minimum(arr["open"], arr["close"])
    ):
        raise ValueError("bar high/low must bound open and close")
    if np.any(arr["interval_s"] <= 0):
        raise ValueError("bar interval_s must be > 0")
    oi = arr["oi_usd"]
    if np.any(oi[~np.isnan(oi)] < 0) or np.any(np.isinf(oi)):
        raise ValueError("oi_usd must be >= 0 (NaN = unknown)")
    return arr
