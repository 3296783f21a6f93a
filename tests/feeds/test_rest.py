"""REST side of the feeds against a real local HTTP server: Binance OI polling and OKX contract sizes."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from liqtui.core.events import FeedState, OpenInterest, Trade
from liqtui.venues.base import Backoff
from tests.feeds import frames as F
from tests.feeds.helpers import Collector, manager, running, until
from tests.feeds.servers import ExchangeServer, Stream

T0 = 1_786_310_817_583
OKX_ONE_TRADE = {"/public": [[F.okx_trades([("1", 100.0, 10, "buy", T0)])]], "/business": [[]]}


async def test_binance_oi_poll_retries_with_status_then_recovers() -> None:
    script = [
        F.bn_mark(T0, 60000.0, 60000.0, 0.0001),
        Stream(lambda i: F.bn_agg_trade(i + 1, 60000, 0.1, False, T0 + i), interval_s=0.01),
    ]
    async with ExchangeServer("binance", [script], rest_status=503) as srv:
        sink = Collector()
        mgr = manager([srv], ["binance"], sink)
        async with running(mgr):
            await until(lambda: mgr.stats["binance"].rest_errors >= 2, "failed polls")
            assert not sink.of(OpenInterest)
            srv.rest_status = 200
            await until(lambda: sink.of(OpenInterest), "open interest after recovery")
    polls = [s for s in sink.of_status() if "open interest poll" in s.reason]
    assert polls[0].attempt == 1 and polls[1].attempt == 2 and "HTTP 503" in polls[0].reason
    assert all(s.state is FeedState.LIVE for s in polls)  # the socket stayed live meanwhile
    assert mgr.stats["binance"].reconnects == 0 and sink.of(Trade)


async def test_okx_instruments_unreachable_falls_back_to_the_builtin_table() -> None:
    async with ExchangeServer("okx", scripts_by_path=OKX_ONE_TRADE, rest_status=503, ct_val=0.5) as srv:
        sink = Collector()
        mgr = manager([srv], ["okx"], sink)
        async with running(mgr):
            await until(lambda: sink.of(Trade), "a trade")
        assert len(srv.rest_hits) == 3
    (t,) = sink.of(Trade)
    assert t.qty == pytest.approx(10 * 0.01)  # BTC-USDT-SWAP default, not the server's 0.5
    assert any("OKX instruments" in s.reason for s in sink.of_status())


async def test_okx_instruments_reply_sets_the_contract_size() -> None:
    async with ExchangeServer("okx", scripts_by_path=OKX_ONE_TRADE, ct_val=0.5) as srv:
        sink = Collector()
        mgr = manager([srv], ["okx"], sink)
        async with running(mgr):
            await until(lambda: sink.of(Trade), "a trade")
    assert sink.of(Trade)[0].qty == pytest.approx(5.0)


def test_backoff_is_capped_exponential_with_jitter() -> None:
    b = Backoff(0.5, 4.0, random.Random(3))
    delays = [b.delay(n) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        raw = min(4.0, 0.5 * 2 ** (n - 1))
        assert raw * 0.5 <= d <= raw
    assert len(set(delays)) == len(delays)  # jittered
    with pytest.raises(ValueError, match="backoff"):
        Backoff(0.0, 1.0)


def test_feeds_never_import_textual_or_rich() -> None:
    code = (
        "import sys, liqtui.feeds, liqtui.feeds.connection, liqtui.venues, liqtui.venues.rest;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
