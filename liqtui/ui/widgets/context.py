"""Context charts: open interest, funding and cumulative realized liquidations (textual-plotext).

textual-plotext rebuilds its whole plot on every render (tens of ms), so these charts are fed only when the
app's :class:`~liqtui.ui.context.ContextSeries` stored a new sample, and at most once a second (the app
decides; see ``LiqtuiApp._draw_context``). Between two feeds Textual keeps the rendered lines: a UI tick
sends nothing for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.color import Color
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot

from liqtui.ui.context import ContextView, decimate, time_unit
from liqtui.ui.render import fmt_usd
from liqtui.ui.themes import HeatPalette

__all__ = ["ContextChart", "ContextPanel", "usd_scale"]

RGB = tuple[int, int, int]


OI_WINDOW_MS = 24 * 3_600_000
"""The open-interest chart spans this much of the engine's OI history (backfill + live)."""


def _rgb(c: Color) -> RGB:
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def usd_scale(values: np.ndarray) -> tuple[float, str]:
    """(divisor, unit) so the largest finite ``values`` reads as a short number: $B, $M, $K or $."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if len(finite) else 0.0
    for div, unit in ((1e9, "$B"), (1e6, "$M"), (1e3, "$K")):
        if top >= div:
            return div, unit
    return 1.0, "$"


class ContextChart(PlotextPlot):
    """One small line chart over time (newest sample at ``now`` on the right)."""

    DEFAULT_CSS = """
    ContextChart { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.draws = 0  # how many times new data was handed to the plot (tests, benchmarks)

    def show_lines(
        self, title: str, ts: np.ndarray, lines: Sequence[tuple[np.ndarray, RGB, str | None]]
    ) -> None:
        """Replace the plot by ``lines`` (``(y, colour, legend label)``) over ``ts`` (ms, ascending)."""
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        width = max(8, self.size.width - 10)  # minus the y tick labels and the frame
        drawn = False
        if len(ts):
            span = float(ts[-1] - ts[0])
            unit_ms, unit = time_unit(span)
            x = (ts - ts[-1]) / unit_ms
            for y, colour, label in lines:
                xs, ys = decimate(x, y, width)
                if len(xs):
                    plt.plot(xs.tolist(), ys.tolist(), marker="braille", color=colour, label=label)
                    drawn = True
            if drawn and span > 0:
                ticks = [float(x[0]), float(x[0]) / 2, 0.0]
                plt.xticks(ticks, [f"{t:.3g}{unit}" if t else "now" for t in ticks])
            elif drawn:  # one sample so far
                plt.xticks([0.0], ["now"])
        if not drawn:
            plt.xticks([], [])
            plt.yticks([], [])
        self.draws += 1
        self.refresh()


class ContextPanel(Horizontal):
    """Three context charts side by side: open interest, funding, cumulative liquidations."""

    DEFAULT_CSS = """
    ContextPanel { height: 12; }
    """

    def __init__(self, palette: HeatPalette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pal = palette
        self.oi = ContextChart(id="ctx-oi")
        self.funding = ContextChart(id="ctx-funding")
        self.liqs = ContextChart(id="ctx-liqs")
        self.drawn_version: int | None = None
        self.drawn_oi_version: int | None = None  # the engine's oi_history_version last drawn
        self.drawn_at: int | None = None
        self.titles: tuple[str, str, str] = ("", "", "")

    def compose(self) -> ComposeResult:
        yield self.oi
        yield self.funding
        yield self.liqs

    def set_palette(self, palette: HeatPalette) -> None:
        """New theme colours: the next :meth:`show` redraws."""
        self._pal = palette
        self.drawn_version = None

    def show(
        self,
        view: ContextView,
        liq_long: float,
        liq_short: float,
        oi_history: Sequence[tuple[int, float]] = (),
    ) -> None:
        """Hand the samples to the three charts (the caller decides how often: each call costs a re-render).

        ``oi_history`` (``(ts ms, USD)`` oldest first, e.g. the engine's backfilled and live open interest) draws
        the open-interest chart over its last :data:`OI_WINDOW_MS` instead of the session's samples, so the chart
        has a day of history from the first frame."""
        pal = self._pal
        if len(oi_history) >= 2:
            pts = np.asarray(oi_history, dtype=np.float64)
            pts = pts[pts[:, 0] >= pts[-1, 0] - OI_WINDOW_MS]
            oi_ts, oi_usd = pts[:, 0].astype(np.int64), pts[:, 1]
        else:
            oi_ts, oi_usd = view.ts, view.oi_usd
        oi_div, oi_unit = usd_scale(oi_usd)
        liq_div, liq_unit = usd_scale(np.concatenate([view.liq_long_usd, view.liq_short_usd]))
        self.titles = (
            self._oi_title(oi_usd, oi_unit),
            self._funding_title(view),
            f"liquidations {liq_unit} · longs {fmt_usd(liq_long)} · shorts {fmt_usd(liq_short)}",
        )
        self.oi.show_lines(self.titles[0], oi_ts, [(oi_usd / oi_div, _rgb(pal.zone_bar), None)])
        self.funding.show_lines(self.titles[1], view.ts, [(view.funding * 100.0, _rgb(pal.confluence), None)])
        self.liqs.show_lines(
            self.titles[2],
            view.ts,
            [
                (view.liq_long_usd / liq_div, _rgb(pal.long), "longs"),
                (view.liq_short_usd / liq_div, _rgb(pal.short), "shorts"),
            ],
        )

    @staticmethod
    def _oi_title(values: np.ndarray, unit: str) -> str:
        oi = values[np.isfinite(values)]
        if not len(oi):
            return "open interest · waiting for data"
        change = "" if len(oi) < 2 or oi[0] <= 0 else f" ({(oi[-1] / oi[0] - 1) * 100:+.2f}%)"
        return f"open interest {unit} · {fmt_usd(float(oi[-1]))}{change}"

    @staticmethod
    def _funding_title(view: ContextView) -> str:
        f = view.funding[np.isfinite(view.funding)]
        if not len(f):
            return "funding % · waiting for data"
        return f"funding % · {f[-1] * 100:.4f}%"
