"""Modal screens: help, ticker picker and venue switches. Keyboard only; Escape always cancels."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    """Type a symbol and Enter, or pick one of the list (↑↓ then Enter on an empty input); returns the
    upper-cased ticker or None (Escape).

    Typing always goes to the input: Enter takes what was typed, the highlighted entry only when nothing was.
    ``allowed`` (e.g. the demo's symbols) lists the only tickers the source serves: another is refused with
    a message naming them.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, current: str, allowed: Sequence[str] | None = None) -> None:
        super().__init__()
        self._current = current
        self._allowed = tuple(allowed) if allowed else None

    def compose(self) -> ComposeResult:
        quick = self._allowed or QUICK_SYMBOLS
        hint = "type a symbol, Enter" if self._allowed is None else f"{', '.join(quick)}: type one, Enter"
        with Vertical(id="ticker-box", classes="modal-box"):
            yield Label(f"Ticker (now {self._current})", classes="modal-title")
            yield OptionList(*[Option(s, id=s) for s in quick], id="ticker-list")
            yield Input(placeholder=hint, id="ticker-input", max_length=20)
            yield Label("", id="ticker-error", classes="modal-error")

    def on_mount(self) -> None:
        options = self.query_one("#ticker-list", OptionList)
        options.can_focus = False  # keys go to the input; ↑↓ move the highlight from there
        options.highlighted = 0
        self.query_one("#ticker-input", Input).focus()

    def action_move(self, step: int) -> None:
        options = self.query_one("#ticker-list", OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(str(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:  # nothing typed: the highlighted entry
            options = self.query_one("#ticker-list", OptionList)
            if options.highlighted is not None:
                self._choose(str(options.get_option_at_index(options.highlighted).id))
            return
        if not SYMBOL_RE.fullmatch(value):
            self._refuse("a ticker is 1–20 letters or digits, e.g. BTC")
            return
        self._choose(value.upper())

    def _choose(self, symbol: str) -> None:
        if self._allowed is not None and symbol not in self._allowed:
            self._refuse(f"{symbol} is not served here: choose one of {', '.join(self._allowed)}")
            return
        self.dismiss(symbol)

    def _refuse(self, text: str) -> None:
        self.query_one("#ticker-error", Label).update(text)
        self.notify(text, severity="warning", timeout=6)

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
