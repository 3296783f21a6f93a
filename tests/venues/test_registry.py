"""The venue registry and what it promises: the generic code names no venue, every venue is complete."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from liqtui.core.events import Venue
from liqtui.venues import ADAPTERS, VenueAdapter, adapter, register, unregister
from liqtui.venues.base import Backoff, BaseDecoder
from liqtui.venues.history import HistoryApi

ROOT = Path(__file__).resolve().parents[2] / "liqtui"
GENERIC = [
    "feeds/connection.py",
    "history/backfill.py",
    "history/replay.py",
    "history/formats.py",
    "venues/rest.py",
    "venues/adapter.py",
]
NAMES = re.compile(r"binance|bybit|okx|okex|hyperliquid", re.IGNORECASE)


@pytest.mark.parametrize("path", GENERIC)
def test_the_generic_code_names_no_venue(path: str) -> None:
    text = (ROOT / path).read_text()
    code = "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith(("#", "from ", "import "))
    )
    hits = [m.group(0) for m in NAMES.finditer(code)]
    assert not hits, f"{path} names venues: {hits}"


def test_every_builtin_venue_is_registered_and_complete() -> None:
    assert list(ADAPTERS) == [v.value for v in Venue]
    for name, a in ADAPTERS.items():
        assert isinstance(a, VenueAdapter) and a.name == name and a.venue is Venue(name)
        assert a.default_ws.startswith("wss://") and a.default_rest.startswith("https://")
        assert name in a.url_hints
        dec = a.decoder("BTC")
        assert isinstance(dec, BaseDecoder) and dec.venue is a.venue and dec.symbol == a.instrument("BTC")
        specs = a.conn_specs("BTC", a.default_ws)
        assert specs and specs[0].url.startswith(a.default_ws)
        # every venue declares a market-data channel that must tick, with a limit
        assert any(s.ticks for s in specs) and all(lim > 0 for s in specs for _, lim in s.ticks)
        assert a.history is not None and issubclass(a.history, HistoryApi) and a.history.name == name


def test_unknown_venue_names_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown venue 'kraken'; expected one of binance, bybit, okx, hyperliquid"
    ):
        adapter("kraken")
    with pytest.raises(ValueError, match="built-in"):
        unregister("okx")
    assert adapter(" OKX ") is ADAPTERS["okx"] and adapter(Venue.BYBIT) is ADAPTERS["bybit"]
    register(ADAPTERS["okx"])  # registering again replaces in place
    assert list(ADAPTERS)[2] == "okx"


def test_one_backoff_serves_reconnects_and_the_backfill() -> None:
    # the backfill's retry delays are what its own formula gave before: min(30, 0.5·2^n)·(0.5 + U[0,1))
    rng_a, rng_b = random.Random(0x11C), random.Random(0x11C)
    b = Backoff(0.5, 30.0, rng_a, jitter=(0.5, 1.5))
    for attempt in range(8):
        assert b.delay(attempt + 1) == pytest.approx(min(30.0, 0.5 * 2**attempt) * (0.5 + rng_b.random()))
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=(1.0, 0.5))
