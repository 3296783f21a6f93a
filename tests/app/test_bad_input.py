"""No entry point of the CLI ends in a traceback for bad input: every subcommand exits 2 with a message naming
the flag, key or file and what is allowed.

The cases run in four subprocesses in parallel, each calling the entry point (``liqtui.__main__.main``) once
per case, as ``python -m liqtui`` does, with stdout/stderr captured and any escaping exception reported as
the traceback a user would see (one interpreter start per chunk, not per case: the suite stays fast on a
loaded machine); a few cases per subcommand also run as ``python -m liqtui`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COMMANDS = ("run", "replay", "record", "zones", "radar", "watch", "status")
DATA_COMMANDS = COMMANDS[
    :-1
]  # those sharing --config, --symbol, --exchange ... (status reads a state file only)


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "adir").mkdir()
    files = {
        "binary": b"\xff\xfe\x00\x01\x02binary\x00",
        "latin1": b'symbol = "BTC"\n# caf\xe9\n',
        "keymap_int": b"[keymap]\nfreeze = 3\n",
        "threshold96": b"[ui]\nthreshold_pct = 96\n",
        "bad_endpoint": b'[endpoints]\nbinance = "http://example.com"\n',
        "junk": b'{"not": "a recording"}\n',
        "random": bytes(range(256)) * 8,
        "alerts_bad": b"[alerts]\nbogus = 1\n",
    }
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    out = {name: str(tmp / name) for name in files}
    out.update(dir=str(tmp / "adir"), missing=str(tmp / "missing.toml"), out=str(tmp / "out.jsonl"))
    out["nodir"] = str(tmp / "no" / "such" / "dir" / "out.jsonl")
    status = tmp / "data" / "status"  # the data dir of _env: a state file that is not one (status exits 1)
    status.mkdir(parents=True)
    (status / "ETH.json").write_bytes(b"\x00 not json")
    return out


STATUS_FAILED, STATUS_NOT_RUNNING = 1, 3  # liqtui.alerts.cli: the other exit codes of `liqtui status`


def _cases(f: dict[str, str]) -> list[tuple]:
    """(argv, a fragment the message must contain[, the exit code when it is not 2])."""
    # the config and the flags every subcommand shares: each case once, on a subcommand in turn, and the
    # directory, the binary file and an unknown flag on every subcommand
    common = [
        (["--config", f["latin1"]], "byte position 20"),
        (["--config", f["missing"]], "does not exist"),
        (["--config", f["keymap_int"]], "keymap.freeze"),
        (["--config", f["threshold96"]], "ui.threshold_pct must be between 0 and 95"),
        (["--config", f["bad_endpoint"]], "ws://HOST or wss://HOST"),
        (["--lookback", "2w"], "--lookback"),
        (["--exchange", "kraken"], "--exchange"),
        (["--symbol", "BTC/USDT"], "--symbol"),
        (["--endpoint", "binance.rest=http://"], "--endpoint"),
        (["--endpoint", "okx=ws://h:99999"], "bad port"),
        (["--endpoint", "okx=ftp://x"], "--endpoint"),
    ]
    everywhere = [
        (["--config", f["dir"]], "is a directory"),
        (["--config", f["binary"]], "byte position 0"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ]
    heads = {
        "run": [],
        "replay": ["replay", f["junk"]],
        "record": ["record", f["out"]],
        "zones": ["zones"],
        "radar": ["radar", "--json"],
        "watch": ["watch"],
    }
    cases: list[tuple] = []
    for i, (argv, msg) in enumerate(common):
        cases.append((heads[DATA_COMMANDS[i % len(DATA_COMMANDS)]] + argv, msg))
    for head in heads.values():
        cases += [(head + argv, msg) for argv, msg in everywhere]
    cases += [(["--fps", "1000"], "--fps"), (["replay", f["junk"], "--fps", "nan"], "--fps")]
    cases += [(["--colors", "512"], "--colors")]
    for head in ([], ["record", f["out"]], ["zones"], ["radar", "--json"], ["watch"]):
        cases += [
            (head + ["--demo", "--speed", bad], "between 0.1 and 10000")
            for bad in ("inf", "nan", "20000", "0.05")
        ]
        cases += [(head + ["--demo", "--seed", "-1"], "--seed")]
        if head[:1] != ["radar"]:  # the radar follows every symbol: --symbol does not apply to it
            cases += [(head + ["--demo", "--symbol", "XYZ"], "simulates BTC, ETH, SOL only")]
    cases += [(["radar", "--demo", "--symbol", "XYZ"], "simulates BTC, ETH, SOL only")]  # its screen's ticker
    cases += [
        (["--demo", "--log-file", f["dir"]], "--log-file"),
        (["replay"], "the following arguments are required: FILE"),
        (["replay", f["missing"]], "does not exist"),
        (["replay", f["dir"]], "not a file"),
        (["replay", f["random"]], "unknown recording format"),
        (["replay", f["junk"]], "unknown recording format"),
        (["replay", f["junk"], "--speed", "-1"], "--speed"),
        (["replay", f["junk"], "--speed", "inf"], "--speed"),
        (["record"], "the following arguments are required: FILE"),
        (["record", f["dir"], "--demo"], "is a directory"),
        (["record", f["nodir"], "--demo"], "does not exist"),
        (["record", f["out"], "--duration", "nan"], "--duration"),
        (["record", f["out"], "--duration", "-5"], "--duration"),
        (["zones", "--replay", f["missing"]], "--replay"),
        (["zones", "--replay", f["dir"]], "--replay"),
        (["zones", "--replay", f["random"]], "unknown recording format"),
        (["zones", "--top", "0"], "--top"),
        (["zones", "--top", "nan"], "--top"),
        (["zones", "--seconds", "inf"], "--seconds"),
        (["zones", "--demo", "--replay", f["junk"]], "not allowed with argument"),
        (["radar", "--json", "--seconds", "nan"], "--seconds"),
        (["radar", "--json", "--seconds", "-1"], "--seconds"),
        (["radar", "--json", "--limit", "0"], "--limit"),
        (["radar", "--json", "--limit", "x"], "--limit"),
        (
            ["radar", "--json", "--sort", "bogus"],
            "argument --sort: invalid choice: 'bogus' (choose from 'symbol'",
        ),
        (["radar", "--json", "--replay", f["junk"]], "unrecognized arguments: --replay"),
        (["radar", "--json", "--demo", "--exchange", "okx"], "the demo and the radar screen speak binance"),
        (["radar", "--json", "--exchange", "binance,bybit"], "one venue at a time"),
        (["radar", "--json", "--demo", "--exchange", "bybit"], "the demo and the radar screen speak binance"),
        (["radar", "--exchange", "bybit"], "the demo and the radar screen speak binance"),
        (["radar", "--colors", "512"], "--colors"),
        (["radar", "--fps", "0"], "--fps"),
        (["watch", "--seconds", "nan"], "--seconds"),
        (["watch", "--seconds", "0"], "--seconds"),
        (["watch", "--demo", "--replay", f["junk"]], "not allowed with argument"),
        (["watch", "--replay", f["missing"]], "--replay: no such file"),
        (["watch", "--replay", f["dir"]], "is not a file"),
        (["watch", "--replay", f["random"]], "unknown recording format"),
        (["watch", "--replay", f["junk"]], "unknown recording format"),
        (["watch", "--demo", "--seed", "x"], "--seed"),
        (["watch", "--demo", "--speed", "0"], "between 0.1 and 10000"),
        (["watch", "--replay", f["junk"], "--speed", "-1"], "--speed"),
        (["watch", "--config", f["alerts_bad"]], "alerts"),
        (["watch", "--demo", "--log-file", f["dir"]], "--log-file"),
        (["status", "--bogus"], "unrecognized arguments: --bogus"),
        (["status", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["status", "--stale-after", "nan"], "--stale-after"),
        (["status", "--stale-after", "-1"], "--stale-after"),
        (["status", "--stale-after", "inf"], "--stale-after"),
        (["status", "--symbol", "BTC/USDT"], "--symbol takes a ticker"),
        (["status", "--symbol"], "--symbol: expected one argument"),
        # status's documented codes beyond 2: 3 nothing running, 1 a file that is not a state file
        (["status", "--symbol", "SOL"], "", STATUS_NOT_RUNNING),
        (["status", "--symbol", "ETH"], "ETH.json", STATUS_FAILED),
    ]
    return cases


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liqtui", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


_RUNNER = """
import contextlib, io, json, sys, traceback
from liqtui.__main__ import main
results = []
for argv in json.load(sys.stdin):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    results.append([code, err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def _run_chunk(argvs: list[list[str]], env: dict[str, str]) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [(int(code), err) for code, err in json.loads(proc.stdout)]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LIQTUI_CONFIG"}
    env.update(LIQTUI_DATA=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "xdg"), NO_COLOR="1")
    return env


def test_every_subcommand_refuses_bad_input_with_exit_2_and_no_traceback(tmp_path):
    files = _files(tmp_path)
    cases = _cases(files)
    assert {c[0][0] if c[0] and c[0][0] in COMMANDS else "run" for c in cases} == set(COMMANDS)
    env = _env(tmp_path)
    chunks = [[c[0] for c in cases[i::4]] for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        per_chunk = list(pool.map(lambda c: _run_chunk(c, env), chunks))
    results = [None] * len(cases)
    for i, chunk in enumerate(per_chunk):
        for j, res in enumerate(chunk):
            results[i + 4 * j] = res
    failures = []
    for (argv, fragment, *expected), (code, err) in zip(cases, results):
        if code != (expected[0] if expected else 2) or "Traceback" in err or fragment not in err:
            failures.append(f"liqtui {' '.join(argv)} → exit {code}\n{err[-600:]}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n\n" + "\n\n".join(failures)
    assert not Path(files["out"]).exists(), "a refused record must not leave a file behind"


def test_the_real_entry_point_refuses_bad_input(tmp_path):
    """``python -m liqtui`` itself, one case of each subcommand (most get past the flags)."""
    files = _files(tmp_path)
    cases = [
        (["--demo", "--symbol", "XYZ"], "simulates BTC, ETH, SOL only"),
        (["replay", files["random"]], "unknown recording format"),
        (["record", files["dir"], "--demo"], "is a directory"),
        (["zones", "--config", files["binary"]], "byte position 0"),
        (["radar", "--json", "--demo", "--exchange", "okx"], "the demo and the radar screen speak binance"),
        (["watch", "--replay", files["random"]], "unknown recording format"),
        (["status", "--format", "xml"], "invalid choice: 'xml'"),
    ]
    env = _env(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = list(pool.map(lambda c: _run(c[0], env), cases))
    for (argv, fragment), proc in zip(cases, procs):
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert fragment in proc.stderr, (argv, proc.stderr)


def test_help_of_every_subcommand_exits_0(tmp_path):
    results = _run_chunk([[cmd, "--help"] for cmd in COMMANDS], _env(tmp_path))
    assert [code for code, _ in results] == [0] * len(COMMANDS)
