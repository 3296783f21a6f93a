"""Alert benchmarks.

* ``status_latency_ms``: ``python -m liqtui status`` as a cold process (what tmux runs every status-interval),
  reading a state file in a temporary data dir, median of N runs; ``ratio`` against the same-run baseline of a
  bare ``python -c pass`` (the interpreter's own start), so the ratio isolates what liqtui adds. Goal ≤ 50 ms.
* ``status_overhead_ms``: the same median minus the baseline's.
* ``alert_eval_us``: one evaluation of the default rule set over a snapshot with 20 zones per side and a few
  liquidations (the per-second cost in the app), median.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from liqtui.alerts.evaluator import Evaluator, LiqView, Snapshot, ZoneView
from liqtui.alerts.rules import default_rules
from liqtui.alerts.state import state_path, write_state


def _median_ms(argv: list[str], env: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _state_doc() -> dict[str, Any]:
    return {
        "v": 1, "symbol": "BTC", "ts": int(time.time() * 1000), "pid": os.getpid(), "source": "demo",
        "price": 97234.5, "squeeze": {"low": 98100.0, "high": 98900.0, "usd": 182e6, "distance_pct": 0.89},
        "flush": {"low": 94200.0, "high": 95100.0, "usd": 240e6, "distance_pct": 2.19}, "imbalance": -0.12,
        "alert": None,
    }  # fmt: skip


def status_latency(n: int) -> tuple[float, float]:
    """(median ms of ``python -m liqtui status --format tmux``, median ms of ``python -c pass``)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LIQTUI_DATA=tmp, LIQTUI_CONFIG=str(Path(tmp) / "none.toml"))
        write_state(state_path("BTC", Path(tmp)), _state_doc())
        cmd = [sys.executable, "-m", "liqtui", "status", "--format", "tmux", "--stale-after", "3600"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0 or "BTC" not in out.stdout:
            raise RuntimeError(f"liqtui status failed: {out.returncode} {out.stdout!r} {out.stderr!r}")
        _median_ms(cmd, env, 2)  # warm the page cache for both
        base = _median_ms([sys.executable, "-c", "pass"], env, n)
        status = _median_ms(cmd, env, n)
        base = min(base, _median_ms([sys.executable, "-c", "pass"], env, n))
    return status, base


def alert_eval_us(n: int) -> float:
    zones_up = [ZoneView(100.0 + i, 100.5 + i, 10e6 * (i + 1)) for i in range(20)]
    zones_dn = [ZoneView(98.5 - i, 99.0 - i, 10e6 * (i + 1)) for i in range(20)]
    ev = Evaluator(default_rules())
    times = []
    for k in range(n):
        liqs = [LiqView(k * 1000 + j, "long" if j % 2 else "short", 99.5, 2e5) for j in range(5)]
        snap = Snapshot(ts=k * 1000, price=99.5 + (k % 7) * 0.05, above=zones_up, below=zones_dn,
                        liquidations=liqs, imbalance=0.1)  # fmt: skip
        t0 = time.perf_counter()
        ev.evaluate(snap)
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 9 if quick else 31
    status, base = status_latency(n)
    return [
        {"name": "status_latency_ms", "value": round(status, 2), "unit": "ms", "ratio": round(status / base, 3),
         "baseline_ms": round(base, 2)},
        {"name": "status_overhead_ms", "value": round(status - base, 2), "unit": "ms"},
        {"name": "alert_eval_us", "value": round(alert_eval_us(200 if quick else 2000), 1), "unit": "us"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
