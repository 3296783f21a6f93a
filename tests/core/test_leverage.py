"""Exact liquidation-price math: the exchanges' own worked examples, brackets, tiers, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from liqtui.core.events import PositionSide
from liqtui.core.leverage import (
    FORMULAS,
    binance_liquidation_price,
    bybit_liquidation_price,
    half_life_for,
    hyperliquid_liquidation_price,
    liquidation_price,
    load_brackets,
    maintenance_margin,
    resolve_tiers,
    shortcut_liquidation_price,
)


def test_binance_faq_example_cross_margin_to_the_cent():
    # Binance FAQ "How to avoid liquidation" (binance.com/en/support/faq/25edcd7fe0e544839d0847b8cbb2e400):
    # wallet balance 500 USDT, long BTCUSDT worth 1,000 USDT (20x) at 50,000 -> liquidation price 25,100.40.
    lp = binance_liquidation_price("long", qty=1000 / 50_000, entry=50_000, wallet=500, mmr=0.004, cum=0.0)
    assert round(lp, 2) == 25_100.40


# Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Contracts"
# (binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93), worked example: one wallet of
# 1,535,443.01 USDT holding two one-way longs (numbers as the FAQ gives them, also reproduced in
# freqtrade's tests/exchange/test_binance.py):
WB = 1_535_443.01
BTC = {"qty": 109.488, "entry": 32_481.98, "mark": 31_967.27, "mmr": 0.025, "cum": 16_300.0}
ETH = {"qty": 3_683.979, "entry": 1_456.84, "mark": 1_335.18, "mmr": 0.10, "cum": 135_365.0}


def _other(p: dict[str, float]) -> tuple[float, float]:
    """(maintenance margin, unrealised PnL) of a long position at its mark price."""
    return maintenance_margin(p["qty"], p["mark"], p["mmr"], p["cum"]), p["qty"] * (p["mark"] - p["entry"])


@pytest.mark.parametrize(
    "pos, other, expected",
    [(BTC, ETH, 26_316.89), (ETH, BTC, 1_153.26), (BTC, None, 18_778.73), (ETH, None, 1_114.78)],
    ids=["btc-cross", "eth-cross", "btc-isolated", "eth-isolated"],
)
def test_binance_faq_two_position_example_to_the_cent(pos, other, expected):
    tmm, upnl = _other(other) if other else (0.0, 0.0)
    lp = binance_liquidation_price("long", pos["qty"], pos["entry"], WB, pos["mmr"], pos["cum"], tmm, upnl)
    assert round(lp, 2) == expected


def test_bybit_example_to_the_cent():
    # Bybit: long 1 BTC at 20,000, 50x, MMR 0.5% -> 19,700.
    assert round(bybit_liquidation_price("long", 20_000, 50, 0.005), 2) == 19_700.00


def test_binance_bracket_maintenance_amounts_match_published_table():
    # cum_n = cum_{n-1} + floor_n * (MMR_n - MMR_{n-1}); Binance publishes these amounts for BTCUSDT.
    cums = [b.cum for b in load_brackets("BTCUSDT").brackets]
    assert cums == [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300]
    eth = [b.cum for b in load_brackets("ETH").brackets]
    assert eth[:5] == [0, 15, 365, 5_365, 35_365]


def test_bracket_chosen_by_notional():
    t = load_brackets("BTCUSDT")
    assert t.for_notional(50_000).mmr == 0.004
    assert t.for_notional(50_000.01).mmr == 0.005
    assert t.for_notional(5e6).cum == 16_300
    assert t.for_notional(1e12).mmr == 0.5  # beyond the last cap: the last bracket


def test_isolated_closed_forms():
    # With WB = Q*EP/L and cum = 0: long EP(1-1/L)/(1-MMR), short EP(1+1/L)/(1+MMR).
    ep, lev, mmr = 40_000.0, 10.0, 0.004
    q = 0.5
    lp_l = binance_liquidation_price("long", q, ep, q * ep / lev, mmr, 0.0)
    lp_s = binance_liquidation_price(PositionSide.SHORT, q, ep, q * ep / lev, mmr, 0.0)
    assert lp_l == pytest.approx(ep * (1 - 1 / lev) / (1 - mmr), rel=1e-12)
    assert lp_s == pytest.approx(ep * (1 + 1 / lev) / (1 + mmr), rel=1e-12)
    # the shortcut is within ~0.1 % of the exact form
    assert shortcut_liquidation_price("long", ep, lev, mmr) == pytest.approx(lp_l, rel=1e-3)
    assert shortcut_liquidation_price("short", ep, lev, mmr) == pytest.approx(lp_s, rel=1e-3)


def test_cross_margin_other_positions_move_the_price():
    base = binance_liquidation_price("long", 1.0, 30_000, 3_000, 0.004, 0.0)
    # other positions' maintenance margin eats the wallet: liquidation comes sooner (higher for a long)
    assert binance_liquidation_price("long", 1.0, 30_000, 3_000, 0.004, 0.0, tmm_other=500) > base
    # their unrealised profit supports the position: liquidation later (lower)
    assert binance_liquidation_price("long", 1.0, 30_000, 3_000, 0.004, 0.0, upnl_other=500) < base


def test_bracket_cum_enters_formula():
    # a 2 BTC long at 60,000 (notional 120k, bracket 2: MMR 0.5%, cum 50) with 10x isolated margin
    t = load_brackets("BTCUSDT")
    br = t.for_notional(120_000)
    assert (br.mmr, br.cum) == (0.005, 50)
    lp = binance_liquidation_price("long", 2.0, 60_000, 12_000, br.mmr, br.cum)
    # by hand: (12000 + 50 - 120000) / (2*0.005 - 2) = -107950 / -1.99
    assert lp == pytest.approx(107_950 / 1.99, abs=0.005)


def test_hyperliquid_documented_form():
    # l = 1/(2*maxLev); margin_available = Q*EP/L - l*Q*EP; LP = EP - side*margin_available/Q/(1 - l*side)
    ep, lev, mx = 100_000.0, 20.0, 40.0
    l_mm = 1 / 80
    expect_long = ep - (ep / lev - l_mm * ep) / (1 - l_mm)
    expect_short = ep + (ep / lev - l_mm * ep) / (1 + l_mm)
    assert hyperliquid_liquidation_price("long", ep, lev, mx) == pytest.approx(expect_long, rel=1e-12)
    assert hyperliquid_liquidation_price("short", ep, lev, mx) == pytest.approx(expect_short, rel=1e-12)
    with pytest.raises(ValueError, match="exceeds max_leverage"):
        hyperliquid_liquidation_price("long", ep, 50, mx)


@pytest.mark.parametrize("formula", FORMULAS)
def test_every_formula_vectorises_and_brackets_the_entry(formula):
    entries = np.array([20_000.0, 60_000.0, 100_000.0])
    for lev in (3.0, 10.0, 25.0, 100.0):
        lp_l = liquidation_price(formula, "long", entries, lev, max_leverage=125)
        lp_s = liquidation_price(formula, "short", entries, lev, max_leverage=125)
        assert np.all(lp_l < entries) and np.all(lp_s > entries)
        # roughly 1/L away from entry
        assert np.allclose((entries - lp_l) / entries, 1 / lev, atol=0.006)
        single = liquidation_price(formula, "long", 60_000.0, lev, max_leverage=125)
        assert isinstance(single, float) and single == pytest.approx(lp_l[1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: binance_liquidation_price("sideways", 1, 1, 1, 0.004, 0), "side"),
        (lambda: binance_liquidation_price("long", 0, 1, 1, 0.004, 0), "qty"),
        (lambda: binance_liquidation_price("long", 1, -5, 1, 0.004, 0), "entry"),
        (lambda: binance_liquidation_price("long", 1, 1, 1, 1.5, 0), "mmr"),
        (lambda: binance_liquidation_price("long", 1, 1, 1, 0.004, math.nan), "cum"),
        (lambda: bybit_liquidation_price("long", 1, 0, 0.005), "leverage"),
        (lambda: liquidation_price("ftx", "long", 1.0, 10), "formula"),
        (lambda: load_brackets("DOGEUSDT"), "no bracket table"),
        (lambda: resolve_tiers("yolo"), "tiers must be one of"),
        (lambda: resolve_tiers("custom", {}), "custom_tiers"),
        (lambda: resolve_tiers("custom", {"abc": 1.0}), "not a leverage"),
        (lambda: resolve_tiers("custom", {"1000": 1.0}), r"\[2, 200\]"),
    ],
)
def test_bad_input_is_refused_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_user_bracket_file_overrides(tmp_path):
    p = tmp_path / "X.json"
    p.write_text(
        json.dumps(
            {
                "symbol": "XUSDT",
                "brackets": [
                    {"cap": 1000, "max_leverage": 50, "mmr": 0.01},
                    {"cap": None, "max_leverage": 10, "mmr": 0.05},
                ],
            }
        )
    )
    t = load_brackets(path=p)
    assert [b.cum for b in t.brackets] == [0, 40]
    p.write_text(
        json.dumps({"symbol": "X", "brackets": [{"cap": 1000, "max_leverage": 50, "mmr": 0.01, "oops": 1}]})
    )
    with pytest.raises(ValueError, match="oops"):
        load_brackets(path=p)
    p.write_text(
        json.dumps(
            {
                "symbol": "X",
                "brackets": [
                    {"cap": 1000, "max_leverage": 50, "mmr": 0.05},
                    {"cap": 500, "max_leverage": 10, "mmr": 0.06},
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="must exceed the previous cap"):
        load_brackets(path=p)


def test_tier_presets_and_half_lives():
    levs, w = resolve_tiers("default")
    assert levs == (5, 10, 25, 50, 100) and sum(w) == pytest.approx(1.0)
    assert resolve_tiers("scalp")[0] == (10, 25, 50, 100)
    assert resolve_tiers("swing")[0] == (3, 5, 10, 25)
    levs, w = resolve_tiers("custom", {"20x": 1, "50": 3})
    assert levs == (20, 50) and w == (0.25, 0.75)
    table = {"10": 100.0, "100": 10.0}
    assert half_life_for(10, table) == 100.0
    assert half_life_for(1, table) == 100.0 and half_life_for(125, table) == 10.0
    mid = half_life_for(math.sqrt(10 * 100), table)  # log-log interpolation: geometric midpoint
    assert mid == pytest.approx(math.sqrt(100 * 10))
