"""The one place that decides ack, retry, reply and dead-letter for every delivery.

- decode the body into its contract; an undecodable or unknown message is rejected
  to the dead-letter queue (and its caller, if any, gets `validation_error` at once);
- skip a query whose caller's deadline has passed;
- run the handler, retrying transient faults (database restarts, deadlocks) with
  backoff; a handler owns its transaction, so "returned" means "committed";
- reply (the result, or the `ErrorReply` of a business refusal), then ack;
- a transient fault that outlasts the retries is requeued (the quorum queue's delivery
  limit dead-letters it eventually); a bug is answered `internal_error` and
  dead-lettered for an operator to inspect and re-drive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue
from prometheus_client import Counter, Histogram
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from broker.codec import UndecodableMessage, decode_body, envelope_for, read_envelope
from broker.connection import BrokerConnection
from broker.publisher import DIRECT_REPLY_TO, Publisher
from contracts import ErrorCode, ErrorReply, Message, Query, Refusal, Reply
from contracts.envelope import Envelope

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[Reply | None]]
"""A handler gets its decoded contract (dependencies are bound by the worker's bootstrap)
and returns its reply, or None when there is nothing to answer (yet)."""

current_envelope: ContextVar[Envelope | None] = ContextVar("current_envelope", default=None)
"""The envelope of the message being handled: request id for logs, reply_to for the saga."""

MESSAGES = Counter(
    "itemx_messages_total", "Messages handled, by outcome", ["service", "type", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "itemx_handler_seconds",
    "Handler latency (decode to ack)",
    ["service", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class Consumer:
    def __init__(
        self,
        broker: BrokerConnection,
        publisher: Publisher,
        queue: str,
        handlers: Mapping[type[Message], Handler],
        *,
        service: str,
        prefetch: int = 64,
        is_transient: Callable[[BaseException], bool] = lambda exc: False,
        retry_attempts: int = 5,
    ):
        self.queue_name = queue
        self._publisher = publisher
        self._handlers = dict(handlers)
        self._service = service
        self._prefetch = prefetch
        self._is_transient = is_transient
        self._retry_attempts = retry_attempts
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._acknowledge = queue != DIRECT_REPLY_TO
        if self._acknowledge:
            broker.on_connect(self._start)
        else:  # replies to what this process's publisher sent: it receives them
            publisher.receive_direct_replies(self._on_message)

    def add_handlers(self, handlers: Mapping[type[Message], Handler]) -> None:
        """Serve more message types from the same queue (several modules share a queue)."""
        shared = set(self._handlers) & set(handlers)
        if shared:
            names = ", ".join(sorted(message.name for message in shared))
            raise ValueError(f"{self.queue_name}: handlers registered twice for {names}")
        self._handlers.update(handlers)

    async def _start(self, connection: AbstractConnection) -> None:
        if self._stopping:
            return
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await channel.get_queue(self.queue_name, ensure=False)
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking messages, then wait (up to `grace`) for those in flight to finish."""
        self._stopping = True
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._handle(incoming)
        except Exception:
            # never leave a delivery unsettled: it would hold a prefetch slot until reconnect
            log.exception("delivery %s could not be settled; rejecting it", incoming.message_id)
            with contextlib.suppress(Exception):
                await self._settle(incoming, reject=True)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _handle(self, incoming: AbstractIncomingMessage) -> None:
        envelope = read_envelope(incoming)
        token = current_envelope.set(envelope)
        type_name = envelope.type or "unknown"
        started = time.perf_counter()
        try:
            outcome = await self._dispatch(incoming, envelope)
        finally:
            current_envelope.reset(token)
        self._counter(type_name, outcome).inc()
        self._histogram(type_name).observe(time.perf_counter() - started)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one consumer per queue, for the process
    def _counter(self, type_name: str, outcome: str) -> Any:
        """The labelled child, looked up once: `labels()` takes a lock on every call."""
        return MESSAGES.labels(self._service, type_name, outcome)

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def _histogram(self, type_name: str) -> Any:
        return HANDLER_SECONDS.labels(self._service, type_name)

    async def _dispatch(self, incoming: AbstractIncomingMessage, envelope: Envelope) -> str:
        try:
            message = decode_body(envelope.type, incoming.body)
            handler = self._handlers.get(type(message))
            if handler is None:
                raise UndecodableMessage(f"{self.queue_name} has no handler for {envelope.type}")
        except UndecodableMessage as exc:
            log.warning("dead-lettering message %s: %s", envelope.message_id, exc)
            await self._answer(
                envelope,
                ErrorReply(code=ErrorCode.VALIDATION_ERROR, message="undecodable message"),
            )
            await self._settle(incoming, reject=True)
            return "dead_lettered"

        if isinstance(message, Query) and envelope.expired():
            await self._settle(incoming)
            return "expired"

        try:
            result = await self._run(handler, message)
            outcome = "ok"
        except Refusal as refusal:
            result, outcome = refusal.reply(), "refused"
        except RetryError as exc:
            log.warning("transient fault outlasted retries for %s: %s", envelope.type, exc)
            if isinstance(message, Query):
                await self._answer(envelope, _unavailable())
                await self._settle(incoming)
            else:
                await self._settle(incoming, requeue=True)
            return "requeued"
        except Exception:
            log.exception("handler for %s failed; dead-lettering %s", envelope.type,
                          envelope.message_id)
            await self._answer(
                envelope, ErrorReply(code=ErrorCode.INTERNAL_ERROR, message="internal error")
            )
            await self._settle(incoming, reject=True)
            return "failed"

        if result is not None:
            await self._answer(envelope, result)
        await self._settle(incoming)
        return outcome

    async def _settle(
        self, incoming: AbstractIncomingMessage, *, reject: bool = False, requeue: bool = False
    ) -> None:
        """Ack, reject (to the dead-letter queue) or requeue; direct replies arrive
        without acknowledgement, so there is nothing to settle for them."""
        if not self._acknowledge:
            return
        if requeue:
            await incoming.nack(requeue=True)
        elif reject:
            await incoming.reject(requeue=False)
        else:
            await incoming.ack()

    async def _run(self, handler: Handler, message: Message) -> Reply | None:
        """Run the handler; on a transient fault, run it again with backoff. The retry
        machinery is built only on that path: the common case pays nothing for it."""
        try:
            return await handler(message)
        except Exception as exc:
            if not self._is_transient(exc):
                raise
            log.info("transient fault in %s, retrying: %s", message.name, exc)
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._is_transient),
            wait=wait_exponential_jitter(multiplier=0.05, max=2.0),
            stop=stop_after_attempt(self._retry_attempts - 1),
            reraise=False,
        )
        async for attempt in retrying:
            with attempt:
                return await handler(message)
        return None  # pragma: no cover - AsyncRetrying either returns or raises

    async def _answer(self, envelope: Envelope, reply: Reply) -> None:
        if not envelope.reply_to:
            return
        reply_envelope = envelope_for(
            reply, request_id=envelope.request_id, correlation_id=envelope.correlation_id
        )
        await self._publisher.reply(envelope.reply_to, reply, reply_envelope)


def _unavailable() -> ErrorReply:
    return ErrorReply(code=ErrorCode.SERVICE_UNAVAILABLE, message="database unavailable, retry")
