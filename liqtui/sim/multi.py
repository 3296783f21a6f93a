"""A light market of many perpetuals for the demo exchange: what the radar watches offline.

:class:`MultiMarket` simulates ``n`` USDT perpetuals at once, vectorised in numpy across symbols: each symbol
has its own seeded geometric Brownian path (its own price level and volatility), an open-interest process that
grows with the flow and shrinks in cascades, and forced orders that arrive more often on large moves. It is
not :class:`~liqtui.sim.market.MarketSim` (no trades, no order book, no true levels): 200 full simulators would
be far too heavy, and the radar reads only marks, closed klines, forced orders and open interest.

Output, in 1-second steps (:meth:`MultiMarket.advance`), as Binance USDⓈ-M frames:

* ``!markPrice@arr@1s``: one array frame per second with every listed symbol's ``markPriceUpdate``;
* ``!forceOrder@arr``: one ``forceOrder`` frame per forced order;
* ``<sym>@kline_1m``: each symbol's forming bar every 10 s (staggered across symbols) and the closed bar at
  the end of each minute.

The REST side reads :meth:`klines`, :meth:`oi_history`, :meth:`open_interest` and :meth:`instruments`. A
history of ``history_h`` hours ending at ``start_ms`` is generated on construction (one vectorised pass) so a
client can warm its models up. Symbols can be listed and delisted mid-run (:meth:`list_symbol`,
:meth:`delist`), which the exchange-info answer reflects at once. Everything depends only on the seed and
``start_ms``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from liqtui.sim.payloads import Frame, mark_price

__all__ = ["MultiMarket", "ticker_names"]

_MIN_MS = 60_000
_YEAR_S = 365.0 * 86_400.0
_FORMING_EVERY_S = 10  # a forming kline per symbol every this many seconds (staggered)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Price levels of a few familiar names; the rest of the market is synthetic tickers.
_KNOWN = {
    "BTCUSDT": 72_000.0,
    "ETHUSDT": 3_500.0,
    "SOLUSDT": 160.0,
    "BNBUSDT": 600.0,
    "XRPUSDT": 0.55,
    "DOGEUSDT": 0.14,
    "ADAUSDT": 0.45,
    "AVAXUSDT": 35.0,
    "LINKUSDT": 15.0,
    "LTCUSDT": 80.0,
}


def ticker_names(n: int, seed: int, exclude: tuple[str, ...] = ()) -> list[str]:
    """``n`` distinct instrument names: the familiar ones first, then seeded 3–5 letter tickers + ``USDT``."""
    out = [s for s in _KNOWN if s not in exclude][:n]
    rng = np.random.default_rng(seed + 7919)
    taken = set(out) | set(exclude)
    while len(out) < n:
        k = int(rng.integers(3, 6))
        name = "".join(_LETTERS[i] for i in rng.integers(0, 26, k)) + "USDT"
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def _fmt_price(p: float) -> str:
    """A price with about six significant digits (tiny coins keep theirs)."""
    if p >= 1000:
        return f"{p:.2f}"
    if p >= 1:
        return f"{p:.4f}"
    return f"{p:.8f}"


class MultiMarket:
    """``n`` perpetuals, each on its own seeded path, stepped together once a market second.

    ``exclude``: names served elsewhere (the full simulator's symbol), left out of this market.
    """

    def __init__(
        self,
        n: int = 200,
        seed: int = 0,
        *,
        start_ms: int | None = None,
        history_h: float = 12.0,
        exclude: tuple[str, ...] = (),
    ) -> None:
        if not 1 <= n <= 5000:
            raise ValueError(f"n (symbols) must be within 1..5000, got {n!r}")
        if not 0 <= history_h <= 24 * 7:
            raise ValueError(f"history_h must be within 0..168, got {history_h!r}")
        now = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self.now_ms = now - now % 1000
        self.seed = seed
        self.symbols: list[str] = []
        self.index: dict[str, int] = {}
        self.listed = np.zeros(0, bool)
        self.onboard_ms: list[int] = []
        self._rng = np.random.default_rng(seed)
        names = ticker_names(n, seed, exclude)
        self._alloc(names)
        self._history(history_h)
        self._live_bars: list[np.ndarray] = []  # closed live 1m bars: (n, 7) ts,o,h,l,c,v,oi_base per minute
        self.frames_out = 0
        self.liquidations = 0

    # -- symbols -----------------------------------------------------------------------------------------
    def _alloc(self, names: list[str]) -> None:
        rng = np.random.default_rng([self.seed, len(self.symbols), 17])
        k = len(names)
        base = np.exp(rng.uniform(math.log(0.01), math.log(2000.0), k))
        for i, s in enumerate(names):
            if s in _KNOWN:
                base[i] = _KNOWN[s]
        vol = rng.uniform(0.4, 1.6, k)  # annual volatility
        oi_usd = np.exp(rng.uniform(math.log(2e6), math.log(8e8), k))
        liq_rate = rng.uniform(0.0005, 0.01, k)  # forced orders per second in calm markets
        start = len(self.symbols)
        for i, s in enumerate(names):
            self.index[s] = start + i
        self.symbols.extend(names)
        self.onboard_ms.extend([self.now_ms] * k)
        cat = np.concatenate
        self.price = cat([getattr(self, "price", np.zeros(0)), base])
        self.vol = cat([getattr(self, "vol", np.zeros(0)), vol])
        self.oi = cat([getattr(self, "oi", np.zeros(0)), oi_usd / base])  # base units
        self.liq_rate = cat([getattr(self, "liq_rate", np.zeros(0)), liq_rate])
        self.listed = cat([self.listed, np.ones(k, bool)])
        self.funding = cat([getattr(self, "funding", np.zeros(0)), rng.normal(1e-4, 1e-4, k)])
        # the forming minute
        self.bar_o = cat([getattr(self, "bar_o", np.zeros(0)), base])
        self.bar_h = cat([getattr(self, "bar_h", np.zeros(0)), base])
        self.bar_l = cat([getattr(self, "bar_l", np.zeros(0)), base])
        self.bar_v = cat([getattr(self, "bar_v", np.zeros(0)), np.zeros(k)])
        self.bar_buy = cat([getattr(self, "bar_buy", np.zeros(0)), np.zeros(k)])

    def list_symbol(self, name: str, price: float = 1.0) -> None:
        """List a new perpetual now (a listing mid-run); it trades from the next second."""
        if not (name.isalnum() and name.isupper() and name.endswith("USDT")):
            raise ValueError(f"symbol must be an uppercase name ending in USDT, got {name!r}")
        if name in self.index:
            i = self.index[name]
            self.listed[i] = True
            return
        self._alloc([name])
        i = self.index[name]
        for arr in (self.price, self.bar_o, self.bar_h, self.bar_l):
            arr[i] = price
        self.oi[i] = 5e6 / price
        self._pad_history(1)

    def delist(self, name: str) -> None:
        """Delist a perpetual now: it leaves the exchange info and its streams go quiet."""
        if name not in self.index:
            raise ValueError(f"unknown symbol {name!r}")
        self.listed[self.index[name]] = False

    def instruments(self) -> list[tuple[str, int]]:
        """(symbol, onboard time) of every listed perpetual."""
        return [(s, self.onboard_ms[i]) for i, s in enumerate(self.symbols) if self.listed[i]]

    def is_listed(self, symbol: str) -> bool:
        i = self.index.get(symbol)
        return i is not None and bool(self.listed[i])

    # -- history -----------------------------------------------------------------------------------------
    def _history(self, hours: float) -> None:
        """``hours`` of 1m bars ending at the start, each symbol's path ending at its start price."""
        m = int(hours * 60)
        n = len(self.symbols)
        rng = np.random.default_rng([self.seed, 99])
        sd = self.vol[:, None] * math.sqrt(60.0 / _YEAR_S)
        steps = rng.standard_normal((n, m)) * sd
        logc = np.cumsum(steps, axis=1)
        logc -= logc[:, -1:]  # the last close is the start price
        c = self.price[:, None] * np.exp(logc)
        o = np.concatenate([c[:, :1] * np.exp(-steps[:, :1]), c[:, :-1]], axis=1)
        wick = np.abs(rng.standard_normal((n, m, 2))) * sd[:, :, None] * 0.6
        h = np.maximum(o, c) * np.exp(wick[:, :, 0])
        lo = np.minimum(o, c) * np.exp(-wick[:, :, 1])
        turnover = self.oi[:, None] * self.price[:, None] * 0.002 * (1 + 20 * np.abs(steps) / sd)
        v = turnover / c
        # open interest drifts with the flow: rises on most bars, drops on big moves (cascades close positions)
        d_oi = rng.normal(2e-4, 1.5e-3, (n, m)) - 0.5 * np.abs(steps) / sd * 1e-3
        oi = self.oi[:, None] * np.exp(np.cumsum(d_oi, axis=1) - np.sum(d_oi, axis=1, keepdims=True))
        ts = self.now_ms - self.now_ms % _MIN_MS - m * _MIN_MS + np.arange(m, dtype=np.int64) * _MIN_MS
        self.hist_ts = ts
        self.hist = np.stack([o, h, lo, c, v, oi], axis=2)  # (n, m, 6)
        self.price = c[:, -1].copy() if m else self.price
        self.bar_o[:] = self.bar_h[:] = self.bar_l[:] = self.price
        self.oi = oi[:, -1].copy() if m else self.oi

    def _pad_history(self, k: int) -> None:
        """A symbol listed mid-run has no history: NaN rows (served as no bars)."""
        pad = np.full((k, self.hist.shape[1], 6), np.nan)
        self.hist = np.concatenate([self.hist, pad], axis=0)
        live = []
        for b in self._live_bars:
            rows = np.full((k, b.shape[1]), np.nan)
            rows[:, 0] = b[0, 0]  # the minute is known; the bar is not (no close: served as no bar)
            live.append(np.concatenate([b, rows], axis=0))
        self._live_bars = live

    def _bars_of(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        """(ts, rows (m, 6): o,h,l,c,v,oi_base) of a symbol's closed 1m bars, history then live."""
        i = self.index[symbol]
        ts = self.hist_ts
        rows = self.hist[i]
        if self._live_bars:
            live = np.stack([b[i] for b in self._live_bars])  # (k, 7)
            ts = np.concatenate([ts, live[:, 0].astype(np.int64)])
            rows = np.concatenate([rows, live[:, 1:]], axis=0)
        ok = ~np.isnan(rows[:, 3])
        return ts[ok], rows[ok]

    def klines(
        self, symbol: str, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[tuple[int, float, float, float, float, float]]:
        """Closed bars of ``interval_ms`` (a multiple of a minute): (open time, o, h, l, c, volume)."""
        ts, rows = self._bars_of(symbol)
        if len(ts) == 0:
            return []
        k = interval_ms // _MIN_MS
        group = ts // interval_ms
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        out = []
        for a, b in zip(starts, np.r_[starts[1:], len(ts)], strict=True):
            if b - a < k and b == len(ts):
                break  # the last interval is not complete yet
            t = int(group[a] * interval_ms)
            r = rows[a:b]
            out.append((t, r[0, 0], r[:, 1].max(), r[:, 2].min(), r[-1, 3], r[:, 4].sum()))
        out = [x for x in out if (start is None or x[0] >= start) and (end is None or x[0] <= end)]
        return out[-limit:] if start is None else out[:limit]

    def oi_history(
        self, symbol: str, period_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[tuple[int, float, float]]:
        """(timestamp, base, usd) at the end of each ``period_ms`` (as ``openInterestHist`` reports)."""
        ts, rows = self._bars_of(symbol)
        close_ts = ts + _MIN_MS
        keep = close_ts % period_ms == 0
        out = [
            (int(t), float(r[5]), float(r[5] * r[3]))
            for t, r in zip(close_ts[keep], rows[keep], strict=True)
            if (start is None or t >= start) and (end is None or t <= end)
        ]
        return out[-limit:] if start is None else out[:limit]

    def open_interest(self, symbol: str) -> float:
        """Open interest now, in base units."""
        return float(self.oi[self.index[symbol]])

    def mark(self, symbol: str) -> float:
        return float(self.price[self.index[symbol]])

    # -- live ----------------------------------------------------------------------------------------------
    def advance(
        self, to_ms: int, extra_marks: list[str] | None = None, *, frames: bool = True
    ) -> list[Frame]:
        """Simulate whole seconds up to ``to_ms``; frames in time order. ``extra_marks``: mark payloads of
        symbols simulated elsewhere, joined into this second's ``!markPrice@arr@1s`` array. ``frames`` False
        (nobody listens): the market moves the same (same random draws) but no payload is written."""
        out: list[Frame] = []
        while self.now_ms + 1000 <= to_ms:
            out.extend(self._second(extra_marks, frames))
            extra_marks = None
        return out

    def _second(self, extra_marks: list[str] | None, write: bool = True) -> list[Frame]:
        rng = self._rng
        n = len(self.symbols)
        t = self.now_ms + 1000
        sd = self.vol * math.sqrt(1.0 / _YEAR_S)
        z = rng.standard_normal(n)
        # fat tails: a rare jump per symbol (a cascade)
        jump = rng.random(n) < 2e-4
        z = np.where(jump, z * 25.0, z)
        ret = z * sd
        self.price *= np.exp(ret)
        p = self.price
        np.maximum(self.bar_h, p, out=self.bar_h)
        np.minimum(self.bar_l, p, out=self.bar_l)
        flow = self.oi * p * 2e-5 * (1 + np.abs(z))
        self.bar_v += flow / p
        self.bar_buy += flow / p * (0.5 + 0.2 * np.tanh(z))
        # positions open with the flow and close in cascades
        self.oi *= np.exp(rng.normal(3e-6, 4e-5, n) - np.where(jump, 0.01, 0.0))
        frames: list[Frame] = []
        listed = self.listed
        # forced orders: more on big moves; a down move liquidates longs (SELL orders)
        lam = self.liq_rate * (1.0 + 3.0 * np.abs(z)) * listed
        # Binance pushes at most the latest forced order per symbol per second on the all-market stream
        hit = rng.random(n) < -np.expm1(-lam)
        for i in np.flatnonzero(hit):
            usd = float(np.exp(rng.normal(math.log(8_000.0), 1.3)))
            side = "SELL" if ret[i] < 0 else "BUY"
            px = float(p[i])
            e = t - 1000 + int(rng.integers(0, 1000))
            if write:
                frames.append(
                    Frame("!forceOrder@arr", e, _force_order(self.symbols[i], e, side, usd / px, px))
                )
            self.liquidations += 1
        if not write:
            if t % _MIN_MS == 0:
                self._close_minute(t, write=False)
            self.now_ms = t
            return frames
        frames.sort(key=lambda f: f.E)
        marks = [
            mark_price(self.symbols[i], t, float(p[i]), float(p[i]), float(p[i]), float(self.funding[i]), 0)
            for i in np.flatnonzero(listed)
        ]
        if extra_marks:
            marks.extend(extra_marks)
        frames.append(Frame("!markPrice@arr@1s", t, "[" + ",".join(marks) + "]"))
        sec = (t // 1000) % 60
        if t % _MIN_MS == 0:
            frames.extend(self._close_minute(t))
        else:
            for i in np.flatnonzero(listed & (np.arange(n) % _FORMING_EVERY_S == sec % _FORMING_EVERY_S)):
                frames.append(self._kline_frame(int(i), t, closed=False))
        self.now_ms = t
        self.frames_out += len(frames)
        return frames

    def _kline_frame(self, i: int, t: int, closed: bool) -> Frame:
        sym = self.symbols[i]
        open_t = (t - 1 if closed else t) // _MIN_MS * _MIN_MS
        v = float(self.bar_v[i])
        c = float(self.price[i])
        buy = float(self.bar_buy[i])
        f = _fmt_price
        payload = (
            f'{{"e":"kline","E":{t},"s":"{sym}","k":{{"t":{open_t},"T":{open_t + _MIN_MS - 1},"s":"{sym}",'
            f'"i":"1m","f":0,"L":0,"o":"{f(self.bar_o[i])}","c":"{f(c)}","h":"{f(self.bar_h[i])}",'
            f'"l":"{f(self.bar_l[i])}","v":"{v:.6g}","n":{int(v > 0)},"x":{"true" if closed else "false"},'
            f'"q":"{v * c:.4f}","V":"{buy:.6g}","Q":"{buy * c:.4f}","B":"0"}}}}'
        )
        return Frame(f"{sym.lower()}@kline_1m", t, payload)

    def _close_minute(self, t: int, write: bool = True) -> list[Frame]:
        listed = self.listed
        frames = [self._kline_frame(int(i), t, closed=True) for i in np.flatnonzero(listed)] if write else []
        bar = np.column_stack(
            [np.full(len(self.symbols), t - _MIN_MS, float), self.bar_o, self.bar_h, self.bar_l, self.price,
             self.bar_v, self.oi]
        )  # fmt: skip
        bar[~listed, 1:] = np.nan
        self._live_bars.append(bar)
        if len(self._live_bars) > 24 * 60:
            self._live_bars.pop(0)
        self.bar_o = self.price.copy()
        self.bar_h = self.price.copy()
        self.bar_l = self.price.copy()
        self.bar_v = np.zeros(len(self.symbols))
        self.bar_buy = np.zeros(len(self.symbols))
        return frames


def _force_order(sym: str, E: int, side: str, qty: float, price: float) -> str:
    q = f"{qty:.6g}"
    p = _fmt_price(price)
    return (
        f'{{"e":"forceOrder","E":{E},"o":{{"s":"{sym}","S":"{side}","o":"LIMIT","f":"IOC","q":"{q}",'
        f'"p":"{p}","ap":"{p}","X":"FILLED","l":"{q}","z":"{q}","T":{E}}}}}'
    )
