"""Recording formats, the recorder and replay: synthetic files and the real third-party recordings."""

from __future__ import annotations

import asyncio
import collections
import gzip
import json
import shutil
import time

import pytest

from liqtui.core.events import Trade
from liqtui.feeds import make_decoder
from liqtui.history.formats import (
    RecordingError,
    detect_format,
    infer_symbols,
    read_frames,
    venue_of_frame,
)
from liqtui.history.record import Recorder
from liqtui.history.replay import ReplayStats, replay

AGG = (
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":%d,"s":"BTCUSDT","a":%d,"p":"%s","q":"0.5",'
    '"f":1,"l":1,"T":%d,"m":false}}'
)


def agg(i: int, price: float = 60_000.0) -> str:
    ts = 1_700_000_000_000 + i * 100
    return AGG % (ts, i, f"{price + i:.1f}", ts)


def write_ours(path, frames, venue="binance"):
    with Recorder(path) as rec:
        for i, f in enumerate(frames):
            rec(venue, f, 1_700_000_000_000 + i)
    return path


def decode_all(frames, venue="binance", symbol="BTC"):
    dec = make_decoder(venue, symbol)
    out = []
    for i, f in enumerate(frames):
        out.extend(dec.decode(f, 1_700_000_000_000 + i))
    return out


# ------------------------------------------------------------------------------------------------ recorder


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
async def test_record_then_replay_gives_the_same_events(tmp_path, name):
    frames = [agg(i) for i in range(300)]
    path = write_ours(tmp_path / name, frames)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    first = json.loads((gzip.decompress(raw) if name.endswith(".gz") else raw).splitlines()[0])
    assert first == {"ts": 1_700_000_000_000, "exchange": "binance", "frame": frames[0]}
    got: list = []
    st = await replay(path, got.append)
    assert st.format == "liqtui" and st.symbols == {"binance": "BTCUSDT"}
    assert (st.frames, st.events, st.decode_errors, st.done) == (300, 300, 0, True)
    assert got == decode_all(frames)


def test_recorder_accepts_bytes_and_rejects_bad_targets(tmp_path):
    with Recorder(tmp_path / "b.jsonl") as rec:
        rec("bybit", b'{"topic":"x"}', 5)
        assert rec.frames == 1 and rec.bytes > 0
        with pytest.raises(ValueError, match="unknown venue 'ftx'"):
            rec("ftx", "{}", 1)
    assert list(read_frames(tmp_path / "b.jsonl")) == [(5, "bybit", '{"topic":"x"}')]
    with pytest.raises(ValueError, match="is a directory"):
        Recorder(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        Recorder(tmp_path / "nope" / "x.jsonl")


def test_a_killed_gzip_recorder_is_readable_up_to_its_last_flush(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    rec = Recorder(path, flush_s=3600)
    for i in range(100):
        rec("binance", agg(i), i)
    rec.flush()  # what the once-a-second flush does
    for i in range(100, 150):
        rec("binance", agg(i), i)
    cut = tmp_path / "copy.jsonl.gz"
    shutil.copyfile(path, cut)  # the file as a kill -9 would leave it: no gzip trailer
    rec.close()
    frames = list(read_frames(cut))
    assert len(frames) == 100 and frames[-1].frame == agg(99)


def test_recorder_flushes_by_itself_within_flush_s(tmp_path):
    path = tmp_path / "live.jsonl"
    rec = Recorder(path, flush_s=0.01)
    rec("binance", agg(0), 0)
    deadline = time.monotonic() + 10
    i = 1
    while path.stat().st_size == 0 and time.monotonic() < deadline:
        rec("binance", agg(i), i)
        i += 1
        time.sleep(0.001)
    assert path.stat().st_size > 0
    rec.close()


# ------------------------------------------------------------------------------------------------ formats


def test_every_format_is_detected_from_content(tmp_path):
    f = agg(1)
    cases = {
        "hftbacktest": f"1700000000000000000 {f}\n",
        "cryptofeed1": f"wss://fstream.binance.com/stream?streams=btcusdt@aggTrade <-> 1700000000.5\n"
        f"1700000000.75: {f}\n",
        "cryptofeed3": json.dumps(
            {"t": "connect", "conn": "c1", "ts": 1.0, "addr": "wss://stream.bybit.com/v5"}
        )
        + "\n"
        + json.dumps({"t": "recv", "conn": "c1", "ts": 1700000000.25, "data": "{}"})
        + "\n",
        "tardis": json.dumps({"exchange": "binance-futures", "channel": "x", "msg": {"a": 1}}) + "\n",
        "liqtui": json.dumps({"ts": 1, "exchange": "okx", "frame": "{}"}) + "\n",
    }
    for fmt, text in cases.items():
        p = tmp_path / f"{fmt}.dat"
        p.write_text(text)
        assert detect_format(p) == fmt
        gz = tmp_path / f"{fmt}.dat.bin"  # gzip detected by magic bytes, whatever the name
        gz.write_bytes(gzip.compress(text.encode()))
        assert detect_format(gz) == fmt
    hft = list(read_frames(tmp_path / "hftbacktest.dat"))
    assert hft == [(1_700_000_000_000, "binance", f)]
    cf1 = list(read_frames(tmp_path / "cryptofeed1.dat"))
    assert cf1 == [(1_700_000_000_750, "binance", f)]
    cf3 = list(read_frames(tmp_path / "cryptofeed3.dat"))
    assert cf3 == [(1_700_000_000_250, "bybit", "{}")]


def test_bad_recordings_give_clear_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(RecordingError, match="is empty"):
        detect_format(tmp_path / "empty.txt")
    (tmp_path / "prose.txt").write_text("hello world\nthis is not a recording\n")
    with pytest.raises(
        RecordingError, match="unknown recording format .* expected one of liqtui, hftbacktest"
    ):
        detect_format(tmp_path / "prose.txt")
    with pytest.raises(RecordingError, match="cannot read recording"):
        detect_format(tmp_path / "missing.txt")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 64)
    with pytest.raises(RecordingError):
        list(read_frames(tmp_path / "bad.gz", fmt="liqtui"))
    with pytest.raises(RecordingError, match="unknown venue 'ftx'"):
        list(read_frames(tmp_path / "prose.txt", fmt="hftbacktest", venue="ftx"))


def test_venue_of_frame_shapes():
    assert venue_of_frame(agg(0)) == "binance"
    assert venue_of_frame('{"topic":"publicTrade.BTCUSDT","data":[]}') == "bybit"
    assert venue_of_frame('{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[]}') == "okx"
    assert venue_of_frame('{"channel":"trades","data":[]}') == "hyperliquid"
    assert venue_of_frame("pong") is None


async def test_replay_speed_paces_by_receive_time(tmp_path):
    path = tmp_path / "paced.jsonl"
    with Recorder(path) as rec:
        for i in range(5):
            rec("binance", agg(i), 1_700_000_000_000 + i * 100)  # 0.4 s of recording
    t0 = time.monotonic()
    st = await replay(path, lambda ev: None, speed=2.0)
    assert time.monotonic() - t0 >= 0.2 - 0.01 and st.frames == 5  # 0.4 s at 2x: at least 0.2 s
    with pytest.raises(ValueError, match="speed must be >= 0"):
        await replay(path, lambda ev: None, speed=-1)


async def test_replay_yields_to_the_event_loop(tmp_path):
    path = write_ours(tmp_path / "many.jsonl", [agg(i) for i in range(3000)])
    ticks = 0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    hb = asyncio.create_task(heartbeat())
    stats = ReplayStats()
    await replay(path, lambda ev: None, stats=stats)
    done.set()
    await hb
    assert stats.frames == 3000 and ticks >= 3000 // 256  # the loop ran between chunks


async def test_replay_with_given_decoders_symbol_and_limit(tmp_path):
    path = write_ours(tmp_path / "x.jsonl", [agg(i) for i in range(50)])
    st = await replay(path, lambda ev: None, decoders={"bybit": make_decoder("bybit", "BTC")})
    assert st.skipped == 50 and st.events == 0  # no decoder for binance frames
    got: list = []
    st = await replay(path, got.append, symbol="ETH", limit=10)
    assert st.frames == 10 and st.events == 0 and st.symbols == {"binance": "ETH"}  # other symbol: ignored
    raw: list = []
    await replay(path, lambda ev: None, on_raw=lambda v, f, t: raw.append(v), limit=3)
    assert raw == ["binance"] * 3
    with pytest.raises(RecordingError, match="does not exist"):
        await replay(tmp_path / "none.jsonl", got.append)


# ------------------------------------------------------------------------------------------------ real data

REAL = {
    # file: (format, venue, instrument followed, frames)
    "binance_usdm_btcusdt_trade_20240808_hftbacktest.txt.gz": ("hftbacktest", "binance", "BTCUSDT", 21_313),
    "hyperliquid_btc_l2book_trades_20250126_hftbacktest.txt.gz": ("hftbacktest", "hyperliquid", "BTC", 55),
    "binance_usdm_4alts_aggtrade_kline_depth_20210722_cryptofeed.ws.txt": (
        "cryptofeed1",
        "binance",
        "SUSHIUSDT",
        91 + 67 + 764 + 613,
    ),
    "okx_v5_trades_books_tickers_20220513_cryptofeed.ws.txt": (
        "cryptofeed1",
        "okx",
        "BTC-USDT",
        74 + 28 + 290 + 18,
    ),
    "bybit_v5_linear_tickers_trades_kline_20260809_cryptofeed_v3.jsonl": (
        "cryptofeed3",
        "bybit",
        "SOLUSDT",
        948,
    ),
}


@pytest.mark.real
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_recordings_detected_with_venue_and_symbol(real_data, name):
    fmt, venue, inst, n = REAL[name]
    path = real_data / name
    assert detect_format(path) == fmt
    frames = list(read_frames(path))
    assert len(frames) == n and {f.venue for f in frames} == {venue}
    assert infer_symbols(iter(frames)) == {venue: inst}
    ts = [f.recv_ms for f in frames]
    assert ts == sorted(ts) or fmt != "hftbacktest"
    assert 1_500_000_000_000 < ts[0] < 1_900_000_000_000  # all converted to ms


@pytest.mark.real
async def test_real_binance_trades_replay_through_the_live_decoder(real_data):
    got: list = []
    st = await replay(real_data / "binance_usdm_btcusdt_trade_20240808_hftbacktest.txt.gz", got.append)
    assert st.frames == st.events == 21_313 and st.decode_errors == 0
    assert all(isinstance(e, Trade) and e.symbol == "BTCUSDT" for e in got)
    assert got[0].price == 61800.3 and got[0].ts == 1723161256322 and got[0].recv_ts == 1723161255088


@pytest.mark.real
async def test_real_bybit_v3_replay_yields_open_interest_and_candles(real_data):
    got: list = []
    st = await replay(
        real_data / "bybit_v5_linear_tickers_trades_kline_20260809_cryptofeed_v3.jsonl",
        got.append,
        symbol="BTC",
    )
    kinds = collections.Counter(type(e).__name__ for e in got)
    assert st.symbols == {"bybit": "BTC"} and st.decode_errors == 0
    assert kinds["OpenInterest"] >= 1 and kinds["Trade"] >= 10 and kinds["MarkPrice"] >= 10
    assert all(e.symbol == "BTCUSDT" for e in got)


# ------------------------------------------------------------------------------------- nothing dropped silently


def _damaged_recording(path, n: int = 400, bad_every: int = 50, cut_bytes: int = 300):
    """Our gzip format with a malformed line every ``bad_every`` frames and the last ``cut_bytes`` of the
    compressed stream missing (a killed recorder); returns (frames written, malformed lines written)."""
    lines, good, bad = [], [], 0
    for i in range(n):
        if i and i % bad_every == 0:
            lines.append('{"ts": 1700000000000, "exchange": "binance", "frame": "cut her')  # a torn line
            lines.append("not json at all")
            bad += 2
        frame = agg(i)
        good.append(frame)
        lines.append(json.dumps({"ts": 1_700_000_000_000 + i, "exchange": "binance", "frame": frame}))
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path.write_bytes(data[:-cut_bytes])
    return good, bad


async def test_replay_counts_malformed_lines_and_a_truncated_gzip_tail(tmp_path):
    path = tmp_path / "damaged.jsonl.gz"
    good, bad = _damaged_recording(path)
    got: list = []
    st = await replay(path, got.append)
    # every malformed line up to the cut is counted; the torn last line (cut mid-way) counts too
    assert bad - 2 <= st.bad_lines <= bad + 1, st
    assert st.truncated is True and st.done
    assert 0 < st.frames < len(good)  # frames after the cut are lost, and the replay says so
    assert st.decode_errors == 0 and st.events == st.frames
    assert any(f"{st.bad_lines} unreadable lines skipped" in n for n in st.notes), st.notes
    assert any("truncated gzip" in n and f"{st.frames} frames" in n for n in st.notes), st.notes
    assert "bad_lines" in st.as_dict() and "notes" in st.as_dict()


async def test_a_clean_recording_reports_nothing_skipped(tmp_path):
    path = write_ours(tmp_path / "clean.jsonl.gz", [agg(i) for i in range(50)])
    st = await replay(path, lambda ev: None)
    assert (st.bad_lines, st.truncated, st.notes) == (0, False, [])


@pytest.mark.parametrize(
    ("fmt", "lines"),
    [
        ("hftbacktest", ["1700000000000000000 " + agg(1), "garbage line", "1700000000100000000 " + agg(2)]),
        (
            "cryptofeed1",
            ["wss://fstream.binance.com/stream <-> 1700000000.0", "1700000000.1: " + agg(1), "???"],
        ),
        ("tardis", ['{"exchange":"binance-futures","msg":' + agg(1) + "}", "{broken", '{"no_msg": 1}']),
        (
            "cryptofeed3",
            [
                '{"t":"header","exchange":"BINANCE_FUTURES"}',
                '{"t":"recv","conn":"1","ts":1.0,"data":"{}"}',
                "[1,",
            ],
        ),
    ],
)
def test_every_format_counts_its_unreadable_lines(tmp_path, fmt, lines):
    from liqtui.history.formats import ReadCounts

    path = tmp_path / f"rec.{fmt}"
    path.write_text("\n".join(lines) + "\n")
    counts = ReadCounts()
    frames = list(read_frames(path, fmt=fmt, counts=counts))
    assert frames and counts.bad_lines >= 1 and not counts.truncated
