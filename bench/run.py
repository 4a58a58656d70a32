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
from bench.measure import Deltas, Round, combine, cpu_per_request
from bench.processes import ProcessGroup, baseline_processes, service_processes
from bench.profiling import Sampler
from bench.scenarios import Scenario, scenario_groups
from bench.seed import Seeded, seed
from bench.wrk import WrkResult, run_wrk, wrk_path

REDO_DISTURBED = 2
"""A round during which RabbitMQ dropped our connections is measured again (this often)."""

PURCHASE_RATE_FLOOR = {64: 1500, 1: 800}
"""Purchases per second a purchase run is given items for when nothing was measured
yet: above any rate seen on a 2-core machine (later runs use three times the last
measured rate), so that no run runs out of items."""


def _rate(result: WrkResult | None) -> float | None:
    if result is None:
        return None
    return (result.ok + result.errors) / max(result.seconds, 0.1)


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

    def purchase_budget(
        self, scenario: Scenario, seconds: float, rate: float | None, *, measured: bool
    ) -> int:
        """Items for a purchase run of `seconds`: three times the rate of its last measured
        round; before that, at least a floor rate (a cold warm-up underestimates). Never
        more than a third of what is left, so the runs after it do not go short."""
        assert self.pool is not None
        floor = PURCHASE_RATE_FLOOR[1 if scenario.connections == 1 else 64]
        basis = 3 * (rate or 0) if measured else max(3 * (rate or 0), floor)
        return min(math.ceil(basis * max(seconds, 1)) + 500, self.pool.remaining // 3)

    async def run_group(self, group: tuple[Scenario, ...]) -> None:
        """Warm every scenario of the group up, then measure them in alternating rounds."""
        active = []
        for scenario in group:
            reason = self.skip_reason(scenario)
            if reason:
                say(f"{scenario.name}: skipped ({reason})")
                self.results[scenario.name] = {
                    "name": scenario.name, "label": scenario.label, "skipped": reason,
                }
            else:
                active.append(scenario)
        if not active:
            return
        config = self.config
        rounds = config.paired_rounds if len(active) > 1 else 1
        seconds = math.ceil(config.seconds / rounds)
        warmups: dict[str, WrkResult | None] = {}
        for scenario in active:
            warmups[scenario.name] = None
            if config.warmup_seconds > 0:
                lines = self.lines(scenario, self.purchase_budget(
                    scenario, config.warmup_seconds, None, measured=False))
                warmups[scenario.name] = warmup = await asyncio.to_thread(
                    self.drive, scenario, config.warmup_seconds, lines, "warmup")
                self._count(scenario, warmup)
        measured: dict[str, list[Round]] = {scenario.name: [] for scenario in active}
        names = " and ".join(s.name for s in active)
        say(f"{names}: {rounds} round(s) of {seconds} s" if rounds > 1 else
            f"{names}: {active[0].connections} connection(s), {seconds} s")
        discarded = {scenario.name: 0 for scenario in active}
        for index in range(rounds):
            for scenario in active:
                done = measured[scenario.name]
                rate = _rate(done[-1].result if done else warmups[scenario.name])
                for attempt in range(REDO_DISTURBED + 1):
                    mark = self.broker_disruptions()
                    measurement = await self.measure(
                        scenario, seconds, rate, measured=bool(done), profile=index == 0)
                    if self.broker_disruptions() == mark or attempt == REDO_DISTURBED:
                        break
                    discarded[scenario.name] += 1
                    say(f"{scenario.name}: RabbitMQ closed the connections during this round"
                        " (another user restarted the shared broker?): measuring it again")
                    await asyncio.to_thread(self.wait_healthy)
                measurement.disturbed = self.broker_disruptions() != mark
                done.append(measurement)
        for scenario in active:
            self.results[scenario.name] = self.entry(
                scenario, measured[scenario.name], warmups[scenario.name])
            self.results[scenario.name]["discarded_rounds"] = discarded[scenario.name]

    async def measure(
        self, scenario: Scenario, seconds: float, rate: float | None, *, measured: bool,
        profile: bool,
    ) -> Round:
        """One measured run: wrk, the CPU each process used, and (purchases) counters
        read before and after with nothing in flight."""
        config = self.config
        before = await self._settle(scenario)
        lines = self.lines(
            scenario, self.purchase_budget(scenario, seconds, rate, measured=measured))
        pids = self._pids()
        cpu_before = await cpu.snapshot(pids, config.database_url, config.database)
        sampler = (
            Sampler(scenario.name, pids, seconds)
            if profile and scenario.name in config.profile else None
        )
        result = await asyncio.to_thread(self.drive, scenario, seconds, lines, "run")
        cpu_after = await cpu.snapshot(pids, config.database_url, config.database)
        if sampler is not None:
            await asyncio.to_thread(sampler.wait)
        self._count(scenario, result)
        after = await self._settle(scenario)
        return Round(
            result=result,
            cpu_seconds=cpu.used(cpu_before, cpu_after),
            deltas=Deltas.between(before, after) if before and after else None,
            profiles={name: str(path.relative_to(ROOT))
                      for name, path in sampler.outputs.items()} if sampler else {},
        )

    def entry(self, scenario: Scenario, rounds: list[Round], warmup: WrkResult | None
              ) -> dict[str, Any]:
        result, cpu_seconds, deltas, profiles = combine(rounds)
        entry: dict[str, Any] = {
            "name": scenario.name,
            "label": scenario.label,
            "server": scenario.server,
            "connections": scenario.connections,
            "per_s": round(result.ok_per_s, 1),
            "p50_ms": result.latency_ms["p50"],
            "p90_ms": result.latency_ms["p90"],
            "p99_ms": result.latency_ms["p99"],
            "errors": result.errors,
            "rounds": len(rounds),
            "round_per_s": [round(r.result.ok_per_s, 1) for r in rounds],
            "load_average": [round(r.result.load_before, 2) for r in rounds]
            + [round(rounds[-1].result.load_after, 2)],
            "disturbed_rounds": sum(1 for r in rounds if r.disturbed),
            "wrk": result.summary(),
            "warmup": warmup.summary() if warmup else None,
            "cpu_ms_per_request": cpu_per_request(cpu_seconds, result.ok),
        }
        if profiles:
            entry["profiles"] = profiles
        if deltas is not None:
            entry["messages"] = deltas.per_purchase()
        say(f"{scenario.name}: {entry['per_s']:.1f}/s, p50 {entry['p50_ms']:.2f} ms,"
            f" p90 {entry['p90_ms']:.2f} ms, p99 {entry['p99_ms']:.2f} ms,"
            f" errors {entry['errors']} {result.status}"
            + (f", EXHAUSTED {result.exhausted}" if result.exhausted else ""))
        return entry

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

    def broker_disruptions(self) -> int:
        """How many times our processes have lost their RabbitMQ connection so far (the
        broker is shared: another user's fault test may restart it)."""
        assert self.services is not None and self.baselines is not None
        lost = 0
        for process in [*self.services.processes.values(), *self.baselines.processes.values()]:
            try:
                lost += process.log_path.read_text(errors="replace").count("connection lost")
            except OSError:
                continue
        return lost

    def wait_healthy(self) -> None:
        assert self.services is not None and self.baselines is not None
        for group in (self.services, self.baselines):
            for process in group.processes.values():
                process.wait_healthy(120)

    def _metrics(self) -> dict[str, int]:
        assert self.services is not None and self.baselines is not None
        processes = {**self.services.processes, **self.baselines.processes}
        return {name: p.metrics_port for name, p in processes.items() if p.metrics_port}

    # --- the whole run -------------------------------------------------------------

    async def run(self) -> int:
        wrk_path()
        started = time.perf_counter()
        amqp_url = await self.prepare()
        description = await machine.describe(self.config.database_url)
        try:
            await asyncio.to_thread(self.start_processes, amqp_url)
            for group in scenario_groups(self.config.connections,
                                         self.config.login_connections):
                await self.run_group(group)
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
