"""`itemx replay reports` against the real stream `itemx.events.log`: a rebuild gives the
numbers the live consumer gave (and again when run twice), repairs a damaged read model,
and a catch-up from a time or an offset adds only what is missing."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import asyncpg

from broker.replay import StreamReader
from ops.replay import replay_reports
from tests.support.processes import ROOT
from tests.support.reports import (
    eventually,
    publish_events,
    purchase,
    reports_consumer,
    unique_user_id,
)
from workers.common.db import Database

DAY = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)



async def itemx(database_url: str, amqp_url: str, *args: str) -> tuple[int, str, str]:
    """Run the real `itemx` command line; (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", *args, cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "AMQP_URL": amqp_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def figures(db: asyncpg.Connection, *users: int) -> list[tuple]:
    rows = await db.fetch(
        "SELECT user_id, day, purchases_count, purchases_total, sales_count, sales_total"
        " FROM report_days WHERE user_id = ANY($1::bigint[]) ORDER BY user_id, day",
        list(users),
    )
    return [tuple(row) for row in rows]


async def applied(database: Database, amqp_url: str, *events) -> None:  # type: ignore[no-untyped-def]
    """Publish the events and wait until the live consumer has applied every one."""
    async with reports_consumer(amqp_url, database):
        await publish_events(amqp_url, *events)

        async def done() -> bool:
            async with database.connection() as conn:
                count = await conn.fetchval(
                    "SELECT count(DISTINCT event_id) FROM reports_inbox"
                    " WHERE event_id = ANY($1::uuid[])", [e.event_id for e in events],
                )
            return count == len({e.event_id for e in events})

        await eventually(done, what="events applied by the live consumer")


async def test_rebuild_gives_the_same_numbers_twice_and_repairs_damage(
    database: Database, db: asyncpg.Connection, database_url: str, amqp_url: str
) -> None:
    buyer, seller = unique_user_id(), unique_user_id()
    twice = purchase(buyer, seller, 500, DAY)
    events = [twice, twice, purchase(buyer, seller, 250, DAY + timedelta(days=1)),
              purchase(seller, buyer, 75, DAY)]
    await applied(database, amqp_url, *events)
    before = await figures(db, buyer, seller)
    first_day = {row[0]: row[2:] for row in before if row[1] == DAY.date()}
    assert first_day == {buyer: (1, 500, 1, 75), seller: (1, 75, 1, 500)}

    await db.execute("DELETE FROM reports_inbox WHERE user_id = $1", buyer)
    await db.execute("DELETE FROM report_days WHERE user_id = $1", buyer)
    await db.execute("UPDATE report_days SET sales_total = 1 WHERE user_id = $1", seller)

    for _ in range(2):
        code, out, err = await itemx(database_url, amqp_url, "replay", "reports")
        assert code == 0, err
        assert "rebuild: read" in out and "reports rebuilt" in out
        assert "replay reports:" in err  # the progress line (plain: not a terminal)
        assert await figures(db, buyer, seller) == before


async def test_catch_up_since_a_time_adds_only_what_is_missing(
    database: Database, db: asyncpg.Connection, database_url: str, amqp_url: str
) -> None:
    buyer, seller = unique_user_id(), unique_user_id()
    published_after = datetime.now(UTC) - timedelta(seconds=5)
    await applied(database, amqp_url, purchase(buyer, seller, 1999, DAY),
                  purchase(buyer, seller, 1, DAY))
    before = await figures(db, buyer, seller)
    await db.execute("DELETE FROM reports_inbox WHERE user_id = $1", seller)
    await db.execute("DELETE FROM report_days WHERE user_id = $1", seller)

    for _ in range(2):
        code, out, err = await itemx(
            database_url, amqp_url, "replay", "reports", "--since", published_after.isoformat()
        )
        assert code == 0, err
        assert "catch-up: read" in out
        assert await figures(db, buyer, seller) == before


async def test_catch_up_from_an_offset_reads_from_there(
    database: Database, db: asyncpg.Connection, database_url: str, amqp_url: str
) -> None:
    end = await StreamReader(amqp_url).measure_end()
    start = 0 if end is None else end + 1
    buyer, seller = unique_user_id(), unique_user_id()
    await applied(database, amqp_url, purchase(buyer, seller, 321, DAY))
    await db.execute("DELETE FROM reports_inbox WHERE user_id = ANY($1::bigint[])",
                     [buyer, seller])
    await db.execute("DELETE FROM report_days WHERE user_id = ANY($1::bigint[])",
                     [buyer, seller])

    code, out, err = await itemx(
        database_url, amqp_url, "replay", "reports", "--from-offset", str(start)
    )
    assert code == 0, err
    assert f"offsets {start}.." in out
    assert "2 entries newly applied" in out
    assert {row[0]: row[2:] for row in await figures(db, buyer, seller)} == {
        buyer: (1, 321, 0, 0), seller: (0, 0, 1, 321),
    }


async def test_events_published_during_a_rebuild_are_neither_lost_nor_doubled(
    database: Database, db: asyncpg.Connection, database_url: str, amqp_url: str
) -> None:
    """The live consumer keeps applying while the rebuild reads the stream; the swap keeps
    what it applied after the measured end, and dedup keeps what both saw once."""
    buyer, seller = unique_user_id(), unique_user_id()
    published: list[int] = []
    rebuilding = asyncio.Event()

    async def keep_publishing() -> None:
        while not rebuilding.is_set() or len(published) < 40:
            cents = len(published) + 1
            await publish_events(amqp_url, purchase(buyer, seller, cents, DAY))
            published.append(cents)
            await asyncio.sleep(0.02)

    async with reports_consumer(amqp_url, database):
        publisher = asyncio.create_task(keep_publishing())
        await asyncio.sleep(0.2)
        result = await replay_reports(database_url, StreamReader(amqp_url), "first")
        rebuilding.set()
        await publisher
        assert result.entries is not None and result.read > 0

        async def all_counted() -> bool:
            rows = await figures(db, buyer)
            return bool(rows) and rows[0][2] == len(published)

        await eventually(all_counted, what="every purchase published during the rebuild")
    assert await figures(db, buyer) == [
        (buyer, DAY.date(), len(published), sum(published), 0, 0)
    ]
    assert await figures(db, seller) == [
        (seller, DAY.date(), 0, 0, len(published), sum(published))
    ]
