"""The demo's light symbols served in full: their own tick and step (exchangeInfo, websocket payloads, REST
klines, the order book), the full market seeded from (seed, symbol) and anchored at the light price, the light
market muting it without changing any other symbol's path, and BTC served as before."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from liqtui.sim.market import DEFAULT_PRICES, MarketSim
from liqtui.sim.multi import FullSim, MultiMarket, anchored_sim, light_names, symbol_seed
from liqtui.sim.payloads import BTC_CONTRACT, Contract, contract_for, fmt_price, fmt_qty
from liqtui.sim.server import DemoExchange
from liqtui.sources import Source, SourceError

START_MS = 1_700_000_040_000  # a minute boundary


def _on(value: str, step: float, dp: int) -> None:
    """``value`` is printed with ``dp`` decimals and lies on ``step``."""
    assert len(value.split(".")[1]) == dp if dp else "." not in value, value
    q = Decimal(value) / Decimal(repr(step))
    assert q == q.to_integral_value(), (value, step)


def test_contracts_are_powers_of_ten_with_six_digit_ticks_and_btc_unchanged() -> None:
    assert contract_for(72_000.0) == Contract(0.1, 0.001, 1, 3)
    assert contract_for(0.0345, step_usd=1.0) == Contract(1e-7, 10.0, 7, 0)
    assert contract_for(463.9) == Contract(0.001, 0.1, 3, 1)
    for p in (0.00123, 0.5, 3.3, 99.9, 1234.5, 98_765.4):
        c = contract_for(p)
        assert 1e5 <= p / c.tick < 1e6 and 7.2 <= c.step * p <= 72.0 + 1e-9
    # BTC's contract prints exactly what the full simulator always printed
    assert BTC_CONTRACT.price(71_234.56) == fmt_price(71_234.56) == "71234.60"
    assert BTC_CONTRACT.qty(0.1234) == fmt_qty(0.1234) == "0.123"
    with pytest.raises(ValueError, match="price"):
        contract_for(0.0)
    with pytest.raises(ValueError, match="tick"):
        Contract.of(0.25, 0.001)


def test_the_full_market_is_seeded_from_seed_and_symbol_and_anchored_at_the_light_price() -> None:
    m = MultiMarket(200, 4, start_ms=START_MS, exclude=tuple(DEFAULT_PRICES))
    m.advance(START_MS + 37_000, frames=False)
    sym = m.symbols[30]
    price, oi = m.mark(sym), m.open_interest(sym) * m.mark(sym)

    def make(symbol: str = sym, seed: int = 4) -> FullSim:
        return anchored_sim(
            seed,
            symbol,
            price=price,
            oi_usd=oi,
            annual_vol=m.volatility(sym),
            now_ms=m.now_ms,
            history_days=20,
        )

    a, b = make(), make()
    # anchored: the market starts at the light mark and open interest, at the light market's time
    assert a.now_ms == m.now_ms and a.mark == pytest.approx(price, rel=1e-9)
    assert a.open_interest() * a.mark == pytest.approx(oi, rel=1e-6)
    assert a.contract.tick == contract_for(price).tick and a.price == pytest.approx(price, rel=1e-3)
    # deterministic: the same seed and symbol are the same market, frame for frame
    fa, fb = a.advance(m.now_ms + 90_000), b.advance(m.now_ms + 90_000)
    assert len(fa) > 100 and [f.payload for f in fa] == [f.payload for f in fb]
    # another symbol (same anchor) or another seed is another path
    other = make(symbol=m.symbols[31]).advance(m.now_ms + 90_000)
    assert [f.payload for f in other] != [f.payload.replace(sym, m.symbols[31]) for f in fa]
    assert symbol_seed(4, sym) != symbol_seed(5, sym) and symbol_seed(4, sym) == symbol_seed(4, sym)


def test_muting_a_symbol_leaves_every_other_path_unchanged_and_unmute_continues_from_the_full_market() -> (
    None
):
    a = MultiMarket(200, 2, start_ms=START_MS, exclude=tuple(DEFAULT_PRICES))
    b = MultiMarket(200, 2, start_ms=START_MS, exclude=tuple(DEFAULT_PRICES))
    x = a.symbols[5]
    b.mute(x)
    fa, fb = a.advance(START_MS + 180_000), b.advance(START_MS + 180_000)
    assert not any(x in f.payload for f in fb) and any(x in f.payload for f in fa)
    assert x not in [s for s, _ in b.instruments()] and not b.is_listed(x)

    def others(frames: list) -> list:
        out = []
        for f in frames:
            if f.stream.startswith("!markPrice"):
                out.append([d for d in json.loads(f.payload) if d["s"] != x])
            elif x not in f.payload:
                out.append(f.payload)
        return out

    assert others(fa) == others(fb)
    b.unmute(x, 12.5, 1_000.0)
    assert b.is_listed(x) and b.mark(x) == 12.5 and b.open_interest(x) == 1_000.0


async def _json(c: httpx.AsyncClient, url: str, **params: object) -> object:
    r = await c.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_light_symbol_in_full_has_its_own_tick_and_step_everywhere() -> None:
    async with DemoExchange(seed=8, speed=10, start_ms=START_MS, history_days=2, multi_symbols=200) as first:
        multi = first.multi
        assert multi is not None
        sym = next(
            s for s in multi.symbols[10:] if multi.mark(s) < 5.0
        )  # a small price: BTC's tick would not do
        async with DemoExchange(
            seed=8,
            speed=10,
            symbol=sym,
            start_ms=START_MS,
            history_days=20,
            multi_symbols=200,
            takeover=first,
        ) as demo:
            m = demo.market
            assert isinstance(m, FullSim) and demo.multi is multi and multi.owner is demo
            c = m.contract
            assert c == multi.contract(sym) and c.tick < 0.01
            async with httpx.AsyncClient() as cl:
                info = await _json(cl, demo.rest_url + "/fapi/v1/exchangeInfo")
                entries = {e["symbol"]: e for e in info["symbols"]}  # type: ignore[index]
                assert list(entries).count(sym) == 1 and len(entries) == 200
                e = entries[sym]
                filters = {f["filterType"]: f for f in e["filters"]}
                assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal(repr(c.tick))
                assert Decimal(filters["LOT_SIZE"]["stepSize"]) == Decimal(repr(c.step))
                assert (e["pricePrecision"], e["quantityPrecision"]) == (c.price_dp, c.qty_dp)
                other = next(s for s in entries if s != sym)  # every light symbol has its own filters too
                oc = multi.contract(other)
                assert entries[other]["filters"][0]["tickSize"] == oc.price(oc.tick)
                rows = await _json(cl, demo.rest_url + "/fapi/v1/klines", symbol=sym, interval="1m", limit=5)
                for row in rows:  # type: ignore[attr-defined]
                    for v in row[1:5]:
                        _on(v, c.tick, c.price_dp)
                    _on(row[5], c.step, c.qty_dp)
                book = await _json(cl, demo.rest_url + "/fapi/v1/depth", symbol=sym, limit=20)
                bids, asks = book["bids"], book["asks"]  # type: ignore[index]
                assert float(bids[0][0]) < m.price * 1.001 and float(asks[0][0]) > m.price * 0.999
                for p, q in bids + asks:
                    _on(p, c.tick, c.price_dp)
                    _on(q, c.step, c.qty_dp)
            s = sym.lower()
            streams = [f"{s}@aggTrade", f"{s}@kline_1m", "!markPrice@arr@1s"]
            seen: dict[str, dict] = {}
            async with connect(demo.stream_url(streams), compression=None) as ws:
                while len(seen) < 3:
                    d = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    seen[d["stream"]] = d["data"]
            t = seen[f"{s}@aggTrade"]
            _on(t["p"], c.tick, c.price_dp)
            _on(t["q"], c.step, c.qty_dp)
            k = seen[f"{s}@kline_1m"]["k"]
            for key in "ohlc":
                _on(k[key], c.tick, c.price_dp)
            marks = {x["s"] for x in seen["!markPrice@arr@1s"]}
            assert (
                sym in marks and len(marks) == 200
            )  # its row lives on: the full market's mark joins the array


def test_a_demo_source_accepts_light_symbols_only_with_the_light_market() -> None:
    names = light_names(200, 0)
    light = next(n for n in names if n.removesuffix("USDT") not in ("BNB", "XRP"))
    src = Source("demo", symbol=light.removesuffix("USDT"), demo_radar=200, venues=["binance", "hyperliquid"])
    assert src.light and src.venues == ["binance"]  # the demo's Hyperliquid plays BTC ETH SOL only: said
    assert any("Hyperliquid" in n for n in src.notes)
    with pytest.raises(SourceError, match="BTC, ETH, SOL only .or one of the light symbols"):
        Source("demo", symbol="NOSUCH", demo_radar=200)
    with pytest.raises(SourceError, match="BTC, ETH, SOL"):
        Source("demo", symbol=light.removesuffix("USDT"))  # no light market: refused as before
    assert not Source("demo", symbol="ETH", demo_radar=200).light


async def test_back_to_btc_the_light_market_continues_and_btc_is_the_same_market_as_ever() -> None:
    """A light symbol served in full without a running light market (``liqtui --demo --symbol ...``), then BTC
    opened from the radar: the light symbol is handed back to the light market at its last mark, and BTC's
    market is the one its seed and start always give."""
    sym = light_names(200, 8)[40]
    async with DemoExchange(
        seed=8, speed=10, symbol=sym, start_ms=START_MS, history_days=20, multi_symbols=200
    ) as first:
        multi = first.multi
        assert multi is not None and isinstance(first.market, FullSim) and multi.muted[multi.index[sym]]
        assert first.market.now_ms == multi.now_ms == START_MS  # anchored where the light market starts
        assert first.market.mark == pytest.approx(multi.mark(sym), rel=1e-9)
        while multi.now_ms < START_MS + 20_000:
            await asyncio.sleep(0.05)
        async with DemoExchange(
            seed=8, speed=10, start_ms=START_MS, history_days=20, multi_symbols=200, takeover=first
        ) as btc:
            assert btc.multi is multi and multi.owner is btc and not multi.muted[multi.index[sym]]
            assert multi.mark(sym) == pytest.approx(first.market.mark, rel=0.01)  # handed back at its mark
            m = btc.market
            assert m is not None and not isinstance(m, FullSim) and m.symbol == "BTCUSDT"
            ref = MarketSim(8, start_ms=m.start_ms, history_days=20)
            assert m.start_ms <= multi.now_ms
            end = m.start_ms - 3_600_001  # the hours closed before its start (the live ones have moved on)
            a = m.klines("1h", end=end, limit=1000)
            b = ref.klines("1h", end=end, limit=1000)
            assert len(a) > 400 and np.array_equal(a.c, b.c) and np.array_equal(a.oi, b.oi)
