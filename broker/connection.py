"""One connection to RabbitMQ per process, re-established after the broker restarts.

Everything built on the connection (topology, consumers, RPC reply consumers,
publisher channels) registers an `on_connect` hook and is rebuilt after every
reconnect; `on_disconnect` hooks fail what was in flight, so nobody waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractConnection

log = logging.getLogger(__name__)

ConnectHook = Callable[[AbstractConnection], Awaitable[None]]
DisconnectHook = Callable[[BaseException | None], None]


class BrokerUnavailable(Exception):
    """RabbitMQ cannot be reached now; the call or publish did not happen (or is unknown)."""


class BrokerConnection:
    def __init__(self, url: str, *, name: str, retry_interval: float = 0.5, max_interval=5.0):
        self.url = url
        self.name = name
        self._retry_interval = retry_interval
        self._max_interval = max_interval
        self._on_connect: list[ConnectHook] = []
        self._on_disconnect: list[DisconnectHook] = []
        self._connection: AbstractConnection | None = None
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def on_connect(self, hook: ConnectHook) -> None:
        self._on_connect.append(hook)

    def on_disconnect(self, hook: DisconnectHook) -> None:
        self._on_disconnect.append(hook)

    @property
    def is_connected(self) -> bool:
        return self._ready.is_set() and self._connection is not None and not (
            self._connection.is_closed
        )

    @property
    def connection(self) -> AbstractConnection:
        if not self.is_connected or self._connection is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        return self._connection

    async def start(self, *, wait: float | None = 10.0) -> None:
        """Start connecting in the background; wait up to `wait` seconds for the first link."""
        self._task = asyncio.create_task(self._run(), name=f"broker-{self.name}")
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def close(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._connection and not self._connection.is_closed:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._ready.clear()

    async def _run(self) -> None:
        interval = self._retry_interval
        while not self._closing:
            try:
                await self._connect_once()
                interval = self._retry_interval
                await self._lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to connect or set up: retry
                log.warning("broker %s: connect failed: %s", self.name, exc)
                self._mark_lost(exc)
            await asyncio.sleep(interval)
            interval = min(interval * 2, self._max_interval)

    async def _connect_once(self) -> None:
        await self._discard_lost_connection()
        self._lost.clear()
        connection = await aio_pika.connect(
            self.url, client_properties={"connection_name": self.name}, timeout=5
        )
        connection.close_callbacks.add(self._on_closed)
        self._connection = connection
        try:
            for hook in self._on_connect:
                await hook(connection)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._ready.set()
        log.info("broker %s: connected", self.name)

    async def _discard_lost_connection(self) -> None:
        """Close the dead connection before replacing it: aio-pika still counts a link that
        dropped as open, and one collected unclosed leaves its tasks and a warning behind."""
        lost, self._connection = self._connection, None
        if lost is None:
            return
        lost.close_callbacks.discard(self._on_closed)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(lost.close(), 2)

    def _on_closed(self, _sender: object, exc: BaseException | None = None) -> None:
        if not self._closing:
            log.warning("broker %s: connection lost: %s", self.name, exc)
        self._mark_lost(exc)

    def _mark_lost(self, exc: BaseException | None) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        self._lost.set()
        if was_ready or exc is not None:
            for hook in self._on_disconnect:
                try:
                    hook(exc)
                except Exception:
                    log.exception("broker %s: disconnect hook failed", self.name)
