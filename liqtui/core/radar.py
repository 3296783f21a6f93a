"""The radar: every perpetual at once, a light model each, one row per symbol (pure).

:class:`Radar` keeps, per symbol, a :class:`~liqtui.core.model.HeatModel` of the *same estimator* under a
light :data:`LIGHT_CONFIG` (coarse 0.5 % buckets over ±30 %, hourly history slices: ~0.3 MB instead of
~12 MB; the model has no switch to drop lookbacks, so all eight are kept, cheaply) plus what a row needs:
the mark price, per-minute closes (1 h / 24 h change and the sparkline), realized liquidations of the last
hour and open interest per minute (its 1 h change). The all-market feeds push into it:

* :meth:`Radar.on_marks` — every symbol's mark once a second (cheap: a dict update per symbol);
* :meth:`Radar.on_candle` — a closed bar steps that symbol's model with the latest open interest;
* :meth:`Radar.on_liquidation`, :meth:`Radar.on_open_interest`, :meth:`Radar.on_history` (warm-up bars);
* :meth:`Radar.set_instruments` — listings add rows, delistings drop them.

:meth:`Radar.tick` spends the levels the marks crossed (batched, every few seconds), and :meth:`Radar.rows`
builds :class:`RadarRow` s (zones are recomputed only for symbols whose model changed). :class:`RadarTable`
sorts and filters rows; it holds no market state, so the screen and ``liqtui radar --json`` share it.

Ranking: ``score`` = the larger, over both sides, of the nearest zone's USD divided by its distance in
percent (at least 0.05 %): a big pool close by ranks first. Symbols whose model has no zone score 0.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Sequence

import msgspec
import numpy as np

from liqtui.core.events import Candle, Liquidation
from liqtui.core.model import HeatModel, ModelConfig
from liqtui.core.zones import ZoneReport

__all__ = [
    "COLUMNS",
    "LIGHT_CONFIG",
    "LIGHT_LOOKBACK",
    "MEMORY_BUDGET_MB",
    "Radar",
    "RadarRow",
    "RadarTable",
    "row_json",
]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
#: The radar's model: the same estimator, coarser and narrower (and 1 h history slices).
LIGHT_CONFIG = ModelConfig(bucket_pct=0.5, range_pct=30.0, history_slice_s=3600, max_buckets=400)
#: The lookback whose zones the radar ranks: the shortest, the near traps.
LIGHT_LOOKBACK = "12h"
#: The budget of one symbol's light model and row state, in MB (measured ~0.3 MB; checked by the tests).
MEMORY_BUDGET_MB = 0.6
_SPARK_POINTS = 60  # the sparkline: the last hour of per-minute closes
_CONSUME_EVERY_MS = 5_000
_MIN_DISTANCE_PCT = 0.05

#: Sortable columns: name -> (header, whether larger sorts first by default).
COLUMNS: dict[str, tuple[str, bool]] = {
    "symbol": ("Symbol", False),
    "price": ("Price", True),
    "chg_1h": ("1h %", True),
    "chg_24h": ("24h %", True),
    "squeeze": ("Squeeze", False),
    "flush": ("Flush", False),
    "imbalance": ("Imbal", True),
    "liq_1h": ("Liq 1h", True),
    "oi_1h": ("OI 1h %", True),
    "alerts": ("Alert", True),
    "score": ("Score", True),
}


class RadarRow(msgspec.Struct, frozen=True, gc=False):
    """One symbol on the radar. Distances are signed percent from the price to the zone's nearest edge
    (squeeze above: positive; flush below: negative); ``None`` where unknown or no zone stands."""

    symbol: str
    venue: str
    price: float
    chg_1h: float | None
    chg_24h: float | None
    squeeze_pct: float | None
    squeeze_usd: float
    flush_pct: float | None
    flush_usd: float
    imbalance: float
    liq_1h_usd: float
    oi_change_1h_pct: float | None
    score: float
    spark: tuple[float, ...]
    #: names of the alert rules this row crosses (``liqtui.alerts.radar``); empty when none or not evaluated
    alerts: tuple[str, ...] = ()

    def sort_value(self, column: str) -> float | str:
        """The value a column sorts by (distances by their size: nearer first)."""
        if column == "symbol":
            return self.symbol
        v: float | None = {
            "price": self.price,
            "chg_1h": self.chg_1h,
            "chg_24h": self.chg_24h,
            "squeeze": None if self.squeeze_pct is None else abs(self.squeeze_pct),
            "flush": None if self.flush_pct is None else abs(self.flush_pct),
            "imbalance": self.imbalance,
            "liq_1h": self.liq_1h_usd,
            "oi_1h": self.oi_change_1h_pct,
            "alerts": float(len(self.alerts)),
            "score": self.score,
        }[column]
        return math.nan if v is None else v


def row_json(row: RadarRow) -> dict[str, object]:
    """A row as ``liqtui radar --json`` prints it."""
    return {
        "symbol": row.symbol,
        "venue": row.venue,
        "price": row.price,
        "change_1h_pct": row.chg_1h,
        "change_24h_pct": row.chg_24h,
        "squeeze": {"distance_pct": row.squeeze_pct, "usd": row.squeeze_usd},
        "flush": {"distance_pct": row.flush_pct, "usd": row.flush_usd},
        "imbalance": row.imbalance,
        "liq_1h_usd": row.liq_1h_usd,
        "oi_change_1h_pct": row.oi_change_1h_pct,
        "score": row.score,
        "alerts": list(row.alerts),
    }


class _Symbol:
    """What the radar keeps for one symbol."""

    __slots__ = (
        "closes",
        "hi",
        "liqs",
        "lo",
        "model",
        "oi_base",
        "oi_min",
        "oi_usd",
        "price",
        "report",
        "report_at",
        "report_version",
        "symbol",
    )

    def __init__(self, symbol: str, config: ModelConfig) -> None:
        self.symbol = symbol
        self.model = HeatModel(config)
        self.price = math.nan
        self.lo = math.inf
        self.hi = 0.0
        self.closes: deque[tuple[int, float]] = deque(maxlen=24 * 60 + 1)  # (minute, close)
        self.liqs: deque[tuple[int, float, int]] = deque()  # (ts, usd, liquidated side ±1), the last hour
        self.oi_base: float | None = None
        self.oi_usd: float | None = None
        self.oi_min: deque[tuple[int, float]] = deque(maxlen=61)  # (minute, oi usd)
        self.report: ZoneReport | None = None
        self.report_version = -1
        self.report_at = 0  # when the zones were last found (the radar's count of zone searches)

    def add_close(self, ts: int, price: float) -> None:
        minute = ts - ts % MINUTE_MS
        c = self.closes
        if c and c[-1][0] == minute:
            c[-1] = (minute, price)
        elif not c or minute > c[-1][0]:
            c.append((minute, price))

    def change_pct(self, now: int, span_ms: int) -> float | None:
        """Percent change of the price over ``span_ms`` (None without a close that old)."""
        c = self.closes
        if not c or not math.isfinite(self.price):
            return None
        want = now - span_ms
        if c[0][0] > want + MINUTE_MS:
            return None
        ref = c[0][1]
        for minute, close in c:  # oldest first; the last close at or before the wanted time
            if minute > want:
                break
            ref = close
        return (self.price / ref - 1.0) * 100.0 if ref > 0 else None

    def oi_change_pct(self, now: int) -> float | None:
        o = self.oi_min
        if len(o) < 2 or self.oi_usd is None:
            return None
        want = now - HOUR_MS
        if o[0][0] > want + MINUTE_MS:
            return None
        ref = o[0][1]
        for minute, usd in o:
            if minute > want:
                break
            ref = usd
        return (self.oi_usd / ref - 1.0) * 100.0 if ref > 0 else None


def _older_first(past: list[tuple[int, float]], now: deque[tuple[int, float]]) -> deque[tuple[int, float]]:
    """``past`` (time order) before what ``now`` already holds (live values win where both have a minute)."""
    first = now[0][0] if now else math.inf
    return deque([p for p in past if p[0] < first] + list(now), maxlen=now.maxlen)


class Radar:
    """Every symbol of one venue, a light model each; fed by an all-market feed, read as rows."""

    def __init__(self, venue: str = "binance", config: ModelConfig | None = None) -> None:
        self.venue = venue
        self.config = config if config is not None else LIGHT_CONFIG
        self.symbols: dict[str, _Symbol] = {}
        self.now_ms = 0
        self._last_consume = 0
        self._listed_once = False
        self._reattached = False
        self._reports = 0
        self.counts = {"marks": 0, "candles": 0, "liquidations": 0, "oi": 0, "listed": 0, "delisted": 0}
        self.version = 0  # bumps on anything a row shows

    # -- instruments ---------------------------------------------------------------------------------
    def set_instruments(self, symbols: Iterable[str]) -> tuple[list[str], list[str]]:
        """The venue's current list: new symbols get a row, delisted ones are dropped. (added, removed)."""
        want = list(dict.fromkeys(symbols))
        have = self.symbols
        added = [s for s in want if s not in have]
        removed = [s for s in have if s not in set(want)]
        for s in added:
            have[s] = _Symbol(s, self.config)
        for s in removed:
            del have[s]
        if self._listed_once and not self._reattached:  # the first list is the start, not listings
            self.counts["listed"] += len(added)
            self.counts["delisted"] += len(removed)
        if self._reattached:  # a new feed: every symbol is new to it
            self._reattached = False
            added = want
        self._listed_once = True
        if added or removed:
            self.version += 1
        return added, removed

    def reattach(self) -> None:
        """A new feed takes over (another exchange after a switch): its first instrument list reports every
        symbol as added (so it subscribes and warms them all) while their rows, models and history stay."""
        self._reattached = True

    def __len__(self) -> int:
        return len(self.symbols)

    def zones(self, symbol: str) -> ZoneReport | None:
        """The last zones found for ``symbol`` (None before the first search or without a model yet)."""
        st = self.symbols.get(symbol)
        return None if st is None else st.report

    def liquidations(self, symbol: str, since_ms: int) -> list[tuple[int, float, int]]:
        """``symbol``'s realized liquidations since ``since_ms`` (within the last hour): (ts, usd, side ±1 of
        the liquidated positions)."""
        st = self.symbols.get(symbol)
        return [] if st is None else [x for x in st.liqs if x[0] >= since_ms]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols

    def model(self, symbol: str) -> HeatModel:
        """The light model of ``symbol`` (KeyError when not on the radar)."""
        return self.symbols[symbol].model

    # -- events ----------------------------------------------------------------------------------------
    def on_marks(self, ts: int, marks: Iterable[tuple[str, float]]) -> None:
        """Mark prices of many symbols at ``ts`` (unknown symbols are ignored until listed)."""
        syms = self.symbols
        n = 0
        for s, p in marks:
            st = syms.get(s)
            if st is None or not (0.0 < p < math.inf):
                continue
            st.price = p
            st.lo = min(st.lo, p)
            st.hi = max(st.hi, p)
            st.add_close(ts, p)
            n += 1
        self.now_ms = max(self.now_ms, ts)
        self.counts["marks"] += n
        if n:
            self.version += 1

    def on_candle(self, c: Candle) -> None:
        """A closed bar steps the symbol's model (with the latest open interest in USD)."""
        st = self.symbols.get(c.symbol)
        if st is None or not c.closed:
            return
        m = st.model
        if c.ts <= m.last_ts or c.ts < m.last_close_ts:
            return
        vwap = c.quote_volume / c.volume if c.quote_volume and c.volume > 0 else None
        share = c.taker_buy_volume / c.volume if c.taker_buy_volume is not None and c.volume > 0 else None
        if share is not None and not 0.0 <= share <= 1.0:
            share = None
        if vwap is not None and not c.low <= vwap <= c.high:
            vwap = None
        oi = st.oi_usd
        m.step(
            c.ts, c.open, c.high, c.low, c.close, volume=c.volume, vwap=vwap, taker_buy_share=share,
            oi_usd=oi, interval_s=c.interval_s,
        )  # fmt: skip
        if not math.isfinite(st.price):
            st.price = c.close
        st.add_close(c.ts + c.interval_s * 1000 - 1, c.close)
        self.counts["candles"] += 1
        self.version += 1

    def on_liquidation(self, liq: Liquidation) -> None:
        st = self.symbols.get(liq.symbol)
        if st is None:
            return
        st.liqs.append((liq.ts, liq.usd, int(liq.side)))
        self.counts["liquidations"] += 1
        self.version += 1

    def on_open_interest(self, symbol: str, base: float, ts: int) -> None:
        """Open interest in base units (priced at the mark, else the last close)."""
        st = self.symbols.get(symbol)
        if st is None or not 0.0 <= base < math.inf:
            return
        price = st.price if math.isfinite(st.price) else st.model.price
        st.oi_base = base
        if price and price > 0:
            st.oi_usd = base * price
            minute = ts - ts % MINUTE_MS
            o = st.oi_min
            if o and o[-1][0] == minute:
                o[-1] = (minute, st.oi_usd)
            elif not o or minute > o[-1][0]:
                o.append((minute, st.oi_usd))
        self.counts["oi"] += 1
        self.version += 1

    def on_history(self, symbol: str, bars: np.ndarray, oi: Sequence[tuple[int, float]] = ()) -> int:
        """Warm a symbol's model up with past bars (:data:`~liqtui.core.model.BAR_DTYPE`, time order) and
        its open-interest history ``(ts, usd)``; bars at or before the model's last are skipped. Returns the
        bars applied."""
        st = self.symbols.get(symbol)
        if st is None or len(bars) == 0:
            return 0
        m = st.model
        fresh = bars[bars["ts"] > m.last_ts]
        if len(fresh) == 0:
            return 0
        m.step_many(fresh)
        ends = (fresh["ts"] + fresh["interval_s"] * 1000 - 1).tolist()
        closes = [(t - t % MINUTE_MS, c) for t, c in zip(ends, fresh["close"].tolist(), strict=True)]
        st.closes = _older_first(closes, st.closes)
        if not math.isfinite(st.price):
            st.price = float(fresh["close"][-1])
        st.oi_min = _older_first([(t - t % MINUTE_MS, u) for t, u in oi if u > 0], st.oi_min)
        if st.oi_usd is None and oi:
            st.oi_usd = oi[-1][1]
        self.version += 1
        return len(fresh)

    def tick(self, now_ms: int) -> None:
        """Spend the levels the marks crossed since the last spend (every 5 s at most)."""
        if now_ms - self._last_consume < _CONSUME_EVERY_MS:
            return
        self._last_consume = now_ms
        for st in self.symbols.values():
            if st.hi > 0.0 and st.model.grid is not None:
                st.model.consume(st.lo, st.hi, now_ms)
            st.lo, st.hi = (st.price, st.price) if math.isfinite(st.price) else (math.inf, 0.0)

    # -- reading ---------------------------------------------------------------------------------------
    def _refresh(self, st: _Symbol) -> None:
        m = st.model
        st.report = m.zones(LIGHT_LOOKBACK, top_n=5) if m.grid is not None and m.last_ts else None
        st.report_version = m.version
        self._reports += 1
        st.report_at = self._reports

    def row(self, symbol: str, now_ms: int | None = None, *, refresh: bool = True) -> RadarRow:
        """The row of ``symbol``; its zones are recomputed when its model changed (unless ``refresh`` is
        False: then the last zones found, with distances from the current price)."""
        st = self.symbols[symbol]
        now = self.now_ms if now_ms is None else now_ms
        m = st.model
        if refresh and st.report_version != m.version:
            self._refresh(st)
        price = st.price if math.isfinite(st.price) else m.price
        sq_pct = fl_pct = None
        sq_usd = fl_usd = imb = 0.0
        rep = st.report
        if rep is not None and price > 0:
            imb = rep.imbalance if math.isfinite(rep.imbalance) else 0.0
            above = [(max(z.low / price - 1.0, 0.0) * 100.0, z.usd) for z in rep.above if z.high > price]
            below = [(min(z.high / price - 1.0, 0.0) * 100.0, z.usd) for z in rep.below if z.low < price]
            if above:
                sq_pct, sq_usd = min(above)
            if below:
                fl_pct, fl_usd = max(below)
        liqs = st.liqs
        while liqs and liqs[0][0] < now - HOUR_MS:
            liqs.popleft()
        score = 0.0
        if sq_pct is not None:
            score = sq_usd / max(abs(sq_pct), _MIN_DISTANCE_PCT)
        if fl_pct is not None:
            score = max(score, fl_usd / max(abs(fl_pct), _MIN_DISTANCE_PCT))
        spark = tuple(c for _, c in list(st.closes)[-_SPARK_POINTS:])
        return RadarRow(
            symbol=symbol, venue=self.venue, price=price, chg_1h=st.change_pct(now, HOUR_MS),
            chg_24h=st.change_pct(now, 24 * HOUR_MS), squeeze_pct=sq_pct, squeeze_usd=sq_usd,
            flush_pct=fl_pct, flush_usd=fl_usd, imbalance=imb, liq_1h_usd=sum(u for _, u, _ in liqs),
            oi_change_1h_pct=st.oi_change_pct(now), score=score, spark=spark,
        )  # fmt: skip

    def rows(self, now_ms: int | None = None, *, budget_s: float | None = None) -> list[RadarRow]:
        """One row per symbol with a price (those still waiting for their first mark are left out).

        ``budget_s``: spend at most this long recomputing zones (a screen refresh must not stall on a minute
        close that changed every model): the symbols whose zones are oldest go first, the rest keep their
        last zones until a later call."""
        live = [(s, st) for s, st in self.symbols.items() if math.isfinite(st.price) or st.model.last_ts]
        stale = [st for _, st in live if st.report_version != st.model.version]
        if budget_s is not None:
            stale.sort(key=lambda st: st.report_at)
            deadline = time.perf_counter() + budget_s
        for i, st in enumerate(stale):
            if budget_s is not None and i and time.perf_counter() > deadline:
                break  # at least one search a call: every symbol gets its turn
            self._refresh(st)
        return [self.row(s, now_ms, refresh=False) for s, _ in live]

    def stats(self) -> dict[str, float]:
        return {"symbols": len(self.symbols), **self.counts}


class RadarTable:
    """Sorting and filtering of radar rows (pure, no market state)."""

    def __init__(self, sort: str = "score", descending: bool | None = None, text: str = "") -> None:
        self.sort = ""
        self.descending = True
        self.text = ""
        self.sort_by(sort, descending)
        self.set_filter(text)

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column`` (one of :data:`COLUMNS`); the same column again flips the direction."""
        if column not in COLUMNS:
            raise ValueError(f"radar sort column must be one of {', '.join(COLUMNS)}; got {column!r}")
        if descending is None:
            descending = (not self.descending) if column == self.sort else COLUMNS[column][1]
        self.sort, self.descending = column, descending

    def set_filter(self, text: str) -> None:
        """Keep rows whose symbol contains ``text`` (case-insensitive; empty keeps all)."""
        self.text = text.strip().upper()

    def view(self, rows: Iterable[RadarRow]) -> list[RadarRow]:
        """``rows`` filtered and sorted; rows without a value in the sort column go last, ties by symbol."""
        kept = [r for r in rows if self.text in r.symbol] if self.text else list(rows)
        col = self.sort
        if col == "symbol":
            return sorted(kept, key=lambda r: r.symbol, reverse=self.descending)
        known = [r for r in kept if not math.isnan(float(r.sort_value(col)))]
        unknown = sorted((r for r in kept if math.isnan(float(r.sort_value(col)))), key=lambda r: r.symbol)
        sign = -1.0 if self.descending else 1.0
        known.sort(key=lambda r: (sign * float(r.sort_value(col)), r.symbol))
        return known + unknown
