"""One more gateway or worker with settings of its own (another broker URL, shorter
timeouts), started by a single test beside the session's stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import ServiceProcess

PORT_VARIABLE = {
    "gateway": "GATEWAY_PORT",
    "accounts": "ACCOUNTS_PORT",
    "products": "PRODUCTS_PORT",
    "transactions": "TRANSACTIONS_PORT",
}


def dedicated_process(
    name: str, base_env: dict[str, str], log_dir: Path, port: int, **overrides: str
) -> ServiceProcess:
    """A ServiceProcess for `name` on `port`, logging to its own file under `log_dir`."""
    own_dir = log_dir / f"{name}-{port}"
    own_dir.mkdir(parents=True, exist_ok=True)
    settings = {**base_env, PORT_VARIABLE[name]: str(port), **overrides}
    return ServiceProcess(name, settings, port, own_dir)


@contextmanager
def running(process: ServiceProcess, *, healthy: bool = True) -> Iterator[ServiceProcess]:
    """Start `process` (and wait for its /health unless told not to); stop it after."""
    process.start()
    try:
        if healthy:
            process.wait_healthy()
        yield process
    finally:
        process.stop()
