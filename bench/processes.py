"""The processes a bench run starts: the real gateway and workers, and the baselines.

Built on the test suite's `ServiceProcess` (start, wait for `/health`, SIGTERM then
SIGKILL, log tail); each runs under `bench.instrument`, which counts the AMQP
messages it publishes and changes nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.config import PORTS, ROOT
from tests.support.processes import MODULES, ServiceProcess, available_services

BASELINE_MODULES = {
    "monolith": "bench.baselines.monolith",
    "bare_rpc": "bench.baselines.bare_rpc",
    "bare_rpc_worker": "bench.baselines.bare_rpc_worker",
    "bare_http": "bench.baselines.bare_http",
}


@dataclass
class BenchProcess(ServiceProcess):
    """A service or a baseline, started as `python -m bench.instrument MODULE`."""

    module: str = ""
    metrics_port: int | None = None
    """Where its Prometheus metrics are (a worker's own port, or the instrument's)."""

    def start(self, extra_env: dict[str, str] | None = None) -> BenchProcess:
        env = {**os.environ, **self.env, **(extra_env or {})}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.instrument", self.module],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        return self


def service_processes(base_env: dict[str, str], log_dir: Path) -> dict[str, BenchProcess]:
    """The gateway and every worker of this checkout, each on the bench's port."""
    processes: dict[str, BenchProcess] = {}
    for name in available_services():
        env = dict(base_env)
        metrics_port = PORTS[name]
        if name == "gateway":
            metrics_port = PORTS["gateway_metrics"]
            env["BENCH_METRICS_PORT"] = str(metrics_port)
        processes[name] = BenchProcess(
            name, env, PORTS[name], log_dir, module=MODULES[name], metrics_port=metrics_port
        )
    return processes


def baseline_processes(base_env: dict[str, str], log_dir: Path) -> dict[str, BenchProcess]:
    """The baselines; the monolith serves its counters on a metrics port of its own."""
    processes = {}
    for name, module in BASELINE_MODULES.items():
        env, metrics_port = dict(base_env), PORTS.get(f"{name}_metrics")
        if metrics_port:
            env["BENCH_METRICS_PORT"] = str(metrics_port)
        processes[name] = BenchProcess(
            name, env, PORTS[name], log_dir, module=module, metrics_port=metrics_port
        )
    return processes


class ProcessGroup:
    """Processes started together and stopped together (in reverse), whatever happens."""

    def __init__(self, processes: dict[str, BenchProcess]):
        self.processes = processes

    def __getitem__(self, name: str) -> BenchProcess:
        return self.processes[name]

    def __contains__(self, name: str) -> bool:
        return name in self.processes

    def start(self, timeout: float = 60.0) -> None:
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            process.wait_healthy(timeout)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def pids(self) -> dict[str, int]:
        return {
            name: process.process.pid
            for name, process in self.processes.items()
            if process.process is not None and process.process.poll() is None
        }
