"""The purchase saga's state machine, exhaustively: every state x every step's reply
(successes and error codes), duplicates, replies out of order, late replies after a
resend, and the resend itself."""

from __future__ import annotations

import itertools
import random
import uuid

import pytest

from contracts import ErrorCode, ErrorReply, Reply
from contracts.accounts import CreditFunds, DebitFunds, FundsMoved, RefundFunds
from contracts.products import (
    ItemReleased,
    ItemReserved,
    ItemSold,
    MarkItemSold,
    ReleaseItem,
    ReserveItem,
)
from workers.transactions import saga
from workers.transactions.saga import (
    CURRENT_STEP,
    Decision,
    Purchase,
    PurchaseState,
    Step,
    StepRef,
)

S = PurchaseState
PURCHASE_ID = uuid.UUID("0b7c6c8e-4a53-4f55-9d0e-1f3d1d6a0001")
BUYER, SELLER, ITEM, PRICE = 7, 3, 41, 1250

ERROR_CODES = (
    ErrorCode.ITEM_NOT_FOUND,
    ErrorCode.ITEM_NOT_AVAILABLE,
    ErrorCode.CANNOT_BUY_OWN_ITEM,
    ErrorCode.INSUFFICIENT_FUNDS,
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.INTERNAL_ERROR,
)


def purchase_in(state: PurchaseState) -> Purchase:
    """A purchase that reached `state` the usual way (the price is known past PENDING;
    a compensating or failed one carries the error that started compensation)."""
    amount = None if state is S.PENDING else PRICE
    error = {}
    if state in (S.REFUNDING, S.RELEASING, S.FAILED):
        error = {"error_code": ErrorCode.INSUFFICIENT_FUNDS, "error_message": "poor"}
    return Purchase(PURCHASE_ID, BUYER, SELLER, ITEM, state, amount, **error)


def success(step: Step, purchase_id: uuid.UUID = PURCHASE_ID) -> Reply:
    """The reply of a step that did what it was asked."""
    item = {"purchase_id": purchase_id, "seller_id": SELLER, "item_id": ITEM}
    if step is Step.RESERVE:
        return ItemReserved(**item, price_cents=PRICE, title="Lamp")
    if step is Step.RELEASE:
        return ItemReleased(**item)
    if step is Step.MARK_SOLD:
        return ItemSold(**item)
    user = SELLER if step is Step.CREDIT else BUYER
    return FundsMoved(purchase_id=purchase_id, user_id=user, amount_cents=PRICE, balance_cents=0)


def refusal(code: ErrorCode) -> ErrorReply:
    return ErrorReply(code=code, message=f"refused: {code}")


def sent_steps(decision: Decision) -> list[Step]:
    return [send.step for send in decision.sends]


# --- the expected behaviour, written out as tables ------------------------------------

ON_SUCCESS = {  # state -> (new state, steps sent)
    S.PENDING: (S.RESERVED, [Step.DEBIT]),
    S.RESERVED: (S.DEBITED, [Step.CREDIT]),
    S.DEBITED: (S.CREDITED, [Step.MARK_SOLD]),
    S.CREDITED: (S.COMPLETED, []),
    S.REFUNDING: (S.RELEASING, [Step.RELEASE]),
    S.RELEASING: (S.FAILED, []),
}

ON_REFUSAL = {  # state -> (new state, steps sent); None: unchanged, retried on timeout
    S.PENDING: (S.FAILED, []),
    S.RESERVED: (S.RELEASING, [Step.RELEASE]),
    S.DEBITED: (S.REFUNDING, [Step.REFUND]),
    S.CREDITED: None,
    S.REFUNDING: None,
    S.RELEASING: None,
}

LATE_SUCCESS = {  # (state, step) -> steps sent again, for an effect already compensated
    (S.RELEASING, Step.RESERVE): [Step.RELEASE],
    (S.FAILED, Step.RESERVE): [Step.RELEASE],
    (S.RELEASING, Step.DEBIT): [Step.REFUND],
    (S.FAILED, Step.DEBIT): [Step.REFUND],
}
ANOMALIES = {(state, Step.CREDIT) for state in (S.REFUNDING, S.RELEASING, S.FAILED)}


def test_the_tables_cover_every_running_state() -> None:
    running = {state for state in S if not state.terminal}
    assert set(ON_SUCCESS) == set(ON_REFUSAL) == set(CURRENT_STEP) == running


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("step", list(Step))
def test_every_state_and_every_successful_reply(state: PurchaseState, step: Step) -> None:
    purchase = purchase_in(state)
    decision = saga.on_reply(purchase, step, success(step))
    if CURRENT_STEP.get(state) is step:
        new_state, steps = ON_SUCCESS[state]
        assert decision.changed
        assert decision.purchase.state is new_state
        assert sent_steps(decision) == steps
        assert decision.finished == new_state.terminal
    else:
        assert not decision.changed
        assert decision.purchase == purchase
        assert sent_steps(decision) == LATE_SUCCESS.get((state, step), [])
        assert decision.anomaly == ((state, step) in ANOMALIES)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_state_and_every_refusal(state: PurchaseState, step: Step, code: ErrorCode) -> None:
    purchase = purchase_in(state)
    decision = saga.on_reply(purchase, step, refusal(code))
    expected = ON_REFUSAL.get(state) if CURRENT_STEP.get(state) is step else None
    if expected is None:
        assert not decision.changed
        assert decision.purchase == purchase
        assert decision.sends == ()
        # a refusal of the current step past the pivot is worth an operator's attention
        assert decision.anomaly == (CURRENT_STEP.get(state) is step)
        return
    new_state, steps = expected
    assert decision.changed
    assert decision.purchase.state is new_state
    assert sent_steps(decision) == steps
    assert decision.purchase.error_code is code
    assert decision.purchase.error_message == f"refused: {code}"


def test_the_price_comes_from_the_reservation() -> None:
    reserved = saga.on_reply(purchase_in(S.PENDING), Step.RESERVE, ItemReserved(
        purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM, price_cents=990, title="Lamp"
    ))
    assert reserved.purchase.amount_cents == 990
    (debit,) = reserved.sends
    assert debit.command == DebitFunds(purchase_id=PURCHASE_ID, user_id=BUYER, amount_cents=990)


def test_each_step_sends_its_command_with_the_purchase_id() -> None:
    purchase = purchase_in(S.RESERVED)
    commands = {step: saga.command_for(purchase, step).command for step in Step}
    assert commands == {
        Step.RESERVE: ReserveItem(
            purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM, buyer_id=BUYER
        ),
        Step.DEBIT: DebitFunds(purchase_id=PURCHASE_ID, user_id=BUYER, amount_cents=PRICE),
        Step.CREDIT: CreditFunds(purchase_id=PURCHASE_ID, user_id=SELLER, amount_cents=PRICE),
        Step.MARK_SOLD: MarkItemSold(
            purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM, buyer_id=BUYER
        ),
        Step.REFUND: RefundFunds(purchase_id=PURCHASE_ID, user_id=BUYER, amount_cents=PRICE),
        Step.RELEASE: ReleaseItem(purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM),
    }


def test_money_steps_need_the_price() -> None:
    with pytest.raises(ValueError, match="price"):
        saga.command_for(purchase_in(S.PENDING), Step.DEBIT)


def test_start_is_pending_and_reserves() -> None:
    decision = saga.start(PURCHASE_ID, BUYER, SELLER, ITEM)
    assert decision.changed and not decision.finished
    assert decision.purchase == purchase_in(S.PENDING)
    assert [s.command for s in decision.sends] == [
        ReserveItem(purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM, buyer_id=BUYER)
    ]


# --- whole sagas ---------------------------------------------------------------------


def run(replies: list[tuple[Step, Reply]]) -> tuple[Purchase, list[Step]]:
    """Apply replies in order from a new saga; return the end state and every step sent."""
    decision = saga.start(PURCHASE_ID, BUYER, SELLER, ITEM)
    sent = sent_steps(decision)
    purchase = decision.purchase
    for step, reply in replies:
        decision = saga.on_reply(purchase, step, reply)
        purchase = decision.purchase
        sent += sent_steps(decision)
    return purchase, sent


def test_the_happy_path_completes() -> None:
    steps = [Step.RESERVE, Step.DEBIT, Step.CREDIT, Step.MARK_SOLD]
    purchase, sent = run([(step, success(step)) for step in steps])
    assert purchase.state is S.COMPLETED and purchase.error_code is None
    assert sent == steps


def test_insufficient_funds_releases_the_item() -> None:
    purchase, sent = run([
        (Step.RESERVE, success(Step.RESERVE)),
        (Step.DEBIT, refusal(ErrorCode.INSUFFICIENT_FUNDS)),
        (Step.RELEASE, success(Step.RELEASE)),
    ])
    assert purchase.state is S.FAILED
    assert purchase.error_code is ErrorCode.INSUFFICIENT_FUNDS
    assert sent == [Step.RESERVE, Step.DEBIT, Step.RELEASE]


def test_a_failed_credit_refunds_then_releases() -> None:
    purchase, sent = run([
        (Step.RESERVE, success(Step.RESERVE)),
        (Step.DEBIT, success(Step.DEBIT)),
        (Step.CREDIT, refusal(ErrorCode.USER_NOT_FOUND)),
        (Step.REFUND, success(Step.REFUND)),
        (Step.RELEASE, success(Step.RELEASE)),
    ])
    assert purchase.state is S.FAILED
    assert purchase.error_code is ErrorCode.USER_NOT_FOUND
    assert sent == [Step.RESERVE, Step.DEBIT, Step.CREDIT, Step.REFUND, Step.RELEASE]


@pytest.mark.parametrize(
    "code", [ErrorCode.ITEM_NOT_FOUND, ErrorCode.ITEM_NOT_AVAILABLE, ErrorCode.CANNOT_BUY_OWN_ITEM]
)
def test_a_refused_reservation_fails_with_nothing_to_undo(code: ErrorCode) -> None:
    purchase, sent = run([(Step.RESERVE, refusal(code))])
    assert purchase.state is S.FAILED and purchase.error_code is code
    assert sent == [Step.RESERVE]


# --- duplicates, disorder, lateness ----------------------------------------------------


@pytest.mark.parametrize("state", [s for s in S if not s.terminal])
def test_a_duplicate_reply_changes_nothing_the_second_time(state: PurchaseState) -> None:
    step = CURRENT_STEP[state]
    first = saga.on_reply(purchase_in(state), step, success(step))
    second = saga.on_reply(first.purchase, step, success(step))
    assert first.changed and not second.changed
    assert second.purchase == first.purchase
    assert not second.anomaly


@pytest.mark.parametrize("state", [s for s in S if not s.terminal])
def test_a_duplicate_refusal_changes_nothing_the_second_time(state: PurchaseState) -> None:
    step = CURRENT_STEP[state]
    first = saga.on_reply(purchase_in(state), step, refusal(ErrorCode.INTERNAL_ERROR))
    second = saga.on_reply(first.purchase, step, refusal(ErrorCode.INTERNAL_ERROR))
    assert second.purchase == first.purchase and not second.changed
    if first.changed:
        assert second.sends == ()


def test_a_reply_ahead_of_its_step_is_ignored() -> None:
    pending = purchase_in(S.PENDING)
    for step in (Step.DEBIT, Step.CREDIT, Step.MARK_SOLD, Step.REFUND, Step.RELEASE):
        decision = saga.on_reply(pending, step, success(step))
        assert not decision.changed and decision.sends == ()


def test_a_reply_of_the_wrong_kind_for_the_current_step_is_ignored() -> None:
    for state, step in CURRENT_STEP.items():
        for other in Step:
            reply = success(other)
            if type(reply) is type(success(step)):
                continue
            decision = saga.on_reply(purchase_in(state), step, reply)
            assert not decision.changed and decision.sends == (), (state, other)


def test_a_reply_about_another_purchase_is_ignored() -> None:
    other = uuid.uuid4()
    for state, step in CURRENT_STEP.items():
        decision = saga.on_reply(purchase_in(state), step, success(step, other))
        assert not decision.changed and decision.sends == ()


def test_funds_moved_for_the_wrong_party_are_ignored() -> None:
    buyer_paid = FundsMoved(purchase_id=PURCHASE_ID, user_id=BUYER, amount_cents=PRICE,
                            balance_cents=0)
    assert not saga.on_reply(purchase_in(S.DEBITED), Step.CREDIT, buyer_paid).changed
    seller_moved = FundsMoved(purchase_id=PURCHASE_ID, user_id=SELLER, amount_cents=PRICE,
                              balance_cents=0)
    assert not saga.on_reply(purchase_in(S.RESERVED), Step.DEBIT, seller_moved).changed
    assert not saga.on_reply(purchase_in(S.REFUNDING), Step.REFUND, seller_moved).changed


def test_a_resent_reservation_answered_twice_moves_on_once() -> None:
    pending = purchase_in(S.PENDING)
    assert saga.resend(pending) == saga.start(PURCHASE_ID, BUYER, SELLER, ITEM).sends
    first = saga.on_reply(pending, Step.RESERVE, success(Step.RESERVE))
    late = saga.on_reply(first.purchase, Step.RESERVE, success(Step.RESERVE))
    assert first.purchase.state is S.RESERVED and late.purchase == first.purchase
    assert late.sends == ()


def test_a_late_refusal_of_a_step_that_succeeded_is_ignored() -> None:
    reserved = saga.on_reply(purchase_in(S.PENDING), Step.RESERVE, success(Step.RESERVE))
    late = saga.on_reply(reserved.purchase, Step.RESERVE, refusal(ErrorCode.ITEM_NOT_AVAILABLE))
    assert not late.changed and late.purchase.state is S.RESERVED and late.sends == ()


def test_a_late_debit_after_insufficient_funds_is_refunded() -> None:
    """Debit resent on timeout: the first copy was refused, the second went through
    after the buyer deposited. The saga pays it back, in RELEASING and once FAILED."""
    releasing = saga.on_reply(
        purchase_in(S.RESERVED), Step.DEBIT, refusal(ErrorCode.INSUFFICIENT_FUNDS)
    ).purchase
    assert releasing.state is S.RELEASING
    decision = saga.on_reply(releasing, Step.DEBIT, success(Step.DEBIT))
    assert [s.command for s in decision.sends] == [
        RefundFunds(purchase_id=PURCHASE_ID, user_id=BUYER, amount_cents=PRICE)
    ]
    failed = saga.on_reply(releasing, Step.RELEASE, success(Step.RELEASE)).purchase
    assert sent_steps(saga.on_reply(failed, Step.DEBIT, success(Step.DEBIT))) == [Step.REFUND]


def test_a_late_reservation_after_failing_is_released() -> None:
    failed = saga.on_reply(
        purchase_in(S.PENDING), Step.RESERVE, refusal(ErrorCode.ITEM_NOT_AVAILABLE)
    ).purchase
    decision = saga.on_reply(failed, Step.RESERVE, success(Step.RESERVE))
    assert not decision.changed and decision.purchase.state is S.FAILED
    assert [s.command for s in decision.sends] == [
        ReleaseItem(purchase_id=PURCHASE_ID, seller_id=SELLER, item_id=ITEM)
    ]


def test_a_late_reservation_of_a_failed_saga_without_a_price_has_no_refund() -> None:
    failed = purchase_in(S.PENDING)
    failed = saga.on_reply(failed, Step.RESERVE, refusal(ErrorCode.ITEM_NOT_FOUND)).purchase
    assert failed.amount_cents is None
    decision = saga.on_reply(failed, Step.DEBIT, success(Step.DEBIT))
    assert decision.sends == () and not decision.changed


def test_nothing_leaves_a_final_state() -> None:
    for state in (S.COMPLETED, S.FAILED):
        for step, code in itertools.product(Step, ERROR_CODES):
            assert saga.on_reply(purchase_in(state), step, refusal(code)).purchase.state is state
            assert saga.on_reply(purchase_in(state), step, success(step)).purchase.state is state


# --- resend on timeout -------------------------------------------------------------


@pytest.mark.parametrize("state", list(S))
def test_resend_repeats_the_command_of_the_current_step(state: PurchaseState) -> None:
    purchase = purchase_in(state)
    first, second = saga.resend(purchase), saga.resend(purchase)
    assert first == second
    if state.terminal:
        assert first == ()
    else:
        assert [s.step for s in first] == [CURRENT_STEP[state]]


@pytest.mark.parametrize("state", [s for s in S if not s.terminal])
def test_resend_is_what_entering_the_state_sent(state: PurchaseState) -> None:
    """The command that the transition into a state sent is the one the sweeper resends."""
    if state is S.PENDING:
        entered = saga.start(PURCHASE_ID, BUYER, SELLER, ITEM)
    else:
        before = {
            S.RESERVED: S.PENDING, S.DEBITED: S.RESERVED, S.CREDITED: S.DEBITED,
            S.REFUNDING: S.DEBITED, S.RELEASING: S.RESERVED,
        }[state]
        step = CURRENT_STEP[before]
        reply = refusal(ErrorCode.USER_NOT_FOUND) if state in (S.REFUNDING, S.RELEASING) else (
            success(step)
        )
        entered = saga.on_reply(purchase_in(before), step, reply)
    assert entered.purchase.state is state
    assert saga.resend(entered.purchase) == entered.sends


def test_retry_delay_doubles_up_to_eight_times() -> None:
    assert [saga.retry_delay(n, 5.0) for n in range(6)] == [5, 10, 20, 40, 40, 40]
    assert saga.retry_delay(-1, 2.0) == 2.0


# --- the step reference (the correlation id of every step) --------------------------------


def test_step_ref_round_trips() -> None:
    for step in Step:
        ref = StepRef(BUYER, PURCHASE_ID, step)
        assert StepRef.decode(ref.encode()) == ref


@pytest.mark.parametrize("text", [
    None, "", "7", f"7:{PURCHASE_ID}", f"x:{PURCHASE_ID}:reserve", "7:not-a-uuid:reserve",
    f"7:{PURCHASE_ID}:teleport", f"-7:{PURCHASE_ID}:debit", f"٣:{PURCHASE_ID}:debit",
    f"7:{PURCHASE_ID}:debit:extra", f"{'9' * 30}:{PURCHASE_ID}:debit",
])
def test_step_ref_refuses_anything_else(text: str | None) -> None:
    assert StepRef.decode(text) is None


# --- any order of any replies --------------------------------------------------------

ALLOWED = {
    S.PENDING: {S.RESERVED, S.FAILED},
    S.RESERVED: {S.DEBITED, S.RELEASING},
    S.DEBITED: {S.CREDITED, S.REFUNDING},
    S.CREDITED: {S.COMPLETED},
    S.REFUNDING: {S.RELEASING},
    S.RELEASING: {S.FAILED},
    S.COMPLETED: set(),
    S.FAILED: set(),
}


def test_random_reply_storms_only_follow_the_diagram() -> None:
    """Thousands of random sequences of replies (duplicated, reordered, refused): each
    change is an edge of the diagram, and a completed saga went through every step."""
    rng = random.Random(20261126)
    pool = [(step, success(step)) for step in Step] + [
        (step, refusal(code)) for step in Step for code in ERROR_CODES
    ]
    for _ in range(3000):
        purchase = saga.start(PURCHASE_ID, BUYER, SELLER, ITEM).purchase
        visited = [purchase.state]
        for step, reply in rng.choices(pool, k=rng.randint(1, 25)):
            decision = saga.on_reply(purchase, step, reply)
            if decision.changed:
                assert decision.purchase.state in ALLOWED[purchase.state]
                visited.append(decision.purchase.state)
            else:
                assert decision.purchase == purchase
            purchase = decision.purchase
        if purchase.state is S.COMPLETED:
            assert visited == [S.PENDING, S.RESERVED, S.DEBITED, S.CREDITED, S.COMPLETED]
            assert purchase.error_code is None
        if purchase.state in (S.REFUNDING, S.RELEASING, S.FAILED) and len(visited) > 1:
            assert purchase.error_code is not None
