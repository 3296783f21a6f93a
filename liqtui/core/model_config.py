"""Every estimator choice (:class:`ModelConfig`) and the eight lookbacks, checked once, here.

Invalid values raise ``ValueError`` naming the field (``model.<field>``) and the allowed values.
"""

from __future__ import annotations

import math

import msgspec

from liqtui.core.leverage import DEFAULT_HALF_LIFE_H, FORMULAS, TIER_PRESETS, resolve_tiers

__all__ = [
    "CLOSINGS",
    "ENTRIES",
    "HOUR_MS",
    "LOOKBACKS",
    "LOOKBACK_MS",
    "OBSERVED_FALLBACK",
    "OPENINGS",
    "POSITION_REF_LEVERAGE",
    "SPLITS",
    "TIER_CHOICES",
    "ModelConfig",
]

HOUR_MS = 3_600_000
LOOKBACKS: tuple[str, ...] = ("12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M")
LOOKBACK_MS: dict[str, int] = {
    "12h": 12 * HOUR_MS,
    "1d": 24 * HOUR_MS,
    "3d": 72 * HOUR_MS,
    "7d": 168 * HOUR_MS,
    "14d": 336 * HOUR_MS,
    "1M": 30 * 24 * HOUR_MS,
    "3M": 90 * 24 * HOUR_MS,
    "6M": 180 * 24 * HOUR_MS,
}

SPLITS = ("taker", "even", "candle")
TIER_CHOICES: tuple[str, ...] = (*TIER_PRESETS, "custom", "observed")
#: The preset ``tiers = "observed"`` uses until a fit to the observed positions exists: the default one.
OBSERVED_FALLBACK = "swing"
ENTRIES = ("range", "vwap", "anchors", "close")
CLOSINGS = ("prorata", "taker")
OPENINGS = ("turnover", "volume")
#: The leverage whose tier holds ``position_usd`` (the others scale by ``position_exponent``).
POSITION_REF_LEVERAGE = 10.0


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"model.{field} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def _within(field: str, value: float, lo: float, hi: float, *, hi_open: bool = False, unit: str = "") -> None:
    """``lo <= value <= hi`` (``< hi`` with ``hi_open``) and finite, else a ValueError naming the field."""
    ok = math.isfinite(value) and lo <= value and (value < hi if hi_open else value <= hi)
    if not ok:
        right = ")" if hi_open else "]"
        raise ValueError(f"model.{field} must be in [{lo:g}, {hi:g}{right}{unit}; got {value!r}")


class ModelConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every estimator choice, with defaults. Invalid values raise ``ValueError`` naming the field."""

    bucket_pct: float = 0.1  # relative bucket width in percent (log-spaced grid)
    range_pct: float = 60.0  # grid covers price*(1±range) around the anchor, grown on exit
    split: str = "taker"  # "taker" | "even" | "candle": long/short share of new positions
    # "range" (entry_points prices spread evenly over each bar's low..high) | "vwap" | "anchors"
    # (close/high/low weights below) | "close"
    entry: str = "vwap"
    entry_points: int = 9  # entry == "range": how many equal-weight entry prices per bar
    entry_anchors: tuple[float, float, float] = (0.45, 0.275, 0.275)
    # "default" 5/10/25/50/100 | "scalp" 10/25/50/100 | "swing" 3/5/10/25 | "custom" | "observed"
    tiers: str = "swing"
    custom_tiers: dict[str, float] = {}  # {"20": 0.5, "50": 0.5} when tiers == "custom"
    # tiers == "observed": the leverage mix fitted to Hyperliquid's observed positions, filled at run time
    # (TierFit.custom_tiers); empty until a fit exists, and then the estimate uses OBSERVED_FALLBACK
    observed_tiers: dict[str, float] = {}
    formula: str = "binance"  # "binance" | "bybit" | "hyperliquid" | "shortcut"
    kernel: tuple[float, ...] = (0.25, 0.5, 0.25)
    closing: str = "prorata"  # "prorata" | "taker"
    open_share: float = (
        0.1  # share of the traded volume that opens positions (the rest of the turnover closes)
    )
    # how much a bar opens: "turnover" (its OI change plus the closing flow of the standing OI, at the rate
    # open_share × volume / OI averaged over turnover_half_life_h) | "volume" (max(OI rise, open_share × volume))
    opening: str = "turnover"
    turnover_half_life_h: float = 168.0  # memory of the turnover rate (opening = "turnover")
    decay: bool = False  # fade estimates by half_life_h (off: levels stand until consumed or closed)
    half_life_h: dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_HALF_LIFE_H))
    history_slice_s: int = 180  # time resolution of the 12h history; longer lookbacks keep as many slices
    symbol: str = "BTCUSDT"  # bracket table to use
    brackets_file: str = ""  # optional JSON bracket table overriding the shipped one
    # representative position notional at POSITION_REF_LEVERAGE (10x): picks the bracket (MMR, cum); a tier of
    # leverage L holds position_usd × (10 / L)^position_exponent (large positions use low leverage)
    position_usd: float = 1_000_000.0
    position_exponent: float = 1.0  # 0: every tier at position_usd
    hl_max_leverage: float = 40.0  # Hyperliquid max leverage (formula = "hyperliquid")
    max_buckets: int = 6000  # the grid grows to cover price moves up to this many buckets
    # -- zones (see HeatModel.zones) --------------------------------------------------------------------
    zone_horizon_h: float = 12.0  # each zone's reach: the chance the price touches it within this horizon
    activity_half_life_h: float = 24.0  # memory of the volatility and opening-rate estimates
    zone_max_width_pct: float = (
        1.5  # a zone wider than this (% of price) is cut at its deepest valley; 0 = off
    )
    zone_valley_ratio: float = 0.6  # a valley below this share of the lower neighbouring peak splits a zone

    def __post_init__(self) -> None:
        _choice("split", self.split, SPLITS)
        _choice("entry", self.entry, ENTRIES)
        _choice("closing", self.closing, CLOSINGS)
        _choice("opening", self.opening, OPENINGS)
        _choice("formula", self.formula, FORMULAS)
        _choice("tiers", self.tiers, TIER_CHOICES)
        self._check_grid()
        self._check_weights()
        self._check_half_lives()
        _within("open_share", self.open_share, 0.0, 1.0)
        _within("turnover_half_life_h", self.turnover_half_life_h, 0.1, 24.0 * 180, unit=" hours")
        if not (isinstance(self.entry_points, int) and 1 <= self.entry_points <= 15):
            raise ValueError(f"model.entry_points must be an integer in [1, 15]; got {self.entry_points!r}")
        _within("history_slice_s", self.history_slice_s, 10, 86_400)
        if not (math.isfinite(self.position_usd) and self.position_usd > 0):
            raise ValueError(f"model.position_usd must be > 0; got {self.position_usd!r}")
        _within("position_exponent", self.position_exponent, 0.0, 3.0)
        _within("hl_max_leverage", self.hl_max_leverage, 1.0, 200.0)
        _within("zone_horizon_h", self.zone_horizon_h, 0.0, 24.0 * 180, unit=" hours")
        _within("activity_half_life_h", self.activity_half_life_h, 0.1, 24.0 * 180, unit=" hours")
        _within("zone_max_width_pct", self.zone_max_width_pct, 0.0, 100.0)
        _within("zone_valley_ratio", self.zone_valley_ratio, 0.0, 1.0)

    def _check_grid(self) -> None:
        _within("bucket_pct", self.bucket_pct, 0.001, 10.0)
        _within("range_pct", self.range_pct, 1.0, 100.0, hi_open=True)
        r = self.range_pct / 100.0
        need = 2 * math.ceil(math.log((1 + r) / (1 - r)) / math.log1p(self.bucket_pct / 100.0))
        if not (need <= self.max_buckets <= 200_000):
            raise ValueError(
                f"model.max_buckets must be in [{need}, 200000] (twice the buckets of ±range_pct); "
                f"got {self.max_buckets!r}"
            )

    def _check_weights(self) -> None:
        a = self.entry_anchors
        if len(a) != 3 or any(not (w >= 0) for w in a) or sum(a) <= 0:
            raise ValueError(f"model.entry_anchors must be 3 weights >= 0 with a positive sum; got {a!r}")
        k = self.kernel
        if not (1 <= len(k) <= 15 and len(k) % 2 == 1) or any(not (w >= 0) for w in k) or sum(k) <= 0:
            raise ValueError(
                f"model.kernel must be an odd number (1..15) of weights >= 0 with a positive sum; got {k!r}"
            )
        if self.tiers == "custom":
            resolve_tiers("custom", self.custom_tiers)
        if self.observed_tiers:
            try:
                resolve_tiers("custom", self.observed_tiers)
            except ValueError as exc:
                raise ValueError(f"model.observed_tiers: {exc}") from None

    def _check_half_lives(self) -> None:
        for key, hl in self.half_life_h.items():
            try:
                lev = float(str(key).rstrip("xX"))
            except ValueError:
                raise ValueError(f"model.half_life_h key {key!r} must be a leverage like '25'") from None
            if not (lev > 0 and math.isfinite(hl) and hl > 0):
                raise ValueError(f"model.half_life_h[{key!r}] must be a positive number of hours; got {hl!r}")
        if not self.half_life_h:
            raise ValueError("model.half_life_h must not be empty")

    def position_for(self, leverage: float) -> float:
        """Representative position notional (USD) of the tier of ``leverage``: ``position_usd`` at
        :data:`POSITION_REF_LEVERAGE`, × (10 / leverage)^``position_exponent`` at the others."""
        return float(self.position_usd * (POSITION_REF_LEVERAGE / leverage) ** self.position_exponent)

    def resolved_tiers(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(leverages, normalised weights) of the configured tier set. ``"observed"`` without a fit yet
        (``observed_tiers`` empty) resolves to the default preset, :data:`OBSERVED_FALLBACK`."""
        if self.tiers == "observed":
            if self.observed_tiers:
                return resolve_tiers("custom", self.observed_tiers)
            return resolve_tiers(OBSERVED_FALLBACK)
        return resolve_tiers(self.tiers, self.custom_tiers)
