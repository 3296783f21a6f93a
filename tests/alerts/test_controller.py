"""The controller over a real Engine: the demo simulator at speed (alerts fire, deterministically, and each is
consistent with the market it saw), the state file it writes, the spent-zone log it persists."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from liqtui.alerts.actions import Notifier
from liqtui.alerts.controller import AlertsController, nearest_zone
from liqtui.alerts.evaluator import Alert, ZoneView
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.spentlog import SpentStore, SpentZone
from liqtui.alerts.state import read_state
from liqtui.core.engine import Engine
from liqtui.core.events import Liquidation, MarkPrice, PositionSide, Venue
from liqtui.core.model import HeatModel, ModelConfig
from liqtui.sim.market import MarketSim
from liqtui.sim.scorecard import DEFAULT_START_MS, model_bars

MIN = 60_000

SIM_RULES = [
    AlertRule(kind="near_zone", within_pct=0.5, min_usd=5e6, cooldown_s=0, actions=["toast"]),
    AlertRule(kind="zone_spent", min_usd=5e6, cooldown_s=0, actions=["toast"]),
    AlertRule(kind="liquidation", min_usd=2e5, burst_s=300, cooldown_s=0, actions=["toast"]),
    AlertRule(kind="imbalance", level=0.3, cooldown_s=0, actions=["toast"]),
]


#: high-leverage tiers (5..100x, the old defaults) put zones within a few % of the price, so 12 simulated hours
#: reach and sweep some: this test is about the alert mechanism, not the estimator's defaults
NEAR_ZONES = ModelConfig(tiers="default", decay=True, open_share=0.0, position_usd=10_000.0)


class Recorder(AlertsController):
    """Keeps every snapshot the evaluators saw, to check each alert against its market."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.seen: list[Any] = []
        inner = self.reader.snapshots

        def snapshots(lookbacks: Any, now_ms: int) -> Any:
            out = inner(lookbacks, now_ms)
            if out is not None:
                self.seen.append(out["1d"])
            return out

        self.reader.snapshots = snapshots  # type: ignore[method-assign]  # a recording wrapper


def simulate(seed: int, hours: int, tmp: Path) -> tuple[Recorder, list[Alert]]:
    """The demo market at speed: history into the engine, then minute bars and realized liquidations."""
    market = MarketSim(seed, start_ms=DEFAULT_START_MS, history_days=3)
    engine = Engine(HeatModel(NEAR_ZONES), symbol="BTC")
    engine.load_history(model_bars(market))
    toasts: list[Alert] = []
    ctl = Recorder(
        engine, SIM_RULES, notifier=Notifier(write=lambda s: None, toast=toasts.append, env={}), state_dir=tmp,
        min_interval_s=0.0,
    )  # fmt: skip
    seen_liq, last = len(market.realized), market.now_ms
    for _ in range(hours * 60):
        market.fast_forward(market.now_ms + MIN)
        for liq in market.realized[seen_liq:]:
            engine.apply(liq)
        seen_liq = len(market.realized)
        engine.load_history(model_bars(market, since_ms=last + 1))
        last = market.now_ms - MIN
        ctl.evaluate(market.now_ms)
    return ctl, toasts


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorder, list[Alert]]:
    return simulate(7, 12, tmp_path_factory.mktemp("sim"))


def test_simulated_market_fires_every_kind_deterministically(
    sim_run: tuple[Recorder, list[Alert]], tmp_path: Path
) -> None:
    ctl, toasts = sim_run
    assert {a.kind for a in toasts} == {"near_zone", "zone_spent", "liquidation", "imbalance"}
    assert list(ctl.log) == toasts
    again = simulate(7, 12, tmp_path)[1]
    assert [(a.ts, a.kind, a.side, a.text) for a in again] == [(a.ts, a.kind, a.side, a.text) for a in toasts]


def test_each_simulated_alert_matches_the_market_it_saw(sim_run: tuple[Recorder, list[Alert]]) -> None:
    ctl, toasts = sim_run
    by_ts: dict[int, Any] = {}
    for s in ctl.seen:
        by_ts.setdefault(s.ts, s)
    for a in toasts:
        snap = by_ts[a.ts]
        rule = SIM_RULES[a.rule]
        assert a.kind == rule.kind and a.price == snap.price
        if a.kind == "near_zone":
            zones = snap.above if a.side == "above" else snap.below
            z = next(z for z in zones if (z.low, z.high) == (a.zone_low, a.zone_high))
            assert z.usd >= 5e6 and a.distance_pct is not None and a.distance_pct <= 0.5
        elif a.kind == "zone_spent":
            assert a.consumed_pct is not None and a.consumed_pct >= 50 and a.usd >= 5e6
        elif a.kind == "liquidation":
            assert a.usd >= 2e5 and a.count >= 1
        else:
            assert a.imbalance is not None and abs(a.imbalance) >= 0.3
            assert (a.imbalance > 0) == (a.side == "above")


def test_near_zone_alerts_re_arm_only_after_moving_away(sim_run: tuple[Recorder, list[Alert]]) -> None:
    """Two alerts for overlapping zones on one side need a snapshot in between where no big overlapping zone
    was within within_pct + hysteresis (1.0 %)."""
    ctl, toasts = sim_run
    near = [a for a in toasts if a.kind == "near_zone"]
    for i, a in enumerate(near):
        for b in near[i + 1 :]:
            if b.side != a.side or b.zone_low > a.zone_high or a.zone_low > b.zone_high:  # type: ignore[operator]
                continue
            between = [s for s in ctl.seen if a.ts < s.ts < b.ts]
            assert any(
                all(
                    z.usd < 5e6
                    or z.high < a.zone_low
                    or z.low > a.zone_high
                    or _dist(a.side, z, s.price) > 1.0
                    for z in (s.above if a.side == "above" else s.below)
                )
                for s in between
            ), f"{b} re-fired without re-arming after {a}"
            break


def _dist(side: str, z: Any, price: float) -> float:
    from liqtui.alerts.evaluator import zone_distance_pct

    return zone_distance_pct(side, z.low, z.high, price)


def test_spent_log_of_the_simulated_market(sim_run: tuple[Recorder, list[Alert]]) -> None:
    ctl, toasts = sim_run
    spent_alerts = [a for a in toasts if a.kind == "zone_spent"]
    assert ctl.spent.records
    for a in spent_alerts:
        assert any((r.low, r.high, r.ts) == (a.zone_low, a.zone_high, a.ts) for r in ctl.spent.records)
    done = [r for r in ctl.spent.records if r.ts <= ctl.seen[-1].ts - 60 * MIN]
    assert done and all(r.complete for r in done)
    s = ctl.spent.summary()
    assert s["60m"]["n"] >= len(done)


# ------------------------------------------------------------------------------------- a scripted engine


class FakeModel:
    def __init__(self) -> None:
        self.above: list[ZoneView] = []
        self.below: list[ZoneView] = []
        self.price: float | None = None
        self.last_ts = 0
        self.version = 0

    def zones(self, lookback: str, *, top_n: int = 5) -> Any:
        from types import SimpleNamespace

        ta, tb = sum(z.usd for z in self.above), sum(z.usd for z in self.below)
        imb = (ta - tb) / (ta + tb) if ta + tb else 0.0
        return SimpleNamespace(
            above=self.above[:top_n], below=self.below[:top_n], imbalance=imb, total_above=ta, total_below=tb
        )


def scripted_engine() -> Engine:
    e = Engine(FakeModel(), symbol="BTC")  # type: ignore[arg-type]  # the controller reads zones() only
    return e


def mark(e: Engine, ts: int, price: float) -> None:
    e.apply(MarkPrice(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, mark=price))
    e.price = price


def test_state_file_once_a_second_and_removed_on_close(tmp_path: Path) -> None:
    e = scripted_engine()
    model: FakeModel = e.model  # type: ignore[assignment]
    model.above = [ZoneView(102.0, 103.0, 60e6), ZoneView(101.0, 101.5, 10e6)]
    model.below = [ZoneView(97.0, 98.0, 80e6)]
    clock = [1000.0]
    out: list[str] = []
    ctl = AlertsController(
        e, [AlertRule(kind="near_zone", within_pct=1.0, min_usd=50e6, actions=["bell"], cooldown_s=0)],
        notifier=Notifier(write=out.append, env={}), state_dir=tmp_path, clock=lambda: clock[0],
    )  # fmt: skip
    assert ctl.poll() == [] and read_state("BTC", tmp_path) is None  # no price yet: nothing to say
    mark(e, 1_000, 100.0)
    ctl.poll()  # the first price: the file at once, the zones at the next evaluation
    found = read_state("BTC", tmp_path)
    assert found is not None and (found[0]["price"], found[0]["squeeze"]) == (100.0, None)
    clock[0] = 1001.0
    mark(e, 1_500, 100.0)
    ctl.poll()
    found = read_state("BTC", tmp_path)
    assert found is not None
    doc = found[0]
    assert (doc["price"], doc["ts"], doc["alert"], doc["source"]) == (100.0, 1_001_000, None, "live")
    assert doc["pid"] == os.getpid()
    assert doc["squeeze"] == {"low": 101.0, "high": 101.5, "usd": 10e6, "distance_pct": 1.0}
    assert doc["flush"] == {"low": 97.0, "high": 98.0, "usd": 80e6, "distance_pct": 2.0}
    mark(e, 2_000, 101.5)
    clock[0] = 1001.9  # within the second: no evaluation
    assert ctl.poll() == []
    clock[0] = 1002.0
    (alert,) = ctl.poll()
    assert out == ["\a"] and alert.zone_low == 102.0 and alert.ts == 2_000
    found = read_state("BTC", tmp_path)
    assert found is not None and found[0]["alert"]["text"] == alert.text and found[0]["price"] == 101.5
    clock[0] = 1005.0
    assert ctl.poll() == []  # the engine did not change: no evaluation, but the file is refreshed
    found = read_state("BTC", tmp_path)
    assert found is not None and found[0]["ts"] == 1_005_000
    ctl.close()
    assert read_state("BTC", tmp_path) is None


def test_liquidations_reach_the_evaluator_once(tmp_path: Path) -> None:
    e = scripted_engine()
    toasts: list[Alert] = []
    ctl = AlertsController(
        e, [AlertRule(kind="liquidation", min_usd=1e6, cooldown_s=0, actions=["toast"])],
        notifier=Notifier(toast=toasts.append, write=lambda s: None, env={}), write_state=False, min_interval_s=0,
    )  # fmt: skip
    mark(e, 1_000, 100.0)

    def liq(ts: int, usd: float) -> None:
        e.apply(Liquidation(venue=Venue.BINANCE, symbol="BTCUSDT", ts=ts, recv_ts=ts, side=PositionSide.SHORT,
                            price=100.0, qty=usd / 100, usd=usd))  # fmt: skip

    liq(1_100, 2e6)
    liq(1_200, 0.5e6)
    ctl.poll(now=1.0)
    ctl.poll(now=2.0)  # nothing new: no repeat
    liq(2_100, 3e6)
    ctl.poll(now=3.0)
    assert [(a.usd, a.side) for a in toasts] == [(2e6, "above"), (3e6, "above")]


def test_no_alert_before_ready_and_no_stale_liquidations_after(tmp_path: Path) -> None:
    e = scripted_engine()
    toasts: list[Alert] = []
    loaded = [False]
    ctl = AlertsController(
        e, [AlertRule(kind="liquidation", min_usd=1e6, cooldown_s=0, actions=["toast"])],
        notifier=Notifier(toast=toasts.append, write=lambda s: None, env={}), write_state=False, min_interval_s=0,
        ready=lambda: loaded[0],
    )  # fmt: skip
    mark(e, 1_000, 100.0)
    e.apply(Liquidation(venue=Venue.BINANCE, symbol="BTCUSDT", ts=1_100, recv_ts=1_100, side=PositionSide.LONG,
                        price=100.0, qty=3e4, usd=3e6))  # fmt: skip
    assert ctl.poll(now=1.0) == []
    loaded[0] = True
    mark(e, 2_000, 100.0)
    assert ctl.poll(now=2.0) == [] and toasts == []  # the liquidation of the loading time is not news


def test_spent_zones_persist_in_their_table(tmp_path: Path) -> None:
    db = tmp_path / "liqtui.sqlite3"
    e = scripted_engine()
    model: FakeModel = e.model  # type: ignore[assignment]
    model.above = [ZoneView(102.0, 103.0, 100e6)]
    ctl = AlertsController(e, [], spent_store=SpentStore(db), write_state=False, min_interval_s=0)
    for k, (price, zones) in enumerate([(100.0, model.above), (103.5, []), (104.0, []), (103.0, [])]):
        model.above = list(zones)
        mark(e, (k * 6) * MIN + 1, price)
        ctl.poll(now=float(k))
    (rec,) = ctl.spent.records
    assert (rec.side, rec.low, rec.high, rec.usd, rec.price) == ("above", 102.0, 103.0, 100e6, 103.5)
    assert rec.reactions["5m"] == pytest.approx(0.4831, abs=1e-3) and rec.reactions["60m"] is None
    ctl.close()
    again = SpentStore(db)
    (back,) = again.load("BTC")
    assert back == rec and isinstance(back, SpentZone) and back.id == rec.id
    assert again.load("ETH") == []
    again.close()


def test_nearest_zone_among_the_strongest() -> None:
    zones = [ZoneView(105.0, 106.0, 90e6), ZoneView(101.0, 101.5, 5e6), ZoneView(103.0, 104.0, 50e6)]
    assert nearest_zone("above", zones, 100.0, top=1) == {
        "low": 105.0,
        "high": 106.0,
        "usd": 90e6,
        "distance_pct": 5.0,
    }
    assert nearest_zone("above", zones, 100.0)["low"] == 101.0  # type: ignore[index]
    assert nearest_zone("below", [], 100.0) is None


def test_ticker_change_moves_the_state_file(tmp_path: Path) -> None:
    e = scripted_engine()
    ctl = AlertsController(e, [], state_dir=tmp_path, clock=lambda: 5.0)
    mark(e, 1_000, 100.0)
    ctl.poll()
    assert json.loads((tmp_path / "status" / "BTC.json").read_text())["symbol"] == "BTC"
    e2 = Engine(FakeModel(), symbol="ETH")  # type: ignore[arg-type]
    ctl.set_engine(e2, "ETH")
    assert not (tmp_path / "status" / "BTC.json").exists()
    mark(e2, 1_000, 3000.0)
    ctl.poll(now=7.0)
    assert json.loads((tmp_path / "status" / "ETH.json").read_text())["price"] == 3000.0
