"""The bench's pure parts: what wrk is fed, how results become the report. (The bench
itself measures; nothing here times anything.)"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from bench import report, workload
from bench.checks import Invariants
from bench.config import BenchConfig
from bench.cpu import used
from bench.measure import Deltas
from bench.profiling import summarise
from bench.seed import SeededItem, search_terms
from bench.wrk import WrkResult, merge


def _items(users: int, count: int) -> list[SeededItem]:
    return [SeededItem(((i - 1) % users) + 1, i, 100 + i) for i in range(1, count + 1)]


def test_item_pool_hands_out_each_item_once_to_a_buyer_who_is_not_its_seller() -> None:
    users = list(range(1, 11))
    pool = workload.ItemPool(_items(10, 500), users, random.Random(1))
    first, second = pool.take(300), pool.take(300)
    assert len(first) == 300 and len(second) == 200 and pool.remaining == 0
    ids = [item.public_id for item, _ in first + second]
    assert len(set(ids)) == 500
    assert all(buyer != item.seller_id and buyer in users for item, buyer in first + second)


def test_request_lines_have_four_tab_separated_fields() -> None:
    tokens = {1: "t1", 2: "t2"}
    lines = [
        *workload.deposit_lines([1, 2], tokens, random.Random(1)),
        *workload.purchase_lines([(SeededItem(2, 7, 100), 1)], tokens),
        *workload.item_read_lines([SeededItem(2, 7, 100)], random.Random(1)),
        *workload.search_lines(random.Random(1)),
    ]
    for line in lines:
        method, path, token, body = line.split("\t")
        assert method in ("GET", "POST") and path.startswith("/") and " " not in path
        assert token and body
    assert workload.purchase_lines([(SeededItem(2, 7, 100), 1)], tokens) == [
        "POST\t/api/transactions/purchase/2-7\tt1\t-"
    ]
    assert len(search_terms()) == len(set(search_terms()))


def test_write_lines_refuses_an_empty_file(tmp_path: Path) -> None:
    try:
        workload.write_lines(tmp_path / "none.lines", [])
    except ValueError:
        return
    raise AssertionError("an empty request file must be refused")


def _scenario(name: str, per_s: float, p50: float, errors: int = 0, server: str = "gateway"):
    return {
        "name": name, "label": name, "server": server, "connections": 1 if "c1" in name else 64,
        "per_s": per_s, "p50_ms": p50, "p90_ms": p50 * 2, "p99_ms": p50 * 3, "errors": errors,
        "cpu_ms_per_request": {"gateway": 1.0},
    }


def _results(purchase_errors: int = 0, invariants_ok: bool = True) -> dict:
    scenarios = {
        "purchase": _scenario("purchase", 300.0, 50.0, purchase_errors),
        "purchase_c1": _scenario("purchase_c1", 100, 9),
        "monolith_purchase": _scenario("monolith_purchase", 900, 20, server="monolith"),
        "monolith_purchase_c1": _scenario("monolith_purchase_c1", 500, 2, server="monolith"),
        "item_read": _scenario("item_read", 950, 30),
        "bare_rpc": _scenario("bare_rpc", 1000, 25, server="bare_rpc"),
        "login": {"name": "login", "label": "login", "skipped": "not selected"},
    }
    invariants = Invariants(checks={"money": invariants_ok}, figures={"balances_sum": 10})
    machine = {
        "cores": 2, "cpu": "cpu", "memory_gib": 1.0, "os": "os", "kernel": "k", "python": "3",
        "postgresql": "15", "rabbitmq": "3.10", "wrk": "wrk", "packages": {"uvicorn": "1"},
        "commit": "abc", "load_average_at_start": [0.5, 0.5, 0.5],
    }
    return report.assemble(
        config=BenchConfig(), machine=machine, scenarios=scenarios, invariants=invariants,
        seed_seconds={"items": 1.0}, setup_seconds=2.0, total_seconds=3.0,
    )


def test_ratios_and_targets() -> None:
    results = _results()
    assert results["purchase_vs_monolith"] == round(300 / 900, 3)
    assert results["purchase_c1_p50_vs_monolith_c1_p50"] == 4.5
    assert results["item_read_vs_bare_rpc"] == 0.95
    assert all(target["met"] for target in results["targets"].values())
    assert results["login_per_s"] is None


def test_purchase_target_needs_zero_errors_and_invariants() -> None:
    assert _results(purchase_errors=1)["targets"]["purchase_vs_monolith"]["met"] is False
    assert _results(invariants_ok=False)["targets"]["purchase_vs_monolith"]["met"] is False


def test_markdown_lists_every_scenario_and_target() -> None:
    text = report.markdown(_results())
    assert "| purchase | gateway | 64 | 300.0 |" in text
    assert "skipped: not selected" in text
    assert "item read / bare RPC" in text and "CPU milliseconds" in text


def test_benchmarks_md_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Title\n\nhand written\n\n{report.BEGIN}\nold\n{report.END}\n\ntail\n")
    report.update_benchmarks_md("new table\n", path)
    text = path.read_text()
    assert "hand written" in text and "tail" in text and "new table" in text
    assert "old" not in text and text.count(report.BEGIN) == 1


def test_cpu_used_counts_new_processes_from_zero() -> None:
    before = {"postgres": {1: 1.0}}
    after = {"postgres": {1: 1.5, 2: 0.25}}
    assert used(before, after) == {"postgres": 0.75}


def test_profile_summary(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("main (a.py:1);work (b.py:2) 3\nmain (a.py:1);idle (c.py:3) 1\n")
    summary = summarise(path)
    assert summary["samples"] == 4
    assert summary["self"][0] == ("work (b.py)", 75.0)
    assert ("main (a.py)", 100.0) in summary["inclusive"]


def _run(requests: int, percentiles: list[float], status: dict[str, int]) -> WrkResult:
    return WrkResult(
        requests=requests, seconds=1.0, non2xx=0,
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": 0}, status=status,
        exhausted=0, latency_ms={"min": percentiles[0], "mean": percentiles[49],
                                 "max": percentiles[-1], "p999": percentiles[-1]},
        connections=64, threads=2, percentiles_ms=percentiles,
    )


def test_rounds_merge_counts_and_pool_latency() -> None:
    fast = _run(300, [1.0] * 99 + [1.0], {"200": 300})
    slow = _run(100, [float(p) for p in range(1, 100)] + [200.0], {"200": 99, "500": 1})
    merged = merge([fast, slow])
    assert merged.requests == 400 and merged.seconds == 2.0 and merged.rounds == 2
    assert merged.status == {"200": 399, "500": 1}
    assert merged.latency_ms["p50"] == 1.0  # three quarters of the requests took 1 ms
    assert merged.latency_ms["p99"] == 96.0
    assert merged.latency_ms["p999"] == 200.0
    assert merge([slow]) is slow


def test_counter_deltas_add_up_per_purchase() -> None:
    def scraped(published: int, purchases: int) -> dict:
        return {
            "published": Counter({"a": published}), "statements": Counter({"x BEGIN": 2}),
            "handled": Counter({"x a": purchases}),
            "handler_seconds": Counter({"x a": purchases * 0.002}),
            "counts": {"purchases": purchases, "transactions": purchases}, "drained": True,
        }

    deltas = Deltas.between(scraped(0, 0), scraped(24, 2))
    deltas.add(Deltas.between(scraped(24, 2), scraped(36, 3)))
    figures = deltas.per_purchase()
    assert figures["purchases"] == 3 and figures["per_purchase"] == 12.0
    assert figures["handler_mean_ms"] == {"x a": 2.0}
    assert figures["db_round_trips_per_purchase"] == 0.0
