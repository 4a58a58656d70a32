"""RPC over direct reply-to: thousands of calls in flight on one connection.

Each call has its own future, keyed by correlation id, resolved by the reply consumer;
there is no lock per call. Commands go out persistent on a confirm channel (a command
the broker did not accept is an error); queries go out transient on a channel without
confirms, with an expiry equal to the caller's remaining time. The deadline also
travels in the `x-deadline` header, so a worker skips a query whose caller has gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import uuid4

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.abc import DeliveredMessage

from broker.codec import UndecodableMessage, decode_body, encode, envelope_for
from broker.connection import BrokerConnection, BrokerUnavailable
from broker.publisher import DIRECT_REPLY_TO, PublishFailed
from broker.topology import COMMANDS_EXCHANGE
from contracts import Command, ErrorReply, Query, Reply

log = logging.getLogger(__name__)


class RpcTimeout(Exception):
    """No reply before the deadline: the outcome of a command is unknown."""


class RemoteError(Exception):
    """The worker answered with an error reply (a refusal or a failure)."""

    def __init__(self, reply: ErrorReply):
        super().__init__(f"{reply.code}: {reply.message}")
        self.reply = reply


class RpcClient:
    def __init__(self, broker: BrokerConnection, *, default_timeout: float = 5.0):
        self._broker = broker
        self._default_timeout = default_timeout
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._confirmed: AbstractChannel | None = None
        self._fast: AbstractChannel | None = None
        self._reopening = asyncio.Lock()
        broker.on_connect(self._open)
        broker.on_disconnect(self._fail_pending)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def _open(self, connection: AbstractConnection) -> None:
        self._confirmed = await self._reply_channel(connection, confirms=True)
        self._fast = await self._reply_channel(connection, confirms=False)

    async def _reply_channel(
        self, connection: AbstractConnection, *, confirms: bool
    ) -> AbstractChannel:
        """A channel that publishes calls and consumes their direct replies."""
        channel = await connection.channel(publisher_confirms=confirms, on_return_raises=confirms)
        underlay = await channel.get_underlay_channel()
        await underlay.basic_consume(DIRECT_REPLY_TO, self._on_reply, no_ack=True)
        return channel

    async def _channel_for(self, command: bool) -> AbstractChannel:
        """The channel for a command (confirmed) or a query. One the broker closed over a
        bad publish, the connection still up, is replaced; its calls in flight time out."""
        if not self._broker.is_connected:
            raise BrokerUnavailable("not connected to RabbitMQ")
        channel = self._confirmed if command else self._fast
        if channel is not None and not channel.is_closed:
            return channel
        async with self._reopening:
            channel = self._confirmed if command else self._fast
            if channel is None or channel.is_closed:
                try:
                    channel = await self._reply_channel(self._broker.connection, confirms=command)
                except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                    raise BrokerUnavailable(f"cannot open a channel: {exc}") from exc
                if command:
                    self._confirmed = channel
                else:
                    self._fast = channel
        return channel

    def _fail_pending(self, exc: BaseException | None) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(
                    BrokerUnavailable("connection to RabbitMQ lost while waiting for a reply")
                )

    async def _on_reply(self, delivered: DeliveredMessage) -> None:
        properties = delivered.header.properties
        future = self._pending.pop(properties.correlation_id or "", None)
        if future is None or future.done():
            return  # a late reply: its caller already timed out
        try:
            future.set_result(decode_body(properties.message_type, delivered.body))  # type: ignore[arg-type]
        except UndecodableMessage as exc:
            future.set_exception(exc)

    async def call(
        self,
        request: Command | Query,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> Reply:
        """Send `request` and return its reply; raise RemoteError for an error reply,
        RpcTimeout past the deadline, BrokerUnavailable when RabbitMQ is unreachable."""
        channel = await self._channel_for(isinstance(request, Command))
        timeout = timeout or self._default_timeout
        deadline = time.time() + timeout
        correlation_id = uuid4().hex
        envelope = envelope_for(
            request, request_id=request_id, correlation_id=correlation_id, deadline=deadline
        )
        is_query = isinstance(request, Query)
        message = encode(
            request,
            envelope,
            persistent=not is_query,
            reply_to=DIRECT_REPLY_TO,
            expiration_ms=int(timeout * 1000) if is_query else None,
        )
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            await self._publish(channel, message, request.name, timeout)
            reply = await asyncio.wait_for(future, max(deadline - time.time(), 0.001))
        except TimeoutError as exc:
            raise RpcTimeout(f"{request.name}: no reply within {timeout:.1f}s") from exc
        finally:
            self._pending.pop(correlation_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed by a disconnect while publishing: seen, not lost
        if isinstance(reply, ErrorReply):
            raise RemoteError(reply)
        return reply

    async def _publish(
        self, channel: AbstractChannel, message: aio_pika.Message, routing_key: str, timeout: float
    ) -> None:
        try:
            underlay = await channel.get_underlay_channel()
            confirmation = await underlay.basic_publish(
                message.body,
                exchange=COMMANDS_EXCHANGE,
                routing_key=routing_key,
                properties=message.properties,
                mandatory=True,
                timeout=timeout,
            )
        except aiormq.exceptions.PublishError as exc:
            raise PublishFailed(f"no queue is bound for {routing_key}") from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise PublishFailed(f"the broker refused {routing_key}") from exc
        except aiormq.exceptions.ChannelClosed as exc:  # e.g. no commands exchange
            raise PublishFailed(f"the broker refused {routing_key}: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerUnavailable(f"no confirm for {routing_key} within {timeout:.1f}s") from exc
        except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise BrokerUnavailable(f"publish of {routing_key} failed: {exc}") from exc
        if isinstance(confirmation, aiormq.spec.Basic.Nack):
            raise PublishFailed(f"the broker nacked {routing_key}")


__all__ = ["BrokerUnavailable", "PublishFailed", "RemoteError", "RpcClient", "RpcTimeout"]

