"""Where the CPU went during a run: user+system seconds of each process of the stack, of
the PostgreSQL backends serving the bench database, and of the RabbitMQ node (which is
shared with whoever else uses this broker: read its figure as an upper bound).

Read from /proc (Linux); elsewhere the figures are simply absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and of its waited-for children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command: state is field 3; utime, stime are 14 and 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rabbitmq_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command and command[0].endswith(b"beam.smp") and any(b"rabbit" in c for c in command):
            pids.append(int(entry.name))
    return pids


async def postgres_backends(database_url: str, database: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


async def snapshot(
    processes: dict[str, int], database_url: str, database: str
) -> dict[str, dict[int, float]]:
    """CPU seconds so far, by group (each process of ours, postgres, rabbitmq), by pid."""
    groups: dict[str, list[int]] = {name: [pid] for name, pid in processes.items()}
    groups["postgresql (bench database)"] = await postgres_backends(database_url, database)
    groups["rabbitmq (shared node)"] = rabbitmq_pids()
    out: dict[str, dict[int, float]] = {}
    for group, pids in groups.items():
        times = {pid: cpu_seconds(pid) for pid in pids}
        out[group] = {pid: t for pid, t in times.items() if t is not None}
    return out


def used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
         ) -> dict[str, float]:
    """CPU seconds used between two snapshots, per group (a pid new in `after` counts from
    zero: a backend opened during the run)."""
    result = {}
    for group, pids in after.items():
        start = before.get(group, {})
        result[group] = round(sum(t - start.get(pid, 0.0) for pid, t in pids.items()), 2)
    return result
