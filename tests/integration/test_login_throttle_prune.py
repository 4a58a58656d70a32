"""Ended throttle windows are forgotten by the accounts worker's periodic prune, so
failed logins for made-up names do not pile up; running windows are kept."""

from __future__ import annotations

import uuid

import pytest

from workers.accounts import handlers


@pytest.fixture
def deps(accounts_deps: handlers.Deps) -> handlers.Deps:
    return accounts_deps


async def test_prune_forgets_ended_windows_only(deps: handlers.Deps) -> None:
    ended, running = f"login:ended-{uuid.uuid4().hex}", f"login:running-{uuid.uuid4().hex}"
    async with deps.db.connection() as conn:
        await conn.executemany(
            "INSERT INTO login_failures (subject, failures, window_start)"
            " VALUES ($1, 3, now() - make_interval(secs => $2))",
            [(ended, 901), (running, 60)],
        )
    assert await handlers.prune_throttle(deps) >= 1
    async with deps.db.connection() as conn:
        left = {
            row["subject"] for row in await conn.fetch(
                "SELECT subject FROM login_failures WHERE subject = ANY($1::text[])",
                [ended, running],
            )
        }
    assert left == {running}
