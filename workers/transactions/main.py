"""The transactions worker: `python -m workers.transactions.main`.

It orchestrates purchase sagas (commands and queries on `transactions.*`, step replies
over direct reply-to, a sweeper for sagas that stopped moving). Other parts
of the service that run in this process (read models fed by events) add their own
bootstrap to `PARTS`.
"""

from __future__ import annotations

from collections.abc import Callable

from broker.publisher import DIRECT_REPLY_TO
from broker.topology import TRANSACTIONS
from workers.common.runtime import Runtime, run_worker
from workers.transactions import handlers, reports
from workers.transactions.faults import CrashSwitch
from workers.transactions.orchestrator import SagaOrchestrator
from workers.transactions.settings import SagaSettings
from workers.transactions.sweeper import SagaSweeper


def bootstrap_saga(runtime: Runtime) -> None:
    """The purchase saga: its commands and queries, its replies, its sweeper."""
    settings = SagaSettings()
    orchestrator = SagaOrchestrator(
        db=runtime.db,
        publisher=runtime.publisher,
        outbox=runtime.outbox(handlers.OUTBOX),
        step_timeout=settings.saga_step_timeout_seconds,
        crash=CrashSwitch(settings.itemx_crash_after),
    )
    deps = handlers.Deps(db=runtime.db, saga=orchestrator)
    bound = handlers.bootstrap(deps)
    runtime.consume(TRANSACTIONS.commands, bound)
    runtime.consume(TRANSACTIONS.queries, bound)
    runtime.consume(DIRECT_REPLY_TO, handlers.bootstrap_replies(deps))
    runtime.background(SagaSweeper(
        runtime.db.pool, orchestrator,
        interval=settings.saga_sweep_interval_seconds, batch_size=settings.saga_sweep_batch,
    ))


PARTS: list[Callable[[Runtime], None]] = [
    bootstrap_saga,
    reports.bootstrap,
]


def bootstrap(runtime: Runtime) -> None:
    for part in PARTS:
        part(runtime)


def main() -> None:
    run_worker("transactions", bootstrap)


if __name__ == "__main__":
    main()
