"""The map measured against the truth: the model's standing estimate against the simulator's true positions.

The realized-notional score (:mod:`liqtui.sim.scorecard`) asks where price went next; this one asks whether the
map itself is right. Per side and lookback it compares the model's standing profile (``HeatModel.profile``) and
its top zones (``HeatModel.zones``) with the positions the simulator really holds (``MarketSim.true_levels``),
restricted to the positions opened within the lookback (what a lookback claims to show):

* ``corr``: Pearson correlation of estimated vs true USD per measurement bucket (:data:`MEASURE_BUCKET_PCT`
  of price, log-spaced from the price outwards) within :data:`WINDOW_PCT` of the price on the side's own side
  of it (longs below, shorts above);
* ``recall``: the share of the true five biggest clusters whose peak lies inside one of the top-5 zones of the
  same side. The true clusters are cut from the true profile by the very function that cuts the model's zones
  (:func:`liqtui.core.zones.find_zones`, ranked by USD, with the model's zone settings);
* ``emd_pct``: the earth mover's distance between the two profiles normalised to 1 within the window, in %
  of price (how far, on average, estimated mass must move to sit where the true mass sits);

each beside a **naive baseline**: today's open interest, opened at today's price, spread over the model's own
leverage tiers and weights (so the baseline knows the tiers and the liquidation formula, but no history).

Only the model's public API is used (``profile``, ``zones``, ``grid.edges``, ``grid.centers``, ``step_many``,
``config``) plus :func:`liqtui.sim.scorecard.model_bars`. Pure numpy + msgspec.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from liqtui.core.events import PositionSide
from liqtui.core.zones import Zone, ZoneReport, find_zones

if TYPE_CHECKING:
    from liqtui.core.model import HeatModel
    from liqtui.sim.market import MarketSim

__all__ = [
    "DISTANCE_BANDS_PCT",
    "MEASURE_BUCKET_PCT",
    "TRUTH_LOOKBACKS",
    "WINDOW_PCT",
    "SideTruth",
    "TruthCard",
    "demo_truth",
    "naive_profile",
    "run_truth",
    "summarize",
    "truth_card",
]

#: Width of a measurement bucket in % of price: the zones' own smoothing width (levels are estimates; a
#: 0.1 % bucket comparison would score the sub-bar scatter of entries, which no bar-based estimate can know).
MEASURE_BUCKET_PCT = 0.5
#: The comparison window on each side of the price, in %.
WINDOW_PCT = 15.0
#: Distance bands (%) of the mass diagnostics.
DISTANCE_BANDS_PCT: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)
#: Lookbacks the scorecard is run at by default.
TRUTH_LOOKBACKS: tuple[str, ...] = ("7d", "1M")
_TOP_N = 5


class SideTruth(msgspec.Struct, frozen=True):
    """One side ("long": levels below the price, "short": above): the model and the naive baseline."""

    side: str
    corr: float | None  # None when either profile is flat (all zero) in the window
    naive_corr: float | None
    recall: float | None  # share of the true top clusters inside the top zones; None: no true cluster
    naive_recall: float | None
    emd_pct: float | None
    naive_emd_pct: float | None
    true_clusters: int
    est_usd: float  # standing estimate within the window
    true_usd: float  # true standing USD within the window
    # shares of each side's whole standing USD per distance band (DISTANCE_BANDS_PCT), true vs estimated
    true_bands: list[float] = []
    est_bands: list[float] = []


class TruthCard(msgspec.Struct, frozen=True):
    """Both sides of one lookback at one moment."""

    lookback: str
    price: float
    ts: int
    long: SideTruth
    short: SideTruth
    bucket_pct: float = MEASURE_BUCKET_PCT
    window_pct: float = WINDOW_PCT
    # the second line (:func:`liqtui.sim.scorecard.score`): of the notional liquidated within ``horizon_h`` after
    # the card, the share inside the top-5 zones of its side; beside it the fixed-distance baseline's share
    # (:func:`liqtui.sim.scorecard.naive_report`). None when not run (``horizon_h`` = 0) or nothing liquidated.
    horizon_h: float = 0.0
    realized_share: float | None = None
    naive_realized_share: float | None = None

    def sides(self) -> tuple[SideTruth, SideTruth]:
        return (self.long, self.short)


def _measure_bins(
    centers: np.ndarray, price: float, sign: int, bucket_pct: float, window_pct: float
) -> np.ndarray:
    """Measurement bucket of each grid bucket on one side of the price (-1: outside the window)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = sign * np.log(centers / price) * 100.0  # % away from the price, positive on the side's side
    limit = math.log1p(window_pct / 100.0) * 100.0 if sign > 0 else -math.log1p(-window_pct / 100.0) * 100.0
    out = np.floor(d / bucket_pct).astype(np.int64)
    out[~((d > 0) & (d <= limit))] = -1
    return out


def _rebin(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    ok = bins >= 0
    n = int(bins[ok].max()) + 1 if ok.any() else 0
    return np.bincount(bins[ok], weights=values[ok], minlength=n)


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or not (a.std() > 0 and b.std() > 0):
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _emd(a: np.ndarray, b: np.ndarray, bucket_pct: float) -> float | None:
    sa, sb = float(a.sum()), float(b.sum())
    if not (sa > 0 and sb > 0):
        return None
    return float(np.abs(np.cumsum(a / sa - b / sb)).sum() * bucket_pct)


def _recall(true_zones: Sequence[Zone], zones: Sequence[Zone]) -> float | None:
    if not true_zones:
        return None
    found = sum(1 for t in true_zones if any(z.low <= t.peak <= z.high for z in zones))
    return found / len(true_zones)


def _bands(values: np.ndarray, centers: np.ndarray, price: float) -> list[float]:
    total = float(values.sum())
    if not total > 0:
        return [0.0] * (len(DISTANCE_BANDS_PCT) - 1)
    d = np.abs(centers / price - 1.0) * 100.0
    h, _ = np.histogram(d, bins=np.asarray(DISTANCE_BANDS_PCT), weights=values)
    return [round(float(x) / total, 4) for x in h]


def _zone_settings(model: HeatModel) -> tuple[float, float]:
    """(max_width_pct, valley_ratio) the model cuts its zones with."""
    cfg = model.config
    return float(getattr(cfg, "zone_max_width_pct", 1.5)), float(getattr(cfg, "zone_valley_ratio", 0.6))


def naive_profile(model: HeatModel, price: float, usd: float) -> tuple[np.ndarray, np.ndarray]:
    """The naive baseline on the model's grid: ``usd`` per side opened at ``price`` now, split over the
    model's leverage tiers by its weights, each at its liquidation price (the model's formula and bracket),
    spread by the model's kernel. (long_usd, short_usd) per bucket."""
    from liqtui.core.leverage import liquidation_price, load_brackets

    cfg, grid = model.config, model.grid
    if grid is None:
        return np.zeros(0), np.zeros(0)
    edges = np.asarray(grid.edges, dtype=np.float64)
    levs, weights = cfg.resolved_tiers()
    table = load_brackets(cfg.symbol, cfg.brackets_file or None)
    kernel = np.asarray(cfg.kernel, dtype=np.float64)
    kernel = kernel / kernel.sum()
    out = []
    for side in ("long", "short"):
        v = np.zeros(len(edges) - 1)
        for lev, w in zip(levs, weights):
            mx = max(cfg.hl_max_leverage, lev) if cfg.formula == "hyperliquid" else None
            lp = float(
                liquidation_price(
                    cfg.formula,
                    side,
                    price,
                    lev,
                    notional=cfg.position_for(lev),
                    table=table,
                    max_leverage=mx,
                )
            )
            k = int(np.searchsorted(edges, lp, side="right")) - 1
            if 0 <= k < len(v):
                v[k] += usd * w
        out.append(np.convolve(v, kernel, mode="same"))
    return out[0], out[1]


def _side(
    name: str,
    sign: int,
    est: np.ndarray,
    naive: np.ndarray,
    true: np.ndarray,
    centers: np.ndarray,
    price: float,
    zones: Sequence[Zone],
    naive_zones: Sequence[Zone],
    true_zones: Sequence[Zone],
    bucket_pct: float,
    window_pct: float,
) -> SideTruth:
    bins = _measure_bins(centers, price, sign, bucket_pct, window_pct)
    e, n, t = _rebin(est, bins), _rebin(naive, bins), _rebin(true, bins)
    m = max(len(e), len(n), len(t))
    e, n, t = (np.pad(x, (0, m - len(x))) for x in (e, n, t))
    own = (centers < price) if sign < 0 else (centers > price)
    return SideTruth(
        side=name,
        corr=_corr(e, t),
        naive_corr=_corr(n, t),
        recall=_recall(true_zones, zones),
        naive_recall=_recall(true_zones, naive_zones),
        emd_pct=_emd(e, t, bucket_pct),
        naive_emd_pct=_emd(n, t, bucket_pct),
        true_clusters=len(true_zones),
        est_usd=float(e.sum()),
        true_usd=float(t.sum()),
        true_bands=_bands(true * own, centers, price),
        est_bands=_bands(est * own, centers, price),
    )


def truth_card(
    model: HeatModel,
    market: MarketSim,
    lookback: str,
    *,
    top_n: int = _TOP_N,
    bucket_pct: float = MEASURE_BUCKET_PCT,
    window_pct: float = WINDOW_PCT,
    report: ZoneReport | None = None,
) -> TruthCard:
    """Score ``model``'s ``lookback`` map against ``market``'s true standing positions opened within it.

    ``report`` (default ``model.zones(lookback, top_n=top_n)``) are the zones whose top ``top_n`` are judged."""
    from liqtui.core.model import LOOKBACK_MS

    if lookback not in LOOKBACK_MS:
        raise ValueError(f"lookback must be one of {', '.join(LOOKBACK_MS)}; got {lookback!r}")
    if not (0.01 <= bucket_pct <= 5.0) or not (1.0 <= window_pct <= 50.0):
        raise ValueError(
            f"bucket_pct must be in [0.01, 5] and window_pct in [1, 50]; got {bucket_pct}, {window_pct}"
        )
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    grid = model.grid
    if grid is None:
        raise ValueError("the model has no grid yet: step it with some bars first")
    edges = np.asarray(grid.edges, dtype=np.float64)
    centers = np.asarray(grid.centers, dtype=np.float64)
    price = float(model.price)
    since = market.now_ms - LOOKBACK_MS[lookback]
    true_l = market.true_levels(PositionSide.LONG, since_ms=since).histogram(edges)
    true_s = market.true_levels(PositionSide.SHORT, since_ms=since).histogram(edges)
    est_l, est_s = model.profile(lookback)
    rep = report if report is not None else model.zones(lookback, top_n=top_n)
    width, valley = _zone_settings(model)
    truth_rep = find_zones(
        edges, true_l[None, :], true_s[None, :], price, top_n=_TOP_N, max_width_pct=width, valley_ratio=valley
    )
    oi_usd = market.open_interest() * market.price
    nv_l, nv_s = naive_profile(model, price, oi_usd)
    naive_rep = find_zones(
        edges, nv_l[None, :], nv_s[None, :], price, top_n=top_n, max_width_pct=width, valley_ratio=valley
    )
    common = (centers, price)
    return TruthCard(
        lookback=lookback,
        price=price,
        ts=market.now_ms,
        long=_side(
            "long",
            -1,
            est_l,
            nv_l,
            true_l,
            *common,
            rep.below[:top_n],
            naive_rep.below,
            truth_rep.below,
            bucket_pct,
            window_pct,
        ),
        short=_side(
            "short",
            1,
            est_s,
            nv_s,
            true_s,
            *common,
            rep.above[:top_n],
            naive_rep.above,
            truth_rep.above,
            bucket_pct,
            window_pct,
        ),
        bucket_pct=bucket_pct,
        window_pct=window_pct,
    )


def run_truth(
    seed: int = 0,
    *,
    lookbacks: Iterable[str] = TRUTH_LOOKBACKS,
    history_days: float | None = None,
    start_ms: int | None = None,
    model_config: object | None = None,
    sim_config: object | None = None,
    horizon_h: float = 12.0,
) -> list[TruthCard]:
    """Simulate ``seed``, feed its whole history to a fresh model (``step_many``, as the backfill does) and
    score every lookback against the truth. ``history_days`` defaults to the longest lookback plus 3 days.

    With ``horizon_h`` > 0 the market then runs on for that long and each card also carries the realized-notional
    score of its zones (the second line; 0 skips it)."""
    from liqtui.core.model import LOOKBACK_MS, HeatModel, ModelConfig
    from liqtui.sim.market import MarketSim, SimConfig
    from liqtui.sim.scorecard import DEFAULT_START_MS, model_bars, naive_report, score

    lbs = list(lookbacks)
    for lb in lbs:
        if lb not in LOOKBACK_MS:
            raise ValueError(f"lookback must be one of {', '.join(LOOKBACK_MS)}; got {lb!r}")
    if model_config is not None and not isinstance(model_config, ModelConfig):
        raise TypeError("model_config must be a liqtui.core.model.ModelConfig")
    if not (math.isfinite(horizon_h) and 0.0 <= horizon_h <= 24.0 * 30):
        raise ValueError(f"horizon_h must be within [0, 720] hours, got {horizon_h!r}")
    if sim_config is not None and not isinstance(sim_config, SimConfig):
        raise TypeError("sim_config must be a liqtui.sim.market.SimConfig")
    days = history_days if history_days is not None else max(LOOKBACK_MS[lb] for lb in lbs) / 86_400_000 + 3
    market = MarketSim(
        seed,
        start_ms=DEFAULT_START_MS if start_ms is None else start_ms,
        history_days=days,
        config=sim_config,
    )
    model = HeatModel(model_config)
    model.step_many(model_bars(market))
    reports = {lb: model.zones(lb, top_n=_TOP_N) for lb in lbs}
    cards = [truth_card(model, market, lb, report=reports[lb]) for lb in lbs]
    if horizon_h <= 0:
        return cards
    t0, n0 = market.now_ms, len(market.realized)
    t1 = t0 + int(horizon_h * 3_600_000)
    market.fast_forward(t1)
    realized = market.realized[n0:]
    out = []
    for card in cards:
        rep = reports[card.lookback]
        mine = score(rep, realized, start_ms=t0, end_ms=t1, top_n=_TOP_N)
        naive = score(naive_report(rep), realized, start_ms=t0, end_ms=t1, top_n=_TOP_N)
        out.append(
            msgspec.structs.replace(
                card, horizon_h=horizon_h, realized_share=mine.share, naive_realized_share=naive.share
            )
        )
    return out


def _stats(xs: list[float]) -> dict[str, float | int | None]:
    if not xs:
        return {"mean": None, "median": None, "p10": None, "p90": None, "n": 0}
    q = np.percentile(np.asarray(xs), [10, 90]) if len(xs) > 1 else np.asarray([xs[0], xs[0]])
    return {
        "mean": round(statistics.fmean(xs), 4),
        "median": round(statistics.median(xs), 4),
        "p10": round(float(q[0]), 4),
        "p90": round(float(q[1]), 4),
        "n": len(xs),
    }


_METRICS = ("corr", "recall", "emd_pct")


def summarize(cards: Iterable[TruthCard]) -> dict[str, Any]:
    """Spread over cards (seeds), per lookback: for each metric, model and naive, pooled over both sides and
    per side: ``{lookback: {"corr": {"model": {mean, median, p10, p90, n}, "naive": {...}}, ...,
    "realized": {"model": ..., "naive": ...}, "long": {...}, "short": {...}}}`` (``realized``: the second line,
    per card, when the cards carry it)."""
    by_lb: dict[str, list[TruthCard]] = {}
    for c in cards:
        by_lb.setdefault(c.lookback, []).append(c)
    out: dict[str, Any] = {}
    for lb, cs in by_lb.items():

        def block(sides: list[SideTruth]) -> dict[str, Any]:
            res: dict[str, Any] = {}
            for m in _METRICS:
                mod = [v for s in sides if (v := getattr(s, m)) is not None]
                nai = [v for s in sides if (v := getattr(s, f"naive_{m}")) is not None]
                res[m] = {"model": _stats(mod), "naive": _stats(nai)}
            return res

        entry = block([s for c in cs for s in c.sides()])
        real = [c.realized_share for c in cs if c.realized_share is not None]
        naive_real = [c.naive_realized_share for c in cs if c.naive_realized_share is not None]
        entry["realized"] = {"model": _stats(real), "naive": _stats(naive_real)}
        entry["long"] = block([c.long for c in cs])
        entry["short"] = block([c.short for c in cs])
        entry["cards"] = len(cs)
        out[lb] = entry
    return out


def demo_truth(
    model: HeatModel, market: MarketSim, lookbacks: Iterable[str] = TRUTH_LOOKBACKS
) -> dict[str, Any]:
    """JSON-ready truth scorecard of a running demo (for ``liqtui zones --demo --json``): per lookback, per side
    ``corr`` / ``recall`` / ``emd_pct`` of the model and of the naive baseline, with the measurement settings.

    ``{"bucket_pct", "window_pct", "naive": "<what the baseline is>", "lookbacks": {lb: {"long": {...},
    "short": {...}}}}``; a lookback the model cannot score yet (no grid) is left out."""
    doc: dict[str, Any] = {
        "bucket_pct": MEASURE_BUCKET_PCT,
        "window_pct": WINDOW_PCT,
        "naive": "today's open interest opened at today's price over the model's tiers",
        "lookbacks": {},
    }
    if model.grid is None:
        return doc
    for lb in lookbacks:
        card = truth_card(model, market, lb)
        doc["lookbacks"][lb] = {
            s.side: {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in msgspec.structs.asdict(s).items()
                if k not in ("side", "true_bands", "est_bands")
            }
            for s in card.sides()
        }
    return doc
