"""Configuration: one TOML file read into msgspec Structs; CLI flags override it.

Where the file comes from, first found wins: ``--config FILE``, ``$LIQTUI_CONFIG``, then
``<user config dir>/liqtui/config.toml`` (optional). An explicitly named file that does not exist is an
error; the default one may be absent.

Every error names the offending key (as a TOML path such as ``ui.colors``) and either the allowed values or the
closest valid key, so a typo never silently does nothing. This module is pure (no textual, no rich).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from liqtui.bus import BusOptions, CollectOptions
from liqtui.core.events import VENUES
from liqtui.core.model import LOOKBACKS, ModelConfig
from liqtui.ui.keys import BINDING_IDS, KEYS

__all__ = [
    "DEMO_SPEED",
    "FPS",
    "GAMMA",
    "REPLAY_SPEED",
    "THRESHOLD",
    "TOP_N",
    "ZONES_TOP",
    "BackfillConfig",
    "Config",
    "ConfigError",
    "HyperliquidConfig",
    "Range",
    "StoreConfig",
    "UIConfig",
    "check_keymap",
    "config_path",
    "endpoint_problem",
    "load_config",
    "ui_settings",
    "user_data_dir",
]

ColorSystem = Literal["auto", "truecolor", "256", "16"]
Lookback = Literal["12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M"]
assert typing.get_args(Lookback) == LOOKBACKS, "Lookback literal out of sync with core.model.LOOKBACKS"


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the key and what is allowed."""


class Range(typing.NamedTuple):
    """A closed numeric range ``lo..hi`` (``lo`` itself excluded when ``lo_open``); NaN is never inside."""

    lo: float
    hi: float
    lo_open: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return False
        return (self.lo < value if self.lo_open else self.lo <= value) and value <= self.hi

    def describe(self) -> str:
        lo, hi = f"{self.lo:g}", f"{self.hi:g}"
        return f"> {lo} and at most {hi}" if self.lo_open else f"between {lo} and {hi}"

    def check(self, name: str, value: Any) -> None:
        """Raise ``ValueError`` naming ``name`` and the range unless ``value`` is inside it."""
        if value not in self:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")


# The one set of limits: the config, the CLI flags and the UI's keys all use these.
FPS = Range(0.5, 60.0)
THRESHOLD = Range(0.0, 95.0)  # percentile of non-empty buckets hidden as noise; t/T stop at its ends
GAMMA = Range(0.1, 3.0)  # heat gamma; h/H stop at its ends
TOP_N = Range(1, 20)
ZONES_TOP = Range(1, 50)  # zones per side printed by ``liqtui zones --top``
DEMO_SPEED = Range(0.1, 10_000.0)
"""The demo market's speed (market seconds per wall-clock second), within what
:class:`liqtui.sim.server.DemoExchange` accepts. Below 0.1 its mark price (one per market second) would tick
slower than the feeds' stale limit (15 s without a mark price), and the venue would be marked stale."""
REPLAY_SPEED = Range(0.0, 1e6)
"""A replay's speed factor; 0 = as fast as possible."""


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
        FPS.check("fps", self.fps)
        THRESHOLD.check("threshold_pct", self.threshold_pct)
        GAMMA.check("heat_gamma", self.heat_gamma)
        TOP_N.check("top_n", self.top_n)


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


INFO_SHARE = Range(0.0, 1.0, lo_open=True)  # part of Hyperliquid's 1200 request weight per minute per IP
MAX_ACCOUNTS = Range(1, 100_000)


class HyperliquidConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Hyperliquid's observed positions (used when ``hyperliquid`` is among the venues)."""

    observed: bool = True  # discover accounts from the trades and poll their positions
    info_share: float = 0.5  # at most this part of the documented 1200 weight/min/IP goes to polling
    addresses: str = ""  # a file of addresses to follow besides those discovered (one per line, # comments)
    max_accounts: int = 5000  # the address book's bound
    dex: str = ""  # a HIP-3 sub-dex to ask instead of the main one ("" = the main dex)

    def __post_init__(self) -> None:
        INFO_SHARE.check("info_share", self.info_share)
        if isinstance(self.max_accounts, bool) or self.max_accounts not in MAX_ACCOUNTS:
            raise ValueError(
                f"max_accounts must be an integer {MAX_ACCOUNTS.describe()}, got {self.max_accounts!r}"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,32}", self.dex):
            raise ValueError(
                f"dex must be a sub-dex name (letters, digits, _ or -) or empty, got {self.dex!r}"
            )
        if self.addresses:
            from liqtui.venues.hyperliquid.accounts import read_seed_file

            try:
                read_seed_file(Path(self.addresses).expanduser())
            except ValueError as exc:
                raise ValueError(f"addresses = {self.addresses!r}: {exc}") from None


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
    hyperliquid: HyperliquidConfig = msgspec.field(default_factory=HyperliquidConfig)
    alerts: list[dict[str, Any]] | None = None  # [[alerts]] rules; None = the default set, [] = none
    bus: BusOptions = msgspec.field(default_factory=BusOptions)
    collect: CollectOptions = msgspec.field(default_factory=CollectOptions)

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
        for key, url in self.endpoints.items():
            problem = endpoint_problem(key, url)
            if problem:
                raise ValueError(f"endpoints key {key!r}: {problem}")
        check_keymap(self.keymap)
        if self.alerts is not None:
            from liqtui.alerts.rules import parse_rules  # checks every rule; errors name the rule and key

            parse_rules(self.alerts)

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
    if file is not None and file.is_dir() and explicit:
        raise ConfigError(f"config file {file} is a directory; name a TOML file")
    if file is not None and file.is_file():
        raw = _read_toml(file)
        source = str(file)
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return convert_config(raw, source=source)


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: not a UTF-8 text file (byte 0x{data[exc.start]:02x} at byte position {exc.start}); "
            "the config is TOML in UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None


def convert_config(raw: dict[str, Any], *, source: str = "config") -> Config:
    """Validate a plain dict (as read from TOML) into a :class:`Config`."""
    km = raw.get("keymap")
    if isinstance(km, dict):  # msgspec would say only "$.keymap[...]": name the key
        for key, value in km.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f'{source}: keymap.{key}: expected a key name string such as "p" or "ctrl+p", '
                    f"got {type(value).__name__} {value!r}"
                )
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_explain(str(exc))}") from None


def endpoint_problem(key: str, url: str) -> str | None:
    """What is wrong with an endpoint override ``key`` (``VENUE``, ``VENUE.ws`` or ``VENUE.rest``) = ``url``,
    or None: the one check behind the config's ``[endpoints]`` and the ``--endpoint`` flag."""
    venue, _, kind = key.strip().partition(".")
    if venue not in VENUES or kind not in ("", "ws", "rest"):
        return f"use VENUE=URL (websocket) or VENUE.rest=URL with VENUE one of {', '.join(VENUES)}"
    schemes = ("http", "https") if kind == "rest" else ("ws", "wss")
    parts = urlsplit(url.strip())
    if parts.scheme not in schemes or not parts.hostname:
        return f"must be a {' or '.join(f'{s}://HOST' for s in schemes)} URL, got {url!r}"
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        return f"has a bad port: {url!r}"
    return None


def check_keymap(keymap: typing.Mapping[str, Any]) -> None:
    """A ``[keymap]`` (binding id → key) checked against the app's binding ids; ``ValueError`` names the id."""
    unknown = sorted(set(keymap) - set(BINDING_IDS))
    if unknown:
        raise ValueError(
            f"unknown keymap binding id(s) {', '.join(unknown)}{_suggest(unknown[0], BINDING_IDS)}; "
            f"valid: {', '.join(BINDING_IDS)}"
        )
    bad = sorted(k for k, v in keymap.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise ValueError(
            f'keymap {", ".join(bad)}: the key must be a non-empty string such as "p" or "ctrl+p"'
        )
    owner: dict[str, str] = {}  # key → the binding id it triggers, after the remapping
    for spec in KEYS:
        for key in keymap.get(spec.id, spec.key).split(","):
            key = key.strip()
            if key in owner:
                raise ValueError(
                    f"keymap: key {key!r} would trigger both {owner[key]} and {spec.id}; give one of them another key"
                )
            owner[key] = spec.id


def ui_settings(base: UIConfig | None = None, **changes: Any) -> UIConfig:
    """``base`` (default: the defaults) with ``changes`` (None values ignored), checked like the config file:
    :class:`ConfigError` naming ``ui.<key>`` and the allowed values."""
    raw = msgspec.to_builtins(base or UIConfig())
    raw.update({k: v for k, v in changes.items() if v is not None})
    try:
        return msgspec.convert({"ui": raw}, Config).ui
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc))) from None


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


def _struct_at(path: list[str]) -> type[msgspec.Struct] | None:
    """The Struct type found at a TOML path such as ['ui'] (None if the path is not a struct)."""
    tp: Any = Config
    for part in path:
        hints = typing.get_type_hints(tp)
        if part not in hints:
            return None
        tp = hints[part]
        if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
            return None
    return tp if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None


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
    if not path:  # a check of the whole file, already naming its key
        return body
    key = ".".join(path)
    ftype = _field_type(path) if path else None
    if ftype is not None and typing.get_origin(ftype) is Literal:
        allowed = ", ".join(str(a) for a in typing.get_args(ftype))
        return f"{key}: {body}; allowed values: {allowed}"
    return f"{key}: {body}"
