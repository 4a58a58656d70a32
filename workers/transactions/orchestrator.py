"""Runs the purchase saga (`saga.py`) against the world: loads and saves the `purchases`
row, sends the steps' commands, records the sale, announces the outcome.

The order of things is what makes a crash at any point harmless:
1. a transition is saved by compare-and-set on the state it was computed from (by
   buyer_id and row id), so two workers never apply two replies to one saga at once: the
   loser reads the row again and the state machine sees the reply is stale;
2. only after the commit is the next step's command sent; a crash in between leaves a
   row whose step is overdue, and the sweeper sends the step again (`resume`);
3. a reply applied twice, or late, changes nothing (the state machine ignores it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from broker.codec import envelope_for
from broker.connection import BrokerUnavailable
from broker.outbox import OutboxRelay, add_event
from broker.publisher import DIRECT_REPLY_TO, Publisher, PublishFailed
from broker.topology import COMMANDS_EXCHANGE
from contracts import ErrorCode, Refusal, Reply
from contracts.products import ItemSold
from contracts.transactions import PurchaseItem, PurchaseOutcome
from workers.common.db import Database
from workers.transactions import repository as repo
from workers.transactions import saga
from workers.transactions.faults import CrashSwitch
from workers.transactions.outcomes import final_event, outcome_at_end, outcome_of, purchase_of
from workers.transactions.saga import Decision, Purchase, PurchaseState, Send, Step, StepRef

log = logging.getLogger(__name__)

OUTBOX = "transactions_outbox"

MAX_CONFLICTS = 10
"""Compare-and-set attempts before a reply is handed back to the consumer (requeued)."""


class SagaConflict(Exception):
    """The purchase row changed under every attempt to save a transition."""


Waiter = tuple[str | None, str | None, str | None]
"""(reply_to, correlation_id, request_id) of the PurchaseItem command to answer."""


@dataclass(frozen=True)
class SagaOrchestrator:
    db: Database
    publisher: Publisher
    outbox: OutboxRelay
    step_timeout: float = 5.0
    crash: CrashSwitch = field(default_factory=CrashSwitch)

    async def begin(self, cmd: PurchaseItem, waiter: Waiter) -> PurchaseOutcome | None:
        """Start the saga of a new purchase id (answered when it ends: None now), or
        answer a known one: its outcome when final, else at its end."""
        decision = saga.start(cmd.purchase_id, cmd.buyer_id, cmd.seller_id, cmd.item_id)
        async with self.db.connection() as conn:  # one statement: its own transaction
            row = await repo.insert_purchase(
                conn, cmd.buyer_id, cmd.purchase_id, cmd.seller_id, cmd.item_id,
                self.step_timeout, waiter,
            )
            if row is None:
                async with conn.transaction():
                    return await self._known(conn, cmd, waiter)
        self.crash.after("start")
        await self._send(decision.purchase, decision.sends, waiter[2])
        return None

    async def _known(
        self, conn: asyncpg.Connection, cmd: PurchaseItem, waiter: Waiter
    ) -> PurchaseOutcome | None:
        row = await repo.lock_purchase(conn, cmd.buyer_id, cmd.purchase_id)
        if row is None or (row["seller_id"], row["item_id"]) != (cmd.seller_id, cmd.item_id):
            raise Refusal(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a purchase of another item",
            )
        if PurchaseState(row["state"]).terminal:
            return outcome_of(row)
        await repo.set_waiter(conn, row["buyer_id"], row["id"], waiter)
        return None

    async def outcome(self, buyer_id: int, purchase_id: UUID) -> PurchaseOutcome | None:
        async with self.db.connection() as conn:
            row = await repo.get_purchase(conn, buyer_id, purchase_id)
        return outcome_of(row) if row is not None else None

    async def apply(self, ref: StepRef, reply: Reply) -> Decision | None:
        """Apply a step's reply: save the transition, then act on it."""
        sale = None
        if ref.step is Step.MARK_SOLD and isinstance(reply, ItemSold):
            sale = await self._record_sale(ref)
        for _ in range(MAX_CONFLICTS):
            async with self.db.connection() as conn:
                row = await repo.get_purchase(conn, ref.buyer_id, ref.purchase_id)
                if row is None:
                    log.warning("reply %s for unknown purchase %s", type(reply).__name__, ref)
                    return None
                decision = saga.on_reply(purchase_of(row), ref.step, reply)
                if decision.finished and decision.purchase.state is PurchaseState.COMPLETED and (
                    sale is None
                ):
                    # the sale could not be recorded (the row was not CREDITED when read):
                    # leave the saga as it is; the sweeper resends mark-sold
                    decision = Decision(purchase_of(row), note="sale not recorded: retried later")
                if not decision.changed or await self._save(conn, row, decision, sale):
                    break
        else:
            raise SagaConflict(f"purchase {ref.purchase_id}: its row kept moving")
        self._log(ref, decision)
        if decision.changed:
            self.crash.after(ref.step.value)
        if decision.finished:
            self.outbox.wake()
            await self._answer(row, decision.purchase, sale)
        await self._send(decision.purchase, decision.sends, row["request_id"],
                         must_deliver=not decision.changed)
        return decision

    async def _record_sale(self, ref: StepRef) -> tuple[int, datetime] | None:
        """Write the sale on the seller's shard, before the purchase (buyer's shard) is
        COMPLETED: each write is a local transaction on one distribution key (`citus.md`,
        rule 10), and a crash between the two only repeats this idempotent insert (unique
        per purchase) when the sweeper resends mark-sold. The `purchase.completed` event
        goes out with the purchase's final state, which happens once under its row lock,
        so each completed purchase is announced exactly once, after its sale exists."""
        async with self.db.connection() as conn:
            row = await repo.get_purchase(conn, ref.buyer_id, ref.purchase_id)
            if row is None or row["state"] != PurchaseState.CREDITED or row["amount"] is None:
                return None
            sale = await repo.record_sale(
                conn, row["seller_id"], row["purchase_id"], row["buyer_id"], row["item_id"],
                row["amount"],
            )
        self.crash.after("record")
        return sale["id"], sale["created_at"]

    async def _save(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        decision: Decision,
        sale: tuple[int, datetime] | None,
    ) -> bool:
        """Save a transition computed from `row`; False when the row moved on meanwhile.
        A final state and its event are saved in one transaction (the outbox)."""
        p = decision.purchase
        transition = (
            row["buyer_id"], row["id"], row["state"], p.state.value, p.amount_cents,
            (p.error_code.value if p.error_code else None, p.error_message),
            self.step_timeout, sale if p.state is PurchaseState.COMPLETED else None,
        )
        if not decision.finished:
            return await repo.save_transition(conn, *transition)
        async with conn.transaction():
            if not await repo.save_transition(conn, *transition):
                return False
            await add_event(conn, OUTBOX, p.buyer_id, final_event(p, sale), row["request_id"])
        return True

    async def resume(self, buyer_id: int, purchase_id: UUID) -> bool:
        """The sweeper's part: send the current step of an overdue saga again (the same
        command, so its service answers the same if it already did it)."""
        async with self.db.connection() as conn:
            row = await repo.get_purchase(conn, buyer_id, purchase_id)
            if row is None or PurchaseState(row["state"]).terminal:
                return False
            attempt = row["attempt"] + 1
            claimed = await repo.postpone(
                conn, buyer_id, row["id"], row["state"], row["attempt"],
                saga.retry_delay(attempt, self.step_timeout),
            )
        if not claimed:
            return False  # it moved, or another sweeper took it
        purchase = purchase_of(row)
        sends = saga.resend(purchase)
        log.info("purchase %s stalled in %s: resending %s (attempt %d)", purchase_id,
                 purchase.state, ", ".join(s.step for s in sends), attempt)
        await self._send(purchase, sends, row["request_id"])
        return True

    async def _send(
        self, purchase: Purchase, sends: tuple[Send, ...], request_id: str | None,
        *, must_deliver: bool = False,
    ) -> None:
        """Publish the steps' commands (persistent, confirmed); replies come back over
        direct reply-to, tagged with their step. They need no durable queue: the step is
        saved before it is sent, so a reply lost with a connection or a worker costs only
        the sweeper's resend. A failed publish of a saved step is left to the sweeper;
        one that no saved state remembers is raised."""
        for send in sends:
            envelope = envelope_for(
                send.command, request_id=request_id, correlation_id=send.ref(purchase).encode()
            )
            try:
                await self.publisher.publish(
                    COMMANDS_EXCHANGE, send.command, envelope=envelope, reply_to=DIRECT_REPLY_TO
                )
            except (BrokerUnavailable, PublishFailed) as exc:
                if must_deliver:
                    raise
                log.warning("purchase %s: %s not sent (%s): the sweeper will resend it",
                            purchase.purchase_id, send.step, exc)

    async def _answer(
        self, row: asyncpg.Record, purchase: Purchase, sale: tuple[int, datetime] | None
    ) -> None:
        """Answer the gateway's PurchaseItem, if anyone still waits for it."""
        reply_to = row["reply_to"]
        if not reply_to:
            return
        outcome = outcome_at_end(purchase, sale)
        envelope = envelope_for(
            outcome, request_id=row["request_id"], correlation_id=row["correlation_id"]
        )
        try:
            await self.publisher.reply(reply_to, outcome, envelope)
        except (BrokerUnavailable, PublishFailed) as exc:  # the client can poll the status
            log.info("purchase %s: outcome not delivered to its caller: %s",
                     purchase.purchase_id, exc)

    def _log(self, ref: StepRef, decision: Decision) -> None:
        if decision.anomaly:
            log.error("purchase %s: %s", ref.purchase_id, decision.note)
        elif decision.note:
            log.info("purchase %s: %s", ref.purchase_id, decision.note)
