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
    percentiles_ms: list[float] = field(default_factory=list, repr=False)
    """Percentiles 1 to 99, then 99.9: what lets several runs be pooled (`merge`)."""
    rounds: int = 1

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
        document = asdict(self)
        document.pop("percentiles_ms")
        return {
            **document,
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
        percentiles_ms=[value / 1000 for value in data["percentiles_us"]],
    )


def _pooled(runs: list[WrkResult], quantile: float) -> float:
    """A percentile of several runs pooled: each run's percentiles 1..99 stand for its
    requests in equal shares (exact for one run, within a percentile for several)."""
    points = sorted(
        (value, run.requests / 99)
        for run in runs for value in run.percentiles_ms[:99]
    )
    total = sum(weight for _, weight in points)
    seen = 0.0
    for value, weight in points:
        seen += weight
        if seen >= quantile * total - 1e-9:
            return round(value, 3)
    return round(points[-1][0], 3) if points else 0.0


def merge(runs: list[WrkResult]) -> WrkResult:
    """Rounds of one scenario as one result: counts added, latency pooled."""
    if len(runs) == 1:
        return runs[0]
    requests = sum(run.requests for run in runs)
    weights = [run.requests / requests if requests else 1 / len(runs) for run in runs]
    return WrkResult(
        requests=requests,
        seconds=sum(run.seconds for run in runs),
        non2xx=sum(run.non2xx for run in runs),
        socket_errors={key: sum(run.socket_errors[key] for run in runs)
                       for key in runs[0].socket_errors},
        status={code: sum(run.status.get(code, 0) for run in runs)
                for code in sorted({code for run in runs for code in run.status})},
        exhausted=sum(run.exhausted for run in runs),
        latency_ms={
            "min": min(run.latency_ms["min"] for run in runs),
            "mean": round(sum(w * run.latency_ms["mean"] for w, run in zip(
                weights, runs, strict=True)), 3),
            "max": max(run.latency_ms["max"] for run in runs),
            "p50": _pooled(runs, 0.50),
            "p90": _pooled(runs, 0.90),
            "p99": _pooled(runs, 0.99),
            "p999": max(run.latency_ms["p999"] for run in runs),
        },
        connections=runs[0].connections,
        threads=runs[0].threads,
        load_before=runs[0].load_before,
        load_after=runs[-1].load_after,
        percentiles_ms=[],
        rounds=sum(run.rounds for run in runs),
    )
