"""Publishing with publisher confirms and `mandatory`: a message the broker could not
route or did not accept is an error for the caller, never a silent drop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aio_pika.message import IncomingMessage
from aiormq.abc import DeliveredMessage

from broker.codec import encode, envelope_for
from broker.connection import BrokerConnection, BrokerUnavailable
from contracts import Message
from contracts.envelope import Envelope

log = logging.getLogger(__name__)

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

DirectReplyCallback = Callable[[AbstractIncomingMessage], Awaitable[None]]


class PublishFailed(Exception):
    """The broker returned (unroutable) or nacked the message: it was not delivered."""


class Publisher:
    """A confirm channel on the process's connection, rebuilt after every reconnect."""

    def __init__(self, broker: BrokerConnection, *, timeout: float = 5.0):
        self._broker = broker
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._connection: AbstractConnection | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._reopening = asyncio.Lock()
        self._direct_replies: DirectReplyCallback | None = None
        broker.on_connect(self._open)

    def receive_direct_replies(self, callback: DirectReplyCallback) -> None:
        """Hand the replies to commands this publisher sends with `reply_to` = direct
        reply-to to `callback` (not acked: a lost reply costs its sender a resend).
        RabbitMQ delivers them on the channel that published, so it consumes them."""
        self._direct_replies = callback

    async def _open(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchanges = {"": self._channel.default_exchange}
        if self._direct_replies is not None:
            callback = self._direct_replies

            async def deliver(delivered: DeliveredMessage) -> None:
                await callback(IncomingMessage(delivered, no_ack=True))

            underlay = await self._channel.get_underlay_channel()
            await underlay.basic_consume(DIRECT_REPLY_TO, deliver, no_ack=True)

    async def _reopen(self) -> None:
        """The broker closes a channel over one bad publish (a missing exchange) and keeps
        the connection: open another, or every later publish, replies included, would fail."""
        async with self._reopening:
            if self._channel is not None and not self._channel.is_closed:
                return  # another publisher reopened it meanwhile
            if not self._broker.is_connected or self._connection is None:
                raise BrokerUnavailable("not connected to RabbitMQ")  # a reconnect reopens it
            try:
                await asyncio.wait_for(self._open(self._connection), self._timeout)
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError,
                    TimeoutError) as exc:
                raise BrokerUnavailable(f"cannot open a channel: {exc}") from exc

    async def _exchange(self, name: str) -> AbstractExchange:
        # the channel, not the connection's readiness: consumers start (and their handlers
        # publish) while the remaining on_connect hooks run, before the connection is ready
        if self._channel is None or self._channel.is_closed:
            await self._reopen()
        assert self._channel is not None
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await self._channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def publish_raw(
        self,
        exchange: str,
        routing_key: str,
        message: aio_pika.Message,
        *,
        mandatory: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raise PublishFailed or BrokerUnavailable."""
        target = await self._exchange(exchange)
        try:
            await target.publish(
                message, routing_key, mandatory=mandatory, timeout=timeout or self._timeout
            )
        except aiormq.exceptions.PublishError as exc:
            raise PublishFailed(f"unroutable: {exchange}/{routing_key}") from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise PublishFailed(f"nacked by broker: {exchange}/{routing_key}") from exc
        except aiormq.exceptions.ChannelClosed as exc:  # e.g. no such exchange
            raise PublishFailed(f"refused by broker: {exchange}/{routing_key}: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerUnavailable(f"no confirm within the timeout for {routing_key}") from exc
        except (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError,
                ConnectionError, RuntimeError) as exc:
            raise BrokerUnavailable(f"publish of {routing_key} failed: {exc}") from exc

    async def publish(
        self,
        exchange: str,
        message: Message,
        *,
        envelope: Envelope | None = None,
        request_id: str | None = None,
        routing_key: str | None = None,
        reply_to: str | None = None,
        persistent: bool = True,
    ) -> Envelope:
        """Publish a contract (routing key = its name) and return the envelope it went in."""
        envelope = envelope or envelope_for(message, request_id=request_id)
        await self.publish_raw(
            exchange,
            routing_key or message.name,
            encode(message, envelope, persistent=persistent, reply_to=reply_to),
        )
        return envelope

    async def reply(self, reply_to: str, message: Message, envelope: Envelope) -> None:
        """Answer a command. Direct reply-to answers are published without `mandatory`:
        RabbitMQ 3.10 returns them all as unroutable otherwise (rabbitmq-server#6124)."""
        direct = reply_to.startswith(DIRECT_REPLY_TO)
        amqp_message = encode(message, envelope, persistent=not direct)
        if direct:
            target = await self._exchange("")
            try:
                await target.publish(amqp_message, reply_to, mandatory=False, timeout=self._timeout)
            except Exception as exc:  # the caller is gone or the link dropped: it will time out
                log.info("reply to %s not delivered: %s", reply_to, exc)
            return
        await self.publish_raw("", reply_to, amqp_message)
