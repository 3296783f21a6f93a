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
