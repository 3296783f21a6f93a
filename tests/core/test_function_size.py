"""Core stays readable: no function in liqtui/core is longer than ~60 lines (docstring included)."""

from __future__ import annotations

import ast
from pathlib import Path

import liqtui.core

MAX_LINES = 60
CORE = Path(liqtui.core.__file__).parent


def test_no_core_function_over_sixty_lines():
    long: list[str] = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_LINES:
                    long.append(f"{path.relative_to(CORE)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 60 lines: " + ", ".join(long)
