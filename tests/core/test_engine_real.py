"""The engine on real exchange traffic, decoded by the project's own decoders (skips without either)."""

from __future__ import annotations

import json

import pytest

from liqtui.core.engine import Engine
from liqtui.core.events import Venue
from liqtui.core.model import HeatModel

pytestmark = pytest.mark.real


def test_engine_takes_a_real_bybit_stream(real_data):
    feeds = pytest.importorskip("liqtui.feeds")
    make_decoder = getattr(feeds, "make_decoder", None)
    if make_decoder is None:
        pytest.skip("liqtui.feeds.make_decoder not available")
    path = (
        real_data / "bybit_v5_linear_tickers_trades_kline_20260809_cryptofeed_v3.jsonl"
    )  # read, never copied
    if not path.is_file():
        pytest.skip(f"{path.name} not present")
    dec = make_decoder("bybit", "BTC")
    eng = Engine(HeatModel(), reference=Venue.BYBIT)
    n = 0
    with path.open() as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("t") == "recv":
                for ev in dec.decode(rec["data"], int(rec["ts"] * 1000)):
                    eng.apply(ev)
                    n += 1
    eng.tick(0)
    assert n > 50 and eng.counters["trades"] > 0
    assert eng.price is not None and 10_000 < eng.price < 500_000
    assert eng.mark is not None and abs(eng.mark / eng.price - 1) < 0.01
    assert eng.oi_usd.get(Venue.BYBIT, 0) > 1e8 and Venue.BYBIT in eng.funding
    assert eng.counters["candles"] + eng.counters["candles_open"] > 0
