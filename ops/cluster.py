"""`itemx cluster-init`: turn freshly started PostgreSQL nodes into the Citus cluster, then
migrate. Safe to run again: nodes already registered are skipped.

Waits (one deadline for all) until the coordinator, every worker and every secondary
accept connections; creates the `citus` extension where missing; registers the
coordinator's own address, the workers (`citus_add_node`) and the streaming secondaries
(`citus_add_secondary_node`); then applies the migrations, which distribute the tables
because the extension is present. On plain PostgreSQL (no `citus` available) it says so
and only migrates.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from ops.migrate import ensure_database, migrate
from workers.common.settings import DEFAULT_DATABASE_URL

log = logging.getLogger(__name__)

CLUSTER_INIT_LOCK = 727_002  # advisory lock id: one cluster-init at a time


class ClusterSettings(BaseSettings):
    """What `itemx cluster-init` reads from the environment (command-line flags override)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    citus_workers: str = ""
    """Worker nodes as the coordinator reaches them: "citus-worker-1:5432,citus-worker-2:5432"."""
    citus_secondaries: str = ""
    """Streaming secondaries and their primaries: "citus-replica-1:5432=citus-worker-1:5432"."""
    citus_coordinator: str = ""
    """The coordinator's address as the workers reach it (citus_set_coordinator_host)."""
    cluster_init_timeout_seconds: float = 120.0


class ClusterInitError(RuntimeError):
    """The cluster cannot be set up as asked (a node is missing, or Citus is)."""


class NodeUnreachable(ClusterInitError):
    """A node did not accept connections before the deadline."""


@dataclass(frozen=True)
class Node:
    host: str
    port: int = 5432

    @classmethod
    def parse(cls, text: str) -> Node:
        host, sep, port = text.strip().rpartition(":")
        if not sep:
            host, port = port, "5432"
        if not host or not port.isdigit():
            raise ValueError(f"a node is host:port, got {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Secondary:
    node: Node
    primary: Node


def parse_nodes(text: str) -> list[Node]:
    return [Node.parse(part) for part in text.split(",") if part.strip()]


def parse_secondaries(text: str) -> list[Secondary]:
    secondaries = []
    for part in filter(str.strip, text.split(",")):
        node, sep, primary = part.partition("=")
        if not sep:
            raise ValueError(f"a secondary is replica:port=primary:port, got {part!r}")
        secondaries.append(Secondary(Node.parse(node), Node.parse(primary)))
    return secondaries


def node_url(url: str, node: Node) -> str:
    """`url` (user, password, database, options) pointed at another node."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    host = f"[{node.host}]" if ":" in node.host else node.host
    netloc = f"{userinfo}@{host}:{node.port}" if userinfo else f"{host}:{node.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_setting(url: str, name: str, value: str) -> str:
    """`url` opening sessions with `name` set (asyncpg sends query parameters it does not
    know as session settings)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class ClusterPlan:
    database_url: str
    workers: list[Node] = field(default_factory=list)
    secondaries: list[Secondary] = field(default_factory=list)
    coordinator: Node | None = None
    timeout: float = 120.0


@dataclass
class ClusterReport:
    citus: bool = False
    added: list[str] = field(default_factory=list)
    already_registered: list[str] = field(default_factory=list)
    migrations: list[str] = field(default_factory=list)


async def _wait_one(url: str, name: str, deadline: float) -> None:
    last: BaseException | None = None
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            conn = await asyncpg.connect(url, timeout=max(0.5, min(remaining, 5.0)))
        except asyncpg.InvalidCatalogNameError:
            return  # the server answers; its database is created next
        except (OSError, TimeoutError, asyncpg.CannotConnectNowError,
                asyncpg.TooManyConnectionsError, asyncpg.ConnectionDoesNotExistError) as exc:
            last = exc
        else:
            await conn.close()
            return
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    raise NodeUnreachable(f"{name} not reachable: {type(last).__name__}: {last}")


async def wait_for_nodes(nodes: dict[str, str], timeout: float) -> None:
    """Wait until every node (name -> URL) accepts connections; name every one that does not."""
    deadline = time.monotonic() + timeout
    results = await asyncio.gather(
        *(_wait_one(url, name, deadline) for name, url in nodes.items()), return_exceptions=True
    )
    failed = [str(result) for result in results if isinstance(result, NodeUnreachable)]
    if failed:
        raise NodeUnreachable(f"gave up after {timeout:g}s waiting for: " + "; ".join(failed))
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _citus_available(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'citus'"
    ))


async def _create_citus(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    except asyncpg.PostgresError as exc:
        raise ClusterInitError(f"cannot create the citus extension on {name}: {exc}"
                               " (is citus in shared_preload_libraries?)") from exc
    finally:
        await conn.close()


async def _register(conn: asyncpg.Connection, plan: ClusterPlan, report: ClusterReport) -> None:
    if plan.coordinator is not None:
        current = await conn.fetchrow(
            "SELECT nodename, nodeport FROM pg_dist_node"
            " WHERE groupid = 0 AND noderole = 'primary'"
        )
        if current is None or (current["nodename"], current["nodeport"]) != (
            plan.coordinator.host, plan.coordinator.port
        ):
            await conn.execute("SELECT citus_set_coordinator_host($1, $2)",
                               plan.coordinator.host, plan.coordinator.port)
            report.added.append(f"coordinator {plan.coordinator}")
    rows = await conn.fetch("SELECT nodename, nodeport FROM pg_dist_node")
    registered = {Node(row["nodename"], row["nodeport"]) for row in rows}
    for worker in plan.workers:
        if worker in registered:
            report.already_registered.append(f"worker {worker}")
            continue
        await conn.execute("SELECT citus_add_node($1, $2)", worker.host, worker.port)
        report.added.append(f"worker {worker}")
    for secondary in plan.secondaries:
        if secondary.node in registered:
            report.already_registered.append(f"secondary {secondary.node}")
            continue
        await conn.execute(
            "SELECT citus_add_secondary_node($1, $2, $3, $4)",
            secondary.node.host, secondary.node.port,
            secondary.primary.host, secondary.primary.port,
        )
        report.added.append(f"secondary {secondary.node} of {secondary.primary}")


async def _check_secondaries(plan: ClusterPlan) -> None:
    for secondary in plan.secondaries:
        conn = await asyncpg.connect(node_url(plan.database_url, secondary.node))
        try:
            if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                raise ClusterInitError(f"secondary {secondary.node} is not a standby"
                                       " (pg_is_in_recovery() is false)")
        finally:
            await conn.close()


def coordinator_of(url: str) -> Node:
    parts = urlsplit(url)
    return Node(parts.hostname or "localhost", parts.port or 5432)


async def _rebalance(conn: asyncpg.Connection, say: Callable[[str], None]) -> None:
    if not await conn.fetchval("SELECT count(*) FROM pg_dist_partition"):
        say("no distributed tables yet: nothing to rebalance")
        return
    try:
        job = await conn.fetchval("SELECT citus_rebalance_start()")
    except asyncpg.PostgresError as exc:
        raise ClusterInitError(f"cannot start the shard rebalance: {exc}") from exc
    say(f"shard rebalance started in the background (job {job}); follow it with"
        " SELECT * FROM citus_rebalance_status()")


async def cluster_init(
    plan: ClusterPlan, say: Callable[[str], None] = log.info, *, rebalance: bool = False
) -> ClusterReport:
    nodes = {f"coordinator {coordinator_of(plan.database_url)}": plan.database_url}
    nodes |= {f"worker {w}": node_url(plan.database_url, w) for w in plan.workers}
    nodes |= {f"secondary {s.node}": node_url(plan.database_url, s.node) for s in plan.secondaries}
    await wait_for_nodes(nodes, plan.timeout)
    say(f"{len(nodes)} node(s) reachable")

    report = ClusterReport()
    await ensure_database(plan.database_url)
    conn = await asyncpg.connect(plan.database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", CLUSTER_INIT_LOCK)
        report.citus = await _citus_available(conn)
        if report.citus:
            await _create_citus(plan.database_url, "the coordinator")
            for worker in plan.workers:
                url = node_url(plan.database_url, worker)
                await ensure_database(url)
                await _create_citus(url, f"worker {worker}")
            await _check_secondaries(plan)
            await _register(conn, plan, report)
        elif plan.workers or plan.secondaries:
            raise ClusterInitError(
                "the citus extension is not available on the coordinator, but workers or"
                " secondaries were given: refusing to create an undistributed schema"
            )
        else:
            say("plain PostgreSQL (no citus extension available): tables stay local;"
                " running the migrations only")
        # On Citus the migrations create co-located tables with foreign keys between them
        # in one transaction each: one connection per node (sequential mode) keeps every
        # shard of a co-location group on the connection that created its parent's shard.
        migrate_url = (with_setting(plan.database_url, "citus.multi_shard_modify_mode",
                                    "sequential") if report.citus else plan.database_url)
        report.migrations = await migrate(migrate_url)
        if rebalance and report.citus:
            await _rebalance(conn, say)
    finally:
        await conn.close()  # closing the session releases the advisory lock
    return report


def plan_from(
    settings: ClusterSettings,
    *,
    database_url: str | None = None,
    workers: str | None = None,
    secondaries: str | None = None,
    coordinator: str | None = None,
    timeout: float | None = None,
) -> ClusterPlan:
    """The plan from the environment, each part overridden by a command-line value if given."""
    coordinator = settings.citus_coordinator if coordinator is None else coordinator
    return ClusterPlan(
        database_url=database_url or settings.database_url,
        workers=parse_nodes(settings.citus_workers if workers is None else workers),
        secondaries=parse_secondaries(
            settings.citus_secondaries if secondaries is None else secondaries
        ),
        coordinator=Node.parse(coordinator) if coordinator.strip() else None,
        timeout=settings.cluster_init_timeout_seconds if timeout is None else timeout,
    )


async def run(plan: ClusterPlan, *, rebalance: bool = False) -> int:
    """The command: print what was done, or one clear error line; the exit status."""
    try:
        report = await cluster_init(plan, print, rebalance=rebalance)
    except ClusterInitError as exc:
        print(f"cluster-init failed: {exc}", file=sys.stderr)
        return 1
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        print(f"cluster-init failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if report.citus:
        for line in report.added:
            print(f"registered {line}")
        for line in report.already_registered:
            print(f"already registered: {line}")
    applied = report.migrations
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0
