"""The schema and its Citus distribution, read out of the migrations in `sql/` as written:
tables with their columns, keys and foreign keys, and every `create_distributed_table`
/ `create_reference_table` call, in the order the migrations run them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ops.migrate import SQL_DIR, Migration, discover

_COMMENT = re.compile(r"--[^\n]*")
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(", re.I)
_UNIQUE_INDEX = re.compile(
    r"CREATE\s+UNIQUE\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\w*\s*"
    r"ON\s+(?:ONLY\s+)?(\w+)(?:\s+USING\s+\w+)?\s*\(",
    re.I,
)
_DO_BLOCK = re.compile(r"DO\s+\$\$(.*?)\$\$\s*;", re.S | re.I)
_CITUS_GUARD = re.compile(
    r"IF\s+EXISTS\s*\(\s*SELECT\s+1\s+FROM\s+pg_extension\s+WHERE\s+extname\s*=\s*'citus'\s*\)"
    r"\s+THEN(.*?)END\s+IF\s*;",
    re.S | re.I,
)
_CALL = re.compile(r"\b(create_distributed_table|create_reference_table)\s*\(([^;]*?)\)\s*;", re.I)
_STRING = re.compile(r"'([^']*)'")
_COLOCATE = re.compile(r"colocate_with\s*=>\s*'([^']*)'", re.I)
_REFERENCES = re.compile(r"REFERENCES\s+(\w+)\s*(?:\(([^)]*)\))?", re.I)


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass
class Table:
    name: str
    file: str
    columns: dict[str, str] = field(default_factory=dict)  # name -> type (first word)
    not_null: set[str] = field(default_factory=set)
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)  # PRIMARY KEY and UNIQUE
    foreign_keys: list[ForeignKey] = field(default_factory=list)


@dataclass(frozen=True)
class Distribution:
    table: str
    column: str | None  # None: a reference table
    colocate_with: str | None
    file: str
    guarded: bool


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    distributions: list[Distribution] = field(default_factory=list)  # in migration order
    unique_indexes: list[tuple[str, str, str]] = field(default_factory=list)  # table, cols, file
    guards: list[tuple[str, str]] = field(default_factory=list)  # (file, DO block) calling Citus

    def distribution_of(self, table: str) -> Distribution | None:
        return next((d for d in self.distributions if d.table == table), None)

    def colocation_groups(self) -> dict[str, str]:
        """Table -> its co-location group, as Citus assigns it (default: by column type)."""
        groups: dict[str, str] = {}
        for d in self.distributions:
            if d.column is None:
                groups[d.table] = "reference"
            elif d.colocate_with in (None, "default"):
                column_type = self.tables.get(d.table, Table(d.table, "")).columns.get(d.column)
                groups[d.table] = f"default:{column_type}"
            elif d.colocate_with == "none":
                groups[d.table] = f"alone:{d.table}"
            else:
                groups[d.table] = groups.get(d.colocate_with, f"undistributed:{d.colocate_with}")
        return groups


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"').lower() for part in text.split(",") if part.strip())


def _balanced(text: str, start: int) -> tuple[str, int]:
    """The text inside the parenthesis opened just before `start`, and the index after it."""
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1], i


def _top_level_split(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _constraint_columns(element: str, keyword: str) -> tuple[str, ...]:
    match = re.search(keyword + r"\s*\(([^)]*)\)", element, re.I)
    return _names(match.group(1)) if match else ()


def _add_element(table: Table, element: str) -> None:
    element = re.sub(r"^CONSTRAINT\s+\w+\s+", "", element, flags=re.I)
    head = element.split(None, 1)[0].upper()
    if head == "PRIMARY":
        table.unique_keys.append(_constraint_columns(element, r"PRIMARY\s+KEY"))
    elif head == "UNIQUE":
        table.unique_keys.append(_constraint_columns(element, "UNIQUE"))
    elif head == "FOREIGN":
        ref = _REFERENCES.search(element)
        assert ref is not None, f"{table.name}: a FOREIGN KEY without REFERENCES: {element}"
        table.foreign_keys.append(ForeignKey(
            _constraint_columns(element, r"FOREIGN\s+KEY"), ref.group(1).lower(),
            _names(ref.group(2) or ""),
        ))
    elif head in ("CHECK", "EXCLUDE", "LIKE"):
        return
    else:
        name, column_type = element.split(None, 2)[:2]
        name = name.strip('"').lower()
        table.columns[name] = column_type.lower()
        upper = element.upper()
        if "NOT NULL" in upper or "PRIMARY KEY" in upper:
            table.not_null.add(name)
        if re.search(r"\bPRIMARY\s+KEY\b", element, re.I) or re.search(r"\bUNIQUE\b", element,
                                                                          re.I):
            table.unique_keys.append((name,))
        ref = _REFERENCES.search(element)
        if ref:
            table.foreign_keys.append(ForeignKey((name,), ref.group(1).lower(),
                                                 _names(ref.group(2) or "")))


def _read_tables(schema: Schema, migration: Migration, sql: str) -> None:
    for match in _CREATE_TABLE.finditer(sql):
        body, _ = _balanced(sql, match.end())
        table = Table(match.group(1).lower(), migration.name)
        for element in _top_level_split(body):
            _add_element(table, element)
        schema.tables[table.name] = table
    for match in _UNIQUE_INDEX.finditer(sql):
        columns, _ = _balanced(sql, match.end())
        schema.unique_indexes.append((match.group(1).lower(), columns, migration.name))


def _read_calls(schema: Schema, migration: Migration, sql: str) -> None:
    guarded_spans = []
    for block in _DO_BLOCK.finditer(sql):
        if not _CALL.search(block.group(1)):
            continue
        schema.guards.append((migration.name, block.group(1)))
        for guard in _CITUS_GUARD.finditer(block.group(1)):
            offset = block.start(1)
            guarded_spans.append((offset + guard.start(1), offset + guard.end(1)))
    for call in _CALL.finditer(sql):
        strings = _STRING.findall(call.group(2))
        colocate = _COLOCATE.search(call.group(2))
        reference = call.group(1).lower() == "create_reference_table"
        schema.distributions.append(Distribution(
            table=strings[0].lower(),
            column=None if reference else strings[1].lower(),
            colocate_with=colocate.group(1).lower() if colocate else None,
            file=migration.name,
            guarded=any(start <= call.start() < end for start, end in guarded_spans),
        ))


def read_schema(directory: Path = SQL_DIR) -> Schema:
    """Every migration of `sql/`, in the order `itemx migrate` applies them."""
    schema = Schema()
    for migration in discover(directory):
        sql = _COMMENT.sub("", migration.sql)
        _read_tables(schema, migration, sql)
        _read_calls(schema, migration, sql)
    return schema
