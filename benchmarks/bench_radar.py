"""Radar benchmark: 1,000 perpetuals at realistic all-market rates through decode → light model → radar table.

A server process sends Binance combined-stream frames over a loopback websocket, paced in real time: each
second one ``!markPrice@arr@1s`` frame with every symbol's mark, two forming ``kline_1m`` updates per symbol
(Binance pushes up to four a second on traded symbols), ten ``!forceOrder@arr`` frames, and at each minute
boundary every symbol's closed bar (which steps the 1,000 light models). A client process (measured alone,
so the figures are its own) holds a :class:`~liqtui.core.radar.Radar` of 1,000 symbols whose light models
were first warmed up with 12 h of 15m bars, decodes with
:class:`~liqtui.venues.binance.allmarket.AllMarketDecoder`, and builds the sorted table once a second as the
radar screen does.

* ``radar_cpu_pct``: CPU time of the whole client process over the paced run / its wall time (goal ≤ 50 %
  of one core); ``ratio`` is the per-symbol cost against the single-symbol engine (the full model fed one
  symbol's stream at a BTC-like rate, CPU per second, measured in the same run).
* ``radar_rss_mb``: peak RSS of the client process (goal ≤ 1,500 MB); ``ratio``: per-symbol MB against a
  full :class:`~liqtui.core.model.HeatModel` after the same warm-up.
* ``radar_frames_per_s``: websocket frames decoded per second during the run; ``radar_table_ms``: one table
  build (rows of 1,000 symbols, sort) in ms; ``radar_warmup_s``: warming 1,000 light models up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
import tracemalloc
from multiprocessing.connection import Connection

import numpy as np
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from liqtui.core.engine import Engine
from liqtui.core.events import Venue
from liqtui.core.model import HeatModel, bars_from_arrays
from liqtui.core.radar import Radar, RadarTable
from liqtui.sim.payloads import Frame, agg_trade, combined, kline, mark_price
from liqtui.venues.binance.allmarket import AllMarketDecoder
from liqtui.venues.binance.feed import BinanceDecoder

N_SYMBOLS = 1000
KLINES_PER_SYMBOL_S = 2
LIQS_PER_S = 10
_MIN = 60_000
# the run starts 5 s before a minute boundary, so the first seconds already close every symbol's bar
T0 = 1_700_000_040_000 - 5_000
_WARM_BARS = 48
_BAR_MS = 900_000


def _names(n: int) -> list[str]:
    return [f"S{i:04d}USDT" for i in range(n)]


def _prices(n: int) -> np.ndarray:
    return np.exp(np.random.default_rng(1).uniform(np.log(0.01), np.log(2000.0), n))


def _second(k: int, names: list[str], price: np.ndarray, rng: np.random.Generator) -> list[bytes]:
    """The frames of second ``k`` (prices move in place)."""
    n = len(names)
    price *= np.exp(rng.normal(0, 3e-4, n))
    e = T0 + k * 1000
    ps = [f"{p:.8g}" for p in price]
    marks = ",".join(
        f'{{"e":"markPriceUpdate","E":{e},"s":"{s}","p":"{p}","i":"{p}","P":"{p}","r":"0.00010000","T":0}}'
        for s, p in zip(names, ps, strict=True)
    )
    out = [f'{{"stream":"!markPrice@arr@1s","data":[{marks}]}}'.encode()]
    minute = e - e % _MIN
    closing = e % _MIN == 0
    for j in range(KLINES_PER_SYMBOL_S):
        for s, p in zip(names, ps, strict=True):
            x = "true" if closing and j == 0 else "false"
            t = minute - _MIN if closing and j == 0 else minute
            out.append(
                (
                    f'{{"stream":"{s.lower()}@kline_1m","data":{{"e":"kline","E":{e},"s":"{s}","k":{{"t":{t},'
                    f'"T":{t + _MIN - 1},"s":"{s}","i":"1m","f":1,"L":9,"o":"{p}","c":"{p}","h":"{p}","l":"{p}",'
                    f'"v":"100","n":9,"x":{x},"q":"{100 * float(p):.4f}","V":"50","Q":"1","B":"0"}}}}}}'
                ).encode()
            )
    for i in rng.integers(0, n, LIQS_PER_S):
        s, p = names[int(i)], ps[int(i)]
        out.append(
            (
                f'{{"stream":"!forceOrder@arr","data":{{"e":"forceOrder","E":{e},"o":{{"s":"{s}","S":"SELL",'
                f'"o":"LIMIT","f":"IOC","q":"10","p":"{p}","ap":"{p}","X":"FILLED","l":"10","z":"10","T":{e}}}}}}}'
            ).encode()
        )
    return out


def _server(n: int, seconds: int, port_out: Connection) -> None:
    """Server process: the paced all-market stream for one client, then close."""
    names = _names(n)

    async def handler(ws: ServerConnection) -> None:
        rng = np.random.default_rng(2)
        price = _prices(n)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k in range(seconds):
            frames = _second(k, names, price, rng)
            await asyncio.sleep(max(0.0, start + k - loop.time()))
            for f in frames:
                await ws.send(f, text=True)
        await ws.close()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            port_out.send(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def _warm_bars(price: float, i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    rel = np.exp(np.cumsum(rng.normal(0, 0.004, _WARM_BARS)))
    c = price * rel / rel[-1]
    o = np.r_[c[0], c[:-1]]
    oi = 5e6 * (1 + i % 7) * np.exp(0.01 * (np.arange(_WARM_BARS) - _WARM_BARS))
    end = T0 + 5_000 - _MIN  # the last warm-up bar closes where the live bars begin
    ts = end - (_WARM_BARS - np.arange(_WARM_BARS)) * _BAR_MS
    return bars_from_arrays(
        ts, o, np.maximum(o, c) * 1.003, np.minimum(o, c) * 0.997, c, volume=np.full(_WARM_BARS, 1e4),
        oi_usd=oi, interval_s=_BAR_MS // 1000,
    )  # fmt: skip


def _client(port: int, n: int, out: Connection) -> None:
    """Client process: warm the radar up, then take the paced stream; report its own CPU, RSS and rates."""
    names = _names(n)
    radar = Radar()
    radar.set_instruments(names)
    prices = _prices(n)
    t = time.perf_counter()
    for i, s in enumerate(names):
        radar.on_history(s, _warm_bars(float(prices[i]), i))
    warm_s = time.perf_counter() - t
    dec = AllMarketDecoder(radar)
    table = RadarTable()
    builds: list[float] = []

    async def screen() -> None:
        while True:
            await asyncio.sleep(1.0)
            t = time.perf_counter()
            radar.tick(radar.now_ms)
            table.view(radar.rows(budget_s=0.04))  # as the radar screen does
            builds.append(time.perf_counter() - t)

    async def main() -> tuple[float, float]:
        async with connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None) as ws:
            first = await ws.recv(decode=False)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            w0 = time.perf_counter()
            dec.decode(first, 0)
            task = asyncio.create_task(screen())
            try:
                async for frame in ws:
                    dec.decode(frame, 0)
            finally:
                task.cancel()
            wall = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), wall

    cpu, wall = asyncio.run(main())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out.send(
        {
            "cpu": cpu, "wall": wall, "rss_mb": rss_mb, "frames": dec.frames, "errors": dec.errors,
            "candles": radar.counts["candles"], "warm_s": warm_s,
            "table_ms": 1000 * float(np.median(builds)) if builds else float("nan"),
            "table_max_ms": 1000 * max(builds) if builds else float("nan"),
        }
    )  # fmt: skip


def _single_engine_cpu_per_s(seconds: int = 60) -> float:
    """CPU seconds per market second of the single-symbol pipeline (Binance decoder → full engine) at a
    BTC-like rate: 50 aggTrades a second, a mark a second, four kline updates a second, a closed bar a
    minute, after the same kind of warm-up (the socket is left out, so the ratio favours the engine)."""
    eng = Engine(HeatModel(), symbol="BTC", reference=Venue.BINANCE)
    eng.load_history(_warm_bars(72_000.0, 1))
    dec = BinanceDecoder("BTC")
    rng = np.random.default_rng(3)
    p = 72_000.0
    frames: list[tuple[int, str]] = []
    a = 1
    for k in range(seconds):
        e = T0 + k * 1000
        for j in range(50):
            p *= float(np.exp(rng.normal(0, 2e-5)))
            t = e + j * 20
            frames.append(
                (
                    t,
                    combined(
                        Frame("btcusdt@aggTrade", t, agg_trade("BTCUSDT", t, a, p, 0.01, a, a, t, j % 2 == 0))
                    ),
                )
            )
            a += 1
        frames.append(
            (e, combined(Frame("btcusdt@markPrice@1s", e, mark_price("BTCUSDT", e, p, p, p, 1e-4, 0))))
        )
        minute = e - e % _MIN
        for j in range(4):
            closing = e % _MIN == 0 and j == 0
            t = minute - _MIN if closing else minute
            payload = kline("BTCUSDT", e, t, "1m", _MIN, 1, 9, p, p, p, p, 1.0, 9, closing, p, 0.5, p / 2)
            frames.append((e, combined(Frame("btcusdt@kline_1m", e, payload))))
    t0 = time.process_time()
    next_tick = T0
    for ts, f in frames:
        for ev in dec.decode(f, ts):
            eng.apply(ev)
        if ts >= next_tick:  # the app ticks its engine about once a second
            eng.tick(ts)
            next_tick += 1000
    if dec.errors:
        raise RuntimeError(f"single-symbol baseline: {dec.errors} frames failed to decode")
    return (time.process_time() - t0) / seconds


def _full_model_mb() -> float:
    tracemalloc.start()
    try:
        m = HeatModel()
        m.step_many(_warm_bars(72_000.0, 1))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return used / 1e6


def run(quick: bool) -> list[dict]:
    seconds = 12 if quick else 65
    ctx = multiprocessing.get_context("spawn")
    port_r, port_w = ctx.Pipe(duplex=False)
    res_r, res_w = ctx.Pipe(duplex=False)
    server = ctx.Process(target=_server, args=(N_SYMBOLS, seconds, port_w), daemon=True)
    server.start()
    try:
        if not port_r.poll(60):
            raise RuntimeError("radar benchmark server did not start")
        port = port_r.recv()
        client = ctx.Process(target=_client, args=(port, N_SYMBOLS, res_w), daemon=True)
        client.start()
        if not res_r.poll(seconds + 240):
            raise RuntimeError("radar benchmark client did not report")
        r = res_r.recv()
        client.join(30)
    finally:
        server.terminate()
        server.join(10)
    if r["errors"]:
        raise RuntimeError(f"radar benchmark: {r['errors']} frames failed to decode")
    if r["candles"] < N_SYMBOLS:
        raise RuntimeError(f"radar benchmark: only {r['candles']} closed bars reached the models")
    cpu_pct = 100.0 * r["cpu"] / r["wall"]
    single = _single_engine_cpu_per_s(20 if quick else 60)
    per_symbol = r["cpu"] / r["wall"] / N_SYMBOLS
    full_mb = _full_model_mb()
    common = {"symbols": N_SYMBOLS, "seconds": round(r["wall"], 1)}
    return [
        {
            "name": "radar_cpu_pct", "value": round(cpu_pct, 1), "unit": "% of one core",
            "ratio": round(per_symbol / single, 4), "goal": "<= 50",
            "single_engine_cpu_pct": round(100 * single, 4), **common,
            "note": "ratio = per-symbol CPU / the single-symbol engine's CPU at a BTC-like rate, same run",
        },
        {
            "name": "radar_rss_mb", "value": round(r["rss_mb"], 1), "unit": "MB",
            "ratio": round(r["rss_mb"] / N_SYMBOLS / full_mb, 4), "goal": "<= 1500",
            "full_model_mb": round(full_mb, 2), **common,
            "note": "peak RSS of the client process; ratio = MB per symbol / one full HeatModel after the same warm-up",
        },
        {"name": "radar_frames_per_s", "value": round(r["frames"] / r["wall"]), "unit": "frames/s", **common},
        {"name": "radar_table_ms", "value": round(r["table_ms"], 2), "unit": "ms", **common,
         "max_ms": round(r["table_max_ms"], 1),
         "note": "median (and max) build of the rows of every symbol + sort, once a second as on the radar screen, "
                 "zone searches bounded to 40 ms a build"},
        {"name": "radar_warmup_s", "value": round(r["warm_s"], 2), "unit": "s", **common,
         "note": "12 h of 15m bars into each light model (spread over the REST budget when live)"},
    ]  # fmt: skip


if __name__ == "__main__":
    import json

    for row in run(quick=True):
        print(json.dumps(row))
