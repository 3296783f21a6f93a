"""The embedded demo exchange: the simulated market behind Binance USDⓈ-M websocket and REST servers.

Usage::

    async with DemoExchange(seed=0, speed=1.0) as demo:
        demo.ws_url    # "ws://127.0.0.1:PORT/market" (+ /stream?streams=... combined, + /ws raw)
        demo.rest_url  # "http://127.0.0.1:PORT"
        demo.market    # the MarketSim: truth (true_levels, realized), state, history

Websocket paths, as on Binance since 2026: ``/market/stream?streams=a/b`` (combined ``{"stream","data"}``
envelope), ``/market/ws`` and ``/market/ws/<stream>`` (bare payloads); live ``SUBSCRIBE`` /
``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY combined`` / ``GET_PROPERTY`` requests, answered
``{"result":null,"id":N}``. The pre-2026 root paths (``/stream``, ``/ws``) accept connections and
subscriptions but, like Binance's, never deliver these market streams. The server pings (``ping_interval``,
Binance ~180 s) and closes a connection after ``max_age_s`` (Binance 24 h). Streams: ``<sym>@aggTrade``,
``<sym>@markPrice@1s``, ``<sym>@markPrice`` (3 s), ``<sym>@kline_1m``, ``<sym>@forceOrder``,
``!forceOrder@arr``, ``!markPrice@arr@1s``.

Beside the full simulator's symbol, a light market of ``multi_symbols`` more perpetuals
(:class:`~liqtui.sim.multi.MultiMarket`, without the tickers the full simulator can play, so those stay
refused as on a one-symbol exchange) feeds the all-market streams and their ``<sym>@kline_1m``, for the
radar. Binance's connection limits are enforced: at most 1,024 streams per connection (URL and
``SUBSCRIBE``) and at most 10 incoming messages per second (a client sending more is disconnected).

The market runs in 1-second steps paced to ``speed`` × wall-clock time; its output depends only on the
seed and ``start_ms``, never on timing (a slow machine delivers the same frames, later).

**A light symbol in full** (``symbol`` one of the light market's, e.g. the radar's Enter on ``ABCUSDT``): the
full simulator is a :class:`~liqtui.sim.multi.FullSim` seeded from ``(seed, symbol)`` and anchored at the light
symbol's mark and open interest (:func:`~liqtui.sim.multi.anchored_sim`), with the symbol's own tick and
quantity step in its payloads, its REST rows, its order book and ``exchangeInfo``. The light market mutes the
symbol (its radar row is fed from the full simulator: its mark joins ``!markPrice@arr@1s``, its forced orders
``!forceOrder@arr``, its ``kline_1m`` is the full one's). ``takeover``: a running exchange whose light market
this one continues (same market time, same paths; a light symbol that one served in full is handed back at its
last mark and open interest), so the radar's rows stay one market across the switch; without it a fresh light
market starts. BTC, ETH and SOL are served exactly as before (their market depends on the seed and the start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from liqtui.sim.bars import INTERVALS_MS
from liqtui.sim.depth import INTERVAL_MS as _DEPTH_INTERVAL_MS
from liqtui.sim.depth import TICK as _DEPTH_TICK
from liqtui.sim.depth import DepthSim
from liqtui.sim.market import DEFAULT_PRICES, MarketSim, SimConfig
from liqtui.sim.multi import LIGHT_EXCLUDE, FullSim, MultiMarket, anchored_sim, light_names
from liqtui.sim.payloads import Contract, Frame, combined, kline_row
from liqtui.sim.rest import ApiError, RestServer, symbol_info

__all__ = ["DemoExchange"]

_MARKET_PREFIX = "/market"
_MAX_STEPS_PER_TURN = 30  # market seconds simulated before yielding to the event loop
_CLOSE_TIMEOUT_S = 1.0  # a client that does not answer the close handshake does not hold up stop()
_MIN_SLEEP_S = 0.005  # frames due within this are sent together (bounds wake-ups at high speed)
_LISTENER_WAIT_S = 2.0  # how long an exchange taking over a market waits for its first follower
MAX_STREAMS = 1024  # per connection
MAX_MESSAGES_PER_S = 10  # incoming messages per connection and second
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


@dataclass(eq=False)
class _Client:
    """One websocket connection: its subscriptions and its outgoing queue."""

    ws: ServerConnection
    combined: bool
    legacy: bool  # pre-2026 root path: subscriptions are acknowledged but never fed
    queue: asyncio.Queue[str]
    subs: list[str] = field(default_factory=list)
    routes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    sent: int = 0
    msg_second: int = 0  # the second of the latest incoming message, and how many arrived in it
    msg_count: int = 0


def _parse_path(path: str) -> tuple[bool, bool, list[str]] | None:
    """(combined, legacy, initial streams) of a websocket request path, or None when not served."""
    url = urlsplit(path)
    p = url.path.rstrip("/") or "/"
    route = next((r for r in (_MARKET_PREFIX, "/public") if p.startswith(r + "/")), None)  # /public: depth
    legacy = route is None
    if route is not None:
        p = p[len(route) :]
    if p == "/stream":
        streams = parse_qs(url.query).get("streams", [""])[0]
        return True, legacy, [s for s in streams.split("/") if s]
    if p == "/ws":
        return False, legacy, []
    if p.startswith("/ws/"):
        return False, legacy, [s for s in p[4:].split("/") if s]
    return None


class DemoExchange:
    """The simulated market served over the Binance USDⓈ-M protocol on 127.0.0.1 (async context manager).

    ``speed``: market seconds per wall-clock second. ``start_ms``: where the history ends and the live
    market begins (default: now). ``oi_hist_days``: apply Binance's 30-day ``openInterestHist`` rule.
    """

    def __init__(
        self,
        seed: int = 0,
        speed: float = 1.0,
        symbol: str = "BTCUSDT",
        history_days: float = 183,
        *,
        start_ms: int | None = None,
        host: str = "127.0.0.1",
        oi_hist_days: float | None = None,
        ping_interval: float = 180.0,
        ping_timeout: float = 600.0,
        max_age_s: float = 24 * 3600.0,
        queue_size: int = 50_000,
        config: SimConfig | None = None,
        multi_symbols: int = 0,
        takeover: DemoExchange | None = None,
    ) -> None:
        if not (0 < speed <= 10_000):
            raise ValueError(f"speed must be within (0, 10000], got {speed!r}")
        cfg = config or SimConfig()
        #: a light market symbol served in full (anchored at its light price), not one of BTC ETH SOL
        self.light = symbol not in DEFAULT_PRICES and symbol != cfg.symbol
        if self.light:
            if multi_symbols <= 0 and takeover is None:
                raise ValueError(
                    f"symbol {symbol}: a light symbol needs the light market (multi_symbols > 0); "
                    f"the full simulator alone plays {', '.join(DEFAULT_PRICES)}"
                )
            cfg = cfg.for_symbol(symbol)
        elif symbol != cfg.symbol:
            cfg = cfg.for_symbol(symbol)
        self.symbol = symbol
        self.takeover = takeover
        self.running = False
        self.seed = seed
        self._kw: dict[str, Any] = {
            "seed": seed,
            "start_ms": start_ms,
            "history_days": history_days,
            "config": cfg,
        }
        self.speed = float(speed)
        self.host = host
        self.oi_hist_days = oi_hist_days
        self.ping_interval, self.ping_timeout, self.max_age_s = ping_interval, ping_timeout, max_age_s
        self.queue_size = queue_size
        self.market: MarketSim | None = None
        self.multi_symbols = multi_symbols
        self.multi: MultiMarket | None = None
        self.clients: set[_Client] = set()
        self.depth: DepthSim  # the resting book, made with the market
        self.frames_sent = 0
        #: called with each batch of frames as they come due, clients or not (other protocols' servers)
        self.taps: list[Callable[[list[Frame]], None]] = []
        self.ready_s: float | None = None  # seconds from __aenter__ to serving
        #: real-time mode: the market clock is the wall clock (silently caught up on start)
        self._catch_up = start_ms is None
        #: (market time, mark) a light symbol was anchored at
        self._anchor: tuple[int, float] | None = None
        #: set when a client follows the full symbol: an exchange taking over a running market (the radar's
        #: Enter) waits for it (the heatmap's feed connects a moment later), then serves its first second at once
        self._listener: asyncio.Event | None = None
        self._ws_server: Server | None = None
        self._rest: RestServer | None = None
        self._pacer: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Generate the history (in a worker thread: the event loop stays free) and start serving."""
        t0 = time.perf_counter()
        multi = self._take_light_market()
        if self.light:
            market: MarketSim = await self._light_market(multi)
            multi = self.multi  # the one taken over, or the fresh one it started
        elif multi is not None:  # continue the light market's time: the full one starts where it is
            kw = {**self._kw, "start_ms": multi.now_ms}
            now = multi.now_ms
            market = await asyncio.to_thread(lambda: _advanced(MarketSim(**kw), now))
        else:
            market = await asyncio.to_thread(lambda: MarketSim(**self._kw))
        self.market = market
        if multi is None and self.multi_symbols > 0:
            n, seed = self.multi_symbols, int(self._kw["seed"])
            multi = await asyncio.to_thread(
                lambda: MultiMarket(n, seed, start_ms=market.now_ms, exclude=(market.symbol, *DEFAULT_PRICES))
            )
            multi.owner = self
        self.multi = multi
        try:
            self._rest = _DemoRest(market, oi_hist_days=self.oi_hist_days, multi=self.multi)
            if isinstance(market, FullSim):
                self.depth = _ContractDepth(market, seed=self.seed)
            else:
                self.depth = DepthSim(market.symbol, market.price, seed=self.seed)
            self._rest.depth = self.depth
            await self._rest.start(self.host)
            self._ws_server = await serve(
                self._handle,
                self.host,
                0,
                process_request=self._check_path,
                compression=None,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_queue=64,
                close_timeout=_CLOSE_TIMEOUT_S,
            )
        except BaseException:
            await self.stop()
            raise
        self._pacer = asyncio.create_task(self._run(), name="liqtui-demo-market")
        self.running = True
        self.ready_s = time.perf_counter() - t0

    def _take_light_market(self) -> MultiMarket | None:
        """The light market of ``takeover`` when it is still the one advancing it (then it is ours from now: the
        other exchange stops moving it), with the light symbol it served in full handed back to it."""
        old = self.takeover
        self.takeover = None  # not kept: the old exchange (and its market) can go
        # stopping or not (the app cancels the old source as it starts the new one): the market is where it
        # stopped, and nobody else took it
        multi = old.multi if old is not None else None
        if old is None or multi is None or multi.owner is not old:
            return None
        multi.owner = self
        prev = old.market
        if (
            prev is not None and prev.symbol in multi.index
        ):  # it served a light symbol: the light market's again
            multi.unmute(prev.symbol, prev.mark, prev.open_interest())
        self._catch_up = old._catch_up and self.speed == 1.0
        self._listener = asyncio.Event()
        return multi

    async def _light_market(self, multi: MultiMarket | None) -> FullSim:
        """The full market of the light symbol, anchored at its light mark and open interest now."""
        sym, seed = self.symbol, int(self._kw["seed"])
        if multi is None:
            n, start = self.multi_symbols, self._kw["start_ms"]
            if sym not in light_names(n, seed):
                raise ValueError(
                    f"symbol {sym}: not in the demo's light market of {n} symbols for seed {seed}"
                )  # fmt: skip
            multi = await asyncio.to_thread(
                lambda: MultiMarket(n, seed, start_ms=start, exclude=LIGHT_EXCLUDE)
            )
            multi.owner = self
        self.multi = multi
        if sym not in multi.index or not multi.listed[multi.index[sym]]:
            raise ValueError(f"symbol {sym}: not listed in the demo's light market")
        price = multi.mark(sym)
        oi_usd = multi.open_interest(sym) * price
        vol, contract, now = multi.volatility(sym), multi.contract(sym), multi.now_ms
        days = float(self._kw["history_days"])
        multi.mute(sym)  # its radar row is the full simulator's from now
        self._anchor = (now, price)
        return await asyncio.to_thread(
            lambda: anchored_sim(
                seed, sym, price=price, oi_usd=oi_usd, annual_vol=vol, now_ms=now, contract=contract,
                history_days=days,
            )
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop the market and both servers; close every connection. Idempotent."""
        self.running = False
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
            self._pacer = None
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None
        for t in list(self._handlers):
            t.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._rest is not None:
            await self._rest.close()
            self._rest = None

    # -- addresses ---------------------------------------------------------------------------------------
    @property
    def ws_port(self) -> int:
        if self._ws_server is None:
            raise RuntimeError("DemoExchange is not started")
        return int(next(iter(self._ws_server.sockets)).getsockname()[1])

    @property
    def ws_url(self) -> str:
        """Websocket base, e.g. ``ws://127.0.0.1:PORT/market`` (append ``/stream?streams=...`` or ``/ws``)."""
        return f"ws://{self.host}:{self.ws_port}{_MARKET_PREFIX}"

    @property
    def rest_url(self) -> str:
        if self._rest is None:
            raise RuntimeError("DemoExchange is not started")
        return f"http://{self.host}:{self._rest.port}"

    def stream_url(self, streams: Iterable[str] | None = None) -> str:
        """Combined-stream URL for ``streams`` (default: the four streams liqtui uses)."""
        s = self.market.symbol.lower() if self.market else "btcusdt"
        names = (
            list(streams)
            if streams is not None
            else [f"{s}@aggTrade", f"{s}@markPrice@1s", f"{s}@kline_1m", f"{s}@forceOrder"]
        )
        return f"{self.ws_url}/stream?streams={'/'.join(names)}"

    # -- market pacing -----------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Simulate one second ahead of the (sped-up) clock and release each frame when its event time is due,
        so frames arrive spread over the second with exchange-like latency, not in per-second bursts."""
        loop = asyncio.get_running_loop()
        m = self.market
        assert m is not None
        first = False
        if self._listener is not None:  # the market stood still since the takeover; it goes on when followed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_LISTENER_WAIT_S):  # not wait_for: it can lose a cancel on 3.11
                    await self._listener.wait()
            first = (
                True  # the first second's frames go out at once (a price within a moment), the clock stays
            )
        wall0, mkt0 = loop.time(), m.now_ms
        if self._catch_up:
            # real-time mode: the history ends at the start minute; catch up to the wall clock silently so
            # exchange timestamps match local time (at most a minute of market, a few milliseconds of work)
            wall_ms = int(time.time() * 1000)
            m.advance(wall_ms)
            if self.multi is not None and self.multi.owner is self:
                self.multi.advance(m.now_ms, frames=False)
            wall0 -= max(0, wall_ms - mkt0) / 1000.0 / self.speed
        pending: deque[Frame] = deque()
        # released early, once: the first market second after a takeover (its frames a second "early")
        early_until = m.now_ms + 1000 if first else 0
        while True:
            now = max(mkt0 + int((loop.time() - wall0) * 1000.0 * self.speed), early_until)
            steps = 0
            while m.now_ms <= now and steps < _MAX_STEPS_PER_TURN:
                pending.extend(self._second(m))
                steps += 1
            due: list[Frame] = []
            while pending and pending[0].E <= now:
                due.append(pending.popleft())
            for tap in self.taps:
                if due:
                    tap(due)
            # depth@100ms diffs, made when due (the REST snapshot matches what was sent) and only when followed
            due += self.depth.frames(
                now,
                m.price,
                wanted=any(self.depth.stream in c.routes for c in self.clients),
                interval_ms=_DEPTH_INTERVAL_MS * max(1, math.ceil(self.speed)),
            )
            self._broadcast(due)
            if steps >= _MAX_STEPS_PER_TURN:
                await asyncio.sleep(0)
                continue
            nxt = pending[0].E if pending else m.now_ms
            wait = (nxt - mkt0) / (1000.0 * self.speed) - (loop.time() - wall0)
            await asyncio.sleep(min(max(wait, _MIN_SLEEP_S), 0.25))

    def _second(self, m: MarketSim) -> list[Frame]:
        """One market second of the full simulator and of the many-symbol market, in time order."""
        frames = m.advance(m.now_ms + 1000)
        multi = self.multi
        if multi is None or multi.owner is not self:  # taken over by the exchange that replaced this one
            return frames
        mark = f"{m.symbol.lower()}@markPrice@1s"
        marks = [f.payload for f in frames if f.stream == mark]
        frames.extend(multi.advance(m.now_ms, marks, frames=self._multi_wanted()))
        frames.sort(key=lambda f: f.E)
        return frames

    def _multi_wanted(self) -> bool:
        """Whether a client listens to the many-symbol market (else it moves without writing frames)."""
        main = self.market.symbol.lower() if self.market else ""
        return any(
            s.startswith("!") or not s.startswith(main + "@")
            for c in self.clients
            if not c.legacy
            for s in c.subs
        )

    def _broadcast(self, frames: list[Frame]) -> None:
        if not frames or not self.clients:
            return
        for c in list(self.clients):
            if c.legacy or not c.routes:
                continue
            for f in frames:
                for name, every in c.routes.get(f.stream, ()):
                    if every and f.E % every:
                        continue
                    text = combined(Frame(name, f.E, f.payload)) if c.combined else f.payload
                    self._enqueue(c, text)

    def _enqueue(self, c: _Client, text: str) -> None:
        try:
            c.queue.put_nowait(text)
        except asyncio.QueueFull:  # a consumer too slow to keep up is dropped, as exchanges do
            self.clients.discard(c)
            asyncio.ensure_future(c.ws.close(1008, "slow consumer"))

    # -- websocket connections ---------------------------------------------------------------------------
    def _check_path(self, conn: ServerConnection, request: Request) -> Response | None:
        parsed = _parse_path(request.path)
        if parsed is None:
            return Response(HTTPStatus.NOT_FOUND.value, "Not Found", Headers(), b"Not Found\n")
        if len(parsed[2]) > MAX_STREAMS:
            body = f"too many streams: {len(parsed[2])} > {MAX_STREAMS}\n".encode()
            return Response(HTTPStatus.BAD_REQUEST.value, "Bad Request", Headers(), body)
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        parsed = _parse_path(ws.request.path if ws.request else "")
        assert parsed is not None
        is_combined, legacy, streams = parsed
        c = _Client(ws=ws, combined=is_combined, legacy=legacy, queue=asyncio.Queue(self.queue_size))
        self._subscribe(c, streams)
        if self._listener is not None and self.market is not None:
            main = self.market.symbol.lower() + "@"
            if any(x.startswith(main) for x in c.subs):
                self._listener.set()
        self.clients.add(c)
        sender = asyncio.create_task(self._send_loop(c))
        expire = asyncio.get_running_loop().call_later(
            self.max_age_s, lambda: asyncio.ensure_future(ws.close(1001, "connection age limit"))
        )
        try:
            async for msg in ws:
                sec = int(time.monotonic())
                if sec != c.msg_second:
                    c.msg_second, c.msg_count = sec, 0
                c.msg_count += 1
                if c.msg_count > MAX_MESSAGES_PER_S:  # Binance disconnects a client sending faster
                    await ws.close(1008, f"too many messages: more than {MAX_MESSAGES_PER_S} per second")
                    break
                reply = self._command(c, msg)
                if reply is not None:
                    self._enqueue(c, reply)
        except ConnectionClosed:
            pass
        finally:
            expire.cancel()
            self.clients.discard(c)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
            self._handlers.discard(task)

    async def _send_loop(self, c: _Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                text = await c.queue.get()
                await c.ws.send(text)
                c.sent += 1
                self.frames_sent += 1

    def _subscribe(self, c: _Client, streams: Iterable[str], add: bool = True) -> None:
        for s in streams:
            if add and s not in c.subs:
                c.subs.append(s)
            elif not add and s in c.subs:
                c.subs.remove(s)
        c.routes = {}
        sym = self.market.symbol.lower() if self.market else ""
        for s in c.subs:
            source, every = s, 0
            if s == f"{sym}@markPrice":
                source, every = f"{sym}@markPrice@1s", 3000
            elif s == "!forceOrder@arr":  # the full simulator's forced orders and the many-symbol market's
                c.routes.setdefault(f"{sym}@forceOrder", []).append((s, 0))
            c.routes.setdefault(source, []).append((s, every))

    def _command(self, c: _Client, msg: str | bytes) -> str | None:
        """Answer one client request (Binance's live subscription protocol)."""
        try:
            req = json.loads(msg)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(3, f"Invalid JSON: {exc}", None)
        if not isinstance(req, dict):
            return _error(2, "Invalid request: expected an object", None)
        rid = req.get("id")
        if (
            rid is not None
            and not (isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0)
            and not isinstance(rid, str)
        ):
            return _error(2, "Invalid request: request ID must be an unsigned integer", None)
        method, params = req.get("method"), req.get("params", [])
        if method not in _METHODS:
            return _error(
                2, f"Invalid request: unknown variant {method!r}, expected one of {', '.join(_METHODS)}", rid
            )
        if not isinstance(params, list):
            return _error(1, "Invalid value type: expected an array of parameters", rid)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) and p for p in params):
                return _error(2, "Invalid request: stream names must be non-empty strings", rid)
            if method == "SUBSCRIBE" and len(set(params) | set(c.subs)) > MAX_STREAMS:
                return _error(2, f"Invalid request: too many streams (max {MAX_STREAMS})", rid)
            self._subscribe(c, params, add=method == "SUBSCRIBE")
            return json.dumps({"result": None, "id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return json.dumps({"result": list(c.subs), "id": rid})
        if not params or params[0] != "combined":
            return _error(0, "Unknown property", rid)
        if method == "GET_PROPERTY":
            return json.dumps({"result": c.combined, "id": rid})
        if len(params) != 2 or not isinstance(params[1], bool):
            return _error(1, "Invalid value type: expected Boolean", rid)
        c.combined = params[1]
        return json.dumps({"result": None, "id": rid})


def _error(code: int, msg: str, rid: object) -> str:
    return json.dumps({"error": {"code": code, "msg": msg}, "id": rid})


def _advanced(market: MarketSim, until_ms: int) -> MarketSim:
    """``market`` run (its frames dropped) to ``until_ms``: a market joining a light market's time."""
    market.advance(until_ms)
    return market


def _light_info(symbol: str, onboard_ms: int, c: Contract) -> dict[str, object]:
    """An ``exchangeInfo`` entry with the instrument's precision and its tick / step filters."""
    return {
        **symbol_info(symbol, onboard_ms),
        "pricePrecision": c.price_dp,
        "quantityPrecision": c.qty_dp,
        "filters": c.filters(),
    }


class _DemoRest(RestServer):
    """The demo's REST side: every light symbol's own tick and step in ``exchangeInfo``, and a light symbol
    served in full (a :class:`FullSim`) priced on its tick in its klines. BTC, ETH and SOL answer as before."""

    def _exchange_info(self, p: Any) -> object:
        m = self.market
        info = self._exchange_info_main()
        symbols: list[dict[str, object]] = info["symbols"]  # type: ignore[assignment]  # built just above
        if isinstance(m, FullSim):
            symbols[0] = _light_info(m.symbol, m.history_start_ms, m.contract)
        if self.multi is not None:
            multi = self.multi
            symbols.extend(_light_info(s, t, multi.contract(s)) for s, t in multi.instruments())
        return info

    def _klines(self, p: Any) -> object:
        m = self.market
        if not isinstance(m, FullSim) or p.get("symbol") != m.symbol:
            return super()._klines(p)
        interval = p.required("interval")
        if interval not in INTERVALS_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        limit = p.limit(500, 1500)
        start, end = self._times(p)
        b = m.klines(interval, start, end, limit)
        step, c = INTERVALS_MS[interval], m.contract
        return [
            kline_row(
                int(b.ts[i]), step, b.o[i], b.h[i], b.l[i], b.c[i], b.v[i], b.q[i], int(b.n[i]), b.tbv[i],
                b.tbq[i], contract=c,
            )
            for i in range(len(b))
        ]  # fmt: skip


class _ContractDepth(DepthSim):
    """The resting book of a light symbol in full: :class:`DepthSim`'s ladder counted in the symbol's ticks (one
    of its 0.1 steps is one tick of the contract) with sizes scaled like the symbol's trades, printed on the
    contract's tick and step. Same ids, same diffs, same snapshot procedure."""

    def __init__(self, market: FullSim, *, seed: int = 0) -> None:
        self.contract: Contract = market.contract
        self._scale = market.qty_scale
        super().__init__(market.symbol, self._ref(market.price), seed=seed)

    def _ref(self, price: float) -> float:
        return price / self.contract.tick * _DEPTH_TICK

    def _level(self, level: list[str]) -> list[str]:
        c = self.contract
        ticks = round(float(level[0]) / _DEPTH_TICK)
        q = float(level[1])
        qty = 0.0 if q == 0.0 else max(c.step, round(q * self._scale / c.step) * c.step)
        return [c.price(ticks * c.tick), c.qty(qty)]

    def step(self, price: float, E: int) -> str:
        data = json.loads(super().step(self._ref(price), E))
        data["b"] = [self._level(x) for x in data["b"]]
        data["a"] = [self._level(x) for x in data["a"]]
        return json.dumps(data, separators=(",", ":"))

    def snapshot(self, limit: int = 1000) -> dict[str, object]:
        d = super().snapshot(limit)
        for side in ("bids", "asks"):
            d[side] = [self._level(x) for x in d[side]]  # type: ignore[attr-defined]  # lists of [price, qty]
        return d
