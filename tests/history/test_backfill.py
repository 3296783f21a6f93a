"""Backfill against a real local HTTP server serving the venues' documented REST shapes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from liqtui.history.backfill import (
    DAY_MS,
    BackfillError,
    attach_oi,
    backfill,
    bars_to_events,
    plan,
)
from liqtui.history.store import Store, empty_bars

from .helpers import same_bars
from .restserver import NOW_MS, RestServer, oi_base_at, oi_usd_at, price_at

KL, OIH = "/fapi/v1/klines", "/futures/data/openInterestHist"
BK, BOI = "/v5/market/kline", "/v5/market/open-interest"


@pytest.fixture
def srv():
    with RestServer() as s:
        yield s


class Collect:
    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.progress: list[tuple[int, int, str]] = []

    def on_bars(self, arr: np.ndarray) -> None:
        self.chunks.append(arr.copy())

    def on_progress(self, done: int, total: int, msg: str) -> None:
        self.progress.append((done, total, msg))

    @property
    def bars(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else empty_bars(0)


async def run_bf(srv, venue="binance", lookback="1d", col=None, **kw):
    col = col or Collect()
    kw.setdefault("now_ms", NOW_MS)
    kw.setdefault("min_interval_s", 0.0)
    res = await backfill(
        venue, "BTC", lookback, rest_url=srv.url, on_bars=col.on_bars, progress=col.on_progress, **kw
    )
    return res, col


def test_plan_fine_and_coarse_segments_do_not_overlap():
    (seg,) = plan("1d", NOW_MS + 12_345)
    assert (seg.interval_s, seg.end_ms, seg.end_ms - seg.start_ms) == (60, NOW_MS, DAY_MS)
    coarse, fine = plan("6M", NOW_MS)
    assert coarse.interval_s == 900 and fine.interval_s == 60
    assert coarse.end_ms == fine.start_ms and fine.end_ms == NOW_MS
    assert coarse.start_ms % 900_000 == 0 and fine.start_ms % 900_000 == 0
    assert NOW_MS - fine.start_ms >= 30 * DAY_MS
    with pytest.raises(ValueError, match="allowed: 12h 1d"):
        plan("2y", NOW_MS)


async def test_binance_1d_bars_with_taker_volume_and_oi(srv):
    res, col = await run_bf(srv)
    b = col.bars
    assert len(b) == 1440 and res.delivered_bars == 1440
    assert (
        (np.diff(b["ts"]) == 60_000).all()
        and b["ts"][0] == NOW_MS - DAY_MS
        and b["ts"][-1] == NOW_MS - 60_000
    )
    i = 100
    assert b["close"][i] == pytest.approx(price_at(int(b["ts"][i])), abs=0.006)
    assert not np.isnan(b["taker_buy_volume"]).any() and (b["taker_buy_volume"] < b["volume"]).all()
    # OI sampled every 5 min and interpolated at each bar's close: exact on the samples themselves
    close_ts = b["ts"] + 60_000
    on_sample = (close_ts % 300_000 == 0) & (close_ts < NOW_MS)  # the sample at NOW is not published yet
    np.testing.assert_allclose(
        b["oi_usd"][on_sample], [oi_usd_at(int(t)) for t in close_ts[on_sample]], rtol=1e-9
    )
    assert not np.isnan(b["oi_usd"]).any() and res.missing_oi == []
    assert srv.count(KL) == 1 and srv.count(OIH) == 1
    done, total, _ = col.progress[-1]
    assert done == total and "done" in col.progress[-1][2]


async def test_binance_pages_klines_and_open_interest(srv):
    res, col = await run_bf(srv, lookback="7d")
    assert len(col.bars) == 7 * 1440 and len(np.unique(col.bars["ts"])) == 7 * 1440
    starts = [int(q["startTime"]) for q in srv.params(KL)]
    assert len(starts) == 7 and all(int(q["limit"]) == 1500 for q in srv.params(KL))
    assert np.all(np.diff(starts) == 1500 * 60_000)  # contiguous windows
    assert srv.count(OIH) == 5  # 2016+ samples at 500 a page
    assert res.oi_points >= 7 * 288
    assert res.requests == srv.count(KL) + srv.count(OIH)


async def test_rate_limits_429_and_418_are_waited_out(srv):
    srv.faults[KL] += [
        (429, {"Retry-After": "0"}, {"code": -1003, "msg": "Too many requests"}),
        (418, {"Retry-After": "0.05"}, {"code": -1003, "msg": "banned"}),
        (503, {}, b"<html>busy</html>"),
    ]
    res, col = await run_bf(srv)
    assert len(col.bars) == 1440
    assert res.retries == 3 and srv.count(KL) == 4
    msgs = " | ".join(m for _, _, m in col.progress)
    assert "HTTP 429 (rate limit)" in msgs and "HTTP 418 (rate limit)" in msgs and "HTTP 503" in msgs


async def test_a_ban_longer_than_allowed_fails_clearly(srv):
    srv.faults[KL] += [
        (418, {"Retry-After": "7200"}, {"code": -1003, "msg": "Way too many requests; IP banned"})
    ]
    with pytest.raises(BackfillError, match=r"binance: HTTP 418 .*wait 7200 s.*try again later"):
        await run_bf(srv, max_wait_s=60)


async def test_exchange_errors_are_reported_with_their_message(srv):
    with pytest.raises(BackfillError, match=r"HTTP 400 -1121 Invalid symbol"):
        await backfill("binance", "NOPE", "12h", rest_url=srv.url, now_ms=NOW_MS, min_interval_s=0)
    with pytest.raises(BackfillError, match=r"bybit: .*retCode 10001 params error"):
        await backfill("bybit", "NOPE", "12h", rest_url=srv.url, now_ms=NOW_MS, min_interval_s=0)
    srv.faults[KL] += [(200, {}, b"not json at all")]
    with pytest.raises(BackfillError, match="not JSON"):
        await run_bf(srv, lookback="12h")
    with pytest.raises(ValueError, match="unknown venue 'ftx'"):
        await backfill("ftx", "BTC", "1d", rest_url=srv.url)
    with pytest.raises(ValueError, match="unknown lookback '2y'"):
        await backfill("binance", "BTC", "2y", rest_url=srv.url)


async def test_transport_errors_retry_then_give_up():
    # nothing listens on this port: connection refused on every attempt
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    msgs: list[str] = []
    with pytest.raises(BackfillError, match="giving up after 2 attempts: ConnectError"):
        from liqtui.history import backfill as bfmod

        res = bfmod.BackfillResult("binance", "BTCUSDT", "12h")
        import httpx

        async with httpx.AsyncClient() as c:
            from liqtui.venues.binance.history import BinanceHistory

            http = bfmod._Http(
                c,
                BinanceHistory,
                f"http://127.0.0.1:{port}",
                res,
                msgs.append,
                min_interval_s=0,
                max_retries=5,
                transport_retries=1,
            )
            http._rng.seed(1)
            await http.get("/fapi/v1/klines", {})
    assert len(msgs) == 1 and "retrying" in msgs[0]


async def test_bybit_newest_first_rows_cursor_paging_and_single_side_oi(srv):
    srv.faults[BK] += [
        (403, {"X-Bapi-Limit-Reset-Timestamp": "0"}, {"retCode": 10006, "retMsg": "Too many visits"}),
        (200, {}, {"retCode": 10006, "retMsg": "Too many visits!", "result": {}}),
    ]
    res, col = await run_bf(srv, venue="bybit")
    b = col.bars
    assert len(b) == 1440 and (np.diff(b["ts"]) == 60_000).all()
    assert np.isnan(b["taker_buy_volume"]).all()  # Bybit klines have no taker-buy volume
    assert srv.count(BOI) == 2 and srv.params(BOI)[1]["cursor"] == "200"  # 289 samples, 200 a page
    close_ts = b["ts"] + 60_000
    k = np.nonzero(close_ts % 300_000 == 0)[0][3]
    assert b["oi_usd"][k] == pytest.approx(oi_base_at(int(close_ts[k])) * b["close"][k], rel=1e-6)
    assert res.retries == 2


async def test_store_resume_fetches_only_what_is_missing(srv, tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    col0 = Collect()

    def stop_after_two(done: int, total: int, msg: str) -> None:
        col0.on_progress(done, total, msg)
        if done >= 2 and "bars to" in msg:
            raise asyncio.CancelledError  # what a task.cancel() delivers at the next await

    with pytest.raises(asyncio.CancelledError):
        await backfill(
            "binance",
            "BTC",
            "3d",
            rest_url=srv.url,
            now_ms=NOW_MS,
            min_interval_s=0,
            store=store,
            progress=stop_after_two,
        )
    partial = store.count_bars("binance", "BTCUSDT")
    assert 0 < partial < 3 * 1440
    first_calls = srv.count(KL)

    res, col = await run_bf(srv, lookback="3d", store=store)
    assert res.skipped_bars == partial and res.fetched_bars == 3 * 1440 - partial
    assert srv.count(KL) - first_calls == 2  # the third window only... plus the rest of the second
    assert len(col.bars) == 3 * 1440 and len(np.unique(col.bars["ts"])) == 3 * 1440
    assert not np.isnan(col.bars["oi_usd"]).any()

    again = srv.count(KL)
    res3, col3 = await run_bf(srv, lookback="3d", store=store)
    assert srv.count(KL) == again and res3.fetched_bars == 0  # nothing refetched
    assert same_bars(col3.bars, col.bars)
    store.close()


async def test_task_cancel_stops_the_backfill(srv):
    srv.state.oi_history_ms = 30 * DAY_MS
    started = asyncio.Event()

    def prog(done: int, total: int, msg: str) -> None:
        if done >= 1:
            started.set()

    task = asyncio.create_task(
        backfill("binance", "BTC", "1M", rest_url=srv.url, now_ms=NOW_MS, min_interval_s=0.05, progress=prog)
    )
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert srv.count(KL) < 29


async def test_long_lookback_says_what_oi_is_missing_and_store_fills_it(srv, tmp_path, monkeypatch):
    # the 3M shape (coarse 15m... / 1m, 30-day OI history) scaled down: 14d with 1m for 4 days and 6 days of OI

    from liqtui.venues.binance.history import BinanceHistory

    monkeypatch.setattr(BinanceHistory, "fine_window_ms", 4 * DAY_MS)
    monkeypatch.setattr(BinanceHistory, "oi_history_ms", 6 * DAY_MS)
    srv.state.oi_history_ms = 6 * DAY_MS
    store = Store(tmp_path / "h.sqlite3")
    coarse, fine = plan("14d", NOW_MS, fine_window_ms=4 * DAY_MS)
    # an earlier run kept live OI for one day, 8 days ago (older than the venue's OI history)
    old = empty_bars(288)
    old["ts"] = NOW_MS - 8 * DAY_MS + np.arange(288) * 300_000
    old["interval_s"] = 300
    old["oi_usd"] = 1.23e9
    store.write_bars("binance", "BTCUSDT", old)
    res, col = await run_bf(srv, lookback="14d", store=store)
    b = col.bars
    assert set(np.unique(b["interval_s"])) == {60, 300}
    assert len(b) == coarse.n_bars + fine.n_bars and (np.diff(b["ts"]) > 0).all()
    assert res.missing_oi and res.missing_oi[0][0] == coarse.start_ms
    note = [m for m in res.messages if "no open interest" in m]
    assert note and "last 6 days only" in note[0] and "store fills this gap" in note[0]
    kept = (b["ts"] >= old["ts"][0]) & (b["ts"] <= old["ts"][-1])
    assert kept.sum() == 288 and (b["oi_usd"][kept] == 1.23e9).all()  # filled from the store
    assert not np.isnan(b["close"][kept]).any()  # and the klines were fetched around it
    recent = b["ts"] >= NOW_MS - 5 * DAY_MS
    assert not np.isnan(b["oi_usd"][recent]).any()
    store.close()


def test_attach_oi_interpolates_within_span_only():
    bars = empty_bars(5)
    bars["ts"] = np.arange(5) * 60_000
    bars["interval_s"] = 60
    bars["close"] = 2.0
    attach_oi(bars, np.array([60_000, 180_000]), np.array([100.0, 300.0]), 60_000)
    np.testing.assert_allclose(bars["oi_usd"], [100.0, 200.0, 300.0, 300.0, np.nan])
    attach_oi(bars, np.array([60_000, 180_000]), np.array([1.0, 3.0]), 60_000, is_usd=False)
    np.testing.assert_allclose(bars["oi_usd"], [2.0, 4.0, 6.0, 6.0, np.nan])


def test_bars_to_events_gives_candles_and_open_interest():
    bars = empty_bars(2)
    bars["ts"] = [0, 60_000]
    bars["interval_s"] = 60
    for f in ("open", "high", "low", "close", "volume"):
        bars[f] = 10.0
    bars["oi_usd"] = [np.nan, 500.0]
    evs = bars_to_events(bars, "binance", "BTCUSDT")
    kinds = [type(e).__name__ for e in evs]
    assert kinds == ["Candle", "Candle", "OpenInterest"]
    assert evs[2].usd == 500.0 and evs[2].base == 50.0 and evs[2].ts == 120_000
    assert evs[0].taker_buy_volume is None and evs[0].closed


async def test_backfill_venues_sums_open_interest_across_venues(srv):
    from liqtui.history.backfill import backfill_venues

    col = Collect()
    results = await backfill_venues(
        ["binance", "bybit", "okx"],
        "BTC",
        "12h",
        rest_urls={"binance": srv.url, "bybit": srv.url, "okx": srv.url},
        on_bars=col.on_bars,
        progress=col.on_progress,
        now_ms=NOW_MS,
        min_interval_s=0,
    )
    assert [r.venue for r in results] == ["binance", "bybit", "okx"]
    b = col.bars
    assert len(b) == 720 and not np.isnan(b["taker_buy_volume"]).any()  # the reference venue's bars
    close_ts = b["ts"] + 60_000
    k = np.nonzero((close_ts % 300_000 == 0) & (close_ts < NOW_MS))[0][5]
    t = int(close_ts[k])
    want = oi_usd_at(t) + oi_base_at(t) * b["close"][k] + oi_usd_at(t) / 3
    assert b["oi_usd"][k] == pytest.approx(want, rel=1e-6)
    done = [(d, t) for d, t, _ in col.progress]
    assert done[-1][0] == done[-1][1] >= 1 and all(d <= t for d, t in done)


def test_combine_oi_scales_where_a_venue_has_no_history():
    from liqtui.history.backfill import combine_oi

    ref = empty_bars(6)
    ref["ts"] = np.arange(6) * 60_000
    ref["interval_s"] = 60
    ref["oi_usd"] = [100.0, 100.0, 100.0, 100.0, 110.0, np.nan]
    other = empty_bars(3)
    other["ts"] = np.arange(2, 5) * 60_000
    other["interval_s"] = 60
    other["oi_usd"] = 50.0
    out = combine_oi(ref, [other])
    # bars 2..4 have both venues (sum); 0..1 only the reference, scaled by the median ratio 1.5; 5 unknown
    np.testing.assert_allclose(out["oi_usd"], [150.0, 150.0, 150.0, 150.0, 160.0, np.nan])
    assert np.isnan(ref["oi_usd"][5]) and ref["oi_usd"][2] == 100.0  # the input is untouched
    assert same_bars(combine_oi(ref, []), ref)


async def test_okx_pages_100_rows_newest_first_with_oi_usd(srv):
    res, col = await run_bf(srv, venue="okx", lookback="12h")
    b = col.bars
    assert len(b) == 720 and (np.diff(b["ts"]) == 60_000).all() and res.symbol == "BTC-USDT-SWAP"
    windows = srv.params("/api/v5/market/history-candles")
    assert len(windows) == 8 and all(int(q["after"]) - int(q["before"]) - 1 <= 100 * 60_000 for q in windows)
    assert np.isnan(b["taker_buy_volume"]).all() and b["quote_volume"][0] == pytest.approx(
        b["volume"][0] * b["close"][0], rel=1e-3
    )
    close_ts = b["ts"] + 60_000
    k = np.nonzero((close_ts % 300_000 == 0) & (close_ts < NOW_MS))[0][2]
    assert b["oi_usd"][k] == pytest.approx(oi_usd_at(int(close_ts[k])) / 3, rel=1e-9)
    srv.faults["/api/v5/market/history-candles"] += [(200, {}, {"code": "50011", "msg": "Too Many Requests"})]
    res, _ = await run_bf(srv, venue="okx", lookback="12h")
    assert res.retries == 1
    with pytest.raises(BackfillError, match="okx: .*code 51001 Instrument ID does not exist"):
        await backfill("okx", "NOPE", "12h", rest_url=srv.url, now_ms=NOW_MS, min_interval_s=0)


async def test_okx_long_lookback_uses_1m_for_three_days_only(srv):
    res, col = await run_bf(srv, venue="okx", lookback="7d")
    assert [(s.interval_s, (s.end_ms - s.start_ms) // DAY_MS) for s in res.segments] == [(300, 4), (60, 3)]
    assert len(col.bars) == 4 * 288 + 3 * 1440


async def test_hyperliquid_candles_reach_back_per_interval_and_say_no_oi(srv):
    res, col = await run_bf(srv, venue="hyperliquid", lookback="14d")
    b = col.bars
    ivs = [s.interval_s for s in res.segments]
    assert ivs == [300, 60]  # 5000 one-minute candles reach 3.5 days; five-minute ones the rest
    assert (
        b["ts"][0] == NOW_MS - 14 * DAY_MS and b["ts"][-1] == NOW_MS - 60_000 and (np.diff(b["ts"]) > 0).all()
    )
    assert set(np.unique(b["interval_s"])) == {60, 300} and np.isnan(b["oi_usd"]).all()
    assert srv.count("/info") == 2
    assert any("hyperliquid publishes no open-interest history" in m for m in res.messages)
    assert res.missing_oi == [(NOW_MS - 14 * DAY_MS, NOW_MS)]


async def test_a_failing_secondary_venue_is_left_out_with_a_note(srv):
    from liqtui.history.backfill import backfill_venues

    col = Collect()
    srv.faults["/v5/market/kline"] += [(200, {}, {"retCode": 10001, "retMsg": "params error", "result": {}})]
    results = await backfill_venues(
        ["binance", "bybit"],
        "BTC",
        "12h",
        rest_urls={"binance": srv.url, "bybit": srv.url},
        on_bars=col.on_bars,
        now_ms=NOW_MS,
        min_interval_s=0,
    )
    assert [r.venue for r in results] == ["binance"]
    assert any("bybit backfill failed" in m and "left out" in m for m in results[0].messages)
    close_ts = col.bars["ts"] + 60_000
    k = np.nonzero((close_ts % 300_000 == 0) & (close_ts < NOW_MS))[0][1]
    assert col.bars["oi_usd"][k] == pytest.approx(oi_usd_at(int(close_ts[k])), rel=1e-9)  # binance alone
    srv.faults[KL] += [(400, {}, {"code": -1121, "msg": "Invalid symbol."})]
    with pytest.raises(BackfillError, match="Invalid symbol"):  # the reference venue failing is fatal
        await backfill_venues(
            ["binance", "bybit"],
            "BTC",
            "12h",
            rest_urls={"binance": srv.url, "bybit": srv.url},
            now_ms=NOW_MS,
            min_interval_s=0,
        )


async def test_binance_weight_header_pauses_before_the_limit(srv, monkeypatch):
    from liqtui.history import backfill as bfmod

    waits: list[float] = []

    def until_next_minute() -> float:
        waits.append(0.01)
        return 0.01

    monkeypatch.setattr(bfmod._Http, "_until_next_minute", staticmethod(until_next_minute))
    srv.state.headers[KL] = {"X-MBX-USED-WEIGHT-1M": "1900"}  # below 80 % of 2400: no pause
    res, _ = await run_bf(srv, lookback="3d")
    assert waits == []
    srv.state.headers[KL] = {"X-MBX-USED-WEIGHT-1M": "2300"}
    res, col = await run_bf(srv, lookback="3d")
    assert len(waits) == 3 and len(col.bars) == 3 * 1440
    assert any("request weight 2300/2400 this minute, pausing" in m for m in res.messages)


async def test_backfill_steps_a_model_chunk_by_chunk_like_a_rebuild(srv, tmp_path, monkeypatch):
    from liqtui.core.model import HeatModel
    from liqtui.history import backfill as bfmod
    from liqtui.history.restore import rebuild

    for name in ("DELIVER_CHUNK", "DELIVER_CHUNK_MIN", "DELIVER_CHUNK_MAX"):
        monkeypatch.setattr(bfmod, name, 1000)  # several chunks of a fixed size (no time budget)
    store = Store(tmp_path / "m.sqlite3")
    model = HeatModel()
    col = Collect()
    res = await backfill(
        "binance",
        "BTC",
        "3d",
        rest_url=srv.url,
        now_ms=NOW_MS,
        min_interval_s=0,
        store=store,
        model=model,
        on_bars=col.on_bars,
    )
    assert res.delivered_bars == 3 * 1440 and len(col.chunks) == 5 and model.last_ts == NOW_MS - 60_000
    again = rebuild(store, "binance", "BTCUSDT", lookback="3d", now_ms=NOW_MS)
    assert again.last_ts == model.last_ts and model.zones("1d").above
    assert (
        abs(again.zones("3d").total_above - model.zones("3d").total_above)
        <= 1e-6 * model.zones("3d").total_above
    )
    res2 = await backfill(
        "binance",
        "BTC",
        "3d",
        rest_url=srv.url,
        now_ms=NOW_MS,
        min_interval_s=0,
        store=store,
        model=model,
        since_ms=model.last_ts,
    )
    assert res2.delivered_bars == 0 and res2.fetched_bars == 0  # nothing new: the model is not stepped again
    store.close()


async def test_backfill_steps_are_sized_to_the_time_budget(srv, monkeypatch):
    """Each model step is sized so it holds the event loop about DELIVER_BUDGET_S: slow steps shrink the next."""
    from liqtui.history import backfill as bfmod
    from liqtui.history import restore as rmod

    sizes: list[int] = []
    real = rmod.step_chunk

    def slow_step(model, chunk, until):  # 1 ms a bar: far over the budget for any chunk of 20+
        sizes.append(len(chunk))
        t = __import__("time").perf_counter() + len(chunk) * 1e-3
        while __import__("time").perf_counter() < t:
            pass
        return real(model, chunk, until)

    monkeypatch.setattr(rmod, "step_chunk", slow_step)
    monkeypatch.setattr(bfmod, "DELIVER_CHUNK", 200)
    from liqtui.core.model import HeatModel

    res = await backfill("binance", "BTC", "12h", rest_url=srv.url, now_ms=NOW_MS, min_interval_s=0,
                         model=HeatModel())  # fmt: skip
    assert res.delivered_bars == 720 and sum(sizes) == 720
    # 200 ms for the first step: the next ones would be ~15 bars, floored at DELIVER_CHUNK_MIN
    assert sizes[0] == 200 and max(sizes[1:]) == bfmod.DELIVER_CHUNK_MIN
