"""The app's Textual messages (one module, so every handler's input is easy to find)."""

from __future__ import annotations

from textual.message import Message

__all__ = ["BackfillProgress", "SymbolChangeRequested", "VenuesChangeRequested"]


class BackfillProgress(Message):
    """Backfill progress from any thread; a newer one replaces a queued older one."""

    def __init__(self, done: float, total: float, text: str = "") -> None:
        super().__init__()
        self.done = done
        self.total = total
        self.text = text

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BackfillProgress)


class SymbolChangeRequested(Message):
    """The user picked another ticker (``s``); the owner restarts the source for it."""

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol


class VenuesChangeRequested(Message):
    """The user switched venues on/off (``e``); the owner restarts the source with these venues."""

    def __init__(self, venues: list[str]) -> None:
        super().__init__()
        self.venues = venues
