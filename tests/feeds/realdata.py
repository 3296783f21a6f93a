"""Readers of the real recordings in ../shared/data/real (formats in its README.md)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

BINANCE_TRADES = "binance_usdm_btcusdt_trade_20240808_hftbacktest.txt.gz"
BINANCE_ALTS = "binance_usdm_4alts_aggtrade_kline_depth_20210722_cryptofeed.ws.txt"
BYBIT = "bybit_v5_linear_tickers_trades_kline_20260809_cryptofeed_v3.jsonl"
OKX = "okx_v5_trades_books_tickers_20220513_cryptofeed.ws.txt"
HYPERLIQUID = "hyperliquid_btc_l2book_trades_20250126_hftbacktest.txt.gz"
TARDIS = "tardis_node_mapper_samples.jsonl"


def hftbacktest(path: Path) -> Iterator[tuple[int, str]]:
    """(receive ms, frame) of an hftbacktest text recording."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            ts, _, frame = line.rstrip("\n").partition(" ")
            yield int(ts) // 1_000_000, frame


def cryptofeed_v1(path: Path) -> Iterator[tuple[int, str]]:
    """(receive ms, frame) of the received data lines of a cryptofeed ``*.ws.txt`` recording."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line[:1].isdigit():
                continue
            ts, _, frame = line.rstrip("\n").partition(": ")
            yield int(float(ts) * 1000), frame


def cryptofeed_v3(path: Path) -> Iterator[tuple[int, str]]:
    """(receive ms, frame) of the ``recv`` records of a cryptofeed v3 jsonl recording."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("t") == "recv":
                yield int(rec["ts"] * 1000), rec["data"]


def tardis(path: Path) -> Iterator[dict]:
    """Records of the tardis-node mapper samples."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)
