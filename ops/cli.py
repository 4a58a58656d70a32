"""`itemx`: the operators' command line.

    itemx migrate                 apply pending migrations (creates the database first)
    itemx topology                declare exchanges, queues and the event stream
    itemx cluster-init            wait for the Citus nodes, register them, then migrate
    itemx replay reports          rebuild the reports read model from the event stream
    itemx dlq list|show|redrive|purge   dead-letter queues: counts, messages, re-drive, purge
    itemx asyncapi                write docs/asyncapi.json, the catalogue of every event
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from ops.event_commands import add_asyncapi, add_dlq, add_replay
from workers.common.settings import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL


def _database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def _amqp_url() -> str:
    return os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)


async def _migrate(args: argparse.Namespace) -> int:
    from ops.migrate import ensure_database, migrate

    if await ensure_database(args.database_url):
        print(f"created database {args.database_url.rsplit('/', 1)[-1]}")
    applied = await migrate(args.database_url)
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _topology(args: argparse.Namespace) -> int:
    from broker.topology import declare_with

    await declare_with(args.amqp_url)
    print("topology declared")
    return 0


async def _cluster_init(args: argparse.Namespace) -> int:
    from ops.cluster import ClusterSettings, plan_from, run

    plan = plan_from(
        ClusterSettings(), database_url=args.database_url, workers=args.workers,
        secondaries=args.secondaries, coordinator=args.coordinator, timeout=args.timeout,
    )
    return await run(plan, rebalance=args.rebalance)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="itemx", description="ItemExchange operations")
    root.add_argument("--database-url", default=_database_url())
    root.add_argument("--amqp-url", default=_amqp_url())
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations").set_defaults(run=_migrate)
    commands.add_parser("topology", help="declare the RabbitMQ topology").set_defaults(
        run=_topology
    )
    cluster = commands.add_parser(
        "cluster-init", help="register the Citus workers and secondaries, then migrate"
    )
    cluster.add_argument("--workers", help="host:port,... (default: CITUS_WORKERS)")
    cluster.add_argument("--secondaries", help="replica:port=worker:port,... (CITUS_SECONDARIES)")
    cluster.add_argument("--coordinator", help="host:port workers reach the coordinator at")
    cluster.add_argument("--timeout", type=float, help="seconds to wait for every node")
    cluster.add_argument("--rebalance", action="store_true", help="then citus_rebalance_start()")
    cluster.set_defaults(run=_cluster_init)
    add_replay(commands)
    add_dlq(commands)
    add_asyncapi(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
