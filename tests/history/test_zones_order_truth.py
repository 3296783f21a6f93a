"""``liqtui zones`` for issue 11: every zone's reach (rounded), the ``order`` of each side (``--order``), and on
the demo the ``truth`` scorecard of the map against the simulator's true positions."""

from __future__ import annotations

import json

import pytest

from liqtui.cli import parse_args
from liqtui.commands.zones import run_zones
from liqtui.config import Config
from liqtui.headless import REACH_DIGITS, ZonesArgError, collect_zones, format_text, zones_document
from liqtui.ui.synthetic import make_engine

from .test_replay import agg, write_ours

ZONE_KEYS = {"side", "low", "high", "peak", "usd", "share", "distance_pct", "cum_usd", "tiers", "confluence"}
TRUTH_METRICS = {"corr", "naive_corr", "recall", "naive_recall", "emd_pct", "naive_emd_pct"}


@pytest.fixture(scope="module")
def engine():
    """A real engine after 12 h of the seeded synthetic market (zones on both sides, some within reach)."""
    return make_engine(720)


def _decimals_ok(x: float) -> bool:
    return float(f"{x:.{REACH_DIGITS}g}") == x


def test_zones_document_lists_by_the_order_asked_with_a_rounded_reach(engine):
    strong = zones_document(engine, lookback="12h", top=5)
    reach = zones_document(engine, lookback="12h", top=5, order="reach")
    assert strong["order"] == "strength" and reach["order"] == "reach"
    for side in ("above", "below"):
        zs, zr = strong[side], reach[side]
        assert zs and all(ZONE_KEYS | {"reach"} <= set(z) for z in zs)  # the schema kept, reach added
        assert all(0.0 <= z["reach"] <= 1.0 and _decimals_ok(z["reach"]) for z in zs + zr)
        assert [z["usd"] for z in zs] == sorted((z["usd"] for z in zs), reverse=True)
        assert [z["reach"] for z in zr] == sorted((z["reach"] for z in zr), reverse=True)
        assert sorted(z["low"] for z in zs) == sorted(z["low"] for z in zr)
    assert [z["low"] for z in strong["below"]] != [z["low"] for z in reach["below"]]
    assert any(0 < z["reach"] < 1 for z in strong["above"] + strong["below"])
    text = format_text({**reach, "stats": {}})
    assert "zones by reach" in text and "reach" in text.splitlines()[3]
    assert "truth" not in strong  # only a demo knows the truth


def _cli(argv, capsys):
    code = run_zones(parse_args(argv), Config())
    out = capsys.readouterr()
    return code, out.out, out.err


def test_order_flag_and_its_named_error(tmp_path, capsys):
    path = write_ours(tmp_path / "t.jsonl", [agg(i) for i in range(100)])
    code, out, err = _cli(["zones", "--replay", str(path), "--json", "--order", "reach"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["order"] == "reach" and "truth" not in doc
    assert all("reach" in z for z in doc["above"] + doc["below"])
    code, out, err = _cli(["zones", "--replay", str(path), "--json"], capsys)
    assert code == 0 and json.loads(out)["order"] == "strength"
    with pytest.raises(SystemExit) as ex:
        parse_args(["zones", "--order", "nearest"])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert "--order" in err and "strength reach" in err and "'nearest'" in err
    ns = parse_args(["zones", "--replay", str(path)])
    ns.order = "size"
    assert run_zones(ns, Config()) == 2
    assert "--order must be one of strength reach, got 'size'" in capsys.readouterr().err


async def test_bad_order_is_refused_before_any_collection():
    with pytest.raises(ZonesArgError, match="--order must be one of strength reach"):
        await collect_zones("demo", order="size")


async def test_demo_zones_carry_the_truth_of_the_lookback_shown():
    doc = await collect_zones("demo", seconds=1.0, lookback="1d", top=5, seed=2, order="reach")
    assert doc["order"] == "reach"
    assert all(_decimals_ok(z["reach"]) for z in doc["above"] + doc["below"])
    truth = doc["truth"]
    assert truth["bucket_pct"] > 0 and truth["window_pct"] > 0 and "open interest" in truth["naive"]
    assert set(truth["lookbacks"]) == {"1d"}
    for side in ("long", "short"):
        card = truth["lookbacks"]["1d"][side]
        assert TRUTH_METRICS <= set(card)
        assert -1.0 <= card["corr"] <= 1.0 and 0.0 <= card["recall"] <= 1.0 and card["emd_pct"] >= 0
        assert card["true_usd"] > 0 and card["est_usd"] > 0
    # the map beats the naive baseline on this seed (the scorecard's spread is measured in tests/sim)
    both = truth["lookbacks"]["1d"]
    assert sum(both[s]["corr"] for s in both) > sum(both[s]["naive_corr"] for s in both)
    json.dumps(doc, allow_nan=False)  # JSON-ready
