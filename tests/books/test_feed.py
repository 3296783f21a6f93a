"""The book runner against local servers: a gap, a bad checksum, a stale book — each detected, counted, shown
and repaired, and the repaired book equals the server's."""

from __future__ import annotations

import asyncio
import contextlib
import json

from liqtui.core.book_events import BookState, BookStatus
from liqtui.core.depth import DepthBook
from liqtui.feeds.endpoints import Endpoints
from liqtui.sim.depth import TICK, DepthSim
from liqtui.venues.book import BookFeed
from tests.books.frames import OkxBook, bybit, hl_book
from tests.books.servers import BookServer, Conn
from tests.feeds.helpers import until


class Sink:
    def __init__(self) -> None:
        self.events: list = []
        self.depth = DepthBook()

    def __call__(self, ev) -> None:
        self.events.append(ev)
        self.depth.apply(ev)

    def states(self) -> list[BookState]:
        """The book states said, repeats collapsed (a snapshot older than the stream is said again)."""
        out: list[BookState] = []
        for e in self.events:
            if isinstance(e, BookStatus) and (not out or out[-1] is not e.state):
                out.append(e.state)
        return out


@contextlib.asynccontextmanager
async def feeding(server: BookServer, venue: str, sink: Sink, **kw):
    feed = BookFeed([venue], "BTC", sink=sink, endpoints=Endpoints.from_overrides(server.overrides(venue)),
                    backoff_base_s=0.01, backoff_cap_s=0.05, seed=1, **kw)  # fmt: skip
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _prices(side: dict[int, float]) -> dict[float, float]:
    return {float(f"{p * TICK:.1f}"): q for p, q in side.items()}


async def test_binance_gap_is_resynced_from_a_new_snapshot() -> None:
    sim = DepthSim("BTCUSDT", 60_000.0, seed=3, levels=200)
    done = asyncio.Event()

    async def play(n: int, c: Conn) -> None:
        price = 60_000.0
        for i in range(60):
            price += 0.7 if i % 7 < 4 else -0.9
            frame = json.dumps({"stream": sim.stream, "data": json.loads(sim.step(price, 1000 + i * 100))})
            if i != 25:  # diff 25 is lost on the way: the next one's pu does not chain
                await c.ws.send(frame)
            await asyncio.sleep(0.01)
        done.set()

    sink = Sink()
    async with BookServer(play, snapshot=sim.snapshot) as srv, feeding(srv, "binance", sink) as feed:
        await until(lambda: done.is_set() and "binance" in feed.keepers, "the server streamed every diff")
        k = feed.keepers["binance"]
        await until(
            lambda: k.state is BookState.LIVE and k._last_u == sim.u, "the book caught up after the gap"
        )
        assert k.gaps == 1 and k.resyncs == 1
        assert feed.stats["binance"].snapshots >= 2 and len(srv.rest_hits) >= 2
        assert sink.states()[:4] == [BookState.SYNCING, BookState.LIVE, BookState.RESYNCING, BookState.LIVE]
        assert k.book.bids == _prices(sim.bids) and k.book.asks == _prices(sim.asks)
        # what reached the engine's DepthBook is the same book
        vb = sink.depth.venues[k.venue]
        assert vb.bids == k.book.bids and vb.asks == k.book.asks
        assert sink.depth.stats()["book_resyncs"] == 1


async def test_okx_bad_checksum_is_resubscribed() -> None:
    ob = OkxBook("BTC-USDT-SWAP")

    async def play(n: int, c: Conn) -> None:
        await c.recv_until(lambda m: '"subscribe"' in m)
        await c.ws.send(ob.message("snapshot", [("100", "10"), ("99", "5")], [("101", "3"), ("102", "1")]))
        for i in range(6):
            await c.ws.send(ob.message("update", [(f"{98 - i}", "2")], [], bad=(i == 3)))
        await c.recv_until(lambda m: '"unsubscribe"' in m)
        await c.recv_until(lambda m: '"subscribe"' in m)
        await c.ws.send(ob.message("snapshot", [("100", "4")], [("101", "2")]))
        await c.ws.send(ob.message("update", [("99.5", "1")], [("101", "0"), ("101.5", "7")]))

    sink = Sink()
    async with BookServer(play) as srv, feeding(srv, "okx", sink) as feed:
        await until(lambda: "okx" in feed.keepers and feed.keepers["okx"].verified >= 6, "the book resynced")
        k = feed.keepers["okx"]
        assert k.checksum_errors == 1 and k.resyncs == 1 and feed.stats["okx"].resubscribes == 1
        assert (
            k.state is BookState.LIVE
            and k.book.bids == {100.0: 4.0, 99.5: 1.0}
            and k.book.asks == {101.5: 7.0}
        )
        assert BookState.RESYNCING in sink.states() and sink.states()[-1] is BookState.LIVE
        assert len(srv.conns) == 1  # repaired on the same connection
        assert sink.depth.venues[k.venue].asks == {
            101.5: 0.07
        }  # contracts × ctVal 0.01 from the instruments call


async def test_bybit_gap_is_resubscribed() -> None:
    async def play(n: int, c: Conn) -> None:
        await c.recv_until(lambda m: '"subscribe"' in m)
        await c.ws.send(bybit("BTCUSDT", "snapshot", 10, [("100", "1")], [("101", "1")]))
        await c.ws.send(bybit("BTCUSDT", "delta", 11, [("99", "1")], []))
        await c.ws.send(bybit("BTCUSDT", "delta", 14, [("98", "1")], []))  # 12 and 13 lost
        await c.recv_until(lambda m: '"subscribe"' in m)
        await c.ws.send(bybit("BTCUSDT", "snapshot", 20, [("97", "2")], [("103", "2")]))

    sink = Sink()
    async with BookServer(play) as srv, feeding(srv, "bybit", sink) as feed:
        await until(
            lambda: "bybit" in feed.keepers and feed.keepers["bybit"].top() == (97.0, 103.0), "resynced"
        )
        k = feed.keepers["bybit"]
        assert k.gaps == 1 and feed.stats["bybit"].resubscribes == 1 and k.state is BookState.LIVE
        assert any('"unsubscribe"' in m for m in srv.conns[0].received)


async def test_stale_book_is_reconnected() -> None:
    async def play(n: int, c: Conn) -> None:
        await c.recv_until(lambda m: "l2Book" in m)
        t = 1000
        for _ in range(3 if n == 0 else 1000):  # the first connection goes quiet, the next one does not
            t += 1
            await c.ws.send(hl_book("BTC", [("100", "1")], [("101", str(n + 1))], t))
            await asyncio.sleep(0.01)
        await c.ws.wait_closed()

    sink = Sink()
    async with BookServer(play) as srv, feeding(srv, "hyperliquid", sink, stale_s=0.3) as feed:
        await until(
            lambda: "hyperliquid" in feed.keepers and feed.keepers["hyperliquid"].book.asks == {101.0: 2.0},
            "the book came back on a new connection",
        )
        k = feed.keepers["hyperliquid"]
        assert k.stale >= 1 and feed.stats["hyperliquid"].stale >= 1 and len(srv.conns) >= 2
        st = sink.states()
        assert BookState.STALE in st and st[-1] is BookState.LIVE
        assert sink.depth.states() == {"hyperliquid": "live"}


async def test_a_venue_without_a_book_is_left_alone() -> None:
    """An adapter whose ``book`` gives None (the default of ``Adapter``) runs nothing and says nothing."""
    from liqtui.core.events import Venue
    from liqtui.venues import register, unregister
    from liqtui.venues.adapter import Adapter

    class NoBook(Adapter):
        venue = Venue.BINANCE
        default_ws = "ws://127.0.0.1:9"
        default_rest = "http://127.0.0.1:9"

        @property
        def name(self) -> str:
            return "nobook"

        async def prepare(self, ctx) -> None:
            raise AssertionError("prepared a venue that has no book")

    register(NoBook())
    try:
        sink = Sink()
        feed = BookFeed(["nobook"], "BTC", sink=sink)
        await asyncio.wait_for(feed.run(), 5)
        assert sink.events == [] and feed.keepers == {}
    finally:
        unregister("nobook")
