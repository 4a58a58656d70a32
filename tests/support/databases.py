"""Throwaway PostgreSQL databases, for tests that must own a whole database (migrations
from scratch, an outbox relay that no session-wide worker competes with)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.support import env


def scratch_name(purpose: str) -> str:
    return f"{env.TEST_DB}_{purpose}_{uuid.uuid4().hex[:8]}"


async def drop_database(name: str) -> None:
    """Drop `name` (one this suite created), disconnecting whoever is still in it."""
    admin = await asyncpg.connect(f"{env.PG_SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_database(purpose: str, *, create: bool = True) -> AsyncIterator[str]:
    """The URL of a database of its own for one test, dropped afterwards. With
    `create=False` only the name is reserved (the code under test creates it)."""
    name = scratch_name(purpose)
    if create:
        admin = await asyncpg.connect(f"{env.PG_SERVER}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    try:
        yield f"{env.PG_SERVER}/{name}"
    finally:
        await drop_database(name)
