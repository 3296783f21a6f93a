"""Frames of the four venues' book channels, built from level lists, for the book tests."""

from __future__ import annotations

import json

from liqtui.venues.okx.book import checksum

Rows = list[tuple[str, str]]


def binance_diff(sym: str, U: int, u: int, pu: int, bids: Rows, asks: Rows, E: int = 1) -> str:
    data = {"e": "depthUpdate", "E": E, "T": E, "s": sym, "U": U, "u": u, "pu": pu, "b": bids, "a": asks}
    return json.dumps({"stream": f"{sym.lower()}@depth@100ms", "data": data})


def binance_snapshot(last: int, bids: Rows, asks: Rows) -> bytes:
    return json.dumps({"lastUpdateId": last, "E": 1, "T": 1, "bids": bids, "asks": asks}).encode()


def bybit(sym: str, kind: str, u: int, bids: Rows, asks: Rows, depth: int = 200, ts: int = 1) -> str:
    data = {"s": sym, "b": bids, "a": asks, "u": u, "seq": u * 10}
    return json.dumps({"topic": f"orderbook.{depth}.{sym}", "type": kind, "ts": ts, "data": data})


class OkxBook:
    """An OKX-side book that writes its own messages with the right checksum (or a wrong one on request)."""

    def __init__(self, inst: str) -> None:
        self.inst = inst
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq = 100

    def _set(self, side: dict, rows: Rows) -> None:
        for p, q in rows:
            if float(q) == 0:
                side.pop(float(p), None)
            else:
                side[float(p)] = (p, q)

    def message(
        self, action: str, bids: Rows, asks: Rows, *, bad: bool = False, skip_seq: bool = False
    ) -> str:
        if action == "snapshot":
            self.bids.clear()
            self.asks.clear()
        self._set(self.bids, bids)
        self._set(self.asks, asks)
        top_b = [self.bids[k] for k in sorted(self.bids, reverse=True)[:25]]
        top_a = [self.asks[k] for k in sorted(self.asks)[:25]]
        cs = checksum(top_b, top_a) + (1 if bad else 0)
        prev = -1 if action == "snapshot" else self.seq + (5 if skip_seq else 0)
        self.seq += 7
        data = {
            "asks": [[p, q, "0", "1"] for p, q in asks],
            "bids": [[p, q, "0", "1"] for p, q in bids],
            "ts": "1700000000000",
            "checksum": cs,
            "prevSeqId": prev,
            "seqId": self.seq,
        }
        return json.dumps(
            {"arg": {"channel": "books", "instId": self.inst}, "action": action, "data": [data]}
        )


def hl_book(coin: str, bids: Rows, asks: Rows, time: int) -> str:
    lv = [[{"px": p, "sz": q, "n": 1} for p, q in side] for side in (bids, asks)]
    return json.dumps({"channel": "l2Book", "data": {"coin": coin, "time": time, "levels": lv}})
