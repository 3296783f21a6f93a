"""Alert marks on the radar: the configured rules evaluated per row of a scripted radar (near a zone,
imbalance, liquidation bursts; the rules' hysteresis and symbol filters), the screen's mark column (80×24
too) and the ``alerts`` field of ``liqtui radar --json`` rows."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from textual.app import App
from textual.widgets import DataTable

from liqtui.__main__ import main
from liqtui.alerts.evaluator import Evaluator, Snapshot, ZoneView
from liqtui.alerts.radar import RadarMarks, mark_code
from liqtui.alerts.rules import AlertRule, parse_rules
from liqtui.core.events import Liquidation, PositionSide, Venue
from liqtui.core.radar import Radar, RadarTable, row_json
from liqtui.ui.radar import RadarRunner, RadarScreen
from tests.feeds.helpers import until
from tests.radar.test_radar_core import T0, _bars


def _radar() -> Radar:
    """Three symbols with the same shape of market at different sizes (their zones scale with the open
    interest), one without history."""
    r = Radar()
    r.set_instruments(["AAAUSDT", "BBBUSDT", "CCCUSDT", "NEWUSDT"])
    r.on_history("AAAUSDT", _bars(10.0, 1e7))
    r.on_history("BBBUSDT", _bars(10.0, 1e9))
    r.on_history("CCCUSDT", _bars(10.0, 1e9, seed=3))
    r.on_marks(T0, [("AAAUSDT", 10.0), ("BBBUSDT", 10.0), ("CCCUSDT", 10.0), ("NEWUSDT", 10.0)])
    return r


def _liq(symbol: str, ts: int, usd: float, side: PositionSide) -> Liquidation:
    return Liquidation(
        venue=Venue.BINANCE, symbol=symbol, ts=ts, recv_ts=ts, side=side, price=10.0, qty=usd / 10, usd=usd
    )


def _rule(**kw: Any) -> AlertRule:
    return AlertRule(actions=["toast"], **kw)


def _marked(marks: RadarMarks, r: Radar) -> dict[str, tuple[str, ...]]:
    return {row.symbol: row.alerts for row in marks.mark(r.rows(), r) if row.alerts}


def test_near_zone_marks_the_rows_with_a_big_enough_zone_close_by_with_hysteresis() -> None:
    r = _radar()
    rows = {x.symbol: x for x in r.rows()}
    big = rows["BBBUSDT"]
    assert big.squeeze_pct is not None and big.flush_pct is not None
    side = "above" if abs(big.squeeze_pct) <= abs(big.flush_pct) else "below"
    near, usd = (
        (abs(big.squeeze_pct), big.squeeze_usd) if side == "above" else (abs(big.flush_pct), big.flush_usd)
    )
    # BBB's and CCC's zones are that big, AAA's (a hundred times less open interest) are not
    rule = _rule(
        kind="near_zone", name="near", within_pct=near + 0.3, min_usd=0.5 * usd, hysteresis=1.0, side=side
    )
    marks = RadarMarks([rule])
    marked = _marked(marks, r)
    assert marked["BBBUSDT"] == ("near",) and "AAAUSDT" not in marked and "NEWUSDT" not in marked
    # the price moves 0.8 % away from the zone: still marked within the hysteresis ...
    away = 1 - 0.008 if side == "above" else 1 + 0.008
    r.on_marks(T0 + 1000, [("BBBUSDT", 10.0 * away)])
    assert "BBBUSDT" in _marked(marks, r)
    # ... which a fresh evaluation (no state) at that price does not mark
    assert "BBBUSDT" not in _marked(RadarMarks([rule]), r)
    # far away: unmarked
    r.on_marks(T0 + 2000, [("BBBUSDT", 10.0 * (0.75 if side == "above" else 1.25))])
    assert "BBBUSDT" not in _marked(marks, r)
    r.on_marks(T0 + 3000, [("BBBUSDT", 10.0)])
    assert "BBBUSDT" in _marked(marks, r)


def test_imbalance_and_liquidation_bursts_per_side_and_the_symbol_filter() -> None:
    r = _radar()
    tilted = {"BBBUSDT": 0.45, "CCCUSDT": 0.45, "AAAUSDT": -0.45}

    def marked(marks: RadarMarks) -> dict[str, tuple[str, ...]]:
        rows = [msgspec.structs.replace(x, imbalance=tilted.get(x.symbol, 0.0)) for x in r.rows()]
        return {row.symbol: row.alerts for row in marks.mark(rows, r) if row.alerts}

    rules = [
        _rule(kind="imbalance", name="tilt", level=0.4, hysteresis=0.1, side="above", symbols=["BBB"]),
        _rule(kind="liquidation", name="flush burst", min_usd=1e6, burst_s=60, side="below", hysteresis=0.5),
        _rule(kind="liquidation", name="big one", min_usd=2e6, side="above"),
        _rule(kind="zone_spent", name="swept"),  # not a row's state: never a mark
    ]
    marks = RadarMarks(rules)
    assert [x.name for x in marks.rules] == ["tilt", "flush burst", "big one"]
    # CCC leans the same way but the rule is for BBB only; AAA leans the other way
    assert marked(marks) == {"BBBUSDT": ("tilt",)}
    tilted["BBBUSDT"] = 0.35  # back within level − hysteresis: still marked; 0.25: not
    assert marked(marks) == {"BBBUSDT": ("tilt",)}
    tilted["BBBUSDT"] = 0.25
    assert marked(marks) == {}
    tilted["BBBUSDT"] = 0.45
    # $1.2M of longs liquidated on AAA within a minute (shorts do not count for a "below" rule)
    for i, usd in enumerate((4e5, 4e5, 4e5)):
        r.on_liquidation(_liq("AAAUSDT", T0 + 1000 * i, usd, PositionSide.LONG))
    r.on_liquidation(_liq("CCCUSDT", T0, 5e6, PositionSide.LONG))
    r.on_liquidation(_liq("CCCUSDT", T0, 3e6, PositionSide.SHORT))
    r.on_marks(T0 + 3000, [("AAAUSDT", 10.0)])
    got = marked(marks)
    assert got["AAAUSDT"] == ("flush burst",) and got["CCCUSDT"] == ("flush burst", "big one")
    assert set(marks.kinds["CCCUSDT"]) == {"liquidation"} and mark_code(marks.kinds["CCCUSDT"]) == "L"
    # a minute later the first $400k left the window: $800k ≥ $1M × (1 − 0.5) keeps the mark (hysteresis) ...
    r.on_marks(T0 + 60_500, [("AAAUSDT", 10.0)])
    assert "AAAUSDT" in marked(marks)
    # ... until the window holds less than $500k; the single $3M short liquidation is held a minute
    r.on_marks(T0 + 62_500, [("AAAUSDT", 10.0)])
    got = marked(marks)
    assert "AAAUSDT" not in got and "CCCUSDT" not in got
    # the JSON row carries the names; the table sorts marked rows first on the alerts column
    rows = marks.mark([msgspec.structs.replace(x, imbalance=tilted.get(x.symbol, 0.0)) for x in r.rows()], r)
    assert row_json(next(x for x in rows if x.symbol == "BBBUSDT"))["alerts"] == ["tilt"]
    assert row_json(next(x for x in rows if x.symbol == "AAAUSDT"))["alerts"] == []
    assert RadarTable("alerts").view(rows)[0].symbol == "BBBUSDT"


def test_a_rules_symbols_filter_is_checked_and_honoured_by_the_app_evaluator_too() -> None:
    (rule,) = parse_rules([{"kind": "imbalance", "level": 0.2, "symbols": ["ETHUSDT"], "actions": ["toast"]}])
    assert rule.applies_to("ETH") and rule.applies_to("ethusdt") and not rule.applies_to("BTC")
    snap = Snapshot(
        ts=1, price=10.0, above=[ZoneView(11, 12, 9e7)], below=[ZoneView(8, 9, 1e7)], imbalance=0.8
    )
    assert Evaluator([rule], "BTC").evaluate(snap) == []
    assert [a.name for a in Evaluator([rule], "ETH").evaluate(snap)] == ["imbalance"]
    with pytest.raises(ValueError, match="symbols"):
        parse_rules([{"kind": "imbalance", "symbols": ["BTC/USDT"]}])


class _Host(App[None]):
    """A bare app holding alert rules (as the monitor's alerts controller does) with the radar on top."""

    def __init__(self, radar: Radar, rules: list[AlertRule]) -> None:
        super().__init__()
        self.alerts = SimpleNamespace(rules=rules)
        self.runner = RadarRunner(self, lambda: "a scripted radar")
        self.runner.radar = radar

    def on_mount(self) -> None:
        self.push_screen(RadarScreen(self.runner))


@pytest.mark.parametrize("size", [(140, 30), (80, 24)])
async def test_the_radar_screen_shows_the_marks_in_its_alert_column(size: tuple[int, int]) -> None:
    r = _radar()
    r.on_liquidation(_liq("CCCUSDT", T0, 5e6, PositionSide.SHORT))
    app = _Host(r, [_rule(kind="liquidation", name="squeeze liq", min_usd=1e6, side="above")])
    async with app.run_test(size=size):
        screen = app.screen
        assert isinstance(screen, RadarScreen)
        table = screen.query_one(DataTable)
        await until(lambda: table.row_count == 4, "the scripted rows")
        keys = [c.key.value for c in table.ordered_columns]
        assert keys[:2] == ["symbol", "alerts"] and table.virtual_size.width <= size[0]
        cells = {table.get_row_at(i)[0]: table.get_row_at(i)[1] for i in range(table.row_count)}
        assert cells == {"AAAUSDT": "", "BBBUSDT": "", "CCCUSDT": "L", "NEWUSDT": ""}
        assert "1 marked" in str(screen.query_one("#radar-head").render())


def test_radar_json_rows_carry_the_rules_they_cross(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[[alerts]]\nkind = "near_zone"\nname = "any zone"\nwithin_pct = 50\nmin_usd = 0\nactions = ["toast"]\n'
        '[[alerts]]\nkind = "near_zone"\nname = "not these"\nwithin_pct = 50\nmin_usd = 0\nsymbols = ["NOPE"]\n'
        'actions = ["toast"]\n',
        encoding="utf-8",
    )
    argv = ["radar", "--json", "--demo", "--seconds", "6", "--speed", "10", "--seed", "4", "--no-store"]
    rc = main([*argv, "--config", str(cfg)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc["rows"]) >= 200
    for r in doc["rows"]:  # the schema is the same plus the list of rule names
        assert isinstance(r["alerts"], list) and "not these" not in r["alerts"]
        zoned = r["squeeze"]["distance_pct"] is not None or r["flush"]["distance_pct"] is not None
        assert r["alerts"] == (["any zone"] if zoned else [])
    assert any(r["alerts"] for r in doc["rows"])
