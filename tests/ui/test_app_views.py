"""Layout, resize, colour systems, themes, an empty engine, and the heatmap's per-row refresh."""

from __future__ import annotations

import asyncio
import re
from typing import ClassVar

import numpy as np
import pytest
from textual.drivers.headless_driver import HeadlessDriver

from liqtui.config import ConfigError
from liqtui.core.engine import Engine
from liqtui.core.model import HeatModel
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.render import HeatScale
from liqtui.ui.themes import HeatPalette, load_theme
from liqtui.ui.widgets.heatmap import HeatFrame


async def wait_until(pilot, cond, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await pilot.pause(0.02)


class CapturingDriver(HeadlessDriver):
    """Lets Textual render (not headless) and keeps what it writes to the terminal."""

    out: ClassVar[list[str]] = []

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CapturingDriver.out.append(data)


async def test_empty_engine_waits_without_crashing(frozen_clock):
    app = LiqtuiApp(Engine(HeatModel()), clock=frozen_clock, colors="truecolor")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.ticks >= 2)
        assert "waiting for data" in str(app.zones.render())
        assert "waiting for the first price" in str(app.anchor_label.render())
        assert app.heatmap.frames_drawn == 0 and app._message == ""


async def test_live_resize_switches_the_compact_layout(engine, frozen_clock):
    app = LiqtuiApp(engine, clock=frozen_clock, colors="truecolor", lookback="12h")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.heatmap.frames_drawn > 0)
        main = app.screen
        assert not main.has_class("compact") and app.tape.display

        def fits() -> bool:
            return app.heatmap._frame.upper.shape == (app.heatmap.size.height, app.heatmap.size.width)

        await pilot.press("question_mark")  # resize under a modal: the main screen must follow too
        await wait_until(pilot, lambda: app.screen is not main)
        await pilot.resize_terminal(80, 24)
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: app.screen is main and main.has_class("compact") and fits() and app.size.width == 80,
        )
        assert app.heatmap.size.width < 50
        assert app.zones.size.width > 0 and app.tape.size.height == 0  # zones kept, tape dropped
        await pilot.resize_terminal(250, 70)
        wide = lambda: app.size.width == 250 and not app.screen.has_class("compact")
        await wait_until(pilot, lambda: wide() and fits())
        assert app.heatmap.size.width > 150 and app.tape.size.height > 0


async def test_256_colours_reach_the_terminal_as_xterm_indices(engine, frozen_clock):
    colors, want, never = "256", "\x1b[48;5;", "\x1b[48;2;"
    CapturingDriver.out = []
    app = LiqtuiApp(engine, clock=frozen_clock, colors=colors, lookback="12h", driver_class=CapturingDriver)
    assert app.palette.colors == colors

    async def drive(pilot):
        await wait_until(pilot, lambda: app.heatmap.frames_drawn > 0)
        await pilot.pause(0.1)
        app.exit()

    await app.run_async(size=(100, 30), auto_pilot=drive)
    written = "".join(CapturingDriver.out)
    assert want in written and never not in written
    used = {int(m) for m in re.findall(r"\x1b\[(?:\d+;)*48;5;(\d+)", written)}
    assert used & set(app.spec.colors_256[1:])  # heat levels drawn with the palette's own xterm colours


async def test_theme_switch_rebuilds_the_colour_table_once(engine, frozen_clock):
    app = LiqtuiApp(engine, clock=frozen_clock, colors="truecolor", lookback="12h")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.heatmap.frames_drawn > 0)
        dark = app.palette
        assert app.theme == "liqtui-dark" and "liqtui-mono256" in app.available_themes
        app.theme = "liqtui-light"
        await wait_until(pilot, lambda: app.palette is not dark)
        assert app.spec.name == "light"
        assert app.heatmap.palette is app.palette is app.axis._pal is app.heat_column._pal


async def test_bad_theme_falls_back_to_dark_with_a_notice(engine, frozen_clock, tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = 'broken'\n[textual]\nprimary = 'nope'\n", encoding="utf-8")
    app = LiqtuiApp(engine, clock=frozen_clock, colors="truecolor", theme=str(bad), lookback="12h")
    assert app.spec.name == "dark"
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: any("broken.toml" in str(n.message) for n in app._notifications))


def test_bad_arguments_are_refused_with_a_clear_message(engine):
    """The app's keyword settings go through the config's own checks: the same limits, the same wording."""
    with pytest.raises(ConfigError, match="ui.lookback: .*allowed values: 12h, 1d"):
        LiqtuiApp(engine, lookback="2w")
    with pytest.raises(ConfigError, match="ui.colors: .*allowed values: auto, truecolor, 256, 16"):
        LiqtuiApp(engine, colors="88")
    for kw, msg in [
        ({"fps": 0.0}, "ui.fps must be between 0.5 and 60"),
        ({"threshold_pct": 120.0}, "ui.threshold_pct must be between 0 and 95"),
        ({"threshold_pct": 96.0}, "ui.threshold_pct must be between 0 and 95"),
        ({"heat_gamma": 0.0}, "ui.heat_gamma must be between 0.1 and 3"),
        ({"top_n": 0}, "ui.top_n must be between 1 and 20"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            LiqtuiApp(engine, **kw)
    with pytest.raises(ValueError, match=r"unknown keymap binding id\(s\) frezee .*; valid: lookback_12h"):
        LiqtuiApp(engine, keymap={"frezee": "p"})
    with pytest.raises(ValueError, match="keymap freeze: the key must be a non-empty string"):
        LiqtuiApp(engine, keymap={"freeze": ""})


def test_heat_frame_keys_change_only_for_changed_rows():
    pal = HeatPalette(load_theme("dark"), "256")
    rng = np.random.default_rng(3)
    values = rng.gamma(1.0, 1e6, (40, 30)) * (rng.random((40, 30)) < 0.4)
    scale = HeatScale(0.0, 1.0)
    a = HeatFrame(values, scale, pal, 90.0, 110.0, None, 100.1)
    changed = values.copy()
    changed[7, 3] = values.max() * 2  # half row 7 → char row 3
    b = HeatFrame(changed, scale, pal, 90.0, 110.0, None, 100.1)
    diff = [i for i, (x, y) in enumerate(zip(a.row_keys(), b.row_keys())) if x != y]
    assert 3 in diff
    c = HeatFrame(values, scale, pal, 90.0, 110.0, None, 95.0)  # only the anchor moved
    diff = [i for i, (x, y) in enumerate(zip(a.row_keys(), c.row_keys())) if x != y]
    assert diff == sorted({a.anchor_row, c.anchor_row})
