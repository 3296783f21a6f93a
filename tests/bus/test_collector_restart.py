"""A collector killed with SIGKILL and started again: the bus and the store have no gap longer than its
downtime (the restarted collector backfills what the store misses; the bus carries what it hears)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

from liqtui.core.events import Trade
from liqtui.history.store import Store

from .helpers import read_stream, stream_messages

pytestmark = pytest.mark.timeout(180)

DEMO_STEP_MS = 1000


def _collector(url: str, tmp_path, n: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "liqtui", "collect", "--demo", "--speed", "1", "--seed", "4", "--lookback", "12h",
        "--bus", url, "--store", str(tmp_path / "demo.sqlite3"), "--log-file", str(tmp_path / f"collect{n}.log"),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _count(url: str) -> int:
    try:
        return await stream_messages(url)
    except Exception:  # noqa: BLE001 - no stream yet
        return 0


async def _wait_count(url: str, above: int, what: str) -> int:
    n = 0

    async def poll() -> bool:
        nonlocal n
        n = await _count(url)
        return n > above

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not await poll():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return n


async def test_sigkilled_collector_leaves_no_gap_longer_than_its_downtime(nats_server, tmp_path) -> None:
    first = _collector(nats_server.url, tmp_path, 1)
    second = None
    try:
        n0 = await _wait_count(nats_server.url, 0, "the first collector's first messages")
        n1 = await _wait_count(nats_server.url, n0 + 30, "30 more messages from the first collector")
        os.kill(first.pid, signal.SIGKILL)
        killed = time.time()
        first.wait(timeout=20)
        n1 = await _count(nats_server.url)
        second = _collector(nats_server.url, tmp_path, 2)
        n2 = await _wait_count(nats_server.url, n1, "the restarted collector's first message")
        downtime_ms = (time.time() - killed) * 1000
        await _wait_count(nats_server.url, n2 + 30, "30 more messages from the restarted collector")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        stopped = time.time()
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    events, hist = await read_stream(nats_server.url)
    assert len(hist) >= 2  # each start published its history snapshot
    ts = sorted(e.ts for e in events if isinstance(e, Trade))
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    assert len(ts) > 20
    # the demo market moves in 1-second steps: a gap of one step is its own rhythm, not a loss
    print(f"largest trade gap {max(gaps)} ms, downtime {downtime_ms:.0f} ms (kill to the first message back)")
    assert max(gaps) <= downtime_ms + DEMO_STEP_MS, (
        f"largest gap {max(gaps)} ms, downtime {downtime_ms:.0f} ms"
    )
    # the store: every closed minute from 11 h back to the last one before the stop is an exchange kline
    with Store(tmp_path / "demo.sqlite3") as st:
        end = int(stopped * 1000) // 60_000 * 60_000 - 60_000
        missing = st.missing_ranges("binance", "BTCUSDT", 60, end - 11 * 3_600_000, end)
    assert missing == []
