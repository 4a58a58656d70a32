"""The reports read model's SQL keeps to `citus.md` rule 3 like every repository: each
hot-path statement names `user_id` (the checker of test_distribution_keys.py, applied to
workers/transactions/reports_repository.py); the operator's rebuild is the listed fan-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_distribution_keys import Statement, extract, problems

REPOSITORY = Path(__file__).resolve().parents[2] / "workers/transactions/reports_repository.py"

FAN_OUT = {
    "add_rebuild_entries": "`itemx replay reports` fills the shadow inbox of every user",
    "swap_in_rebuild": "`itemx replay reports` swaps the whole read model in at once",
}

STATEMENTS = extract(REPOSITORY)


@pytest.mark.parametrize(
    "statement", [s for s in STATEMENTS if s.function not in FAN_OUT], ids=lambda s: s.function
)
def test_hot_path_statement_names_the_user(statement: Statement) -> None:
    assert problems(statement) == [], statement.sql


def test_the_hot_path_is_checked_and_the_fan_out_list_is_current() -> None:
    functions = {statement.function for statement in STATEMENTS}
    assert {"apply_entry", "report_days"} <= functions
    assert set(FAN_OUT) <= functions
