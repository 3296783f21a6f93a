"""From stored history back to a full heatmap: model bars, rebuild, checkpoints.

* :func:`model_bars` turns store bars (:data:`liqtui.history.store.BAR_DTYPE`) into the bars
  :meth:`liqtui.core.model.HeatModel.step_many` takes (VWAP and taker-buy share derived, invalid rows dropped).
* :func:`rebuild` steps a model through the store's bars of a span: all eight lookbacks from one pass.
* :func:`restore` loads the newest checkpoint of a key and catches up on the bars stored since it was taken;
  :class:`Checkpointer` saves checkpoints every ``checkpoint_s`` while the app runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import numpy as np

from liqtui.core import model as core_model
from liqtui.core.engine import Engine
from liqtui.core.model import HeatModel, ModelConfig
from liqtui.history.store import Store, StoreError, pack_checkpoint

__all__ = ["Checkpointer", "feed_model", "model_bars", "rebuild", "restore", "step_bars", "step_chunk"]

log = logging.getLogger("liqtui.history")

#: Bars per ``step_many`` call (with ``until_ts``): small enough to yield to the event loop between calls.
STEP_CHUNK = 10_000


def model_bars(bars: np.ndarray, *, after_ts: int | None = None) -> np.ndarray:
    """Store bars → :data:`liqtui.core.model.BAR_DTYPE`, oldest first.

    Rows without a usable price (unknown or non-positive OHLC) are dropped; high/low are widened to bound
    open and close (trade-aggregated partial bars can be a tick off); ``after_ts`` keeps only later bars.
    """
    ok = np.ones(len(bars), dtype=bool)
    for f in ("open", "high", "low", "close"):
        ok &= np.isfinite(bars[f]) & (bars[f] > 0)
    if after_ts is not None:
        ok &= bars["ts"] > after_ts
    b = bars[ok]
    b = b[np.argsort(b["ts"], kind="stable")]
    out = np.zeros(len(b), dtype=core_model.BAR_DTYPE)
    out["ts"] = b["ts"]
    out["open"], out["close"] = b["open"], b["close"]
    out["high"] = np.maximum(b["high"], np.maximum(b["open"], b["close"]))
    out["low"] = np.minimum(b["low"], np.minimum(b["open"], b["close"]))
    vol = np.nan_to_num(b["volume"], nan=0.0)
    out["volume"] = vol
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = np.where(vol > 0, b["quote_volume"] / vol, np.nan)
        share = np.where(vol > 0, b["taker_buy_volume"] / vol, np.nan)
    out["vwap"] = np.where((vwap >= out["low"]) & (vwap <= out["high"]), vwap, np.nan)
    out["taker_buy_share"] = np.clip(share, 0.0, 1.0)
    oi = b["oi_usd"]
    out["oi_usd"] = np.where(oi >= 0, oi, np.nan)
    out["interval_s"] = b["interval_s"]
    return out


def rebuild(
    store: Store,
    venue: str,
    symbol: str,
    *,
    model: HeatModel | None = None,
    config: ModelConfig | None = None,
    lookback: str = "6M",
    now_ms: int | None = None,
) -> HeatModel:
    """Step ``model`` (a new one from ``config`` if None) through the stored bars of ``venue``/``symbol``
    (instrument name) of the last ``lookback`` that closed by ``now_ms``, after the model's ``last_ts``.
    Returns the model."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    m = model if model is not None else HeatModel(config)
    start = now - core_model.LOOKBACK_MS[lookback]
    if m.last_ts:
        start = max(start, m.last_ts + 1)
    bars = model_bars(store.read_bars(venue, symbol, start, now + 1), after_ts=m.last_ts or None)
    bars = bars[bars["ts"] + bars["interval_s"] * 1000 <= now]  # a minute still forming is not a bar yet
    step_bars(m, bars)
    return m


def step_bars(model: HeatModel, bars: np.ndarray) -> None:
    """Step ``model`` through model bars in chunks of :data:`STEP_CHUNK`, telling each call where the whole
    sequence ends (``until_ts``) so history slices a later chunk overwrites are never drawn."""
    if len(bars) == 0:
        return
    until = int(bars["ts"][-1])
    for i in range(0, len(bars), STEP_CHUNK):
        model.step_many(bars[i : i + STEP_CHUNK], until_ts=until)


def step_chunk(target: HeatModel | Engine, chunk: np.ndarray, until_ts: int) -> int:
    """Step ``target`` through one chunk of store bars (those after its model's ``last_ts``) of a sequence that
    ends at ``until_ts``. An :class:`~liqtui.core.engine.Engine` also records the bars as candles for the klines
    overlay (:meth:`Engine.load_history`). Returns the number of bars stepped."""
    model = target.model if isinstance(target, Engine) else target
    mb = model_bars(chunk, after_ts=model.last_ts or None)
    if not len(mb):
        return 0
    if isinstance(target, Engine):
        return target.load_history(mb, until_ts=until_ts)
    model.step_many(mb, until_ts=until_ts)
    return len(mb)


async def feed_model(
    model: HeatModel, bars: np.ndarray, *, on_chunk: Callable[[np.ndarray], object] | None = None
) -> int:
    """Step ``model`` through store bars chunk by chunk, yielding to the event loop between chunks so a UI
    stays responsive; ``on_chunk(store_chunk)`` after each. Returns the number of bars stepped."""
    if len(bars) == 0:
        return 0
    until = int(bars["ts"][-1])
    n = 0
    for i in range(0, len(bars), STEP_CHUNK):
        chunk = bars[i : i + STEP_CHUNK]
        n += step_chunk(model, chunk, until)
        if on_chunk is not None:
            on_chunk(chunk)
        await asyncio.sleep(0)
    return n


def restore(
    store: Store,
    key: str,
    venue: str,
    symbol: str,
    *,
    config: ModelConfig | None = None,
    lookback: str = "6M",
    now_ms: int | None = None,
) -> tuple[HeatModel, bool]:
    """The model of checkpoint ``key`` caught up with the bars stored since, or (if there is no usable
    checkpoint) one rebuilt from the store. Returns ``(model, restored_from_checkpoint)``."""
    found = store.load_checkpoint(key)
    model: HeatModel | None = None
    if found is not None:
        try:
            model = HeatModel.from_bytes(found[1])
        except ValueError as exc:
            log.warning("ignoring checkpoint %s: %s", key, exc)
    restored = model is not None
    return rebuild(
        store, venue, symbol, model=model, config=config, lookback=lookback, now_ms=now_ms
    ), restored


class Checkpointer:
    """Saves ``model.to_bytes()`` to the store under ``key`` every ``interval_s`` while :meth:`run` runs
    (and once more when it is cancelled), skipping when the model did not change. A save the store refuses
    (a full disk, a damaged file) is counted in ``failed`` and logged, and :meth:`run` goes on."""

    def __init__(self, store: Store, key: str, model: HeatModel, *, interval_s: float = 60.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"checkpoint interval must be > 0 s, got {interval_s}")
        self.store, self.key, self.model, self.interval_s = store, key, model, interval_s
        self.saved = 0
        self.failed = 0
        self.last_error = ""
        self._version = -1

    def save(self) -> bool:
        """Save now if the model changed since the last save; True when a checkpoint was written."""
        if not self._changed():
            return False
        self.store.save_checkpoint(self.key, self.model.last_ts, self.model.to_bytes())
        self._saved()
        return True

    async def save_async(self) -> bool:
        """Like :meth:`save`, compressing in a worker thread: the event loop only pays for the snapshot
        (``to_bytes``, which must see a consistent model) and one small write."""
        if not self._changed():
            return False
        ts, version, data = self.model.last_ts, self.model.version, self.model.to_bytes()
        blob = await asyncio.to_thread(pack_checkpoint, data)
        self.store.save_checkpoint(self.key, ts, blob, packed=True)
        self._saved(version)
        return True

    def _changed(self) -> bool:
        return bool(self.model.last_ts) and self.model.version != self._version

    def _saved(self, version: int | None = None) -> None:
        self._version = self.model.version if version is None else version
        self.saved += 1

    async def run(self) -> None:
        """Save every ``interval_s`` until cancelled (and once more, synchronously, on the way out)."""
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                try:
                    await self.save_async()
                except StoreError as exc:
                    self._failed(exc)
        finally:
            try:
                self.save()
            except Exception as exc:  # noqa: BLE001 - shutting down: say it, never raise from here
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.failed += 1
        self.last_error = str(exc)
        if self.failed <= 3 or self.failed % 100 == 0:
            log.warning("checkpoint of %s not saved (%d failed so far): %s", self.key, self.failed, exc)
