"""Every SQL statement in every `workers/*/repository.py` that touches a distributed table
names the table's distribution column (`citus.md`, rule 3), so Citus routes it to one
shard: in its WHERE clause, as equality with a bound parameter, or, for an INSERT, in
its column list. Fan-out statements (feeds, search, reports) are listed, with the
reason, in FAN_OUT. An UPDATE never sets a distribution column (rule 6).

Adding a table? Put it in DISTRIBUTION_COLUMNS (or LOCAL_TABLES when it is not
distributed): a statement on a table that is in neither fails this test.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DISTRIBUTION_COLUMNS: dict[str, str] = {
    # accounts (sql/0001_accounts.sql)
    "users": "id",
    "ledger": "user_id",
    "usernames": "username",
    "user_emails": "email",
    "login_failures": "subject",
    "accounts_outbox": "key",
    # products (sql/0002_products.sql)
    "items": "seller_id",
    "products_outbox": "key",
    # transactions (sql/0003_transactions.sql: purchases by buyer, sales by seller)
    "purchases": "buyer_id",
    "transactions": "seller_id",
    "transactions_outbox": "key",
    # reports read model (sql/0004_reports.sql)
    "reports_inbox": "user_id",
    "report_days": "user_id",
}

GENERATED_KEYS: set[str] = {
    # an INSERT may leave the distribution column out when it is an identity: Citus draws
    # the value on the coordinator, then routes the row to its one shard
    "users",
}

LOCAL_TABLES: set[str] = {
    "schema_migrations",  # the migrate command's own record, on the coordinator
}

FAN_OUT: dict[tuple[str, str], str] = {
    # (service, function in its repository.py): why it spans every shard
    ("products", "feed_by_status"): "the feed of every seller, newest first, LIMITed",
    ("products", "feed_all"): "the feed of every seller and status, LIMITed",
    ("products", "search"): "full-text search over every seller, ranked per shard, LIMITed",
    ("transactions", "due_purchases"): "the saga sweeper looks for stuck purchases of all buyers",
    ("accounts", "prune_login_failures"): "a periodic clean-up of expired throttle windows",
}

_SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_TABLE = re.compile(
    r"\bINTO\s+([A-Za-z_]\w*)|\b(?:FROM|JOIN|UPDATE)\s+([A-Za-z_]\w*)\b(?!\s*\()",  # not f(…)
    re.IGNORECASE,
)
_NOT_TABLES = {"set"}  # ON CONFLICT ... DO UPDATE SET
_INSERT = re.compile(
    r"\bINSERT\s+INTO\s+(\w+)(?:\s+AS\s+\w+)?\s*\(([^)]*)\)", re.IGNORECASE
)


@dataclass(frozen=True)
class Statement:
    service: str
    function: str
    sql: str

    @property
    def where(self) -> str:
        """Every WHERE clause of the statement (a CTE or UNION has several)."""
        clauses = re.findall(
            r"\bWHERE\b(.*?)(?=\bWHERE\b|\bRETURNING\b|\bORDER\s+BY\b|\bGROUP\s+BY\b"
            r"|\bLIMIT\b|\bFOR\s+UPDATE\b|\bUNION\b|$)",
            self.sql, re.IGNORECASE | re.DOTALL,
        )
        return " AND ".join(clauses)

    def ctes(self) -> set[str]:
        """Names a WITH clause defines: results of the statement, not tables."""
        return {n.lower() for n in re.findall(r"(?:\bWITH|,)\s+(\w+)\s+AS\s*\(", self.sql, re.I)}

    def tables(self) -> list[str]:
        names = ((into or other).lower() for into, other in _TABLE.findall(self.sql))
        skip = _NOT_TABLES | self.ctes()
        return list(dict.fromkeys(name for name in names if name not in skip))


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level string constants (`ITEM_COLUMNS = "..."`), to fill f-strings in."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                constants[target.id] = node.value.value
    return constants


def _render(node: ast.JoinedStr, constants: dict[str, str]) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
            parts.append(constants.get(value.value.id, "?"))
        else:
            parts.append("?")
    return "".join(parts)


def extract(path: Path) -> list[Statement]:
    """Every SQL statement written as a string or f-string in one repository module."""
    tree = ast.parse(path.read_text())
    constants = _module_strings(tree)
    service = path.parent.name
    docstrings = {
        id(node.value) for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    statements: list[Statement] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            function = node.name
        if isinstance(node, ast.JoinedStr):
            text = _render(node, constants)
            if _SQL_START.match(text):
                statements.append(Statement(service, function, " ".join(text.split())))
            return  # its constant parts are not statements of their own
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and _SQL_START.match(node.value)):
            statements.append(Statement(service, function, " ".join(node.value.split())))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return statements


def problems(statement: Statement) -> list[str]:
    """Why a statement would not be routed to one shard (empty when it would)."""
    found = []
    inserted = {m.group(1).lower(): m.group(2) for m in _INSERT.finditer(statement.sql)}
    for table in statement.tables():
        column = DISTRIBUTION_COLUMNS.get(table)
        if column is None:
            if table not in LOCAL_TABLES:
                found.append(f"{table}: not in DISTRIBUTION_COLUMNS nor LOCAL_TABLES")
            continue
        if table in inserted:
            if table not in GENERATED_KEYS and not re.search(rf"\b{column}\b", inserted[table]):
                found.append(f"INSERT INTO {table} without its distribution column {column}")
            continue
        if not re.search(rf"(?:\b\w+\.)?\b{column}\s*=\s*\$\d+", statement.where):
            found.append(f"{table}: WHERE does not fix {column} = $n")
        set_clause = re.search(r"\bSET\b(.*?)\bWHERE\b", statement.sql, re.IGNORECASE)
        if set_clause and re.search(rf"(?:^|,)\s*{column}\s*=", set_clause.group(1)):
            found.append(f"{table}: UPDATE sets its distribution column {column}")
    return found


def all_statements() -> list[Statement]:
    return [s for path in sorted(ROOT.glob("workers/*/repository.py")) for s in extract(path)]


STATEMENTS = all_statements()


@pytest.mark.parametrize(
    "statement", [s for s in STATEMENTS if (s.service, s.function) not in FAN_OUT],
    ids=lambda s: f"{s.service}.{s.function}",
)
def test_statement_names_its_distribution_column(statement: Statement) -> None:
    assert problems(statement) == [], statement.sql


def test_every_repository_is_read() -> None:
    services = {s.service for s in STATEMENTS}
    assert {"accounts", "products"} <= services
    assert {s.service for s in STATEMENTS} == {
        path.parent.name for path in ROOT.glob("workers/*/repository.py")
    }
    known = {(s.service, s.function) for s in STATEMENTS}
    for function in ("get_item", "reserve", "mark_sold", "insert_item", "get_user", "move_money"):
        assert any(f == function for _, f in known), function


def test_fan_out_list_names_existing_statements() -> None:
    """A stale entry would silently allow a future statement of the same name."""
    known = {(s.service, s.function) for s in STATEMENTS}
    assert set(FAN_OUT) <= known


@pytest.mark.parametrize("sql", [
    "UPDATE items SET price = $3 WHERE id = $2",
    "SELECT id FROM items WHERE id = $1 FOR UPDATE",
    "DELETE FROM items WHERE seller_id > $1 AND id = $2",
    "INSERT INTO items (id, title) VALUES ($1, $2)",
    "UPDATE items SET seller_id = $3 WHERE seller_id = $1 AND id = $2",
    "SELECT * FROM users",
    "SELECT * FROM mystery_table WHERE id = $1",
])
def test_the_check_catches_statements_that_fan_out(sql: str) -> None:
    assert problems(Statement("example", "example", sql)) != []


@pytest.mark.parametrize("sql", [
    "UPDATE items SET price = $3 WHERE seller_id = $1 AND id = $2 RETURNING seller_id",
    "INSERT INTO login_failures AS f (subject, failures) VALUES ($1, 1) ON CONFLICT (subject)"
    " DO UPDATE SET failures = f.failures + 1",
    "SELECT i.title FROM items i WHERE i.seller_id = $1 ORDER BY created_at DESC LIMIT $2",
])
def test_the_check_accepts_single_shard_statements(sql: str) -> None:
    assert problems(Statement("example", "example", sql)) == []
