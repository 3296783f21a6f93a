"""Checkpoints follow from the declared ModelState: every field round-trips, found by walking the state."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from liqtui.core import checkpoint
from liqtui.core.model import LOOKBACKS, HeatModel, ModelConfig
from liqtui.core.state import ModelState


def _leaves(state: ModelState) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    checkpoint.flatten(state, meta, arrays)
    return meta, arrays


def _field_paths(cls: type, prefix: str = "") -> set[str]:
    """Every declared (leaf) field of the state, by dotted path."""
    import typing

    hints = typing.get_type_hints(cls)
    out: set[str] = set()
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            out |= _field_paths(hint, prefix + f.name + ".")
        else:
            out.add(prefix + f.name)
    return out


@pytest.fixture
def busy(bars_5k: np.ndarray) -> HeatModel:
    """A model with every kind of state in use: seeded, consumed, closed, decayed, history, live consumption."""
    m = HeatModel()
    m.step_many(bars_5k[:3000])
    m.consume(m.price * 0.999, m.price * 1.001, int(bars_5k["ts"][2999]) + 1000)
    return m


def test_every_declared_field_round_trips(busy: HeatModel):
    blob = busy.to_bytes()
    meta_a, arr_a = _leaves(busy.state)
    meta_b, arr_b = _leaves(HeatModel.from_bytes(blob).state)
    # nothing is left out: every leaf field of the declared state is in the checkpoint ...
    for path in _field_paths(ModelState):
        assert path in meta_a or path in arr_a or any(k.startswith(path + ".") for k in arr_a), path
    # ... and comes back identical (value, dtype and shape)
    assert meta_a == meta_b
    assert arr_a.keys() == arr_b.keys()
    for key, a in arr_a.items():
        b = arr_b[key]
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), key


def test_round_trip_continues_identically(busy: HeatModel, bars_5k: np.ndarray):
    clone = HeatModel.from_bytes(busy.to_bytes())
    busy.step_many(bars_5k[3000:])
    clone.step_many(bars_5k[3000:])
    assert _leaves(busy.state)[0] == _leaves(clone.state)[0]
    for lb in LOOKBACKS:
        assert np.array_equal(np.stack(busy.profile(lb)), np.stack(clone.profile(lb)))
    assert busy.zones("1d") == clone.zones("1d")


def test_state_fields_are_not_defaults(busy: HeatModel):
    """The round-trip test means something: the busy model's state differs from a fresh one's in its
    ledger, windows, history, activity and scalars."""
    fresh_meta, fresh_arr = _leaves(HeatModel().state)
    meta, arr = _leaves(busy.state)
    changed = {k for k in meta if meta[k] != fresh_meta.get(k)}
    for path in (
        "stats",
        "activity",
        "oi_base",
        "long_hi",
        "short_lo",
        "version",
        "price",
        "last_ts",
        "grid",
    ):
        assert path in changed, path
    assert any(k.startswith("ring.ring.") and arr[k].any() for k in arr)
    assert any(k.startswith("windows.arr.") and arr[k].any() for k in arr)
    assert busy.state.windows.log.size > 0 and not fresh_arr["windows.log.amt"].any()


def test_older_format_is_refused_clearly(busy: HeatModel):
    old = b"LIQTUI-HEATMODEL-1\n" + busy.to_bytes()[len(checkpoint.MAGIC) :]
    with pytest.raises(ValueError, match=r"checkpoint format '1' is not readable.*format 2"):
        HeatModel.from_bytes(old)


def test_a_state_that_does_not_fit_its_config_is_refused(busy: HeatModel):
    cfg = ModelConfig(tiers="scalp")  # 4 tiers, the state has 5
    blob = checkpoint.encode(cfg, busy.state)
    with pytest.raises(ValueError, match=r"corrupt HeatModel checkpoint: lnD"):
        HeatModel.from_bytes(blob)
