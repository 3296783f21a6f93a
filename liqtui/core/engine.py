"""Engine: applies a stream of MarketEvents to a HeatModel and keeps the market context around it.

Per-event work is O(1) scalars (a trade only moves the last price and the high/low since the last
tick); numpy work happens once per closed candle of the reference venue (``model.step``) and in
:meth:`Engine.tick` (live consumption of the levels the price crossed since the previous tick).
Pure: stdlib + the core; never textual or rich.
"""

from __future__ import annotations

import collections
import math

from liqtui.core.events import (
    Candle,
    FeedStatus,
    FundingRate,
    Liquidation,
    MarketEvent,
    MarkPrice,
    OpenInterest,
    Trade,
    Venue,
)
from liqtui.core.model import HeatModel

__all__ = ["Engine"]

_HOUR_MS = 3_600_000


class Engine:
    """Market state + model driver. ``version`` bumps on any change (model or context).

    The reference venue (default: the first venue seen) anchors the price and its closed candles
    step the model, with the summed open interest (USD, latest per venue) of every venue.
    """

    def __init__(
        self,
        model: HeatModel,
        *,
        symbol: str = "BTC",
        reference: Venue | str | None = None,
        max_liquidations: int = 2000,
        max_candles: int = 1500,
    ):
        if max_liquidations < 1 or max_candles < 1:
            raise ValueError("max_liquidations and max_candles must be >= 1")
        self.model = model
        self.symbol = symbol
        self.reference: Venue | None = Venue(reference) if reference is not None else None
        self.version = 0
        self.price: float | None = None
        self.mark: float | None = None
        self.funding: dict[Venue, float] = {}
        self.oi_usd: dict[Venue, float] = {}
        self.oi_usd_total = 0.0
        self.oi_change_pct_1h: float | None = None
        self.liquidations: collections.deque[Liquidation] = collections.deque(maxlen=max_liquidations)
        self.candles: collections.deque[Candle] = collections.deque(maxlen=max_candles)
        self.status: dict[Venue, FeedStatus] = {}
        self.counters: dict[str, int] = collections.defaultdict(int)
        self.last_event_ts = 0
        self._oi_hist: collections.deque[tuple[int, float]] = collections.deque()
        self._lo = math.inf  # price range crossed since the last tick (mark if any, else trades)
        self._hi = -math.inf
        self._mark_lo = math.inf
        self._mark_hi = -math.inf
        self._model_version = model.version
        self._oi_venues_stepped: frozenset[Venue] = frozenset()

    # -- events --------------------------------------------------------------------------------
    def _is_reference(self, venue: Venue) -> bool:
        if self.reference is None:
            self.reference = venue
        return venue is self.reference

    def apply(self, ev: MarketEvent) -> None:
        """Apply one event. Cheap: trades and marks touch scalars only."""
        self.version += 1
        self.counters["events"] += 1
        t = type(ev)
        if t is Trade:
            if self._is_reference(ev.venue):
                p = ev.price
                self.price = p
                if p < self._lo:  # noqa: PLR1730 - per-trade hot path: an if beats min()/max()
                    self._lo = p
                if p > self._hi:  # noqa: PLR1730
                    self._hi = p
            self.counters["trades"] += 1
            return
        if t is MarkPrice:
            self._on_mark(ev)  # type: ignore[arg-type]
        elif t is Candle:
            self._on_candle(ev)  # type: ignore[arg-type]
        elif t is OpenInterest:
            self._on_oi(ev)  # type: ignore[arg-type]
        elif t is FundingRate:
            self.funding[ev.venue] = ev.rate  # type: ignore[union-attr]
        elif t is Liquidation:
            self.liquidations.append(ev)  # type: ignore[arg-type]
            self.counters["liquidations"] += 1
        elif t is FeedStatus:
            self.status[ev.venue] = ev  # type: ignore[assignment]
        else:
            self.counters["unknown"] += 1
            return
        self.last_event_ts = max(self.last_event_ts, ev.ts)

    def _on_mark(self, ev: MarkPrice) -> None:
        if ev.funding_rate is not None:
            self.funding[ev.venue] = ev.funding_rate
        if self._is_reference(ev.venue):
            m = ev.mark
            self.mark = m
            if m < self._mark_lo:  # noqa: PLR1730
                self._mark_lo = m
            if m > self._mark_hi:  # noqa: PLR1730
                self._mark_hi = m

    def _on_oi(self, ev: OpenInterest) -> None:
        if not (math.isfinite(ev.usd) and ev.usd >= 0):
            self.counters["bad_oi"] += 1
            return
        self.oi_usd[ev.venue] = ev.usd
        self.oi_usd_total = total = sum(self.oi_usd.values())
        hist = self._oi_hist
        if hist and ev.ts < hist[-1][0]:
            return  # out of order: keep the current figure, do not corrupt the 1h window
        hist.append((ev.ts, total))
        while len(hist) > 2 and hist[1][0] <= ev.ts - _HOUR_MS:
            hist.popleft()
        old_ts, old = hist[0]
        if old > 0 and ev.ts - old_ts >= _HOUR_MS * 0.9:
            self.oi_change_pct_1h = (total - old) / old * 100.0

    def _on_candle(self, ev: Candle) -> None:
        if not self._is_reference(ev.venue):
            self.counters["candles_other"] += 1
            return
        if not ev.closed:
            self.counters["candles_open"] += 1
            return
        if ev.ts <= self.model.last_ts or ev.ts < self.model.last_close_ts:
            # a duplicate, an older bar, or one overlapping the last (coarse backfill) bar: ignored
            self.counters["candles_stale"] += 1
            return
        venues = frozenset(self.oi_usd)
        if venues != self._oi_venues_stepped:
            # a venue joined or left the summed OI: that jump is not positions opening or closing
            self.model.rebase_oi()
            self._oi_venues_stepped = venues
        try:
            self.model.step(
                ev.ts, ev.open, ev.high, ev.low, ev.close,
                volume=ev.volume,
                vwap=ev.vwap,
                taker_buy_share=ev.taker_buy_share,
                oi_usd=self.oi_usd_total if self.oi_usd else None,
                interval_s=ev.interval_s,
            )  # fmt: skip
        except ValueError:
            self.counters["candles_bad"] += 1
            return
        self.counters["candles"] += 1
        self.candles.append(ev)
        if self.price is None:
            self.price = ev.close

    # -- live ----------------------------------------------------------------------------------
    def tick(self, now_ms: int) -> None:
        """Consume every level the mark (else the trade price) crossed since the previous tick."""
        if self._mark_hi >= self._mark_lo:
            lo, hi = self._mark_lo, self._mark_hi
        else:
            lo, hi = self._lo, self._hi
        self._lo = self._mark_lo = math.inf
        self._hi = self._mark_hi = -math.inf
        if hi >= lo and lo > 0 and math.isfinite(hi):
            self.model.consume(lo, hi, now_ms)
        if self.model.version != self._model_version:
            self._model_version = self.model.version
            self.version += 1

    def snapshot_counters(self) -> dict[str, int]:
        """A plain copy of the counters (events, trades, candles, liquidations, ...)."""
        return dict(self.counters)
