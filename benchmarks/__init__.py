"""liqtui benchmarks: ``python -m benchmarks [--quick] [NAME ...]``.

Every ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) -> list[dict]``; each dict is one result
``{"name": str, "value": float, "unit": str}`` plus ``"ratio"`` (value / a baseline measured in the same run)
and optionally ``"goal"`` and ``"baseline"`` where those exist. The harness prints one JSON object per line.
"""
