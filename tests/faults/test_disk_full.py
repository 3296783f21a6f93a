"""``record`` on a full disk: a clean RecordError with the reason, and the file kept readable (docs/FAULTS.md).

The error path runs on the real ``/dev/full``; "keeps what was written" on a real 192 KiB tmpfs mounted in a
private mount namespace (root only; skipped elsewhere) and, everywhere, on a file whose writes stop with
ENOSPC after a set number of bytes (partial writes included, as the kernel does them).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from liqtui.history import record as record_mod
from liqtui.history.record import Recorder, RecordError

from .helpers import drop_root_file_powers

ROOT = Path(__file__).resolve().parents[2]
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")


def frame(i: int) -> str:
    return json.dumps({"e": "aggTrade", "a": i, "p": f"{60_000 + i % 997:.1f}", "pad": "x" * (i % 50)})


def lines_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


@needs_dev_full
def test_dev_full_gives_a_record_error_with_the_reason() -> None:
    rec = Recorder(FULL, flush_s=3600)
    for i in range(50):
        rec("binance", frame(i), i)  # buffered: a frame never raises for the disk
    with pytest.raises(RecordError) as info:
        rec.flush()
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert str(err) == (
        "cannot write the recording '/dev/full': No space left on device; kept 0 frames "
        "(the file ends on a complete line)"
    )
    rec("binance", frame(50), 50)  # after the failure: dropped and counted, still no exception
    assert rec.dropped == 1 and rec.error is err
    rec.flush()  # raised once only
    rec.close()


@needs_dev_full
def test_a_gzip_recording_on_dev_full_fails_at_once(tmp_path) -> None:
    link = tmp_path / "full.jsonl.gz"
    link.symlink_to(FULL)
    with pytest.raises(
        RecordError, match=r"No space left on device; kept 0 frames \(nothing could be written\)"
    ):
        Recorder(link)


class _FillingFile:
    """A real file that takes ``room`` more bytes, then answers ENOSPC (a last write may be partial)."""

    def __init__(self, fh, room: int) -> None:
        self._fh, self.room = fh, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = self._fh.write(bytes(data[: self.room]))
        self.room -= n
        return n

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._fh.close()


def _fill(path: Path, room: int, n: int = 5000) -> tuple[Recorder, RecordError]:
    rec = Recorder(path, flush_s=3600)
    rec._fh = _FillingFile(rec._fh, room - path.stat().st_size)  # type: ignore[assignment]  # the test's disk
    for i in range(n):
        rec("binance", frame(i), 1_700_000_000_000 + i)
        if i % 40 == 39:
            try:
                rec.flush()
            except RecordError as exc:
                return rec, exc
    raise AssertionError("the disk never filled up")


@pytest.mark.parametrize("room", [10_000, 25_431, 60_001])
def test_a_plain_recording_keeps_every_complete_line(tmp_path, room) -> None:
    path = tmp_path / "rec.jsonl"
    rec, err = _fill(path, room)
    data = path.read_bytes()
    assert len(data) <= room and data.endswith(b"\n")
    got = lines_of(data)
    assert len(got) == rec.kept_frames > 0 and f"kept {rec.kept_frames} frames" in str(err)
    assert [json.loads(g["frame"])["a"] for g in got] == list(range(len(got)))
    assert len(data) > room - 2_000  # the complete lines of the partial write were kept too


@pytest.mark.parametrize("room", [3_000, 17_777])
def test_a_gzip_recording_is_cut_to_its_last_flush_and_closed_properly(tmp_path, room) -> None:
    path = tmp_path / "rec.jsonl.gz"
    rec, err = _fill(path, room)
    assert "(a complete gzip file)" in str(err)
    got = lines_of(gzip.decompress(path.read_bytes()))  # a whole gzip file: CRC and length check out
    assert len(got) == rec.kept_frames > 0 and rec.kept_frames % 40 == 0  # whole flushes only


def test_without_room_for_the_gzip_end_the_file_is_still_read_to_its_last_flush(
    tmp_path, monkeypatch
) -> None:
    def no_room(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(record_mod.os, "pwrite", no_room)
    path = tmp_path / "rec.jsonl.gz"
    rec, err = _fill(path, 9_000)
    assert "gzip readable up to its last flush, without its end" in str(err)
    d = zlib.decompressobj(31)
    got = lines_of(d.decompress(path.read_bytes()))
    assert not d.eof and len(got) == rec.kept_frames > 0


_ON_TMPFS = textwrap.dedent(
    """
    import json, shutil, sys
    from liqtui.history.record import Recorder, RecordError
    mnt, out = sys.argv[1], sys.argv[2]
    result = {}
    for name in ("rec.jsonl", "rec.jsonl.gz"):
        rec = Recorder(f"{mnt}/{name}", flush_s=3600)
        try:
            for i in range(10**6):
                rec("binance", json.dumps({"a": i, "pad": "y" * (i % 300), "n": i * 7919 % 10007}), i)
                if i % 25 == 24:
                    rec.flush()
            raise SystemExit("the tmpfs never filled up")
        except RecordError as exc:
            result[name] = {"error": str(exc), "kept": rec.kept_frames}
        rec.close()
        shutil.copy(f"{mnt}/{name}", f"{out}/{name}")
        # free the space for the next file
        import os; os.remove(f"{mnt}/{name}")
    print(json.dumps(result))
    """
)


def test_on_a_real_full_filesystem_the_recording_stays_readable(tmp_path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root, unshare and mount")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size=192k tmpfs {mnt} || exit 77; "
        f"exec {sys.executable} -c '{_ON_TMPFS}' {mnt} {tmp_path}"
    )
    r = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    plain = (tmp_path / "rec.jsonl").read_bytes()
    assert "No space left on device" in out["rec.jsonl"]["error"] and plain.endswith(b"\n")
    assert len(lines_of(plain)) == out["rec.jsonl"]["kept"] > 100 and len(plain) > 150_000
    gz = lines_of(gzip.decompress((tmp_path / "rec.jsonl.gz").read_bytes()))
    assert "No space left on device" in out["rec.jsonl.gz"]["error"]
    assert (
        len(gz) == out["rec.jsonl.gz"]["kept"] > 100
        and "a complete gzip file" in out["rec.jsonl.gz"]["error"]
    )


@needs_dev_full
def test_liqtui_record_on_dev_full_stops_at_once_and_exits_2() -> None:
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "liqtui", "record", "/dev/full", "--demo", "--duration", "10"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "liqtui record: error: cannot write the recording '/dev/full': No space left on device" in r.stderr
    assert time.monotonic() - t0 < 10  # stopped when the disk was full, not at --duration


def test_liqtui_record_into_an_unreadable_folder_exits_2_naming_the_file(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o000)
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "liqtui",
                "record",
                str(locked / "rec.jsonl"),
                "--demo",
                "--duration",
                "5",
            ],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=drop_root_file_powers if os.geteuid() == 0 else None,
        )
    finally:
        locked.chmod(0o700)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"liqtui record: error: FILE: [Errno 13] Permission denied: '{locked / 'rec.jsonl'}'"
    )
