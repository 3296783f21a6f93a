"""REST while live, for any venue: the HTTP client, polling an endpoint forever, and "no such symbol" replies.

Polls retry with the shared :class:`~liqtui.venues.base.Backoff`. A reply the exchange uses to say "no such
symbol" (a 400/404 whose code is one of the venue's ``refusal_codes``, or whose message names the symbol or
instrument) raises :class:`~liqtui.venues.base.SymbolRefused`, which the connection manager reports as a clear
failure.

httpx is imported lazily: httpx 0.28 imports ``rich`` (for its CLI) whenever rich is installed, and the feeds
must stay importable without pulling in rich or textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import msgspec

from liqtui.venues.base import Backoff, FeedError, SymbolRefused, excerpt, log

if TYPE_CHECKING:
    import httpx

__all__ = ["Backoff", "FeedError", "SymbolRefused", "http_error", "make_client", "poll", "refusal"]


class _Err(msgspec.Struct):
    code: int | str | None = None
    msg: str = ""


def make_client(timeout_s: float) -> httpx.AsyncClient:
    """The HTTP client the feeds use (imported here, on first use)."""
    import httpx

    return httpx.AsyncClient(timeout=timeout_s)


def http_error() -> type[Exception]:
    """httpx's base error (imported on first use)."""
    import httpx

    return httpx.HTTPError


def refusal(resp: httpx.Response, codes: Sequence[str]) -> str | None:
    """The exchange's message when a 4xx reply says the symbol is invalid (one of ``codes``, or a message that
    names the symbol or instrument)."""
    if resp.status_code not in (400, 404):
        return None
    try:
        err = msgspec.json.decode(resp.content, type=_Err)
    except msgspec.DecodeError:
        return None
    if str(err.code) in codes or "symbol" in err.msg.lower() or "instrument" in err.msg.lower():
        return err.msg or f"code {err.code}"
    return None


async def poll(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    refusal_codes: Sequence[str],
    interval_s: float,
    backoff: Backoff,
    on_body: Callable[[bytes], None],
    on_error: Callable[[int, str], Awaitable[None] | None],
    on_ok: Callable[[], None] | None = None,
) -> None:
    """Poll ``url`` forever: each 200 body goes to ``on_body``; failures call ``on_error(attempt, reason)``
    and are retried with backoff. Raises :class:`SymbolRefused` for an invalid symbol."""
    http_err = http_error()
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
            refused = refusal(resp, refusal_codes)
            if refused is not None:
                raise SymbolRefused(refused)
            reason = f"HTTP {resp.status_code}: {excerpt(resp.content, 80)}"
        except http_err as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt += 1
        log.warning("%s failed (attempt %d): %s", what, attempt, reason)
        res = on_error(attempt, reason)
        if res is not None:
            await res
        await asyncio.sleep(backoff.delay(attempt))
