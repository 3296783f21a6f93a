"""HeatModel: conservation, exact incremental lookbacks against a brute-force reference, consumption,
nesting, single-step == batch, checkpoints, history, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqtui.core.leverage import liquidation_price
from liqtui.core.model import BAR_DTYPE, LOOKBACK_MS, LOOKBACKS, HeatModel, ModelConfig
from liqtui.core.stepping import turnover_rates

from .conftest import make_bars


def ledger_gap(s: dict[str, float]) -> float:
    return s["seeded"] - (s["standing"] + s["consumed"] + s["closed"] + s["decayed"] + s["trimmed"])


# -- a brute-force reference: one dense cohort per bar, every rule applied literally --------------
class Reference:
    """Dense, slow, obvious re-implementation of REFERENCE §3 on the model's own grid."""

    def __init__(self, model: HeatModel, n_bars: int):
        self.cfg, self.g = model.config, model.grid
        lay = model.layout
        self.tiers, self.w = model.tiers, lay.w
        self.kernel, self.koff = lay.kernel, lay.koff
        self.hl = lay.hl_h
        self.table = lay.table
        self.arr = np.zeros((n_bars, 2, len(self.tiers), self.g.n))  # one USD cohort per seeding bar
        self.ts = np.zeros(n_bars, np.int64)
        self.count = 0
        self.oi_base: float | None = None
        self.last_ts: int | None = None
        self.turn = [0.0, 0.0]  # opening = "turnover": decayed Σ open_share·volume, Σ OI·hours
        self.turn_ts: int | None = None

    def step(self, bar) -> None:
        g, T = self.g, len(self.tiers)
        ts = int(bar["ts"])
        dt_h = (ts - self.last_ts) / 3.6e6 if self.last_ts is not None else bar["interval_s"] / 3600
        self.last_ts = ts
        fac = 0.5 ** (dt_h / self.hl) if self.cfg.decay else np.ones(T)
        ob = bar["oi_usd"] / bar["close"]
        d = 0.0 if self.oi_base is None else ob - self.oi_base
        opened = max(d, 0.0)
        if self.cfg.opening == "turnover":  # the OI change plus what the standing OI closed in the bar
            if self.turn_ts is not None:
                fade = 0.5 ** ((ts - self.turn_ts) / 3.6e6 / self.cfg.turnover_half_life_h)
                self.turn = [v * fade for v in self.turn]
            self.turn_ts = ts
            if self.oi_base is not None:
                self.turn[0] += self.cfg.open_share * float(bar["volume"])
                self.turn[1] += self.oi_base * bar["interval_s"] / 3600
                rate = self.turn[0] / self.turn[1]  # share of the OI closing per hour
                opened = max(d + self.oi_base * rate * bar["interval_s"] / 3600, 0.0)
        elif self.oi_base is not None and self.cfg.open_share > 0:  # opened beyond the net OI rise
            opened = max(opened, self.cfg.open_share * float(bar["volume"]))
        frac = (opened - d) / self.oi_base if opened - d > 0 else 0.0  # what the turnover and a fall closed
        self.oi_base = ob
        live = self.arr[: self.count]
        live *= fac[None, None, :, None] * (1.0 - frac)  # decay per tier, pro-rata closing
        live[:, 0][:, :, g.centers >= bar["low"]] = 0.0  # longs consumed by the low
        live[:, 1][:, :, g.centers <= bar["high"]] = 0.0  # shorts consumed by the high
        if opened > 0:
            if self.cfg.entry == "range":  # entry_points prices, equal weights, evenly inside low..high
                n_e = self.cfg.entry_points
                ents = [bar["low"] + (bar["high"] - bar["low"]) * (i + 0.5) / n_e for i in range(n_e)]
            else:
                vw = (
                    bar["vwap"] if np.isfinite(bar["vwap"]) else (bar["high"] + bar["low"] + bar["close"]) / 3
                )
                ents = [vw]
            usd = opened * float(np.mean(ents))
            share = bar["taker_buy_share"]
            new = self.arr[self.count]
            for s, side in enumerate(("long", "short")):
                side_usd = 2 * usd * (share if s == 0 else 1 - share)
                for j, lev in enumerate(self.tiers):
                    for e in ents:
                        lp = liquidation_price(
                            self.cfg.formula,
                            side,
                            float(e),
                            lev,
                            # the tier's position: position_usd at 10x, × 10 / lev ^ position_exponent
                            notional=self.cfg.position_usd * (10.0 / lev) ** self.cfg.position_exponent,
                            table=self.table,
                        )
                        c = math.floor(math.log(lp) / g.step) - g.k0
                        new[s, j, c] += side_usd * self.w[j] / len(ents)  # the level; smeared on read
            self.ts[self.count] = ts
            self.count += 1

    def profile(self, lookback: str) -> np.ndarray:
        inside = self.ts[: self.count] > self.last_ts - LOOKBACK_MS[lookback]
        levels = self.arr[: self.count][inside].sum(axis=0)
        out = np.zeros_like(levels)
        n = levels.shape[-1]
        for b in range(n):  # smear each level over its neighbours, folding at the grid edges
            for off, kw in zip(self.koff, self.kernel):
                out[..., min(max(b + off, 0), n - 1)] += kw * levels[..., b]
        return out


def hourly(n: int, seed: int) -> np.ndarray:
    return make_bars(n, seed=seed, vol=0.004, interval_s=3600, oi_vol=0.003)


@pytest.mark.parametrize(
    ("seed", "decay", "open_share", "entry", "opening", "pos_exp"),
    [
        (3, False, 0.1, "range", "turnover", 1.0),
        (11, True, 0.0, "vwap", "turnover", 1.0),
        (5, True, 0.3, "range", "volume", 0.0),
        (7, False, 0.1, "vwap", "turnover", 2.0),
        (13, False, 0.1, "vwap", "volume", 1.0),
    ],
)
def test_incremental_lookbacks_equal_brute_force(seed, decay, open_share, entry, opening, pos_exp):
    cfg = ModelConfig(
        bucket_pct=1.0,
        decay=decay,
        open_share=open_share,
        entry=entry,
        opening=opening,
        position_exponent=pos_exp,
    )
    bars = hourly(500, seed)
    # volume (base units) of a few percent of OI per hour: with open_share the turnover seeds and closes
    bars["volume"] = (
        np.random.default_rng(seed).uniform(0.0, 0.05, len(bars)) * bars["oi_usd"] / bars["close"]
    )  # 21 days of hourly bars: windows 12h..14d age out, 1M..6M hold everything
    model = HeatModel(cfg, price=float(bars["close"][0]))
    model.step_many(bars[:300])
    for b in bars[300:]:  # mix the batch path and the single-step path
        model.step_many(b[None])
    ref = Reference(model, len(bars))
    for b in bars:
        ref.step(b)
    assert model.grid.n == ref.g.n  # the grid never had to grow in this range
    for lb in LOOKBACKS:
        got = np.stack(model.profile_by_tier(lb))
        want = ref.profile(lb)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-6 * want.max()), lb


def test_conservation_and_never_negative(bars_5k):
    m = HeatModel(ModelConfig(decay=True))  # every fate in the ledger, decay included
    m.step_many(bars_5k)
    s = m.stats()
    assert s["seeded"] > 0 and s["consumed"] > 0 and s["closed"] > 0 and s["decayed"] > 0
    assert abs(ledger_gap(s)) <= 1e-9 * s["seeded"]
    for lb in LOOKBACKS:
        lt, st_ = m.profile_by_tier(lb)
        assert lt.min() >= 0 and st_.min() >= 0


bar_lists = st.lists(
    st.tuples(
        st.floats(-0.03, 0.03),  # return
        st.floats(0.0, 0.02),  # extra wick
        st.floats(-0.02, 0.02),  # OI change
        st.floats(0.0, 1.0),  # taker buy share
        st.sampled_from([60, 300, 3600, 86400]),  # interval
    ),
    min_size=1,
    max_size=60,
)


def build(rows) -> np.ndarray:
    out = np.zeros(len(rows), BAR_DTYPE)
    p, oi, ts = 50_000.0, 1e9, 1_600_000_000_000
    for i, (r, wick, doi, share, iv) in enumerate(rows):
        o, c = p, p * math.exp(r)
        ts += iv * 1000
        oi *= math.exp(doi)
        out[i] = (ts, o, max(o, c) * (1 + wick), min(o, c) * (1 - wick), c, 1.0, np.nan, share, oi, iv)
        p = c
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=bar_lists,
    split=st.sampled_from(["taker", "even", "candle"]),
    entry=st.sampled_from(["range", "vwap", "anchors", "close"]),
    closing=st.sampled_from(["prorata", "taker"]),
    tiers=st.sampled_from(["default", "scalp", "swing"]),
    cut=st.integers(0, 60),
)
def test_properties_conservation_nesting_consumption(rows, split, entry, closing, tiers, cut):
    cfg = ModelConfig(split=split, entry=entry, closing=closing, tiers=tiers, bucket_pct=0.25)
    bars = build(rows)
    m = HeatModel(cfg)
    cut = min(cut, len(bars))
    m.step_many(bars[:cut])
    m.step_many(bars[cut:])
    s = m.stats()
    assert abs(ledger_gap(s)) <= 1e-9 * max(1.0, s["seeded"])
    # lookbacks nest: 12h <= 1d <= ... <= 6M, bucket by bucket
    prev = None
    for lb in LOOKBACKS:
        lt, st_ = m.profile(lb)
        assert lt.min() >= 0 and st_.min() >= 0
        cur = lt + st_
        if prev is not None:
            assert np.all(prev <= cur * (1 + 1e-9) + 1e-6)
        prev = cur
    # consumption: after the mark crossed [low, high], no level stands there, in any lookback (the
    # kernel may smear a surviving neighbour at most `half` buckets into the range)
    lo, hi = m.price * 0.985, m.price * 1.01
    m.consume(lo, hi, int(bars["ts"][-1]))
    half = len(cfg.kernel) // 2
    c = m.grid.centers
    r = 1 + cfg.bucket_pct / 100
    for lb in LOOKBACKS:
        lt, st_ = m.profile(lb)
        assert lt[c >= lo * r**half].sum() == 0 and st_[c <= hi / r**half].sum() == 0
    assert abs(ledger_gap(m.stats())) <= 1e-9 * max(1.0, s["seeded"])


def test_single_steps_equal_one_batch(bars_5k):
    a, b = HeatModel(), HeatModel()
    a.step_many(bars_5k[:800])
    for row in bars_5k[:800]:
        b.step(
            int(row["ts"]),
            row["open"],
            row["high"],
            row["low"],
            row["close"],
            taker_buy_share=float(row["taker_buy_share"]),
            oi_usd=float(row["oi_usd"]),
        )
    for lb in ("12h", "1d", "6M"):
        assert np.allclose(np.stack(a.profile(lb)), np.stack(b.profile(lb)), rtol=1e-9, atol=1e-3)
    sa, sb = a.stats(), b.stats()
    for k in sa:
        assert sa[k] == pytest.approx(sb[k], rel=1e-9, abs=1e-3), k


def test_first_bar_sets_the_oi_baseline_only():
    m = HeatModel()
    m.step(T := 1_700_000_000_000, 100.0, 101.0, 99.0, 100.0, oi_usd=1e6)
    assert m.stats()["seeded"] == 0
    m.step(T + 60_000, 100.0, 100.5, 99.5, 100.0, oi_usd=1.1e6, taker_buy_share=0.75)
    s = m.stats()
    # 10% more contracts at the vwap 100: both sides of 1e5 USD, split 75/25 by taker share
    assert s["seeded"] == pytest.approx(2e5)
    assert s["standing_long"] == pytest.approx(1.5e5)  # seeded at the bar's end: nothing decayed yet
    assert s["standing_long"] / s["standing_short"] == pytest.approx(3.0, rel=1e-6)


def test_levels_sit_at_the_tier_liquidation_prices():
    m = HeatModel(ModelConfig(kernel=(1.0,), decay=False))
    m.step(1_700_000_000_000, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6)
    m.step(1_700_000_060_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, vwap=100.0)
    lt, st_ = m.profile_by_tier("12h")
    for j, lev in enumerate(m.tiers):
        (b_long,) = np.nonzero(lt[j])[0]
        (b_short,) = np.nonzero(st_[j])[0]
        assert (
            m.grid.edges[b_long]
            <= liquidation_price("binance", "long", 100.0, lev, notional=m.config.position_for(lev))
            < m.grid.edges[b_long + 1]
        )
        assert (
            m.grid.edges[b_short]
            <= liquidation_price("binance", "short", 100.0, lev, notional=m.config.position_for(lev))
            < m.grid.edges[b_short + 1]
        )


def test_falling_oi_closes_pro_rata():
    m = HeatModel(ModelConfig(decay=False))
    t = 1_700_000_000_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6)
    m.step(t + 60_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    before = np.stack(m.profile("1d"))
    m.step(t + 120_000, 100.0, 100.0, 100.0, 100.0, oi_usd=1.5e6)  # a quarter of all OI closed
    after = np.stack(m.profile("1d"))
    assert np.allclose(after, before * 0.75)
    assert m.stats()["closed"] == pytest.approx(before.sum() * 0.25)


def test_decay_halves_at_the_half_life():
    cfg = ModelConfig(tiers="custom", custom_tiers={"10": 1.0}, half_life_h={"10": 2.0}, decay=True)
    m = HeatModel(cfg)
    t = 1_700_000_000_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6, interval_s=3600)
    m.step(t + 3_600_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, interval_s=3600)
    v0 = sum(x.sum() for x in m.profile("1d"))
    m.step(t + 3 * 3_600_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, interval_s=7200)
    assert sum(x.sum() for x in m.profile("1d")) == pytest.approx(v0 / 2)


def test_windows_age_out_exactly():
    m = HeatModel(ModelConfig(decay=False))
    t = 1_700_000_000_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6)
    m.step(t + 60_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    seeded_at = t + 60_000
    total = sum(x.sum() for x in m.profile("6M"))
    m.step(seeded_at + 12 * 3_600_000 - 60_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    assert sum(x.sum() for x in m.profile("12h")) == pytest.approx(total)
    m.step(seeded_at + 12 * 3_600_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    assert sum(x.sum() for x in m.profile("12h")) == 0.0
    assert sum(x.sum() for x in m.profile("1d")) == pytest.approx(total)


def test_live_consumption_then_reseeding_in_the_same_bucket():
    m = HeatModel(ModelConfig(decay=False, kernel=(1.0,)))
    t = 1_700_000_000_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6)
    m.step(t + 60_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    m.consume(90.0, 100.0, t + 90_000)  # wipes every long level above 90 (the 25x..100x tiers)
    left = m.profile("12h")[0].sum()
    m.step(t + 120_000, 100.0, 100.0, 100.0, 100.0, oi_usd=3e6)  # the same levels are seeded again
    fresh = m.profile("12h")[0].sum() - left
    assert fresh > 0
    # 12 hours after the first seeding only the second (fresh) cohort remains: ageing out the first
    # must not subtract what consumption already removed
    m.step(t + 60_000 + 12 * 3_600_000, 100.0, 100.0, 100.0, 100.0, oi_usd=3e6)
    assert m.profile("12h")[0].sum() == pytest.approx(fresh)
    assert abs(ledger_gap(m.stats())) < 1e-6


def test_regrid_keeps_mass_when_price_runs_away():
    m = HeatModel(ModelConfig(decay=False))
    t = 1_700_000_000_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6)
    m.step(t + 60_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6)
    before = m.stats()["standing"]
    n0, lo0 = m.grid.n, m.grid.edges[0]
    m.step(t + 120_000, 100.0, 400.0, 100.0, 400.0, oi_usd=8e6)  # price x4: the grid must grow
    assert m.grid.n > n0 and m.grid.edges[0] <= lo0 and m.grid.edges[-1] > 400 * 1.5
    s = m.stats()
    assert s["trimmed"] == 0.0 and abs(ledger_gap(s)) < 1e-6
    assert s["consumed"] > 0  # the rally consumed the short levels it crossed
    assert before > 0


def test_checkpoint_round_trip_and_continue(bars_5k):
    a = HeatModel()
    a.step_many(bars_5k[:3000])
    blob = a.to_bytes()
    b = HeatModel.from_bytes(blob)
    for lb in LOOKBACKS:
        assert np.array_equal(np.stack(a.profile_by_tier(lb)), np.stack(b.profile_by_tier(lb)))
    assert a.stats() == b.stats() and b.last_ts == a.last_ts and b.price == a.price
    a.step_many(bars_5k[3000:])
    b.step_many(bars_5k[3000:])
    for lb in ("12h", "3d", "6M"):
        assert np.allclose(np.stack(a.profile(lb)), np.stack(b.profile(lb)), rtol=1e-12, atol=1e-6)
    h1 = a.history("1d", 50, a.price * 0.9, a.price * 1.1, 20)
    h2 = b.history("1d", 50, b.price * 0.9, b.price * 1.1, 20)
    assert np.allclose(h1, h2)


@pytest.mark.parametrize(
    "blob", [b"", b"nonsense", HeatModel._MAGIC + b"\x05\x00\x00\x00\x00\x00\x00\x00abc"]
)
def test_corrupt_checkpoint_is_refused(blob):
    with pytest.raises(ValueError, match="checkpoint"):
        HeatModel.from_bytes(blob)


def test_history_shape_bands_and_live_last_column(bars_5k):
    m = HeatModel()
    m.step_many(bars_5k)
    lo, hi = m.price * 0.9, m.price * 1.1
    h = m.history("1d", 120, lo, hi, 60)
    assert h.shape == (60, 120) and h.dtype == np.float32 and h.min() >= 0
    # the newest column is the live profile, summed into rows (top row = high prices)
    lt, st_ = m.profile("1d")
    in_view = (m.grid.centers > lo) & (m.grid.centers < hi)
    assert h[:, -1].sum() == pytest.approx((lt + st_)[in_view].sum(), rel=0.02)
    above = m.grid.centers > m.price
    top_half = h[:30, -1].sum()
    assert top_half == pytest.approx(st_[above & in_view].sum() + lt[above & in_view].sum(), rel=0.05)
    # older columns hold recorded slices (bands that start where positions opened)
    assert np.count_nonzero(h[:, :-1].sum(axis=0)) > 100
    # live consumption shows at once in the last column
    m.consume(m.price, m.price * 1.05, int(bars_5k["ts"][-1]) + 1000)
    h2 = m.history("1d", 120, lo, hi, 60)
    assert h2[:, -1].sum() < h[:, -1].sum()
    assert np.array_equal(h2[:, :-1], h[:, :-1])


def test_zones_from_the_model(bars_5k):
    m = HeatModel()
    m.step_many(bars_5k)
    z = m.zones("3d", threshold_pct=50, top_n=3)
    assert z.lookback == "3d" and z.ts == m.last_ts and z.price == m.price
    assert 0 < len(z.above) <= 3 and 0 < len(z.below) <= 3
    assert all(zz.peak > m.price for zz in z.above) and all(zz.peak < m.price for zz in z.below)
    _lt, st_ = m.profile("3d")
    assert z.total_above == pytest.approx(st_[m.grid.centers > m.price].sum())


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"split": "random"}, "split"),
        ({"entry": "open"}, "entry"),
        ({"closing": "lifo"}, "closing"),
        ({"formula": "ftx"}, "formula"),
        ({"tiers": "yolo"}, "tiers"),
        ({"bucket_pct": 0.0}, "bucket_pct"),
        ({"range_pct": 100.0}, "range_pct"),
        ({"kernel": (0.5, 0.5)}, "kernel"),
        ({"entry_anchors": (1.0, -1.0, 0.0)}, "entry_anchors"),
        ({"half_life_h": {"10": -1.0}}, "half_life_h"),
        ({"history_slice_s": 1}, "history_slice_s"),
        ({"tiers": "custom", "custom_tiers": {}}, "custom_tiers"),
        ({"zone_horizon_h": -1.0}, "zone_horizon_h"),
        ({"zone_horizon_h": float("nan")}, "zone_horizon_h"),
        ({"activity_half_life_h": 0.0}, "activity_half_life_h"),
        ({"open_share": 1.5}, r"open_share must be in \[0, 1\]"),
        ({"opening": "gross"}, r"opening must be one of 'turnover', 'volume'"),
        ({"position_exponent": -0.5}, r"position_exponent must be in \[0, 3\]"),
        ({"position_exponent": float("nan")}, "position_exponent"),
        ({"turnover_half_life_h": 0.0}, "turnover_half_life_h"),
        ({"turnover_half_life_h": float("inf")}, "turnover_half_life_h"),
        ({"open_share": float("nan")}, "open_share"),
        ({"entry_points": 0}, r"entry_points must be an integer in \[1, 15\]"),
        ({"entry_points": 16}, "entry_points"),
    ],
)
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**kwargs)


def test_config_rejects_unknown_keys():
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="bucket_pctt"):
        msgspec.convert({"bucket_pctt": 0.2}, ModelConfig)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda b: b.__setitem__("high", b["low"] * 0.5), "high/low"),
        (lambda b: b.__setitem__("close", -1.0), "finite and > 0"),
        (lambda b: b.__setitem__("ts", b["ts"][::-1].copy()), "increasing"),
        (lambda b: b.__setitem__("oi_usd", -5.0), "oi_usd"),
        (lambda b: b.__setitem__("interval_s", 0), "interval_s"),
    ],
)
def test_bad_bars_are_refused(mutate, match, bars_5k):
    b = bars_5k[:10].copy()
    mutate(b)
    with pytest.raises(ValueError, match=match):
        HeatModel().step_many(b)


def test_bad_reads_are_refused(bars_5k):
    m = HeatModel()
    m.step_many(bars_5k[:100])
    with pytest.raises(ValueError, match="lookback"):
        m.profile("2d")
    with pytest.raises(ValueError, match="price_lo < price_hi"):
        m.history("1d", 10, 100.0, 50.0, 10)
    with pytest.raises(ValueError, match="n_cols"):
        m.history("1d", 0, 1.0, 2.0, 10)
    with pytest.raises(ValueError, match="low <= high"):
        m.consume(10.0, 5.0, 0)
    with pytest.raises(ValueError, match="after the last bar"):
        m.step(int(bars_5k["ts"][50]), 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="bad bar"):
        m.step(float("nan"), 1.0, 1.0, 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad bar"):
        m.step(int(bars_5k["ts"][-1]) * 2, "x", 1.0, 1.0, 1.0)  # type: ignore[arg-type]


def test_version_bumps_on_every_change(bars_5k):
    m = HeatModel()
    v = m.version
    m.step_many(bars_5k[:10])
    assert m.version > v
    v = m.version
    m.consume(m.price * 0.5, m.price * 1.5, 0)
    assert m.version > v
    v = m.version
    m.consume(m.price * 0.999, m.price * 1.001, 0)  # nothing left there: no change, no bump
    assert m.version == v


def test_empty_model_reads_are_safe():
    m = HeatModel()
    assert m.profile("1d")[0].size == 0
    assert m.zones("1d").above == []
    assert m.history("1d", 5, 1.0, 2.0, 3).shape == (3, 5)
    assert m.stats()["standing"] == 0.0
    m2 = HeatModel.from_bytes(m.to_bytes())
    assert m2.grid is None


def test_runaway_price_past_max_buckets_trims_and_books_it():
    from liqtui.core.model import bars_from_arrays

    n = 3000
    rng = np.random.default_rng(2)
    c = 100 * np.exp(np.linspace(0, np.log(30), n) + rng.normal(0, 0.003, n))  # x30: beyond the grid cap
    o = np.concatenate([[100.0], c[:-1]])
    oi = 1e9 * np.exp(np.cumsum(rng.normal(0.0003, 0.003, n)))
    bars = bars_from_arrays(
        1_700_000_000_000 + np.arange(n) * 60_000,
        o,
        np.maximum(o, c) * 1.002,
        np.minimum(o, c) * 0.998,
        c,
        taker_buy_share=rng.uniform(0.3, 0.7, n),
        oi_usd=oi,
    )
    cfg = ModelConfig(bucket_pct=0.5, max_buckets=556)
    batch, steps = HeatModel(cfg), HeatModel(cfg)
    batch.step_many(bars)
    for i in range(0, n, 13):
        steps.step_many(bars[i : i + 13])
    for m in (batch, steps):
        s = m.stats()
        assert m.grid.n <= 556 and m.grid.edges[-1] > c[-1]
        assert s["trimmed"] > 0  # levels left behind far below were cut, and booked
        assert abs(ledger_gap(s)) <= 1e-9 * s["seeded"]
        for lb in LOOKBACKS:
            assert min(x.min() for x in m.profile(lb)) >= 0


def test_chunked_backfill_with_until_ts_equals_one_call(bars_5k):
    one, chunked = HeatModel(), HeatModel()
    one.step_many(bars_5k)
    end = int(bars_5k["ts"][-1])
    for i in range(0, len(bars_5k), 700):
        chunked.step_many(bars_5k[i : i + 700], until_ts=end)
    p = one.price
    for lb in LOOKBACKS:
        assert np.allclose(np.stack(one.profile(lb)), np.stack(chunked.profile(lb)), rtol=1e-9, atol=1e-3)
        h1, h2 = one.history(lb, 120, p * 0.9, p * 1.1, 40), chunked.history(lb, 120, p * 0.9, p * 1.1, 40)
        assert np.allclose(h1, h2, rtol=1e-4, atol=1e-4 * h1.max())
    assert one.stats() == pytest.approx(chunked.stats(), rel=1e-9)


def test_long_lookbacks_keep_their_bands_until_consumed_or_closed():
    """Default config (issue 11): no time decay. A band seeded 90 days ago still stands whole in 3M/6M while the
    price never reaches it and nothing closes; turnover (volume with flat OI) closes pro rata, never to zero,
    at the rate open_share × volume / OI averaged over turnover_half_life_h."""
    m = HeatModel()
    t = 1_700_000_000_000
    day = 86_400_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6, interval_s=3600)
    m.step(t + 3_600_000, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, interval_s=3600)
    seeded = m.stats()["seeded"]
    assert seeded == pytest.approx(2e6)
    for k in range(1, 91):  # 90 quiet daily bars: price flat, OI flat, no volume
        m.step(t + k * day, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, interval_s=86_400)
    for lb in ("3M", "6M"):
        assert sum(x.sum() for x in m.profile(lb)) == pytest.approx(seeded)
    assert sum(x.sum() for x in m.profile("1M")) == 0.0  # older than the lookback
    # then every day trades half the open interest (10k of 20k contracts) with OI unchanged: what opens (a long
    # and a short each) is what closed, pro rata. The turnover rate is open_share of the volume over the OI,
    # averaged over turnover_half_life_h: after 90 days without volume, the first such day opens less than
    # open_share of its volume; after eight weeks of them, a day opens open_share of it.
    share = m.config.open_share
    for k in range(91, 91 + 56):
        s0 = m.stats()
        m.step(t + k * day, 100.0, 100.0, 100.0, 100.0, oi_usd=2e6, volume=10_000.0, interval_s=86_400)
        s1 = m.stats()
        contracts = (s1["seeded"] - s0["seeded"]) / 200.0  # a long and a short, each at 100
        # pro rata: the standing estimate loses the share of the open interest that turned over
        assert s1["closed"] - s0["closed"] == pytest.approx(s0["standing"] * contracts / 20_000)
        if k == 91:
            assert 0 < contracts < 0.5 * share * 10_000.0
    assert contracts == pytest.approx(share * 10_000.0, rel=0.01)
    assert s1["standing"] == pytest.approx(s1["seeded"] - s1["closed"]) and s1["consumed"] == 0.0


def test_turnover_opens_the_oi_change_plus_what_the_standing_oi_closed():
    """opening = "turnover": a bar opens its OI change plus OI × rate × hours, the rate being open_share of the
    volume over the OI-hours (exponentially weighted); a fall beyond that opens nothing and closes the fall."""
    m = HeatModel(ModelConfig(open_share=0.1))
    t, h = 1_700_000_000_000, 3_600_000
    m.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6, volume=2_000.0, interval_s=3600)  # sets the OI base
    assert m.stats()["seeded"] == 0.0
    # +1000 contracts, 2000 traded: the first known bar's rate is 0.1 * 2000 / (10_000 contracts * 1 h), so what
    # the standing OI closed is 200 contracts: 1200 opened (a long and a short each, at 100)
    m.step(t + h, 100.0, 100.0, 100.0, 100.0, oi_usd=1.1e6, volume=2_000.0, interval_s=3600)
    s1 = m.stats()
    assert s1["seeded"] == pytest.approx(2 * 1_200 * 100.0)
    assert s1["closed"] == 0.0  # nothing stood yet
    # -2000 contracts: more than the turnover flow (~200), so nothing opens and 2000 of 11_000 close pro rata
    m.step(t + 2 * h, 100.0, 100.0, 100.0, 100.0, oi_usd=0.9e6, volume=2_000.0, interval_s=3600)
    s2 = m.stats()
    assert s2["seeded"] == s1["seeded"]
    assert s2["closed"] == pytest.approx(s1["standing"] * 2_000 / 11_000)
    # a bar without OI neither opens nor closes
    m.step(t + 3 * h, 100.0, 100.0, 100.0, 100.0, volume=2_000.0, interval_s=3600)
    assert m.stats()["seeded"] == s2["seeded"] and m.stats()["closed"] == s2["closed"]
    # the same bars under opening = "volume": max(OI rise, 0.1 * volume) = 1000 opened, nothing closed
    v = HeatModel(ModelConfig(open_share=0.1, opening="volume"))
    v.step(t, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6, volume=2_000.0, interval_s=3600)
    v.step(t + h, 100.0, 100.0, 100.0, 100.0, oi_usd=1.1e6, volume=2_000.0, interval_s=3600)
    assert v.stats()["seeded"] == pytest.approx(2 * 1_000 * 100.0)


def test_turnover_rate_starts_afresh_when_the_oi_is_rebased():
    """A venue joining the summed OI multiplies it: the week-long rate, averaged on the old scale, would then
    close (and reopen) five times too much. After rebase_oi the rate restarts on the new scale."""
    t, h = 1_700_000_000_000, 3_600_000

    def run(rebase: bool) -> float:
        m = HeatModel(ModelConfig(open_share=0.1))
        for k in range(48):  # two days: 10k contracts, 2000 traded per hour
            m.step(t + k * h, 100.0, 100.0, 100.0, 100.0, oi_usd=1e6, volume=2_000.0, interval_s=3600)
        if rebase:
            m.rebase_oi()
        m.step(t + 48 * h, 100.0, 100.0, 100.0, 100.0, oi_usd=5e6, volume=2_000.0, interval_s=3600)
        s0 = m.stats()["seeded"]
        m.step(t + 49 * h, 100.0, 100.0, 100.0, 100.0, oi_usd=5e6, volume=2_000.0, interval_s=3600)
        return (m.stats()["seeded"] - s0) / 200.0  # contracts opened by the last bar (flat OI)

    assert run(True) == pytest.approx(0.1 * 2_000.0)  # the turnover of this bar's volume, as at a start
    assert run(False) > 4 * 0.1 * 2_000.0  # without it: the rate of the old scale turns over 4-5x too much


def test_turnover_rates_are_the_same_in_one_batch_or_in_pieces():
    """The rate is one recursion in bar order: chunks that carry the sums give bit-identical rates (so a
    backfill and live bar-by-bar steps give the same estimate)."""
    bars = make_bars(400, seed=9, interval_s=900)
    rng = np.random.default_rng(9)
    bars["volume"] = rng.uniform(0.0, 50.0, len(bars))
    prev = np.where(rng.random(len(bars)) < 0.1, 0.0, rng.uniform(1e3, 2e3, len(bars)))  # some OI unknown
    whole, sums, ts = turnover_rates(bars, prev, 0.1, 168.0, (0.0, 0.0), 0)
    parts, carried = [], ((0.0, 0.0), 0)
    for a, b in ((0, 1), (1, 150), (150, 151), (151, 400)):
        k, *rest = turnover_rates(bars[a:b], prev[a:b], 0.1, 168.0, *carried)
        parts.append(k)
        carried = (rest[0], rest[1])
    assert np.array_equal(whole, np.concatenate(parts))
    assert carried == (sums, ts)
    # and it is the weighted ratio it claims to be
    w = 0.5 ** ((bars["ts"][-1] - bars["ts"]) / 3.6e6 / 168.0)
    known = prev > 0
    want = (w * 0.1 * bars["volume"] * known).sum() / (w * prev * bars["interval_s"] / 3600.0).sum()
    assert whole[-1] == pytest.approx(want, rel=1e-12)


def test_lower_leverage_tiers_hold_bigger_positions():
    """A tier's representative position is position_usd at 10x and scales as (10 / leverage)^position_exponent:
    large positions use low leverage (Binance's brackets cap leverage as notional grows), so a 3x level is
    priced with a bigger position's bracket than a 25x level; exponent 0 prices every tier alike."""
    cfg = ModelConfig()  # swing: 3/5/10/25x
    assert cfg.position_for(10.0) == cfg.position_usd
    sizes = [cfg.position_for(lev) for lev in (3.0, 5.0, 10.0, 25.0)]
    assert sizes == sorted(sizes, reverse=True)
    assert cfg.position_for(5.0) == pytest.approx(2 * cfg.position_usd)
    flat = ModelConfig(position_exponent=0.0)
    assert {flat.position_for(lev) for lev in (3.0, 25.0)} == {flat.position_usd}
    # the 3x level of a 3.3M USD position (MMR 2.5 %, cum 16,300) sits nearer the price than a 1M one's
    m3, m1 = HeatModel(cfg, price=100.0), HeatModel(flat, price=100.0)
    lp3 = m3.layout.lp("long", np.asarray([100.0]), 3.0)[0]
    lp1 = m1.layout.lp("long", np.asarray([100.0]), 3.0)[0]
    assert lp3 == pytest.approx(
        liquidation_price("binance", "long", 100.0, 3.0, notional=cfg.position_usd * 10 / 3)
    )
    assert lp3 > lp1
