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

**Opening a light symbol in full** (the radar's Enter on the demo): :func:`anchored_sim` builds a full
:class:`FullSim` (a :class:`~liqtui.sim.market.MarketSim` with the symbol's own :class:`Contract`: tick, step
and sizes) seeded from ``(seed, symbol)`` and anchored at the light symbol's current mark and open interest, so
the heatmap starts where the radar row was. Meanwhile the light market :meth:`MultiMarket.mute` s the symbol:
it keeps drawing its numbers (every other symbol's path stays the same) but serves nothing for it, and the
exchange feeds its radar row from the full simulator instead. :meth:`MultiMarket.unmute` hands the symbol
back, continuing from the full simulator's last mark and open interest.
"""

from __future__ import annotations

import hashlib
import math
import time

import msgspec
import numpy as np

from liqtui.sim import payloads
from liqtui.sim.bars import MINUTE_MS
from liqtui.sim.book import LONG, Liquidated
from liqtui.sim.market import DEFAULT_PRICES, MarketSim, SimConfig
from liqtui.sim.payloads import Contract, Frame, contract_for, mark_price

__all__ = [
    "LIGHT_EXCLUDE",
    "FullSim",
    "MultiMarket",
    "anchored_sim",
    "light_names",
    "symbol_seed",
    "ticker_names",
]

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


#: What the light market leaves out: the tickers the full simulator plays at its own price levels.
LIGHT_EXCLUDE: tuple[str, ...] = tuple(DEFAULT_PRICES)


def light_names(n: int, seed: int) -> list[str]:
    """The instruments of the demo's light market of ``n`` symbols for ``seed`` (whatever is served in full)."""
    return ticker_names(n, seed, LIGHT_EXCLUDE)


def _step_usd(oi_usd: float) -> float:
    """The notional of a quantity step: BTC's (~72 USD) scaled down with the market's size."""
    return 72.0 * min(1.0, max(1e-3, oi_usd / REF_OI_USD))


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
        self.muted = np.zeros(0, bool)  # served in full elsewhere (mute): no frames, not listed here
        self.contracts: list[Contract] = []  # each symbol's tick and step, fixed at its listing
        self.onboard_ms: list[int] = []
        #: the exchange advancing this market (a demo exchange taking it over becomes its owner)
        self.owner: object | None = None
        self._rng = np.random.default_rng(seed)
        names = ticker_names(n, seed, exclude)
        self._alloc(names)
        self._history(history_h)
        self._set_contracts()
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
        self.muted = cat([self.muted, np.zeros(k, bool)])
        self.funding = cat([getattr(self, "funding", np.zeros(0)), rng.normal(1e-4, 1e-4, k)])
        # the forming minute
        self.bar_o = cat([getattr(self, "bar_o", np.zeros(0)), base])
        self.bar_h = cat([getattr(self, "bar_h", np.zeros(0)), base])
        self.bar_l = cat([getattr(self, "bar_l", np.zeros(0)), base])
        self.bar_v = cat([getattr(self, "bar_v", np.zeros(0)), np.zeros(k)])
        self.bar_buy = cat([getattr(self, "bar_buy", np.zeros(0)), np.zeros(k)])

    def _set_contracts(self) -> None:
        """Contracts for the symbols that have none yet, from their price level and size now."""
        for i in range(len(self.contracts), len(self.symbols)):
            p = float(self.price[i])
            self.contracts.append(contract_for(p, step_usd=_step_usd(float(self.oi[i]) * p)))

    def contract(self, symbol: str) -> Contract:
        """The tick and quantity step of ``symbol`` (fixed when it was listed)."""
        return self.contracts[self.index[symbol]]

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
        self._set_contracts()

    def delist(self, name: str) -> None:
        """Delist a perpetual now: it leaves the exchange info and its streams go quiet."""
        if name not in self.index:
            raise ValueError(f"unknown symbol {name!r}")
        self.listed[self.index[name]] = False

    def instruments(self) -> list[tuple[str, int]]:
        """(symbol, onboard time) of every listed perpetual served here (not the muted ones)."""
        return [
            (s, self.onboard_ms[i])
            for i, s in enumerate(self.symbols)
            if self.listed[i] and not self.muted[i]
        ]

    def is_listed(self, symbol: str) -> bool:
        """Whether ``symbol`` is listed and served here (a muted symbol is served in full elsewhere)."""
        i = self.index.get(symbol)
        return i is not None and bool(self.listed[i]) and not bool(self.muted[i])

    def mute(self, symbol: str) -> None:
        """``symbol`` is served in full elsewhere from now: its path keeps drawing its numbers (so every other
        symbol's stays the same) but no frame, REST answer or exchange-info entry comes from here for it."""
        if symbol not in self.index:
            raise ValueError(f"unknown symbol {symbol!r}")
        self.muted[self.index[symbol]] = True

    def unmute(self, symbol: str, price: float | None = None, oi_base: float | None = None) -> None:
        """Serve ``symbol`` here again, continuing from ``price`` and ``oi_base`` (the full simulator's last
        mark and open interest) so its radar row does not jump; its forming minute starts at that price."""
        i = self.index[symbol]
        self.muted[i] = False
        if price is not None and math.isfinite(price) and price > 0:
            for arr in (self.price, self.bar_o, self.bar_h, self.bar_l):
                arr[i] = price
            self.bar_v[i] = self.bar_buy[i] = 0.0
        if oi_base is not None and math.isfinite(oi_base) and oi_base > 0:
            self.oi[i] = oi_base

    def volatility(self, symbol: str) -> float:
        """The annual volatility of ``symbol``'s path."""
        return float(self.vol[self.index[symbol]])

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
        served = listed & ~self.muted
        # forced orders: more on big moves; a down move liquidates longs (SELL orders). A muted symbol draws
        # its numbers like the others (their paths stay the same) but its orders are not served
        lam = self.liq_rate * (1.0 + 3.0 * np.abs(z)) * listed
        # Binance pushes at most the latest forced order per symbol per second on the all-market stream
        hit = rng.random(n) < -np.expm1(-lam)
        for i in np.flatnonzero(hit):
            usd = float(np.exp(rng.normal(math.log(8_000.0), 1.3)))
            side = "SELL" if ret[i] < 0 else "BUY"
            px = float(p[i])
            e = t - 1000 + int(rng.integers(0, 1000))
            if not served[i]:
                continue
            if write:
                frames.append(
                    Frame(
                        "!forceOrder@arr",
                        e,
                        _force_order(self.symbols[i], e, side, usd / px, px, self.contracts[i]),
                    )
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
            for i in np.flatnonzero(served)
        ]
        if extra_marks:
            marks.extend(extra_marks)
        frames.append(Frame("!markPrice@arr@1s", t, "[" + ",".join(marks) + "]"))
        sec = (t // 1000) % 60
        if t % _MIN_MS == 0:
            frames.extend(self._close_minute(t))
        else:
            for i in np.flatnonzero(served & (np.arange(n) % _FORMING_EVERY_S == sec % _FORMING_EVERY_S)):
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
        f = self.contracts[i].price
        payload = (
            f'{{"e":"kline","E":{t},"s":"{sym}","k":{{"t":{open_t},"T":{open_t + _MIN_MS - 1},"s":"{sym}",'
            f'"i":"1m","f":0,"L":0,"o":"{f(self.bar_o[i])}","c":"{f(c)}","h":"{f(self.bar_h[i])}",'
            f'"l":"{f(self.bar_l[i])}","v":"{v:.6g}","n":{int(v > 0)},"x":{"true" if closed else "false"},'
            f'"q":"{v * c:.4f}","V":"{buy:.6g}","Q":"{buy * c:.4f}","B":"0"}}}}'
        )
        return Frame(f"{sym.lower()}@kline_1m", t, payload)

    def _close_minute(self, t: int, write: bool = True) -> list[Frame]:
        listed = self.listed
        served = listed & ~self.muted
        frames = [self._kline_frame(int(i), t, closed=True) for i in np.flatnonzero(served)] if write else []
        bar = np.column_stack(
            [np.full(len(self.symbols), t - _MIN_MS, float), self.bar_o, self.bar_h, self.bar_l, self.price,
             self.bar_v, self.oi]
        )  # fmt: skip
        bar[~served, 1:] = np.nan  # a muted symbol's minutes are the full simulator's, not served from here
        self._live_bars.append(bar)
        if len(self._live_bars) > 24 * 60:
            self._live_bars.pop(0)
        self.bar_o = self.price.copy()
        self.bar_h = self.price.copy()
        self.bar_l = self.price.copy()
        self.bar_v = np.zeros(len(self.symbols))
        self.bar_buy = np.zeros(len(self.symbols))
        return frames


def _force_order(sym: str, E: int, side: str, qty: float, price: float, contract: Contract) -> str:
    q = f"{qty:.6g}"
    p = contract.price(price)
    return (
        f'{{"e":"forceOrder","E":{E},"o":{{"s":"{sym}","S":"{side}","o":"LIMIT","f":"IOC","q":"{q}",'
        f'"p":"{p}","ap":"{p}","X":"FILLED","l":"{q}","z":"{q}","T":{E}}}}}'
    )


# -- a light symbol opened in full -------------------------------------------------------------------------
#: The full simulator's reference market (the default :class:`SimConfig`, a BTC-like one): its price level and
#: about the open interest (USD) its crowd holds. A light symbol's full market is this one scaled: prices to
#: the symbol's level, every USD amount (new positions, cascade impact, the dust threshold) to its size.
REF_PRICE = 72_000.0
REF_OI_USD = 5.8e9
_REF = SimConfig()
_MAX_PASSES = 4
_ANCHOR_REL = 1e-9


def symbol_seed(seed: int, symbol: str) -> int:
    """The full simulator's seed of ``symbol`` in the demo of ``seed`` (stable across runs and machines)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.blake2b(f"liqtui-light/{seed}/{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class FullSim(MarketSim):
    """:class:`MarketSim` for a light symbol: its own :class:`Contract` (trade, kline and forced-order prices on
    its tick, quantities on its step), trade sizes scaled by ``qty_scale`` (the reference market's trades are
    BTC-sized) and a dust threshold of ``dust_usd`` (the reference's $1,000 scaled with the market's size), so
    every USD amount of the market scales together and its path is the reference path at another level."""

    def __init__(
        self,
        seed: int,
        *,
        start_ms: int,
        history_days: float,
        config: SimConfig,
        contract: Contract,
        qty_scale: float,
        dust_usd: float,
    ) -> None:
        self.contract = contract
        self.qty_scale = qty_scale
        self._dust_usd = dust_usd
        super().__init__(seed, start_ms=start_ms, history_days=history_days, config=config)

    def _generate_history(self) -> None:
        self.book.min_usd = self._dust_usd  # before the first position opens
        super()._generate_history()

    @property
    def price(self) -> float:
        """Last traded price (on the contract's tick)."""
        return self.contract.round_price(math.exp(self._x))

    def _trade_frames(self, trades: list[tuple[int, float, float, bool]]) -> list[payloads.Frame]:
        c = self.contract
        stream = f"{self._sym_l}@aggTrade"
        frames = []
        for T, price, ref_qty, buy in trades:
            price = c.round_price(price)
            qty = max(c.step, round(ref_qty * self.qty_scale / c.step) * c.step)
            ntr = 1 + int(ref_qty > 1.0) + int(ref_qty > 5.0)  # as many fills as the reference trade had
            first = self._trade_id + 1
            self._trade_id += ntr
            self._agg_id += 1
            self._forming.add(price, qty, buy, first, self._trade_id)
            payload = payloads.agg_trade(
                self.symbol, T + 2, self._agg_id, price, qty, first, self._trade_id, T, not buy, contract=c
            )
            frames.append(payloads.Frame(stream, T + 2, payload))
        return frames

    def _force_order_frame(self, t: int, hit: tuple[int, Liquidated]) -> payloads.Frame:
        off, h = hit
        cohort, side, liq_price, qty = h.cohort, h.side, h.price, h.qty
        _, k, entry, _, _, _ = self.book.cohorts[cohort]
        tier = self.config.tiers[k]
        bankrupt = entry * (1 - side / tier.leverage)
        fill = liq_price * (1 - side * 0.0003)
        T = t + off
        payload = payloads.force_order(
            self.symbol,
            T + 5,
            "SELL" if side == LONG else "BUY",
            qty,
            bankrupt,
            fill,
            T,
            contract=self.contract,
        )
        return payloads.Frame(f"{self._sym_l}@forceOrder", T + 5, payload)

    def _kline_frame(self, closed: bool) -> payloads.Frame:
        b = self._forming
        if b.n == 0:
            b.o = b.h = b.l = b.c = self.price
        E = self.now_ms + 1
        payload = payloads.kline(
            self.symbol, E, b.t, "1m", MINUTE_MS, b.first, b.last, b.o, b.c, b.h, b.l, b.v, b.n, closed, b.q,
            b.tbv, b.tbq, contract=self.contract,
        )  # fmt: skip
        return payloads.Frame(f"{self._sym_l}@kline_1m", E, payload)


def anchored_sim(
    seed: int,
    symbol: str,
    *,
    price: float,
    oi_usd: float,
    annual_vol: float,
    now_ms: int,
    contract: Contract | None = None,
    history_days: float = 183.0,
) -> FullSim:
    """The full market of light ``symbol``, seeded from ``(seed, symbol)``, whose mark is ``price`` and open
    interest ``oi_usd`` at ``now_ms`` (a market second: the history ends at its minute, the seconds up to it
    are simulated): the heatmap opens where the radar row was.

    The reference market scales exactly (every price by one factor, every USD amount by another: the same
    path), so a first pass finds where the seed's path ends and the second starts it at the level and size
    that end at ``price`` and ``oi_usd`` (a further pass only if rounding made a difference)."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be finite and > 0, got {price!r}")
    if not (math.isfinite(oi_usd) and oi_usd > 0):
        raise ValueError(f"oi_usd must be finite and > 0, got {oi_usd!r}")
    sim_seed = symbol_seed(seed, symbol)
    c = contract or contract_for(price, step_usd=_step_usd(oi_usd))
    level, size = price, oi_usd / REF_OI_USD
    sim: FullSim | None = None
    for _ in range(_MAX_PASSES):
        cfg = msgspec.structs.replace(
            _REF,
            symbol=symbol,
            price=level,
            annual_vol=annual_vol,
            open_musd_per_h=_REF.open_musd_per_h * size,
            impact_per_musd=_REF.impact_per_musd / size,
            volume_per_min=_REF.volume_per_min * REF_PRICE / price * size,
        )
        sim = FullSim(
            sim_seed,
            start_ms=now_ms - now_ms % MINUTE_MS,
            history_days=history_days,
            config=cfg,
            contract=c,
            qty_scale=REF_PRICE / price * size,
            dust_usd=1_000.0 * size,
        )
        sim.advance(now_ms)
        mark, oi = sim.mark, sim.open_interest() * sim.mark
        if abs(mark / price - 1.0) < _ANCHOR_REL and abs(oi / oi_usd - 1.0) < 1e-6:
            break
        level *= price / mark
        size *= oi_usd / oi if oi > 0 else 1.0
    assert sim is not None
    return sim
