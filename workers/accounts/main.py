"""The accounts worker: `python -m workers.accounts.main`."""

from __future__ import annotations

from functools import partial

from broker.topology import ACCOUNTS
from workers.accounts import handlers
from workers.common.periodic import Periodic
from workers.common.runtime import Runtime, run_worker

PRUNE_INTERVAL_SECONDS = 300.0


def bootstrap(runtime: Runtime) -> None:
    settings = runtime.settings
    deps = handlers.Deps(
        db=runtime.db,
        outbox=runtime.outbox(handlers.OUTBOX),
        bcrypt_rounds=settings.bcrypt_rounds,
        login_window_seconds=settings.login_window_seconds,
        login_max_failures_per_user=settings.login_max_failures_per_user,
        login_max_failures_per_address=settings.login_max_failures_per_address,
    )
    bound = handlers.bootstrap(deps)
    runtime.consume(ACCOUNTS.commands, bound)
    runtime.consume(ACCOUNTS.queries, bound)
    runtime.background(Periodic(
        "prune-login-failures", PRUNE_INTERVAL_SECONDS, partial(handlers.prune_throttle, deps)
    ))


def main() -> None:
    run_worker("accounts", bootstrap)


if __name__ == "__main__":
    main()
