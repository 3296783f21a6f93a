"""The README's configuration examples are real: every ```toml block in it loads through the config's checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from liqtui.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 2  # the whole file, and the [[alerts]] rule


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_each_readme_config_example_loads(i: int, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BLOCKS[i], encoding="utf-8")
    cfg = load_config(str(path), {})
    assert cfg.symbol == "BTC"
