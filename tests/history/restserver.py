"""A real HTTP server on 127.0.0.1 serving the documented REST shapes of Binance USDⓈ-M, Bybit v5, OKX v5 and
Hyperliquid (``POST /info`` candleSnapshot).

Deterministic synthetic market: minute ``i`` (ms ``i*60000``) closes at :func:`price_at`; open interest is a
smooth function sampled every period. Faults are scripted per path: ``server.faults["/fapi/v1/klines"] =
[(429, {"Retry-After": "0"}, body), ...]`` are served first, one per request, before normal replies.
"""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

DAY_MS = 86_400_000
#: The server's "now" (2026-11-21 12:00:00 UTC, a minute boundary).
NOW_MS = 1_795_694_400_000 - 1_795_694_400_000 % 60_000


def price_at(ts_ms: int) -> float:
    """Close of the bar opening at ``ts_ms`` (any resolution: the price at the bar's close)."""
    m = ts_ms / 60_000.0
    return 30_000.0 + 800.0 * math.sin(m / 900.0) + 40.0 * math.sin(m / 7.0)


def oi_usd_at(ts_ms: int) -> float:
    m = ts_ms / 60_000.0
    return 2.0e9 + 1.5e8 * math.sin(m / 1300.0)


def oi_base_at(ts_ms: int) -> float:
    m = ts_ms / 60_000.0
    return 60_000.0 + 3_000.0 * math.sin(m / 1300.0)


def bar(ts: int, interval_s: int) -> dict[str, float]:
    close = price_at(ts + interval_s * 1000 - 60_000)
    open_ = price_at(ts - 60_000)
    return {
        "ts": ts,
        "open": open_,
        "close": close,
        "high": max(open_, close) + 5.0,
        "low": min(open_, close) - 5.0,
        "volume": 10.0 + (ts // 60_000) % 7,
        "taker": 4.0 + (ts // 60_000) % 3,
    }


class _State:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: dict[str, list[tuple[int, dict[str, str], Any]]] = defaultdict(list)
        self.headers: dict[str, dict[str, str]] = {}  # extra headers on normal replies, per path
        self.oi_history_ms = 30 * DAY_MS
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        st = self.state
        with st.lock:
            st.requests.append((parts.path, q))
            fault = st.faults[parts.path].pop(0) if st.faults.get(parts.path) else None
        if fault is not None:
            code, headers, body = fault
            return self._send(code, body, headers)
        route = ROUTES.get(parts.path)
        if route is None:
            return self._send(404, {"code": -1, "msg": "not found"})
        try:
            code, body = route(q, st)
        except (KeyError, ValueError) as exc:
            code, body = 400, {"code": -1102, "msg": f"bad parameter {exc}"}
        self._send(code, body, st.headers.get(parts.path))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        try:
            q = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        with st.lock:
            st.requests.append((parts.path, q))
            fault = st.faults[parts.path].pop(0) if st.faults.get(parts.path) else None
        if fault is not None:
            code, headers, body = fault
            return self._send(code, body, headers)
        if parts.path != "/info":
            return self._send(404, {"error": "not found"})
        try:
            code, body = hyperliquid_info(q, st)
        except (KeyError, ValueError, TypeError) as exc:
            code, body = 422, {"error": f"Failed to deserialize the JSON body: {exc}"}
        self._send(code, body)

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


_BN_IV = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}


def _times(start: int, end: int, step: int, limit: int) -> list[int]:
    first = -(-start // step) * step
    last = min(end, NOW_MS - step)  # only closed bars / samples exist
    out = list(range(first, last + 1, step))
    return out[:limit]


def binance_klines(q: dict[str, str], st: _State) -> tuple[int, Any]:
    if q["symbol"] != "BTCUSDT":
        return 400, {"code": -1121, "msg": "Invalid symbol."}
    iv = _BN_IV[q["interval"]]
    limit = min(int(q.get("limit", 500)), 1500)
    rows = []
    for ts in _times(int(q["startTime"]), int(q["endTime"]), iv * 1000, limit):
        b = bar(ts, iv)
        rows.append(
            [
                ts,
                f"{b['open']:.2f}",
                f"{b['high']:.2f}",
                f"{b['low']:.2f}",
                f"{b['close']:.2f}",
                f"{b['volume']:.3f}",
                ts + iv * 1000 - 1,
                f"{b['volume'] * b['close']:.2f}",
                100,
                f"{b['taker']:.3f}",
                f"{b['taker'] * b['close']:.2f}",
                "0",
            ]
        )
    return 200, rows


def binance_oi(q: dict[str, str], st: _State) -> tuple[int, Any]:
    iv = _BN_IV[q["period"]]
    limit = min(int(q.get("limit", 30)), 500)
    start = max(int(q["startTime"]), NOW_MS - st.oi_history_ms)
    rows = [
        {
            "symbol": q["symbol"],
            "sumOpenInterest": f"{oi_usd_at(ts) / price_at(ts):.3f}",
            "sumOpenInterestValue": f"{oi_usd_at(ts):.8f}",
            "timestamp": ts,
        }
        for ts in _times(start, int(q["endTime"]), iv * 1000, limit)
    ]
    return 200, rows


def bybit_kline(q: dict[str, str], st: _State) -> tuple[int, Any]:
    if q["symbol"] != "BTCUSDT":
        return 200, {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}}
    iv = int(q["interval"]) * 60
    limit = min(int(q.get("limit", 200)), 1000)
    times = _times(int(q["start"]), int(q["end"]), iv * 1000, 10**9)[-limit:]  # the newest `limit`
    rows = []
    for ts in reversed(times):  # newest first
        b = bar(ts, iv)
        rows.append(
            [
                str(ts),
                f"{b['open']:.2f}",
                f"{b['high']:.2f}",
                f"{b['low']:.2f}",
                f"{b['close']:.2f}",
                f"{b['volume']:.3f}",
                f"{b['volume'] * b['close']:.2f}",
            ]
        )
    return 200, {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "symbol": q["symbol"], "list": rows},
    }


def bybit_oi(q: dict[str, str], st: _State) -> tuple[int, Any]:
    iv = int(q["intervalTime"].removesuffix("min")) * 60
    limit = min(int(q.get("limit", 50)), 200)
    times = _times(int(q["startTime"]), int(q["endTime"]), iv * 1000, 10**9)[::-1]  # newest first
    off = int(q.get("cursor") or 0)
    page = times[off : off + limit]
    rows = [
        {
            "openInterest": f"{2 * oi_base_at(ts):.3f}",
            "singleOpenInterest": f"{oi_base_at(ts):.3f}",
            "timestamp": str(ts),
        }
        for ts in page
    ]
    nxt = str(off + limit) if off + limit < len(times) else ""
    return 200, {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"symbol": q["symbol"], "category": "linear", "list": rows, "nextPageCursor": nxt},
    }


_OKX_BAR = {"1m": 60, "5m": 300, "15m": 900, "1H": 3600}


def okx_candles(q: dict[str, str], st: _State) -> tuple[int, Any]:
    if q["instId"] != "BTC-USDT-SWAP":
        return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    iv = _OKX_BAR[q["bar"]]
    limit = min(int(q.get("limit", 100)), 100)
    after, before = int(q["after"]), int(q["before"])  # exclusive bounds: before < ts < after
    times = [t for t in _times(before + 1, after - 1, iv * 1000, 10**9)][-limit:]
    rows = []
    for ts in reversed(times):  # newest first
        b = bar(ts, iv)
        rows.append(
            [
                str(ts),
                f"{b['open']:.1f}",
                f"{b['high']:.1f}",
                f"{b['low']:.1f}",
                f"{b['close']:.1f}",
                f"{b['volume'] * 100:.0f}",
                f"{b['volume']:.2f}",
                f"{b['volume'] * b['close']:.2f}",
                "1",
            ]
        )
    return 200, {"code": "0", "msg": "", "data": rows}


def okx_oi(q: dict[str, str], st: _State) -> tuple[int, Any]:
    iv = _OKX_BAR[q["period"]]
    limit = min(int(q.get("limit", 100)), 100)
    times = _times(int(q["begin"]), int(q["end"]), iv * 1000, 10**9)[-limit:]
    rows = [
        [str(ts), f"{oi_base_at(ts) * 100:.0f}", f"{oi_base_at(ts):.2f}", f"{oi_usd_at(ts) / 3:.2f}"]
        for ts in reversed(times)
    ]
    return 200, {"code": "0", "msg": "", "data": rows}


_HL_IV = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400}
HL_CAP = 5000


def hyperliquid_info(q: dict[str, Any], st: _State) -> tuple[int, Any]:
    if q.get("type") != "candleSnapshot":
        return 422, {"error": "unknown request type"}
    req = q["req"]
    if req["coin"] != "BTC":
        return 200, []
    iv = _HL_IV[req["interval"]]
    newest_first = NOW_MS - NOW_MS % (iv * 1000) - iv * 1000
    oldest = newest_first - (HL_CAP - 1) * iv * 1000  # only the newest 5000 candles exist
    times = _times(max(int(req["startTime"]), oldest), int(req["endTime"]), iv * 1000, HL_CAP)
    out = []
    for ts in times:
        b = bar(ts, iv)
        out.append(
            {
                "t": ts,
                "T": ts + iv * 1000 - 1,
                "s": "BTC",
                "i": req["interval"],
                "o": f"{b['open']:.1f}",
                "c": f"{b['close']:.1f}",
                "h": f"{b['high']:.1f}",
                "l": f"{b['low']:.1f}",
                "v": f"{b['volume']:.5f}",
                "n": 10,
            }
        )
    return 200, out


ROUTES = {
    "/api/v5/market/history-candles": okx_candles,
    "/api/v5/rubik/stat/contracts/open-interest-history": okx_oi,
    "/fapi/v1/klines": binance_klines,
    "/futures/data/openInterestHist": binance_oi,
    "/v5/market/kline": bybit_kline,
    "/v5/market/open-interest": bybit_oi,
}


class RestServer:
    """Context manager: ``with RestServer() as srv: srv.url``."""

    def __init__(self) -> None:
        self.state = _State()
        handler = type("H", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def faults(self) -> dict[str, list[tuple[int, dict[str, str], Any]]]:
        return self.state.faults

    def count(self, path: str) -> int:
        with self.state.lock:
            return sum(1 for p, _ in self.state.requests if p == path)

    def params(self, path: str) -> list[dict[str, str]]:
        with self.state.lock:
            return [q for p, q in self.state.requests if p == path]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
