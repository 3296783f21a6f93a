"""Protocol-faithful frame builders for the local exchange servers and the unit tests.

The layouts copy real frames: Binance trade/aggTrade/markPrice/forceOrder and Bybit/OKX/Hyperliquid
messages from tardis-dev/tardis-node's mapper tests (MPL-2.0) and the hftbacktest / cryptofeed recordings
in ../shared/data/real (field layouts only; no recorded data is copied); the numbers are ours.
"""

from __future__ import annotations

import json


def _j(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


# -- Binance USDⓈ-M ----------------------------------------------------------------------------------
def bn_agg_trade(aid: int, price: float, qty: float, buyer_maker: bool, ts: int, sym: str = "BTCUSDT") -> str:
    return _j(
        {
            "stream": f"{sym.lower()}@aggTrade",
            "data": {
                "e": "aggTrade",
                "E": ts + 1,
                "a": aid,
                "s": sym,
                "p": f"{price:.2f}",
                "q": f"{qty:.3f}",
                "f": aid * 3,
                "l": aid * 3 + 2,
                "T": ts,
                "m": buyer_maker,
            },
        }
    )


def bn_mark(ts: int, mark: float, index: float, rate: float, sym: str = "BTCUSDT") -> str:
    return _j(
        {
            "stream": f"{sym.lower()}@markPrice@1s",
            "data": {
                "e": "markPriceUpdate",
                "E": ts,
                "s": sym,
                "p": f"{mark:.8f}",
                "P": f"{mark:.8f}",
                "i": f"{index:.8f}",
                "r": f"{rate:.8f}",
                "T": ts - ts % 28_800_000 + 28_800_000,
            },
        }
    )


def bn_kline(
    t: int, o: float, h: float, low: float, c: float, v: float, closed: bool, sym: str = "BTCUSDT"
) -> str:
    q = v * (h + low + c) / 3
    return _j(
        {
            "stream": f"{sym.lower()}@kline_1m",
            "data": {
                "e": "kline",
                "E": t + 59_000,
                "s": sym,
                "k": {
                    "t": t,
                    "T": t + 59_999,
                    "s": sym,
                    "i": "1m",
                    "f": 1,
                    "L": 2,
                    "o": f"{o:.2f}",
                    "c": f"{c:.2f}",
                    "h": f"{h:.2f}",
                    "l": f"{low:.2f}",
                    "v": f"{v:.3f}",
                    "n": 10,
                    "x": closed,
                    "q": f"{q:.4f}",
                    "V": f"{v / 2:.3f}",
                    "Q": f"{q / 2:.4f}",
                    "B": "0",
                },
            },
        }
    )


def bn_force_order(ts: int, order_side: str, price: float, qty: float, sym: str = "BTCUSDT") -> str:
    return _j(
        {
            "stream": f"{sym.lower()}@forceOrder",
            "data": {
                "e": "forceOrder",
                "E": ts + 5,
                "o": {
                    "s": sym,
                    "S": order_side,
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": f"{qty:.3f}",
                    "p": f"{price * 0.99:.2f}",
                    "ap": f"{price:.2f}",
                    "X": "FILLED",
                    "l": f"{qty:.3f}",
                    "z": f"{qty:.3f}",
                    "T": ts,
                },
            },
        }
    )


def bn_oi_body(base: float, ts: int, sym: str = "BTCUSDT") -> str:
    return _j({"openInterest": f"{base:.3f}", "symbol": sym, "time": ts})


# -- Bybit v5 ------------------------------------------------------------------------------------------
def bb_trades(rows: list[tuple[str, float, float, str, int]], sym: str = "BTCUSDT") -> str:
    """rows: (id, price, size, "Buy"/"Sell", ts)."""
    ts = max(r[4] for r in rows)
    return _j(
        {
            "topic": f"publicTrade.{sym}",
            "type": "snapshot",
            "ts": ts + 1,
            "data": [
                {
                    "T": t,
                    "s": sym,
                    "S": side,
                    "v": f"{v:.3f}",
                    "p": f"{p:.2f}",
                    "L": "PlusTick",
                    "i": i,
                    "BT": False,
                }
                for i, p, v, side, t in rows
            ],
        }
    )


def bb_ticker_snapshot(
    ts: int, cs: int, mark: float, single_oi: float, rate: float, sym: str = "BTCUSDT"
) -> str:
    return _j(
        {
            "topic": f"tickers.{sym}",
            "type": "snapshot",
            "data": {
                "symbol": sym,
                "tickDirection": "ZeroPlusTick",
                "lastPrice": f"{mark:.2f}",
                "markPrice": f"{mark:.2f}",
                "indexPrice": f"{mark + 1:.2f}",
                "openInterest": f"{2 * single_oi:.3f}",
                "openInterestValue": f"{2 * single_oi * mark:.2f}",
                "singleOpenInterest": f"{single_oi:.3f}",
                "singleOpenInterestValue": f"{single_oi * mark:.2f}",
                "nextFundingTime": str(ts + 3_600_000),
                "fundingRate": f"{rate:.6f}",
                "bid1Price": f"{mark - 0.1:.2f}",
                "bid1Size": "1.000",
                "preOpenPrice": "",
                "preQty": "",
                "curPreListingPhase": "",
            },
            "cs": cs,
            "ts": ts,
        }
    )


def bb_ticker_delta(ts: int, cs: int, sym: str = "BTCUSDT", **fields: str) -> str:
    return _j(
        {"topic": f"tickers.{sym}", "type": "delta", "data": {"symbol": sym, **fields}, "cs": cs, "ts": ts}
    )


def bb_liquidations(rows: list[tuple[int, str, float, float]], sym: str = "BTCUSDT") -> str:
    """rows: (ts, position side "Buy"/"Sell", size, bankruptcy price)."""
    return _j(
        {
            "topic": f"allLiquidation.{sym}",
            "type": "snapshot",
            "ts": max(r[0] for r in rows) + 3,
            "data": [{"T": t, "s": sym, "S": s, "v": f"{v:.3f}", "p": f"{p:.2f}"} for t, s, v, p in rows],
        }
    )


def bb_kline(
    start: int, o: float, h: float, low: float, c: float, v: float, confirm: bool, sym: str = "BTCUSDT"
) -> str:
    return _j(
        {
            "topic": f"kline.1.{sym}",
            "data": [
                {
                    "start": start,
                    "end": start + 59_999,
                    "interval": "1",
                    "open": str(o),
                    "close": str(c),
                    "high": str(h),
                    "low": str(low),
                    "volume": f"{v:.3f}",
                    "turnover": f"{v * c:.3f}",
                    "confirm": confirm,
                    "timestamp": start + 30_000,
                }
            ],
            "ts": start + 30_000,
            "type": "snapshot",
        }
    )


# -- OKX v5 ------------------------------------------------------------------------------------------
def okx_trades(rows: list[tuple[str, float, float, str, int]], inst: str = "BTC-USDT-SWAP") -> str:
    """rows: (tradeId, price, contracts, "buy"/"sell", ts)."""
    return _j(
        {
            "arg": {"channel": "trades", "instId": inst},
            "data": [
                {"instId": inst, "tradeId": i, "px": str(p), "sz": str(s), "side": side, "ts": str(t)}
                for i, p, s, side, t in rows
            ],
        }
    )


def okx_mark(ts: int, mark: float, inst: str = "BTC-USDT-SWAP") -> str:
    return _j(
        {
            "arg": {"channel": "mark-price", "instId": inst},
            "data": [{"instId": inst, "instType": "SWAP", "markPx": str(mark), "ts": str(ts)}],
        }
    )


def okx_oi(ts: int, contracts: float, ct_val: float, price: float, inst: str = "BTC-USDT-SWAP") -> str:
    ccy = contracts * ct_val
    return _j(
        {
            "arg": {"channel": "open-interest", "instId": inst},
            "data": [
                {
                    "instId": inst,
                    "instType": "SWAP",
                    "oi": str(contracts),
                    "oiCcy": f"{ccy:.4f}",
                    "oiUsd": f"{ccy * price:.2f}",
                    "ts": str(ts),
                }
            ],
        }
    )


def okx_funding(ts: int, rate: float, inst: str = "BTC-USDT-SWAP") -> str:
    return _j(
        {
            "arg": {"channel": "funding-rate", "instId": inst},
            "data": [
                {
                    "fundingRate": f"{rate:.8f}",
                    "fundingTime": str(ts + 3_600_000),
                    "instId": inst,
                    "instType": "SWAP",
                    "nextFundingRate": "",
                    "ts": str(ts),
                }
            ],
        }
    )


def okx_liquidations(rows: list[tuple[str, str, float, float, int]]) -> str:
    """rows: (instId, order side "buy"/"sell", bankruptcy price, contracts, ts)."""
    return _j(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [
                {
                    "details": [
                        {
                            "bkLoss": "0",
                            "bkPx": str(p),
                            "ccy": "",
                            "posSide": "long" if s == "sell" else "short",
                            "side": s,
                            "sz": str(sz),
                            "ts": str(t),
                        }
                    ],
                    "instFamily": inst.rsplit("-", 1)[0],
                    "instId": inst,
                    "instType": "SWAP",
                    "uly": inst.rsplit("-", 1)[0],
                }
                for inst, s, p, sz, t in rows
            ],
        }
    )


def okx_candle(
    ts: int,
    o: float,
    h: float,
    low: float,
    c: float,
    contracts: float,
    ct_val: float,
    confirm: bool,
    inst: str = "BTC-USDT-SWAP",
) -> str:
    base = contracts * ct_val
    return _j(
        {
            "arg": {"channel": "candle1m", "instId": inst},
            "data": [
                [
                    str(ts),
                    str(o),
                    str(h),
                    str(low),
                    str(c),
                    str(contracts),
                    f"{base:.4f}",
                    f"{base * c:.2f}",
                    "1" if confirm else "0",
                ]
            ],
        }
    )


def okx_instruments(inst: str, ct_val: float) -> str:
    return _j(
        {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "instType": "SWAP",
                    "instId": inst,
                    "ctVal": str(ct_val),
                    "ctValCcy": inst.split("-")[0],
                    "ctType": "linear",
                    "settleCcy": "USDT",
                    "lotSz": "1",
                    "state": "live",
                }
            ],
        }
    )


# -- Hyperliquid -------------------------------------------------------------------------------------
def hl_trades(rows: list[tuple[int, float, float, str, int]], coin: str = "BTC") -> str:
    """rows: (tid, price, size, "B"/"A", ts)."""
    return _j(
        {
            "channel": "trades",
            "data": [
                {
                    "coin": coin,
                    "side": s,
                    "px": str(p),
                    "sz": str(sz),
                    "time": t,
                    "hash": "0x" + "ab" * 32,
                    "tid": tid,
                }
                for tid, p, sz, s, t in rows
            ],
        }
    )


def hl_ctx(mark: float, oi: float, funding: float, coin: str = "BTC") -> str:
    return _j(
        {
            "channel": "activeAssetCtx",
            "data": {
                "coin": coin,
                "ctx": {
                    "funding": f"{funding:.8f}",
                    "openInterest": f"{oi:.5f}",
                    "prevDayPx": str(mark),
                    "dayNtlVlm": "1000.0",
                    "premium": "0.0001",
                    "oraclePx": str(mark - 1),
                    "markPx": str(mark),
                    "midPx": str(mark),
                    "impactPxs": [str(mark - 1), str(mark + 1)],
                },
            },
        }
    )


def hl_candle(t: int, o: float, h: float, low: float, c: float, v: float, coin: str = "BTC") -> str:
    return _j(
        {
            "channel": "candle",
            "data": {
                "t": t,
                "T": t + 59_999,
                "s": coin,
                "i": "1m",
                "o": str(o),
                "c": str(c),
                "h": str(h),
                "l": str(low),
                "v": str(v),
                "n": 12,
            },
        }
    )
