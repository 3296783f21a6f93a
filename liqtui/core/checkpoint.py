"""Checkpoints of a model: its config and its :class:`~liqtui.core.state.ModelState`, field by field.

Layout: ``MAGIC`` + 8-byte little-endian length + msgpack header (``config``, ``meta``: every
non-array field by its dotted path, and the keys of array dicts) + an ``.npz`` of every array by its
dotted path. Nothing here names a field: :func:`flatten` and :func:`unflatten` walk the dataclasses by
their declared types, so a new field is saved and restored by being declared.
"""

from __future__ import annotations

import dataclasses
import io
import typing
from typing import Any

import msgspec
import numpy as np

from liqtui.core.grid import PriceGrid
from liqtui.core.model_config import ModelConfig
from liqtui.core.state import ModelState

__all__ = ["FORMAT", "MAGIC", "decode", "encode", "flatten", "unflatten"]

FORMAT = 2
_PREFIX = b"LIQTUI-HEATMODEL-"
MAGIC = _PREFIX + str(FORMAT).encode() + b"\n"
_ARRAY_DICT = dict[str, np.ndarray]
_GRID = PriceGrid | None


def flatten(obj: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    """Every field of the dataclass ``obj`` into ``meta`` (msgpack-able values) and ``arrays``, by path."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        path, value, hint = prefix + f.name, getattr(obj, f.name), hints[f.name]
        if dataclasses.is_dataclass(hint):
            flatten(value, meta, arrays, path + ".")
        elif hint is np.ndarray:
            arrays[path] = value
        elif hint == _ARRAY_DICT:
            meta[path] = list(value)
            arrays.update({f"{path}.{key}": arr for key, arr in value.items()})
        elif hint == _GRID:
            meta[path] = None if value is None else [value.bucket_pct, value.range_pct, value.k0, value.n]
        else:
            meta[path] = msgspec.to_builtins(value)


def unflatten(cls: type[Any], meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "") -> Any:
    """The dataclass ``cls`` rebuilt from what :func:`flatten` wrote (KeyError/ValueError when it is not there)."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        path, hint = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = unflatten(hint, meta, arrays, path + ".")  # type: ignore[arg-type]  # a class here
        elif hint is np.ndarray:
            kwargs[f.name] = arrays[path]
        elif hint == _ARRAY_DICT:
            kwargs[f.name] = {str(key): arrays[f"{path}.{key}"] for key in meta[path]}
        elif hint == _GRID:
            kwargs[f.name] = None if meta[path] is None else _grid(*meta[path])
        else:
            kwargs[f.name] = msgspec.convert(meta[path], hint)
    return cls(**kwargs)


def _grid(bucket_pct: float, range_pct: float, k0: int, n: int) -> PriceGrid:
    return PriceGrid(1.0, bucket_pct, range_pct).moved(int(k0), int(k0) + int(n))


def encode(config: ModelConfig, state: ModelState) -> bytes:
    """The checkpoint bytes of ``state`` (a model built with ``config``)."""
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    flatten(state, meta, arrays)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    head = msgspec.msgpack.encode({"config": msgspec.to_builtins(config), "meta": meta})
    return MAGIC + len(head).to_bytes(8, "little") + head + buf.getvalue()


def decode(b: bytes | bytearray | memoryview) -> tuple[ModelConfig, ModelState]:
    """(config, state) of checkpoint bytes; ``ValueError`` naming the problem for anything else."""
    b = bytes(b) if isinstance(b, (bytes, bytearray, memoryview)) else b""  # anything else: bad magic
    if not b.startswith(_PREFIX):
        raise ValueError("not a liqtui HeatModel checkpoint (bad magic)")
    if not b.startswith(MAGIC):
        found = b[len(_PREFIX) : b.find(b"\n", len(_PREFIX), len(_PREFIX) + 8)].decode("ascii", "replace")
        raise ValueError(
            f"HeatModel checkpoint format {found!r} is not readable by this version (format {FORMAT}); "
            "the model is rebuilt from history instead"
        )
    try:
        off = len(MAGIC)
        mlen = int.from_bytes(b[off : off + 8], "little")
        head = msgspec.msgpack.decode(b[off + 8 : off + 8 + mlen])
        npz = np.load(io.BytesIO(b[off + 8 + mlen :]), allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
        config = msgspec.convert(head["config"], ModelConfig)
        state = typing.cast(ModelState, unflatten(ModelState, head["meta"], arrays))
    except (KeyError, TypeError, ValueError, OSError, EOFError, msgspec.DecodeError) as exc:
        raise ValueError(f"corrupt HeatModel checkpoint: {exc}") from exc
    return config, state
