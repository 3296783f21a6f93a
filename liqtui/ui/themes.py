"""Themes: TOML files holding the heat gradient and the Textual theme fields, and the heat palette.

A theme file (``themes/<name>.toml``) has three parts:

* ``[textual]`` – the fields of :class:`textual.theme.Theme` (``primary``, ``background``, ``dark`` …) and
  ``[textual.variables]`` – app colours used by the .tcss and by the drawing code (``liq-long``,
  ``liq-short``, ``heat-anchor``, ``candle-up``, ``candle-down``, ``zone-bar``, ``confluence``,
  ``tier-colors``).
* ``[heat]`` – ``stops`` (hex colours, interpolated to ``levels`` ≤ 64 truecolor levels), ``colors_256``
  (xterm-256 indices, one distinct colour per level) and ``colors_16`` (ANSI numbers 0–15).

Themes are looked up, first match wins, in: the user's config dir (``<dir of $LIQTUI_CONFIG>/themes`` or
the platform config dir), the source tree (``<repo>/themes``) and the installed package
(``liqtui/_themes``, force-included by the wheel). ``--theme`` also accepts a path to a TOML file.

:class:`HeatPalette` is the colour table: built once per (theme, colour system), it holds the pre-built
``rich.style.Style`` objects that the widgets index per cell — never a Style built per cell.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rich._palettes import EIGHT_BIT_PALETTE, STANDARD_PALETTE
from rich.color import Color, ColorSystem
from rich.style import Style
from textual.theme import Theme

__all__ = [
    "COLOR_SYSTEMS",
    "MAX_LEVELS",
    "HeatPalette",
    "ThemeError",
    "ThemeSpec",
    "available_themes",
    "detect_color_system",
    "exact_256",
    "load_theme",
    "parse_theme",
    "rich_color_system",
    "theme_dirs",
]

MAX_LEVELS = 64
"""Textual's style cache holds 16,384 entries: 64 levels → 4,096 (upper, lower) pairs fit with room."""

COLOR_SYSTEMS: tuple[str, ...] = ("truecolor", "256", "16")

_THEME_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_REQUIRED_VARIABLES = (
    "liq-long",
    "liq-short",
    "heat-anchor",
    "candle-up",
    "candle-down",
    "zone-bar",
    "confluence",
    "tier-colors",
)


class ThemeError(ValueError):
    """A theme file is missing, unreadable or invalid; the message names the file and the field."""


@dataclass(frozen=True)
class ThemeSpec:
    """A parsed theme file."""

    name: str
    description: str
    textual: Theme
    stops: tuple[str, ...]
    levels: int
    colors_256: tuple[int, ...]
    colors_16: tuple[int, ...]
    variables: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


# --------------------------------------------------------------------------------------------- discovery
def _user_theme_dir() -> Path:
    cfg = os.environ.get("LIQTUI_CONFIG")
    if cfg:
        return Path(cfg).expanduser().parent / "themes"
    import platformdirs

    return Path(platformdirs.user_config_dir("liqtui")) / "themes"


def theme_dirs() -> list[Path]:
    """Folders searched for ``<name>.toml``, highest priority first (existing ones only)."""
    here = Path(__file__).resolve().parent
    candidates = [_user_theme_dir(), here.parent.parent / "themes", here.parent / "_themes"]
    seen: list[Path] = []
    for d in candidates:
        if d.is_dir() and d not in seen:
            seen.append(d)
    return seen


def available_themes() -> list[str]:
    """Names of every theme found in :func:`theme_dirs`, sorted."""
    return sorted({p.stem for d in theme_dirs() for p in d.glob("*.toml")})


def load_theme(name_or_path: str) -> ThemeSpec:
    """Load a theme by name (searched in :func:`theme_dirs`) or by path to a ``.toml`` file."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or os.sep in name_or_path:
        if not p.is_file():
            raise ThemeError(f"theme file not found: {p}")
        return _read(p)
    for d in theme_dirs():
        f = d / f"{name_or_path}.toml"
        if f.is_file():
            return _read(f)
    names = ", ".join(available_themes()) or "none"
    raise ThemeError(f"unknown theme {name_or_path!r} (available: {names})")


def _read(path: Path) -> ThemeSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read theme: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: invalid TOML: {exc}") from exc
    return parse_theme(data, default_name=path.stem, path=path)


# ------------------------------------------------------------------------------------------------ parsing
def _where(path: Path | None) -> str:
    return f"{path}: " if path else ""


def _check_hex(value: Any, what: str, path: Path | None) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"{_where(path)}{what} must be a colour string like '#ff8800', got {value!r}")
    try:
        Color.parse(value)
    except Exception as exc:  # rich raises ColorParseError
        raise ThemeError(f"{_where(path)}{what}: not a colour: {value!r}") from exc
    return value


def _int_list(data: dict[str, Any], key: str, hi: int, path: Path | None) -> tuple[int, ...]:
    raw = data.get(key)
    if not isinstance(raw, list) or len(raw) < 2:
        raise ThemeError(f"{_where(path)}[heat].{key} must be a list of at least 2 colour numbers")
    if len(raw) > MAX_LEVELS:
        raise ThemeError(f"{_where(path)}[heat].{key} has {len(raw)} entries; at most {MAX_LEVELS}")
    for v in raw:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ThemeError(f"{_where(path)}[heat].{key}: {v!r} is not a colour number 0..{hi}")
    if len(set(raw)) != len(raw):
        raise ThemeError(f"{_where(path)}[heat].{key}: levels must be distinct colours")
    return tuple(raw)


_Heat = tuple[tuple[str, ...], int, tuple[int, ...], tuple[int, ...]]


def _parse_heat(data: Any, path: Path | None) -> _Heat:
    if not isinstance(data, dict):
        raise ThemeError(f"{_where(path)}missing [heat] table")
    stops = data.get("stops")
    if not isinstance(stops, list) or len(stops) < 2:
        raise ThemeError(f"{_where(path)}[heat].stops must list at least 2 colours")
    stops_t = tuple(_check_hex(s, f"[heat].stops[{i}]", path) for i, s in enumerate(stops))
    levels = data.get("levels", MAX_LEVELS)
    if not isinstance(levels, int) or isinstance(levels, bool) or not 2 <= levels <= MAX_LEVELS:
        raise ThemeError(f"{_where(path)}[heat].levels must be an integer 2..{MAX_LEVELS}, got {levels!r}")
    c256 = _int_list(data, "colors_256", 255, path)
    bad = [i for i in c256 if exact_256(i) is None]
    if bad:
        raise ThemeError(
            f"{_where(path)}[heat].colors_256: {bad} cannot be shown exactly on a 256-colour "
            "terminal; use 16..255 without the cube greys 59, 102, 145, 188 (use 232..255)"
        )
    return stops_t, levels, c256, _int_list(data, "colors_16", 15, path)


def _parse_textual(name: str, data: Any, path: Path | None) -> tuple[Theme, dict[str, str]]:
    if not isinstance(data, dict):
        raise ThemeError(f"{_where(path)}missing [textual] table")
    unknown = set(data) - set(_THEME_FIELDS) - {"dark", "variables", "luminosity_spread", "text_alpha"}
    if unknown:
        raise ThemeError(f"{_where(path)}[textual]: unknown field(s) {', '.join(sorted(unknown))}")
    if "primary" not in data:
        raise ThemeError(f"{_where(path)}[textual].primary is required")
    kwargs: dict[str, Any] = {
        k: _check_hex(data[k], f"[textual].{k}", path) for k in _THEME_FIELDS if k in data
    }
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{_where(path)}[textual].dark must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{_where(path)}[textual.variables] must map names to colour strings")
    missing = [k for k in _REQUIRED_VARIABLES if k not in variables]
    if missing:
        raise ThemeError(f"{_where(path)}[textual.variables] is missing {', '.join(missing)}")
    for k, v in variables.items():
        if k == "tier-colors":
            for c in v.split():
                _check_hex(c, "[textual.variables].tier-colors", path)
        else:
            _check_hex(v, f"[textual.variables].{k}", path)
    css_vars = {k: v for k, v in variables.items() if k != "tier-colors"}
    theme = Theme(name=f"liqtui-{name}", dark=dark, variables=css_vars, **kwargs)
    return theme, dict(variables)


def parse_theme(data: dict[str, Any], *, default_name: str = "custom", path: Path | None = None) -> ThemeSpec:
    """Validate a decoded theme TOML document; raises :class:`ThemeError` naming the bad field."""
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ThemeError(f"{_where(path)}name must be a non-empty string")
    unknown = set(data) - {"name", "description", "textual", "heat"}
    if unknown:
        raise ThemeError(f"{_where(path)}unknown top-level key(s) {', '.join(sorted(unknown))}")
    theme, variables = _parse_textual(name, data.get("textual"), path)
    stops, levels, c256, c16 = _parse_heat(data.get("heat"), path)
    return ThemeSpec(
        name=name,
        description=str(data.get("description", "")),
        textual=theme,
        stops=stops,
        levels=levels,
        colors_256=c256,
        colors_16=c16,
        variables=variables,
        path=path,
    )


# ------------------------------------------------------------------------------------------- colour system
def detect_color_system(environ: dict[str, str] | None = None) -> str:
    """``truecolor`` | ``256`` | ``16`` from TEXTUAL_COLOR_SYSTEM, else COLORTERM, else TERM."""
    env = os.environ if environ is None else environ
    forced = env.get("TEXTUAL_COLOR_SYSTEM", "").strip().lower()
    if forced in ("truecolor", "24bit"):
        return "truecolor"
    if forced in ("256", "8bit", "eight_bit"):
        return "256"
    if forced in ("standard", "16", "windows"):
        return "16"
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = env.get("TERM", "").lower()
    if "256" in term or "direct" in term:
        return "256"
    return "16"


def rich_color_system(colors: str) -> str:
    """Our colour system name → the name rich's Console uses."""
    return {"truecolor": "truecolor", "256": "256", "16": "standard"}[colors]


# ------------------------------------------------------------------------------------------------ palette
def _interpolate(stops: tuple[str, ...], n: int) -> list[tuple[int, int, int]]:
    trip = [Color.parse(s).get_truecolor() for s in stops]
    out: list[tuple[int, int, int]] = []
    for i in range(n):
        x = i / (n - 1) * (len(trip) - 1)
        k = min(int(x), len(trip) - 2)
        f = x - k
        a, b = trip[k], trip[k + 1]
        r, g, bl = (round(a[j] + (b[j] - a[j]) * f) for j in range(3))
        out.append((r, g, bl))
    return out


@lru_cache(maxsize=256)
def exact_256(index: int) -> tuple[int, int, int] | None:
    """An RGB that rich (hence Textual) downgrades to exactly xterm colour ``index`` on a 256-colour terminal.

    Textual converts every colour to truecolor and rich downgrades it again; for the bright greys
    (247–255) the xterm value itself lands one grey lower, so nudge it. None if no nearby RGB works
    (0–15 and the cube greys 59/102/145/188, which rich maps onto the grey ramp).
    """
    if not 16 <= index <= 255:
        return None
    r, g, b = EIGHT_BIT_PALETTE[index]
    for d in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
        rgb = (min(255, max(0, r + d)), min(255, max(0, g + d)), min(255, max(0, b + d)))
        if Color.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).number == index:
            return rgb
    return None


def _heat_rgb(spec: ThemeSpec, colors: str) -> list[tuple[int, int, int]]:
    if colors == "256":
        return [exact_256(i) for i in spec.colors_256]  # type: ignore[misc]  # validated when parsed
    if colors == "16":
        return [tuple(STANDARD_PALETTE[i]) for i in spec.colors_16]  # type: ignore[misc]
    return _interpolate(spec.stops, spec.levels)


class HeatPalette:
    """The colour table of one (theme, colour system): heat levels and pre-built Styles.

    ``pair[u][l]`` is the Style of a half-block cell with heat level ``u`` in the upper half (foreground of
    ``▀``) and ``l`` in the lower half (background). Equal halves use a background-only Style drawn with a
    space, which is shorter on the wire. Level 0 means "no heat".
    """

    UPPER = "▀"

    def __init__(self, spec: ThemeSpec, colors: str = "truecolor") -> None:
        if colors not in COLOR_SYSTEMS:
            raise ThemeError(f"colours must be one of {', '.join(COLOR_SYSTEMS)}, got {colors!r}")
        self.spec = spec
        self.colors = colors
        self.rgb = _heat_rgb(spec, colors)
        self.n_levels = len(self.rgb)
        self.color = [Color.from_rgb(*c) for c in self.rgb]
        self.bg = [Style(bgcolor=c) for c in self.color]
        self.pair: list[list[Style]] = [
            [self.bg[u] if u == lo else Style(color=cu, bgcolor=cl) for lo, cl in enumerate(self.color)]
            for u, cu in enumerate(self.color)
        ]
        self.pair_flat: list[Style] = [st for row in self.pair for st in row]  # index u * n_levels + l
        var = spec.variables
        self.anchor = Color.parse(var["heat-anchor"])
        self.anchor_style = Style(color=self.anchor, bold=True)
        self.candle_up = Color.parse(var["candle-up"])
        self.candle_down = Color.parse(var["candle-down"])
        self.long = Color.parse(var["liq-long"])
        self.short = Color.parse(var["liq-short"])
        self.zone_bar = Color.parse(var["zone-bar"])
        self.confluence = Color.parse(var["confluence"])
        self.tiers = tuple(Color.parse(c) for c in var["tier-colors"].split())
        self.tier_styles = tuple(Style(color=c, bgcolor=self.color[0]) for c in self.tiers)
        self.text = Color.parse(spec.textual.foreground or ("#d0d0d0" if spec.textual.dark else "#202020"))
        self.axis_style = Style(color=self.text, bgcolor=self.color[0], dim=True)
        self._over: dict[tuple[Color, int, bool], Style] = {}

    def over(self, fg: Color, level: int, bold: bool = False) -> Style:
        """A Style with foreground ``fg`` over the background of heat ``level`` (cached, few entries)."""
        key = (fg, level, bold)
        st = self._over.get(key)
        if st is None:
            st = self._over[key] = Style(color=fg, bgcolor=self.color[level], bold=bold)
        return st

    def tier_color(self, i: int) -> Color:
        """Colour of leverage tier ``i`` (lowest leverage first), cycling when there are more tiers."""
        return self.tiers[i % len(self.tiers)]
