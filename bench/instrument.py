"""Run a service module counting every AMQP message it publishes and every database
round trip it makes:

    python -m bench.instrument api_gateway

The count is what `messages_per_purchase` is made of. It wraps aiormq's
`Channel.basic_publish`, which every publish of the project goes through (aio-pika's
`Exchange.publish`, the RPC client, replies, the outbox relays), and labels it with the
message's AMQP type (the contract's name: `products.reserve_item`, `purchase.completed`,
…). Database round trips are counted the same way, by statement verb (BEGIN, SELECT,
UPDATE, COMMIT, …), wrapping asyncpg's `Connection.execute` (without arguments: the
simple protocol, which transactions use for BEGIN and COMMIT) and `Connection._execute`
(every other statement). The counters live in the default Prometheus registry, so a
worker serves them on its own `/metrics`; a process without one (the gateway, the
monolith) gets a metrics server on `BENCH_METRICS_PORT`. The service itself runs
unchanged (`runpy`, as `-m` would).
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

import aiormq.channel
import asyncpg.connection
from prometheus_client import Counter, start_http_server

PUBLISHED = Counter(
    "itemx_bench_amqp_published_total",
    "AMQP messages published by this process (bench instrumentation), by message type",
    ["type"],
)

DB_STATEMENTS = Counter(
    "itemx_bench_db_statements_total",
    "Database round trips of this process (bench instrumentation), by statement verb",
    ["verb"],
)
VERBS = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK"}

_basic_publish = aiormq.channel.Channel.basic_publish
_execute = asyncpg.connection.Connection.execute
_execute_with_args = asyncpg.connection.Connection._execute


def _verb(query: str) -> str:
    words = query.split(None, 1)
    verb = words[0].rstrip(";").upper() if words else ""
    return verb if verb in VERBS else "OTHER"


async def _counting_basic_publish(self: Any, body: bytes, **kwargs: Any) -> Any:
    properties = kwargs.get("properties")
    PUBLISHED.labels(getattr(properties, "message_type", None) or "untyped").inc()
    return await _basic_publish(self, body, **kwargs)


async def _counting_execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
    if not args:  # with arguments it goes through _execute, counted there
        DB_STATEMENTS.labels(_verb(query)).inc()
    return await _execute(self, query, *args, **kwargs)


async def _counting_execute_with_args(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
    DB_STATEMENTS.labels(_verb(query)).inc()
    return await _execute_with_args(self, query, *args, **kwargs)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.instrument MODULE [ARGS...]")
    module = sys.argv[1]
    aiormq.channel.Channel.basic_publish = _counting_basic_publish  # type: ignore[method-assign]
    asyncpg.connection.Connection.execute = _counting_execute  # type: ignore[method-assign]
    asyncpg.connection.Connection._execute = _counting_execute_with_args  # type: ignore[method-assign]
    port = os.environ.get("BENCH_METRICS_PORT")
    if port:
        start_http_server(int(port), addr="127.0.0.1")
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
