"""End to end (issue 13): tmux's own status bar shows ``liqtui status --format tmux`` of the running demo.

tmux runs ``#()`` status jobs only for an attached client, and a detached session draws no status bar, so the
demo runs in an inner tmux server and an outer tmux server's pane is a client attached to it (nested tmux on two
private sockets): capture-pane of the outer pane is what the user sees, the inner status bar on its last line.
The same run opens the alert log (``a``) and the spent-zone log (``l``), quits, and checks that ``liqtui status``
then says ``not running`` (exit 3), in the bar and on the command line.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from .tmuxkit import TMUX, Pane, clean_env, demo_shell, liqtui_cmd

pytestmark = pytest.mark.e2e

FIRST_STATUS_TIMEOUT = 60.0  # the demo's first frame and state file, then the next status-interval (1 s)
WIDTH, HEIGHT = 120, 36
#: the status line: ``BTC 84,206 ↑84.3k +0.1% $9.16M ↓84.2k -0.0% $48.9M ▲0.40 !`` (tmux drops the colour tags)
STATUS = re.compile(r"BTC (?P<price>\d{1,3}(?:,\d{3})+) ↑\S+ [+-]\d[\d.]*% \$[\d.]+[KMB] ↓\S+ [+-]\d[\d.]*%")


def status_bar(screen: str) -> str:
    """The last row of the outer pane: the inner client's status bar."""
    rows = screen.split("\n")
    while rows and rows[-1] == "":  # capture-pane ends with a newline
        rows.pop()
    return rows[-1] if rows else ""


def liqtui_status(env: dict[str, str], fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*liqtui_cmd(), "status", "--format", fmt],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def nested(tmp_path):
    """(inner, outer, env): the demo in ``inner`` with the status bar set up, ``outer`` a client of it."""
    if TMUX is None:
        pytest.skip("tmux is not installed")
    env = clean_env(tmp_path)
    inner, outer = Pane("w", "liqtui-e2e-in"), Pane("o", "liqtui-e2e-out")
    try:
        inner.start(
            demo_shell(env, tmp_path / "liqtui.log"), WIDTH, HEIGHT, f"LIQTUI_DATA={env['LIQTUI_DATA']}"
        )
        status_cmd = " ".join(
            ["env", shlex.quote(f"LIQTUI_DATA={env['LIQTUI_DATA']}"), *map(shlex.quote, liqtui_cmd())]
        )
        inner.tmux("set-option", "-g", "status-interval", "1")
        inner.tmux("set-option", "-g", "status-right-length", "80")  # tmux's default 40 would cut the line
        inner.tmux("set-option", "-g", "status-right", f"#({status_cmd} status --format tmux)")
        attach = f"env -u TMUX {shlex.quote(TMUX)} -f /dev/null -L {inner.socket} attach -t {inner.session}"
        outer.start(attach, WIDTH, HEIGHT)
        outer.tmux("set-option", "-g", "status", "off")  # the outer pane's last row is then the inner bar
        yield inner, outer, env
    finally:
        outer.kill()
        inner.kill()


def test_status_bar_shows_the_running_demo_and_not_running_after_quit(nested):
    inner, outer, env = nested
    screen = outer.wait_for(
        lambda t: bool(STATUS.search(status_bar(t))),
        "liqtui status in the tmux status bar",
        FIRST_STATUS_TIMEOUT,
    )
    bar = status_bar(screen)
    line = bar[STATUS.search(bar).start() :].rstrip()
    assert len(line) <= 60, line  # at most 60 columns, right-aligned at the end of the bar
    assert bar.rstrip().endswith(line)
    assert "Above price" in screen  # the app itself is on screen above the bar (the client is attached)

    # the bar shows the state file of this very app: the same symbol and (the demo moves slowly) price
    doc = json.loads(liqtui_status(env, "json").stdout)
    assert doc["running"] is True and doc["symbol"] == "BTC" and doc["stale"] is False
    bar_price = float(STATUS.search(bar)["price"].replace(",", ""))
    assert abs(bar_price / doc["price"] - 1) < 0.01, (bar_price, doc["price"])

    # the alert log and the spent-zone log open as boxes over the app, and close with Escape
    inner.press("a")
    screen = inner.wait_for(lambda t: "Esc closes. Rules: [[alerts]]" in t, "the alert log screen")
    assert re.search(r"│\s*Alerts\s", screen), screen  # its title, inside the box's border
    inner.press("Escape")
    inner.wait_for(lambda t: "Esc closes" not in t and "Above price" in t, "the alert log to close")
    inner.press("l")
    screen = inner.wait_for(lambda t: "Spent zones — BTC" in t, "the spent-zone screen")
    assert re.search(r"│\s*Spent zones — BTC\s", screen), screen
    assert re.search(r"│\s*\d+ sweeps? · 5m: ", screen), screen  # the reversed/continued summary
    inner.press("Escape")
    inner.wait_for(lambda t: "Spent zones" not in t and "Above price" in t, "the spent-zone screen to close")

    inner.press("q")
    screen = inner.wait_for(lambda t: "LIQTUI_EXIT=" in t, "the app to exit", 30.0)
    assert "LIQTUI_EXIT=0" in screen and "Traceback" not in screen
    # a clean exit removes the state file: the bar and the command both say so
    outer.wait_for(
        lambda t: status_bar(t).rstrip().endswith("liqtui: not running"), "'not running' in the bar"
    )
    done = liqtui_status(env, "plain")
    assert (done.returncode, done.stdout.strip()) == (3, "liqtui: not running")
