"""The scenarios of a run, in the order they run, in groups: the scenarios of a group run
in alternating rounds (baseline, subject, baseline, subject, …), so that a ratio compares
two measurements that saw the same machine (on a shared machine, the load drifts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    """Its key in the results (`purchase`, `purchase_c1`, …)."""
    label: str
    server: str
    """The process wrk drives: gateway, monolith, bare_rpc or bare_http."""
    kind: str
    """Which requests (`workload.py`): ping, item_read, feed, search, deposit, login,
    purchase."""
    connections: int
    needs: tuple[str, ...] = ()
    """Services that must run in this checkout (e.g. products for item reads)."""
    probe: tuple[str, str] = ("GET", "/health")
    """A request that changes nothing and tells whether the route exists."""

    @property
    def consumes_items(self) -> bool:
        return self.kind == "purchase"


def scenario_groups(connections: int, login_connections: int) -> list[tuple[Scenario, ...]]:
    c = connections
    purchase_probe = ("POST", "/api/transactions/purchase/0-0")  # 401 without a token
    saga = ("gateway", "accounts", "products", "transactions")
    item_probe = ("GET", "/api/items/0-0")
    bare_rpc = "bare RPC (empty query via RabbitMQ)"
    item_read = "item read GET /api/items/{id}"
    monolith = "monolith purchase (1 SQL transaction)"
    purchase = "purchase (saga via gateway)"
    return [
        (Scenario("bare_http", "bare HTTP (constant JSON)", "bare_http", "ping", c),),
        (Scenario("bare_http_c1", "bare HTTP (constant JSON)", "bare_http", "ping", 1),),
        (
            Scenario("bare_rpc", bare_rpc, "bare_rpc", "ping", c),
            Scenario("item_read", item_read, "gateway", "item_read", c, ("products",),
                     item_probe),
        ),
        (
            Scenario("bare_rpc_c1", bare_rpc, "bare_rpc", "ping", 1),
            Scenario("item_read_c1", item_read, "gateway", "item_read", 1, ("products",),
                     item_probe),
        ),
        (Scenario("feed", "feed GET /api/items", "gateway", "feed", c,
                  ("products",), ("GET", "/api/items")),),
        (Scenario("search", "search GET /api/items/search/{q}", "gateway", "search", c,
                  ("products",), ("GET", "/api/items/search/lamp")),),
        (Scenario("deposit", "deposit POST /api/users/deposit", "gateway", "deposit", c,
                  ("accounts",), ("POST", "/api/users/deposit")),),
        (Scenario("login", "login POST /api/auth/login (bcrypt 12)", "gateway", "login",
                  login_connections, ("accounts",), ("POST", "/api/auth/login")),),
        (
            Scenario("monolith_purchase", monolith, "monolith", "purchase", c, (),
                     purchase_probe),
            Scenario("purchase", purchase, "gateway", "purchase", c, saga, purchase_probe),
        ),
        (
            Scenario("monolith_purchase_c1", monolith, "monolith", "purchase", 1, (),
                     purchase_probe),
            Scenario("purchase_c1", purchase, "gateway", "purchase", 1, saga, purchase_probe),
        ),
    ]


def scenarios(connections: int, login_connections: int) -> list[Scenario]:
    return [s for group in scenario_groups(connections, login_connections) for s in group]
