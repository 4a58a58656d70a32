"""The reports read model with real PostgreSQL and RabbitMQ: purchase.completed events
published to `itemx.events` reach the reports queue, are counted for the buyer and the
seller per UTC day, and a redelivered event is counted once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg

from contracts.reports import GetReport, Report
from tests.support.reports import (
    eventually,
    publish_events,
    purchase,
    reports_consumer,
    unique_user_id,
)
from workers.common.db import Database
from workers.transactions import reports
from workers.transactions import reports_repository as repo

DAY_ONE = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
DAY_TWO = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)



async def report_of(db: Database, user_id: int, **bounds: date) -> Report:
    return await reports.get_report(GetReport(user_id=user_id, **bounds), reports.Deps(db, db))


async def inbox_rows(db: asyncpg.Connection | Database, user_id: int) -> int:
    async with db.connection() as conn:  # type: ignore[union-attr]
        return await conn.fetchval("SELECT count(*) FROM reports_inbox WHERE user_id = $1", user_id)


async def test_events_count_for_buyer_and_seller_per_day(
    database: Database, amqp_url: str
) -> None:
    buyer, seller, other_seller = unique_user_id(), unique_user_id(), unique_user_id()
    events = [
        purchase(buyer, seller, 1250, DAY_ONE),
        purchase(buyer, other_seller, 99, DAY_TWO),
        purchase(buyer, seller, 1, DAY_TWO),
    ]
    async with reports_consumer(amqp_url, database):
        await publish_events(amqp_url, *events)

        async def all_applied() -> bool:
            return (await report_of(database, buyer)).purchases_count == 3

        await eventually(all_applied, what="three purchases in the buyer's report")

    mine = await report_of(database, buyer)
    assert (mine.purchases_count, mine.purchases_total_cents) == (3, 1350)
    assert (mine.sales_count, mine.sales_total_cents) == (0, 0)
    assert [(d.day, d.purchases_count, d.purchases_total_cents) for d in mine.days] == [
        (date(2026, 3, 1), 1, 1250), (date(2026, 3, 2), 2, 100),
    ]
    theirs = await report_of(database, seller)
    assert (theirs.sales_count, theirs.sales_total_cents, theirs.purchases_count) == (2, 1251, 0)

    narrowed = await report_of(database, buyer, date_from=date(2026, 3, 2))
    assert (narrowed.purchases_count, narrowed.purchases_total_cents) == (2, 100)
    first_day = await report_of(
        database, buyer, date_from=date(2026, 3, 1), date_to=date(2026, 3, 1)
    )
    assert [d.day for d in first_day.days] == [date(2026, 3, 1)]
    assert (await report_of(database, buyer, date_to=date(2026, 2, 28))).days == ()


async def test_redelivered_event_is_counted_once(database: Database, amqp_url: str) -> None:
    buyer, seller = unique_user_id(), unique_user_id()
    event = purchase(buyer, seller, 700, DAY_ONE)
    marker = purchase(buyer, seller, 1, DAY_TWO)
    async with reports_consumer(amqp_url, database):
        await publish_events(amqp_url, event, event, event)  # the relay published it thrice
        await publish_events(amqp_url, marker)

        async def marker_applied() -> bool:
            return await inbox_rows(database, seller) == 2

        await eventually(marker_applied, what="the marker event")

    report = await report_of(database, buyer)
    assert (report.purchases_count, report.purchases_total_cents) == (2, 701)
    assert (await report_of(database, seller)).sales_total_cents == 701


async def test_half_applied_event_is_completed_by_its_redelivery(database: Database) -> None:
    """A crash between the buyer's and the seller's transaction: the redelivery adds the
    seller's share and leaves the buyer's alone."""
    buyer, seller = unique_user_id(), unique_user_id()
    event = purchase(buyer, seller, 4200, DAY_TWO)
    buyer_share, _ = reports.entries_of(event)
    async with database.transaction() as conn:
        assert await repo.apply_entry(conn, buyer_share)

    deps = reports.Deps(database, database)
    await reports.apply_purchase_completed(event, deps)
    await reports.apply_purchase_completed(event, deps)

    assert (await report_of(database, buyer)).purchases_total_cents == 4200
    seller_report = await report_of(database, seller)
    assert (seller_report.sales_count, seller_report.sales_total_cents) == (1, 4200)


def test_an_event_counts_on_its_utc_day() -> None:
    late_evening_in_new_york = datetime(2026, 3, 1, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    event = purchase(1, 2, 100, late_evening_in_new_york)
    assert {entry[3] for entry in reports.entries_of(event)} == {date(2026, 3, 2)}
    assert [entry[2] for entry in reports.entries_of(event)] == [repo.BUYER, repo.SELLER]
