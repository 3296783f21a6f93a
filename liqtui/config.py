"""Configuration: one TOML file read into msgspec Structs; CLI flags override it.

Where the file comes from, first found wins: ``--config FILE``, ``$LIQTUI_CONFIG``, then
``<user config dir>/liqtui/config.toml`` (optional). An explicitly named file that does not exist is an
error; the default one may be absent.

Every error names the offending key (as a TOML path such as ``ui.colors``) and either the allowed values or the
closest valid key, so a typo never silently does nothing. This module is pure (no textual, no rich).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

import msgspec

from liqtui.core.events import VENUES
from liqtui.core.model import LOOKBACKS, ModelConfig

__all__ = [
    "BackfillConfig",
    "Config",
    "ConfigError",
    "StoreConfig",
    "UIConfig",
    "config_path",
    "load_config",
    "user_data_dir",
]

ColorSystem = Literal["auto", "truecolor", "256", "16"]
Lookback = Literal["12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M"]
assert typing.get_args(Lookback) == LOOKBACKS, "Lookback literal out of sync with core.model.LOOKBACKS"


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the key and what is allowed."""


class UIConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the screen shows and how it is drawn."""

    theme: str = "dark"
    colors: ColorSystem = "auto"
    fps: float = 10.0
    lookback: Lookback = "1d"
    threshold_pct: float = 50.0  # percentile of non-empty buckets hidden as noise (0 = show all)
    heat_gamma: float = 1.0  # < 1 boosts light zones ("more heat")
    klines: bool = True
    top_n: int = 5
    context: Literal["auto", "on", "off"] = "auto"  # OI / funding / liquidation charts; auto: from 160×45 up

    def __post_init__(self) -> None:
        if not 0.5 <= self.fps <= 60:
            raise ValueError("fps must be between 0.5 and 60")
        if not 0.0 <= self.threshold_pct < 100.0:
            raise ValueError("threshold_pct must be in [0, 100)")
        if not 0.1 <= self.heat_gamma <= 3.0:
            raise ValueError("heat_gamma must be between 0.1 and 3.0")
        if not 1 <= self.top_n <= 20:
            raise ValueError("top_n must be between 1 and 20")


class StoreConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The local SQLite history."""

    enabled: bool = True
    path: str = ""  # empty: $LIQTUI_DATA, else the user data directory
    retention_days: int = 200
    checkpoint_s: int = 600  # a 6-month model checkpoint is ~30 MiB: every 10 min, and on exit

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if self.checkpoint_s < 5:
            raise ValueError("checkpoint_s must be at least 5")


class BackfillConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """REST history fetched on start."""

    enabled: bool = True


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file."""

    symbol: str = "BTC"
    venues: list[str] = msgspec.field(default_factory=lambda: ["binance"])
    reference: str = ""  # price-anchor venue; empty = the first of ``venues``
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    ui: UIConfig = msgspec.field(default_factory=UIConfig)
    keymap: dict[str, str] = msgspec.field(default_factory=dict)
    endpoints: dict[str, str] = msgspec.field(default_factory=dict)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    backfill: BackfillConfig = msgspec.field(default_factory=BackfillConfig)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{1,20}", self.symbol):
            raise ValueError("symbol must be a ticker such as BTC, ETH or SOL")
        self.symbol = self.symbol.upper()
        if not self.venues:
            raise ValueError(f"venues must name at least one of {', '.join(VENUES)}")
        for v in self.venues:
            if v not in VENUES:
                raise ValueError(
                    f"venues lists unknown venue {v!r}{_suggest(v, VENUES)}; allowed: {', '.join(VENUES)}"
                )
        if len(set(self.venues)) != len(self.venues):
            raise ValueError("venues lists a venue twice")
        if self.reference and self.reference not in self.venues:
            raise ValueError(
                f"reference = {self.reference!r} must be one of the configured venues {self.venues}"
            )
        for key in self.endpoints:
            venue, _, kind = key.partition(".")
            if venue not in VENUES or kind not in ("", "ws", "rest"):
                raise ValueError(
                    f"endpoints key {key!r} must be VENUE or VENUE.rest with VENUE one of {', '.join(VENUES)}"
                )

    @property
    def reference_venue(self) -> str:
        return self.reference or self.venues[0]


# ---------------------------------------------------------------------------------------------- loading


def config_path(explicit: str | os.PathLike[str] | None = None) -> tuple[Path | None, bool]:
    """The config file to read and whether it was named explicitly (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("LIQTUI_CONFIG")
    if env:
        return Path(env).expanduser(), True
    import platformdirs

    return Path(platformdirs.user_config_dir("liqtui")) / "config.toml", False


def user_data_dir() -> Path:
    """Where the store lives: ``$LIQTUI_DATA`` or the platform's user data directory."""
    env = os.environ.get("LIQTUI_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("liqtui"))


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Read the config file (see module doc) and apply ``overrides`` (dotted keys, e.g. ``ui.lookback``).

    Raises :class:`ConfigError` with a message naming the key and the allowed values or a suggestion.
    """
    file, explicit = config_path(path)
    raw: dict[str, Any] = {}
    source = "defaults"
    if file is not None and file.is_file():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
        source = str(file)
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return convert_config(raw, source=source)


def convert_config(raw: dict[str, Any], *, source: str = "config") -> Config:
    """Validate a plain dict (as read from TOML) into a :class:`Config`."""
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_explain(str(exc))}") from None


def _set_dotted(d: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".", 1)  # endpoint keys such as "endpoints.binance.rest" keep their inner dot
    for p in parts[:-1]:
        nxt = d.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{dotted}: {p} is not a table")
        d = nxt
    d[parts[-1]] = value


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _struct_at(path: list[str]) -> type | None:
    """The Struct type found at a TOML path such as ['ui'] (None if the path is not a struct)."""
    tp: Any = Config
    for part in path:
        hints = typing.get_type_hints(tp)
        if part not in hints:
            return None
        tp = hints[part]
        if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
            return None
    return tp


def _field_type(path: list[str]) -> Any:
    parent = _struct_at(path[:-1])
    if parent is None:
        return None
    return typing.get_type_hints(parent).get(path[-1])


def _explain(msg: str) -> str:
    """Reword a msgspec validation message in TOML terms: key path, allowed values, suggestions."""
    m = re.search(r"- at `\$((?:\.[A-Za-z0-9_]+|\[\d+\])*)`", msg)
    path = [p for p in re.findall(r"\.([A-Za-z0-9_]+)", m.group(1))] if m else []
    body = msg[: m.start()].strip() if m else msg
    unknown = re.match(r"Object contains unknown field `([^`]+)`", body)
    if unknown:
        name = unknown.group(1)
        struct = _struct_at(path)
        fields = struct.__struct_fields__ if struct is not None else ()
        where = ".".join(path + [name])
        allowed = f"; valid keys here: {', '.join(fields)}" if fields else ""
        return f"unknown key {where!r}{_suggest(name, fields)}{allowed}"
    if path and body.startswith(".".join(path) + "."):  # the check already names its full key
        return body
    struct = _struct_at(path)
    first = body.split(" ", 1)[0]
    if struct is not None and first in struct.__struct_fields__:  # a __post_init__ check naming its field
        return ".".join(path + [body])
    key = ".".join(path) or "config"
    ftype = _field_type(path) if path else None
    if ftype is not None and typing.get_origin(ftype) is Literal:
        allowed = ", ".join(str(a) for a in typing.get_args(ftype))
        return f"{key}: {body}; allowed values: {allowed}"
    return f"{key}: {body}"
