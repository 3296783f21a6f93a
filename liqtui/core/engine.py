"""Engine: applies a stream of MarketEvents to a HeatModel and keeps the market context around it.

Per-event work is O(1) scalars (a trade only moves the last price and the high/low since the last
tick); numpy work happens once per closed candle of the reference venue (``model.step``) and in
:meth:`Engine.tick` (live consumption of the levels the price crossed since the previous tick).
Pure: stdlib + the core; never textual or rich.
"""

from __future__ import annotations

import collections
import math

import numpy as np
from msgspec.structs import replace as msgspec_replace

from liqtui.core.book_events import BookEvent, BookStatus, BookUpdate
from liqtui.core.depth import DepthBook
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
from liqtui.core.model import BAR_DTYPE, LOOKBACK_MS, HeatModel, ModelConfig

__all__ = ["CANDLE_COARSE_MS", "CANDLE_FINE_MS", "Engine"]

_HOUR_MS = 3_600_000
#: Candles of the last day keep their own resolution (1m live and backfill); older ones are 1h aggregates
#: (bars already coarser stay as they are), and nothing older than the longest lookback is kept: six months
#: of klines fit in ~6,000 Candle objects.
CANDLE_FINE_MS = 24 * _HOUR_MS
OI_HISTORY_FINE_MS = 60_000
OI_HISTORY_COARSE_MS = _HOUR_MS
OI_HISTORY_POINTS = 6_000  # six months hourly + a day of minutes
CANDLE_COARSE_MS = _HOUR_MS
_CANDLE_KEEP_MS = max(LOOKBACK_MS.values()) + 2 * 24 * _HOUR_MS
_NO_TS = 1 << 62
#: Within a time slice, the books' profile is recorded at most this often (see Engine.tick).
DEPTH_RECORD_MS = 5_000


_DEFAULT_SLICE_S = ModelConfig().history_slice_s


def _slice_s(model: HeatModel) -> int:
    """The model's history time slice (s); a stand-in model without a config (tests) gets the default."""
    return int(getattr(getattr(model, "config", None), "history_slice_s", _DEFAULT_SLICE_S))


def _depth_book(model: HeatModel) -> DepthBook:
    """The order books' store, one slice per model history slice over 12 hours."""
    slice_s = _slice_s(model)
    return DepthBook(slice_ms=slice_s * 1000, n_slices=max(2, 12 * 3600 // slice_s))


def _fine_from(end_ms: int) -> int:
    """Start of the window where candles keep their own resolution: :data:`CANDLE_FINE_MS` before
    ``end_ms``, floored to a whole hour so no hour aggregate overlaps a fine candle."""
    t = end_ms - CANDLE_FINE_MS
    return t - t % CANDLE_COARSE_MS


def _merge_candles(a: Candle, b: Candle) -> Candle:
    """``a`` extended by the later ``b`` (same venue): one candle from ``a``'s open to ``b``'s close."""

    def plus(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x + y

    return Candle(
        venue=a.venue, symbol=a.symbol, ts=a.ts, recv_ts=max(a.recv_ts, b.recv_ts), interval_s=a.interval_s,
        open=a.open, high=max(a.high, b.high), low=min(a.low, b.low), close=b.close,
        volume=a.volume + b.volume, quote_volume=plus(a.quote_volume, b.quote_volume),
        taker_buy_volume=plus(a.taker_buy_volume, b.taker_buy_volume),
        taker_buy_quote=plus(a.taker_buy_quote, b.taker_buy_quote), closed=True,
    )  # fmt: skip


def _append_coarse(out: list[Candle], c: Candle) -> None:
    """Append ``c`` to time-ordered ``out``; a coarse candle continuing the previous one's slot merges."""
    last = out[-1] if out else None
    if last is not None and last.ts == c.ts and last.interval_s == c.interval_s:
        out[-1] = _merge_candles(last, c)
    else:
        out.append(c)


def _coarsen(candles: list[Candle], fine_from_ms: int, keep_from_ms: int) -> list[Candle]:
    """Time-ordered ``candles`` with those opening before ``fine_from_ms`` aggregated into
    :data:`CANDLE_COARSE_MS` candles (coarser ones kept as they are) and those before ``keep_from_ms``
    dropped."""
    coarse_s = CANDLE_COARSE_MS // 1000
    out: list[Candle] = []
    for c in candles:
        if c.ts < keep_from_ms:
            continue
        if c.ts >= fine_from_ms or c.interval_s > coarse_s:
            out.append(c)
            continue
        slot = c.ts - c.ts % CANDLE_COARSE_MS
        if c.ts != slot or c.interval_s != coarse_s:
            c = msgspec_replace(c, ts=slot, interval_s=coarse_s)
        _append_coarse(out, c)
    return out


def _slot_bars(bars: np.ndarray) -> np.ndarray:
    """``bars`` (time order, each shorter than an hour) aggregated per :data:`CANDLE_COARSE_MS` slot."""
    slot = bars["ts"] - bars["ts"] % CANDLE_COARSE_MS
    starts = np.flatnonzero(np.diff(slot, prepend=slot[0] - 1))
    ends = np.append(starts[1:], len(bars)) - 1
    out = np.zeros(len(starts), BAR_DTYPE)
    out["ts"], out["interval_s"] = slot[starts], CANDLE_COARSE_MS // 1000
    out["open"], out["close"] = bars["open"][starts], bars["close"][ends]
    out["high"] = np.maximum.reduceat(bars["high"], starts)
    out["low"] = np.minimum.reduceat(bars["low"], starts)
    vol = bars["volume"]
    out["volume"] = np.add.reduceat(vol, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        for col in ("vwap", "taker_buy_share"):  # volume-weighted (NaN when any part is unknown)
            out[col] = np.add.reduceat(bars[col] * vol, starts) / out["volume"]
    return out


class Engine:
    """Market state + model driver. ``version`` bumps on any change (model or context).

    The reference venue (default: the first venue seen) anchors the price and its closed candles
    step the model, with the summed open interest (USD, latest per venue) of every venue.
    :meth:`load_history` steps the model through backfilled bars and records them as candles.
    ``candles`` (the klines overlay) is time-ordered and covers up to six months within ``max_candles``:
    the last day at the bars' own resolution (1m), older history in 1h aggregates.

    ``depth`` (a :class:`~liqtui.core.depth.DepthBook`) takes the order-book events: they do not bump
    ``version`` (books change ~10×/s per venue; a view redraws its book layer on ``depth.version``), and each
    :meth:`tick` records the summed book at the model's history resolution.
    """

    def __init__(
        self,
        model: HeatModel,
        *,
        symbol: str = "BTC",
        reference: Venue | str | None = None,
        max_liquidations: int = 2000,
        max_candles: int = 8000,
    ):
        if max_liquidations < 1 or max_candles < 1:
            raise ValueError("max_liquidations and max_candles must be >= 1")
        self.model = model
        self.symbol = symbol
        self.reference: Venue | None = Venue(reference) if reference is not None else None
        self._version = 0  # bumps on any change but a trade (trades count in ``version`` by their number)
        self.price: float | None = None
        self.mark: float | None = None
        self.funding: dict[Venue, float] = {}
        self.oi_usd: dict[Venue, float] = {}
        self.oi_usd_total = 0.0
        self.oi_change_pct_1h: float | None = None
        self.liquidations: collections.deque[Liquidation] = collections.deque(maxlen=max_liquidations)
        self.candles: collections.deque[Candle] = collections.deque(maxlen=max_candles)
        self.status: dict[Venue, FeedStatus] = {}
        self._oldest_fine_ts = _NO_TS  # open time of the oldest sub-hour candle in ``candles``
        self._counters: dict[str, int] = collections.defaultdict(int)
        # the per-event counts, plain ints on the hot path (merged by ``counters``): events = trades + the others
        self._n_trades = 0
        self._n_other = 0
        self.last_event_ts = 0
        self._oi_hist: collections.deque[tuple[int, float]] = collections.deque()
        # open interest over time (see oi_history): backfilled bars and live updates kept apart, because live
        # figures arrive first while the backfill delivers the past
        self._oi_past: collections.deque[tuple[int, float]] = collections.deque(maxlen=OI_HISTORY_POINTS)
        self._oi_live: collections.deque[tuple[int, float]] = collections.deque(maxlen=OI_HISTORY_POINTS)
        self.oi_history_version = 0
        self._lo = math.inf  # price range crossed since the last tick (mark if any, else trades)
        self._hi = -math.inf
        self._mark_lo = math.inf
        self._mark_hi = -math.inf
        self._model_version = model.version
        self._oi_venues_stepped: frozenset[Venue] = frozenset()
        self.depth = _depth_book(model)
        self._depth_recorded = -(1 << 62)  # tick time of the last depth.record

    # -- state changes from outside --------------------------------------------------------------
    def replace_model(self, model: HeatModel) -> None:
        """Go on from ``model`` (e.g. one restored from the store's checkpoint) instead of the current one."""
        if _slice_s(model) != _slice_s(self.model):
            self.depth = _depth_book(model)  # the book's time slices follow the model's
        self.model = model
        self._model_version = model.version
        self.version += 1

    def set_symbol(self, symbol: str) -> None:
        """Name the market (a replay learns its instrument from the recording)."""
        if symbol != self.symbol:
            self.symbol = symbol
            self.version += 1

    def touch(self) -> None:
        """Say the state changed (a view redraws), e.g. once a backfill that stepped the model has ended."""
        self.version += 1

    # -- events --------------------------------------------------------------------------------
    def _is_reference(self, venue: Venue) -> bool:
        if self.reference is None:
            self.reference = venue
        return venue is self.reference

    @property
    def version(self) -> int:
        """Bumps on every change a view may show (every event but a book one; a new model, symbol ...)."""
        return self._version + self._n_trades

    @version.setter
    def version(self, value: int) -> None:
        self._version = value - self._n_trades

    @property
    def counters(self) -> dict[str, int]:
        """Event counts by kind (events, trades, candles, liquidations, ...; a missing kind reads 0)."""
        c = self._counters
        if self._n_trades or self._n_other:
            c["events"] = self._n_trades + self._n_other
        if self._n_trades:
            c["trades"] = self._n_trades
        return c

    def apply(self, ev: MarketEvent | BookEvent) -> None:
        """Apply one event. Cheap: trades and marks touch scalars only; book events go to :attr:`depth`
        without bumping :attr:`version` or the event counters."""
        t = type(ev)
        if t is Trade:  # most events: first, with the reference check inlined once the reference is known
            self._n_trades += 1  # bumps ``version`` too
            if ev.venue is self.reference or self._is_reference(ev.venue):
                p = ev.price  # type: ignore[union-attr]  # t is Trade: an exact-type check, the hot path
                self.price = p
                if p < self._lo:  # noqa: PLR1730 - per-trade hot path: an if beats min()/max()
                    self._lo = p
                if p > self._hi:  # noqa: PLR1730
                    self._hi = p
            return
        if t is BookUpdate or t is BookStatus:
            self.depth.apply(ev)  # type: ignore[arg-type]  # t is an exact book type: the hot path
            return
        self._version += 1
        self._n_other += 1
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
            self._counters["liquidations"] += 1
        elif t is FeedStatus:
            self.status[ev.venue] = ev  # type: ignore[assignment]
        else:
            self._counters["unknown"] += 1
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
            self._counters["bad_oi"] += 1
            return
        self.oi_usd[ev.venue] = ev.usd
        self.oi_usd_total = total = sum(self.oi_usd.values())
        hist = self._oi_hist
        if hist and ev.ts < hist[-1][0]:
            return  # out of order: keep the current figure, do not corrupt the 1h window
        hist.append((ev.ts, total))
        self._add_oi_point(self._oi_live, ev.ts, total, ev.ts)
        while len(hist) > 2 and hist[1][0] <= ev.ts - _HOUR_MS:
            hist.popleft()
        old_ts, old = hist[0]
        if old > 0 and ev.ts - old_ts >= _HOUR_MS * 0.9:
            self.oi_change_pct_1h = (total - old) / old * 100.0

    def _on_candle(self, ev: Candle) -> None:
        if not self._is_reference(ev.venue):
            self._counters["candles_other"] += 1
            return
        if not ev.closed:
            self._counters["candles_open"] += 1
            return
        if ev.ts <= self.model.last_ts or ev.ts < self.model.last_close_ts:
            # a duplicate, an older bar, or one overlapping the last (coarse backfill) bar: ignored
            self._counters["candles_stale"] += 1
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
            self._counters["candles_bad"] += 1
            return
        self._counters["candles"] += 1
        self._add_candles([ev])
        if self.price is None:
            self.price = ev.close

    # -- history -------------------------------------------------------------------------------
    def load_history(
        self,
        bars: np.ndarray,
        *,
        until_ts: int | None = None,
        venue: Venue | str | None = None,
        symbol: str | None = None,
    ) -> int:
        """Step the model through backfilled ``bars`` (:data:`~liqtui.core.model.BAR_DTYPE`, time order) and
        record them as candles for the klines overlay. Returns the number of bars stepped.

        Bars at or before the model's last bar are skipped (a chunked backfill overlaps what is already
        applied); ``until_ts`` is where the whole backfill will end when it arrives in chunks (see
        :meth:`HeatModel.step_many`). ``engine.candles`` stays time-ordered and bounded: the last
        :data:`CANDLE_FINE_MS` at the bars' own resolution, older history as 1h aggregates, six months at
        most. The candles carry ``venue`` (default: the reference venue, else Binance) and ``symbol``
        (default: the engine's). Raises ``ValueError`` for bars the model refuses (nothing is recorded then).
        """
        arr = np.asarray(bars)
        if arr.dtype != BAR_DTYPE:
            raise ValueError(f"load_history needs a BAR_DTYPE array; got dtype {arr.dtype}")
        arr = arr[(arr["ts"] > self.model.last_ts) & (arr["ts"] >= self.model.last_close_ts)]
        if len(arr) == 0:
            return 0
        self.model.step_many(arr, until_ts=until_ts)
        self.record_history(arr, until_ts=until_ts, venue=venue, symbol=symbol)
        self._model_version = self.model.version
        self._counters["history_bars"] += len(arr)
        return len(arr)

    def record_history(
        self,
        bars: np.ndarray,
        *,
        until_ts: int | None = None,
        venue: Venue | str | None = None,
        symbol: str | None = None,
    ) -> None:
        """Keep ``bars`` (BAR_DTYPE, time order) as candles and open-interest history without stepping the model:
        for history the model already holds, e.g. when it was restored from a checkpoint."""
        arr = np.asarray(bars)
        if arr.dtype != BAR_DTYPE:
            raise ValueError(f"record_history needs a BAR_DTYPE array; got dtype {arr.dtype}")
        if len(arr) == 0:
            return
        v = Venue(venue) if venue is not None else (self.reference or Venue.BINANCE)
        end = max(int(arr["ts"][-1]), until_ts or 0)
        self._add_candles(self._bar_candles(arr, v, symbol or self.symbol, _fine_from(end)), end)
        if self.price is None or not self._n_trades:  # no live trade yet: the history's close
            self.price = float(arr["close"][-1])
        self._add_oi_points(arr, end)
        self.version += 1

    @property
    def oi_history(self) -> list[tuple[int, float]]:
        """Open interest over time, ``(ts ms, USD summed over venues)`` oldest first: the backfilled bars' figures
        then the live ones after them; at most one point a minute (an hour for history older than a day),
        bounded. :attr:`oi_history_version` bumps when it changes."""
        past = list(self._oi_past)
        last = past[-1][0] if past else -1
        return past + [p for p in self._oi_live if p[0] > last]

    def _add_oi_point(
        self, h: collections.deque[tuple[int, float]], ts: int, usd: float, newest_ms: int
    ) -> None:
        """Append to ``h`` (a point replaces the last one within its spacing: a minute, or an hour for points
        more than a day older than ``newest_ms``); older than the last point: ignored."""
        if h and ts < h[-1][0]:
            return
        spacing = OI_HISTORY_COARSE_MS if ts < newest_ms - CANDLE_FINE_MS else OI_HISTORY_FINE_MS
        if h and ts - h[-1][0] < spacing:
            h[-1] = (h[-1][0], usd)  # same slot: keep its start, show the latest figure
        else:
            h.append((ts, usd))
        self.oi_history_version += 1

    def _add_oi_points(self, bars: np.ndarray, newest_ms: int) -> None:
        ok = np.isfinite(bars["oi_usd"]) & (bars["oi_usd"] > 0)
        for ts, usd in zip(bars["ts"][ok].tolist(), bars["oi_usd"][ok].tolist()):
            self._add_oi_point(self._oi_past, int(ts), float(usd), newest_ms)

    @staticmethod
    def _bar_candles(bars: np.ndarray, venue: Venue, symbol: str, fine_from_ms: int) -> list[Candle]:
        """Candles of ``bars``: those opening before ``fine_from_ms`` and shorter than an hour as 1h slots."""
        old = (bars["ts"] < fine_from_ms) & (bars["interval_s"] * 1000 < CANDLE_COARSE_MS)
        if old.any():
            cut = int(np.flatnonzero(old)[-1]) + 1  # bars are in time order: the old ones come first
            head, tail = bars[:cut], bars[cut:]
            small = head["interval_s"] * 1000 < CANDLE_COARSE_MS
            head = np.concatenate([head[~small], _slot_bars(head[small])]) if small.any() else head
            bars = np.concatenate([np.sort(head, order="ts", kind="stable"), tail])
        vol = bars["volume"]
        with np.errstate(invalid="ignore"):
            quote = np.where(np.isfinite(bars["vwap"]) & (vol > 0), bars["vwap"] * vol, np.nan)
            tbv = np.where(np.isfinite(bars["taker_buy_share"]), bars["taker_buy_share"] * vol, np.nan)
        cols = zip(
            bars["ts"].tolist(),
            bars["interval_s"].tolist(),
            bars["open"].tolist(),
            bars["high"].tolist(),
            bars["low"].tolist(),
            bars["close"].tolist(),
            vol.tolist(),
            quote.tolist(),
            tbv.tolist(),
        )
        return [
            Candle(venue=venue, symbol=symbol, ts=t, recv_ts=t + iv * 1000, interval_s=iv, open=o, high=h, low=lo,
                   close=c, volume=vo, quote_volume=None if math.isnan(q) else q,
                   taker_buy_volume=None if math.isnan(b) else b)
            for t, iv, o, h, lo, c, vo, q, b in cols
        ]  # fmt: skip

    def _add_candles(self, new: list[Candle], end_ms: int | None = None) -> None:
        """Append closed candles (newer than what is there), keeping ``candles`` time-ordered and bounded:
        when the deque nears its bound, or fine candles have slipped out of the last :data:`CANDLE_FINE_MS`,
        older candles are re-aggregated into 1h (see :meth:`load_history`)."""
        dq = self.candles
        if not new:
            return
        if dq and new[0].ts <= dq[-1].ts and new[0].interval_s * 1000 < CANDLE_COARSE_MS:
            new = [c for c in new if c.ts > dq[-1].ts]  # a duplicate or older fine candle: dropped
        for c in new:
            if dq and c.ts == dq[-1].ts and c.interval_s == dq[-1].interval_s:
                dq[-1] = _merge_candles(dq[-1], c)  # an hour slot continued from the previous chunk
            else:
                if len(dq) >= (dq.maxlen or 1 << 62):
                    self._compact(c.ts)
                dq.append(c)
                if c.interval_s * 1000 < CANDLE_COARSE_MS and c.ts < self._oldest_fine_ts:
                    self._oldest_fine_ts = c.ts
        end = max(dq[-1].ts, end_ms or 0) if dq else 0
        if dq and (
            len(dq) >= (dq.maxlen or 1 << 62)
            or dq[0].ts < end - _CANDLE_KEEP_MS - CANDLE_FINE_MS
            or self._oldest_fine_ts < _fine_from(end) - _HOUR_MS
        ):
            self._compact(end)

    def _compact(self, end_ms: int) -> None:
        """Re-aggregate candles older than the fine window into 1h slots; drop those past six months."""
        dq = self.candles
        merged = _coarsen(list(dq), _fine_from(end_ms), end_ms - _CANDLE_KEEP_MS)
        dq.clear()
        dq.extend(merged)
        fine = (c.ts for c in merged if c.interval_s * 1000 < CANDLE_COARSE_MS)
        self._oldest_fine_ts = next(fine, _NO_TS)

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
        self._record_depth(now_ms)

    def _record_depth(self, now_ms: int) -> None:
        """Keep the books' profile for the time slice of ``now_ms``: on the first tick of a slice, then at most
        every :data:`DEPTH_RECORD_MS` (the latest record of a slice stands for it; a profile of every book costs
        ~0.1 ms per venue, too much for every 100 ms tick)."""
        grid = self.model.grid
        if grid is None or not self.depth.venues:
            return
        last, step = self._depth_recorded, self.depth.slice_ms
        if now_ms // step != last // step or now_ms - last >= DEPTH_RECORD_MS:
            self.depth.record(now_ms, grid)
            self._depth_recorded = now_ms

    def snapshot_counters(self) -> dict[str, int]:
        """A plain copy of the counters (events, trades, candles, liquidations, ...)."""
        return dict(self.counters)
