"""The purchase saga as a pure state machine: (purchase, reply) -> (purchase, commands).

No I/O and no asyncio here: loading and saving the `purchases` row, sending the
commands, answering the gateway and the timeout sweeper live in `orchestrator.py` and
`sweeper.py`, around these functions.

```
PENDING --reserve--> RESERVED --debit--> DEBITED --credit--> CREDITED --mark sold--> COMPLETED
   | refused            | refused           | refused            | refused: retried (past the pivot)
   v                    v                   v
 FAILED            RELEASING --> FAILED   REFUNDING --> RELEASING --> FAILED
```

Every command carries the purchase id and is idempotent in its service; each reply
comes back tagged with the step it answers (`StepRef`, the AMQP correlation id). A
reply is applied only when it answers the current step of the current state; anything
else (a duplicate, a reply out of order, a late reply to a resent command) changes
nothing — except a late *success* of a step the saga has already compensated, whose
effect is compensated again (see `_late`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from contracts import Command, ErrorCode, ErrorReply, Reply
from contracts.accounts import CreditFunds, DebitFunds, FundsMoved, RefundFunds
from contracts.products import (
    ItemReleased,
    ItemReserved,
    ItemSold,
    MarkItemSold,
    ReleaseItem,
    ReserveItem,
)


class PurchaseState(StrEnum):
    PENDING = "PENDING"
    RESERVED = "RESERVED"
    DEBITED = "DEBITED"
    CREDITED = "CREDITED"
    COMPLETED = "COMPLETED"
    REFUNDING = "REFUNDING"
    RELEASING = "RELEASING"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (PurchaseState.COMPLETED, PurchaseState.FAILED)


class Step(StrEnum):
    """A command the saga sends; its name tags the command's reply."""

    RESERVE = "reserve"
    DEBIT = "debit"
    CREDIT = "credit"
    MARK_SOLD = "mark_sold"
    REFUND = "refund"
    RELEASE = "release"


CURRENT_STEP: dict[PurchaseState, Step] = {
    PurchaseState.PENDING: Step.RESERVE,
    PurchaseState.RESERVED: Step.DEBIT,
    PurchaseState.DEBITED: Step.CREDIT,
    PurchaseState.CREDITED: Step.MARK_SOLD,
    PurchaseState.REFUNDING: Step.REFUND,
    PurchaseState.RELEASING: Step.RELEASE,
}
"""The step each running state waits for; terminal states wait for nothing."""

COMPENSATING = (PurchaseState.REFUNDING, PurchaseState.RELEASING, PurchaseState.FAILED)


@dataclass(frozen=True)
class Purchase:
    """The saga's state: what the `purchases` row holds that the steps need."""

    purchase_id: UUID
    buyer_id: int
    seller_id: int
    item_id: int
    state: PurchaseState = PurchaseState.PENDING
    amount_cents: int | None = None
    """The price, known once the item is reserved."""
    error_code: ErrorCode | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class StepRef:
    """Which purchase and step a reply answers; travels as the AMQP correlation id
    `"<buyer_id>:<purchase_id>:<step>"`, so the reply finds the purchase row by its
    distribution key (the replies' bodies do not all name the buyer)."""

    buyer_id: int
    purchase_id: UUID
    step: Step

    def encode(self) -> str:
        return f"{self.buyer_id}:{self.purchase_id}:{self.step.value}"

    @classmethod
    def decode(cls, text: str | None) -> StepRef | None:
        """The reference in a correlation id, or None for anything else."""
        parts = (text or "").split(":")
        if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or len(parts[0]) > 18:
            return None
        try:
            return cls(int(parts[0]), UUID(parts[1]), Step(parts[2]))
        except ValueError:
            return None


@dataclass(frozen=True)
class Send:
    """A command to publish, tagged with the step it performs."""

    step: Step
    command: Command

    def ref(self, purchase: Purchase) -> StepRef:
        return StepRef(purchase.buyer_id, purchase.purchase_id, self.step)


@dataclass(frozen=True)
class Decision:
    """What to do after a reply: save `purchase` when `changed`, then send `sends`."""

    purchase: Purchase
    sends: tuple[Send, ...] = ()
    changed: bool = False
    note: str | None = None
    """Why a reply changed nothing, or an anomaly worth a log line."""
    anomaly: bool = False

    @property
    def finished(self) -> bool:
        """The saga reached its final state with this decision."""
        return self.changed and self.purchase.state.terminal


def start(purchase_id: UUID, buyer_id: int, seller_id: int, item_id: int) -> Decision:
    """A new saga: PENDING, reserving the item."""
    purchase = Purchase(purchase_id, buyer_id, seller_id, item_id)
    return Decision(purchase, (command_for(purchase, Step.RESERVE),), changed=True)


def command_for(purchase: Purchase, step: Step) -> Send:
    """The command of `step` for this purchase: always the same for the same purchase."""
    p = purchase
    if step is Step.RESERVE:
        command: Command = ReserveItem(
            purchase_id=p.purchase_id, seller_id=p.seller_id, item_id=p.item_id,
            buyer_id=p.buyer_id,
        )
    elif step is Step.RELEASE:
        command = ReleaseItem(purchase_id=p.purchase_id, seller_id=p.seller_id, item_id=p.item_id)
    elif step is Step.MARK_SOLD:
        command = MarkItemSold(
            purchase_id=p.purchase_id, seller_id=p.seller_id, item_id=p.item_id,
            buyer_id=p.buyer_id,
        )
    else:
        if p.amount_cents is None:
            raise ValueError(f"{step} needs the price, known once the item is reserved")
        money = {"purchase_id": p.purchase_id, "amount_cents": p.amount_cents}
        if step is Step.DEBIT:
            command = DebitFunds(user_id=p.buyer_id, **money)
        elif step is Step.CREDIT:
            command = CreditFunds(user_id=p.seller_id, **money)
        else:
            command = RefundFunds(user_id=p.buyer_id, **money)
    return Send(step, command)


def resend(purchase: Purchase) -> tuple[Send, ...]:
    """What the sweeper sends for a saga that stopped moving: the current step again."""
    step = CURRENT_STEP.get(purchase.state)
    return () if step is None else (command_for(purchase, step),)


def retry_delay(attempt: int, step_timeout: float) -> float:
    """How long to wait for a reply before resending: doubling per resend, up to 8x."""
    return step_timeout * 2 ** min(max(attempt, 0), 3)


def on_reply(purchase: Purchase, step: Step, reply: Reply) -> Decision:
    """Apply the reply to `step`'s command."""
    if step is not CURRENT_STEP.get(purchase.state):
        return _late(purchase, step, reply)
    if not _answers(purchase, step, reply):
        return Decision(purchase, note=f"{type(reply).__name__} does not answer {step}")
    if isinstance(reply, ErrorReply):
        return _refused(purchase, reply)
    return _advance(purchase, reply)


def _answers(purchase: Purchase, step: Step, reply: Reply) -> bool:
    """The reply is of the kind `step` expects, about this purchase."""
    if isinstance(reply, ErrorReply):
        return True
    expected = {
        Step.RESERVE: ItemReserved, Step.RELEASE: ItemReleased, Step.MARK_SOLD: ItemSold,
        Step.DEBIT: FundsMoved, Step.CREDIT: FundsMoved, Step.REFUND: FundsMoved,
    }[step]
    if not isinstance(reply, expected) or reply.purchase_id != purchase.purchase_id:
        return False
    if isinstance(reply, FundsMoved):
        payee = purchase.seller_id if step is Step.CREDIT else purchase.buyer_id
        return reply.user_id == payee
    if isinstance(reply, ItemReserved | ItemReleased | ItemSold):
        return (reply.seller_id, reply.item_id) == (purchase.seller_id, purchase.item_id)
    return True


def _advance(purchase: Purchase, reply: Reply) -> Decision:
    state = purchase.state
    if state is PurchaseState.PENDING:
        assert isinstance(reply, ItemReserved)
        nxt = dataclasses.replace(
            purchase, state=PurchaseState.RESERVED, amount_cents=reply.price_cents
        )
        return _moved(nxt, Step.DEBIT)
    following = {
        PurchaseState.RESERVED: (PurchaseState.DEBITED, Step.CREDIT),
        PurchaseState.DEBITED: (PurchaseState.CREDITED, Step.MARK_SOLD),
        PurchaseState.CREDITED: (PurchaseState.COMPLETED, None),
        PurchaseState.REFUNDING: (PurchaseState.RELEASING, Step.RELEASE),
        PurchaseState.RELEASING: (PurchaseState.FAILED, None),
    }
    new_state, step = following[state]
    return _moved(dataclasses.replace(purchase, state=new_state), step)


def _moved(purchase: Purchase, step: Step | None) -> Decision:
    sends = () if step is None else (command_for(purchase, step),)
    return Decision(purchase, sends, changed=True)


def _refused(purchase: Purchase, error: ErrorReply) -> Decision:
    """A step refused: compensate what was done before it. Past the pivot (credited) and
    during compensation there is no going back: the step is retried by the sweeper."""
    failed = {"error_code": error.code, "error_message": error.message}
    state = purchase.state
    if state is PurchaseState.PENDING:  # nothing was done
        return _moved(dataclasses.replace(purchase, state=PurchaseState.FAILED, **failed), None)
    if state is PurchaseState.RESERVED:  # the item is held: let it go
        nxt = dataclasses.replace(purchase, state=PurchaseState.RELEASING, **failed)
        return _moved(nxt, Step.RELEASE)
    if state is PurchaseState.DEBITED:  # the buyer paid: pay back, then let the item go
        nxt = dataclasses.replace(purchase, state=PurchaseState.REFUNDING, **failed)
        return _moved(nxt, Step.REFUND)
    return Decision(
        purchase, anomaly=True,
        note=f"{CURRENT_STEP[state]} refused in {state} ({error.code}): retried on timeout",
    )


def _late(purchase: Purchase, step: Step, reply: Reply) -> Decision:
    """A reply to a step that is not the current one. Ignored, unless it tells of an
    effect the saga has already decided against: a resent reserve or debit that took
    effect after the saga began compensating. That effect is compensated again (release
    and refund are idempotent and no-ops when there is nothing to undo)."""
    state = purchase.state
    ignored = Decision(purchase, note=f"{step} reply ignored in {state}")
    if isinstance(reply, ErrorReply) or not _answers(purchase, step, reply):
        return ignored
    if step is Step.RESERVE and state in (PurchaseState.RELEASING, PurchaseState.FAILED):
        return Decision(purchase, (command_for(purchase, Step.RELEASE),),
                        note="late reservation released again")
    if step is Step.DEBIT and state in (PurchaseState.RELEASING, PurchaseState.FAILED):
        if purchase.amount_cents is None:
            return ignored
        return Decision(purchase, (command_for(purchase, Step.REFUND),),
                        note="late debit refunded")
    if step is Step.CREDIT and state in COMPENSATING:
        return Decision(purchase, anomaly=True,
                        note="seller credited after the saga began compensating")
    return ignored
