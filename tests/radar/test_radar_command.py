"""``liqtui radar --json``: the whole path (demo exchange → all-market feed → light models → table → JSON)."""

from __future__ import annotations

import asyncio
import json

import pytest

from liqtui.__main__ import main


def test_radar_json_on_the_demo_lists_every_perpetual(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["radar", "--json", "--demo", "--seconds", "8", "--speed", "10", "--seed", "3", "--no-store"])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)
    rows, stats = doc["rows"], doc["stats"]
    assert len(rows) >= 200 and stats["instruments"] == 201 and stats["decode_errors"] == 0
    assert "BTCUSDT" in {r["symbol"] for r in rows}  # the full simulator's symbol joins the radar
    for r in rows:
        assert set(r) >= {
            "symbol",
            "venue",
            "price",
            "squeeze",
            "flush",
            "imbalance",
            "liq_1h_usd",
            "oi_change_1h_pct",
        }
        assert r["venue"] == "binance" and r["price"] > 0
        assert set(r["squeeze"]) == {"distance_pct", "usd"} and set(r["flush"]) == {"distance_pct", "usd"}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)  # ranked: the nearest large pool first
    assert any(r["squeeze"]["distance_pct"] is not None for r in rows)  # the warmed-up models show zones


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["radar", "--json", "--demo", "--exchange", "okx"], "the demo and the radar screen speak binance"),
        (["radar", "--json", "--exchange", "binance,bybit"], "one venue at a time"),
        (["radar", "--json", "--demo", "--exchange", "bybit"], "--exchange bybit"),
        (["radar", "--json", "--seconds", "nan"], "--seconds"),
        (["radar", "--json", "--sort", "nope"], "--sort"),
        (["radar", "--json", "--limit", "0"], "--limit"),
    ],
)
def test_radar_bad_flags_are_named(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    assert rc == 2 and named in err and "Traceback" not in err


def test_radar_json_without_an_exchange_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    dead = ["--endpoint", "binance=ws://127.0.0.1:9/market", "--endpoint", "binance.rest=http://127.0.0.1:9"]
    rc = main(["radar", "--json", "--seconds", "1.5", "--no-store", *dead])
    captured = capsys.readouterr()
    assert rc == 3
    doc = json.loads(captured.out)
    assert doc["rows"] == [] and doc["stats"]["rest_errors"] >= 1 and doc["stats"]["instruments"] == 0
    assert "no symbol priced" in captured.err and "Traceback" not in captured.err


def test_radar_json_on_bybit(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.radar.bybit_server import BybitServer

    async def serve_and_run() -> int:
        async with BybitServer([f"B{i:02d}USDT" for i in range(40)]) as ex:
            argv = [
                "radar",
                "--json",
                "--exchange",
                "bybit",
                "--seconds",
                "4",
                "--no-store",
                "--endpoint",
                f"bybit={ex.ws_url}",
                "--endpoint",
                f"bybit.rest={ex.rest_url}",
            ]
            return await asyncio.to_thread(main, argv)

    rc = asyncio.run(serve_and_run())
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc["rows"]) == 40 and doc["stats"]["venue"] == "bybit"
    assert all(r["venue"] == "bybit" for r in doc["rows"]) and doc["stats"]["decode_errors"] == 0


def test_the_cli_sorts_by_every_column_the_screen_sorts_by() -> None:
    from liqtui.cli import RADAR_SORTS
    from liqtui.core.radar import COLUMNS

    assert set(RADAR_SORTS) == set(COLUMNS)
