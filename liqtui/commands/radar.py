"""``liqtui radar``: every perpetual at once. ``--json`` collects for ``--seconds`` and prints the table as one
JSON document; without it the full-screen monitor opens on its radar screen.

JSON: ``{"rows": [{"symbol", "venue", "price", "change_1h_pct", "change_24h_pct", "squeeze": {"distance_pct",
"usd"}, "flush": {"distance_pct", "usd"}, "imbalance", "liq_1h_usd", "oi_change_1h_pct", "score", "alerts"}],
"stats": {...}}``, rows ranked by ``--sort`` (default ``score``: the nearest large pool first); ``alerts``: the names
of the config's ``[[alerts]]`` rules the row crosses (:mod:`liqtui.alerts.radar`). ``liq_1h_usd`` is null for a
venue that publishes no realized liquidations (Hyperliquid): unknown, not zero.

``--exchange`` picks the venue among those whose adapter has an all-market feed (the registry's
:func:`~liqtui.venues.allmarket_venues`); ``--endpoint VENUE=URL`` and ``VENUE.rest=URL`` point it at an
exchange. ``--demo`` simulates Binance only.

Exit 0 ok, 2 bad arguments (the flag named), 3 no row arrived, 1 anything else (said on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from liqtui.alerts.radar import RadarMarks
from liqtui.alerts.rules import AlertRule
from liqtui.alerts.watch import rules_from_config
from liqtui.config import Config
from liqtui.core.radar import Radar, RadarTable, row_json
from liqtui.venues import allmarket_feed, allmarket_venues

__all__ = ["RADAR_VENUES", "collect_radar", "run_radar"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS, EXIT_NO_DATA = 0, 1, 2, 3
#: Venues with an all-market feed (the registry's, when liqtui starts).
RADAR_VENUES = allmarket_venues()
#: The venue the demo exchange simulates.
DEMO_VENUE = "binance"
log = logging.getLogger("liqtui.headless")


class RadarArgError(ValueError):
    """A flag the radar cannot serve."""


async def collect_radar(
    *,
    demo: bool,
    seconds: float,
    ws_url: str | None = None,
    rest_url: str | None = None,
    seed: int = 0,
    speed: float = 1.0,
    demo_symbols: int = 200,
    sort: str = "score",
    text: str = "",
    limit: int | None = None,
    venue: str = "binance",
    rules: Sequence[AlertRule] = (),
) -> dict[str, Any]:
    """Run the all-market feed for ``seconds`` (against a demo exchange of its own with ``demo``) and return
    the document ``liqtui radar --json`` prints."""
    table = RadarTable(sort)
    table.set_filter(text)
    radar = Radar(venue)
    t0 = time.monotonic()
    if demo and venue != DEMO_VENUE:
        raise RadarArgError(f"--exchange {venue}: the demo speaks {DEMO_VENUE} only")
    async with contextlib.AsyncExitStack() as stack:
        if demo:
            from liqtui.sim.server import DemoExchange

            ex = await stack.enter_async_context(
                DemoExchange(seed=seed, speed=speed, history_days=1, multi_symbols=demo_symbols)
            )
            ws_url, rest_url = ex.ws_url, ex.rest_url
        if ws_url is None or rest_url is None:
            raise RadarArgError("radar: the websocket and REST endpoints are needed")
        try:
            feed = allmarket_feed(venue, radar, ws_url, rest_url, local=demo)
        except ValueError as exc:
            raise RadarArgError(f"--exchange {venue}: {exc}") from None
        task = asyncio.create_task(feed.run())
        try:
            end = t0 + seconds
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(left, 1.0))
                if task.done():
                    task.result()  # an error of the feed ends the collection with it
                radar.tick(radar.now_ms)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    rows = table.view(RadarMarks(rules).mark(radar.rows(), radar))
    if limit is not None:
        rows = rows[:limit]
    liquidations = bool(getattr(feed, "liquidations_available", True))
    stats: dict[str, Any] = {
        "source": "demo" if demo else "live",
        "venue": venue,
        "seconds": round(time.monotonic() - t0, 3),
        "sort": table.sort,
        "filter": table.text,
        "rows": len(rows),
        **feed.stats(),
        **{k: v for k, v in radar.stats().items() if k != "symbols"},
    }
    docs = [row_json(r) for r in rows]
    if not liquidations:  # the venue publishes none: unknown, not zero
        for d in docs:
            d["liq_1h_usd"] = None
    return {"rows": docs, "stats": stats}


def _text(doc: dict[str, Any]) -> str:
    """A plain table for a terminal."""

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:+.2f}%"

    def usd(v: float | None) -> str:
        if v is None:
            return "-"
        return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"

    lines = [f"{'symbol':<14}{'price':>14}{'1h':>9}{'squeeze':>18}{'flush':>18}{'imbal':>7}{'liq 1h':>9}"]
    for r in doc["rows"]:
        sq, fl = r["squeeze"], r["flush"]
        lines.append(
            f"{r['symbol']:<14}{r['price']:>14.6g}{pct(r['change_1h_pct']):>9}"
            f"{pct(sq['distance_pct']) + ' ' + usd(sq['usd']):>18}{pct(fl['distance_pct']) + ' ' + usd(fl['usd']):>18}"
            f"{r['imbalance']:>+7.2f}{usd(r['liq_1h_usd']):>9}"
        )
    s = doc["stats"]
    lines.append(
        f"{s['rows']} rows, {s['instruments']} instruments, {s['frames']} frames in {s['seconds']:.0f} s"
    )
    return "\n".join(lines)


def run_radar(ns: argparse.Namespace, cfg: Config) -> int:
    """The ``liqtui radar`` command."""
    radar_venues = allmarket_venues()
    venues = list(getattr(ns, "exchange", None) or [DEMO_VENUE])
    bad = [v for v in venues if v not in radar_venues]
    if bad:
        print(
            f"liqtui radar: error: --exchange {','.join(bad)}: the radar has an all-market feed for "
            f"{', '.join(radar_venues)} only",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGS
    if len(venues) > 1:
        print(
            f"liqtui radar: error: --exchange: one venue at a time ({', '.join(radar_venues)})",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGS
    venue = venues[0]
    if venue != DEMO_VENUE and ns.demo:
        print(
            f"liqtui radar: error: --exchange {venue}: the demo and the radar screen speak {DEMO_VENUE}; for "
            f"{venue} leave out --demo (live, or --endpoint {venue}=WS_URL --endpoint {venue}.rest=REST_URL)",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGS
    if venue != DEMO_VENUE and not getattr(ns, "json", False):
        print(
            f"liqtui radar: error: --exchange {venue}: the demo and the radar screen speak {DEMO_VENUE}; "
            f"{venue} is served by radar --json",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGS
    if not getattr(ns, "json", False):
        from liqtui.commands.ui import run_ui

        return run_ui(ns, cfg)
    from liqtui.feeds.endpoints import Endpoints

    ep = Endpoints.from_overrides(getattr(cfg, "endpoints", None) or None)
    for key, url in getattr(ns, "endpoint", None) or []:
        name, _, kind = key.partition(".")
        try:
            ep = ep.with_override(name, kind or "ws", url)
        except ValueError as exc:
            print(f"liqtui radar: error: --endpoint: {exc}", file=sys.stderr)
            return EXIT_BAD_ARGS
    try:
        doc = asyncio.run(
            collect_radar(
                demo=bool(ns.demo),
                seconds=float(ns.seconds),
                ws_url=ep.ws_url(venue),
                rest_url=ep.rest_url(venue),
                seed=int(ns.seed or 0),
                speed=float(ns.speed or 1.0),
                sort=ns.sort,
                text=ns.filter or "",
                limit=ns.limit,
                venue=venue,
                rules=rules_from_config(cfg),
            )
        )
    except RadarArgError as exc:
        print(f"liqtui radar: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    except (OSError, RuntimeError, ValueError) as exc:
        log.exception("radar failed")
        print(f"liqtui radar: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        print(json.dumps(doc) if ns.json else _text(doc), flush=True)
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if not doc["rows"] and not ns.filter:
        print(f"liqtui radar: no symbol priced after {ns.seconds:g} s", file=sys.stderr)
        return EXIT_NO_DATA
    return EXIT_OK
