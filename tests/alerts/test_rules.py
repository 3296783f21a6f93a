"""``[[alerts]]`` validation: every error names the rule (counted from 1) and the key, with the allowed values or
the closest valid key."""

from __future__ import annotations

import tomllib
from types import SimpleNamespace
from typing import Any

import pytest

from liqtui.alerts.rules import AlertConfigError, AlertRule, default_rules, parse_rules
from liqtui.alerts.watch import rules_from_config

ISSUE_EXAMPLE = """
[[alerts]]
kind = "near_zone"            # near_zone | zone_spent | liquidation | imbalance
within_pct = 1.0              # near_zone: price within this % of the zone's nearest edge
min_usd = 50_000_000          # the zone's (or liquidation's) USD at least
side = "both"                 # above | below | both
actions = ["toast", "bell", "command"]   # toast | bell | osc | tmux | command
command = "notify-me --json"  # run with the alert as one JSON object on stdin
cooldown_s = 300

[[alerts]]
kind = "liquidation"
min_usd = 5_000_000
burst_s = 60
actions = ["osc", "tmux"]
osc = [9, 99]
"""


def test_the_issue_example_parses() -> None:
    rules = parse_rules(tomllib.loads(ISSUE_EXAMPLE)["alerts"])
    near, burst = rules
    assert (near.kind, near.within_pct, near.min_usd, near.side, near.cooldown_s) == (
        "near_zone", 1.0, 50e6, "both", 300.0,
    )  # fmt: skip
    assert near.actions == ["toast", "bell", "command"] and near.command == "notify-me --json"
    assert near.hysteresis == 0.5 and near.lookback == "1d" and near.name == "near_zone"
    assert (burst.burst_s, burst.min_usd, burst.osc, burst.hysteresis) == (60.0, 5e6, [9, 99], 0.5)


def test_defaults_and_none() -> None:
    assert parse_rules(None) == default_rules()
    assert parse_rules([]) == []
    kinds = [r.kind for r in default_rules()]
    assert kinds == ["near_zone", "zone_spent", "liquidation", "liquidation", "imbalance"]
    assert rules_from_config(SimpleNamespace()) == default_rules()
    assert rules_from_config(SimpleNamespace(alerts=[{"kind": "imbalance"}]))[0].level == 0.3


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "near_zone", "withn_pct": 1}, "alerts #2 (near_zone): unknown key 'withn_pct' (did you mean 'within_pct'?)"),
        ({"kind": "liquidation", "within_pct": 1}, "alerts #2 (liquidation).within_pct: does not apply to kind 'liquidation'"),
        ({"kind": "nearzone"}, "alerts #2.kind: unknown kind 'nearzone' (did you mean 'near_zone'?)"),
        ({"within_pct": 1}, "alerts #2: kind is required; allowed: near_zone, zone_spent, liquidation, imbalance"),
        ({"kind": "near_zone", "within_pct": "1%"}, "alerts #2 (near_zone).within_pct: Expected `float`, got `str`"),
        ({"kind": "near_zone", "within_pct": 0}, "alerts #2 (near_zone).within_pct must be > 0 and ≤ 50"),
        ({"kind": "near_zone", "side": "up"}, "alerts #2 (near_zone).side: Invalid enum value 'up'; allowed: above, below, both"),
        ({"kind": "near_zone", "actions": ["toast", "beep"]}, "alerts #2 (near_zone).actions[1]: Invalid enum value 'beep'; allowed: toast, bell, osc, tmux, command"),
        ({"kind": "near_zone", "actions": ["command"]}, 'alerts #2 (near_zone).command must be set when actions include "command"'),
        ({"kind": "near_zone", "command": "x"}, 'alerts #2 (near_zone).command is set but actions does not include "command"'),
        ({"kind": "imbalance", "level": 0.2, "hysteresis": 0.3}, "alerts #2 (imbalance).hysteresis must be ≥ 0 and below level"),
        ({"kind": "imbalance", "level": 1.5}, "alerts #2 (imbalance).level must be between 0 and 1"),
        ({"kind": "liquidation", "burst_s": -1}, "alerts #2 (liquidation).burst_s must be between 0"),
        ({"kind": "near_zone", "osc": [9, 8]}, "alerts #2 (near_zone).osc must list codes among 9, 777, 99, got 8"),
        ({"kind": "near_zone", "lookback": "2d"}, "alerts #2 (near_zone).lookback: Invalid enum value '2d'; allowed: 12h, 1d"),
        ({"kind": "near_zone", "cooldown_s": -5}, "alerts #2 (near_zone).cooldown_s must be between 0 and 86400"),
        ({"kind": "zone_spent", "spent_pct": 120}, "alerts #2 (zone_spent).spent_pct must be > 0 and ≤ 100"),
    ],
)  # fmt: skip
def test_errors_name_rule_and_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError) as exc:
        parse_rules([{"kind": "liquidation"}, table])
    assert str(exc.value).startswith(message), str(exc.value)


def test_not_an_array_of_tables() -> None:
    with pytest.raises(AlertConfigError, match=r"write \[\[alerts\]\] \(two brackets\)"):
        parse_rules(tomllib.loads('[alerts]\nkind = "near_zone"\n')["alerts"])
    with pytest.raises(AlertConfigError, match="alerts #1 must be a table"):
        parse_rules(["near_zone"])


def test_resolved_per_kind_defaults() -> None:
    assert AlertRule(kind="liquidation").min_usd == 1e6
    assert AlertRule(kind="imbalance").hysteresis == 0.1
    assert AlertRule(kind="near_zone", name="big one").name == "big one"
