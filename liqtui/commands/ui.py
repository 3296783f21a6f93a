"""``liqtui [run] [--demo]`` and ``liqtui replay FILE``: the full-screen monitor."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from liqtui.config import Config
from liqtui.sources import Source, SourceError, SourceKind, base_of_recording, open_store, reference_first
from liqtui.ui.view import EngineView

__all__ = ["DEMO_RADAR_SYMBOLS", "run_ui", "source_kind"]

DEMO_RADAR_SYMBOLS = 200
"""Perpetuals the demo serves beside its full simulator on the screen, for the radar (issue 15: at least 200)."""


def source_kind(ns: argparse.Namespace) -> SourceKind:
    """replay (``liqtui replay``), demo (``--demo``), bus (``--bus URL``) or live."""
    if ns.command == "replay":
        return "replay"
    return "demo" if getattr(ns, "demo", False) else "bus" if getattr(ns, "bus", None) else "live"


def observed_tiers(cfg: Config, tiers: dict[str, float]) -> Any:
    """The model configuration with ``tiers = "observed"`` and the fitted leverage mix (``tiers``)."""
    import msgspec

    return msgspec.structs.replace(cfg.model, tiers="observed", observed_tiers=dict(tiers))


def run_ui(ns: argparse.Namespace, cfg: Config) -> int:
    """Start the monitor on the source the flags name; exit 2 (nothing started) for a bad file or setting."""
    kind = source_kind(ns)
    instruments: dict[str, str] = {}
    if kind == "replay":
        from liqtui.history.formats import RecordingError
        from liqtui.history.replay import plan_replay

        try:
            _fmt, instruments = plan_replay(ns.file, symbol=ns.symbol)
        except (RecordingError, OSError) as exc:
            print(f"liqtui replay: error: FILE: {exc}", file=sys.stderr)
            return 2
    from liqtui.ui.app import LiqtuiApp

    store = open_store(cfg) if kind == "live" else None
    # what a ticker or venue change keeps: the kind, the store, the demo's seed/speed, the replay file
    args: dict[str, Any] = {
        "store": store,
        "seed": getattr(ns, "seed", None),
        "speed": getattr(ns, "speed", 1.0),
        "symbol": cfg.symbol,
        "venues": reference_first(cfg.venues, cfg.reference_venue),
    }
    if kind == "demo":
        args["demo_radar"] = DEMO_RADAR_SYMBOLS  # the radar (r) has a market of its own on the demo
    if kind == "replay":
        args["replay_path"] = ns.file
        args["symbol"] = ns.symbol or base_of_recording(instruments, None)
    try:
        first = Source.from_config(kind, cfg, **args)
    except SourceError as exc:  # e.g. a ticker the demo does not simulate
        print(f"liqtui: error: {exc}", file=sys.stderr)
        return 2
    current = {"source": first}

    def restart(**change: Any) -> tuple[EngineView, Source]:
        args.update({k: v for k, v in change.items() if v})
        src = current["source"] = Source.from_config(kind, cfg, **args)
        wire(src)
        return src.engine, src

    from liqtui.alerts.controller import AlertsController
    from liqtui.alerts.watch import rules_from_config, spent_store_for

    alerts = AlertsController(
        first.engine,
        rules_from_config(cfg),
        symbol=first.symbol,
        source=kind,
        spent_store=spent_store_for(cfg) if kind == "live" else None,
        ready=lambda: current["source"].history_loaded.is_set(),
    )
    try:
        app = LiqtuiApp(
            first.engine,
            source=first,
            ui=cfg.ui,
            keymap=cfg.keymap,
            symbol=first.symbol,
            symbols=first.symbols,
            venues=first.venues,
            stats=lambda: current["source"].stats(),
            on_symbol_change=lambda s: restart(symbol=s),
            on_venues_change=lambda v: restart(venues=list(v)),
            on_tiers_change=lambda tiers: restart(model_config=observed_tiers(cfg, tiers)),
            show_lag=first.wall_clock,
            alerts=alerts,
            notes=first.notes,
        )
    except ValueError as exc:  # a bad UI setting: named by the config's checks, nothing started yet
        print(f"liqtui: error: {exc}", file=sys.stderr)
        alerts.close()
        if store is not None:
            store.close()
        return 2

    def wire(src: Source) -> None:
        src.progress = app.set_progress
        src.on_note = lambda text: app.notify(text, severity="warning", timeout=12)

    wire(first)
    if ns.command == "radar":  # ``liqtui radar``: the monitor opens on its radar screen
        app.call_later(app.action_radar)
    try:
        app.run()
    finally:
        alerts.close()
        if store is not None:
            store.close()
    return int(app.return_code or 0)
