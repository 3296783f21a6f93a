"""Hyperliquid history: ``POST /info {"type": "candleSnapshot"}`` serves only the newest 5000 candles of each
interval, so finer intervals reach less far back (:func:`~liqtui.venues.history.plan_capped`). There is no
open-interest history endpoint.

Rate limits: 1200 weight a minute, 20 per candleSnapshot; HTTP 429 when exceeded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import numpy as np

from liqtui.history.store import empty_bars
from liqtui.venues.history import BackfillError, HistoryApi, Segment, plan_capped

__all__ = ["HyperliquidHistory"]


class HyperliquidHistory(HistoryApi):
    name = "hyperliquid"
    min_interval_s = 1.0
    kline_limit = 5000
    oi_history_ms = 0
    _INTERVALS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1h", 14_400: "4h"}

    def plan(self, lookback: str, now_ms: int) -> list[Segment]:
        return plan_capped(lookback, now_ms, intervals=tuple(self._INTERVALS), cap=self.kline_limit)

    def oi_missing_reason(self) -> str:
        return "hyperliquid publishes no open-interest history (only the live figure)"

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.post(
            "/info",
            {
                "type": "candleSnapshot",
                "req": {
                    "coin": self.symbol,
                    "interval": self._INTERVALS[interval_s],
                    "startTime": start_ms,
                    "endTime": end_ms - 1,
                },
            },
        )
        if not isinstance(body, list):
            raise BackfillError(
                f"hyperliquid: candleSnapshot returned {type(body).__name__}, expected a list"
            )
        try:
            raw = np.array([[c["t"], c["o"], c["h"], c["l"], c["c"], c["v"]] for c in body], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackfillError(f"hyperliquid: malformed candle: {exc}") from None
        raw = raw.reshape(len(body), 6)
        out = empty_bars(len(body))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close", "volume")):
            out[f] = raw[:, 1 + j]
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        return
        yield  # an async generator that yields nothing: there is no OI history
