"""HyperliquidObserver: the wiring object (recording mode, crossing, JSON, calibration log, persistence)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from liqtui.core.events import MarkPrice, OpenInterest, TakerSide, Trade, Venue
from liqtui.core.model import HeatModel
from liqtui.core.observed import ObservedPosition
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS, model_bars
from liqtui.venues.binance.feed import BinanceDecoder
from liqtui.venues.hyperliquid.accounts import AddressStore
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder
from liqtui.venues.hyperliquid.observer import HyperliquidObserver


def addr(i: int) -> str:
    return f"0x{i:040x}"


@pytest.fixture(scope="module")
def model() -> HeatModel:
    m = MarketSim(seed=1, start_ms=DEFAULT_START_MS, history_days=3)
    hm = HeatModel()
    hm.step_many(model_bars(m))
    return hm


def _trade(price: float, ts: int) -> Trade:
    return Trade(
        venue=Venue.HYPERLIQUID, symbol="BTC", ts=ts, recv_ts=ts, price=price, qty=1.0, side=TakerSide.BUY
    )


async def test_recording_mode_discovers_crosses_reports_and_persists(
    tmp_path: Path, model: HeatModel
) -> None:
    seeds = tmp_path / "mine.txt"
    seeds.write_text(f"{addr(99)}\n")
    store = tmp_path / "hl.sqlite"
    obs = HyperliquidObserver("BTC", info_url=None, store_path=store, seed_file=seeds, save_every_s=0.01)
    assert any("no info endpoint" in n for n in obs.notes)
    with pytest.raises(TypeError, match="hyperliquid decoder"):
        obs.attach(BinanceDecoder("BTC"))
    dec = HyperliquidDecoder("BTC")
    obs.attach(dec)
    rows = [
        {
            "coin": "BTC",
            "side": "B",
            "px": "100.0",
            "sz": "2",
            "time": 1,
            "tid": 7,
            "users": [addr(1), addr(2)],
        }
    ]
    dec.decode(json.dumps({"channel": "trades", "data": rows}), 1)
    assert {e.address for e in obs.book} == {addr(1), addr(2), addr(99)}

    p = model.price
    for i, (side, liq) in enumerate([(1, p * 0.97), (1, p * 0.95), (-1, p * 1.04), (-1, p * 1.02)], 1):
        obs.observed.update(addr(i), [ObservedPosition(address=addr(i), coin="BTC", side=side, size=3.0,
                                                      entry_px=p, leverage=10 * i, margin="isolated",
                                                      liq_px=liq, value_usd=3 * p, ts=0)], 0)  # fmt: skip
    obs.apply(OpenInterest(venue=Venue.HYPERLIQUID, symbol="BTC", ts=0, recv_ts=0, base=100.0, usd=100 * p))
    obs.apply(
        OpenInterest(venue=Venue.BINANCE, symbol="BTCUSDT", ts=0, recv_ts=0, base=1.0, usd=1.0)
    )  # not HL
    obs.poller._sync_book(0.0)  # what the poll loop does first: every address due now...
    obs.poller.scheduler.put(addr(1), 1e9)  # ...addr(1) as if just polled
    obs.apply(MarkPrice(venue=Venue.HYPERLIQUID, symbol="BTC", ts=5, recv_ts=5, mark=p))
    obs.apply(_trade(p * 0.965, 6))  # the price dips through the first long level
    assert [r.address for r in obs.observed.realized] == [addr(1)]
    assert obs.poller.scheduler.due[addr(1)] <= obs.poller.clock() + 10.0  # confirmed by a poll soon

    doc = obs.json(model, "7d", DEFAULT_START_MS)
    o, c = doc["observed"], doc["calibration"]
    assert o["accounts_seen"] == 4 and o["accounts_polled"] == 4  # seen: at least those polled
    assert o["coverage"] == pytest.approx(0.5 * 12 * p * 0.965 / (100 * p), rel=1e-6)
    assert o["below"] and o["above"] and o["notes"]
    assert set(c) >= {"corr_long", "corr_short", "recall_top5", "observed_tiers", "fit_quality"}
    assert c["recall_top5"] is not None
    json.dumps(doc)

    task = asyncio.create_task(obs.run())  # a recording: nothing to poll, the book is saved periodically
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    obs.close()
    again = AddressStore(store)
    assert {e.address for e in again.load("BTC", 10)} == {addr(1), addr(2), addr(99)}
    hist = again.calibration_history("BTC")
    assert len(hist) == 1 and hist[0][1]["accounts_polled"] == 4
    again.close()
