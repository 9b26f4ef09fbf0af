"""`kubectl fed status`: an object's status from its FederatedObject and member copies."""

from __future__ import annotations

from typing import Any

from kubectl_fed.ops.status import Selector, object_state, replica_pair
from tests.unit.helpers import deployment, federated

REPLICAS = ("spec", "replicas")


def copy(ready: int, generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": ready},
    }


def test_replica_pair() -> None:
    assert replica_pair(3, 1) == "1/3"  # ready/desired, as kubectl get deploy
    assert replica_pair(3, None) == "?/3"
    assert replica_pair(None, None) is None


def test_selector_matches_group_kind_and_name() -> None:
    assert Selector("apps", "Deployment").matches(deployment())
    assert Selector("apps", "Deployment", "web").matches(deployment())
    assert not Selector("apps", "Deployment", "api").matches(deployment())
    assert not Selector("", "Deployment").matches(deployment())
    assert Selector("apps", "Deployment", "web").title == "deployment.apps/web"


def test_status_all_ok() -> None:
    state = object_state(
        federated(["member-1", "member-2"]),
        REPLICAS,
        {"member-1": copy(3), "member-2": copy(5)},
        {},
    )
    assert state.ok and state.synced is True
    assert state.object == "deployment.apps/web" and state.namespace == "shop"
    assert state.clusters_ok == "2/2" and state.replicas == "8/9"
    assert [(c.cluster, c.replicas) for c in state.clusters] == [
        ("member-1", "3/3"),
        ("member-2", "5/6"),
    ]
    assert state.message == ""


def test_status_unreachable_member_is_unknown_not_ok() -> None:
    error = "cluster member-2 (https://x) is unreachable: connection refused"
    state = object_state(
        federated(["member-1", "member-2"]), REPLICAS, {"member-1": copy(3)}, {"member-2": error}
    )
    row = state.clusters[1]
    assert (row.status, row.synced, row.ready, row.message) == ("OK", None, None, error)
    assert not state.ok and state.synced is None and state.replicas == "?/9"
    assert state.message == error  # names the cluster once


def test_status_member_copy_changed_or_missing() -> None:
    state = object_state(
        federated(["member-1", "member-2"]),
        REPLICAS,
        {"member-1": copy(3, generation=4), "member-2": None},
        {},
    )
    changed, missing = state.clusters
    assert changed.synced is False and "changed in the member" in changed.message
    assert missing.synced is False and missing.message == "missing in the member"
    assert not state.ok and state.synced is False


def test_status_generation_not_synced_and_never_synced() -> None:
    behind = object_state(
        federated(["member-1"], generation=3), REPLICAS, {"member-1": copy(3)}, {}
    )
    assert behind.synced is False and "generation 3 not synced yet" in behind.message
    never = object_state(federated(["member-1"], synced=None), REPLICAS, {"member-1": None}, {})
    assert not never.ok and "never synced" in never.message
    assert never.clusters[0].status == "PendingCreate"


def test_status_cluster_no_longer_placed_awaits_removal() -> None:
    fo = federated(["member-1"])
    fo["status"]["clusters"].append({"cluster": "member-2", "status": "WaitingForRemoval"})
    state = object_state(fo, REPLICAS, {"member-1": copy(3), "member-2": copy(6)}, {})
    leaving = state.clusters[1]
    assert leaving.status == "WaitingForRemoval" and leaving.scheduled is None
    assert not state.ok and state.clusters_ok == "1/2"


def rolled_out(ready: int, wanted: int = 3, **extra: Any) -> dict[str, Any]:
    status = {
        "observedGeneration": 1,
        "replicas": wanted,
        "updatedReplicas": wanted,
        "readyReplicas": ready,
        "availableReplicas": ready,
        **extra,
    }
    return {"metadata": {"generation": 1}, "spec": {"replicas": wanted}, "status": status}


def test_health_per_cluster_and_the_worst_for_the_object() -> None:
    state = object_state(
        federated(["member-1", "member-2"]),
        REPLICAS,
        {"member-1": rolled_out(3), "member-2": rolled_out(4, 6)},
        {},
    )
    ready, behind = state.clusters
    assert ready.health is not None and ready.health.state == "Ready"
    assert behind.health is not None
    assert (behind.health.state, behind.health.reason) == ("Progressing", "ReplicasUnavailable")
    assert behind.health.message == "4 of 6 updated replicas are available"
    assert state.health == "Progressing" and state.healthy and state.ok
    assert state.as_dict()["clusters"][1]["health"]["reason"] == "ReplicasUnavailable"


def test_a_failed_copy_is_named_in_the_message_and_not_healthy() -> None:
    late = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet web-1 has timed out progressing.",
    }
    state = object_state(
        federated(["member-1", "member-2"]),
        REPLICAS,
        {"member-1": rolled_out(3), "member-2": rolled_out(0, 6, conditions=[late])},
        {},
    )
    assert state.health == "Failed" and not state.healthy
    assert state.message == (
        "member-2: Failed (ProgressDeadlineExceeded): ReplicaSet web-1 has timed out progressing."
    )


def test_unreachable_missing_and_leaving_clusters_have_their_health() -> None:
    fo = federated(["member-1", "member-2"])
    fo["status"]["clusters"].append({"cluster": "member-3", "status": "WaitingForRemoval"})
    state = object_state(
        fo, REPLICAS, {"member-1": None, "member-3": rolled_out(1)}, {"member-2": "no answer"}
    )
    missing, down, leaving = state.clusters
    assert missing.health is not None and missing.health.reason == "NotFound"
    assert down.health is not None and (down.health.state, down.health.reason) == (
        "Unknown",
        "ClusterUnreachable",
    )
    assert leaving.health is None  # not placed there: its health says nothing
    assert state.health == "Unknown"


def test_status_collection_fields_are_shown_per_cluster() -> None:
    copy_ = rolled_out(3)
    copy_["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    state = object_state(
        federated(["member-1"]),
        REPLICAS,
        {"member-1": copy_},
        {},
        ("metadata.creationTimestamp", "status.readyReplicas", "spec.nothing"),
    )
    [row] = state.as_dict()["clusters"]
    assert row["collectedFields"] == {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"readyReplicas": 3},
    }
    plain = object_state(federated(["member-1"]), REPLICAS, {"member-1": copy_}, {})
    assert "collectedFields" not in plain.as_dict()["clusters"][0]
