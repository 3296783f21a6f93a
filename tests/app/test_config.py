"""Config: strict TOML, errors that name the key and the allowed values, CLI overrides on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqtui.config import Config, ConfigError, load_config
from liqtui.core.model import LOOKBACKS, ModelConfig


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "liqtui.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_empty_file_gives_defaults(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg == Config()
    assert cfg.symbol == "BTC" and cfg.venues == ["binance"] and cfg.reference_venue == "binance"
    assert cfg.ui.lookback == "1d" and cfg.ui.lookback in LOOKBACKS
    assert isinstance(cfg.model, ModelConfig)


def test_full_file_is_read(tmp_path):
    p = write(
        tmp_path,
        """
symbol = "eth"
venues = ["bybit", "binance"]
[ui]
lookback = "7d"
colors = "256"
top_n = 8
[keymap]
lookback_12h = "F1"
[endpoints]
"binance" = "ws://127.0.0.1:9000/market"
"binance.rest" = "http://127.0.0.1:9001"
""",
    )
    cfg = load_config(p)
    assert cfg.symbol == "ETH"
    assert cfg.reference_venue == "bybit"
    assert (cfg.ui.lookback, cfg.ui.colors, cfg.ui.top_n) == ("7d", "256", 8)
    assert cfg.keymap == {"lookback_12h": "F1"}
    assert cfg.endpoints["binance.rest"] == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('symbl = "BTC"', ["unknown key 'symbl'", "did you mean 'symbol'?"]),
        ("[ui]\nlookbak = '1d'", ["unknown key 'ui.lookbak'", "did you mean 'lookback'?", "valid keys here"]),
        ("[ui]\ncolors = '512'", ["ui.colors", "allowed values: auto, truecolor, 256, 16"]),
        ("[ui]\nlookback = '2w'", ["ui.lookback", "12h, 1d, 3d, 7d, 14d, 1M, 3M, 6M"]),
        ("[ui]\nfps = 1000", ["ui.fps", "between 0.5 and 60"]),
        ("[ui]\ntop_n = 'five'", ["ui.top_n", "Expected `int`"]),
        (
            'venues = ["binanse"]',
            ["venues", "did you mean 'binance'?", "allowed: binance, bybit, okx, hyperliquid"],
        ),
        ('venues = ["okx"]\nreference = "binance"', ["reference = 'binance'"]),
        ('[endpoints]\n"kraken" = "ws://x"', ["endpoints key 'kraken'"]),
        ("[model]\nbogus_knob = 1", ["unknown key 'model.bogus_knob'"]),
        ("[stor]\npath = ''", ["unknown key 'stor'", "did you mean 'store'?"]),
    ],
)
def test_bad_config_is_refused_with_a_specific_message(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    msg = str(err.value)
    for part in expected:
        assert part in msg, msg


def test_invalid_toml_names_the_file(tmp_path):
    p = write(tmp_path, "[ui\nlookback=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_default_location_may_be_absent(monkeypatch, tmp_path):
    monkeypatch.delenv("LIQTUI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert load_config(None) == Config()


def test_env_var_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LIQTUI_CONFIG", str(write(tmp_path, "symbol = 'SOL'")))
    assert load_config(None).symbol == "SOL"


def test_overrides_beat_the_file(tmp_path):
    p = write(tmp_path, "[ui]\nlookback = '7d'\ntheme = 'light'\n[endpoints]\nbybit = 'ws://a'")
    cfg = load_config(p, {"ui.lookback": "12h", "endpoints.binance.rest": "http://127.0.0.1:1"})
    assert cfg.ui.lookback == "12h"
    assert cfg.ui.theme == "light"  # untouched by the override
    assert cfg.endpoints == {"bybit": "ws://a", "binance.rest": "http://127.0.0.1:1"}


def test_bad_override_is_refused():
    with pytest.raises(ConfigError, match="ui.colors"):
        load_config(None, {"ui.colors": "lots"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xfe\x00\x01binary", "byte position 0"),
        (b'symbol = "BTC"\n# caf\xe9\n', "byte position 20"),
        (b"\x00\x00\x00", "not valid TOML"),  # valid UTF-8, but not TOML
    ],
)
def test_binary_or_non_utf8_file_names_the_file_and_the_byte(tmp_path, data, expected):
    p = tmp_path / "bin.toml"
    p.write_bytes(data)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and expected in str(err.value)


def test_a_directory_is_said_to_be_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[keymap]\nfreeze = 3", "keymap.freeze: expected a key name string"),
        ("[keymap]\nfreeze = ['p']", "keymap.freeze: expected a key name string"),
        ("[keymap]\nfreez = 'p'", "unknown keymap binding id(s) freez (did you mean 'freeze'?)"),
        ("[keymap]\nfreeze = ' '", "keymap freeze: the key must be a non-empty string"),
        ("[ui]\nthreshold_pct = 96", "ui.threshold_pct must be between 0 and 95, got 96"),
        ("[ui]\nthreshold_pct = nan", "ui.threshold_pct must be between 0 and 95, got nan"),
        ("[ui]\nheat_gamma = inf", "ui.heat_gamma must be between 0.1 and 3"),
        (
            '[endpoints]\nbinance = "http://x"',
            "endpoints key 'binance': must be a ws://HOST or wss://HOST URL",
        ),
        (
            '[endpoints]\n"okx.rest" = "https://"',
            "endpoints key 'okx.rest': must be a http://HOST or https://HOST",
        ),
        ('[endpoints]\nokx = "wss://h:99999"', "endpoints key 'okx': has a bad port"),
    ],
)
def test_keymap_limits_and_endpoints_are_checked_once_in_the_config(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert expected in str(err.value), str(err.value)


def test_one_threshold_limit_for_config_and_ui():
    """What the config accepts, the UI accepts (the app takes its settings through the same check)."""
    from liqtui.config import THRESHOLD, ui_settings

    assert ui_settings(load_config(None, {"ui.threshold_pct": THRESHOLD.hi}).ui).threshold_pct == 95.0
    with pytest.raises(ConfigError):
        load_config(None, {"ui.threshold_pct": 95.5})
    with pytest.raises(ConfigError):
        ui_settings(threshold_pct=95.5)
