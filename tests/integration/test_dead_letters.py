"""`itemx dlq` against messages really dead-lettered by the reports consumer: list counts
them, show reads them without taking them away, redrive sends them back where they came
from (a failing event, once fixed, is applied once), purge empties the queue."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg

from broker.topology import REPORTS
from contracts.events import PurchaseCompleted
from ops import dlq
from tests.support.processes import ROOT
from tests.support.reports import (
    eventually,
    publish,
    publish_events,
    purchase,
    reports_consumer,
    unique_user_id,
)
from workers.common.db import Database

DLQ = REPORTS.dead_letters
DAY = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)



async def itemx(amqp_url: str, *args: str) -> tuple[int, str, str]:
    """Run the real `itemx` command line; (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", *args, cwd=ROOT,
        env={**os.environ, "AMQP_URL": amqp_url}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def waiting_in_dlq(amqp_url: str) -> int:
    counts = {count.queue: count.messages for count in await dlq.list_counts(amqp_url)}
    return counts[DLQ] or 0


async def ids_in_dlq(amqp_url: str) -> list[str | None]:
    return [letter.message_id for letter in await dlq.show(amqp_url, DLQ, limit=1000)]


def undecodable(message_id: str) -> tuple[str, aio_pika.Message]:
    """A purchase.completed whose body is not JSON: the consumer dead-letters it at once."""
    return PurchaseCompleted.name, aio_pika.Message(
        b"\x00 not json", message_id=message_id, type=PurchaseCompleted.name,
        content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


FAIL_FOR_USER = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.user_id = {user_id} THEN RAISE EXCEPTION 'reports of user {user_id} are broken'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER {name} BEFORE INSERT ON reports_inbox FOR EACH ROW EXECUTE FUNCTION {name}();
"""


async def test_list_show_redrive_and_purge_real_dead_letters(
    database: Database, db: asyncpg.Connection, amqp_url: str
) -> None:
    poison_id = str(uuid.uuid4())
    buyer, seller = unique_user_id(), unique_user_id()
    failing = purchase(buyer, seller, 1234, DAY)
    breakage = f"itemx_test_break_{uuid.uuid4().hex[:8]}"
    await db.execute(FAIL_FOR_USER.format(name=breakage, user_id=seller))
    try:
        async with reports_consumer(amqp_url, database):
            await publish(amqp_url, undecodable(poison_id))
            await publish_events(amqp_url, failing)

            async def both_dead() -> bool:
                found = await ids_in_dlq(amqp_url)
                return poison_id in found and str(failing.event_id) in found

            await eventually(both_dead, timeout=20, what="both messages dead-lettered")
    finally:
        await db.execute(f"DROP TRIGGER IF EXISTS {breakage} ON reports_inbox")
        await db.execute(f"DROP FUNCTION IF EXISTS {breakage}()")
    # the buyer's half was committed before the seller's failed
    assert await db.fetchval("SELECT count(*) FROM reports_inbox WHERE user_id = $1", buyer) == 1

    code, out, _ = await itemx(amqp_url, "dlq", "list")
    assert code == 0
    listed = dict(line.split()[:2] for line in out.splitlines()[1:])
    assert int(listed[DLQ]) >= 2 and set(listed) >= {"accounts.commands.dlq", DLQ}

    count = await waiting_in_dlq(amqp_url)
    code, out, _ = await itemx(amqp_url, "dlq", "show", DLQ, "--limit", "1000")
    assert code == 0
    assert f"message_id={poison_id} type=purchase.completed" in out
    assert "reason=rejected" in out
    assert "from queue=transactions.reports exchange='itemx.events'" in out
    assert "routing_keys=['purchase.completed']" in out
    assert f'body={{"type":"purchase.completed","version":1,"event_id":"{failing.event_id}"' in out
    assert await waiting_in_dlq(amqp_url) == count, "show must not take messages away"

    async with reports_consumer(amqp_url, database):
        code, out, err = await itemx(amqp_url, "dlq", "redrive", DLQ)
        assert code == 0, err
        back_to_its_queue = "-> exchange '' routing key transactions.reports"
        assert f"re-driven {failing.event_id} {back_to_its_queue}" in out

        async def seller_counted() -> bool:
            return await db.fetchval(
                "SELECT count(*) FROM reports_inbox WHERE user_id = $1", seller
            ) == 1

        await eventually(seller_counted, what="the re-driven event applied for the seller")

        async def poison_back() -> bool:
            return poison_id in await ids_in_dlq(amqp_url)

        await eventually(poison_back, what="the undecodable message dead-lettered again")

    buyer_days = await db.fetch("SELECT * FROM report_days WHERE user_id = $1", buyer)
    seller_days = await db.fetch("SELECT * FROM report_days WHERE user_id = $1", seller)
    assert [(r["purchases_count"], r["purchases_total"]) for r in buyer_days] == [(1, 1234)]
    assert [(r["sales_count"], r["sales_total"]) for r in seller_days] == [(1, 1234)]
    [again] = [d for d in await dlq.show(amqp_url, DLQ, 1000) if d.message_id == poison_id]
    assert again.deaths == 2 and again.reason == "rejected"

    code, _, err = await itemx(amqp_url, "dlq", "purge", DLQ)
    assert code == 2 and "--yes" in err, "no purge without --yes when nobody can be asked"
    code, out, _ = await itemx(amqp_url, "dlq", "purge", DLQ, "--yes")
    assert code == 0 and "purged" in out
    assert await waiting_in_dlq(amqp_url) == 0


async def test_dlq_commands_refuse_a_queue_that_is_not_a_dead_letter_queue(
    amqp_url: str,
) -> None:
    code, _, err = await itemx(amqp_url, "dlq", "purge", REPORTS.queue, "--yes")
    assert code == 2 and "not a dead-letter queue" in err and "Traceback" not in err
