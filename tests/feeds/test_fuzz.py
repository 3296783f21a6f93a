"""Fuzzing the decoders: seeded random mutations of valid frames and hypothesis-generated JSON.
Whatever the input, ``decode`` returns a list and no exception escapes."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqtui.feeds import make_decoder
from tests.feeds import frames as F

T0 = 1_786_310_817_583

SEEDS = {
    "binance": [
        F.bn_agg_trade(1, 60000, 0.1, True, T0),
        F.bn_mark(T0, 60000, 59990, 0.0001),
        F.bn_kline(T0, 1, 2, 0.5, 1.5, 3, True),
        F.bn_force_order(T0, "SELL", 59000, 0.1),
        F.bn_oi_body(100.0, T0),
        '{"result":null,"id":1}',
    ],
    "bybit": [
        F.bb_ticker_snapshot(T0, 1, 65000, 100, 0.0001),
        F.bb_ticker_delta(T0, 2, markPrice="65001"),
        F.bb_trades([("x", 1.0, 2.0, "Buy", T0)]),
        F.bb_liquidations([(T0, "Sell", 1.0, 2.0)]),
        F.bb_kline(T0, 1, 2, 0.5, 1.5, 3, False),
    ],
    "okx": [
        F.okx_trades([("1", 100.0, 2, "buy", T0)]),
        F.okx_mark(T0, 100.0),
        F.okx_oi(T0, 10, 0.01, 100.0),
        F.okx_funding(T0, 0.0001),
        F.okx_liquidations([("BTC-USDT-SWAP", "sell", 90.0, 1, T0)]),
        F.okx_candle(T0, 1, 2, 0.5, 1.5, 3, 0.01, True),
        "pong",
    ],
    "hyperliquid": [
        F.hl_trades([(1, 100.0, 1.0, "B", T0)]),
        F.hl_ctx(100.0, 10.0, 0.0001),
        F.hl_candle(T0, 1, 2, 0.5, 1.5, 3),
        '{"channel":"pong"}',
    ],
}
VENUES = list(SEEDS)
TOKENS = [
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "-1",
    "1e400",
    "null",
    "true",
    '""',
    '"NaN"',
    "\\u0000",
    "0",
    "9" * 30,
]


def mutate(rng: random.Random, frame: str) -> str:
    """One random corruption: cut, drop, duplicate, swap or insert a JSON token."""
    s = frame
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(s) + 1)
        j = min(len(s), i + rng.randint(1, 12))
        if op == 0:
            s = s[:i]
        elif op == 1:
            s = s[:i] + s[j:]
        elif op == 2:
            s = s[:i] + s[i:j] * 2 + s[j:]
        elif op == 3:
            s = s[:i] + rng.choice(TOKENS) + s[i:]
        else:
            s = s[:i] + chr(rng.randrange(0x20, 0x7F)) + s[i + 1 :]
    return s


def value_swaps(frame: str) -> list[str]:
    """Each field value of a valid frame replaced in turn by wrong types (well-formed JSON, wrong content)."""
    obj = json.loads(frame) if frame.startswith("{") else None
    if obj is None:
        return []
    out: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for k in list(node):
                walk(node[k], path + [k])
        elif isinstance(node, list):
            for i in range(len(node)):
                walk(node[i], path + [i])
        else:
            for wrong in (None, "abc", -1, 1e308, [], {}, True, "-5"):
                doc = json.loads(frame)
                tgt = doc
                for p in path[:-1]:
                    tgt = tgt[p]
                tgt[path[-1]] = wrong
                out.append(json.dumps(doc))

    walk(obj, [])
    return out


@pytest.mark.parametrize("venue", VENUES)
def test_seeded_mutations_never_raise(venue: str) -> None:
    rng = random.Random(20261122)
    dec = make_decoder(venue, "BTC")
    n = 0
    for _ in range(300):
        for seed in SEEDS[venue]:
            out = dec.decode(mutate(rng, seed), 1)
            assert isinstance(out, list)
            n += 1
    assert dec.errors > n // 2  # most mutations are bad input, counted (not silently accepted)


@pytest.mark.parametrize("venue", VENUES)
def test_every_wrong_type_in_every_field_never_raises(venue: str) -> None:
    dec = make_decoder(venue, "BTC")
    frames = [f for seed in SEEDS[venue] for f in value_swaps(seed)]
    for fr in frames:
        assert isinstance(dec.decode(fr, 1), list)
        assert isinstance(dec.decode(fr.encode(), 1), list)
    assert len(frames) > 50


KEYS = [
    "stream",
    "data",
    "e",
    "s",
    "p",
    "q",
    "T",
    "m",
    "topic",
    "type",
    "ts",
    "arg",
    "channel",
    "instId",
    "coin",
    "ctx",
    "px",
    "sz",
    "side",
    "o",
    "k",
    "S",
    "v",
    "op",
    "success",
    "event",
    "markPx",
    "openInterest",
    "details",
    "cs",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), kids, max_size=6)
    ),
    max_leaves=20,
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=json_values, venue=st.sampled_from(VENUES))
def test_hypothesis_json_never_raises(doc, venue: str) -> None:
    dec = make_decoder(venue, "BTC")
    assert isinstance(dec.decode(json.dumps(doc), 1), list)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(raw=st.binary(max_size=200), venue=st.sampled_from(VENUES))
def test_hypothesis_bytes_never_raise(raw: bytes, venue: str) -> None:
    assert isinstance(make_decoder(venue, "BTC").decode(raw, 1), list)
