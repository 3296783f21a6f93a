"""The evaluator over scripted markets: exactly which alerts fire, when, once, and when they re-arm."""

from __future__ import annotations

import pytest

from liqtui.alerts.evaluator import Evaluator, LiqView, Snapshot, SweepTracker, ZoneView
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.spentlog import SpentLog, summarize

S = 1000  # ms
MIN = 60 * S
ZONE_UP = ZoneView(102.0, 103.0, 60e6)  # squeeze zone 2 % above a price of 100
ZONE_DOWN = ZoneView(97.0, 98.0, 80e6)  # flush zone 2 % below


def run(ev: Evaluator, snaps: list[Snapshot]) -> list[tuple[int, str, str]]:
    """(snapshot index, kind, side) of every alert fired."""
    out = []
    for i, s in enumerate(snaps):
        for a in ev.evaluate(s):
            out.append((i, a.kind, a.side))
    return out


def near(**kw: object) -> AlertRule:
    args: dict[str, object] = {"kind": "near_zone", "within_pct": 1.0, "min_usd": 50e6, "hysteresis": 0.5}
    args.update(kw)
    return AlertRule(cooldown_s=0, **args)  # type: ignore[arg-type]  # kwargs of the Struct


def test_near_zone_fires_once_and_rearms_with_hysteresis() -> None:
    ev = Evaluator([near(side="above")], symbol="BTC")
    prices = [100.0, 101.2, 101.5, 101.3, 100.6, 100.4, 101.1, 101.9]
    # distances to 102: 2.0, 0.79 (fire), 0.49, 0.69, 1.39 (< 1.5: still held), 1.59 (re-armed), 0.89 (fire), 0.1
    snaps = [Snapshot(ts=i * S, price=p, above=[ZONE_UP], below=[ZONE_DOWN]) for i, p in enumerate(prices)]
    assert run(ev, snaps) == [(1, "near_zone", "above"), (6, "near_zone", "above")]


def test_near_zone_alert_names_symbol_zone_distance_and_usd() -> None:
    ev = Evaluator([near()], symbol="BTC")
    (a,) = ev.evaluate(Snapshot(ts=5 * S, price=98.5, above=[ZONE_UP], below=[ZONE_DOWN], symbol="BTC"))
    assert (a.side, a.zone_low, a.zone_high, a.usd, a.ts, a.symbol) == (
        "below",
        97.0,
        98.0,
        80e6,
        5 * S,
        "BTC",
    )
    assert a.distance_pct == pytest.approx(0.5 / 98.5 * 100, abs=1e-3)
    assert a.text == "BTC 98.500: 0.51% from the $80.0M flush zone 97.000–98.000"


def test_near_zone_ignores_small_zones_and_the_other_side() -> None:
    small = ZoneView(100.5, 101.0, 49e6)
    ev = Evaluator([near(side="below")])
    snaps = [
        Snapshot(ts=i * S, price=p, above=[small, ZONE_UP], below=[ZONE_DOWN])
        for i, p in enumerate([100, 101.5])
    ]
    assert run(ev, snaps) == []


def test_near_zone_a_second_zone_fires_on_its_own() -> None:
    z2 = ZoneView(103.5, 104.0, 70e6)
    ev = Evaluator([near(side="above", within_pct=2.0)])
    snaps = [
        Snapshot(ts=0, price=100.5, above=[ZONE_UP, z2]),  # 1.49 % from ZONE_UP: fires; z2 2.99 %: not
        Snapshot(ts=S, price=101.8, above=[ZONE_UP, z2]),  # z2 now 1.67 %: fires; ZONE_UP still held
        Snapshot(ts=2 * S, price=101.9, above=[ZONE_UP, z2]),
    ]
    fired = [(i, a.zone_low) for i, s in enumerate(snaps) for a in ev.evaluate(s)]
    assert fired == [(0, 102.0), (1, 103.5)]


def test_cooldown_holds_back_then_a_standing_condition_fires() -> None:
    ev = Evaluator([AlertRule(kind="near_zone", within_pct=1.0, min_usd=50e6, cooldown_s=300, side="above")])
    snaps = [
        Snapshot(ts=0, price=101.5, above=[ZONE_UP]),  # fires
        Snapshot(ts=10 * S, price=99.0, above=[ZONE_UP]),  # far away: re-armed
        Snapshot(ts=20 * S, price=101.5, above=[ZONE_UP]),  # near again, but within the cooldown
        Snapshot(ts=299 * S, price=101.5, above=[ZONE_UP]),  # still cooling
        Snapshot(ts=300 * S, price=101.6, above=[ZONE_UP]),  # cooldown over, still near: fires
        Snapshot(ts=400 * S, price=101.6, above=[ZONE_UP]),  # once
    ]
    assert run(ev, snaps) == [(0, "near_zone", "above"), (4, "near_zone", "above")]


def test_zone_spent_fires_once_with_the_realized_liquidations() -> None:
    rule = AlertRule(kind="zone_spent", min_usd=50e6, cooldown_s=0)
    ev = Evaluator([rule], symbol="BTC")
    z = ZoneView(102.0, 103.0, 100e6)
    snaps = [
        Snapshot(ts=0, price=100.0, above=[z]),
        Snapshot(ts=60 * S, price=101.0, above=[ZoneView(102.0, 103.0, 120e6)]),  # grew before the touch
        # the price trades into the zone: 30 % consumed, a short liquidation (counted) and a long one (not)
        Snapshot(
            ts=120 * S, price=102.4, high=102.5, above=[ZoneView(102.5, 103.0, 84e6)],
            liquidations=[LiqView(115 * S, "short", 102.3, 2e6), LiqView(116 * S, "long", 102.2, 9e6)],
        ),
        # through it: 80 % gone
        Snapshot(
            ts=180 * S, price=103.1, low=102.9, above=[ZoneView(102.9, 103.0, 24e6)],
            liquidations=[LiqView(170 * S, "short", 102.9, 3e6)],
        ),
        Snapshot(ts=240 * S, price=103.5, above=[]),
    ]  # fmt: skip
    fired = [(i, a) for i, s in enumerate(snaps) for a in ev.evaluate(s)]
    assert [i for i, _ in fired] == [3]
    a = fired[0][1]
    assert (a.kind, a.side, a.zone_low, a.zone_high, a.usd, a.consumed_pct) == (
        "zone_spent", "above", 102.0, 103.0, 120e6, 80.0,
    )  # fmt: skip
    assert a.count == 2
    assert "was swept (80% consumed, $5.00M liquidated)" in a.text


def test_a_zone_leaving_the_top_list_untouched_is_not_a_sweep() -> None:
    tr = SweepTracker()
    z = ZoneView(102.0, 103.0, 100e6)
    assert tr.observe(Snapshot(ts=0, price=100.0, above=[z])) == []
    for i in range(1, 6):
        assert tr.observe(Snapshot(ts=i * S, price=100.5, above=[])) == []
    assert tr.watched == []


def test_single_liquidations_with_side_and_cooldown() -> None:
    rule = AlertRule(kind="liquidation", min_usd=1e6, side="above", cooldown_s=60)
    ev = Evaluator([rule])
    snaps = [
        Snapshot(ts=0, price=100, liquidations=[LiqView(0, "short", 100, 0.5e6)]),  # too small
        Snapshot(ts=S, price=100, liquidations=[LiqView(S, "long", 100, 5e6)]),  # other side
        Snapshot(ts=2 * S, price=100, liquidations=[LiqView(2 * S, "short", 100, 2e6)]),  # fires
        Snapshot(ts=30 * S, price=100, liquidations=[LiqView(30 * S, "short", 100, 3e6)]),  # cooldown
        Snapshot(ts=62 * S, price=100, liquidations=[LiqView(62 * S, "short", 101, 1.5e6)]),  # fires
    ]
    fired = [(i, a.usd, a.text) for i, s in enumerate(snaps) for a in ev.evaluate(s)]
    assert fired == [
        (2, 2e6, "BTC: $2.00M short liquidated at 100.0"),
        (4, 1.5e6, "BTC: $1.50M short liquidated at 101.0"),
    ]


def test_liquidation_burst_fires_once_then_rearms_when_the_window_empties() -> None:
    rule = AlertRule(kind="liquidation", min_usd=5e6, burst_s=60, hysteresis=0.5, cooldown_s=0)
    ev = Evaluator([rule], symbol="ETH")
    snaps = []
    t = 0
    for k in range(6):  # 1.5M every 10 s: the sum reaches 5M at the 4th (6M), stays above afterwards
        snaps.append(Snapshot(ts=t, price=100, liquidations=[LiqView(t, "long", 99, 1.5e6)]))
        t += 10 * S
    snaps.append(Snapshot(ts=t + 45 * S, price=100))  # window holds 1.5M (< 2.5M): re-armed
    t += 60 * S
    for _ in range(4):
        snaps.append(Snapshot(ts=t, price=100, liquidations=[LiqView(t, "short", 101, 1.5e6)]))
        t += 5 * S
    fired = [(i, a.side, a.usd, a.count) for i, s in enumerate(snaps) for a in ev.evaluate(s)]
    assert fired == [(3, "below", 6e6, 4), (10, "above", 6e6, 4)]
    a = Evaluator([rule], symbol="ETH").evaluate(
        Snapshot(ts=0, price=1, liquidations=[LiqView(0, "long", 1, 6e6)], symbol="ETH")
    )[0]
    assert a.text == "ETH: $6.00M liquidated within 60s (1 orders, 100% longs)"


def test_imbalance_crosses_with_hysteresis_on_both_sides() -> None:
    ev = Evaluator([AlertRule(kind="imbalance", level=0.3, hysteresis=0.1, cooldown_s=0)])
    values = [0.1, 0.35, 0.25, 0.32, 0.19, 0.31, -0.4, -0.45, -0.1, -0.5]
    snaps = [Snapshot(ts=i * S, price=100, imbalance=v) for i, v in enumerate(values)]
    assert run(ev, snaps) == [
        (1, "imbalance", "above"),
        (5, "imbalance", "above"),
        (6, "imbalance", "below"),
        (9, "imbalance", "below"),
    ]


def test_disabled_rule_never_fires() -> None:
    ev = Evaluator([near(enabled=False)])
    assert run(ev, [Snapshot(ts=0, price=101.9, above=[ZONE_UP])]) == []


def test_spent_log_reactions_and_summary() -> None:
    ev = Evaluator([], symbol="BTC")
    spent = SpentLog("BTC")
    zu, zd = ZoneView(102.0, 103.0, 100e6), ZoneView(97.0, 98.0, 100e6)
    script = [
        Snapshot(ts=0, price=100.0, above=[zu], below=[zd]),
        Snapshot(ts=MIN, price=103.5, low=100.0, above=[], below=[zd]),  # swept upwards at 103.5
        Snapshot(ts=6 * MIN, price=104.0, below=[zd]),  # +0.48 % at 5 m: continued
        Snapshot(ts=16 * MIN, price=103.0, below=[zd]),  # −0.48 % at 15 m: reversed
        Snapshot(ts=61 * MIN, price=96.5, low=96.5, below=[]),  # 60 m: reversed; the flush zone swept down
        Snapshot(ts=67 * MIN, price=96.0, below=[]),  # flush: −0.52 % down = continued at 5 m
    ]
    for s in script:
        ev.evaluate(s)
        spent.observe(s, ev.sweeps)
    up, down = spent.records
    assert (up.side, up.ts, up.price, up.usd) == ("above", MIN, 103.5, 100e6)
    assert up.reactions == {"5m": pytest.approx(0.4831, abs=1e-3), "15m": pytest.approx(-0.4831, abs=1e-3),
                            "60m": pytest.approx(-6.7633, abs=1e-3)}  # fmt: skip
    assert [up.outcome(h) for h in ("5m", "15m", "60m")] == ["continued", "reversed", "reversed"]
    assert (down.side, down.outcome("5m"), down.outcome("15m")) == ("below", "continued", None)
    s = summarize(spent.records)
    assert s["5m"]["n"] == 2 and s["5m"]["continued"] == 2 and s["5m"]["share_continued"] == 1.0
    assert s["15m"] == {"n": 1, "continued": 0, "reversed": 1, "flat": 0, "share_reversed": 1.0,
                        "share_continued": 0.0, "mean_pct": pytest.approx(-0.4831, abs=1e-3)}  # fmt: skip


def test_spent_document_for_the_zones_command() -> None:
    from liqtui.alerts.spentlog import SpentZone, spent_document

    rec = SpentZone(
        symbol="BTC", ts=MIN, touched_ts=0, side="below", low=97.0, high=98.0, usd=80e6, consumed_pct=75.0,
        realized_usd=3e6, realized_count=4, price=96.9, reactions={"5m": 0.2, "15m": None, "60m": None},
    )  # fmt: skip
    doc = spent_document([rec])
    assert doc["spent"] == [
        {"symbol": "BTC", "ts": MIN, "touched_ts": 0, "side": "below", "low": 97.0, "high": 98.0, "usd": 80e6,
         "consumed_pct": 75.0, "realized_usd": 3e6, "realized_count": 4, "price": 96.9,
         "reactions": {"5m": 0.2, "15m": None, "60m": None}, "id": 0}
    ]  # fmt: skip
    assert doc["spent_summary"]["5m"]["continued"] == 1 and doc["spent_summary"]["15m"]["n"] == 0
