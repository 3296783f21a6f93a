"""A seeded market simulator with a known truth, for the demo exchange, the tests and the scorecard.

What it simulates (all reproducible from ``seed`` and ``start_ms``):

* **Price**: log-price with a slow pull to ``SimConfig.price`` and stochastic volatility (log-volatility is
  an Ornstein-Uhlenbeck process, kicked up after cascades: volatility clustering). Each step draws its
  return and its high/low exactly from the Brownian-bridge extreme distribution.
* **Positions** (the truth, :class:`~liqtui.sim.book.PositionBook`): every step the crowd opens long and
  short cohorts in several leverage tiers at entries inside the step's range (more longs when takers buy);
  cohorts close gradually (shorter lifetimes for higher leverage), so open interest rises and falls.
* **Liquidations and cascades**: when the price reaches a cohort's true liquidation price (Binance isolated
  formula with the maintenance bracket of the tier's typical position), the remainder is force-closed; the
  forced orders push the price further (``impact_per_musd``), which can reach more levels: a cascade.
* **Flow and funding**: volume and taker-buy share follow volatility and direction (forced orders are taker
  flow); the funding rate follows the long/short imbalance; mark and index carry a small basis.
* **History**: on construction the past is generated at mixed resolution (coarse far back, 1 minute over
  the last day; ``SimConfig.resolution``) so that every lookback from 12h to 6M has structure at once.
  Then :meth:`MarketSim.advance` runs the present second by second and returns Binance stream frames.

Truth for tests: :meth:`MarketSim.true_levels` and :attr:`MarketSim.realized` (every realized liquidation;
the forceOrder stream, like Binance's, carries at most one per second), with
:attr:`MarketSim.realized_opened_ms` (when each liquidated position had been opened).
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from dataclasses import dataclass

import msgspec
import numpy as np

from liqtui.core.events import Candle, Liquidation, MarketEvent, OpenInterest, PositionSide, Venue
from liqtui.sim import payloads
from liqtui.sim.bars import INTERVALS_MS, MINUTE_MS, Bars, BarStore, ceil_to, floor_to
from liqtui.sim.book import LONG, SHORT, Liquidated, PositionBook, Tier
from liqtui.sim.leverage import liquidation_factor

__all__ = ["DEFAULT_PRICES", "DEFAULT_TIERS", "MarketSim", "SimConfig", "Tier", "TrueLevels"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_YEAR_S = 365.0 * 86_400.0
_FUNDING_MS = 8 * HOUR_MS
_MEAN_TRADE_QTY = 0.2  # BTC; the lognormal below has this mean
_QTY_MU, _QTY_SIGMA = math.log(_MEAN_TRADE_QTY) - 0.72, 1.2

DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(leverage=100, weight=0.03, lifetime_h=6, position_usd=10_000),
    Tier(leverage=50, weight=0.07, lifetime_h=12, position_usd=40_000),
    Tier(leverage=25, weight=0.15, lifetime_h=24, position_usd=100_000),
    Tier(leverage=20, weight=0.15, lifetime_h=36, position_usd=200_000),
    Tier(leverage=10, weight=0.30, lifetime_h=72, position_usd=400_000),
    Tier(leverage=5, weight=0.18, lifetime_h=168, position_usd=1_500_000),
    Tier(leverage=3, weight=0.12, lifetime_h=336, position_usd=4_000_000),
)


#: Starting price level per instrument (others start at ``SimConfig.price``).
DEFAULT_PRICES: dict[str, float] = {"BTCUSDT": 72_000.0, "ETHUSDT": 3_500.0, "SOLUSDT": 160.0}


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every knob of the simulated market, with defaults giving a BTC-like market."""

    symbol: str = "BTCUSDT"
    price: float = 72_000.0  # level the price is (weakly) pulled back to; also the start of the history
    annual_vol: float = 0.45  # of the diffusion; cascades add to the realized volatility (~0.6)
    vol_of_vol: float = 0.55  # stationary std of the log-volatility
    vol_halflife_h: float = 8.0
    vol_kick: float = 10.0  # log-vol added per unit of log cascade extension
    reversion_days: float = 30.0
    impact_per_musd: float = 0.00003  # log-price pushed per $1M force-closed
    cascade_persist: float = 0.6  # share of a cascade's extension that stays in the close
    max_cascade_pct: float = 6.0
    open_musd_per_h: float = 40.0  # gross new notional per side and hour at normal activity
    crowd_halflife_h: float = 8.0
    crowd_vol: float = 0.5
    volume_per_min: float = 90.0  # base units traded per minute at normal activity (history bars)
    trades_per_s: float = 4.0  # random aggTrades per second (live), plus the path's extremes and close
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    cohorts_per_side: int = 3  # new cohorts per side and step, tiers drawn by weight; 0 = one per tier
    # (maximum age in days, step in seconds), newest first; steps must divide each other
    resolution: tuple[tuple[float, int], ...] = ((0.5, 60), (7.0, 900), (30.0, 3600), (1e9, 14_400))

    def for_symbol(self, symbol: str) -> SimConfig:
        """This configuration for another instrument, at that instrument's usual price level."""
        return msgspec.structs.replace(self, symbol=symbol, price=DEFAULT_PRICES.get(symbol, self.price))

    def __post_init__(self) -> None:
        if not (self.symbol.isalnum() and self.symbol.isupper()):
            raise ValueError(f"symbol must be an uppercase instrument name like BTCUSDT, got {self.symbol!r}")
        if self.price <= 0 or self.annual_vol <= 0:
            raise ValueError("price and annual_vol must be positive")
        if not self.tiers:
            raise ValueError("at least one leverage tier is required")
        if not 0 <= self.cohorts_per_side <= 64:
            raise ValueError(f"cohorts_per_side must be within 0..64, got {self.cohorts_per_side}")
        steps = [s for _, s in self.resolution]
        if not steps or steps[0] != 60 or any(b % a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"resolution steps must start at 60 s and each divide the next, got {steps}")


class TrueLevels(msgspec.Struct, frozen=True):
    """Standing true liquidation levels of one side: ``price`` ascending and open ``usd`` at each."""

    side: PositionSide
    price: np.ndarray
    usd: np.ndarray

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """USD per price bucket (``len(edges) - 1`` buckets)."""
        out, _ = np.histogram(self.price, bins=edges, weights=self.usd)
        return out

    @property
    def total_usd(self) -> float:
        return float(self.usd.sum())


@dataclass(slots=True)
class _Forming:
    """The live 1-minute bar being built from the trades of the current minute."""

    t: int
    o: float = 0.0
    h: float = 0.0
    l: float = 0.0
    c: float = 0.0
    v: float = 0.0
    q: float = 0.0
    n: int = 0
    tbv: float = 0.0
    tbq: float = 0.0
    first: int = -1
    last: int = -1

    def add(self, price: float, qty: float, taker_buy: bool, tid0: int, tid1: int) -> None:
        if self.n == 0:
            self.o = self.h = self.l = price
            self.first = tid0
        self.h, self.l, self.c = max(self.h, price), min(self.l, price), price
        self.v += qty
        self.q += qty * price
        self.n += tid1 - tid0 + 1
        self.last = tid1
        if taker_buy:
            self.tbv += qty
            self.tbq += qty * price


class MarketSim:
    """The simulated market: history on construction, then :meth:`advance` second by second.

    ``start_ms`` (default: now, floored to the minute) is where the history ends and the live market starts.
    The market is a function of ``seed``, ``start_ms``, ``history_days`` and ``config``: the history is simulated
    forward from ``history_days`` ago, so the same seed with a different ``history_days`` is another market (the
    demo must pass the same ``history_days`` whatever lookback it shows).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        start_ms: int | None = None,
        history_days: float = 183,
        config: SimConfig | None = None,
    ) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not (0 <= history_days <= 400):
            raise ValueError(f"history_days must be within 0..400, got {history_days!r}")
        self.seed = seed
        self.config = config or SimConfig()
        cfg = self.config
        self.symbol = cfg.symbol
        self._sym_l = cfg.symbol.lower()
        start = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self.start_ms = floor_to(start, MINUTE_MS)
        self.history_days = history_days
        self.book = PositionBook(cfg.tiers)
        self.store = BarStore(seed)
        self.realized: list[Liquidation] = []
        self.realized_opened_ms: list[int] = []  # when each realized position was opened (parallel list)
        self._factors = self._liq_factors()
        total_w = sum(t.weight for t in self.config.tiers)
        self._weights = [t.weight / total_w for t in self.config.tiers]
        self._cum_weights = list(itertools.accumulate(self._weights))
        # state of the processes
        self._x = math.log(cfg.price)
        self._x_bar = math.log(cfg.price)
        self._h = 0.0  # log-volatility deviation
        self._g = 0.0  # crowd (opening activity) deviation
        self._basis = 0.0
        self._agg_id = 1_000_000
        self._trade_id = 5_000_000
        self.now_ms = self._anchor_ms
        self._generate_history()
        self._fill_minutes(self.start_ms, np.random.default_rng([seed, 3]))
        self._live_rng = np.random.default_rng([seed, 1])
        self._ff_rng = np.random.default_rng([seed, 2])
        self._forming = _Forming(t=self.now_ms, o=self.price, h=self.price, l=self.price, c=self.price)
        self.mark = self.index = self.price
        self.funding_rate = 0.0001
        self._update_mark(0.0)

    # -- public state ------------------------------------------------------------------------------------
    @property
    def price(self) -> float:
        """Last traded price (on the tick)."""
        return payloads.tick_round(math.exp(self._x))

    @property
    def history_start_ms(self) -> int:
        """Open time of the first bar (the live start when there is no history)."""
        return self.store.start_ms if len(self.store) else self.now_ms

    def open_interest(self) -> float:
        """Open interest in base units (one side: the mean of the long and short open quantity)."""
        return 0.5 * (self.book.open_qty(LONG) + self.book.open_qty(SHORT))

    @property
    def next_funding_ms(self) -> int:
        return floor_to(self.now_ms, _FUNDING_MS) + _FUNDING_MS

    def true_levels(
        self, side: PositionSide | int | str, *, since_ms: int | None = None, tier: int | None = None
    ) -> TrueLevels:
        """Standing true liquidation notional of one side (``long`` levels sit below the price).

        ``since_ms``: only positions opened at or after it (the truth a lookback window shows); ``tier``: only
        positions of ``config.tiers[tier]``."""
        ps = PositionSide.from_str(side) if isinstance(side, str) else PositionSide(int(side))
        if tier is not None and not 0 <= tier < len(self.config.tiers):
            raise ValueError(f"tier must be within 0..{len(self.config.tiers) - 1}, got {tier!r}")
        prices, usd = self.book.levels(int(ps), self.now_ms, since_ts=since_ms, tier=tier)
        return TrueLevels(side=ps, price=prices, usd=usd)

    # -- history -----------------------------------------------------------------------------------------
    @property
    def _anchor_ms(self) -> int:
        """Where the generated history ends: the start floored to the coarsest step. Every anchor gives the
        same schedule, so a seed gives the same market whatever the start; the gap to the start is filled
        with 1-minute bars (:meth:`_fill_minutes`)."""
        return floor_to(self.start_ms, self.config.resolution[-1][1] * 1000)

    def _schedule(self) -> list[tuple[int, int, int]]:
        """(first bar open ms, step ms, number of steps), oldest segment first."""
        res = self.config.resolution
        oldest_step = res[-1][1] * 1000
        anchor = self._anchor_ms
        hist_start = floor_to(anchor - int(self.history_days * DAY_MS), oldest_step)
        segs: list[tuple[int, int, int]] = []
        end = anchor
        for i, (age_d, step_s) in enumerate(res):
            step = step_s * 1000
            align = res[i + 1][1] * 1000 if i + 1 < len(res) else step
            b = max(hist_start, floor_to(anchor - int(age_d * DAY_MS), align))
            if b < end:
                segs.append((b, step, (end - b) // step))
                end = b
            if end <= hist_start:
                break
        return segs[::-1]

    def _generate_history(self) -> None:
        segs = self._schedule()
        rng = np.random.default_rng([self.seed, 0])
        if not segs:  # no past: start with the standing population open interest would have
            self._seed_population(self.now_ms, rng)
            return
        ts = np.concatenate([s + st * np.arange(n, dtype=np.int64) for s, st, n in segs])
        dur = np.concatenate([np.full(n, st, dtype=np.int64) for _, st, n in segs])
        self._seed_population(int(ts[0]), rng)
        z = rng.standard_normal((ts.size, 5)).tolist()
        u = (1.0 - rng.random((ts.size, 4))).tolist()
        nz, nu = self._cohort_draws()
        cz = rng.standard_normal((ts.size, nz)).tolist()
        cu = rng.random((ts.size, nu)).tolist()
        rows = np.empty((ts.size, 10))
        for i, (t, d) in enumerate(zip(ts.tolist(), dur.tolist())):
            rows[i] = self._bar_step(t, d, z[i], u[i], cz[i], cu[i])
        o, h, lo, c, v, q, n, tbv, tbq, oi = rows.T
        self.store.extend(
            ts=ts, dur=dur, o=o, h=h, l=lo, c=c, v=v, q=q, n=n.astype(np.int64), tbv=tbv, tbq=tbq, oi=oi
        )

    def _seed_population(self, t0: int, rng: np.random.Generator) -> None:
        """Positions already open when the history starts (so open interest starts at its equilibrium)."""
        cfg, p0 = self.config, math.exp(self._x)
        per_ms = cfg.open_musd_per_h * 1e6 / HOUR_MS
        self.book.advance(t0)
        for side in (LONG, SHORT):
            for k, tier in enumerate(cfg.tiers):
                tau = tier.lifetime_h * HOUR_MS
                n = 16
                qty_each = per_ms * tier.weight * tau / p0 / n
                ages = np.minimum(rng.exponential(tau, n), 4 * tau)
                moves = cfg.annual_vol * np.sqrt(ages / 1000 / _YEAR_S) * rng.standard_normal(n)
                for age, mv in zip(ages.tolist(), moves.tolist()):
                    entry = p0 * math.exp(mv)
                    liq = entry * self._factors[0 if side == LONG else 1][k]
                    if (side == LONG and liq >= p0) or (side == SHORT and liq <= p0):
                        continue
                    self.book.open(side, k, entry, liq, qty_each * math.exp(age / tau), t0 - int(age))

    # -- one step ----------------------------------------------------------------------------------------
    def _move(
        self, dt_s: float, z_vol: float, z_ret: float, z_crowd: float, u_hi: float, u_lo: float
    ) -> tuple[float, ...]:
        """Advance volatility and crowd activity; return (step sigma, log return, high and low excursion)."""
        cfg = self.config
        a = math.exp(-dt_s * math.log(2) / (cfg.vol_halflife_h * 3600))
        self._h = a * self._h + cfg.vol_of_vol * math.sqrt(1 - a * a) * z_vol
        a_g = math.exp(-dt_s * math.log(2) / (cfg.crowd_halflife_h * 3600))
        self._g = a_g * self._g + cfg.crowd_vol * math.sqrt(1 - a_g * a_g) * z_crowd
        sig = cfg.annual_vol * math.exp(self._h - 0.5 * cfg.vol_of_vol**2) * math.sqrt(dt_s / _YEAR_S)
        drift = -(self._x - self._x_bar) * dt_s / (cfg.reversion_days * 86_400)
        r = drift + sig * z_ret
        hi = 0.5 * (r + math.sqrt(r * r - 2 * sig * sig * math.log(u_hi)))
        lo = 0.5 * (r - math.sqrt(r * r - 2 * sig * sig * math.log(u_lo)))
        return sig, r, hi, lo

    def _cascade(self, side: int, x: float, ts: int) -> tuple[float, float, list[Liquidated]]:
        """Liquidate ``side`` at log-price ``x`` and follow the cascade its forced orders cause.

        Returns (final log-price, log extension pushed, the force-closed cohorts); records the truth."""
        cfg = self.config
        cap = math.log1p(cfg.max_cascade_pct / 100)
        pushed = 0.0
        found: list[Liquidated] = []
        for _ in range(64):
            hits = self.book.liquidate(side, math.exp(x), ts)
            if not hits:
                break
            found.extend(hits)
            push = min(cfg.impact_per_musd * sum(h.usd for h in hits) / 1e6, cap - pushed)
            if push <= 1e-12:
                break
            pushed += push
            x -= side * push
        for h in found:
            self.realized_opened_ms.append(h.opened_ts)
            self.realized.append(
                Liquidation(
                    venue=Venue.BINANCE,
                    symbol=self.symbol,
                    ts=ts,
                    recv_ts=ts,
                    side=PositionSide(h.side),
                    price=h.price,
                    qty=h.qty,
                    usd=h.usd,
                )
            )
        if pushed:
            self._h = min(2.5, self._h + min(0.3, cfg.vol_kick * pushed))
        return x, pushed, found

    def _path(
        self, t: int, dur: int, r: float, hi: float, lo: float, up_first: bool, u_a: float, u_b: float
    ) -> tuple[list[tuple[int, float]], float, list[tuple[int, Liquidated]]]:
        """Walk open → first extreme → second extreme → close with cascades at both extremes.

        Returns (knots [(ms offset, log-price)], log close, [(ms offset, liquidated cohort)])."""
        persist = self.config.cascade_persist
        x0 = self._x
        ta, tb = int(dur * (0.1 + 0.35 * u_a)), int(dur * (0.55 + 0.35 * u_b))
        order = ((SHORT, x0 + hi), (LONG, x0 + lo)) if up_first else ((LONG, x0 + lo), (SHORT, x0 + hi))
        shift = 0.0
        knots: list[tuple[int, float]] = [(0, x0)]
        hits: list[tuple[int, Liquidated]] = []
        for (side, x_ext), t_off in zip(order, (ta, tb)):
            x_new, pushed, found = self._cascade(side, x_ext + shift, t + t_off)
            hits.extend((t_off, h) for h in found)
            knots.append((t_off, x_new))
            shift -= side * pushed * persist
        xs = [k[1] for k in knots]
        xc = min(max(x0 + r + shift, min(xs)), max(xs))
        knots.append((dur - 1, xc))
        return knots, xc, hits

    def _bar_step(
        self, t: int, dur: int, z: list[float], u: list[float], cz: list[float], cu: list[float]
    ) -> tuple[float, ...]:
        """One history bar: price path with cascades, flow, new cohorts; returns the bar's row."""
        cfg = self.config
        self.book.advance(t)
        sig, r, hi, lo = self._move(dur / 1000, z[0], z[1], z[4], u[0], u[1])
        knots, xc, hits = self._path(t, dur, r, hi, lo, u[2] < 0.5, u[3], 1 - u[3])
        xs = [k[1] for k in knots]
        o, c = math.exp(self._x), math.exp(xc)
        h, lw = math.exp(max(xs)), math.exp(min(xs))
        self._x = xc
        act = math.exp(self._h - 0.5 * cfg.vol_of_vol**2)
        v_norm = cfg.volume_per_min * dur / MINUTE_MS * act * math.exp(0.3 * z[2] - 0.045)
        share = min(0.95, max(0.05, 0.5 + 0.3 * math.tanh(r / sig) + 0.04 * z[3]))
        typ = (o + h + lw + c) / 4
        f_qty = sum(x.qty for _, x in hits)
        f_usd = sum(x.usd for _, x in hits)
        s_qty = sum(x.qty for _, x in hits if x.side == SHORT)  # forced buys (shorts closed) are taker buys
        s_usd = sum(x.usd for _, x in hits if x.side == SHORT)
        row = (
            o,
            h,
            lw,
            c,
            v_norm + f_qty,
            v_norm * typ + f_usd,
            round(v_norm / _MEAN_TRADE_QTY) + len(hits),
            share * v_norm + s_qty,
            share * v_norm * typ + s_usd,
        )
        t_end = t + dur
        self.book.advance(t_end)
        self._open_cohorts(t_end, dur, lw, h, share, act, cz, cu)
        return (*row, self.open_interest())

    def _cohort_draws(self) -> tuple[int, int]:
        """How many normal and uniform random numbers one step's cohort opening uses."""
        m, nt = self.config.cohorts_per_side, len(self.config.tiers)
        return (2 * nt, 2 * nt) if m == 0 else (2 * m, 4 * m)

    def _open_cohorts(
        self,
        ts: int,
        dur: int,
        low: float,
        high: float,
        share: float,
        act: float,
        cz: list[float],
        cu: list[float],
    ) -> None:
        """New positions of one step, entered inside [low, high]: one cohort per tier and side, or
        (``cohorts_per_side`` = m > 0) m cohorts per side in tiers drawn by weight (same expected mix)."""
        cfg = self.config
        base = cfg.open_musd_per_h * 1e6 * dur / HOUR_MS * math.exp(self._g) * (0.5 + 0.5 * act)
        tilt = 0.5 + 0.6 * (share - 0.5)
        m = cfg.cohorts_per_side
        nt = len(cfg.tiers)
        span = high - low
        for si, (side, side_usd) in enumerate(((LONG, base * 2 * tilt), (SHORT, base * 2 * (1 - tilt)))):
            f = self._factors[si]
            if m == 0:
                tiers = list(range(nt))
                usd = [side_usd * w for w in self._weights]
                entries = [low + span * cu[si * nt + k] for k in tiers]
                sizes = [math.exp(0.3 * cz[si * nt + k] - 0.045) for k in tiers]
            else:
                tiers = [
                    min(nt - 1, bisect.bisect_right(self._cum_weights, cu[(2 * si + 1) * m + j]))
                    for j in range(m)
                ]
                usd = [side_usd / m] * m
                entries = [low + span * cu[2 * si * m + j] for j in range(m)]
                sizes = [math.exp(0.3 * cz[si * m + j] - 0.045) for j in range(m)]
            qtys = [u * z / e for u, z, e in zip(usd, sizes, entries)]
            self.book.open_many(side, tiers, entries, [e * f[k] for e, k in zip(entries, tiers)], qtys, ts)

    def _liq_factors(self) -> tuple[list[float], list[float]]:
        """Liquidation price / entry price per tier, for longs and for shorts."""
        tiers = self.config.tiers
        longs = [liquidation_factor(LONG, t.leverage, t.position_usd, self.symbol) for t in tiers]
        shorts = [liquidation_factor(SHORT, t.leverage, t.position_usd, self.symbol) for t in tiers]
        return longs, shorts

    # -- live --------------------------------------------------------------------------------------------
    def advance(self, until_ms: int) -> list[payloads.Frame]:
        """Run the live market in 1-second steps up to ``until_ms``; return its frames in time order."""
        frames: list[payloads.Frame] = []
        while self.now_ms + 1000 <= until_ms:
            frames.extend(self._second())
        return frames

    def fast_forward(self, until_ms: int) -> None:
        """Run the market up to ``until_ms`` in 1-minute bar steps, without stream frames (fast: for the
        scorecard and tests; the truth, bars and open interest evolve as in :meth:`advance`). The current
        minute is first finished second by second; frames are not produced."""
        self.advance(min(until_ms, ceil_to(self.now_ms, MINUTE_MS)))
        if self.now_ms % MINUTE_MS or self.now_ms + MINUTE_MS > until_ms:
            self.advance(until_ms)
            return
        self._fill_minutes(floor_to(until_ms, MINUTE_MS), self._ff_rng)
        p = self.price
        self._forming = _Forming(t=self.now_ms, o=p, h=p, l=p, c=p)
        self._update_mark(0.0)
        self.advance(until_ms)

    def _fill_minutes(self, until_ms: int, rng: np.random.Generator) -> None:
        """Closed 1-minute bars (history-style steps) from ``now_ms`` (minute-aligned) up to ``until_ms``."""
        n = max(0, (until_ms - self.now_ms) // MINUTE_MS)
        if n == 0:
            return
        nz, nu = self._cohort_draws()
        for _ in range(n):  # draws minute by minute: a longer fill starts exactly like a shorter one
            zs, us = rng.standard_normal(5 + nz).tolist(), rng.random(4 + nu).tolist()
            t = self.now_ms
            o, h, lw, c, v, q, cnt, tbv, tbq, oi = self._bar_step(
                t, MINUTE_MS, zs[:5], [1.0 - x for x in us[:4]], zs[5:], us[4:]
            )
            self.store.append(
                ts=t, dur=MINUTE_MS, o=o, h=h, l=lw, c=c, v=v, q=q, n=int(cnt), tbv=tbv, tbq=tbq, oi=oi
            )
            self.now_ms = t + MINUTE_MS

    def _second(self) -> list[payloads.Frame]:
        """One live second: path with cascades, trades, forced orders, kline and mark updates."""
        rng = self._live_rng
        cfg, t = self.config, self.now_ms
        z = rng.standard_normal(4).tolist()
        u = (1.0 - rng.random(5)).tolist()
        self.book.advance(t)
        _, r, hi, lo = self._move(1.0, z[0], z[1], z[3], u[0], u[1])
        knots, xc, hits = self._path(t, 1000, r, hi, lo, u[2] < 0.5, u[3], u[4])
        self._x = xc
        act = math.exp(self._h - 0.5 * cfg.vol_of_vol**2)
        trades = self._trades(t, knots, act, rng)
        trades.extend((t + off, h.price, h.qty, h.side == SHORT) for off, h in hits)
        trades.sort(key=lambda tr: tr[0])
        frames = self._trade_frames(trades)
        if hits:  # Binance pushes at most one liquidation per symbol and second: the latest
            frames.append(self._force_order_frame(t, hits[-1]))
        self.now_ms = t + 1000
        self._update_mark(z[2])
        closed = self.now_ms % MINUTE_MS == 0
        frames.append(self._kline_frame(closed))
        frames.append(
            payloads.Frame(
                f"{self._sym_l}@markPrice@1s",
                self.now_ms,
                payloads.mark_price(
                    self.symbol,
                    self.now_ms,
                    self.mark,
                    self.index,
                    self.index,
                    self.funding_rate,
                    self.next_funding_ms,
                ),
            )
        )
        if closed:
            self._close_minute(act, rng)
        frames.sort(key=lambda f: f.E)
        return frames

    def _trades(
        self, t: int, knots: list[tuple[int, float]], act: float, rng: np.random.Generator
    ) -> list[tuple[int, float, float, bool]]:
        """Random trades along the second's path, plus one at each knot: (T, price, qty, taker_buy)."""
        n = int(rng.poisson(self.config.trades_per_s * act))
        offs = np.sort(rng.integers(0, 1000, n)).tolist()
        kt = [k[0] for k in knots]
        kx = [k[1] for k in knots]
        xs = np.interp(offs, kt, kx).tolist() if n else []
        qty = np.exp(_QTY_MU + _QTY_SIGMA * rng.standard_normal(n + len(knots) - 1)).tolist()
        flips = rng.random(n).tolist()
        out: list[tuple[int, float, float, bool]] = []
        for j, (off, x) in enumerate(zip(offs, xs)):
            seg = min(int(np.searchsorted(kt, off, side="right")), len(kt) - 1)
            up = kx[seg] >= kx[seg - 1]
            out.append((t + off, math.exp(x), qty[j], up if flips[j] < 0.75 else not up))
        for j in range(1, len(knots)):
            off, x = knots[j]
            out.append((t + off, math.exp(x), qty[n + j - 1], x >= knots[j - 1][1]))
        return out

    def _trade_frames(self, trades: list[tuple[int, float, float, bool]]) -> list[payloads.Frame]:
        stream = f"{self._sym_l}@aggTrade"
        frames = []
        for T, price, qty, buy in trades:
            price = payloads.tick_round(price)
            qty = max(0.001, round(qty, 3))
            ntr = 1 + int(qty > 1.0) + int(qty > 5.0)
            first = self._trade_id + 1
            self._trade_id += ntr
            self._agg_id += 1
            self._forming.add(price, qty, buy, first, self._trade_id)
            frames.append(
                payloads.Frame(
                    stream,
                    T + 2,
                    payloads.agg_trade(
                        self.symbol, T + 2, self._agg_id, price, qty, first, self._trade_id, T, not buy
                    ),
                )
            )
        return frames

    def _force_order_frame(self, t: int, hit: tuple[int, Liquidated]) -> payloads.Frame:
        off, h = hit
        _, k, entry, _, _, _ = self.book.cohorts[h.cohort]
        tier = self.config.tiers[k]
        bankrupt = entry * (1 - h.side / tier.leverage)
        fill = h.price * (1 - h.side * 0.0003)
        T = t + off
        return payloads.Frame(
            f"{self._sym_l}@forceOrder",
            T + 5,
            payloads.force_order(
                self.symbol, T + 5, "SELL" if h.side == LONG else "BUY", h.qty, bankrupt, fill, T
            ),
        )

    def _kline_frame(self, closed: bool) -> payloads.Frame:
        b = self._forming
        if b.n == 0:
            b.o = b.h = b.l = b.c = self.price
        E = self.now_ms + 1
        return payloads.Frame(
            f"{self._sym_l}@kline_1m",
            E,
            payloads.kline(
                self.symbol,
                E,
                b.t,
                "1m",
                MINUTE_MS,
                b.first,
                b.last,
                b.o,
                b.c,
                b.h,
                b.l,
                b.v,
                b.n,
                closed,
                b.q,
                b.tbv,
                b.tbq,
            ),
        )

    def _close_minute(self, act: float, rng: np.random.Generator) -> None:
        """The minute is over: store its bar, let the crowd open positions, start the next bar."""
        b = self._forming
        nz, nu = self._cohort_draws()
        cz = rng.standard_normal(nz).tolist()
        cu = rng.random(nu).tolist()
        share = b.tbv / b.v if b.v > 0 else 0.5
        self.book.advance(self.now_ms)
        self._open_cohorts(self.now_ms, MINUTE_MS, b.l, b.h, share, act, cz, cu)
        self.store.append(
            ts=b.t,
            dur=MINUTE_MS,
            o=b.o,
            h=b.h,
            l=b.l,
            c=b.c,
            v=b.v,
            q=b.q,
            n=b.n,
            tbv=b.tbv,
            tbq=b.tbq,
            oi=self.open_interest(),
        )
        p = self.price
        self._forming = _Forming(t=self.now_ms, o=p, h=p, l=p, c=p)

    def _update_mark(self, z: float) -> None:
        """Mark/index with a small mean-reverting basis; funding from the long/short imbalance."""
        a = math.exp(-1.0 / 600.0)
        self._basis = a * self._basis + 0.0003 * math.sqrt(1 - a * a) * z
        last = math.exp(self._x)
        self.index = last * (1 - self._basis)
        self.mark = last * (1 - 0.2 * self._basis)
        lq, sq = self.book.open_qty(LONG), self.book.open_qty(SHORT)
        imb = (lq - sq) / (lq + sq) if lq + sq > 0 else 0.0
        self.funding_rate = min(0.003, max(-0.003, 0.0001 + 0.0004 * math.tanh(3 * imb) + 0.3 * self._basis))

    # -- REST-side views ---------------------------------------------------------------------------------
    def forming_bar(self) -> Bars:
        """The current, not yet closed, 1-minute bar (Binance includes it as the last kline)."""
        b = self._forming
        p = self.price
        o, h, lw, c = (b.o, b.h, b.l, b.c) if b.n else (p, p, p, p)
        return Bars(
            ts=np.array([b.t]),
            dur=np.array([MINUTE_MS]),
            o=np.array([o]),
            h=np.array([h]),
            l=np.array([lw]),
            c=np.array([c]),
            v=np.array([b.v]),
            q=np.array([b.q]),
            n=np.array([b.n]),
            tbv=np.array([b.tbv]),
            tbq=np.array([b.tbq]),
            oi=np.array([self.open_interest()]),
        )

    def klines(
        self, interval: str, start: int | None = None, end: int | None = None, limit: int = 500
    ) -> Bars:
        """Bars as ``GET /fapi/v1/klines`` returns them: open time ≥ ``start``, ≤ ``end``, at most ``limit``;
        the latest ``limit`` up to ``end`` (or now) when ``start`` is absent. Includes the forming bar."""
        step = INTERVALS_MS[interval]
        a, b = _window(
            step,
            start,
            end,
            limit,
            first=floor_to(self.history_start_ms, step),
            last=floor_to(self.now_ms, step),
        )
        if a > b:
            return self.store.resample(step, 0, 0)
        return self.store.resample(step, a, b + step, extra=self.forming_bar())

    def oi_history(
        self,
        period_ms: int,
        start: int | None = None,
        end: int | None = None,
        limit: int = 30,
        max_age_days: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, open interest base, open interest USD) at multiples of ``period_ms`` up to now.

        ``max_age_days`` applies Binance's rule that only the last 30 days are served (older rows are cut)."""
        first = ceil_to(self.history_start_ms + MINUTE_MS, period_ms)
        if max_age_days is not None:
            first = max(first, ceil_to(self.now_ms - int(max_age_days * DAY_MS), period_ms))
        a, b = _window(period_ms, start, end, limit, first=first, last=floor_to(self.now_ms, period_ms))
        ts = np.arange(a, b + 1, period_ms, dtype=np.int64) if a <= b else np.empty(0, dtype=np.int64)
        oi = self.store.oi_at(ts)
        now_mask = ts >= self.store.end_ms
        oi[now_mask] = self.open_interest()
        bars = self.store.bars
        if len(bars) == 0:
            px = np.full(ts.size, self.price)
        else:
            px = np.interp(ts.astype(np.float64), (bars.ts + bars.dur).astype(np.float64), bars.c)
        px[now_mask] = self.price
        ok = ~np.isnan(oi)
        return ts[ok], oi[ok], oi[ok] * px[ok]

    def history_events(self, since_ms: int | None = None) -> list[MarketEvent]:
        """The stored bars as normalised events for an Engine: per bar, its closing open interest, then the
        closed candle (bars at their native, mixed resolution)."""
        b = self.store.bars
        if since_ms is not None:
            b = b.take(np.flatnonzero(b.ts >= since_ms))
        out: list[MarketEvent] = []
        for i in range(len(b)):
            close = int(b.ts[i] + b.dur[i])
            oi = float(b.oi[i])
            out.append(
                OpenInterest(
                    venue=Venue.BINANCE,
                    symbol=self.symbol,
                    ts=close - 1,
                    recv_ts=close - 1,
                    base=oi,
                    usd=oi * float(b.c[i]),
                )
            )
            out.append(
                Candle(
                    venue=Venue.BINANCE,
                    symbol=self.symbol,
                    ts=int(b.ts[i]),
                    recv_ts=close,
                    interval_s=int(b.dur[i]) // 1000,
                    open=float(b.o[i]),
                    high=float(b.h[i]),
                    low=float(b.l[i]),
                    close=float(b.c[i]),
                    volume=float(b.v[i]),
                    quote_volume=float(b.q[i]),
                    taker_buy_volume=float(b.tbv[i]),
                    taker_buy_quote=float(b.tbq[i]),
                    closed=True,
                )
            )
        return out


def _window(
    step: int, start: int | None, end: int | None, limit: int, *, first: int, last: int
) -> tuple[int, int]:
    """Binance paging: the aligned open times [a, b] a request selects (``a > b`` when empty)."""
    if start is not None and end is not None and start > end:
        raise ValueError("Start time is greater than end time.")
    b = last if end is None else min(last, floor_to(end, step))
    if start is not None:
        a = max(first, ceil_to(start, step))
        b = min(b, a + (limit - 1) * step)
    else:
        a = max(first, b - (limit - 1) * step)
    return a, b
