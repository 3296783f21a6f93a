"""REST side of the feeds: Binance open-interest polling and OKX contract sizes, with httpx.

Both retry with capped exponential backoff and jitter. A reply the exchange uses to say "no such symbol"
raises :class:`SymbolRefused`, which the connection manager reports as a clear failure.

httpx is imported lazily: httpx 0.28 imports ``rich`` (for its CLI) whenever rich is installed, and the feeds
package must stay importable without pulling in rich or textual.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from liqtui.feeds.base import excerpt, log
from liqtui.feeds.okx import DEFAULT_CONTRACTS, ContractSpec, instruments_path, parse_instruments

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Backoff",
    "FeedError",
    "SymbolRefused",
    "binance_oi_url",
    "fetch_okx_contract",
    "make_client",
    "poll_binance_oi",
]


class FeedError(Exception):
    """A venue cannot be served (retrying will not help); the message says why."""


class SymbolRefused(FeedError):
    """The exchange says the symbol does not exist (or refused it)."""


class Backoff:
    """Capped exponential backoff with jitter: ``min(cap, base·2^(n-1)) · U(0.5, 1)`` before attempt n."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base ({base_s}) <= cap ({cap_s})")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (1-based)."""
        raw = min(self.cap_s, self.base_s * (2.0 ** max(0, min(attempt - 1, 30))))
        return raw * self._rng.uniform(0.5, 1.0)


class _Err(msgspec.Struct):
    code: int | str | None = None
    msg: str = ""


def binance_oi_url(rest_base: str, symbol: str) -> str:
    """``GET {rest}/fapi/v1/openInterest?symbol=...``."""
    return f"{rest_base}/fapi/v1/openInterest?symbol={symbol}"


def make_client(timeout_s: float) -> httpx.AsyncClient:
    """The HTTP client the feeds use (imported here, on first use)."""
    import httpx

    return httpx.AsyncClient(timeout=timeout_s)


def _http_error() -> type[Exception]:
    import httpx

    return httpx.HTTPError


def _refusal(resp: httpx.Response) -> str | None:
    """The exchange's message when a 4xx reply says the symbol is invalid."""
    if resp.status_code not in (400, 404):
        return None
    try:
        err = msgspec.json.decode(resp.content, type=_Err)
    except msgspec.DecodeError:
        return None
    if str(err.code) in ("-1121", "51001") or "symbol" in err.msg.lower() or "instrument" in err.msg.lower():
        return err.msg or f"code {err.code}"
    return None


async def poll_binance_oi(
    client: httpx.AsyncClient,
    url: str,
    *,
    interval_s: float,
    backoff: Backoff,
    on_body: Callable[[bytes], None],
    on_error: Callable[[int, str], Awaitable[None] | None],
    on_ok: Callable[[], None] | None = None,
) -> None:
    """Poll ``url`` forever: each 200 body goes to ``on_body``; failures call ``on_error(attempt, reason)``
    and are retried with backoff. Raises :class:`SymbolRefused` for an invalid symbol."""
    http_error = _http_error()
    attempt = 0
    while True:
        reason = ""
        try:
            resp = await client.get(url)
            if resp.status_code == 200:
                on_body(resp.content)
                attempt = 0
                if on_ok is not None:
                    on_ok()
                await asyncio.sleep(interval_s)
                continue
            refused = _refusal(resp)
            if refused is not None:
                raise SymbolRefused(refused)
            reason = f"HTTP {resp.status_code}: {excerpt(resp.content, 80)}"
        except http_error as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt += 1
        log.warning("open interest poll failed (attempt %d): %s", attempt, reason)
        res = on_error(attempt, reason)
        if res is not None:
            await res
        await asyncio.sleep(backoff.delay(attempt))


async def fetch_okx_contract(
    client: httpx.AsyncClient,
    rest_base: str,
    inst_id: str,
    *,
    backoff: Backoff,
    attempts: int,
    on_error: Callable[[int, str], None],
) -> ContractSpec:
    """``ctVal`` of ``inst_id`` from OKX's instruments endpoint; after ``attempts`` failures falls back to the
    built-in table (and raises :class:`FeedError` when the table does not know it either). Raises
    :class:`SymbolRefused` when OKX does not list the instrument."""
    http_error = _http_error()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            resp = await client.get(f"{rest_base}{instruments_path(inst_id)}")
            if resp.status_code == 200 or _refusal(resp) is not None:
                return parse_instruments(resp.content, inst_id)
            last = f"HTTP {resp.status_code}: {excerpt(resp.content, 80)}"
        except LookupError as exc:
            raise SymbolRefused(str(exc)) from None
        except (http_error, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        on_error(attempt, f"OKX instruments: {last}")
        if attempt < attempts:
            await asyncio.sleep(backoff.delay(attempt))
    if inst_id in DEFAULT_CONTRACTS:
        log.warning("okx: instruments endpoint unavailable (%s); using the built-in contract size", last)
        return DEFAULT_CONTRACTS[inst_id]
    raise FeedError(f"contract size of {inst_id} unknown: OKX instruments endpoint unavailable ({last})")
