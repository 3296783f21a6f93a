"""The one object the app and the headless command wire for Hyperliquid's observed positions.

:class:`HyperliquidObserver` owns the address book (discovery from the decoder's ``on_users``, optional
seed file, persisted), the :class:`~liqtui.core.observed.ObservedBook`, the
:class:`~liqtui.venues.hyperliquid.poller.PositionPoller` and the calibration log. Wiring::

    obs = HyperliquidObserver("BTC", info_url=endpoints.rest("hyperliquid"), store_path=store.path)
    obs.attach(feed_manager.decoders["hyperliquid"])     # or the replay's decoder (info_url=None)
    sink = tee(engine.apply, obs.apply)                  # price crossings and Hyperliquid's open interest
    task = asyncio.create_task(obs.run())                # polling + periodic saves; cancel to stop
    rep = obs.report(engine.model, lookback, now_ms)     # coverage, zones, calibration, fit
    doc.update(obs.json(engine.model, lookback, now_ms)) # liqtui zones --json
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqtui.core.events import MarketEvent, MarkPrice, OpenInterest, Trade, Venue
from liqtui.core.observed import (
    Calibration,
    Coverage,
    ObservedBook,
    TierFit,
    calibrate,
    fit_tiers,
    observed_json,
)
from liqtui.core.zones import ZoneReport
from liqtui.venues.base import BaseDecoder
from liqtui.venues.hyperliquid.accounts import AddressBook, AddressStore, read_seed_file
from liqtui.venues.hyperliquid.feed import HyperliquidDecoder
from liqtui.venues.hyperliquid.poller import PollPolicy, PositionPoller

__all__ = ["HyperliquidObserver", "ObservedReport"]


@dataclass(frozen=True)
class ObservedReport:
    coverage: Coverage
    zones: ZoneReport | None
    calibration: Calibration | None
    fit: TierFit | None


class HyperliquidObserver:
    """Discovery, polling, the observed book and its calibration for one coin.

    ``info_url`` None (a recording): accounts are discovered, nothing is polled, :attr:`notes` says so.
    ``store_path``: the SQLite file for the address book and the calibration log (None: not persisted).
    ``share``: the part of Hyperliquid's 1200 weight per minute the poller may spend."""

    def __init__(
        self,
        coin: str,
        *,
        info_url: str | None,
        share: float = 0.5,
        store_path: str | Path | None = None,
        seed_file: str | Path | None = None,
        capacity: int = 5000,
        dex: str = "",
        policy: PollPolicy | None = None,
        save_every_s: float = 60.0,
    ) -> None:
        self.coin = coin
        self.book = AddressBook(coin, capacity=capacity)
        self.observed = ObservedBook(coin)
        self.price: float | None = None
        self.oi_usd: float | None = None  # from the feed's activeAssetCtx (one side, USD)
        self.store = AddressStore(store_path) if store_path is not None else None
        if self.store is not None:
            self.book.load(self.store.load(coin, capacity))
        if seed_file is not None:
            self.book.seed(read_seed_file(seed_file), int(time.time() * 1000))
        self.poller = PositionPoller(
            self.book, self.observed, info_url=info_url, share=share, policy=policy, dex=dex,
            price=lambda: self.price,
        )  # fmt: skip
        self.save_every_s = save_every_s
        self.last: ObservedReport | None = None

    @property
    def notes(self) -> list[str]:
        return self.poller.notes

    def attach(self, decoder: BaseDecoder) -> None:
        """Take the accounts of ``decoder``'s trades (a Hyperliquid decoder; others are refused)."""
        if not isinstance(decoder, HyperliquidDecoder):
            raise TypeError(f"observed positions need the hyperliquid decoder, got {decoder.venue.value}")
        decoder.on_users = self.poller.on_trade

    def apply(self, ev: MarketEvent) -> None:
        """Hyperliquid prices consume the observed levels they cross; its open interest sets coverage."""
        if ev.venue is not Venue.HYPERLIQUID:
            return
        if isinstance(ev, (Trade, MarkPrice)):
            p = ev.price if isinstance(ev, Trade) else ev.mark
            prev = self.price if self.price is not None else p
            self.price = p
            if p != prev:
                crossed = self.observed.cross(min(p, prev), max(p, prev), ev.ts)
                if crossed:  # a realized liquidation: confirm (and see what is left) soon
                    due = self.poller.clock() + self.poller.policy.confirm_s
                    for r in crossed:
                        self.poller.scheduler.sooner(r.address, due)
        elif isinstance(ev, OpenInterest):
            self.oi_usd = ev.usd

    async def run(self) -> None:
        """Poll (when there is an info endpoint) and save the address book every ``save_every_s``."""
        saver = asyncio.create_task(self._saver()) if self.store is not None else None
        try:
            await self.poller.run()
            if saver is not None:
                await saver  # a recording: keep saving what the tape discovers
        finally:
            if saver is not None:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver
            self.save()

    async def _saver(self) -> None:
        while True:
            await asyncio.sleep(self.save_every_s)
            self.save()

    def save(self) -> None:
        if self.store is not None:
            self.store.save(self.book)

    def close(self) -> None:
        self.save()
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- views ---------------------------------------------------------------------------------------------
    def report(self, model: Any, lookback: str, now_ms: int, *, top_n: int = 5) -> ObservedReport:
        """Coverage, observed zones and calibration against ``model`` (a HeatModel: ``grid.edges``,
        ``profile``, ``zones``, ``price``), and the leverage fit. Logged in the store when it has one."""
        price = self.price or getattr(model, "price", None) or 0.0
        oi = self.oi_usd if self.oi_usd is not None else self.poller.oi_usd
        cov = self.observed.coverage(now_ms, price, oi_usd=oi, accounts_seen=len(self.book))
        grid = getattr(model, "grid", None)
        zones = cal = None
        if grid is not None and price > 0:
            zones = self.observed.zones(grid.edges, price, top_n=top_n, ts=now_ms)
            if self.observed.positions:
                est = model.profile(lookback)
                cal = calibrate(
                    grid.edges, price, est, self.observed.profile(grid.edges),
                    estimate_zones=model.zones(lookback, top_n=top_n), observed_zones=zones,
                )  # fmt: skip
        held = list(self.observed.positions.values()) + list(self.observed.consumed.values())
        table = getattr(getattr(model, "config", None), "half_life_h", None)
        fit = fit_tiers(held, half_life_h=table if isinstance(table, dict) else None)
        self.last = ObservedReport(cov, zones, cal, fit)
        if cal is not None and self.store is not None:
            self.store.log_calibration(self.coin, now_ms, cal, cov)
        return self.last

    def json(self, model: Any, lookback: str, now_ms: int) -> dict[str, Any]:
        """``{"observed": ..., "calibration": ...}`` for ``liqtui zones --json``."""
        r = self.report(model, lookback, now_ms)
        return observed_json(r.coverage, r.zones, r.calibration, fit=r.fit, notes=self.notes)
