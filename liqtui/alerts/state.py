"""The per-symbol state file a running liqtui writes once a second, and the one-line status made from it.

The file is ``<data dir>/status/<SYMBOL>.json`` (data dir: ``$LIQTUI_DATA``, else the platform's user data
dir), replaced atomically (write a temporary file, then ``os.replace``), so a reader never sees half a file.
Content (version 1)::

    {"v": 1, "symbol": "BTC", "ts": <wall-clock ms>, "pid": 1234, "source": "live", "price": 97234.5,
     "squeeze": {"low": .., "high": .., "usd": .., "distance_pct": ..} | null,   # nearest zone above
     "flush":   {...} | null,                                                     # nearest zone below
     "imbalance": 0.12 | null, "alert": {"ts": <wall ms>, "text": "..."} | null}

Standard library only: ``liqtui status`` imports this module and nothing heavier, so it answers in a few
milliseconds more than the interpreter's own start.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

from liqtui.alerts.fmt import fmt_pct, fmt_price, fmt_price_short, fmt_usd

__all__ = [
    "ALERT_MARK_S",
    "MAX_COLUMNS",
    "STALE_S",
    "age_s",
    "data_dir",
    "format_status",
    "read_state",
    "remove_state",
    "state_path",
    "visible_width",
    "write_state",
]

STATE_VERSION = 1
MAX_COLUMNS = 60
#: a state file older than this (seconds) is stale: liqtui stopped writing (hung, killed, or suspended)
STALE_S = 10.0
#: an alert newer than this (seconds) shows the alert mark
ALERT_MARK_S = 300.0
FORMATS = ("tmux", "plain", "json")
#: colours: squeeze zones (above, liquidated shorts) and flush zones (below, liquidated longs) as in the themes
#: tmux styles with their own background, so each part reads on tmux's default green bar and on a dark theme alike
_COLOURS = {
    "squeeze": "fg=colour231,bg=colour28",
    "flush": "fg=colour231,bg=colour124",
    "alert": "fg=colour16,bg=colour220,bold",
    "dim": "fg=colour250,bg=colour238",
    "price": "default",
}


def data_dir() -> str:
    """``$LIQTUI_DATA``, else the platform's user data directory (as the history store uses)."""
    env = os.environ.get("LIQTUI_DATA")
    if env:
        return os.path.expanduser(env)
    if sys.platform.startswith("linux"):  # platformdirs' answer there, without importing it (~10 ms)
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser("~/.local/share")
        return os.path.join(base, "liqtui")
    import platformdirs

    return str(platformdirs.user_data_dir("liqtui"))


def state_path(symbol: str, base: str | os.PathLike[str] | None = None) -> str:
    """``<data dir>/status/<SYMBOL>.json``."""
    return os.path.join(
        os.fspath(base) if base is not None else data_dir(), "status", f"{symbol.upper()}.json"
    )


def write_state(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` as JSON, atomically."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, separators=(",", ":"), allow_nan=False))
    os.replace(tmp, path)


def remove_state(path: str | os.PathLike[str]) -> None:
    """Take the file away (a clean exit: ``liqtui status`` then says not running)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_state(
    symbol: str | None = None, base: str | os.PathLike[str] | None = None
) -> tuple[dict[str, Any], str] | None:
    """The state of ``symbol`` (default: the most recently written one), or None when there is none.
    Raises ``ValueError`` for a file that is not a liqtui state document."""
    folder = os.path.join(os.fspath(base) if base is not None else data_dir(), "status")
    if symbol:
        path = os.path.join(folder, f"{symbol.upper()}.json")
    else:
        try:
            files = [
                os.path.join(folder, n)
                for n in os.listdir(folder)
                if n.endswith(".json") and not n.startswith(".")
            ]
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not files:
            return None
        path = max(files, key=os.path.getmtime)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a liqtui state file ({exc.msg})") from None
    if (
        not isinstance(doc, dict)
        or doc.get("v") != STATE_VERSION
        or not isinstance(doc.get("ts"), (int, float))
    ):
        raise ValueError(f"{path}: not a liqtui state file (version {STATE_VERSION})")
    return doc, path


def age_s(doc: dict[str, Any], now: float | None = None) -> float:
    """Seconds since the state was written (``now``: wall-clock seconds, default the current time)."""
    now = time.time() if now is None else now
    return max(0.0, now - float(doc["ts"]) / 1000.0)


def visible_width(line: str) -> int:
    """Columns ``line`` takes in tmux's status bar (style tags ``#[...]`` take none, ``##`` is one ``#``)."""
    n, i = 0, 0
    while i < len(line):
        if line.startswith("#[", i) and (end := line.find("]", i)) != -1:
            i = end + 1
            continue
        i += 2 if line.startswith("##", i) else 1
        n += 1
    return n


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _zone_parts(z: Any, arrow: str, level: int) -> str:
    """A zone as text, less of it at higher ``level``: ``↑98.1k +0.9% $182M`` … ``↑+0.9%``."""
    if not isinstance(z, dict):
        return ""
    above = arrow == "↑"
    edge, usd = _num(z.get("low" if above else "high")), _num(z.get("usd"))
    dist = _num(z.get("distance_pct"))
    parts = [f"{arrow}{fmt_price_short(edge)}" if level < 2 and edge is not None else arrow]
    if dist is not None:
        parts.append(fmt_pct(abs(dist) if above else -abs(dist)))
    if level < 1 and usd is not None:
        parts.append(fmt_usd(usd))
    return " ".join(parts) if level < 2 else "".join(parts)


def _imbalance(imb: float | None, level: int) -> str:
    if imb is None:
        return ""
    arrow = "▲" if imb > 0.05 else "▼" if imb < -0.05 else "•"
    return arrow if level >= 1 else f"{arrow}{abs(imb):.2f}"


def format_status(
    doc: dict[str, Any] | None, fmt: str = "plain", *, now: float | None = None, stale_s: float = STALE_S
) -> str:
    """One line of at most :data:`MAX_COLUMNS` columns (``json``: the document, unbounded), ``plain`` text or
    ``tmux`` with colour tags. ``doc`` None → ``liqtui: not running``; older than ``stale_s`` → ``stale``."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    tmux = fmt == "tmux"

    def style(name: str, text: str) -> str:
        return f"#[{_COLOURS[name]}]{text}#[default]" if tmux and text else text

    if doc is None:
        return json.dumps({"running": False}) if fmt == "json" else style("dim", "liqtui: not running")
    now = time.time() if now is None else now
    age = age_s(doc, now)
    stale = age > stale_s
    if fmt == "json":
        return json.dumps(
            {**doc, "running": True, "stale": stale, "age_s": round(age, 1)}, separators=(",", ":")
        )
    symbol = str(doc.get("symbol", "?"))[:12]
    price = _num(doc.get("price"))
    head = f"{symbol} {fmt_price(price) if price else '?'}"
    if stale:
        return style("dim", f"{head} stale {_age(age)}"[:MAX_COLUMNS])
    alert = doc.get("alert")
    alert_ts = _num(alert.get("ts")) if isinstance(alert, dict) else None
    mark = "!" if alert_ts is not None and now - alert_ts / 1000.0 <= ALERT_MARK_S else ""
    imb = _num(doc.get("imbalance"))
    for level in range(4):
        parts = [head]
        squeeze = _zone_parts(doc.get("squeeze"), "↑", level)
        flush = _zone_parts(doc.get("flush"), "↓", level)
        parts += [style("squeeze", squeeze), style("flush", flush)]
        if level < 3:
            parts.append(_imbalance(imb, level))
        parts.append(style("alert", mark))
        line = " ".join(p for p in parts if p)
        if visible_width(line) <= MAX_COLUMNS:
            return line
    return " ".join(p for p in (head[: MAX_COLUMNS - 2], style("alert", mark)) if p)
