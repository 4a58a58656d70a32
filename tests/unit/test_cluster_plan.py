"""How `itemx cluster-init` reads its nodes: the environment's lists, flags overriding them,
and URLs pointed at each node with the coordinator's credentials and options."""

from __future__ import annotations

import pytest

from ops.cluster import (
    ClusterSettings,
    Node,
    Secondary,
    node_url,
    parse_nodes,
    parse_secondaries,
    plan_from,
    with_setting,
)


def test_nodes_are_host_and_port_with_5432_by_default() -> None:
    assert parse_nodes(" citus-worker-1:5432, citus-worker-2:6432 ,citus-worker-3,") == [
        Node("citus-worker-1"), Node("citus-worker-2", 6432), Node("citus-worker-3"),
    ]
    assert parse_nodes("") == []


@pytest.mark.parametrize("bad", ["worker:", "worker:abc", ":5432"])
def test_a_malformed_node_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        Node.parse(bad)


def test_secondaries_name_their_primary() -> None:
    assert parse_secondaries("citus-replica-1:5432=citus-worker-1:5432,r2=w2:6432") == [
        Secondary(Node("citus-replica-1"), Node("citus-worker-1")),
        Secondary(Node("r2"), Node("w2", 6432)),
    ]
    with pytest.raises(ValueError, match="replica:port=primary:port"):
        parse_secondaries("citus-replica-1:5432")


def test_node_url_keeps_credentials_database_and_options() -> None:
    url = "postgresql://postgres:s3cret@citus-coordinator:5432/itemx?sslmode=prefer"
    assert node_url(url, Node("citus-worker-2", 6432)) == (
        "postgresql://postgres:s3cret@citus-worker-2:6432/itemx?sslmode=prefer"
    )
    assert node_url("postgresql://db/itemx", Node("w")) == "postgresql://w:5432/itemx"


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@coord:5432/itemx")
    monkeypatch.setenv("CITUS_WORKERS", "w1:5432,w2:5432")
    monkeypatch.setenv("CITUS_SECONDARIES", "r1:5432=w1:5432")
    monkeypatch.setenv("CITUS_COORDINATOR", "coord:5432")
    monkeypatch.setenv("CLUSTER_INIT_TIMEOUT_SECONDS", "7")
    from_env = plan_from(ClusterSettings())
    assert from_env.database_url == "postgresql://u:p@coord:5432/itemx"
    assert from_env.workers == [Node("w1"), Node("w2")]
    assert from_env.secondaries == [Secondary(Node("r1"), Node("w1"))]
    assert from_env.coordinator == Node("coord")
    assert from_env.timeout == 7

    flagged = plan_from(ClusterSettings(), workers="w9:5432", secondaries="", coordinator="",
                        timeout=1.5, database_url="postgresql://other/x")
    assert flagged.workers == [Node("w9")]
    assert flagged.secondaries == [] and flagged.coordinator is None
    assert flagged.timeout == 1.5 and flagged.database_url == "postgresql://other/x"


def test_a_session_setting_is_added_to_the_url_once() -> None:
    url = "postgresql://u:p@coord:5432/itemx?sslmode=prefer&citus.multi_shard_modify_mode=parallel"
    assert with_setting(url, "citus.multi_shard_modify_mode", "sequential") == (
        "postgresql://u:p@coord:5432/itemx?sslmode=prefer&citus.multi_shard_modify_mode=sequential"
    )
