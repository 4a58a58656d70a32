"""The empty query of the bare-RPC baseline, and where it is routed.

Declared with the project's own `broker.topology.declare`, as a service of its own
(`bench.queries`, a classic queue with the same arguments as every service's query
queue), in the bench's vhost only.
"""

from __future__ import annotations

from typing import ClassVar

from broker.topology import ServiceQueues, Topology
from contracts import Query, Reply


class Pong(Reply):
    """Example: {}"""

    name: ClassVar[str] = "bench.pong"


class Ping(Query):
    """Example: {}"""

    name: ClassVar[str] = "bench.ping"
    reply: ClassVar[type[Reply]] = Pong


BENCH_SERVICE = ServiceQueues("bench", (Ping,))
BENCH_TOPOLOGY = Topology(services=(BENCH_SERVICE,))
