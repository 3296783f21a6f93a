"""Alert rules: the config's ``[[alerts]]`` tables, validated with errors naming the rule and the key.

```toml
[[alerts]]
kind = "near_zone"            # near_zone | zone_spent | liquidation | imbalance
within_pct = 1.0              # near_zone: price within this % of the zone's nearest edge
min_usd = 50_000_000          # the zone's (or liquidation's) USD at least
side = "both"                 # above | below | both
actions = ["toast", "bell", "command"]   # toast | bell | osc | tmux | command
command = "notify-me --json"  # run with the alert as one JSON object on stdin
cooldown_s = 300
```

Keys per kind (besides the common ``kind name side actions command command_timeout_s osc cooldown_s enabled
symbols``; ``symbols`` limits a rule to those tickers or instruments, e.g. ``["BTC", "ETHUSDT"]``, empty: all):

* ``near_zone``: ``within_pct`` (1.0), ``min_usd`` (50M), ``hysteresis`` (0.5: re-arms once the price is
  ``within_pct + hysteresis`` % away), ``lookback`` ("1d").
* ``zone_spent``: ``min_usd`` (50M, the zone's USD before the price reached it), ``spent_pct`` (50: share of its
  USD consumed), ``lookback``.
* ``liquidation``: ``min_usd`` (1M), ``burst_s`` (0: each liquidation alone; > 0: their sum within that many
  seconds), ``hysteresis`` (0.5: a burst re-arms once the window's sum falls below half of ``min_usd``).
  ``side = "above"`` means liquidated shorts (a squeeze), ``"below"`` liquidated longs (a flush).
* ``imbalance``: ``level`` (0.3: ``(above − below) / (above + below)`` at least this far from 0; ``above``
  fires on +level, ``below`` on −level), ``hysteresis`` (0.1), ``lookback``.

``actions`` default to ``["toast", "bell"]``; ``osc`` picks the escape sequences of the ``osc`` action
(``[9]``: OSC 9, the most widely understood; 777 = rxvt/foot/WezTerm style, 99 = kitty). A key that does not
belong to the rule's kind is an error, not silently ignored. Absent ``[[alerts]]`` → :func:`default_rules`;
``alerts = []`` → no alerts.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

__all__ = [
    "ACTIONS",
    "KINDS",
    "KIND_KEYS",
    "AlertConfigError",
    "AlertRule",
    "default_rules",
    "parse_rules",
]

Kind = Literal["near_zone", "zone_spent", "liquidation", "imbalance"]
Side = Literal["above", "below", "both"]
Action = Literal["toast", "bell", "osc", "tmux", "command"]
Lookback = Literal["12h", "1d", "3d", "7d", "14d", "1M", "3M", "6M"]

KINDS: tuple[str, ...] = typing.get_args(Kind)
ACTIONS: tuple[str, ...] = typing.get_args(Action)
SIDES: tuple[str, ...] = typing.get_args(Side)
OSC_CODES: tuple[int, ...] = (9, 777, 99)

COMMON_KEYS: tuple[str, ...] = (
    "kind",
    "name",
    "side",
    "actions",
    "command",
    "command_timeout_s",
    "osc",
    "cooldown_s",
    "enabled",
    "symbols",
)
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "near_zone": ("within_pct", "min_usd", "hysteresis", "lookback"),
    "zone_spent": ("min_usd", "spent_pct", "lookback"),
    "liquidation": ("min_usd", "burst_s", "hysteresis"),
    "imbalance": ("level", "hysteresis", "lookback"),
}
_MIN_USD = {"near_zone": 50e6, "zone_spent": 50e6, "liquidation": 1e6, "imbalance": 0.0}
_HYSTERESIS = {"near_zone": 0.5, "liquidation": 0.5, "imbalance": 0.1, "zone_spent": 0.0}


class AlertConfigError(ValueError):
    """A bad ``[[alerts]]`` table; the message names the rule (counted from 1), the key and what is allowed."""


class AlertRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ``[[alerts]]`` table (see the module doc for what each key means per kind)."""

    kind: Kind
    name: str = ""  # shown in the alert; default: the kind
    side: Side = "both"
    actions: list[Action] = msgspec.field(default_factory=lambda: ["toast", "bell"])
    command: str = ""
    command_timeout_s: float = 10.0
    osc: list[int] = msgspec.field(default_factory=lambda: [9])
    cooldown_s: float = 300.0
    enabled: bool = True
    symbols: list[str] = msgspec.field(default_factory=list)  # tickers / instruments; empty: every symbol
    within_pct: float = 1.0
    min_usd: float | None = None  # None: the kind's default
    hysteresis: float | None = None  # None: the kind's default
    lookback: Lookback = "1d"
    spent_pct: float = 50.0
    burst_s: float = 0.0
    level: float = 0.3

    def __post_init__(self) -> None:
        if self.min_usd is None:
            self.min_usd = _MIN_USD[self.kind]
        if self.hysteresis is None:
            self.hysteresis = _HYSTERESIS[self.kind]
        if not self.name:
            self.name = self.kind
        _check(self.min_usd >= 0 and math.isfinite(self.min_usd), "min_usd must be a number ≥ 0")
        _check(0 < self.within_pct <= 50, "within_pct must be > 0 and ≤ 50 (percent of the price)")
        _check(0 < self.spent_pct <= 100, "spent_pct must be > 0 and ≤ 100 (percent of the zone's USD)")
        _check(0 <= self.burst_s <= 3600, "burst_s must be between 0 (single liquidations) and 3600 seconds")
        _check(0 < self.level < 1, "level must be between 0 and 1 (exclusive): |imbalance| ranges 0..1")
        _check(0 <= self.cooldown_s <= 86_400, "cooldown_s must be between 0 and 86400 seconds")
        _check(0 < self.command_timeout_s <= 600, "command_timeout_s must be > 0 and ≤ 600 seconds")
        h = self.hysteresis
        if self.kind == "imbalance":
            _check(0 <= h < self.level, "hysteresis must be ≥ 0 and below level (imbalance units)")
        elif self.kind == "liquidation":
            _check(0 <= h < 1, "hysteresis must be ≥ 0 and < 1 (a share of min_usd)")
        else:
            _check(0 <= h <= 50, "hysteresis must be between 0 and 50 (percent of the price)")
        _check(len(set(self.actions)) == len(self.actions), "actions lists an action twice")
        _check(
            all(x.strip() and x.strip().replace("-", "").isalnum() for x in self.symbols),
            "symbols must list tickers like BTC or instruments like ETHUSDT",
        )
        for code in self.osc:
            _check(
                code in OSC_CODES, f"osc must list codes among {', '.join(map(str, OSC_CODES))}, got {code}"
            )
        if "command" in self.actions:
            _check(bool(self.command.strip()), 'command must be set when actions include "command"')
        elif self.command.strip():
            _check(False, 'command is set but actions does not include "command"')

    def applies_to(self, symbol: str) -> bool:
        """Whether the rule watches ``symbol`` (a ticker or an instrument): always without ``symbols``."""
        return not self.symbols or _base(symbol) in {_base(x) for x in self.symbols}

    @property
    def usd_floor(self) -> float:
        """``min_usd`` resolved (never None after construction)."""
        return float(self.min_usd or 0.0)

    @property
    def hyst(self) -> float:
        """``hysteresis`` resolved (never None after construction)."""
        return float(self.hysteresis or 0.0)


def _base(symbol: str) -> str:
    """``ETHUSDT`` / ``ETH-USDT-SWAP`` / ``eth`` → ``ETH``: what a symbol filter compares."""
    s = symbol.strip().upper()
    return s.removesuffix("-USDT-SWAP").removesuffix("-SWAP").removesuffix("USDT").removesuffix("-")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def default_rules() -> list[AlertRule]:
    """The set used when the config has no ``[[alerts]]``: a big zone within 1 %, a big zone swept, a $1M
    liquidation, $5M liquidated within a minute, and a strong imbalance; toast + bell (+ tmux when inside)."""
    acts: list[Action] = ["toast", "bell", "tmux"]
    return [
        AlertRule(kind="near_zone", name="near a big zone", within_pct=1.0, min_usd=50e6, actions=list(acts)),
        AlertRule(kind="zone_spent", name="zone swept", min_usd=50e6, actions=list(acts)),
        AlertRule(kind="liquidation", name="big liquidation", min_usd=1e6, actions=["toast"], cooldown_s=60),
        AlertRule(kind="liquidation", name="liquidation burst", min_usd=5e6, burst_s=60, actions=list(acts)),
        AlertRule(kind="imbalance", name="imbalance", level=0.5, actions=["toast"], cooldown_s=1800),
    ]


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _label(i: int, kind: Any) -> str:
    return f"alerts #{i + 1}" + (f" ({kind})" if isinstance(kind, str) and kind in KINDS else "")


def _explain(msg: str, where: str) -> str:
    """A msgspec validation message in TOML terms: ``alerts #2 (near_zone).within_pct: Expected `float` ...``."""
    m = re.search(r"\s*- at `\$((?:\.[A-Za-z0-9_]+|\[\d+\])*)`", msg)
    body = msg[: m.start()].strip() if m else msg.strip()
    path = m.group(1) if m else ""
    key = path.lstrip(".")
    if key:
        top = key.split(".")[0].split("[")[0]
        hint = ""
        if top == "actions":
            hint = f"; allowed: {', '.join(ACTIONS)}"
        elif top in ("side", "kind", "lookback"):
            allowed = {"side": SIDES, "kind": KINDS, "lookback": typing.get_args(Lookback)}[top]
            hint = f"; allowed: {', '.join(allowed)}"
        return f"{where}.{key}: {body}{hint}"
    first = body.split(" ", 1)[0]
    if first in AlertRule.__struct_fields__:  # a __post_init__ check naming its key
        return f"{where}.{body}"
    return f"{where}: {body}"


def parse_rules(raw: Any) -> list[AlertRule]:
    """Validate the config's ``alerts`` value (a list of tables) into rules.

    ``None`` → :func:`default_rules`; ``[]`` → no rules. Raises :class:`AlertConfigError` naming the rule
    (``alerts #2``, counted from 1 as the tables appear in the file), the key, and the allowed values or the
    closest valid key.
    """
    if raw is None:
        return default_rules()
    if isinstance(raw, Mapping):
        raise AlertConfigError("alerts must be an array of tables: write [[alerts]] (two brackets) per rule")
    if not isinstance(raw, (list, tuple)):
        raise AlertConfigError(f"alerts must be an array of [[alerts]] tables, got {type(raw).__name__}")
    out: list[AlertRule] = []
    for i, table in enumerate(raw):
        if not isinstance(table, Mapping):
            raise AlertConfigError(
                f"alerts #{i + 1} must be a table ([[alerts]]), got {type(table).__name__}"
            )
        kind = table.get("kind")
        where = _label(i, kind)
        if kind is None:
            raise AlertConfigError(f"{where}: kind is required; allowed: {', '.join(KINDS)}")
        if kind not in KINDS:
            raise AlertConfigError(
                f"{where}.kind: unknown kind {kind!r}{_suggest(str(kind), KINDS)}; allowed: {', '.join(KINDS)}"
            )
        valid = COMMON_KEYS + KIND_KEYS[kind]
        for key in table:
            if key in valid:
                continue
            if key in AlertRule.__struct_fields__:
                raise AlertConfigError(
                    f"{where}.{key}: does not apply to kind {kind!r}; its keys: {', '.join(valid)}"
                )
            raise AlertConfigError(
                f"{where}: unknown key {key!r}{_suggest(str(key), valid)}; valid keys here: {', '.join(valid)}"
            )
        try:
            out.append(msgspec.convert(dict(table), AlertRule))
        except msgspec.ValidationError as exc:
            raise AlertConfigError(_explain(str(exc), where)) from None
    return out
