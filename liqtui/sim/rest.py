"""The demo exchange's REST side: a small stdlib-asyncio HTTP/1.1 server speaking Binance USDⓈ-M.

Endpoints: ``/fapi/v1/ping``, ``/fapi/v1/time``, ``/fapi/v1/exchangeInfo`` (minimal),
``/fapi/v1/openInterest``, ``/fapi/v1/premiumIndex``, ``/fapi/v1/klines`` (limit ≤ 1500) and
``/futures/data/openInterestHist`` (limit ≤ 500; Binance's 30-day rule behind ``oi_hist_days``).
Errors have Binance's shape and codes, e.g. ``400 {"code":-1121,"msg":"Invalid symbol."}``.
Keep-alive is supported (httpx reuses connections).

With a :class:`~liqtui.sim.multi.MultiMarket` beside the full simulator, exchange info lists its perpetuals
too, and ``openInterest``, ``premiumIndex``, ``klines`` and ``openInterestHist`` answer for each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import msgspec

from liqtui.sim.bars import INTERVALS_MS, OI_PERIODS_MS
from liqtui.sim.depth import DepthSim
from liqtui.sim.market import MarketSim
from liqtui.sim.multi import MultiMarket
from liqtui.sim.payloads import fmt_qty, kline_row

__all__ = ["ApiError", "RestServer"]

_MAX_HEAD = 16 * 1024
_enc = msgspec.json.Encoder()


class ApiError(Exception):
    """A Binance-style error answer: HTTP status, Binance ``code`` and ``msg``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _mandatory(name: str) -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


class _Params:
    """Query parameters with Binance's validation errors."""

    def __init__(self, query: str) -> None:
        try:
            parsed = parse_qs(query, keep_blank_values=True, strict_parsing=False)
        except ValueError as exc:  # pragma: no cover - parse_qs is lenient
            raise ApiError(400, -1100, f"Illegal characters found in the query: {exc}") from exc
        self._q = {k: v[0] for k, v in parsed.items()}

    def get(self, name: str) -> str | None:
        v = self._q.get(name)
        return v if v not in (None, "") else None

    def required(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise _mandatory(name)
        return v

    def integer(self, name: str) -> int | None:
        v = self.get(name)
        if v is None:
            return None
        if not v.isdigit() or len(v) > 20:
            raise ApiError(
                400,
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
            )
        return int(v)

    def limit(self, default: int, maximum: int) -> int:
        v = self.integer("limit")
        if v is None:
            return default
        if v < 1:
            raise ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        return min(v, maximum)


class RestServer:
    """Binance USDⓈ-M REST endpoints over the simulated market.

    ``oi_hist_days``: when set (Binance: 30), ``openInterestHist`` serves only that many recent days."""

    def __init__(
        self, market: MarketSim, *, oi_hist_days: float | None = None, multi: MultiMarket | None = None
    ) -> None:
        self.market = market
        self.multi = multi
        self.oi_hist_days = oi_hist_days
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._routes: dict[str, Callable[[_Params], object]] = {
            "/fapi/v1/ping": lambda p: {},
            "/fapi/v1/time": lambda p: {"serverTime": self.market.now_ms},
            "/fapi/v1/exchangeInfo": self._exchange_info,
            "/fapi/v1/openInterest": self._open_interest,
            "/fapi/v1/premiumIndex": self._premium_index,
            "/fapi/v1/klines": self._klines,
            "/futures/data/openInterestHist": self._oi_hist,
            "/fapi/v1/depth": lambda p: self.depth.snapshot(p.limit(500, 1000)) if self.depth else {},
        }
        self.depth: DepthSim | None = None  # the resting book (set by the demo exchange)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the REST server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=_MAX_HEAD)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for t in list(self._conns):
            t.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # -- HTTP --------------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # close() (or the loop shutting down) ends this connection: finish normally. On Python 3.11 the
            # done-callback start_server adds calls task.exception(), which raises for a *cancelled* task and
            # logs a CancelledError traceback; a handler that returns is simply done.
            pass
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._send(writer, 400, {"code": -1000, "msg": "Malformed HTTP request."}, False)
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        keep = headers.get("connection", "").lower() != "close"
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._send(writer, 400, {"code": -1000, "msg": "Malformed HTTP request line."}, False)
            return False
        method, target, version = parts
        keep = keep and version == "HTTP/1.1"
        length = headers.get("content-length", "0")
        if length.isdigit() and int(length) > 0:
            await reader.readexactly(min(int(length), _MAX_HEAD))
        status, body = self._dispatch(method, target)
        await self._send(writer, status, body, keep)
        return keep

    def _dispatch(self, method: str, target: str) -> tuple[int, object]:
        self.requests += 1
        url = urlsplit(target)
        route = self._routes.get(url.path)
        if route is None:
            return 404, {"code": -1000, "msg": f"Path {url.path}, Method {method} is invalid"}
        if method != "GET":
            return 405, {"code": -1000, "msg": f"Path {url.path}, Method {method} is invalid"}
        try:
            return 200, route(_Params(url.query))
        except ApiError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: object, keep: bool) -> None:
        data = _enc.encode(body)
        reason = HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json;charset=UTF-8\r\n"
            f"Content-Length: {len(data)}\r\nX-MBX-USED-WEIGHT-1M: {self.requests % 2400}\r\n"
            f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + data)
        await writer.drain()

    # -- endpoints ---------------------------------------------------------------------------------------
    def _symbol(self, p: _Params, required: bool = True) -> str | None:
        s = p.required("symbol") if required else p.get("symbol")
        if s is not None and s != self.market.symbol:
            raise ApiError(400, -1121, "Invalid symbol.")
        return s

    def _multi_symbol(self, p: _Params) -> str | None:
        """The many-symbol market's instrument named by ``symbol`` (None: not one of its listed ones)."""
        s = p.get("symbol")
        if self.multi is None or s is None or s == self.market.symbol or not self.multi.is_listed(s):
            return None
        return s

    def _exchange_info(self, p: _Params) -> object:
        info = self._exchange_info_main()
        if self.multi is not None:
            info["symbols"].extend(symbol_info(s, t) for s, t in self.multi.instruments())  # type: ignore[attr-defined]
        return info

    def _exchange_info_main(self) -> dict[str, object]:
        m = self.market
        return {
            "timezone": "UTC",
            "serverTime": m.now_ms,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [
                {
                    "symbol": m.symbol,
                    "pair": m.symbol,
                    "contractType": "PERPETUAL",
                    "status": "TRADING",
                    "baseAsset": m.symbol.removesuffix("USDT"),
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    "pricePrecision": 2,
                    "quantityPrecision": 3,
                    "onboardDate": m.history_start_ms,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "261.10",
                            "maxPrice": "809484",
                            "tickSize": "0.10",
                        },
                        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
                    ],
                }
            ],
        }

    def _open_interest(self, p: _Params) -> object:
        ms = self._multi_symbol(p)
        if ms is not None:
            assert self.multi is not None
            oi, now = self.multi.open_interest(ms), self.multi.now_ms
            return {"openInterest": f"{oi:.6g}", "symbol": ms, "time": now}
        self._symbol(p)
        m = self.market
        return {"openInterest": fmt_qty(m.open_interest()), "symbol": m.symbol, "time": m.now_ms}

    def _premium_index_row(self) -> dict[str, object]:
        m = self.market
        return {
            "symbol": m.symbol,
            "markPrice": f"{m.mark:.8f}",
            "indexPrice": f"{m.index:.8f}",
            "estimatedSettlePrice": f"{m.index:.8f}",
            "lastFundingRate": f"{m.funding_rate:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": m.next_funding_ms,
            "time": m.now_ms,
        }

    def _premium_index(self, p: _Params) -> object:
        ms = self._multi_symbol(p)
        if ms is not None:
            return self._multi_premium_row(ms)
        if self._symbol(p, required=False):
            return self._premium_index_row()
        rows = [self._premium_index_row()]
        if self.multi is not None:
            rows.extend(self._multi_premium_row(s) for s, _ in self.multi.instruments())
        return rows

    def _multi_premium_row(self, s: str) -> dict[str, object]:
        assert self.multi is not None
        mark = f"{self.multi.mark(s):.8f}"
        return {"symbol": s, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
                "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
                "nextFundingTime": self.market.next_funding_ms, "time": self.multi.now_ms}  # fmt: skip

    def _times(self, p: _Params) -> tuple[int | None, int | None]:
        start, end = p.integer("startTime"), p.integer("endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(400, -1023, "Start time is greater than end time.")
        return start, end

    def _klines(self, p: _Params) -> object:
        ms = self._multi_symbol(p)
        if ms is None:
            self._symbol(p)
        interval = p.required("interval")
        if interval not in INTERVALS_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        limit = p.limit(500, 1500)
        start, end = self._times(p)
        if ms is not None:
            assert self.multi is not None
            step = INTERVALS_MS[interval]
            if step < 60_000:
                return []
            return [_multi_kline_row(t, step, o, h, lo, c, v) for t, o, h, lo, c, v in
                    self.multi.klines(ms, step, start, end, limit)]  # fmt: skip
        b = self.market.klines(interval, start, end, limit)
        step = INTERVALS_MS[interval]
        return [
            kline_row(
                int(b.ts[i]),
                step,
                b.o[i],
                b.h[i],
                b.l[i],
                b.c[i],
                b.v[i],
                b.q[i],
                int(b.n[i]),
                b.tbv[i],
                b.tbq[i],
            )
            for i in range(len(b))
        ]

    def _oi_hist(self, p: _Params) -> object:
        ms = self._multi_symbol(p)
        sym = ms if ms is not None else self._symbol(p)
        period = p.required("period")
        if period not in OI_PERIODS_MS:
            raise ApiError(400, -1130, "parameter 'period' is invalid.")
        limit = p.limit(30, 500)
        start, end = self._times(p)
        if ms is not None:
            assert self.multi is not None
            return [
                {
                    "symbol": ms,
                    "sumOpenInterest": f"{b:.8f}",
                    "sumOpenInterestValue": f"{u:.8f}",
                    "timestamp": t,
                }
                for t, b, u in self.multi.oi_history(ms, OI_PERIODS_MS[period], start, end, limit)
            ]
        ts, base, usd = self.market.oi_history(OI_PERIODS_MS[period], start, end, limit, self.oi_hist_days)
        return [
            {
                "symbol": sym,
                "sumOpenInterest": f"{b:.8f}",
                "sumOpenInterestValue": f"{u:.8f}",
                "timestamp": int(t),
            }
            for t, b, u in zip(ts.tolist(), base.tolist(), usd.tolist())
        ]


def symbol_info(symbol: str, onboard_ms: int) -> dict[str, object]:
    """An ``exchangeInfo`` entry of a many-symbol market perpetual."""
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": symbol.removesuffix("USDT"),
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "onboardDate": onboard_ms,
    }


def _multi_kline_row(t: int, step: int, o: float, h: float, lo: float, c: float, v: float) -> list[object]:
    """A ``klines`` row of a many-symbol market perpetual (prices keep their significant digits)."""
    return [t, f"{o:.8g}", f"{h:.8g}", f"{lo:.8g}", f"{c:.8g}", f"{v:.6g}", t + step - 1, f"{v * c:.4f}",
            1, f"{v / 2:.6g}", f"{v * c / 2:.4f}", "0"]  # fmt: skip
