"""The real processes of ItemExchange, started for end-to-end and fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

MODULES = {
    "gateway": "api_gateway",
    "accounts": "workers.accounts.main",
    "products": "workers.products.main",
    "transactions": "workers.transactions.main",
}


@dataclass
class ServiceProcess:
    """One service as a child process, with its log in a file."""

    name: str
    env: dict[str, str]
    port: int
    log_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, extra_env: dict[str, str] | None = None) -> ServiceProcess:
        env = {**os.environ, **self.env, **(extra_env or {})}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", MODULES[self.name]],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                response = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy in {timeout}s: {last}\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful stop), then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def restart(self, extra_env: dict[str, str] | None = None) -> None:
        self.stop()
        self.start(extra_env)
        self.wait_healthy()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class Stack:
    """The gateway and the workers of one test session."""

    services: dict[str, ServiceProcess]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.services['gateway'].port}"

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def start(self) -> Stack:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_healthy()
        return self

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()


def available_services() -> list[str]:
    """The services whose entry module exists in this checkout."""
    names = []
    for name, module in MODULES.items():
        path = ROOT / Path(*module.split("."))
        if path.with_suffix(".py").exists() or (path / "__main__.py").exists():
            names.append(name)
    return names
