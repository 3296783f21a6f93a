"""Endpoints as configuration, and symbol mapping."""

from __future__ import annotations

import pytest

from liqtui.core.events import Venue
from liqtui.feeds import conn_specs
from liqtui.feeds.endpoints import DEFAULT_REST, DEFAULT_WS, Endpoints, parse_endpoint
from liqtui.feeds.symbols import base_of, instrument
from liqtui.venues.okx.feed import business_url


def test_defaults_follow_the_2026_binance_market_path() -> None:
    ep = Endpoints()
    assert ep.ws_url("binance") == "wss://fstream.binance.com/market"
    assert ep.rest_url(Venue.BINANCE) == "https://fapi.binance.com"
    assert set(DEFAULT_WS) == set(DEFAULT_REST) == set(Venue)


def test_parse_endpoint() -> None:
    assert parse_endpoint("okx=ws://127.0.0.1:9000/ws/v5/public/") == (
        "okx",
        "ws",
        "ws://127.0.0.1:9000/ws/v5/public",
    )
    assert parse_endpoint("Binance.REST=http://127.0.0.1:1") == ("binance", "rest", "http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("okx", "expected VENUE=URL"),
        ("okx=", "expected VENUE=URL"),
        ("kraken=wss://x", "unknown venue 'kraken'"),
        ("okx.ws2=wss://x", "must be '.rest'"),
        ("okx=http://x", "invalid ws URL"),
        ("okx.rest=wss://x", "invalid rest URL"),
        ("okx=wss://", "invalid ws URL"),
    ],
)
def test_parse_endpoint_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_endpoint(text)


def test_overrides_from_config_mapping_and_cli_list() -> None:
    ws, rest = "ws://127.0.0.1:5/v5/public/linear", "http://127.0.0.1:6"
    a = Endpoints.from_overrides({"bybit": ws, "binance.rest": rest})
    b = Endpoints.from_overrides([f"bybit={ws}", f"binance.rest={rest}"])
    assert a == b
    assert a.ws_url("bybit") == ws and a.ws_url("okx") == DEFAULT_WS[Venue.OKX]
    assert a.rest_url("binance") == "http://127.0.0.1:6"


def test_connection_specs_use_the_overrides() -> None:
    ep = Endpoints.from_overrides(["binance=ws://127.0.0.1:7/market", "okx=ws://127.0.0.1:8/ws/v5/public"])
    (bn,) = conn_specs("binance", "ETH", ep)
    assert bn.url == (
        "ws://127.0.0.1:7/market/stream?streams=ethusdt@aggTrade/ethusdt@markPrice@1s/"
        "ethusdt@kline_1m/ethusdt@forceOrder"
    )
    assert bn.max_age_s is not None and bn.max_age_s < 24 * 3600
    pub, bus = conn_specs("okx", "ETH", ep)
    assert (pub.url, bus.url) == ("ws://127.0.0.1:8/ws/v5/public", "ws://127.0.0.1:8/ws/v5/business")
    assert "ETH-USDT-SWAP" in pub.subscribe[0] and '"instType":"SWAP"' in pub.subscribe[0]
    assert pub.ping == "ping" and "candle1m" in bus.subscribe[0]
    assert business_url("ws://h/x") == "ws://h/x/business"


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC", ("BTCUSDT", "BTCUSDT", "BTC-USDT-SWAP", "BTC")),
        ("eth", ("ETHUSDT", "ETHUSDT", "ETH-USDT-SWAP", "ETH")),
        ("SOLUSDT", ("SOLUSDT", "SOLUSDT", "SOL-USDT-SWAP", "SOL")),
        ("BTC-USDT-SWAP", ("BTCUSDT", "BTCUSDT", "BTC-USDT-SWAP", "BTC")),
        ("BTC/USDT", ("BTCUSDT", "BTCUSDT", "BTC-USDT-SWAP", "BTC")),
    ],
)
def test_instrument_names(symbol: str, expected: tuple[str, ...]) -> None:
    assert tuple(instrument(v, symbol) for v in ("binance", "bybit", "okx", "hyperliquid")) == expected
    assert base_of(symbol) == expected[3]


@pytest.mark.parametrize("bad", ["", "  ", "BT C", "BTC-$$", "ÄÖ"])
def test_invalid_symbols(bad: str) -> None:
    with pytest.raises(ValueError, match="symbol"):
        instrument("binance", bad)
