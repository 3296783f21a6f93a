"""``liqtui watch`` end to end on the demo exchange (127.0.0.1): alerts as JSON lines, the state file while it runs
and gone after; the command line's errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

from liqtui.alerts.controller import AlertsController
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.state import read_state
from liqtui.alerts.watch import watch
from liqtui.config import load_config


def test_watch_demo_fires_and_writes_the_state_file() -> None:
    cfg = load_config(None, {"store.enabled": False})
    rules = [
        AlertRule(kind="near_zone", within_pct=50.0, min_usd=0, cooldown_s=0, actions=["toast", "bell"]),
        AlertRule(kind="imbalance", level=0.01, hysteresis=0.0, cooldown_s=0, actions=["toast"]),
    ]
    out = io.StringIO()
    seen: list[object] = []

    def until(ctl: AlertsController) -> bool:
        found = read_state("BTC")
        if found is not None and found[0]["squeeze"] is not None:
            seen.append(found[0])
        kinds = {a.kind for a in ctl.log}
        return bool(seen) and {"near_zone", "imbalance"} <= kinds

    rc = watch(cfg, rules, kind="demo", seed=5, seconds=240, as_json=True, out=out, until=until)
    assert rc == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert {x["kind"] for x in lines} >= {"near_zone", "imbalance"}
    near = [x for x in lines if x["kind"] == "near_zone"]
    assert {x["side"] for x in near} == {"above", "below"}  # one per side: every zone is within 50 %
    assert all(x["symbol"] == "BTC" and x["usd"] > 0 and x["zone_low"] < x["zone_high"] for x in near)
    assert seen and seen[0]["source"] == "demo" and seen[0]["price"] > 0  # type: ignore[index]
    assert read_state("BTC") is None  # removed on exit


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liqtui", "watch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_watch_arguments_are_checked() -> None:
    r = cli("--replay", "/no/such/file.jsonl")
    assert r.returncode == 2 and "--replay: no such file" in r.stderr
    r = cli("--demo", "--seconds", "0")
    assert r.returncode == 2 and "--seconds must be > 0" in r.stderr
    r = cli("--demo", "--live")
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


def test_watch_reads_the_rules_from_the_config() -> None:
    from liqtui.alerts.cli import run_watch

    cfg = SimpleNamespace(alerts=[{"kind": "near_zone", "withn_pct": 1}])
    ns = SimpleNamespace(replay=None, demo=True)
    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        assert run_watch(ns, cfg) == 2  # type: ignore[arg-type]
    finally:
        sys.stderr = old
    assert "alerts #1 (near_zone): unknown key 'withn_pct' (did you mean 'within_pct'?)" in err.getvalue()
    assert os.environ["LIQTUI_DATA"]  # the test's own data dir (conftest)
