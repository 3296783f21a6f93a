"""Command-line parsing: flags are validated here and turned into config overrides.

Every bad flag exits with status 2 and a message that names the flag and the allowed values. Parsing is pure
(no textual import), so ``liqtui zones`` and ``liqtui record`` start fast and run without a terminal.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from liqtui import __version__
from liqtui.alerts.cli import add_status_parser, add_watch_parser
from liqtui.config import DEMO_SPEED, FPS, REPLAY_SPEED, ZONES_TOP, Range, endpoint_problem
from liqtui.core.events import VENUES
from liqtui.core.model import LOOKBACKS

COMMANDS = ("run", "replay", "record", "zones", "status", "watch", "radar", "collect")
COLOR_CHOICES = ("auto", "truecolor", "256", "16")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's default is fine, but name the program once
        self.print_usage(sys.stderr)
        self.exit(2, f"liqtui: error: {message}\n")


def _venues(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(","):
        v = part.strip().lower()
        if not v:
            continue
        if v not in VENUES:
            raise argparse.ArgumentTypeError(
                f"unknown exchange {part.strip()!r}; allowed: {', '.join(VENUES)}"
            )
        if v not in out:
            out.append(v)
    if not out:
        raise argparse.ArgumentTypeError(f"name at least one exchange of: {', '.join(VENUES)}")
    return out


def _endpoint(text: str) -> tuple[str, str]:
    key, sep, url = text.partition("=")
    key, url = key.strip(), url.strip()
    if not sep or not url:
        raise argparse.ArgumentTypeError(f"expected VENUE=URL or VENUE.rest=URL, got {text!r}")
    problem = endpoint_problem(key, url)
    if problem:
        raise argparse.ArgumentTypeError(f"{key}: {problem}")
    venue, _, kind = key.partition(".")
    return (venue if kind in ("", "ws") else f"{venue}.rest"), url


def _seed(text: str) -> int:
    try:
        val = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number ≥ 0, got {text!r}") from None
    if val < 0:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number ≥ 0, got {text!r}")
    return val


def _lookback(text: str) -> str:
    for lb in LOOKBACKS:
        if text == lb or (text.lower() == lb and not lb.endswith("M")):
            return lb
    raise argparse.ArgumentTypeError(f"unknown lookback {text!r}; allowed: {' '.join(LOOKBACKS)}")


def _order(text: str) -> str:
    from liqtui.core.zones import ORDERS

    if text.lower() in ORDERS:
        return text.lower()
    raise argparse.ArgumentTypeError(f"unknown order {text!r}; allowed: {' '.join(ORDERS)}")


def _positive(kind: type[int | float], name: str) -> Callable[[str], Any]:
    """A flag taking a finite number > 0."""

    def conv(text: str) -> Any:
        try:
            val = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(val) or val <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0, got {text!r}")
        return val

    return conv


def _within(limit: Range, name: str, what: str = "", kind: type[int | float] = float) -> Callable[[str], Any]:
    """A flag taking a number within ``limit`` (the config's limit of the same setting)."""

    def conv(text: str) -> Any:
        try:
            val = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if val not in limit:
            raise argparse.ArgumentTypeError(f"{name} must be {limit.describe()}{what}, got {text!r}")
        return val

    return conv


_demo_speed = _within(DEMO_SPEED, "--speed", " (the demo market's speed factor)")


def _symbol(text: str) -> str:
    s = text.strip().upper()
    for suffix in ("-USDT-SWAP", "USDT", "-PERP", "PERP"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    if not s.isalnum() or len(s) > 20:
        raise argparse.ArgumentTypeError(f"--symbol takes a ticker such as BTC, ETH or SOL, got {text!r}")
    return s


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config file (default: $LIQTUI_CONFIG, then the user config dir)",
    )
    p.add_argument("--symbol", type=_symbol, help="ticker, e.g. BTC (default BTC)")
    p.add_argument(
        "--exchange",
        "--exchanges",
        dest="exchange",
        type=_venues,
        metavar="LIST",
        help=f"comma-separated venues: {','.join(VENUES)} (default binance)",
    )
    p.add_argument(
        "--endpoint",
        action="append",
        type=_endpoint,
        default=[],
        metavar="VENUE[.rest]=URL",
        help="override a venue's websocket URL, or with .rest its REST base (repeatable)",
    )
    p.add_argument("--lookback", type=_lookback, help=f"one of {' '.join(LOOKBACKS)} (default 1d)")
    p.add_argument("--no-store", action="store_true", help="do not read or write the local history store")
    p.add_argument("--no-backfill", action="store_true", help="skip the REST history backfill on start")
    p.add_argument(
        "--log-file", metavar="FILE", help="write the log here (default: the data dir's liqtui.log)"
    )


def _symbols(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(","):
        if part.strip() and (s := _symbol(part)) not in out:
            out.append(s)
    if not out:
        raise argparse.ArgumentTypeError("--symbols takes tickers such as BTC,ETH")
    return out


def _bus(p: argparse.ArgumentParser, *, publish: bool = False) -> None:
    """Desk mode's flags (liqtui.bus): the server and what the NATS client needs to reach it."""
    p.add_argument(
        "--bus",
        metavar="URL",
        help="NATS server(s), e.g. nats://HOST:4222 (comma-separated): "
        + ("publish what is collected there" if publish else "history and live data from a liqtui collect"),
    )
    p.add_argument(
        "--bus-creds", metavar="FILE", help="NATS credentials file (.creds: user JWT and NKey seed)"
    )
    p.add_argument("--bus-tls-ca", metavar="FILE", help="CA bundle that signed the NATS server's certificate")
    p.add_argument("--bus-tls-cert", metavar="FILE", help="client certificate for NATS (with --bus-tls-key)")
    p.add_argument("--bus-tls-key", metavar="FILE", help="client certificate's key")
    p.add_argument("--bus-stream", metavar="NAME", help="JetStream stream name (default LIQTUI)")
    if publish:
        p.add_argument(
            "--bus-max-age-days",
            type=_positive(float, "--bus-max-age-days"),
            help="stream retention: at least the longest lookback screens use (default 190)",
        )
        p.add_argument(
            "--bus-max-bytes",
            type=_positive(int, "--bus-max-bytes"),
            help="stream retention in bytes (default 20 GiB)",
        )


def _ui(p: argparse.ArgumentParser) -> None:
    p.add_argument("--theme", help="theme name from themes/ or the user config dir (default dark)")
    p.add_argument("--colors", choices=COLOR_CHOICES, help="colour system (default auto: detect)")
    p.add_argument(
        "--fps",
        type=_within(FPS, "--fps"),
        help=f"UI refresh rate, at most ({FPS.lo:g}..{FPS.hi:g}, default 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="liqtui",
        description="Live terminal heatmap of estimated crypto liquidation levels.",
        epilog="Commands: run (default), replay FILE, record FILE, zones, radar, collect, watch, status. "
        "'liqtui COMMAND --help' for each.",
    )
    ap.add_argument("--version", action="version", version=f"liqtui {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="the live monitor (default command)")
    _common(run)
    _ui(run)
    _bus(run)
    run.add_argument("--demo", action="store_true", help="offline: a simulated exchange on 127.0.0.1")
    run.add_argument("--seed", type=_seed, default=None, help="demo: random seed (reproducible market)")
    run.add_argument(
        "--speed",
        type=_demo_speed,
        default=1.0,
        help=f"demo: market speed factor ({DEMO_SPEED.lo:g}..{DEMO_SPEED.hi:g}, default 1)",
    )

    rep = sub.add_parser("replay", help="drive the UI from a recording (ours, hftbacktest, cryptofeed)")
    rep.add_argument("file", metavar="FILE")
    _common(rep)
    _ui(rep)
    rep.add_argument(
        "--speed",
        type=_within(REPLAY_SPEED, "--speed", " (0 = as fast as possible)"),
        default=1.0,
        help="replay speed factor; 0 = as fast as possible",
    )

    rec = sub.add_parser("record", help="record raw exchange frames as JSON lines (.gz to compress)")
    rec.add_argument("file", metavar="FILE")
    _common(rec)
    rec.add_argument(
        "--duration", type=_positive(float, "--duration"), help="seconds to record (default: until Ctrl-C)"
    )
    rec.add_argument("--demo", action="store_true", help="record the offline demo exchange")
    rec.add_argument("--seed", type=_seed, default=None, help="demo: random seed")
    rec.add_argument("--speed", type=_demo_speed, default=1.0, help="demo: market speed factor")

    zn = sub.add_parser("zones", help="headless: collect, then print the ranked zones")
    _common(zn)
    _bus(zn)
    src = zn.add_mutually_exclusive_group()
    src.add_argument("--replay", metavar="FILE", help="read a recording to its end")
    src.add_argument("--demo", action="store_true", help="the offline demo exchange")
    src.add_argument("--live", action="store_true", help="the live exchanges (default)")
    zn.add_argument(
        "--top",
        type=_within(ZONES_TOP, "--top", kind=int),
        default=None,
        help=f"zones per side ({ZONES_TOP.lo:g}..{ZONES_TOP.hi:g}, default the config's ui.top_n)",
    )
    zn.add_argument(
        "--seconds", type=_positive(float, "--seconds"), default=30.0, help="live/demo collection time"
    )
    zn.add_argument(
        "--order",
        type=_order,
        default="strength",
        help="list each side's zones by strength (biggest USD first, default) or by reach (likeliest first)",
    )
    zn.add_argument("--json", action="store_true", help="print one JSON document (default: a text table)")
    zn.add_argument("--spent", action="store_true", help="add the spent-zone log (live data, from the store)")
    zn.add_argument("--seed", type=_seed, default=None, help="demo: random seed")
    zn.add_argument("--speed", type=_demo_speed, default=1.0, help="demo: market speed factor")
    add_status_parser(sub)
    add_watch_parser(sub)
    _radar(sub)

    col = sub.add_parser("collect", help="the standing collector: feeds → store (and --bus), no screen")
    _common(col)
    _bus(col, publish=True)
    col.add_argument(
        "--symbols", type=_symbols, metavar="LIST", help="tickers, e.g. BTC,ETH (default: symbol)"
    )
    col.add_argument(
        "--store", metavar="FILE", help="the store to keep (default: the user's; --demo: demo.sqlite3)"
    )
    col.add_argument(
        "--seconds", type=_positive(float, "--seconds"), help="stop after this long (default: never)"
    )
    col.add_argument("--demo", action="store_true", help="collect the offline demo exchange")
    col.add_argument("--seed", type=_seed, default=None, help="demo: random seed")
    col.add_argument("--speed", type=_demo_speed, default=1.0, help="demo: market speed factor")
    return ap


RADAR_SORTS = (
    "symbol",
    "price",
    "chg_1h",
    "chg_24h",
    "squeeze",
    "flush",
    "imbalance",
    "liq_1h",
    "oi_1h",
    "alerts",
    "score",
)


def _radar(sub: Any) -> None:
    ra = sub.add_parser("radar", help="every perpetual at once, ranked by the nearest large pools")
    _common(ra)
    _ui(ra)
    ra.add_argument("--json", action="store_true", help="headless: collect, then print the table as JSON")
    ra.add_argument(
        "--demo", action="store_true", help="offline: the simulated exchange's many-symbol market"
    )
    ra.add_argument("--seed", type=_seed, default=None, help="demo: random seed")
    ra.add_argument("--speed", type=_demo_speed, default=1.0, help="demo: market speed factor")
    ra.add_argument(
        "--seconds",
        type=_positive(float, "--seconds"),
        default=30.0,
        help="--json: collection time (default 30)",
    )
    ra.add_argument("--sort", choices=RADAR_SORTS, default="score", help="--json: rank by this column")
    ra.add_argument("--filter", default="", metavar="TEXT", help="--json: symbols containing TEXT")
    ra.add_argument("--limit", type=_positive(int, "--limit"), default=None, help="--json: at most N rows")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; with no command (or only flags) the live monitor ``run`` is meant."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "run")
    ns = build_parser().parse_args(args)
    if ns.command is None:
        ns.command = "run"
    return ns


def overrides_from_args(ns: argparse.Namespace) -> dict[str, Any]:
    """Config overrides (dotted keys) from the flags that were given."""
    o: dict[str, Any] = {}
    if getattr(ns, "symbol", None):
        o["symbol"] = ns.symbol
    if getattr(ns, "exchange", None):
        o["venues"] = ns.exchange
        o["reference"] = ns.exchange[0]
    for key, url in getattr(ns, "endpoint", None) or []:
        o[f"endpoints.{key}"] = url
    if getattr(ns, "lookback", None):
        o["ui.lookback"] = ns.lookback
    if getattr(ns, "theme", None):
        o["ui.theme"] = ns.theme
    if getattr(ns, "colors", None):
        o["ui.colors"] = ns.colors
    if getattr(ns, "fps", None):
        o["ui.fps"] = ns.fps
    if getattr(ns, "no_store", False):
        o["store.enabled"] = False
    if getattr(ns, "no_backfill", False):
        o["backfill.enabled"] = False
    for flag in ("url", "creds", "tls_ca", "tls_cert", "tls_key", "stream", "max_age_days", "max_bytes"):
        val = getattr(ns, "bus" if flag == "url" else f"bus_{flag}", None)
        if val is not None:
            o[f"bus.{flag}"] = val
    return o
