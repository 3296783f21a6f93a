"""Binance USDⓈ-M history: ``/fapi/v1/klines`` (≤1500 rows, with taker-buy volume) and
``/futures/data/openInterestHist`` (≤500 rows, USD, the last 30 days only).

Rate limits: 2400 request weight a minute, watched through ``X-MBX-USED-WEIGHT-1M``; HTTP 429 asks to slow
down and 418 is an IP ban, both with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import numpy as np

from liqtui.history.store import empty_bars
from liqtui.venues.history import DAY_MS, BackfillError, HistoryApi

__all__ = ["BinanceHistory"]


class BinanceHistory(HistoryApi):
    name = "binance"
    min_interval_s = 0.05  # 2400 weight/min; the weight header guards the rest
    rate_limit_statuses = frozenset({429, 418})
    weight_header = "X-MBX-USED-WEIGHT-1M"
    weight_limit = 2400
    kline_limit = 1500
    oi_limit = 500
    oi_history_ms = 30 * DAY_MS
    _INTERVALS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1h"}

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/fapi/v1/klines",
            {
                "symbol": self.symbol,
                "interval": self._INTERVALS[interval_s],
                "startTime": start_ms,
                "endTime": end_ms - 1,
                "limit": self.kline_limit,
            },
        )
        if not isinstance(body, list):
            raise BackfillError(f"binance: /fapi/v1/klines returned {type(body).__name__}, expected a list")
        try:
            raw = np.array([r[:10] for r in body], dtype=np.float64).reshape(len(body), 10)
        except (TypeError, ValueError) as exc:
            raise BackfillError(f"binance: malformed kline rows: {exc}") from None
        out = empty_bars(len(body))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close", "volume")):
            out[f] = raw[:, 1 + j]
        out["quote_volume"] = raw[:, 7]
        out["taker_buy_volume"] = raw[:, 9]
        return out

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        period = {300: "5m", 900: "15m"}[period_s]
        step = period_s * 1000 * self.oi_limit
        for a in range(
            start_ms, end_ms, step
        ):  # explicit windows: the same pages whichever end the venue fills
            body = await self.http.get(
                "/futures/data/openInterestHist",
                {
                    "symbol": self.symbol,
                    "period": period,
                    "startTime": a,
                    "endTime": min(a + step, end_ms) - 1,
                    "limit": self.oi_limit,
                },
            )
            if not isinstance(body, list):
                raise BackfillError(
                    f"binance: openInterestHist returned {type(body).__name__}, expected a list"
                )
            try:
                ts = np.array([int(r["timestamp"]) for r in body], dtype=np.int64)
                usd = np.array([float(r["sumOpenInterestValue"]) for r in body], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as exc:
                raise BackfillError(f"binance: malformed openInterestHist row: {exc}") from None
            yield ts, usd
