"""The login handler against the real database: a missing user costs the same bcrypt
check as a wrong password (counted, not timed), and throttling refuses before any check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import bcrypt
import pytest

from contracts import ErrorCode, Refusal
from contracts.accounts import Login, Register, User
from tests.support.clients import unique_address
from tests.support.users import PASSWORD, unique_name
from workers.accounts import handlers, passwords


@dataclass
class CheckpwCalls:
    """Every bcrypt.checkpw the handler made: the password bytes and the hash."""

    calls: list[tuple[bytes, bytes]] = field(default_factory=list)


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> CheckpwCalls:
    """Count calls to the real bcrypt.checkpw (it still runs: only observed)."""
    seen = CheckpwCalls()
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        seen.calls.append((password, hashed))
        return real(password, hashed)

    monkeypatch.setattr(passwords.bcrypt, "checkpw", counting)
    return seen


@pytest.fixture
def deps(accounts_deps: handlers.Deps) -> handlers.Deps:
    return accounts_deps


async def new_user(deps: handlers.Deps) -> User:
    name = unique_name("timing")
    return await handlers.register(
        Register(register_id=uuid.uuid4(), username=name, email=f"{name}@example.com",
                 password=PASSWORD),
        deps,
    )


async def refused(login: Login, deps: handlers.Deps) -> Refusal:
    with pytest.raises(Refusal) as refusal:
        await handlers.login(login, deps)
    return refusal.value


def cost(hashed: bytes) -> bytes:
    """The `$2b$04$` prefix: algorithm and cost factor."""
    return hashed[:7]


async def test_a_missing_user_costs_one_check_like_a_wrong_password(
    deps: handlers.Deps, checkpw_calls: CheckpwCalls
) -> None:
    user = await new_user(deps)
    address = unique_address()

    wrong = await refused(Login(login=user.username, password="wrong password",
                                client_address=address), deps)
    missing = await refused(Login(login=unique_name("ghost"), password="wrong password",
                                  client_address=address), deps)
    missing_email = await refused(Login(login=f"{unique_name('ghost')}@example.com",
                                        password="wrong password", client_address=address), deps)

    assert len(checkpw_calls.calls) == 3
    (_, real_hash), (_, dummy_for_name), (_, dummy_for_email) = checkpw_calls.calls
    assert cost(real_hash) == cost(dummy_for_name) == cost(dummy_for_email) == b"$2b$04$"
    assert dummy_for_name != real_hash
    for refusal in (wrong, missing, missing_email):
        assert refusal.code == ErrorCode.INVALID_CREDENTIALS
        assert refusal.message == wrong.message


async def test_a_too_long_password_still_costs_one_check(
    deps: handlers.Deps, checkpw_calls: CheckpwCalls
) -> None:
    user = await new_user(deps)
    refusal = await refused(
        Login(login=user.username, password=PASSWORD + "x" * 200,
              client_address=unique_address()),
        deps,
    )
    assert refusal.code == ErrorCode.INVALID_CREDENTIALS
    assert len(checkpw_calls.calls) == 1


async def test_the_right_password_costs_one_check(
    deps: handlers.Deps, checkpw_calls: CheckpwCalls
) -> None:
    user = await new_user(deps)
    logged_in = await handlers.login(
        Login(login=user.email.upper(), password=PASSWORD, client_address=unique_address()),
        deps,
    )
    assert logged_in.id == user.id
    assert len(checkpw_calls.calls) == 1


async def test_a_throttled_login_is_refused_before_any_check_user_or_not(
    deps: handlers.Deps, checkpw_calls: CheckpwCalls
) -> None:
    user = await new_user(deps)
    for login in (user.username, unique_name("ghost")):
        for _ in range(deps.login_max_failures_per_user):
            await refused(Login(login=login, password="wrong password",
                                client_address=unique_address()), deps)
        checks_before = len(checkpw_calls.calls)
        refusal = await refused(
            Login(login=login, password=PASSWORD, client_address=unique_address()), deps
        )
        assert refusal.code == ErrorCode.TOO_MANY_ATTEMPTS
        assert len(checkpw_calls.calls) == checks_before
