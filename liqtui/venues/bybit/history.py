"""Bybit v5 linear history: ``/v5/market/kline`` (≤1000 rows, newest first) and ``/v5/market/open-interest``
(≤200 rows with cursor paging, base units).

Rate limits: 600 requests per 5 s per IP; HTTP 403 (or 429) when exceeded, retCode 10006 in a 200 reply, and
``X-Bapi-Limit-Reset-Timestamp`` (ms) saying when the limit resets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from liqtui.history.store import empty_bars
from liqtui.venues.history import BackfillError, HistoryApi

__all__ = ["BybitHistory"]


class BybitHistory(HistoryApi):
    name = "bybit"
    min_interval_s = 0.05  # 600 requests / 5 s
    rate_limit_statuses = frozenset({429, 403})
    retry_headers = (("Retry-After", 1.0, False), ("X-Bapi-Limit-Reset-Timestamp", 1000.0, True))
    kline_limit = 1000
    oi_is_usd = False  # base units: converted with the bar's price

    def body_error(self, body: Any, path: str) -> str | None:
        """``retCode`` in a 200 reply: 10006 (too many visits) is retried, anything else is an error."""
        if not isinstance(body, dict) or body.get("retCode", 0) == 0:
            return None
        if body.get("retCode") == 10006:
            return "retCode 10006"
        raise BackfillError(f"bybit: GET {path} failed: retCode {body.get('retCode')} {body.get('retMsg')}")

    async def klines(self, interval_s: int, start_ms: int, end_ms: int) -> np.ndarray:
        body = await self.http.get(
            "/v5/market/kline",
            {
                "category": "linear",
                "symbol": self.symbol,
                "interval": str(interval_s // 60),
                "start": start_ms,
                "end": end_ms - 1,
                "limit": self.kline_limit,
            },
        )
        rows = _bybit_list(body, "kline")
        out = empty_bars(len(rows))
        try:
            for i, r in enumerate(rows):  # newest first: sorted below
                out[i]["ts"] = int(r[0])
                for j, f in enumerate(("open", "high", "low", "close", "volume", "quote_volume")):
                    out[i][f] = float(r[1 + j])
        except (IndexError, TypeError, ValueError) as exc:
            raise BackfillError(f"bybit: malformed kline row: {exc}") from None
        out["interval_s"] = interval_s
        return out[np.argsort(out["ts"], kind="stable")]

    async def oi_pages(
        self, period_s: int, start_ms: int, end_ms: int
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        params: dict[str, Any] = {
            "category": "linear",
            "symbol": self.symbol,
            "intervalTime": f"{period_s // 60}min",
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": 200,
        }
        while True:
            body = await self.http.get("/v5/market/open-interest", params)
            rows = _bybit_list(body, "open-interest")
            try:
                ts = np.array([int(r["timestamp"]) for r in rows], dtype=np.int64)
                # since 2026-06-11 ``openInterest`` counts both sides; ``singleOpenInterest`` is one side
                base = np.array(
                    [float(r.get("singleOpenInterest") or r["openInterest"]) for r in rows], dtype=np.float64
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise BackfillError(f"bybit: malformed open-interest row: {exc}") from None
            order = np.argsort(ts, kind="stable")
            yield ts[order], base[order]
            cursor = (body.get("result") or {}).get("nextPageCursor")
            if not rows or not cursor:
                return
            params = {**params, "cursor": cursor}


def _bybit_list(body: Any, what: str) -> list[Any]:
    try:
        rows = body["result"]["list"]
    except (KeyError, TypeError):
        raise BackfillError(f"bybit: {what} reply has no result.list: {str(body)[:120]}") from None
    if not isinstance(rows, list):
        raise BackfillError(f"bybit: {what} result.list is {type(rows).__name__}, expected a list")
    return rows
