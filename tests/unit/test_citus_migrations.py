"""The Citus distribution the migrations declare, checked against the rules of citus.md
without a Citus cluster: read from every `sql/*.sql` at test time, so a new migration is
checked as soon as it lands."""

from __future__ import annotations

import re

import pytest

from tests.support.sql_schema import Schema, Table, read_schema

# citus.md, "Distribution": table -> (distribution column, the table it is co-located with).
CITUS_MD_TABLES = {
    "users": ("id", "users"),
    "ledger": ("user_id", "users"),
    "usernames": ("username", "usernames"),
    "user_emails": ("email", "usernames"),
    "items": ("seller_id", "users"),
    "transactions": ("seller_id", "users"),
    "purchases": ("buyer_id", "users"),
}

# Tables created in sql/ that stay local on the coordinator, each with the reason.
# (schema_migrations is created by ops/migrate.py, not in sql/: it is the coordinator's
# own record of applied migrations and is never distributed.)
LOCAL_TABLES: dict[str, str] = {}

_EVENT_TABLE = re.compile(r"^(\w+_)?(outbox|inbox)$")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return read_schema()


def test_the_migrations_declare_tables_and_distribute_them(schema: Schema) -> None:
    assert schema.tables, "no CREATE TABLE found in sql/"
    assert schema.distributions, "no create_distributed_table found in sql/"


def test_distribution_runs_only_where_citus_is_present(schema: Schema) -> None:
    unguarded = [f"{d.file}: {d.table}" for d in schema.distributions if not d.guarded]
    assert not unguarded, (
        "create_distributed_table/create_reference_table outside a block guarded by"
        f" IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus'): {unguarded}"
    )


def test_every_table_is_distributed_reference_or_allowed(schema: Schema) -> None:
    placed = {d.table for d in schema.distributions}
    local = sorted(set(schema.tables) - placed - set(LOCAL_TABLES))
    assert not local, f"tables neither distributed, reference, nor in LOCAL_TABLES: {local}"
    stale = sorted(set(LOCAL_TABLES) - set(schema.tables))
    assert not stale, f"LOCAL_TABLES names tables that sql/ does not create: {stale}"
    unknown = sorted(placed - set(schema.tables))
    assert not unknown, f"distributed but never created in sql/: {unknown}"


def test_each_table_is_distributed_once_in_the_file_that_creates_it(schema: Schema) -> None:
    seen: dict[str, str] = {}
    for d in schema.distributions:
        assert d.table not in seen, f"{d.table} distributed twice ({seen[d.table]}, {d.file})"
        seen[d.table] = d.file
        created_in = schema.tables[d.table].file if d.table in schema.tables else None
        assert created_in == d.file, (
            f"{d.table} is created in {created_in}, distributed in {d.file}"
        )


@pytest.mark.parametrize("table", sorted(CITUS_MD_TABLES))
def test_citus_md_table(schema: Schema, table: str) -> None:
    column, colocated_with = CITUS_MD_TABLES[table]
    assert table in schema.tables, f"no migration in sql/ creates {table} (citus.md lists it)"
    d = schema.distribution_of(table)
    assert d is not None and d.column is not None, f"{table} is not distributed"
    assert d.column == column, f"{table} is distributed by {d.column}, citus.md says {column}"
    groups = schema.colocation_groups()
    assert groups[table] == groups[colocated_with], (
        f"{table} is not co-located with {colocated_with}: "
        f"{groups[table]} != {groups[colocated_with]}"
    )


def test_event_tables_live_on_the_shard_of_their_row(schema: Schema) -> None:
    """Every outbox and inbox is written in the same local transaction as the row it
    belongs to: distributed by that row's key, co-located with users."""
    event_tables = sorted(name for name in schema.tables if _EVENT_TABLE.match(name))
    assert event_tables, "no *_outbox or *_inbox table in sql/"
    groups = schema.colocation_groups()
    for name in event_tables:
        d = schema.distribution_of(name)
        assert d is not None and d.column is not None, f"{name} is not distributed"
        table = schema.tables[name]
        assert table.columns.get(d.column) == "bigint", f"{name}.{d.column} is not a bigint key"
        assert d.column in table.not_null, f"{name}.{d.column} may be NULL"
        assert groups[name] == groups["users"], f"{name} is not co-located with users"


def test_parents_are_distributed_before_children(schema: Schema) -> None:
    order = {d.table: i for i, d in enumerate(schema.distributions)}
    for i, d in enumerate(schema.distributions):
        if d.colocate_with not in (None, "default", "none"):
            assert order.get(d.colocate_with, len(order)) < i, (
                f"{d.table} ({d.file}) is co-located with {d.colocate_with},"
                " which is not distributed before it"
            )
        for fk in schema.tables[d.table].foreign_keys:
            if fk.table != d.table:
                assert order.get(fk.table, len(order)) < i, (
                    f"{d.table} ({d.file}) references {fk.table}, not distributed before it"
                )


def test_colocated_tables_share_the_distribution_column_type(schema: Schema) -> None:
    for d in schema.distributions:
        if d.column is None or d.colocate_with in (None, "default", "none"):
            continue
        parent = schema.distribution_of(d.colocate_with)
        assert parent is not None and parent.column is not None
        own = schema.tables[d.table].columns.get(d.column)
        theirs = schema.tables[parent.table].columns.get(parent.column)
        assert own is not None, f"{d.table} has no column {d.column}"
        assert own == theirs, (
            f"{d.table}.{d.column} is {own}, {parent.table}.{parent.column} is {theirs}"
        )


def test_every_unique_key_includes_the_distribution_column(schema: Schema) -> None:
    """citus.md rule 1: Citus refuses PRIMARY KEY/UNIQUE without the distribution column."""
    for d in schema.distributions:
        if d.column is None:
            continue
        table = schema.tables[d.table]
        assert d.column in table.columns, f"{d.table} has no column {d.column}"
        for key in table.unique_keys:
            assert d.column in key, f"{d.table}: unique key {key} lacks {d.column}"
        for name, columns, file in schema.unique_indexes:
            if name == d.table:
                assert re.search(rf"\b{d.column}\b", columns), (
                    f"{file}: unique index on {name} ({columns}) lacks {d.column}"
                )


def _referenced_columns(schema: Schema, target: Table, columns: tuple[str, ...]) -> tuple:
    return columns or (target.unique_keys[0] if target.unique_keys else ())


def test_foreign_keys_join_colocated_tables_on_their_distribution_column(schema: Schema) -> None:
    """citus.md rule 5: items.seller_id -> users.id works; transactions.buyer_id -> users.id
    is refused."""
    groups = schema.colocation_groups()
    for d in schema.distributions:
        if d.column is None:
            continue
        for fk in schema.tables[d.table].foreign_keys:
            target = schema.distribution_of(fk.table)
            assert target is not None, f"{d.table} references {fk.table}, which is local"
            if target.column is None:
                continue  # a reference table is on every node
            assert groups[d.table] == groups[fk.table], (
                f"{d.table} references {fk.table}, which is not co-located with it"
            )
            pairs = zip(fk.columns,
                        _referenced_columns(schema, schema.tables[fk.table], fk.ref_columns),
                        strict=False)
            assert (d.column, target.column) in set(pairs), (
                f"{d.table}{fk.columns} -> {fk.table}{fk.ref_columns} does not go through"
                f" {d.table}.{d.column} -> {fk.table}.{target.column}"
            )


def test_ids_are_bigint(schema: Schema) -> None:
    """citus.md rule 7: ids are bigint (identity or bigserial), never int or serial."""
    narrow = {"int", "int2", "int4", "integer", "smallint", "serial", "serial4", "smallserial"}
    for table in schema.tables.values():
        for column, column_type in table.columns.items():
            if column == "id" or column.endswith("_id"):
                assert column_type not in narrow, f"{table.name}.{column} is {column_type}"
