"""What one measured round of a scenario yields, and how rounds add up.

Besides wrk's figures, a round records the CPU each process used and, for purchases,
the counters read when nothing was in flight before and after it: AMQP messages
published, database round trips, consumer handler time, sagas and sales recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.wrk import WrkResult, merge

COUNTERS = ("published", "statements", "handled", "handler_seconds")


@dataclass
class Deltas:
    """Counters' growth across settled points (`checks.scrape` before and after)."""

    counters: dict[str, Counter] = field(
        default_factory=lambda: {name: Counter() for name in COUNTERS}
    )
    purchases: int = 0
    sales: int = 0
    drained: bool = True

    @classmethod
    def between(cls, before: dict[str, Any], after: dict[str, Any]) -> Deltas:
        counters = {}
        for name in COUNTERS:
            grown: Counter = Counter()
            for key, value in after[name].items():
                if value - before[name].get(key, 0) > 0:
                    grown[key] = value - before[name].get(key, 0)
            counters[name] = grown
        return cls(
            counters=counters,
            purchases=after["counts"]["purchases"] - before["counts"]["purchases"],
            sales=after["counts"]["transactions"] - before["counts"]["transactions"],
            drained=before["drained"] and after["drained"],
        )

    def add(self, other: Deltas) -> None:
        for name in COUNTERS:
            self.counters[name].update(other.counters[name])
        self.purchases += other.purchases
        self.sales += other.sales
        self.drained = self.drained and other.drained

    def per_purchase(self) -> dict[str, Any]:
        """Messages, round trips and handler time per purchase (per saga started; the
        monolith starts none: per sale)."""
        n = self.purchases or self.sales
        published, statements = self.counters["published"], self.counters["statements"]
        handled, seconds = self.counters["handled"], self.counters["handler_seconds"]

        def share(counter: Counter) -> dict[str, float]:
            return {key: round(value / n, 2) for key, value in sorted(counter.items())}

        return {
            "purchases": self.purchases,
            "completed": self.sales,
            "published": sum(published.values()),
            "per_purchase": round(sum(published.values()) / n, 2) if n else None,
            "per_purchase_by_type": share(published) if n else {},
            "db_round_trips_per_purchase": round(sum(statements.values()) / n, 2) if n else None,
            "db_round_trips_by_process_and_verb": share(statements) if n else {},
            "handled_per_purchase": share(handled) if n else {},
            "handler_mean_ms": {
                key: round(1000 * seconds[key] / count, 2) for key, count in sorted(handled.items())
            },
            "drained": self.drained,
        }


@dataclass
class Round:
    """One measured run of a scenario."""

    result: WrkResult
    cpu_seconds: dict[str, float]
    deltas: Deltas | None = None
    profiles: dict[str, str] = field(default_factory=dict)
    disturbed: bool = False
    """RabbitMQ dropped our connections during it (and measuring again did not help)."""


def combine(rounds: list[Round]) -> tuple[WrkResult, dict[str, float], Deltas | None, dict]:
    """The rounds of one scenario as one: wrk figures merged, CPU and counters added."""
    result = merge([r.result for r in rounds])
    cpu: Counter = Counter()
    for r in rounds:
        cpu.update(r.cpu_seconds)
    deltas = None
    for r in rounds:
        if r.deltas is not None:
            if deltas is None:
                deltas = Deltas()
            deltas.add(r.deltas)
    profiles = {k: v for r in rounds for k, v in r.profiles.items()}
    return result, dict(cpu), deltas, profiles


def cpu_per_request(cpu_seconds: dict[str, float], answered: int) -> dict[str, float]:
    """CPU milliseconds per 2xx response, per process (those that used any)."""
    answered = max(answered, 1)
    return {name: round(1000 * seconds / answered, 3)
            for name, seconds in cpu_seconds.items() if seconds > 0}
