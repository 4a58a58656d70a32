"""The products worker: `python -m workers.products.main`."""

from __future__ import annotations

from broker.topology import PRODUCTS
from workers.common.runtime import Runtime, run_worker
from workers.products import handlers


def bootstrap(runtime: Runtime) -> None:
    deps = handlers.Deps(
        db=runtime.db, read_db=runtime.read_db, outbox=runtime.outbox(handlers.OUTBOX)
    )
    bound = handlers.bootstrap(deps)
    runtime.consume(PRODUCTS.commands, bound)
    runtime.consume(PRODUCTS.queries, bound)


def main() -> None:
    run_worker("products", bootstrap)


if __name__ == "__main__":
    main()
