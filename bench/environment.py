"""A clean slate for every run: the bench's own database and vhost, made anew.

Both are dropped and recreated, so a run never measures what a previous run left
(sold items, queued messages). Nobody else uses them: the names are the bench's.
"""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import quote

import asyncpg

from bench.config import BenchConfig
from broker.topology import declare_with
from ops.migrate import ensure_database, migrate


class SetupFailed(RuntimeError):
    """A service the bench needs is missing or refused the set-up."""


async def fresh_database(config: BenchConfig) -> list[str]:
    """Drop and recreate the bench database, then apply every migration."""
    admin = await asyncpg.connect(f"{config.pg_server}/postgres")
    try:
        quoted = '"' + config.database.replace('"', '""') + '"'
        await admin.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await admin.close()
    await ensure_database(config.database_url)
    return await migrate(config.database_url)


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        raise SetupFailed(
            "rabbitmqctl not found: the bench needs a local RabbitMQ to make its own vhost"
        )
    return subprocess.run(
        [rabbitmqctl, "-q", *args], capture_output=True, text=True, timeout=120, check=False
    )


async def fresh_vhost(config: BenchConfig) -> str:
    """Delete and recreate the bench vhost, declare the topology; return its AMQP URL."""
    _rabbitmqctl("delete_vhost", config.vhost)  # absent on the first run: fine
    for args in (
        ("add_vhost", config.vhost),
        ("set_permissions", "-p", config.vhost, "guest", ".*", ".*", ".*"),
    ):
        done = _rabbitmqctl(*args)
        if done.returncode != 0:
            raise SetupFailed(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")
    url = f"{config.amqp_server}/{quote(config.vhost, safe='')}"
    await declare_with(url)
    return url
