"""bcrypt, off the event loop. bcrypt only reads 72 bytes: longer passwords are refused,
never truncated."""

from __future__ import annotations

import asyncio
import functools

import bcrypt

MAX_PASSWORD_BYTES = 72


class PasswordTooLong(ValueError):
    """bcrypt would silently ignore everything past 72 bytes."""


def _encode(password: str) -> bytes:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise PasswordTooLong(f"password is longer than {MAX_PASSWORD_BYTES} bytes")
    return encoded


async def hash_password(password: str, rounds: int) -> str:
    encoded = _encode(password)
    hashed = await asyncio.to_thread(bcrypt.hashpw, encoded, bcrypt.gensalt(rounds))
    return hashed.decode()


async def check_password(password: str, password_hash: str) -> bool:
    try:
        encoded = _encode(password)
    except PasswordTooLong:
        encoded = b""  # still spend the time of a check: no early answer
    matched = await asyncio.to_thread(bcrypt.checkpw, encoded, password_hash.encode())
    return matched and bool(encoded)


async def check_login(password: str, password_hash: str | None, rounds: int) -> bool:
    """Check against the user's hash or, when there is no such user, against a dummy hash
    of the same cost: a missing user takes as long to refuse as a wrong password."""
    if password_hash is None:
        await check_password(password, await asyncio.to_thread(dummy_hash, rounds))
        return False
    return await check_password(password, password_hash)


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A hash to check against when the user does not exist, so that a missing user
    costs the same time as a wrong password."""
    return bcrypt.hashpw(b"itemx-no-such-user", bcrypt.gensalt(rounds)).decode()
