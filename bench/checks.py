"""After the load: wait for the sagas and outboxes to drain, then check that nothing was
lost or made up — items, money, sagas — and count the AMQP messages a purchase cost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

TERMINAL_STATES = ("COMPLETED", "FAILED")
PUBLISHED_METRIC = "itemx_bench_amqp_published"
HANDLER_METRIC = "itemx_handler_seconds"
STATEMENTS_METRIC = "itemx_bench_db_statements"


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def in_flight(conn: asyncpg.Connection) -> dict[str, int]:
    """What is still moving: running sagas, reserved items, unpublished events."""
    tables = await _tables(conn)
    moving: dict[str, int] = {}
    if "purchases" in tables:
        moving["running_sagas"] = await conn.fetchval(
            "SELECT count(*) FROM purchases WHERE state <> ALL($1::text[])", list(TERMINAL_STATES)
        )
    if "items" in tables:
        moving["reserved_items"] = await conn.fetchval(
            "SELECT count(*) FROM items WHERE status = 'reserved'"
        )
    for table in sorted(t for t in tables if t.endswith("_outbox")):
        moving[f"{table}_pending"] = await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE published_at IS NULL"  # noqa: S608
        )
    return moving


async def drain(url: str, timeout: float, settle: float = 0.5) -> tuple[bool, float, dict]:
    """Wait until nothing is in flight (twice in a row, `settle` apart), up to `timeout`."""
    started = time.monotonic()
    conn = await asyncpg.connect(url)
    try:
        quiet = 0
        while True:
            moving = await in_flight(conn)
            quiet = quiet + 1 if not any(moving.values()) else 0
            if quiet >= 2:
                return True, time.monotonic() - started, moving
            if time.monotonic() - started > timeout:
                return False, time.monotonic() - started, moving
            await asyncio.sleep(settle)
    finally:
        await conn.close()


async def purchase_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        tables = await _tables(conn)
        counts = {"transactions": 0, "purchases": 0}
        if "transactions" in tables:
            counts["transactions"] = await conn.fetchval("SELECT count(*) FROM transactions")
        if "purchases" in tables:
            counts["purchases"] = await conn.fetchval("SELECT count(*) FROM purchases")
        return counts
    finally:
        await conn.close()


def scrape(metrics_ports: dict[str, int]) -> dict[str, Counter[str]]:
    """From the processes behind these metrics ports: AMQP messages published so far by
    type (`published`), database round trips by verb (`statements`), and the consumers'
    handler time by service and type (`handler_
    seconds`, `handled`: decode to ack, the reply's publish included)."""
    published: Counter[str] = Counter()
    statements: Counter[str] = Counter()
    handler_seconds: Counter[str] = Counter()
    handled: Counter[str] = Counter()
    for process, port in metrics_ports.items():
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if family.name == PUBLISHED_METRIC and sample.name.endswith("_total"):
                    published[sample.labels["type"]] += int(sample.value)
                elif family.name == STATEMENTS_METRIC and sample.name.endswith("_total"):
                    statements[f"{process} {sample.labels['verb']}"] += int(sample.value)
                elif family.name == HANDLER_METRIC and sample.name.endswith(("_sum", "_count")):
                    key = f"{sample.labels['service']} {sample.labels['type']}"
                    if sample.name.endswith("_sum"):
                        handler_seconds[key] += sample.value  # type: ignore[assignment]
                    else:
                        handled[key] += int(sample.value)
    return {"published": published, "statements": statements,
            "handler_seconds": handler_seconds, "handled": handled}


@dataclass
class Invariants:
    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


async def check_invariants(
    url: str,
    *,
    seeded_balance_cents: int,
    seeded_deposits: int,
    deposits_ok: int,
    deposits_unknown: int,
    deposit_cents: int,
    monolith_ok: int,
    monolith_unknown: int,
    saga_ok: int,
    saga_unknown: int,
    drained: bool,
) -> Invariants:
    """Items: each sold item has exactly one sale, none left reserved. Money: balances sum
    to the seeded total plus the deposits the bench made, equal to the ledger's deposits;
    debits = credits + refunds; credits = sales. Sagas: none left running."""
    result = Invariants()
    conn = await asyncpg.connect(url)
    try:
        tables = await _tables(conn)
        figures = result.figures
        figures["balances_sum"] = await conn.fetchval("SELECT sum(balance)::bigint FROM users")
        figures["negative_balances"] = await conn.fetchval(
            "SELECT count(*) FROM users WHERE balance < 0"
        )
        ledger = {
            row["kind"]: (row["n"], row["total"])
            for row in await conn.fetch(
                "SELECT kind, count(*) AS n, sum(amount)::bigint AS total FROM ledger GROUP BY kind"
            )
        }
        deposits_n, deposits_total = ledger.get("deposit", (0, 0))
        figures["ledger_deposits"] = deposits_n
        figures["ledger_deposits_sum"] = deposits_total
        for kind in ("debit", "credit", "refund"):
            figures[f"ledger_{kind}s_sum"] = ledger.get(kind, (0, 0))[1]
        bench_deposits = deposits_n - seeded_deposits
        figures["bench_deposits_applied"] = bench_deposits
        figures["bench_deposits_ok"] = deposits_ok

        checks = result.checks
        checks["balances = seeded + deposits made"] = (
            figures["balances_sum"] == seeded_balance_cents + bench_deposits * deposit_cents
            and deposits_ok <= bench_deposits <= deposits_ok + deposits_unknown
        )
        checks["balances = ledger deposits"] = figures["balances_sum"] == deposits_total
        checks["no negative balance"] = figures["negative_balances"] == 0
        checks["debits = credits + refunds"] = (
            figures["ledger_debits_sum"] == figures["ledger_credits_sum"] + figures[
                "ledger_refunds_sum"]
        )

        figures["items_sold"] = await conn.fetchval(
            "SELECT count(*) FROM items WHERE status = 'sold'"
        )
        figures["items_reserved"] = await conn.fetchval(
            "SELECT count(*) FROM items WHERE status = 'reserved'"
        )
        figures["transactions"] = await conn.fetchval("SELECT count(*) FROM transactions")
        figures["transactions_sum"] = await conn.fetchval(
            "SELECT coalesce(sum(amount), 0)::bigint FROM transactions"
        )
        figures["sold_without_one_sale"] = await conn.fetchval(
            "SELECT count(*) FROM items i WHERE i.status = 'sold' AND (SELECT count(*)"
            " FROM transactions t WHERE t.seller_id = i.seller_id AND t.item_id = i.id) <> 1"
        )
        figures["sales_of_unsold_items"] = await conn.fetchval(
            "SELECT count(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM items i"
            " WHERE i.seller_id = t.seller_id AND i.id = t.item_id AND i.status = 'sold')"
        )
        checks["sold items = completed transactions"] = (
            figures["items_sold"] == figures["transactions"]
            and figures["sold_without_one_sale"] == 0
            and figures["sales_of_unsold_items"] == 0
        )
        checks["no item left reserved"] = figures["items_reserved"] == 0
        checks["credits = sales"] = figures["ledger_credits_sum"] == figures["transactions_sum"]

        if "purchases" in tables:
            states = {
                row["state"]: row["n"]
                for row in await conn.fetch(
                    "SELECT state, count(*) AS n FROM purchases GROUP BY state"
                )
            }
            figures["sagas_completed"] = states.get("COMPLETED", 0)
            figures["sagas_failed"] = states.get("FAILED", 0)
            figures["sagas_running"] = sum(
                n for state, n in states.items() if state not in TERMINAL_STATES
            )
            sales_by_saga_state = {
                row["state"]: row["n"]
                for row in await conn.fetch(
                    "SELECT p.state, count(*) AS n FROM transactions t LEFT JOIN purchases p"
                    " ON p.purchase_id = t.purchase_id GROUP BY p.state"
                )
            }
            saga_sales = sales_by_saga_state.pop("COMPLETED", 0)
            figures["monolith_sales"] = sales_by_saga_state.pop(None, 0)
            figures["sales_of_unfinished_or_failed_sagas"] = sum(sales_by_saga_state.values())
            checks["no saga left pending"] = figures["sagas_running"] == 0
            checks["completed sagas = the 201s (a 202 or an error may go either way)"] = (
                saga_ok <= figures["sagas_completed"] <= saga_ok + saga_unknown
            )
            checks["completed sagas = their sales"] = (
                saga_sales == figures["sagas_completed"]
                and figures["sales_of_unfinished_or_failed_sagas"] == 0
            )
        else:
            figures["monolith_sales"] = figures["transactions"]
        checks["monolith sales = its 201s"] = (
            monolith_ok <= figures["monolith_sales"] <= monolith_ok + monolith_unknown
        )
    finally:
        await conn.close()
    if not drained:
        result.notes.append("the drain period ended with work still in flight")
    return result
