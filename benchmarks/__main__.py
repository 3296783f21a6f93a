"""Run every benchmark module and print one JSON object per result line.

Usage: ``python -m benchmarks [--quick] [--only SUBSTRING ...]``. ``--quick`` finishes within a minute.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback

import benchmarks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller inputs; the whole run takes under a minute")
    ap.add_argument("--only", nargs="*", default=[], help="run only modules whose name contains one of these")
    args = ap.parse_args(argv)
    failed = 0
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    for name in names:
        if args.only and not any(s in name for s in args.only):
            continue
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
            for row in mod.run(quick=args.quick):
                print(json.dumps(row), flush=True)
        except Exception as exc:  # noqa: BLE001 - a broken benchmark is reported, the others still run
            failed += 1
            traceback.print_exc(file=sys.stderr)
            print(json.dumps({"name": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        print(f"# {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
