"""The bench's settings: environment variables, read once.

The bench owns a database (`itemx_bench`), a RabbitMQ vhost (`itemx_bench`) and the
ports 25000–25009, so it never disturbs `make run` (5000–5003) or the test suite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "lua" / "requests.lua"

PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "25000"))
PORTS = {
    "gateway": PORT_BASE,
    "accounts": PORT_BASE + 1,
    "products": PORT_BASE + 2,
    "transactions": PORT_BASE + 3,
    "monolith": PORT_BASE + 4,
    "bare_rpc": PORT_BASE + 5,
    "bare_rpc_worker": PORT_BASE + 6,
    "bare_http": PORT_BASE + 7,
    "gateway_metrics": PORT_BASE + 8,
    "monolith_metrics": PORT_BASE + 9,
}

PASSWORD = "bench-password-12"  # noqa: S105 - every seeded user's password (bench data only)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class BenchConfig:
    seconds: float = field(default_factory=lambda: _float("BENCH_SECONDS", 20))
    warmup: float = field(default_factory=lambda: _float("BENCH_WARMUP", -1))
    users: int = field(default_factory=lambda: _int("BENCH_USERS", 10_000))
    items: int = field(default_factory=lambda: _int("BENCH_ITEMS", 200_000))
    connections: int = field(default_factory=lambda: _int("BENCH_CONNECTIONS", 64))
    login_connections: int = field(default_factory=lambda: _int("BENCH_LOGIN_CONNECTIONS", 8))
    rounds: int = field(default_factory=lambda: _int("BENCH_ROUNDS", 0))
    """Alternating rounds of the scenarios compared with each other; 0: automatic."""
    drain_seconds: float = field(default_factory=lambda: _float("BENCH_DRAIN_SECONDS", 60))
    database: str = field(default_factory=lambda: os.environ.get("BENCH_DB", "itemx_bench"))
    vhost: str = field(default_factory=lambda: os.environ.get("BENCH_VHOST", "itemx_bench"))
    pg_server: str = field(
        default_factory=lambda: os.environ.get(
            "BENCH_PG", "postgresql://postgres:postgres@127.0.0.1:5432"
        )
    )
    amqp_server: str = field(
        default_factory=lambda: os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")
    )
    only: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            s for s in os.environ.get("BENCH_ONLY", "").replace(",", " ").split() if s
        )
    )
    """Run only these scenarios (names as in the results table); empty: all of them."""
    profile: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            s for s in os.environ.get("BENCH_PROFILE", "").replace(",", " ").split() if s
        )
    )
    """Sample the processes with py-spy while these scenarios are measured."""

    @property
    def warmup_seconds(self) -> float:
        """BENCH_WARMUP, or a quarter of the measurement, between 2 and 5 seconds."""
        if self.warmup >= 0:
            return self.warmup
        return max(2.0, min(5.0, self.seconds / 4))

    @property
    def paired_rounds(self) -> int:
        """BENCH_ROUNDS, or one round per 5 seconds of measurement (at least 2)."""
        if self.rounds > 0:
            return self.rounds
        return max(2, round(self.seconds / 5))

    @property
    def database_url(self) -> str:
        return f"{self.pg_server}/{self.database}"

    @property
    def wrk_threads(self) -> int:
        return max(1, min(2, os.cpu_count() or 1))
