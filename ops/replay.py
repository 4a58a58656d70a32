"""`itemx replay reports`: rebuild (or catch up) the reports read model from the stream.

From "first" it is a rebuild: the stream up to its end (measured at start) goes into a
shadow inbox while the live consumer keeps serving, then one short transaction swaps it
in and recomputes every day, keeping what the live consumer applied meanwhile. From an
offset or a time it is a catch-up: events are applied to the live tables, and the inbox
skips those already there. Either way replaying twice gives the same numbers.
"""

from __future__ import annotations

import zlib
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from broker.codec import UndecodableMessage, decode_body
from broker.replay import StartAt, StreamReader, StreamRecord
from contracts.events import PurchaseCompleted
from ops.progress import Progress
from workers.transactions import reports_repository as repo
from workers.transactions.reports import entries_of

REPLAY_LOCK = zlib.crc32(b"itemx.replay.reports")
LIVE_MARGIN = timedelta(seconds=30)
"""Live entries applied this long before the rebuild began are kept too: an event the live
consumer got a moment before the stream had committed it must not be lost. Keeping one
the replay also saw is harmless (the replay's copy wins)."""


class ReplayRefused(Exception):
    """The replay would do harm (or another one is running); nothing was changed."""


@dataclass
class ReplayResult:
    mode: str
    read: int = 0
    purchases: int = 0
    undecodable: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    entries: int | None = None
    """Inbox entries after a rebuild (None for a catch-up)."""
    applied: int = 0
    """Entries newly applied by a catch-up (0 for a rebuild)."""


def purchases_in(records: list[StreamRecord], result: ReplayResult) -> list[PurchaseCompleted]:
    """The completed purchases among `records`; counts what was read and skipped."""
    found = []
    for record in records:
        result.read += 1
        result.first_offset = record.offset if result.first_offset is None else result.first_offset
        result.last_offset = record.offset
        if record.type != PurchaseCompleted.name:
            continue
        try:
            event = decode_body(record.type, record.body)
        except UndecodableMessage:
            result.undecodable += 1
            continue
        assert isinstance(event, PurchaseCompleted)
        found.append(event)
    result.purchases += len(found)
    return found


async def replay_reports(
    database_url: str,
    reader: StreamReader,
    start: StartAt = "first",
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> ReplayResult:
    """Rebuild from "first", catch up from an offset or a time (see the module's doc)."""
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", REPLAY_LOCK):
            raise ReplayRefused("another replay of the reports is running")
        try:
            if start == "first":
                return await _rebuild(conn, reader, force=force, progress=progress)
            return await _catch_up(conn, reader, start, progress=progress)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", REPLAY_LOCK)
    finally:
        await conn.close()


async def _rebuild(
    conn: asyncpg.Connection, reader: StreamReader, *, force: bool, progress: Progress | None
) -> ReplayResult:
    result = ReplayResult("rebuild")
    await repo.create_rebuild_table(conn)
    try:
        started = await repo.database_now(conn)
        end = await reader.measure_end()
        async with aclosing(reader.read("first", end)) as batches:
            async for records in batches:
                if result.first_offset is None and records[0].offset > 0 and not force:
                    raise ReplayRefused(
                        f"the stream starts at offset {records[0].offset}: older events were"
                        " removed by its retention, and a rebuild would drop them from the"
                        " reports. Catch up with --since/--from-offset, or pass --force."
                    )
                events = purchases_in(records, result)
                await repo.add_rebuild_entries(
                    conn, (entry for event in events for entry in entries_of(event))
                )
                _show(progress, result, end)
        if result.read == 0 and not force:
            raise ReplayRefused("the stream is empty: nothing to rebuild from (--force to"
                                " empty the reports anyway)")
        async with conn.transaction():
            result.entries = await repo.swap_in_rebuild(conn, started - LIVE_MARGIN)
    finally:
        await repo.drop_rebuild_table(conn)
        if progress:
            progress.finish()
    return result


async def _catch_up(
    conn: asyncpg.Connection, reader: StreamReader, start: StartAt, *, progress: Progress | None
) -> ReplayResult:
    result = ReplayResult("catch-up")
    try:
        end = await reader.measure_end()
        async with aclosing(reader.read(start, end)) as batches:
            async for records in batches:
                for event in purchases_in(records, result):
                    for entry in entries_of(event):
                        async with conn.transaction():  # one user's shard, like the consumer
                            result.applied += int(await repo.apply_entry(conn, entry))
                _show(progress, result, end)
    finally:
        if progress:
            progress.finish()
    return result


def _show(progress: Progress | None, result: ReplayResult, end: int | None) -> None:
    if progress is None:
        return
    total = None
    if end is not None and result.first_offset is not None:
        total = end - result.first_offset + 1
    progress.update(result.read, total)
