"""Reading the event stream `itemx.events.log` from an offset or a time up to its end.

AMQP 0.9.1 consumption of a stream: a prefetch (basic.qos) is required, the start is
the consumer argument `x-stream-offset` ("first", an offset, or a timestamp), every
delivery carries its offset in the `x-stream-offset` header, and acks only make room
for more deliveries (a stream never deletes on ack). A stream consumer never "runs out":
it waits for new messages. So the end is measured before reading: a consumer attached
at "last" gets the stream's last chunk, whose highest offset is the end; reading stops
there. Messages published after that are not part of the replay (live consumers get
them). On RabbitMQ 3.10 a stream's queue.declare reports no message count, hence this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from broker.topology import EVENTS_LOG_STREAM

StartAt = Literal["first"] | int | datetime
"""Where a replay starts: the stream's first message, an offset, or a moment."""


class StreamStalled(Exception):
    """The stream stopped delivering before the measured end: the replay is incomplete."""


@dataclass(frozen=True)
class StreamRecord:
    """One message of the stream: its offset, AMQP type (the event name) and body."""

    offset: int
    type: str | None
    message_id: str | None
    body: bytes


def _offset_of(message: AbstractIncomingMessage) -> int:
    return int((message.headers or {})["x-stream-offset"])  # type: ignore[arg-type]


class StreamReader:
    def __init__(
        self,
        url: str,
        stream: str = EVENTS_LOG_STREAM,
        *,
        prefetch: int = 1000,
        batch_size: int = 500,
        probe_wait: float = 1.5,
        idle_timeout: float = 15.0,
    ):
        self._url = url
        self._stream = stream
        self._prefetch = prefetch
        self._batch_size = batch_size
        self._probe_wait = probe_wait
        self._idle_timeout = idle_timeout

    async def measure_end(self, max_seconds: float = 3.0) -> int | None:
        """The offset of the stream's last message now; None when the stream is empty."""
        connection = await aio_pika.connect(self._url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await channel.get_queue(self._stream, ensure=False)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            tag = await queue.consume(inbox.put, arguments={"x-stream-offset": "last"})
            end: int | None = None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max_seconds
            wait = self._probe_wait  # the last chunk comes at once; then a short quiet ends it
            while loop.time() < deadline:
                try:
                    message = await asyncio.wait_for(inbox.get(), wait)
                except TimeoutError:
                    break
                end = max(end if end is not None else -1, _offset_of(message))
                await message.ack()
                wait = 0.2
            await _cancel(queue, tag)
        return end

    async def read(self, start: StartAt, end: int | None) -> AsyncIterator[list[StreamRecord]]:
        """Batches of records from `start` up to offset `end` inclusive (None, an empty
        stream when measured: nothing; what came since is the live consumers' business).

        A batch is acknowledged when the caller asks for the next one, so at most
        `prefetch` messages wait in memory. Raises StreamStalled when deliveries stop
        before `end`.
        """
        first = start if isinstance(start, int) else 0
        if end is None or first > end:
            return
        connection = await aio_pika.connect(self._url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await channel.get_queue(self._stream, ensure=False)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            tag = await queue.consume(inbox.put, arguments={"x-stream-offset": start})
            delivered = False
            while True:
                messages = await self._next_batch(inbox, end, delivered, start)
                if not messages:
                    break
                delivered = True
                records, done = _within(messages, first, end)
                if records:
                    yield records
                await messages[-1].ack(multiple=True)
                if done:
                    break
            await _cancel(queue, tag)

    async def _next_batch(
        self,
        inbox: asyncio.Queue[AbstractIncomingMessage],
        end: int,
        delivered: bool,
        start: StartAt,
    ) -> list[AbstractIncomingMessage]:
        """Up to `batch_size` deliveries; [] when a start time is past the last message
        (RabbitMQ then attaches at the end and delivers nothing)."""
        after_time = isinstance(start, datetime) and not delivered
        wait = 2 * self._probe_wait if after_time else self._idle_timeout
        try:
            messages = [await asyncio.wait_for(inbox.get(), wait)]
        except TimeoutError:
            if after_time:
                return []
            raise StreamStalled(
                f"{self._stream}: no delivery for {wait:.0f}s before offset {end}"
            ) from None
        while len(messages) < self._batch_size and not inbox.empty():
            messages.append(inbox.get_nowait())
        return messages


def _within(
    messages: list[AbstractIncomingMessage], first: int, end: int
) -> tuple[list[StreamRecord], bool]:
    """The records between `first` and `end` (a chunk may start before the asked offset or
    run past the end), and whether the end was reached."""
    records, done = [], False
    for message in messages:
        offset = _offset_of(message)
        done = done or offset >= end
        if offset < first or offset > end:
            continue
        records.append(
            StreamRecord(offset, message.type, message.message_id, message.body)
        )
    return records, done


async def _cancel(queue: AbstractQueue, tag: str) -> None:
    with contextlib.suppress(Exception):
        await queue.cancel(tag)
