"""`itemx`: the operators' command line.

    itemx migrate                 apply pending migrations (creates the database first)
    itemx topology                declare exchanges, queues and the event stream
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="itemx", description="ItemExchange operations")
    root.add_argument("--database-url", default=_database_url())
    root.add_argument("--amqp-url", default=_amqp_url())
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations").set_defaults(run=_migrate)
    commands.add_parser("topology", help="declare the RabbitMQ topology").set_defaults(
        run=_topology
    )
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
