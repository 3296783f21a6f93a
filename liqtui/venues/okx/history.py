"""OKX v5 swap history: ``/api/v5/market/history-candles`` (≤100 rows, newest first, ``after``/``before``
exclusive bounds) and ``/api/v5/rubik/stat/contracts/open-interest-history`` (≤100 rows; ``oiUsd``). Klines have
base (``volCcy``) and quote (``volCcyQuote``) volume but no taker-buy volume.

Rate limits: 20 requests / 2 s for candles, 10 / 2 s for open interest; HTTP 429 or code 50011 in a 200 reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import numpy as np

from liqtui.history.store import empty_bars
from liqtui.venues.history import DAY_MS, BackfillError, HistoryApi

__all__ = ["OkxHistory"]


class OkxHistory(HistoryApi):
    name = "okx"
    min_interval_s = 0.2
    kline_limit = 100
    oi_limit = 100
    fine_window_ms = 3 * DAY_MS  # 100 rows a request at ≤10 requests/s: 3 days of 1m bars is 44 requests
    _BARS: ClassVar[dict[int, str]] = {60: "1m", 300: "5m", 900: "15m", 3600: "1H"}

    def body_error(self, body: Any, path: str) -> str | None:
        """``code`` in a 200 reply: 50011 (too many requests) is retried, anything else is an error."""
        if not isinstance(body, dict) or str(body.get("code", "0")) == "0":
            return None
        if str(body.get("code")) == "50011":
            return "code 50011"
        raise BackfillError(f"okx: GET {path} failed: code {body.get('code')} {body.get('msg')}")

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/api/v5/market/history-candles",
            {
                "instId": self.symbol,
                "bar": self._BARS[interval_s],
                "after": end_ms,
                "before": start_ms - 1,
                "limit": self.kline_limit,
            },
        )
        rows = [r for r in _okx_data(body, "history-candles") if str(r[8] if len(r) > 8 else "1") == "1"]
        try:
            raw = np.array([r[:8] for r in rows], dtype=np.float64).reshape(len(rows), 8)
        except (TypeError, ValueError) as exc:
            raise BackfillError(f"okx: malformed candle rows: {exc}") from None
        out = empty_bars(len(rows))
        out["ts"] = raw[:, 0].astype(np.int64)
        out["interval_s"] = interval_s
        for j, f in enumerate(("open", "high", "low", "close")):
            out[f] = raw[:, 1 + j]
        out["volume"], out["quote_volume"] = raw[:, 6], raw[:, 7]
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        step = period_s * 1000 * self.oi_limit
        for a in range(start_ms, end_ms, step):
            body = await self.http.get(
                "/api/v5/rubik/stat/contracts/open-interest-history",
                {
                    "instId": self.symbol,
                    "period": self._BARS[period_s],
                    "begin": a,
                    "end": min(a + step, end_ms) - 1,
                    "limit": self.oi_limit,
                },
            )
            rows = _okx_data(body, "open-interest-history")
            try:
                ts = np.array([int(r[0]) for r in rows], dtype=np.int64)
                usd = np.array([float(r[3]) for r in rows], dtype=np.float64)
            except (IndexError, TypeError, ValueError) as exc:
                raise BackfillError(f"okx: malformed open-interest row: {exc}") from None
            order = np.argsort(ts, kind="stable")
            yield ts[order], usd[order]


def _okx_data(body: Any, what: str) -> list[Any]:
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise BackfillError(f"okx: {what} reply has no data list: {str(body)[:120]}")
    return rows
