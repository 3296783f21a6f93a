"""Discovery: the decoder's users sink, the bounded address book, seed files and the store, on the real tape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liqtui.core.events import Trade
from liqtui.venues.hyperliquid.accounts import AddressBook, AddressStore, read_seed_file
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder, TradeUsers
from tests.feeds.realdata import HYPERLIQUID, hftbacktest


def addr(i: int) -> str:
    return f"0x{i:040x}"


def test_discovery_on_the_real_recording(real_data: Path) -> None:
    path = real_data / HYPERLIQUID
    if not path.exists():
        pytest.skip(f"{HYPERLIQUID} not in {real_data}")
    plain, with_users = HyperliquidDecoder("BTC"), HyperliquidDecoder("BTC")
    book = AddressBook("BTC")
    seen: list[TradeUsers] = []
    with_users.on_users = lambda t: (seen.append(t), book.on_trade(t))[-1]
    a, b = [], []
    for ts, frame in hftbacktest(path):
        a += plain.decode(frame, ts)
        b += with_users.decode(frame, ts)
    assert a == b  # the Trade events are the same with or without the sink
    trades = [e for e in b if isinstance(e, Trade)]
    assert trades and len(seen) == len(trades) and plain.errors == with_users.errors == 0
    assert all(t.buyer != t.seller for t in seen)
    assert len(book) >= 10  # dozens of distinct accounts in a few minutes of tape
    notional = sum(e.notional_usd for e in book)
    assert notional == pytest.approx(2 * sum(t.price * t.qty for t in trades))
    # the busiest account (a market maker on one side of most trades) ranks first by value
    top = max(book, key=lambda e: e.trades)
    assert top.trades > len(trades) / 4


def test_duplicates_and_other_coins_do_not_reach_the_sink() -> None:
    dec = HyperliquidDecoder("BTC")
    got: list[TradeUsers] = []
    dec.on_users = got.append
    rows = [
        {
            "coin": c,
            "side": "B",
            "px": "100.0",
            "sz": "1",
            "time": 1,
            "tid": i,
            "users": [addr(j), addr(j + 1)],
        }
        for c, i, j in (("BTC", 1, 1), ("ETH", 2, 3))
    ]
    frame = json.dumps({"channel": "trades", "data": rows})
    assert len(dec.decode(frame, 5)) == 1
    assert len(dec.decode(frame, 6)) == 0  # the same trade again
    assert got == [TradeUsers("BTC", 1, 100.0, 1.0, addr(1), addr(2))]


def test_book_is_bounded_keeps_seeded_and_valuable_addresses(tmp_path: Path) -> None:
    book = AddressBook("BTC", capacity=100)
    book.seed([addr(10_000).upper().replace("0X", "0x")], 0)
    for i in range(1, 400):
        book.see(addr(i), i * 1000, usd=float(i % 7 == 0) * 1e6 + 10.0)
    assert len(book) <= 105
    assert addr(10_000) in book  # seeded: never evicted
    kept = {e.address for e in book}
    assert all(addr(i) in kept for i in range(343, 400) if i % 7 == 0)  # big recent traders stay
    assert book.take_evicted() and not book.take_evicted()
    assert not book.see("0xnothex", 1)

    store = AddressStore(tmp_path / "hl.sqlite")
    assert store.save(book) == len(book)
    store.close()
    store = AddressStore(tmp_path / "hl.sqlite")
    again = AddressBook("BTC", capacity=100)
    again.load(store.load("BTC", 100))
    assert {e.address for e in again} == kept
    assert {e.address: e.notional_usd for e in again} == {e.address: e.notional_usd for e in book}
    assert store.load("ETH", 10) == []


def test_seed_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "a.txt"
    good.write_text(f"# mine\n{addr(1)}\n\n  {addr(2).upper().replace('0X', '0x')}  # whale\n")
    assert read_seed_file(good) == [addr(1), addr(2)]
    bad = tmp_path / "b.txt"
    bad.write_text(f"{addr(1)}\n0x1234\n")
    with pytest.raises(ValueError, match=r"b\.txt:2: not a Hyperliquid address"):
        read_seed_file(bad)
    with pytest.raises(ValueError, match="cannot read the address file"):
        read_seed_file(tmp_path / "missing.txt")
