"""Theme files, the heat palette and colour-system detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.color import ColorSystem

from liqtui.ui.themes import (
    MAX_LEVELS,
    HeatPalette,
    ThemeError,
    available_themes,
    detect_color_system,
    load_theme,
)

SHIPPED = ("dark", "light", "mono256")


def test_shipped_themes_exist_and_load():
    assert set(SHIPPED) <= set(available_themes())
    for name in SHIPPED:
        spec = load_theme(name)
        assert spec.name == name
        assert spec.textual.name == f"liqtui-{name}"
        assert 2 <= spec.levels <= MAX_LEVELS


@pytest.mark.parametrize("name", SHIPPED)
def test_256_palette_levels_stay_distinct_on_a_256_colour_terminal(name):
    pal = HeatPalette(load_theme(name), "256")
    numbers = [c.downgrade(ColorSystem.EIGHT_BIT).number for c in pal.color]
    assert numbers == list(pal.spec.colors_256)  # exact xterm colours: nothing collapses
    assert len(set(numbers)) == pal.n_levels >= 8


@pytest.mark.parametrize("name", SHIPPED)
def test_16_palette_levels_stay_distinct(name):
    pal = HeatPalette(load_theme(name), "16")
    numbers = [c.downgrade(ColorSystem.STANDARD).number for c in pal.color]
    assert len(set(numbers)) == len(numbers) == len(pal.spec.colors_16)


def test_truecolor_gradient_collapses_in_256_which_is_why_a_256_palette_ships():
    pal = HeatPalette(load_theme("dark"), "truecolor")
    assert pal.n_levels == 64
    collapsed = {c.downgrade(ColorSystem.EIGHT_BIT).number for c in pal.color}
    assert len(collapsed) < 40


def test_palette_prebuilds_every_pair_once():
    pal = HeatPalette(load_theme("dark"), "256")
    n = pal.n_levels
    assert len(pal.pair) == n and all(len(r) == n for r in pal.pair)
    assert pal.pair[2][2] is pal.bg[2]
    assert pal.pair[3][1].color == pal.color[3] and pal.pair[3][1].bgcolor == pal.color[1]
    assert pal.over(pal.anchor, 4) is pal.over(pal.anchor, 4)


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _good_text() -> str:
    return (Path(__file__).resolve().parents[2] / "themes" / "dark.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.replace('primary = "#f0a030"', 'primary = "notacolour"'),
            r"\[textual\].primary: not a colour",
        ),
        (lambda t: t.replace("[heat]", "[heatz]"), "unknown top-level key"),
        (lambda t: t.replace("levels = 64", "levels = 500"), r"\[heat\].levels must be an integer 2..64"),
        (lambda t: t.replace("colors_16 = [0, 4,", "colors_16 = [0, 0,"), "levels must be distinct"),
        (lambda t: t.replace("colors_16 = [0, 4,", "colors_16 = [0, 44,"), "not a colour number 0..15"),
        (lambda t: t.replace('liq-long = "#ef4444"', ""), "missing liq-long"),
        (lambda t: t + "\n[[[", "invalid TOML"),
        (lambda t: t.replace("colors_256 = [16,", "colors_256 = [59,"), "cannot be shown exactly"),
        (lambda t: t.replace("dark = true", "dark = 3"), "dark must be true or false"),
    ],
)
def test_bad_theme_files_get_specific_errors(tmp_path, mutate, message):
    path = _write(tmp_path, mutate(_good_text()))
    with pytest.raises(ThemeError, match=message) as exc:
        load_theme(str(path))
    assert str(path) in str(exc.value)


def test_unknown_theme_lists_available_ones():
    with pytest.raises(ThemeError, match=r"unknown theme 'nope' \(available: .*dark"):
        load_theme("nope")
    with pytest.raises(ThemeError, match="not found"):
        load_theme("/does/not/exist.toml")


def test_user_theme_dir_wins_over_the_source_tree(tmp_path):
    user_dir = Path(os.environ["LIQTUI_CONFIG"]).parent / "themes"
    user_dir.mkdir(parents=True, exist_ok=True)
    _write(
        user_dir,
        _good_text().replace(
            'description = "Dark background, inferno-like heat (default)"', 'description = "mine"'
        ),
        "dark.toml",
    )
    _write(user_dir, _good_text().replace('name = "dark"', 'name = "ocean"'), "ocean.toml")
    assert load_theme("dark").description == "mine"
    assert "ocean" in available_themes()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TEXTUAL_COLOR_SYSTEM": "256", "COLORTERM": "truecolor"}, "256"),
        ({"TEXTUAL_COLOR_SYSTEM": "standard"}, "16"),
        ({"TEXTUAL_COLOR_SYSTEM": "truecolor", "TERM": "xterm"}, "truecolor"),
        ({"COLORTERM": "truecolor", "TERM": "xterm"}, "truecolor"),
        ({"TERM": "tmux-256color"}, "256"),  # SSH: no COLORTERM forwarded
        ({"TERM": "screen"}, "16"),
        ({"TERM": "linux"}, "16"),
        ({}, "16"),
    ],
)
def test_detect_color_system(env, expected):
    assert detect_color_system(env) == expected


def test_palette_rejects_unknown_colour_system():
    with pytest.raises(ThemeError, match="colours must be one of"):
        HeatPalette(load_theme("dark"), "88")
