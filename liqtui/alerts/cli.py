"""``liqtui status`` (one line for tmux's status bar) and ``liqtui watch`` (feeds + model headless, alerts only).

``liqtui status [--symbol BTC] [--format tmux|plain|json] [--stale-after S]`` reads the state file a running
liqtui (the app or ``liqtui watch``) rewrites once a second and prints one line of at most 60 columns. Exit 0;
3 with ``liqtui: not running`` when there is no state file; 4 when the file is stale (older than
``--stale-after``, default 10 s: the writer hung or was killed); 1 for a file that is not a liqtui state file.
For tmux: ``set -g status-right '#(liqtui status --format tmux)'`` with ``set -g status-interval 1..5``.

:func:`fast_main` answers ``liqtui status`` before the rest of liqtui (numpy, msgspec, the config) is imported:
the entry point calls it first. This module imports only the standard library at the top.

``liqtui watch [--demo | --replay FILE | --live] [--seconds S] [--json]`` runs the feeds and the model without
a screen, fires the configured alerts (a toast becomes a line on stdout; ``--json``: the alert as one JSON
object per line, and the bell/OSC go to stderr then), keeps the spent-zone log, and writes the state file.
Exit 0 when stopped (Ctrl-C, ``--seconds``, the end of a replay), 2 bad arguments or config, 1 a failure.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

TYPE_CHECKING = False  # typing's own costs an import; mypy treats this name as true
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

__all__ = ["add_status_parser", "add_watch_parser", "fast_main", "run_status", "run_watch"]

FORMATS = ("tmux", "plain", "json")
EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS, EXIT_NOT_RUNNING, EXIT_STALE = 0, 1, 2, 3, 4


def check_symbol(text: str) -> str:
    """A ticker such as BTC (``BTCUSDT``, ``BTC-PERP`` … accepted); ``ValueError`` naming the flag otherwise."""
    s = text.strip().upper()
    for suffix in ("-USDT-SWAP", "USDT", "-PERP", "PERP"):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    if not s.isalnum() or not s.isascii() or len(s) > 20:
        raise ValueError(f"--symbol takes a ticker such as BTC, ETH or SOL, got {text!r}")
    return s


def check_seconds(name: str, text: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not (v >= 0 if allow_zero else v > 0) or v == float("inf"):
        raise ValueError(f"{name} must be {'≥' if allow_zero else '>'} 0, got {text!r}")
    return v


def _arg_type(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """``check`` as an argparse type: its ValueError message becomes argparse's error text."""

    def conv(text: str) -> Any:
        import argparse

        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return conv


_symbol = _arg_type(check_symbol)


def _seconds(name: str, *, allow_zero: bool = False) -> Callable[[str], float]:
    return _arg_type(lambda text: check_seconds(name, text, allow_zero=allow_zero))


def _status_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--symbol", type=_symbol, help="ticker, e.g. BTC (default: the most recently written)")
    p.add_argument("--format", choices=FORMATS, default="plain", help="tmux (colour tags), plain, or json")
    p.add_argument(
        "--stale-after",
        type=_seconds("--stale-after"),
        default=10.0,
        metavar="S",
        help="a state file older than S seconds is stale (default 10)",
    )


_STATUS_HELP = "one line for tmux's status bar from a running liqtui"
_STATUS_EPILOG = "tmux: set -g status-right '#(liqtui status --format tmux)'. Exit 3: not running, 4: stale."


def add_status_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``status`` on the CLI's subparsers (``args.handler`` is :func:`run_status`)."""
    p: argparse.ArgumentParser = subparsers.add_parser("status", help=_STATUS_HELP, epilog=_STATUS_EPILOG)
    _status_args(p)
    p.set_defaults(handler=run_status)
    return p


def run_status(args: argparse.Namespace | SimpleNamespace, cfg: Any = None) -> int:
    """Print the status line; see the module doc for the exit codes. ``cfg`` is not needed (the state file is
    in the data dir) and accepted so every registered command has the same signature."""
    from liqtui.alerts.state import age_s, format_status, read_state

    try:
        found = read_state(args.symbol)
    except (ValueError, OSError) as exc:
        print(f"liqtui status: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if found is None:
        print(format_status(None, args.format))
        return EXIT_NOT_RUNNING
    doc, _path = found
    print(format_status(doc, args.format, stale_s=args.stale_after))
    return EXIT_STALE if age_s(doc) > args.stale_after else EXIT_OK


def _quick_status_args(args: list[str]) -> SimpleNamespace | None:
    """The status flags parsed without argparse (it costs milliseconds to import); None for anything unusual
    (help, a bad value, an unknown flag), which argparse then handles with its usual messages."""
    ns = SimpleNamespace(symbol=None, format="plain", stale_after=10.0)
    it = iter(args)
    for arg in it:
        key, eq, value = arg.partition("=")
        if key not in ("--symbol", "--format", "--stale-after"):
            return None
        if not eq:
            value = next(it, "")
        try:
            if key == "--symbol":
                ns.symbol = check_symbol(value)
            elif key == "--format":
                if value not in FORMATS:
                    return None
                ns.format = value
            else:
                ns.stale_after = check_seconds("--stale-after", value)
        except ValueError:
            return None
    return ns


def fast_main(argv: list[str] | None = None) -> int | None:
    """``liqtui status ...`` handled at once (stdlib only); None for any other command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "status":
        return None
    ns: argparse.Namespace | SimpleNamespace | None = _quick_status_args(args[1:])
    if ns is None:
        import argparse  # help and errors: argparse's own text

        p = argparse.ArgumentParser(prog="liqtui status", description=_STATUS_HELP, epilog=_STATUS_EPILOG)
        _status_args(p)
        ns = p.parse_args(args[1:])
    return run_status(ns)


# ------------------------------------------------------------------------------------------------ watch


def add_watch_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``watch`` on the CLI's subparsers (``args.handler`` is :func:`run_watch`)."""
    from liqtui.cli import _common, _seed  # the flags every data command shares (--config, --symbol ...)

    p: argparse.ArgumentParser = subparsers.add_parser(
        "watch", help="headless: feeds + model without a screen, only the alerts (and the status file)"
    )
    _common(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--live", action="store_true", help="the live exchanges (default)")
    src.add_argument("--demo", action="store_true", help="the offline demo exchange")
    src.add_argument("--replay", metavar="FILE", help="a recording, to its end")
    p.add_argument(
        "--seconds", type=_seconds("--seconds"), help="stop after this long (default: until Ctrl-C)"
    )
    p.add_argument("--json", action="store_true", help="print each alert as one JSON object per line")
    p.add_argument(
        "--no-status-file", action="store_true", help="do not write the state file for liqtui status"
    )
    p.add_argument("--seed", type=_seed, default=None, help="demo: random seed")
    p.add_argument(
        "--speed",
        type=_arg_type(_check_speed),
        default=1.0,
        help="demo/replay speed factor; a replay at 0: as fast as possible",
    )
    p.set_defaults(handler=run_watch)
    return p


def _check_speed(text: str) -> float:
    """``watch --speed``: a finite number ≥ 0 here; the source's own range is checked once the source is known."""
    from liqtui.config import DEMO_SPEED, REPLAY_SPEED

    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"--speed must be a number, got {text!r}") from None
    if v not in REPLAY_SPEED:
        raise ValueError(
            f"--speed must be {DEMO_SPEED.describe()} for the demo, {REPLAY_SPEED.describe()} for a replay "
            f"(0 = as fast as possible), got {text!r}"
        )
    return v


def run_watch(args: argparse.Namespace, cfg: Any = None) -> int:
    """``liqtui watch``: see the module doc. ``cfg`` (a loaded :class:`liqtui.config.Config`) or the flags'."""
    from liqtui.alerts.rules import AlertConfigError
    from liqtui.alerts.watch import rules_from_config, watch
    from liqtui.cli import overrides_from_args
    from liqtui.config import ConfigError, load_config

    try:
        if cfg is None:
            cfg = load_config(args.config, overrides_from_args(args))
        rules = rules_from_config(cfg)
    except (ConfigError, AlertConfigError) as exc:
        print(f"liqtui watch: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    kind = "replay" if args.replay else "demo" if args.demo else "live"
    problem = _watch_source_problem(args, kind)
    if problem:
        print(f"liqtui watch: error: {problem}", file=sys.stderr)
        return EXIT_BAD_ARGS
    from liqtui.sources import SourceError

    try:
        return watch(
            cfg,
            rules,
            kind=kind,
            replay_path=args.replay,
            symbol=args.symbol,
            seconds=args.seconds,
            as_json=args.json,
            status_file=not args.no_status_file,
            seed=args.seed,
            speed=args.speed,
        )
    except SourceError as exc:  # e.g. a ticker the demo does not simulate
        print(f"liqtui watch: error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    except KeyboardInterrupt:
        return EXIT_OK


def _watch_source_problem(args: argparse.Namespace, kind: str) -> str | None:
    """What is wrong with the source flags, checked before anything starts: the recording (exists, is a file,
    a known format) and ``--speed`` against the source's own range (the demo's market speed, or a replay's)."""
    from liqtui.config import DEMO_SPEED, REPLAY_SPEED

    if kind == "replay":
        from pathlib import Path

        from liqtui.history.formats import RecordingError, detect_format

        path = Path(args.replay)
        if not path.exists():
            return f"--replay: no such file {args.replay!r}"
        if not path.is_file():
            return f"--replay: {args.replay!r} is not a file"
        try:
            detect_format(path)
        except (RecordingError, OSError) as exc:
            return f"--replay: {exc}"
    limit, what = (REPLAY_SPEED, " (0 = as fast as possible)") if kind == "replay" else (DEMO_SPEED, "")
    if kind != "live" and args.speed not in limit:
        what = what or " (the demo market's speed factor)"
        return f"--speed must be {limit.describe()}{what}, got {args.speed:g}"
    return None
