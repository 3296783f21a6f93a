"""The state file and ``liqtui status``: formats, the 60-column limit, not running (exit 3), stale (exit 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from liqtui.alerts.state import (
    MAX_COLUMNS,
    format_status,
    read_state,
    state_path,
    visible_width,
    write_state,
)

NOW = 1_800_000_000.0


def doc(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "v": 1, "symbol": "BTC", "ts": int(NOW * 1000) - 800, "pid": 1, "source": "live", "price": 97234.6,
        "squeeze": {"low": 98100.0, "high": 98900.0, "usd": 182e6, "distance_pct": 0.89},
        "flush": {"low": 94200.0, "high": 95100.0, "usd": 240e6, "distance_pct": 2.19},
        "imbalance": -0.12, "alert": None,
    }  # fmt: skip
    d.update(kw)
    return d


def test_plain_line() -> None:
    line = format_status(doc(), "plain", now=NOW)
    assert line == "BTC 97,235 ↑98.1k +0.9% $182M ↓95.1k -2.2% $240M ▼0.12"
    assert len(line) <= MAX_COLUMNS


def test_tmux_line_has_colour_tags_and_fits() -> None:
    line = format_status(doc(alert={"ts": int(NOW * 1000) - 60_000, "text": "x"}), "tmux", now=NOW)
    assert line == (
        "BTC 97,235 #[fg=colour231,bg=colour28]↑98.1k +0.9% $182M#[default] #[fg=colour231,bg=colour124]↓95.1k -2.2% $240M#[default] ▼0.12 "
        "#[fg=colour16,bg=colour220,bold]!#[default]"
    )
    assert (
        visible_width(line) == len("BTC 97,235 ↑98.1k +0.9% $182M ↓95.1k -2.2% $240M ▼0.12 !") <= MAX_COLUMNS
    )


def test_alert_mark_only_for_recent_alerts() -> None:
    old = doc(alert={"ts": int(NOW * 1000) - 301_000, "text": "x"})
    assert not format_status(old, "plain", now=NOW).endswith("!")
    assert format_status(doc(alert={"ts": int(NOW * 1000), "text": "x"}), "plain", now=NOW).endswith(" !")


@pytest.mark.parametrize("fmt", ["plain", "tmux"])
def test_sixty_columns_even_with_huge_numbers(fmt: str) -> None:
    big = doc(
        symbol="ABCDEFGHIJKLMNOPQRST", price=12_345_678.9,
        squeeze={"low": 23_456_789.0, "high": 1e8, "usd": 9.99e13, "distance_pct": 123.456},
        flush={"low": 1.0, "high": 9_876_543.2, "usd": 8.88e13, "distance_pct": 99.99},
        imbalance=0.999, alert={"ts": int(NOW * 1000), "text": "x"},
    )  # fmt: skip
    line = format_status(big, fmt, now=NOW)
    assert visible_width(line) <= MAX_COLUMNS
    assert line.startswith("ABCDEFGHIJKL 12,345,679")  # the symbol and the price always stay


def test_missing_zones_and_imbalance() -> None:
    assert format_status(doc(squeeze=None, flush=None, imbalance=None), "plain", now=NOW) == "BTC 97,235"
    assert format_status(doc(imbalance=0.01), "plain", now=NOW).endswith("•0.01")


def test_stale_and_not_running() -> None:
    assert format_status(doc(ts=int(NOW * 1000) - 45_000), "plain", now=NOW) == "BTC 97,235 stale 45s"
    assert format_status(doc(ts=int(NOW * 1000) - 45_000), "tmux", now=NOW) == (
        "#[fg=colour250,bg=colour238]BTC 97,235 stale 45s#[default]"
    )
    assert format_status(None, "plain") == "liqtui: not running"
    assert json.loads(format_status(None, "json")) == {"running": False}
    j = json.loads(format_status(doc(ts=int(NOW * 1000) - 45_000), "json", now=NOW))
    assert (j["stale"], j["age_s"], j["running"], j["price"]) == (True, 45.0, True, 97234.6)


def test_visible_width() -> None:
    assert visible_width("#[fg=red]ab#[default]##c") == 4


def test_write_is_atomic_and_read_picks_the_newest(tmp_path: Path) -> None:
    p_btc, p_eth = state_path("btc", tmp_path), state_path("ETH", tmp_path)
    assert p_btc == str(tmp_path / "status" / "BTC.json")
    write_state(p_btc, doc())
    write_state(p_eth, doc(symbol="ETH", price=3412.5))
    os.utime(p_btc, (time.time() - 100, time.time() - 100))
    assert sorted(os.listdir(tmp_path / "status")) == ["BTC.json", "ETH.json"]  # no temporary file left
    found = read_state(None, tmp_path)
    assert found is not None and found[0]["symbol"] == "ETH"
    found = read_state("btc", tmp_path)
    assert found is not None and found[0]["price"] == 97234.6
    assert read_state("SOL", tmp_path) is None
    assert read_state(None, tmp_path / "nowhere") is None


def test_a_foreign_file_is_an_error(tmp_path: Path) -> None:
    p = Path(state_path("BTC", tmp_path))
    p.parent.mkdir(parents=True)
    p.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a liqtui state file"):
        read_state("BTC", tmp_path)


# -------------------------------------------------------------------------------------------- the command


def status(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m liqtui status ...`` as a cold process, with the test's LIQTUI_DATA."""
    return subprocess.run(
        [sys.executable, "-m", "liqtui", "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_command_not_running_exits_3() -> None:
    r = status()
    assert (r.returncode, r.stdout, r.stderr) == (3, "liqtui: not running\n", "")
    r = status("--format", "tmux", "--symbol", "ETH")
    assert (r.returncode, r.stdout) == (3, "#[fg=colour250,bg=colour238]liqtui: not running#[default]\n")


def test_command_prints_the_line_and_exits_0() -> None:
    base = os.environ["LIQTUI_DATA"]
    write_state(state_path("BTC", base), doc(ts=int(time.time() * 1000)))
    r = status("--symbol", "BTCUSDT")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "BTC 97,235 ↑98.1k +0.9% $182M ↓95.1k -2.2% $240M ▼0.12\n"
    r = status("--format=json")
    assert r.returncode == 0 and json.loads(r.stdout)["squeeze"]["usd"] == 182e6
    r = status("--format", "tmux")
    assert (
        r.returncode == 0
        and "#[fg=colour231,bg=colour28]↑98.1k" in r.stdout
        and visible_width(r.stdout.strip()) <= 60
    )


def test_command_stale_exits_4() -> None:
    base = os.environ["LIQTUI_DATA"]
    write_state(state_path("BTC", base), doc(ts=int(time.time() * 1000) - 30_000))
    r = status()
    assert r.returncode == 4 and r.stdout.startswith("BTC 97,235 stale 3")
    r = status("--stale-after", "120")
    assert r.returncode == 0 and "stale" not in r.stdout


def test_command_bad_arguments_name_the_flag() -> None:
    r = status("--format", "html")
    assert r.returncode == 2 and "--format: invalid choice: 'html'" in r.stderr
    r = status("--symbol", "B T C")
    assert r.returncode == 2 and "--symbol takes a ticker such as BTC" in r.stderr
    r = status("--stale-after", "-1")
    assert r.returncode == 2 and "--stale-after must be > 0" in r.stderr
    r = status("--help")
    assert r.returncode == 0 and "status-right" in r.stdout


def test_command_bad_file_exits_1() -> None:
    p = Path(state_path("BTC", os.environ["LIQTUI_DATA"]))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("not json")
    r = status()
    assert r.returncode == 1 and "not a liqtui state file" in r.stderr


def test_status_path_imports_nothing_heavy() -> None:
    code = (
        "import sys; from liqtui.__main__ import main; rc = main(['status']); "
        "heavy = [m for m in ('numpy', 'msgspec', 'textual', 'liqtui.config', 'liqtui.core', 'logging') "
        "if m in sys.modules]; print(rc, heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert r.stdout.strip().splitlines()[-1] == "3 []", r.stderr
