"""Polling within the rules: the documented shapes over real HTTP, the weight budget over a long run with a
fake clock, 429s slowing the poller, and the schedule by value."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from liqtui.core.observed import ObservedBook
from liqtui.venues.hyperliquid.accounts import AddressBook
from liqtui.venues.hyperliquid.feed import TradeUsers
from liqtui.venues.hyperliquid.poller import PollPolicy, PositionPoller, WeightBudget
from liqtui.venues.hyperliquid.positions import InfoShapeError, parse_clearinghouse
from tests.observed.infoserver import InfoServer, position, state


def addr(i: int) -> str:
    return f"0x{i:040x}"


class FakeClock:
    """Seconds; ``sleep`` advances it at once (and yields to the loop)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        assert s >= 0
        self.t += s
        await asyncio.sleep(0)


def test_parse_the_documented_shapes() -> None:
    body = state(
        [
            position("BTC", "-0.5", "109850.2", kind="cross", lev=20),
            position("ETH", "3.0", "2500.0"),
            position("SOL", "0.0", None),
        ]
    )
    ps = parse_clearinghouse(body, addr(1), 5, coin="BTC")
    assert len(ps) == 1
    p = ps[0]
    assert (p.side, p.size, p.liq_px, p.leverage, p.margin) == (-1, 0.5, 109850.2, 20.0, "cross")
    assert p.ts == 1_737_918_843_000  # the answer's own time
    assert [q.coin for q in parse_clearinghouse(body, addr(1), 5)] == ["BTC", "ETH"]  # zero size dropped
    assert parse_clearinghouse(state([position("BTC", "1.0", None)]), addr(1), 5)[0].liq_px is None
    with pytest.raises(InfoShapeError, match="assetPositions"):
        parse_clearinghouse({"marginSummary": {}}, addr(1), 5)
    bad = state([position("BTC", "1.0", "x")])
    with pytest.raises(InfoShapeError, match=r"assetPositions\[0\] \(BTC\).*liquidationPx"):
        parse_clearinghouse(bad, addr(1), 5)


async def test_poller_over_real_http_cross_isolated_null_empty_dex_and_429() -> None:
    with InfoServer() as srv:
        srv.accounts = {
            addr(1): [position("BTC", "2.0", "91000.0", lev=10)],
            addr(2): [
                position("BTC", "-1.0", "109000.0", kind="cross", lev=20),
                position("ETH", "5", "2000"),
            ],
            addr(3): [position("BTC", "4.0", None, kind="cross", lev=2)],
            addr(4): [],
            addr(5): [position("BTC", "0.0", None, kind="cross")],
        }
        srv.dex_accounts = {addr(1): [position("BTC", "9.0", "50000.0")]}
        srv.faults = [(429, {"Retry-After": "0"})]
        book = AddressBook("BTC")
        for i in range(1, 6):
            book.see(addr(i), 1, 100.0)
        ob = ObservedBook("BTC")
        budget = WeightBudget(1.0, limit=100_000)
        poller = PositionPoller(book, ob, info_url=srv.url, price=lambda: 100_000.0, budget=budget)
        poller.budget._backoff.base_s = poller.budget._backoff.cap_s = 0.01
        task = asyncio.create_task(poller.run())
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while len(ob.polled) < 5 or poller.oi_usd is None:
                assert asyncio.get_running_loop().time() < deadline, "poller did not poll every account"
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert poller.stats.throttled == 1 and budget.factor == 0.5
        assert set(ob.positions) == {addr(1), addr(2), addr(3)}
        assert ob.positions[addr(2)].margin == "cross" and ob.positions[addr(2)].liq_px == 109000.0
        assert ob.positions[addr(1)].size == 2.0  # the main dex, not the sub-dex
        assert ob.positions[addr(3)].liq_px is None
        assert poller.oi_usd == pytest.approx(300.0 * 100_000.0)
        assert all("dex" not in r for r in srv.requests if r and r.get("type") == "clearinghouseState")
        cov = ob.coverage(0, 100_000.0, oi_usd=poller.oi_usd, accounts_seen=len(book))
        assert cov.positions_no_liq == 1 and cov.accounts_polled == 5


async def test_sub_dex_only_when_asked() -> None:
    with InfoServer() as srv:
        srv.accounts = {addr(1): [position("BTC", "2.0", "91000.0")]}
        srv.dex_accounts = {addr(1): [position("BTC", "9.0", "50000.0")]}
        book, ob = AddressBook("BTC"), ObservedBook("BTC")
        book.see(addr(1), 1)
        poller = PositionPoller(book, ob, info_url=srv.url, dex="xyz", oi_every_s=0)
        poller._sync_book(0.0)
        assert await poller.poll_one(addr(1))
        await asyncio.sleep(0)
        assert ob.positions[addr(1)].size == 9.0
        assert srv.requests[-1] == {"type": "clearinghouseState", "user": addr(1), "dex": "xyz"}


async def _long_run(fetch_status: Any, minutes: int, n_accounts: int = 3000, share: float = 0.5):
    clock = FakeClock()
    spent: list[tuple[float, int]] = []
    users: Counter[int] = Counter()
    weights = {"clearinghouseState": 2, "metaAndAssetCtxs": 20}

    async def fetch(body: dict[str, Any]) -> tuple[int, float | None, Any]:
        spent.append((clock.t, weights[body["type"]]))
        status = fetch_status(clock.t)
        if status == 429:
            return 429, None, None
        if body["type"] == "metaAndAssetCtxs":
            return 200, None, [{"universe": [{"name": "BTC"}]}, [{"markPx": "1e5", "openInterest": "100"}]]
        i = int(body["user"], 16)
        users[i] += 1
        rows = [position("BTC", "1.0", f"{100_000 * (1 - 0.001 * (i % 200)):.1f}")] if i % 3 else []
        return 200, None, state(rows)

    book, ob = AddressBook("BTC", capacity=n_accounts), ObservedBook("BTC")
    for i in range(1, n_accounts + 1):
        book.see(addr(i), 1, float(i))
    budget = WeightBudget(share, clock=clock)
    poller = PositionPoller(
        book, ob, info_url=None, price=lambda: 100_000.0, clock=clock, sleep=clock.sleep, fetch=fetch,
        budget=budget, wall_ms=lambda: int(clock.t * 1000),
    )  # fmt: skip
    t0 = clock.t
    await poller.run(until=t0 + minutes * 60)
    poller.users_polled = users  # type: ignore[attr-defined]  # handed to the test with the poller
    return spent, poller, ob, t0


def _max_window(spent: list[tuple[float, int]], span: float = 60.0) -> int:
    """The most weight spent in any window of ``span`` seconds (windows starting at each request)."""
    best, j, total = 0, 0, 0
    for i, (t, w) in enumerate(spent):
        total += w
        while spent[j][0] <= t - span:
            total -= spent[j][1]
            j += 1
        best = max(best, total)
        del i
    return best


async def test_budget_never_exceeded_over_a_long_run_with_a_fake_clock() -> None:
    spent, poller, ob, t0 = await _long_run(lambda t: 200, minutes=180)
    assert _max_window(spent) <= 600  # half of the documented 1200 per minute
    per_min = Counter(int((t - t0) // 60) for t, _ in spent)
    weight_min: Counter[int] = Counter()
    for t, w in spent:
        weight_min[int((t - t0) // 60)] += w
    assert max(weight_min.values()) <= 600
    assert sum(weight_min.values()) / 180 > 0.75 * 600  # and the budget is used, not wasted
    assert len(per_min) == 180
    assert len(ob.polled) == 3000  # everyone polled at least once
    # the schedule by value: positions near the price (≤ 2 %) refreshed far more often than far ones
    # (≥ 10 %) and than flat accounts
    n = poller.users_polled
    near = [n[i] for i in range(1, 3001) if i % 3 and i % 200 <= 20]
    far = [n[i] for i in range(1, 3001) if i % 3 and i % 200 >= 100]
    flat = [n[i] for i in range(1, 3001) if i % 3 == 0]
    assert min(near) > 3 * max(far) and max(far) >= max(flat)


async def test_429_slows_the_poller_and_it_recovers() -> None:
    storm = (1000.0 + 600, 1000.0 + 900)  # minutes 10..15: every request answered 429

    def status(t: float) -> int:
        return 429 if storm[0] <= t < storm[1] else 200

    spent, poller, _, t0 = await _long_run(status, minutes=40)
    assert _max_window(spent) <= 600
    w: Counter[int] = Counter()
    for t, wt in spent:
        w[int((t - t0) // 60)] += wt
    before = sum(w[m] for m in range(2, 10)) / 8
    during = sum(w[m] for m in range(10, 15)) / 5
    after_start = sum(w[m] for m in range(15, 18)) / 3
    late = sum(w[m] for m in range(33, 40)) / 7
    assert poller.stats.throttled >= 3
    assert during < 0.1 * before  # backing off: a handful of probes, not the full rate
    assert after_start < 0.7 * before  # the lowered rate holds a while after the storm
    assert late > 0.9 * before  # and recovers


def test_schedule_by_value() -> None:
    from liqtui.core.observed import ObservedPosition

    pol = PollPolicy()

    def p(liq: float | None, usd: float) -> ObservedPosition:
        return ObservedPosition(address="a", coin="BTC", side=1, size=usd / 1e5, entry_px=1e5, leverage=10,
                                margin="isolated", liq_px=liq, value_usd=usd, ts=0)  # fmt: skip

    assert pol.interval(p(99_000, 10_000), 100_000) == pol.hot_s  # 1 % away
    assert pol.interval(p(50_000, 5_000_000), 100_000) == pol.hot_s  # big
    assert pol.interval(p(93_000, 10_000), 100_000) == pol.warm_s
    assert pol.interval(p(60_000, 10_000), 100_000) == pol.cold_s
    assert pol.interval(p(None, 10_000), 100_000) == pol.cold_s
    assert pol.interval(None, 100_000) == pol.flat_s


async def test_flat_account_trading_again_is_polled_sooner() -> None:
    clock = FakeClock()

    async def fetch(body: dict[str, Any]) -> tuple[int, float | None, Any]:
        return 200, None, state([])

    book, ob = AddressBook("BTC"), ObservedBook("BTC")
    poller = PositionPoller(
        book, ob, info_url=None, clock=clock, sleep=clock.sleep, fetch=fetch, oi_every_s=0
    )
    poller.on_trade(TradeUsers("BTC", 1, 100.0, 1.0, addr(1), addr(2)))
    await poller.run(until=clock.t + 5)
    assert poller.scheduler.due[addr(1)] >= clock.t + 1000  # flat: polled again in ~30 min
    poller.on_trade(TradeUsers("BTC", 2, 100.0, 1.0, addr(1), addr(3)))
    assert poller.scheduler.due[addr(1)] == pytest.approx(clock.t + poller.policy.recheck_s)
