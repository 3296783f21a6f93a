"""The core (and the other pure packages) must never import textual or rich."""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def test_core_never_imports_textual_or_rich():
    mods = [
        "liqtui.core",
        "liqtui.core.events",
        "liqtui.core.grid",
        "liqtui.core.leverage",
        "liqtui.core.model",
        "liqtui.core.model_config",
        "liqtui.core.bars",
        "liqtui.core.layout",
        "liqtui.core.cohorts",
        "liqtui.core.stepping",
        "liqtui.core.ledger",
        "liqtui.core.history_ring",
        "liqtui.core.state",
        "liqtui.core.checkpoint",
        "liqtui.core.zones",
        "liqtui.core.zones.finder",
        "liqtui.core.zones.forecast",
        "liqtui.core.colorscale",
        "liqtui.core.engine",
    ]
    for extra in ("liqtui.feeds", "liqtui.history", "liqtui.sim"):
        if importlib.util.find_spec(extra) is not None:
            mods.append(extra)
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in mods)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"pure packages pulled in: {out.stdout.strip()}"
