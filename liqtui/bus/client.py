"""Connecting to the bus: NATS options from :class:`~liqtui.bus.BusOptions`, the JetStream stream, and the
connection's state for the status line."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from liqtui.bus import SUBJECT_PREFIX, BusError, BusOptions, import_nats

__all__ = ["BusLink", "check_options", "ensure_stream", "stop_if_cancelled"]

log = logging.getLogger("liqtui.bus")

_SCHEMES = ("nats", "tls", "ws", "wss")


def stop_if_cancelled() -> None:
    """Raise :class:`asyncio.CancelledError` when the running task has been asked to stop.

    nats-py waits for replies with ``asyncio.wait_for``; on Python 3.11 that swallows a cancellation arriving
    in the same loop turn as the reply (fixed in 3.12), so a task cancelled mid-request carries on as if
    nothing happened, and whoever awaits it waits for ever. Every loop around a client call checks here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def check_options(opts: BusOptions) -> None:
    """A :class:`BusError` naming the flag for a bad URL or an unreadable credentials/TLS file."""
    servers = opts.servers()
    if not servers:
        raise BusError("--bus: give a server URL such as nats://127.0.0.1:4222")
    for url in servers:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise BusError(
                f"--bus: {url!r} is not a NATS server URL; use {' or '.join(s + '://HOST:PORT' for s in _SCHEMES[:2])}"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise BusError(f"--bus: {url!r}: the port must be a number 1..65535") from None
    for flag, path in (
        ("--bus-creds", opts.creds),
        ("--bus-tls-ca", opts.tls_ca),
        ("--bus-tls-cert", opts.tls_cert),
        ("--bus-tls-key", opts.tls_key),
    ):
        if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            raise BusError(f"{flag}: {path!r} is not a readable file")
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise BusError("--bus-tls-cert and --bus-tls-key go together (a client certificate and its key)")
    if not opts.stream.replace("_", "").replace("-", "").isalnum():
        raise BusError(f"bus.stream: {opts.stream!r}: use letters, digits, '-' and '_' only")
    if not opts.max_age_days > 0:
        raise BusError(f"bus.max_age_days must be > 0, got {opts.max_age_days!r}")


def _tls(opts: BusOptions) -> ssl.SSLContext | None:
    needs_tls = opts.tls_ca or opts.tls_cert or any(u.startswith(("tls:", "wss:")) for u in opts.servers())
    if not needs_tls:
        return None
    try:
        ctx = ssl.create_default_context(cafile=opts.tls_ca or None)
        if opts.tls_cert:
            ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise BusError(f"--bus-tls-ca/--bus-tls-cert: cannot use the TLS files: {exc}") from None
    return ctx


class BusLink:
    """One NATS connection that keeps reconnecting, with its JetStream context.

    ``state`` is ``connecting`` | ``live`` | ``reconnecting`` | ``stopped``; ``on_state(state, attempt, reason)``
    is called on every change (the bus Source turns it into the status line's feed states). :meth:`open` waits
    until the first connection is made, retrying with a capped backoff (a server not up yet is not an error).
    """

    def __init__(
        self,
        opts: BusOptions,
        *,
        name: str = "liqtui",
        on_state: Callable[[str, int, str], None] | None = None,
    ) -> None:
        check_options(opts)
        self.opts = opts
        self.name = name
        self.on_state = on_state
        self.state = "connecting"
        self.attempt = 0
        self.reconnects = 0
        self.errors = 0
        self.nc: Any = None
        self.js: Any = None
        self.connected = asyncio.Event()
        self._closing = False

    def _set(self, state: str, reason: str = "") -> None:
        if state == self.state and state != "reconnecting":
            return
        self.state = state
        if state == "live":
            self.attempt = 0
            self.connected.set()
        else:
            self.connected.clear()
        log.info("bus %s: %s%s", ",".join(self.opts.servers()), state, f" ({reason})" if reason else "")
        if self.on_state is not None:
            self.on_state(state, self.attempt, reason)

    async def open(self) -> BusLink:
        nats = import_nats()
        tls = _tls(self.opts)
        delay = 0.2
        while True:
            stop_if_cancelled()
            try:
                self.nc = await nats.connect(
                    servers=self.opts.servers(),
                    name=self.name,
                    user_credentials=self.opts.creds or None,
                    tls=tls,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,  # nats-py annotates int; it takes seconds as a float
                    connect_timeout=2,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                    closed_cb=self._closed,
                )
                break
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                if isinstance(exc, nats.errors.Error) and "authorization" in str(exc).lower():
                    raise BusError(f"--bus: the server refused our credentials: {exc}") from None
                self.attempt += 1
                self._set("reconnecting", f"{type(exc).__name__}: {exc}".strip(": "))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.js = self.nc.jetstream()
        self._set("live")
        return self

    async def _disconnected(self) -> None:
        if self._closing:
            return
        self.attempt += 1
        self._set("reconnecting", "the bus went away")

    async def _reconnected(self) -> None:
        self.reconnects += 1
        self._set("live")

    async def _error(self, exc: Exception) -> None:
        self.errors += 1
        if self.errors <= 5 or self.errors % 100 == 0:
            log.warning("bus: %s: %s", type(exc).__name__, exc)

    async def _closed(self) -> None:
        self._set("stopped")

    async def close(self) -> None:
        """Close the connection, waiting at most ~2 s (``asyncio.wait`` on a task, not ``wait_for``: a client
        call that swallows its cancellation cannot hang the shutdown)."""
        self._closing = True
        nc, self.nc = self.nc, None
        if nc is not None and not nc.is_closed:
            for coro in (nc.flush(timeout=1), nc.close()):
                task = asyncio.ensure_future(coro)
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if task in done and not task.cancelled() and task.exception() is not None:
                    log.debug("bus: closing: %s", task.exception())
                elif not done:
                    task.cancel()
        self._set("stopped")

    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "reconnects": self.reconnects, "errors": self.errors}


async def ensure_stream(js: Any, opts: BusOptions) -> None:
    """Create the stream on ``liqtui.v1.>`` with the options' retention limits, or update its limits."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    cfg = StreamConfig(
        name=opts.stream,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=opts.max_age_days * 86_400.0,
        max_bytes=opts.max_bytes,
        duplicate_window=120.0,
    )
    try:
        await js.stream_info(opts.stream)
    except NotFoundError:
        await js.add_stream(cfg)
        log.info("bus: created stream %s", opts.stream)
        return
    await js.update_stream(cfg)
