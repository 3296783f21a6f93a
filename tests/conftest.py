"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("LIQTUI_REAL_DATA", ROOT.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real exchange recordings; tests using it skip cleanly when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real recordings not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Never read the developer's own config or write into their data directory from a test."""
    base = tmp_path_factory.mktemp("liqtui-home")
    monkeypatch.setenv("LIQTUI_DATA", str(base / "data"))
    cfg = base / "config.toml"
    cfg.write_text("# empty test config\n")
    monkeypatch.setenv("LIQTUI_CONFIG", str(cfg))
    yield
