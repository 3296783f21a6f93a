"""liqtui's command line: ``liqtui [run] [--demo]``, ``liqtui replay FILE``, ``liqtui record FILE``,
``liqtui zones --json``, ``liqtui status``, ``liqtui watch``. See ``liqtui --help``.

Exit codes: 0 ok, 2 bad arguments or config (the message names the flag/key and the allowed values),
3 no data arrived (zones), 130 interrupted.
"""

from __future__ import annotations

import sys

from liqtui.alerts.cli import fast_main  # stdlib only: `liqtui status` answers before numpy is imported

TYPE_CHECKING = False  # imports below and in the functions: `liqtui status` (tmux, every second) skips them
if TYPE_CHECKING:
    from pathlib import Path


def setup_logging(log_file: str | None, *, to_stderr: bool) -> Path | None:
    """Log to a file (never to the terminal a TUI is drawing on); headless commands also log to stderr.

    A default log file that cannot be opened is skipped; an explicit ``log_file`` that cannot be raises
    :class:`OSError` (the caller names the flag)."""
    import logging
    from pathlib import Path

    from liqtui.config import user_data_dir

    handlers: list[logging.Handler] = []
    path: Path | None = Path(log_file) if log_file else user_data_dir() / "liqtui.log"
    try:
        assert path is not None
        if log_file and path.is_dir():
            raise IsADirectoryError(21, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    except OSError:
        if log_file:
            raise
        path = None
    if to_stderr:
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.WARNING)
        handlers.append(h)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    return path


def main(argv: list[str] | None = None) -> int:
    fast = fast_main(argv)
    if fast is not None:
        return fast
    from liqtui.cli import overrides_from_args, parse_args
    from liqtui.config import Config, ConfigError, load_config

    ns = parse_args(argv)
    try:
        cfg: Config = load_config(ns.config, overrides_from_args(ns))
    except ConfigError as exc:
        print(f"liqtui: error: {exc}", file=sys.stderr)
        return 2
    headless = ns.command in ("zones", "record", "watch", "collect") or (ns.command == "radar" and ns.json)
    try:
        setup_logging(ns.log_file, to_stderr=headless)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != ns.log_file else ""
        print(
            f"liqtui: error: --log-file {ns.log_file}: cannot write the log: {exc.strerror or exc}{where}",
            file=sys.stderr,
        )
        return 2
    try:
        if getattr(ns, "handler", None) is not None:  # self-registered commands (liqtui.alerts.cli)
            return int(ns.handler(ns, cfg))
        if ns.command == "zones":
            from liqtui.commands.zones import run_zones

            return run_zones(ns, cfg)
        if ns.command == "radar":
            from liqtui.commands.radar import run_radar

            return run_radar(ns, cfg)
        if ns.command == "collect":
            from liqtui.commands.collect import run_collect

            return run_collect(ns, cfg)
        if ns.command == "record":
            from liqtui.commands.record import run_record

            return run_record(ns, cfg)
        from liqtui.commands.ui import run_ui

        return run_ui(ns, cfg)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
