"""The alert log and spent-zone screens in a small app that mixes in the hooks LiqtuiApp will use."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Label, Static

from liqtui.alerts.actions import Notifier
from liqtui.alerts.controller import AlertsController
from liqtui.alerts.evaluator import Alert, ZoneView
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.spentlog import SpentZone
from liqtui.core.engine import Engine
from liqtui.core.events import MarkPrice, Venue
from liqtui.ui.alerts_screens import (
    ALERT_BINDINGS,
    AlertLogScreen,
    AlertsAppMixin,
    SpentZonesScreen,
    spent_summary_text,
)

from .test_controller import FakeModel


class MiniApp(AlertsAppMixin, App[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(ALERT_BINDINGS)

    def __init__(self, controller: AlertsController) -> None:
        super().__init__()
        self._controller = controller

    def compose(self) -> ComposeResult:
        yield Static("main")

    def on_mount(self) -> None:
        self.alerts_attach(self._controller)


def controller() -> tuple[AlertsController, Engine]:
    model = FakeModel()
    model.above = [ZoneView(102.0, 103.0, 60e6)]
    engine = Engine(model, symbol="BTC")  # type: ignore[arg-type]  # the controller reads zones() only
    rule = AlertRule(kind="near_zone", within_pct=1.0, min_usd=50e6, actions=["toast", "bell"], cooldown_s=0)
    ctl = AlertsController(engine, [rule], notifier=Notifier(env={}), write_state=False, min_interval_s=0)
    return ctl, engine


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_fired_alert_is_a_toast_and_a_row_in_the_log() -> None:
    ctl, engine = controller()
    app = MiniApp(ctl)
    async with app.run_test(size=(120, 40)) as pilot:
        engine.apply(MarkPrice(venue=Venue.BINANCE, symbol="BTCUSDT", ts=5_000, recv_ts=5_000, mark=101.5))
        app.alerts_poll()
        await pilot.pause()
        assert [n.message for n in app._notifications] == [
            "BTC 101.5: 0.49% from the $60.0M squeeze zone 102.0–103.0"
        ]
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertLogScreen)
        table = app.screen.query_one("#alert-table", DataTable)
        assert rows(table) == [["01-01 00:00:05", "near_zone", "above", ctl.log[0].text]]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AlertLogScreen)


async def test_spent_screen_summarizes_reversed_vs_continued() -> None:
    ctl, _ = controller()
    for i, (r5, r15) in enumerate([(0.4, -0.2), (-0.3, -0.5), (0.1, None)]):
        ctl.spent.records.append(
            SpentZone(
                symbol="BTC", ts=60_000 * (i + 1), touched_ts=0, side="above" if i else "below", low=100.0 + i,
                high=101.0 + i, usd=50e6, consumed_pct=80.0, realized_usd=2e6, realized_count=3, price=101.0,
                reactions={"5m": r5, "15m": r15, "60m": None},
            )
        )  # fmt: skip
    ctl.spent.version += 1
    app = MiniApp(ctl)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, SpentZonesScreen)
        summary = str(app.screen.query_one("#spent-summary", Label).render())
        assert summary == (
            "3 sweeps · 5m: 33% reversed, 67% continued (n=3) · 15m: 100% reversed, 0% continued (n=2) · 60m: —"
        )
        table = app.screen.query_one("#spent-table", DataTable)
        assert rows(table)[0] == [
            "01-01 00:03:00", "squeeze ↑", "102.0–103.0", "$50.0M", "80%", "$2.00M", "+0.10%", "…", "…",
        ]  # fmt: skip
        assert len(rows(table)) == 3
        ctl.spent.records.append(ctl.spent.records[0])
        ctl.spent.version += 1
        for _ in range(100):  # the screen redraws on the log's version (checked twice a second)
            if len(rows(table)) == 4:
                break
            await pilot.pause(0.05)
        assert len(rows(table)) == 4


def test_summary_text_empty() -> None:
    assert spent_summary_text([]) == "0 sweeps · 5m: — · 15m: — · 60m: —"


def test_no_controller_says_so() -> None:
    assert AlertsAppMixin.alerts is None
    assert {b.id for b in ALERT_BINDINGS} == {"alert_log", "spent_zones"}
    _ = Alert  # the log's rows are Alert objects (see the first test)
