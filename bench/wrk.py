"""Run wrk with `lua/requests.lua` and read the JSON line its `done()` prints."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.config import LUA_SCRIPT

REQUEST_TIMEOUT = "10s"
"""wrk's own per-request timeout: above the gateway's deadlines (5 s RPC, 4 s purchase
wait), so a slow answer is measured as latency, and a lost one counts as an error."""


class WrkMissing(RuntimeError):
    """wrk is not installed (bench/setup.sh installs it)."""


@dataclass
class WrkResult:
    """One wrk run. Latencies in milliseconds; `ok` = 2xx responses."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: dict[str, int]
    status: dict[str, int]
    exhausted: int
    latency_ms: dict[str, float]
    connections: int
    threads: int
    load_before: float = 0.0
    load_after: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, object]:
        return {
            **asdict(self),
            "ok": self.ok,
            "errors": self.errors,
            "per_s": round(self.ok_per_s, 1),
        }


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: run `bash bench/setup.sh` (apt-get install wrk)")
    return path


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    once: bool = False,
) -> WrkResult:
    """Drive `url` (scheme://host:port) with the requests in `requests_file`."""
    threads = max(1, min(threads, connections))
    duration = max(1, math.ceil(seconds))
    command = [
        wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
        "--timeout", REQUEST_TIMEOUT, "-s", str(LUA_SCRIPT), url,
        "--", str(requests_file), "once" if once else "cycle", str(threads),
    ]
    load_before = os.getloadavg()[0]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    load_after = os.getloadavg()[0]
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            break
    else:
        raise RuntimeError(
            f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    latency = data["latency_us"]
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        status=data["status"],
        exhausted=data["exhausted"],
        latency_ms={key: round(value / 1000, 3) for key, value in latency.items()},
        connections=connections,
        threads=threads,
        load_before=load_before,
        load_after=load_after,
    )
