"""Migrations: each applied once, in order; running them again changes nothing; several
`migrate` calls at once (processes starting together) are serialised by an advisory
lock. Every test works in a throwaway database it creates and drops."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import asyncpg
import pytest

from ops.migrate import MIGRATION_LOCK, discover, migrate
from tests.support.databases import scratch_database
from tests.support.processes import ROOT

SNAPSHOT_QUERIES = (
    "SELECT table_name, column_name, data_type, is_nullable, column_default"
    " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE connamespace = 'public'::regnamespace ORDER BY 1",
    "SELECT version, name, applied_at FROM schema_migrations ORDER BY version",
)


async def snapshot(url: str) -> list[list[tuple[Any, ...]]]:
    """The schema as PostgreSQL describes it, plus the migrations' own record."""
    conn = await asyncpg.connect(url)
    try:
        return [[tuple(row) for row in await conn.fetch(query)] for query in SNAPSHOT_QUERIES]
    finally:
        await conn.close()


def all_names() -> list[str]:
    return [migration.name for migration in discover()]


async def test_applying_twice_changes_nothing() -> None:
    async with scratch_database("migrate") as url:
        assert await migrate(url) == all_names()
        before = await snapshot(url)
        assert before[0], "the migrations created no tables"
        assert await migrate(url) == []
        assert await snapshot(url) == before


async def test_concurrent_calls_apply_each_migration_once() -> None:
    async with scratch_database("migrate") as url:
        results = await asyncio.gather(*(migrate(url) for _ in range(4)))
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(all_names())
        assert sum(1 for result in results if result) == 1  # the first to lock did it all
        conn = await asyncpg.connect(url)
        try:
            versions = await conn.fetch("SELECT version FROM schema_migrations")
        finally:
            await conn.close()
        assert len(versions) == len(all_names())


async def test_a_migration_waits_for_the_lock() -> None:
    async with scratch_database("migrate") as url:
        holder = await asyncpg.connect(url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            waiting = asyncio.ensure_future(migrate(url))
            conn = await asyncpg.connect(url)
            try:
                for _ in range(100):  # until the migrate call is blocked on our lock
                    blocked = await conn.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND NOT granted AND objid = $1",
                        MIGRATION_LOCK,
                    )
                    if blocked:
                        break
                    await asyncio.sleep(0.05)
                assert blocked == 1
                assert not waiting.done()
                assert await conn.fetchval("SELECT to_regclass('users')") is None
            finally:
                await conn.close()
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            assert await asyncio.wait_for(waiting, 30) == all_names()
        finally:
            await holder.close()


async def test_a_failing_migration_leaves_nothing_half_done(tmp_path: Any) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE half_done (id int); SELECT no_such_function();"
    )
    async with scratch_database("migrate") as url:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(url, tmp_path)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT to_regclass('good')") is not None
            assert await conn.fetchval("SELECT to_regclass('half_done')") is None
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
            # the lock was released: another call proceeds (and fails the same way)
            with pytest.raises(asyncpg.UndefinedFunctionError):
                await asyncio.wait_for(migrate(url, tmp_path), 10)
        finally:
            await conn.close()


async def test_two_migrate_commands_at_once_on_a_missing_database() -> None:
    """Two `itemx migrate` processes racing to create and migrate the same database."""
    async with scratch_database("migratecli", create=False) as url:
        command = [sys.executable, "-m", "ops.cli", "--database-url", url, "migrate"]
        processes = [
            await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [(await p.communicate())[0].decode() for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        assert sum("created database" in output for output in outputs) == 1, outputs
        counts = [
            int(line.split()[1]) for output in outputs for line in output.splitlines()
            if line.startswith("applied ")
        ]
        assert sorted(counts) == [0, len(all_names())], outputs
