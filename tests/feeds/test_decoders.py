"""Unit tests of the venue decoders: conventions, state merging, bad input and refusals (no sockets)."""

from __future__ import annotations

import logging

import pytest

from liqtui.core.events import (
    Candle,
    FundingRate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    TakerSide,
    Trade,
    Venue,
)
from liqtui.feeds import make_decoder
from liqtui.venues.base import MAX_FRAME_BYTES, Decoder, SequenceTracker, interval_seconds
from liqtui.venues.bybit.feed import TWO_SIDED_OI_SINCE_MS
from liqtui.venues.okx.feed import ContractSpec, OkxDecoder, parse_instruments
from tests.feeds import frames as F

T0 = 1_786_310_817_583


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
def test_registry_gives_protocol_decoders(venue: str) -> None:
    dec = make_decoder(venue, "btc")
    assert isinstance(dec, Decoder) and dec.venue is Venue(venue) and dec.errors == 0
    names = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP", "hyperliquid": "BTC"}
    assert dec.symbol == names[venue]


def test_make_decoder_rejects_unknown_venue() -> None:
    with pytest.raises(ValueError, match="unknown venue 'kraken'"):
        make_decoder("kraken", "BTC")


BAD_FRAMES = [
    "",
    "null",
    "{",
    "[]",
    '{"a":1}',
    "\x00garbage",
    '"text"',
    "1e999",
    '{"data":[1,2]}',
    '{"topic":"publicTrade.BTCUSDT","data":5}',
    '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"}}',
    '{"channel":"trades","data":[{"coin":"BTC"}]}',
]


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
def test_bad_frames_are_counted_never_raised(venue: str, caplog: pytest.LogCaptureFixture) -> None:
    dec = make_decoder(venue, "BTC")
    with caplog.at_level(logging.WARNING, logger="liqtui.feeds"):
        for fr in BAD_FRAMES:
            assert dec.decode(fr, 1) == []
            assert dec.decode(fr.encode(), 1) == []
    assert dec.errors + dec.ignored + dec.control == 2 * len(BAD_FRAMES)
    assert dec.errors >= len(BAD_FRAMES)
    assert all(r.name == "liqtui.feeds" and venue in r.getMessage() for r in caplog.records)


def test_oversized_frame_is_refused_before_parsing() -> None:
    dec = make_decoder("binance", "BTC")
    assert dec.decode(b"x" * (MAX_FRAME_BYTES + 1), 1) == []
    assert dec.error_kinds["oversized"] == 1


def test_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    dec = make_decoder("bybit", "BTC")
    with caplog.at_level(logging.WARNING, logger="liqtui.feeds"):
        for _ in range(500):
            dec.decode("nope", 1)
    assert dec.errors == 500 and len(caplog.records) == 20


# -- Binance -------------------------------------------------------------------------------------------
def test_binance_bare_payload_and_rest_oi_waits_for_a_price() -> None:
    dec = make_decoder("binance", "BTC")
    assert dec.decode(F.bn_oi_body(1234.5, T0), 10) == []  # no price yet: held
    bare = F.bn_mark(T0, 60000.0, 59990.0, -0.0002).split('"data":', 1)[1][:-1]
    events = dec.decode(bare, 11)
    assert [type(e) for e in events] == [MarkPrice, FundingRate, OpenInterest]
    oi = events[2]
    assert oi.base == 1234.5 and oi.usd == pytest.approx(1234.5 * 60000.0) and oi.ts == T0
    assert events[1].rate == -0.0002


def test_binance_other_symbols_are_ignored_and_error_replies_counted() -> None:
    dec = make_decoder("binance", "BTC")
    assert dec.decode(F.bn_agg_trade(1, 3000, 1, False, T0, sym="ETHUSDT"), 1) == []
    assert dec.decode(F.bn_oi_body(1, T0, sym="ETHUSDT"), 1) == []
    assert dec.ignored == 2
    assert dec.decode('{"result":null,"id":1}', 1) == [] and dec.control == 1
    dec.decode('{"code":-1121,"msg":"Invalid symbol."}', 1)
    assert dec.refusal is not None and "BTCUSDT" in dec.refusal and "Invalid symbol" in dec.refusal
    assert dec.error_kinds["exchange_error"] == 1


def test_binance_force_order_uses_average_price_and_filled_qty() -> None:
    dec = make_decoder("binance", "BTC")
    (liq,) = dec.decode(F.bn_force_order(T0, "SELL", 59000.0, 0.25), 1)
    assert isinstance(liq, Liquidation) and liq.side is PositionSide.LONG
    assert (liq.price, liq.qty, liq.usd) == (59000.0, 0.25, pytest.approx(14750.0))
    assert dec.decode(F.bn_force_order(T0, "SELL", 59000.0, 0.25), 2) == [] and dec.duplicates == 1
    assert dec.decode(F.bn_force_order(T0 + 1, "HOLD", 59000.0, 0.25), 3) == []
    assert dec.error_kinds["wrong_type"] == 1


def test_binance_inconsistent_kline_is_an_error() -> None:
    dec = make_decoder("binance", "BTC")
    assert dec.decode(F.bn_kline(T0, 100, 90, 95, 100, 1, True), 1) == []  # high below open
    assert dec.errors == 1


def test_sequence_tracker_tells_duplicates_from_late_ids() -> None:
    s = SequenceTracker(max_gap=10)
    assert [s.check(i) for i in (1, 2, 5, 3, 3, 2, 4, 6)] == [0, 0, 0, 1, 2, 2, 1, 0]
    assert s.check(100) == 0 and s.check(50) == SequenceTracker.DUPLICATE  # a gap too large is not tracked


# -- Bybit ---------------------------------------------------------------------------------------------
def test_bybit_delta_before_snapshot_and_stale_cross_sequence_are_dropped() -> None:
    dec = make_decoder("bybit", "BTC")
    assert dec.decode(F.bb_ticker_delta(T0, 5, markPrice="1.0"), 1) == [] and dec.ignored == 1
    assert len(dec.decode(F.bb_ticker_snapshot(T0, 10, 65000.0, 100.0, 0.0001), 1)) == 3
    assert dec.decode(F.bb_ticker_delta(T0 + 1, 10, markPrice="65001"), 1) == [] and dec.duplicates == 1
    assert dec.decode(F.bb_ticker_delta(T0 + 1, 9, markPrice="65001"), 1) == [] and dec.out_of_order == 1
    (m,) = dec.decode(F.bb_ticker_delta(T0 + 2, 11, markPrice="65002"), 1)
    assert m.mark == 65002.0 and dec.ticker["markPrice"] == "65002"


def test_bybit_bad_delta_leaves_state_intact() -> None:
    dec = make_decoder("bybit", "BTC")
    dec.decode(F.bb_ticker_snapshot(T0, 10, 65000.0, 100.0, 0.0001), 1)
    assert dec.decode(F.bb_ticker_delta(T0 + 1, 11, markPrice="oops"), 1) == []
    assert dec.errors == 1 and dec.ticker["markPrice"] == "65000.00"


@pytest.mark.parametrize(
    ("ts", "expected"), [(TWO_SIDED_OI_SINCE_MS - 1, 500.0), (TWO_SIDED_OI_SINCE_MS, 250.0)]
)
def test_bybit_two_sided_open_interest_is_halved_from_2026_06_11(ts: int, expected: float) -> None:
    dec = make_decoder("bybit", "BTC")
    snap = F.bb_ticker_snapshot(ts, 1, 100.0, 0.0, 0.0).replace('"singleOpenInterest":"0.000",', "")
    snap = snap.replace('"openInterest":"0.000"', '"openInterest":"500"')
    (oi,) = [e for e in dec.decode(snap, 1) if isinstance(e, OpenInterest)]
    assert oi.base == expected and oi.usd == pytest.approx(expected * 100.0)


def test_bybit_reset_forgets_ticker_state() -> None:
    dec = make_decoder("bybit", "BTC")
    dec.decode(F.bb_ticker_snapshot(T0, 10, 65000.0, 100.0, 0.0001), 1)
    dec.reset()
    assert dec.ticker == {} and dec.decode(F.bb_ticker_delta(T0, 11, markPrice="1"), 1) == []


def test_bybit_refusal_and_failed_ping_reply() -> None:
    dec = make_decoder("bybit", "BTC")
    dec.decode('{"success":false,"ret_msg":"error:handler not found","op":"ping"}', 1)
    assert dec.refusal is None and dec.error_kinds["exchange_error"] == 1
    dec.decode('{"success":false,"ret_msg":"Invalid symbol :[tickers.BTCUSDT]","op":"subscribe"}', 1)
    assert dec.refusal and "BTCUSDT" in dec.refusal


# -- OKX -----------------------------------------------------------------------------------------------
def test_okx_inverse_contracts_convert_through_price() -> None:
    dec = OkxDecoder("BTC-USD-SWAP", ContractSpec(100.0, inverse=True))
    (t,) = dec.decode(F.okx_trades([("1", 50000.0, 5, "sell", T0)], inst="BTC-USD-SWAP"), 1)
    assert t.qty == pytest.approx(5 * 100 / 50000.0) and t.side is TakerSide.SELL


def test_okx_trade_ids_deduplicate_and_text_pong_is_control() -> None:
    dec = make_decoder("okx", "BTC")
    fr = F.okx_trades([("7", 100.0, 1, "buy", T0)])
    assert len(dec.decode(fr, 1)) == 1 and dec.decode(fr, 2) == [] and dec.duplicates == 1
    assert dec.decode("pong", 1) == [] and dec.decode(b"pong", 1) == [] and dec.control == 2


def test_okx_candle_row_too_short_is_an_error() -> None:
    dec = make_decoder("okx", "BTC")
    assert dec.decode('{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[["1","2"]]}', 1) == []
    assert dec.error_kinds["wrong_type"] == 1


def test_parse_instruments() -> None:
    spec = parse_instruments(F.okx_instruments("BTC-USDT-SWAP", 0.01), "BTC-USDT-SWAP")
    assert spec == ContractSpec(0.01, inverse=False)
    with pytest.raises(LookupError, match="does not list FOO-USDT-SWAP"):
        parse_instruments('{"code":"51001","msg":"Instrument ID does not exist","data":[]}', "FOO-USDT-SWAP")
    with pytest.raises(ValueError, match="unreadable"):
        parse_instruments("<html>", "BTC-USDT-SWAP")
    with pytest.raises(ValueError, match="no usable ctVal"):
        parse_instruments(F.okx_instruments("BTC-USDT-SWAP", 0.01).replace('"0.01"', '""'), "BTC-USDT-SWAP")


# -- Hyperliquid ---------------------------------------------------------------------------------------
def test_hyperliquid_ctx_emits_oi_only_when_it_changes() -> None:
    dec = make_decoder("hyperliquid", "BTC")
    first = dec.decode(F.hl_ctx(100.0, 10.0, 0.0001), 5)
    assert [type(e) for e in first] == [MarkPrice, FundingRate, OpenInterest]
    assert all(e.ts == 5 for e in first)  # no exchange time in the context: receive time
    assert [type(e) for e in dec.decode(F.hl_ctx(101.0, 10.0, 0.0001), 6)] == [MarkPrice]


def test_hyperliquid_candle_out_of_order_and_error_channel() -> None:
    dec = make_decoder("hyperliquid", "BTC")
    dec.decode(F.hl_candle(T0, 1, 2, 1, 2, 1), 1)
    assert dec.decode(F.hl_candle(T0 - 60_000, 1, 2, 1, 2, 1), 1) == [] and dec.out_of_order == 1
    events = dec.decode(F.hl_candle(T0 + 60_000, 2, 3, 2, 3, 1), 1)
    closed = [c for c in events if isinstance(c, Candle) and c.closed]
    assert [c.ts for c in closed] == [T0]
    dec.decode('{"channel":"error","data":"Invalid subscription: coin BTC"}', 1)
    assert dec.refusal and "BTC" in dec.refusal


def test_interval_seconds() -> None:
    assert [interval_seconds(s) for s in ("1m", "15", "1H", "4h", "1D", "D", "1w", "1s")] == [
        60,
        900,
        3600,
        14400,
        86400,
        86400,
        604800,
        1,
    ]
    with pytest.raises(ValueError, match="unknown candle interval"):
        interval_seconds("fortnight")


def test_trade_events_carry_both_timestamps() -> None:
    dec = make_decoder("binance", "BTC")
    (t,) = dec.decode(F.bn_agg_trade(3, 1.5, 2.0, False, T0), 42)
    assert isinstance(t, Trade) and (t.ts, t.recv_ts) == (T0, 42)


NON_FINITE = [
    ("binance", F.bn_agg_trade(1, 60000, 0.1, False, T0).replace('"60000.00"', '"NaN"')),
    ("binance", F.bn_agg_trade(1, 60000, 0.1, False, T0).replace('"0.100"', '"inf"')),
    ("binance", F.bn_mark(T0, 60000, 60000, 0.0001).replace('"0.00010000"', '"NaN"')),
    ("binance", F.bn_kline(T0, 1, 2, 0.5, 1.5, 3, True).replace('"h":"2.00"', '"h":"inf"')),
    ("bybit", F.bb_trades([("a", 1.0, 1.0, "Buy", T0)]).replace('"p":"1.00"', '"p":"inf"')),
    ("bybit", F.bb_liquidations([(T0, "Buy", 1.0, 2.0)]).replace('"p":"2.00"', '"p":"NaN"')),
    ("okx", F.okx_trades([("1", 100.0, 1, "buy", T0)]).replace('"px":"100.0"', '"px":"NaN"')),
    ("okx", F.okx_funding(T0, 0.0001).replace('"0.00010000"', '"inf"')),
    ("hyperliquid", F.hl_trades([(1, 100.0, 1.0, "B", T0)]).replace('"px":"100.0"', '"px":"inf"')),
    ("hyperliquid", F.hl_ctx(100.0, 10.0, 0.0001).replace('"markPx":"100.0"', '"markPx":"NaN"')),
]


@pytest.mark.parametrize(("venue", "frame"), NON_FINITE)
def test_nan_and_infinite_numbers_are_rejected(venue: str, frame: str) -> None:
    assert "NaN" in frame or "inf" in frame
    dec = make_decoder(venue, "BTC")
    assert dec.decode(frame, 1) == [] and dec.errors == 1


def test_bybit_nan_in_a_ticker_delta_is_rejected_before_merging() -> None:
    dec = make_decoder("bybit", "BTC")
    dec.decode(F.bb_ticker_snapshot(T0, 10, 65000.0, 100.0, 0.0001), 1)
    assert dec.decode(F.bb_ticker_delta(T0 + 1, 11, markPrice="NaN"), 1) == []
    assert dec.errors == 1 and dec.ticker["markPrice"] == "65000.00"


@pytest.mark.parametrize(
    ("venue", "frame"),
    [
        (
            "binance",
            '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1","B":"1"}}',
        ),
        (
            "okx",
            '{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"data":[{"asks":[],"bids":[],"ts":"1"}]}',
        ),
        (
            "bybit",
            '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[]}}',
        ),
    ],
)
def test_documented_streams_we_do_not_use_are_ignored_not_errors(venue, frame):
    """Third-party recordings carry order books and tickers: not errors, just not ours."""
    from liqtui.feeds import make_decoder

    dec = make_decoder(venue, "BTC")
    assert dec.decode(frame, 1) == []
    assert dec.errors == 0 and dec.ignored == 1
    assert dec.decode('{"arg":{"channel":"bogus","instId":"BTC-USDT-SWAP"},"data":[{}]}' if venue == "okx" else
                      '{"topic":"bogus.BTCUSDT","ts":1,"data":{}}' if venue == "bybit" else
                      '{"stream":"x","data":{"e":"bogusEvent"}}', 1) == []  # fmt: skip
    assert dec.errors == 1  # an unknown stream still counts
