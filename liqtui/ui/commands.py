"""Command palette provider: every key action is also a searchable command."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from liqtui.ui.app import LiqtuiApp

__all__ = ["LiqtuiCommands"]


class LiqtuiCommands(Provider):
    """Offers the app's bindings (lookbacks, threshold, heat, klines, ticker, venues, freeze, zoom, …)."""

    def _commands(self) -> list[tuple[str, str, str]]:
        app: LiqtuiApp = self.app  # type: ignore[assignment]
        return app.command_list()

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                run = partial(self.app.run_action, action)
                yield Hit(score, matcher.highlight(title), run, help=help_text)
