"""The observed layer wired end to end: the [hyperliquid] config, ``tiers = "observed"``, one observer per source
that follows Hyperliquid (demo, replay), and the ``observed`` / ``calibration`` keys of ``liqtui zones --json``."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from liqtui.config import ConfigError, HyperliquidConfig, convert_config
from liqtui.core.events import MarketEvent
from liqtui.core.leverage import TIER_PRESETS
from liqtui.core.model import ModelConfig
from liqtui.core.model_config import OBSERVED_FALLBACK
from liqtui.headless import collect_zones, observed_document
from liqtui.sources import Source
from tests.feeds.realdata import HYPERLIQUID
from tests.sim.conftest import wait_until


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"info_share": 0}, "hyperliquid.info_share must be > 0 and at most 1"),
        ({"info_share": 1.01}, "hyperliquid.info_share must be > 0 and at most 1"),
        ({"max_accounts": 0}, "hyperliquid.max_accounts must be an integer between 1 and 100000"),
        ({"dex": "no spaces"}, "hyperliquid.dex must be a sub-dex name"),
        ({"addresses": "/nonexistent/addresses.txt"}, "hyperliquid.addresses = '/nonexistent/addresses.txt'"),
        ({"observd": True}, "unknown key 'hyperliquid.observd' (did you mean 'observed'?)"),
    ],
)
def test_bad_hyperliquid_settings_are_named(section: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        convert_config({"hyperliquid": section})
    assert named in str(err.value)


def test_hyperliquid_section_defaults_and_a_seed_file(tmp_path: Path) -> None:
    assert convert_config({}).hyperliquid == HyperliquidConfig(
        observed=True, info_share=0.5, addresses="", max_accounts=5000, dex=""
    )
    seeds = tmp_path / "addresses.txt"
    seeds.write_text(f"# mine\n0x{1:040x}\n")
    hl = convert_config({"hyperliquid": {"addresses": str(seeds), "info_share": 1}}).hyperliquid
    assert hl.info_share == 1 and hl.addresses == str(seeds)
    seeds.write_text("not an address\n")
    with pytest.raises(ConfigError, match=r"hyperliquid\.addresses = .*addresses\.txt:1"):
        convert_config({"hyperliquid": {"addresses": str(seeds)}})


def test_observed_tiers_use_the_fit_and_fall_back_to_the_default_preset() -> None:
    fallback = ModelConfig(tiers="observed").resolved_tiers()
    assert OBSERVED_FALLBACK == ModelConfig().tiers
    assert fallback == (tuple(sorted(TIER_PRESETS[OBSERVED_FALLBACK])), fallback[1])
    fitted = ModelConfig(tiers="observed", observed_tiers={"3": 0.25, "20": 0.75}).resolved_tiers()
    assert fitted == ((3.0, 20.0), (0.25, 0.75))
    with pytest.raises(ValueError, match="model.tiers must be one of .*'observed'"):
        ModelConfig(tiers="observd")
    with pytest.raises(ValueError, match="model.observed_tiers"):
        ModelConfig(tiers="observed", observed_tiers={"x": 1.0})
    with pytest.raises(ConfigError, match="model.tiers"):
        convert_config({"model": {"tiers": "obs"}})


async def test_the_demo_serves_hyperliquid_and_the_source_observes_it() -> None:
    """``--demo --exchange binance,hyperliquid``: the demo follows both, one observer polls the demo's info
    endpoint; the zones document then carries coverage and calibration; stopping closes the observer."""
    src = Source("demo", venues=["binance", "hyperliquid"], seed=3, speed=5.0, history_lookback="12h")
    assert src.venues == ["binance", "hyperliquid"]
    task = asyncio.create_task(src(lambda ev: src.engine.apply(ev)))
    try:
        await wait_until(lambda: src.history_loaded.is_set(), timeout=120, what="the demo's history")
        await wait_until(
            lambda: src.observer is not None and len(src.observer.observed.polled) >= 10,
            timeout=120,
            what="10 accounts polled on the demo's info endpoint",
        )
        await wait_until(lambda: src.observer.oi_usd is not None, what="Hyperliquid's open interest")
        doc = observed_document(src, "12h", 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert src.demo_hyperliquid is not None and src.observer.store is None  # demo data never enters a store
    obs, cal = doc["observed"], doc["calibration"]
    assert obs["accounts_seen"] >= obs["accounts_polled"] >= 10
    assert 0 < obs["coverage"] < 1 and obs["age_s"] >= 0
    assert obs["above"] or obs["below"]
    assert set(obs["above"][0] if obs["above"] else obs["below"][0]) >= {"low", "high", "peak", "usd", "side"}
    assert set(cal) >= {"corr_long", "corr_short", "recall_top5"}
    assert cal["recall_top5"] is not None and 0 <= cal["recall_top5"] <= 1
    assert src.observer.poller.stats.ok >= 10


def test_the_demo_without_hyperliquid_has_no_observer() -> None:
    assert Source("demo", venues=["binance", "bybit"]).venues == ["binance"]
    assert Source("demo", venues=["hyperliquid"]).venues == ["hyperliquid"]


async def test_zones_json_keys_only_when_hyperliquid_is_followed() -> None:
    doc = await collect_zones("demo", seconds=0.5, lookback="12h", venues=["binance"], seed=1)
    assert "observed" not in doc and "calibration" not in doc
    off = await collect_zones(
        "demo", seconds=0.5, lookback="12h", venues=["hyperliquid"], seed=1,
        hyperliquid=HyperliquidConfig(observed=False),
    )  # fmt: skip
    assert off["observed"]["accounts_seen"] == 0 and off["observed"]["coverage"] is None
    assert off["calibration"] == {"corr_long": None, "corr_short": None, "recall_top5": None}
    assert "off in the config" in off["observed"]["notes"][0]


async def test_a_recording_discovers_accounts_and_notes_the_missing_info_endpoint(real_data: Path) -> None:
    path = real_data / HYPERLIQUID
    if not path.exists():
        pytest.skip(f"{HYPERLIQUID} not in {real_data}")
    doc = await collect_zones("replay", replay_path=str(path), lookback="12h")
    assert doc["stats"]["instruments"] == {"hyperliquid": "BTC"}
    assert doc["observed"]["accounts_seen"] > 10 and doc["observed"]["accounts_polled"] == 0
    src = Source("replay", replay_path=str(path), venues=["hyperliquid"])
    events: list[MarketEvent] = []
    await src(events.append)
    assert src.observer is not None and len(src.observer.book) > 10
    assert src.observer.observed.polled == {}
    assert any("info" in n and "endpoint" in n for n in src.notes), src.notes
    rep = observed_document(src, "12h", 5)
    assert rep["observed"]["accounts_seen"] == len(src.observer.book)
    assert rep["observed"]["accounts_polled"] == 0 and rep["observed"]["age_s"] is None
    assert rep["calibration"]["corr_long"] is None


def test_calibration_is_unknown_without_an_estimate() -> None:
    """An estimate with no zones yet (Hyperliquid alone: no open-interest history) is not a recall of 0."""
    import msgspec
    import numpy as np

    from liqtui.core.grid import PriceGrid
    from liqtui.core.observed import ObservedBook, ObservedPosition, calibrate
    from liqtui.core.zones import ZoneReport

    book = ObservedBook("BTC")
    pos = ObservedPosition(address="a", coin="BTC", side=1, size=1.0, entry_px=1e5, leverage=10, margin="cross",
                           liq_px=95_000.0, value_usd=1e5, ts=0)  # fmt: skip
    book.update("a", [pos], 0)
    edges = PriceGrid(100_000.0, bucket_pct=0.1, range_pct=30.0).edges
    zeros = (np.zeros(len(edges) - 1), np.zeros(len(edges) - 1))
    observed_zones = book.zones(edges, 100_000.0)
    assert observed_zones.below
    empty = msgspec.structs.replace(observed_zones, above=[], below=[])
    assert isinstance(empty, ZoneReport)
    cal = calibrate(edges, 100_000.0, zeros, book.profile(edges), estimate_zones=empty,
                    observed_zones=observed_zones)  # fmt: skip
    assert cal.corr_long is None and cal.recall_top5 is None
    hit = calibrate(edges, 100_000.0, book.profile(edges), book.profile(edges), estimate_zones=observed_zones,
                    observed_zones=observed_zones)  # fmt: skip
    assert hit.recall_top5 == 1.0 and hit.corr_long is not None and hit.corr_long > 0.99
