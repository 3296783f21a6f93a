"""OKX v5 swaps: the adapter (names, endpoints, two connections, contract sizes, history, recordings).

Decoding and contract specs live in :mod:`.feed`, history pages in :mod:`.history`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from liqtui.core.events import Venue
from liqtui.venues.adapter import Adapter, AllMarketFeed, PrepareContext
from liqtui.venues.base import BaseDecoder, ConnSpec, FeedError, SymbolRefused, excerpt, log
from liqtui.venues.book import BookChannel
from liqtui.venues.okx import book as _book
from liqtui.venues.okx.feed import (
    DEFAULT_CONTRACTS,
    ContractSpec,
    OkxDecoder,
    conn_specs,
    instrument,
    instruments_path,
    parse_instruments,
)
from liqtui.venues.okx.history import OkxHistory

if TYPE_CHECKING:
    from liqtui.core.radar import Radar

__all__ = ["ADAPTER", "OkxAdapter", "fetch_contract"]


def _allmarket(radar: Radar, ws_url: str, rest_url: str, *, local: bool = False) -> AllMarketFeed:
    """The radar's feed of every OKX perpetual (:class:`~liqtui.venues.okx.allmarket.OkxAllMarket`)."""
    from liqtui.venues.okx.allmarket import OkxAllMarket

    return OkxAllMarket(radar, ws_url, rest_url, rest_per_2s=None if local else 5.0)


class OkxAdapter(Adapter):
    venue = Venue.OKX
    #: Candles use the ``business`` sibling of ``public``.
    default_ws = "wss://ws.okx.com:8443/ws/v5/public"
    default_rest = "https://www.okx.com"
    url_hints = ("okex", "okx")
    refusal_codes = ("51001",)
    history = OkxHistory
    allmarket = staticmethod(_allmarket)

    def instrument(self, symbol: str) -> str:
        return instrument(symbol)

    def decoder(self, symbol: str) -> BaseDecoder:
        return OkxDecoder(symbol)

    def conn_specs(self, symbol: str, ws_url: str) -> list[ConnSpec]:
        return conn_specs(symbol, ws_url)

    async def prepare(self, ctx: PrepareContext) -> None:
        """Sizes are in contracts: fetch ``ctVal`` (3 tries when the built-in table knows the instrument)."""
        dec = ctx.decoder
        assert isinstance(dec, OkxDecoder)
        attempts = 3 if dec.spec_known else (ctx.max_attempts or 1_000_000)
        dec.spec = await fetch_contract(ctx, dec.symbol, attempts)
        dec.spec_known = True

    def book(self, symbol: str, ws_url: str, rest_url: str, contract: Any = None) -> BookChannel:
        spec = contract.spec if isinstance(contract, OkxDecoder) and contract.spec_known else None
        return _book.book_channel(symbol, ws_url, spec)

    def frame_is_mine(self, head: str) -> bool:
        return '"arg":' in head or head.startswith('{"event":')

    def symbol_of_frame(self, obj: dict[str, Any]) -> tuple[str | None, bool]:
        arg = obj.get("arg")
        if isinstance(arg, dict) and "data" in obj and isinstance(arg.get("instId"), str):
            return arg["instId"].upper(), str(arg.get("channel", "")).lower() == "trades"
        return None, False


async def fetch_contract(ctx: PrepareContext, inst_id: str, attempts: int) -> ContractSpec:
    """``ctVal`` of ``inst_id`` from OKX's instruments endpoint; after ``attempts`` failures falls back to the
    built-in table (and raises :class:`FeedError` when the table does not know it either). Raises
    :class:`SymbolRefused` when OKX does not list the instrument."""
    from liqtui.venues.rest import http_error, refusal

    http_err = http_error()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            resp = await ctx.client.get(f"{ctx.rest_url}{instruments_path(inst_id)}")
            if resp.status_code == 200 or refusal(resp, ADAPTER.refusal_codes) is not None:
                return parse_instruments(resp.content, inst_id)
            last = f"HTTP {resp.status_code}: {excerpt(resp.content, 80)}"
        except LookupError as exc:
            raise SymbolRefused(str(exc)) from None
        except (http_err, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        ctx.on_error(attempt, f"OKX instruments: {last}")
        if attempt < attempts:
            await asyncio.sleep(ctx.backoff.delay(attempt))
    if inst_id in DEFAULT_CONTRACTS:
        log.warning("okx: instruments endpoint unavailable (%s); using the built-in contract size", last)
        return DEFAULT_CONTRACTS[inst_id]
    raise FeedError(f"contract size of {inst_id} unknown: OKX instruments endpoint unavailable ({last})")


ADAPTER = OkxAdapter()
