"""Golden tests over the small real excerpts committed in tests/data/feeds (they run without
../shared/data/real): every frame decodes, values match the raw text, and the frames replay through a
local server and FeedManager unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from liqtui.core.events import TakerSide, Trade
from liqtui.feeds import make_decoder
from tests.feeds.helpers import Collector, manager, running, until
from tests.feeds.servers import ExchangeServer

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"
BINANCE = DATA / "binance_usdm_btcusdt_trade_20240808_hftbacktest_excerpt.txt"
HYPERLIQUID = DATA / "hyperliquid_btc_trades_20250126_hftbacktest_excerpt.txt"


def _lines(path: Path) -> list[tuple[int, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        ts, _, frame = line.partition(" ")
        out.append((int(ts) // 1_000_000, frame))
    return out


def _expected(venue: str, frame: str) -> list[tuple[float, float, int, TakerSide]]:
    msg = json.loads(frame)
    if venue == "binance":
        d = msg["data"]
        return [(float(d["p"]), float(d["q"]), d["T"], TakerSide.SELL if d["m"] else TakerSide.BUY)]
    return [
        (float(r["px"]), float(r["sz"]), r["time"], TakerSide.BUY if r["side"] == "B" else TakerSide.SELL)
        for r in msg["data"]
    ]


def test_excerpts_decode_to_the_raw_values() -> None:
    for venue, path, n_frames in (("binance", BINANCE, 120), ("hyperliquid", HYPERLIQUID, 9)):
        dec = make_decoder(venue, "BTC")
        lines = _lines(path)
        assert len(lines) == n_frames
        for recv, frame in lines:
            got = [(t.price, t.qty, t.ts, t.side) for t in dec.decode(frame, recv) if isinstance(t, Trade)]
            assert got == _expected(venue, frame), frame[:80]
        assert dec.errors == 0 and dec.duplicates == 0


async def test_real_frames_replayed_through_a_local_server() -> None:
    frames = [f for _, f in _lines(BINANCE)]
    async with ExchangeServer("binance", [frames]) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        async with running(mgr):
            await until(lambda: len(sink.of(Trade)) == len(frames), "every replayed trade")
    expected = [e for f in frames for e in _expected("binance", f)]
    assert [(t.price, t.qty, t.ts, t.side) for t in sink.of(Trade)] == expected
    assert mgr.stats["binance"].decode_errors == 0
