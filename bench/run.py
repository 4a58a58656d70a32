"""One bench run, start to finish: fresh database and vhost, seed, start the processes,
every scenario (warm-up, then measurement), drain, invariants, results."""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import checks, cpu, machine, report, workload
from bench.config import PASSWORD, PORTS, ROOT, BenchConfig
from bench.environment import fresh_database, fresh_vhost
from bench.processes import ProcessGroup, baseline_processes, service_processes
from bench.profiling import Sampler
from bench.scenarios import Scenario, scenarios
from bench.seed import Seeded, seed
from bench.wrk import WrkResult, run_wrk, wrk_path

PURCHASE_RATE_FLOOR = {64: 2000, 1: 1000}
"""Purchases per second a purchase run is given items for at least (warm-ups: twice
that): more than any rate seen on a 2-core machine, so no run runs out."""


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def probe_route(url: str, scenario: Scenario) -> str | None:
    """None when the scenario's route exists, else why it does not."""
    method, path = scenario.probe
    try:
        response = httpx.request(method, url + path, timeout=10)
    except httpx.HTTPError as exc:
        return f"{url}{path}: {exc}"
    if response.status_code in (404, 405):
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = ""
        if code in ("not_found", "method_not_allowed"):
            return f"no route {method} {path} in this checkout"
    return None


class BenchRun:
    def __init__(self, config: BenchConfig):
        self.config = config
        self.rng = random.Random(20261126)
        self.secret = secrets.token_urlsafe(48)
        self.workdir = Path(os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(
            prefix="itemx-bench-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, Any] = {}
        self.totals: Counter[str] = Counter()
        self.seeded: Seeded | None = None
        self.tokens: dict[int, str] = {}
        self.pool: workload.ItemPool | None = None
        self.services: ProcessGroup | None = None
        self.baselines: ProcessGroup | None = None
        self.plan = scenarios(config.connections, config.login_connections)

    # --- set-up ------------------------------------------------------------------

    def process_env(self, amqp_url: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.config.database_url,
            "AMQP_URL": amqp_url,
            "JWT_SECRET": self.secret,
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(PORTS["gateway"]),
            "ACCOUNTS_PORT": str(PORTS["accounts"]),
            "PRODUCTS_PORT": str(PORTS["products"]),
            "TRANSACTIONS_PORT": str(PORTS["transactions"]),
            "MONOLITH_PORT": str(PORTS["monolith"]),
            "BARE_RPC_PORT": str(PORTS["bare_rpc"]),
            "BARE_RPC_WORKER_PORT": str(PORTS["bare_rpc_worker"]),
            "BARE_HTTP_PORT": str(PORTS["bare_http"]),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            "PYTHONUNBUFFERED": "1",
        }

    async def prepare(self) -> str:
        config = self.config
        started = time.perf_counter()
        applied = await fresh_database(config)
        say(f"database {config.database}: fresh, {len(applied)} migrations")
        amqp_url = await fresh_vhost(config)
        say(f"vhost {config.vhost}: fresh, topology declared")
        self.seeded = await seed(config.database_url, config.users, config.items, PASSWORD,
                                 self.rng)
        say(f"seeded {config.users} users and {config.items} items in "
            f"{sum(self.seeded.seconds.values()):.1f} s ({self._seconds(self.seeded.seconds)})")
        self.tokens = workload.issue_tokens(self.secret, self.seeded.user_ids)
        self.pool = workload.ItemPool(self.seeded.items, self.seeded.user_ids, self.rng)
        self.setup_seconds = time.perf_counter() - started
        return amqp_url

    @staticmethod
    def _seconds(parts: dict[str, float]) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items())

    def start_processes(self, amqp_url: str) -> None:
        env = self.process_env(amqp_url)
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        self.services = ProcessGroup(service_processes(env, logs))
        self.baselines = ProcessGroup(baseline_processes(env, logs))
        say(f"starting {', '.join(self.services.processes)} and the baselines "
            f"(logs in {logs})")
        self.services.start()
        self.baselines.start()

    def stop_processes(self) -> None:
        for group in (self.baselines, self.services):
            if group is not None:
                group.stop()

    # --- scenarios ---------------------------------------------------------------

    def url_of(self, scenario: Scenario) -> str:
        return f"http://127.0.0.1:{PORTS[scenario.server]}"

    def skip_reason(self, scenario: Scenario) -> str | None:
        assert self.services is not None
        if self.config.only and scenario.name not in self.config.only:
            return "not selected (BENCH_ONLY)"
        missing = [name for name in scenario.needs if name not in self.services]
        if missing:
            return f"{', '.join(missing)} not in this checkout"
        return probe_route(self.url_of(scenario), scenario)

    def lines(self, scenario: Scenario, count: int | None = None) -> list[str]:
        assert self.seeded is not None and self.pool is not None
        seeded = self.seeded
        match scenario.kind:
            case "ping":
                return workload.ping_lines()
            case "item_read":
                return workload.item_read_lines(seeded.items, self.rng)
            case "feed":
                return workload.feed_lines()
            case "search":
                return workload.search_lines(self.rng)
            case "deposit":
                return workload.deposit_lines(seeded.user_ids, self.tokens, self.rng)
            case "login":
                return workload.login_lines(seeded.user_ids, PASSWORD, self.rng)
            case "purchase":
                return workload.purchase_lines(self.pool.take(count or 0), self.tokens)
        raise ValueError(f"unknown scenario kind {scenario.kind}")

    def drive(self, scenario: Scenario, seconds: float, lines: list[str], tag: str) -> WrkResult:
        path = workload.write_lines(self.workdir / f"{scenario.name}.{tag}.lines", lines)
        try:
            return run_wrk(
                self.url_of(scenario), path, seconds=seconds,
                connections=scenario.connections, threads=self.config.wrk_threads,
                once=scenario.consumes_items,
            )
        finally:
            path.unlink(missing_ok=True)

    def purchase_budget(self, scenario: Scenario, warmup: WrkResult | None) -> int:
        """Items for the next run of a purchase scenario: enough for twice the rate seen in
        its warm-up (and at least a floor rate), leaving enough for the runs after it."""
        assert self.pool is not None
        remaining = self.pool.remaining
        floor = PURCHASE_RATE_FLOOR[1 if scenario.connections == 1 else 64]
        if warmup is None:
            return min(remaining // 8, math.ceil(floor * 2 * max(self.config.warmup_seconds, 1)))
        rate = max((warmup.ok + warmup.errors) / max(warmup.seconds, 0.1) * 2, floor)
        wanted = math.ceil(rate * self.config.seconds) + 1000
        runs_after = sum(
            1 for later in self.plan[self.plan.index(scenario) + 1:] if later.consumes_items
        )
        return min(wanted, max(remaining // (runs_after + 1), remaining - 20_000 * runs_after))

    async def run_scenario(self, scenario: Scenario) -> None:
        reason = self.skip_reason(scenario)
        if reason:
            say(f"{scenario.name}: skipped ({reason})")
            self.results[scenario.name] = {"name": scenario.name, "label": scenario.label,
                                           "skipped": reason}
            return
        config = self.config
        warmup = None
        if config.warmup_seconds > 0:
            lines = self.lines(scenario, self.purchase_budget(scenario, None))
            warmup = await asyncio.to_thread(
                self.drive, scenario, config.warmup_seconds, lines, "warmup"
            )
            self._count(scenario, warmup)
        before = await self._settle(scenario)
        lines = self.lines(scenario, self.purchase_budget(scenario, warmup))
        say(f"{scenario.name}: {scenario.connections} connection(s), {config.seconds:g} s"
            f" ({len(lines)} distinct requests)")
        pids = self._pids()
        cpu_before = await cpu.snapshot(pids, config.database_url, config.database)
        sampler = (
            Sampler(scenario.name, pids, config.seconds) if scenario.name in config.profile
            else None
        )
        measured = await asyncio.to_thread(self.drive, scenario, config.seconds, lines, "run")
        cpu_after = await cpu.snapshot(pids, config.database_url, config.database)
        if sampler is not None:
            await asyncio.to_thread(sampler.wait)
        self._count(scenario, measured)
        after = await self._settle(scenario)
        entry = {
            "name": scenario.name,
            "label": scenario.label,
            "server": scenario.server,
            "connections": scenario.connections,
            "per_s": round(measured.ok_per_s, 1),
            "p50_ms": measured.latency_ms["p50"],
            "p90_ms": measured.latency_ms["p90"],
            "p99_ms": measured.latency_ms["p99"],
            "errors": measured.errors,
            "distinct_requests": len(lines),
            "wrk": measured.summary(),
            "warmup": warmup.summary() if warmup else None,
            "cpu_ms_per_request": self._cpu_per_request(cpu_before, cpu_after, measured),
        }
        if sampler is not None:
            entry["profiles"] = {
                name: str(path.relative_to(ROOT)) for name, path in sampler.outputs.items()
            }
        if before is not None and after is not None:
            entry["messages"] = self._messages(before, after)
        self.results[scenario.name] = entry
        say(f"{scenario.name}: {entry['per_s']:.1f}/s, p50 {entry['p50_ms']:.2f} ms,"
            f" p90 {entry['p90_ms']:.2f} ms, p99 {entry['p99_ms']:.2f} ms,"
            f" errors {entry['errors']} {measured.status}"
            + (f", EXHAUSTED {measured.exhausted}" if measured.exhausted else ""))

    def _count(self, scenario: Scenario, result: WrkResult) -> None:
        """Totals the invariants need: what was answered 2xx, and what may have happened —
        an error, a 202, or one of the requests still in flight when wrk stopped (up to one
        per connection: the server handled them, wrk counted no answer)."""
        created = result.status.get("201", 0)
        unknown = result.errors + result.connections
        if scenario.kind == "deposit":
            self.totals["deposits_ok"] += result.ok
            self.totals["deposits_unknown"] += unknown
        elif scenario.server == "monolith":
            self.totals["monolith_ok"] += created
            self.totals["monolith_unknown"] += unknown + result.ok - created
        elif scenario.kind == "purchase":
            self.totals["saga_ok"] += created
            self.totals["saga_unknown"] += unknown + result.ok - created

    async def _settle(self, scenario: Scenario) -> dict[str, Any] | None:
        """For a saga run: wait for the sagas and events to finish, then read the message
        and purchase counters (the difference across a run is what the run cost)."""
        if scenario.kind != "purchase":
            return None
        drained, waited, moving = await checks.drain(self.config.database_url,
                                                     self.config.drain_seconds)
        if not drained:
            say(f"{scenario.name}: still in flight after {waited:.0f} s: {moving}")
        return {
            "drained": drained,
            **await asyncio.to_thread(checks.scrape, self._metrics()),
            "counts": await checks.purchase_counts(self.config.database_url),
        }

    def _pids(self) -> dict[str, int]:
        assert self.services is not None and self.baselines is not None
        return {**self.services.pids(), **self.baselines.pids()}

    @staticmethod
    def _cpu_per_request(before: dict, after: dict, measured: WrkResult) -> dict[str, float]:
        """CPU milliseconds per 2xx response, per process (those that used any)."""
        used = cpu.used(before, after)
        answered = max(measured.ok, 1)
        return {name: round(1000 * seconds / answered, 3)
                for name, seconds in used.items() if seconds > 0}

    def _metrics(self) -> dict[str, int]:
        assert self.services is not None and self.baselines is not None
        processes = {**self.services.processes, **self.baselines.processes}
        return {name: p.metrics_port for name, p in processes.items() if p.metrics_port}

    @staticmethod
    def _messages(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """What the purchases between two settled points cost in messages, and how long
        each consumer's handler took per message (mean, ms)."""
        published = after["published"] - before["published"]
        statements = after["statements"] - before["statements"]
        sales = after["counts"]["transactions"] - before["counts"]["transactions"]
        # sagas started (failed ones included); the monolith starts none: its sales
        purchases = after["counts"]["purchases"] - before["counts"]["purchases"] or sales
        total = sum(published.values())
        handled = after["handled"] - before["handled"]
        handler_ms = {
            key: round(1000 * (after["handler_seconds"][key] - before["handler_seconds"][key])
                       / n, 2)
            for key, n in sorted(handled.items())
        }
        return {
            "purchases": purchases,
            "completed": sales,
            "published": total,
            "per_purchase": round(total / purchases, 2) if purchases else None,
            "per_purchase_by_type": {
                kind: round(n / purchases, 2) for kind, n in sorted(published.items())
            } if purchases else {},
            "db_round_trips_per_purchase": round(sum(statements.values()) / purchases, 2)
            if purchases else None,
            "db_round_trips_by_process_and_verb": {
                key: round(n / purchases, 2) for key, n in sorted(statements.items())
            } if purchases else {},
            "handled_per_purchase": {
                key: round(n / purchases, 2) for key, n in sorted(handled.items())
            } if purchases else {},
            "handler_mean_ms": handler_ms,
            "drained": before["drained"] and after["drained"],
        }

    # --- the whole run -------------------------------------------------------------

    async def run(self) -> int:
        wrk_path()
        started = time.perf_counter()
        amqp_url = await self.prepare()
        description = await machine.describe(self.config.database_url)
        try:
            await asyncio.to_thread(self.start_processes, amqp_url)
            for scenario in self.plan:
                await self.run_scenario(scenario)
            drained, waited, moving = await checks.drain(
                self.config.database_url, self.config.drain_seconds
            )
            say(f"drained in {waited:.1f} s" if drained else f"not drained: {moving}")
            assert self.seeded is not None
            invariants = await checks.check_invariants(
                self.config.database_url,
                seeded_balance_cents=self.seeded.total_balance_cents,
                seeded_deposits=len(self.seeded.user_ids),
                deposits_ok=self.totals["deposits_ok"],
                deposits_unknown=self.totals["deposits_unknown"],
                deposit_cents=workload.DEPOSIT_CENTS,
                monolith_ok=self.totals["monolith_ok"],
                monolith_unknown=self.totals["monolith_unknown"],
                saga_ok=self.totals["saga_ok"],
                saga_unknown=self.totals["saga_unknown"],
                drained=drained,
            )
        finally:
            await asyncio.to_thread(self.stop_processes)
        for name, ok in invariants.checks.items():
            say(f"invariant {'ok  ' if ok else 'FAIL'} {name}")
        results = report.assemble(
            config=self.config,
            machine=description,
            scenarios=self.results,
            invariants=invariants,
            seed_seconds=self.seeded.seconds,
            setup_seconds=self.setup_seconds,
            total_seconds=time.perf_counter() - started,
        )
        written = report.write_all(results)
        say("wrote " + ", ".join(str(path) for path in written))
        for line in report.target_lines(results):
            say(line)
        return 0 if invariants.ok else 1


def main() -> int:
    config = BenchConfig()
    say(f"BENCH_SECONDS={config.seconds:g}, warm-up {config.warmup_seconds:g} s, "
        f"{config.users} users, {config.items} items, {config.connections} connections")
    try:
        return asyncio.run(BenchRun(config).run())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"[bench] failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
