"""CLI flags: validated, turned into config overrides; a bad flag exits 2 naming the flag and allowed values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from liqtui.cli import overrides_from_args, parse_args


def test_no_command_means_run():
    ns = parse_args(["--demo", "--lookback", "7d"])
    assert ns.command == "run" and ns.demo and ns.lookback == "7d"
    assert parse_args([]).command == "run"


def test_flags_become_overrides():
    ns = parse_args(
        [
            "--symbol",
            "ethusdt",
            "--exchange",
            "bybit,binance",
            "--lookback",
            "12H",
            "--colors",
            "256",
            "--endpoint",
            "binance=ws://127.0.0.1:1/market",
            "--endpoint",
            "binance.rest=http://127.0.0.1:2",
            "--theme",
            "light",
            "--fps",
            "5",
            "--no-backfill",
        ]
    )
    o = overrides_from_args(ns)
    assert o == {
        "symbol": "ETH",
        "venues": ["bybit", "binance"],
        "reference": "bybit",
        "endpoints.binance": "ws://127.0.0.1:1/market",
        "endpoints.binance.rest": "http://127.0.0.1:2",
        "ui.lookback": "12h",
        "ui.theme": "light",
        "ui.colors": "256",
        "ui.fps": 5.0,
        "backfill.enabled": False,
    }


def test_subcommands_parse():
    z = parse_args(["zones", "--demo", "--seconds", "3", "--top", "4", "--json"])
    assert (z.command, z.demo, z.seconds, z.top, z.json) == ("zones", True, 3.0, 4, True)
    r = parse_args(["replay", "rec.jsonl.gz", "--speed", "0"])
    assert (r.command, r.file, r.speed) == ("replay", "rec.jsonl.gz", 0.0)
    rec = parse_args(["record", "out.jsonl", "--exchange", "okx", "--duration", "10"])
    assert (rec.command, rec.exchange, rec.duration) == ("record", ["okx"], 10.0)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lookback", "2w"], ["--lookback", "12h 1d 3d 7d 14d 1M 3M 6M"]),
        (["--lookback", "1m"], ["--lookback", "unknown lookback '1m'"]),
        (["--exchange", "kraken"], ["--exchange", "binance, bybit, okx, hyperliquid"]),
        (["--colors", "512"], ["--colors", "'auto', 'truecolor', '256', '16'"]),
        (["--endpoint", "binance=http://x"], ["--endpoint", "ws://HOST or wss://HOST"]),
        (["--endpoint", "ftx=ws://x"], ["--endpoint", "VENUE one of binance"]),
        (["--fps", "-3"], ["--fps", "between 0.5 and 60"]),
        (["--fps", "1000"], ["--fps", "between 0.5 and 60", "'1000'"]),
        (["--demo", "--speed", "inf"], ["--speed", "> 0 and at most 10000"]),
        (["--demo", "--speed", "nan"], ["--speed", "> 0 and at most 10000"]),
        (["--demo", "--speed", "20000"], ["--speed", "> 0 and at most 10000"]),
        (["zones", "--demo", "--speed", "0"], ["--speed", "> 0 and at most 10000"]),
        (["record", "x.jsonl", "--demo", "--speed", "1e9"], ["--speed", "at most 10000"]),
        (
            ["replay", "x.jsonl", "--speed", "-1"],
            ["--speed", "between 0 and 1e+06", "0 = as fast as possible"],
        ),
        (["record", "x.jsonl", "--duration", "inf"], ["--duration", "finite number > 0"]),
        (["zones", "--top", "51"], ["--top", "between 1 and 50"]),
        (["zones", "--top", "many"], ["--top", "must be a number"]),
        (["zones", "--demo", "--replay", "x"], ["not allowed with argument"]),
        (["--symbol", "BTC/USDT"], ["--symbol", "a ticker such as BTC"]),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(argv, expected, capsys):
    with pytest.raises(SystemExit) as ex:
        parse_args(argv)
    assert ex.value.code == 2
    err = capsys.readouterr().err
    for part in expected:
        assert part in err, err


def test_real_command_refuses_a_bad_flag():
    """The installed entry point, as a user runs it: exit 2, message on stderr, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "liqtui", "--lookback", "2w"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--lookback" in proc.stderr and "Traceback" not in proc.stderr


def test_real_command_reports_a_bad_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[ui]\nthem = 'dark'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "liqtui", "zones", "--json", "--config", str(cfg)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown key 'ui.them'" in proc.stderr and "did you mean 'theme'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ui_refuses_an_unknown_keymap_id_before_starting(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[keymap]\nlookback_12 = "f1"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "liqtui", "--demo", "--config", str(cfg)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "lookback_12" in proc.stderr and "lookback_12h" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_replay_of_a_missing_file_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "liqtui", "replay", str(tmp_path / "nope.jsonl")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "nope.jsonl" in proc.stderr and "Traceback" not in proc.stderr
