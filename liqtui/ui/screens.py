"""Modal screens: help, ticker picker and venue switches. Keyboard only; Escape always cancels."""

from __future__ import annotations

import re
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from liqtui.core.events import VENUES

__all__ = ["QUICK_SYMBOLS", "SYMBOL_RE", "HelpScreen", "TickerScreen", "VenuesScreen"]

SYMBOL_RE = re.compile(r"[A-Za-z0-9]{1,20}")
QUICK_SYMBOLS = ("BTC", "ETH", "SOL")


class HelpScreen(ModalScreen[None]):
    """Every key and what it does (reflecting the current keymap)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", show=False)
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self._rows), default=4)
        body = "\n".join(f"  {k.rjust(width)}  {d}" for k, d in self._rows)
        with Vertical(id="help-box", classes="modal-box"):
            yield Label("liqtui — keys", classes="modal-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(body, id="help-body")
            yield Label("Estimated structure, not a guarantee. ↑↓ scroll, Esc closes.", classes="modal-hint")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class TickerScreen(ModalScreen[str | None]):
    """Pick BTC, ETH, SOL or type any symbol; returns the upper-cased ticker or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="ticker-box", classes="modal-box"):
            yield Label(f"Ticker (now {self._current})", classes="modal-title")
            yield OptionList(*[Option(s, id=s) for s in QUICK_SYMBOLS], id="ticker-list")
            yield Input(placeholder="or type a symbol, Enter", id="ticker-input", max_length=20)
            yield Label("", id="ticker-error", classes="modal-error")

    def on_mount(self) -> None:
        self.query_one("#ticker-list", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not SYMBOL_RE.fullmatch(value):
            self.query_one("#ticker-error", Label).update("a ticker is 1–20 letters or digits, e.g. BTC")
            return
        self.dismiss(value.upper())

    def action_cancel(self) -> None:
        self.dismiss(None)


class VenuesScreen(ModalScreen[list[str] | None]):
    """One checkbox per venue; OK returns the checked ones (at least one), Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("enter", "ok", "OK", show=False, priority=True),  # before the checkbox's own enter
    ]

    def __init__(self, enabled: list[str]) -> None:
        super().__init__()
        self._enabled = set(enabled)

    def compose(self) -> ComposeResult:
        with Vertical(id="venues-box", classes="modal-box"):
            yield Label("Venues (space toggles, Enter applies)", classes="modal-title")
            for v in VENUES:
                yield Checkbox(v, v in self._enabled, id=f"venue-{v}")
            yield Label("", id="venues-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("OK", id="venues-ok", variant="primary")
                yield Button("Cancel", id="venues-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#venue-{VENUES[0]}", Checkbox).focus()

    def selected(self) -> list[str]:
        """The venues currently checked, in VENUES order."""
        return [v for v in VENUES if self.query_one(f"#venue-{v}", Checkbox).value]

    def action_ok(self) -> None:
        chosen = self.selected()
        if not chosen:
            self.query_one("#venues-error", Label).update("keep at least one venue on")
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "venues-ok":
            self.action_ok()
        else:
            self.action_cancel()
