"""A real HTTP server on 127.0.0.1 answering Hyperliquid ``POST /info`` with the documented shapes.

``accounts`` maps an address to its ``assetPositions`` rows; ``faults`` is a list of ``(status, headers)``
served first, one per request (e.g. 429s). Every request body is recorded in ``requests``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def position(
    coin: str, szi: str, liq: str | None, kind: str = "isolated", lev: int = 10, entry: str = "100000.0"
):
    size = abs(float(szi))
    lev_obj: dict[str, Any] = {"type": kind, "value": lev}
    if kind == "isolated":
        lev_obj["rawUsd"] = f"{-float(szi) * float(entry) * (1 - 1 / lev):.6f}"
    return {
        "type": "oneWay",
        "position": {
            "coin": coin,
            "szi": szi,
            "leverage": lev_obj,
            "entryPx": entry,
            "positionValue": f"{size * float(entry):.6f}",
            "unrealizedPnl": "0.0",
            "returnOnEquity": "0.0",
            "liquidationPx": liq,
            "marginUsed": f"{size * float(entry) / lev:.6f}",
            "maxLeverage": 40,
            "cumFunding": {"allTime": "1.0", "sinceOpen": "0.5", "sinceChange": "0.1"},
        },
    }


def state(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {
        "accountValue": "50000.0",
        "totalNtlPos": "0.0",
        "totalRawUsd": "50000.0",
        "totalMarginUsed": "0.0",
    }
    return {
        "marginSummary": summary,
        "crossMarginSummary": summary,
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": "50000.0",
        "assetPositions": rows,
        "time": 1_737_918_843_000,
    }


class InfoServer:
    def __init__(self) -> None:
        self.accounts: dict[str, list[dict[str, Any]]] = {}
        self.dex_accounts: dict[str, list[dict[str, Any]]] = {}
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.oi_coins = 300.0
        self.mark = 100_000.0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(n) or b"null")
                status, headers, answer = outer.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append(body)
            if self.faults:
                status, headers = self.faults.pop(0)
                return status, headers, None
        if path != "/info" or not isinstance(body, dict):
            return 404, {}, "Not Found"
        if body.get("type") == "clearinghouseState":
            table = self.dex_accounts if body.get("dex") else self.accounts
            return 200, {}, state(table.get(body.get("user", ""), []))
        if body.get("type") == "metaAndAssetCtxs":
            meta = {"universe": [{"name": "ETH", "szDecimals": 4}, {"name": "BTC", "szDecimals": 5}]}
            ctx = [
                {"markPx": "3000.0", "openInterest": "1000.0", "funding": "0.0"},
                {"markPx": str(self.mark), "openInterest": str(self.oi_coins), "funding": "0.0"},
            ]
            return 200, {}, [meta, ctx]
        return 422, {}, "Failed to deserialize the JSON body into the target type"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
