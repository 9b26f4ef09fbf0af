from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.core.status import ClusterStatus, aggregate_workload_status, propagated_condition


def test_deployment_counts_are_summed_where_reported() -> None:
    statuses = {
        "a": {
            "replicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "updatedReplicas": 2,
            "observedGeneration": 5,
        },
        "b": {"replicas": 3, "readyReplicas": 1, "unavailableReplicas": 2, "updatedReplicas": 3},
        "c": None,
    }
    current = {"a": True, "b": True, "c": True}
    assert aggregate_workload_status("Deployment", statuses, 7, current) == {
        "replicas": 5,
        "updatedReplicas": 5,
        "readyReplicas": 3,
        "availableReplicas": 2,
        "unavailableReplicas": 2,
        "observedGeneration": 7,
    }


@pytest.mark.parametrize("current", [{"a": True, "b": False}, {"a": True}])
def test_observed_generation_waits_for_every_cluster(current: Any) -> None:
    statuses = {"a": {"replicas": 1}, "b": {"replicas": 1}}
    assert aggregate_workload_status("StatefulSet", statuses, 3, current) == {"replicas": 2}


def test_no_clusters_is_trivially_current() -> None:
    assert aggregate_workload_status("ReplicaSet", {}, 4, {}) == {"observedGeneration": 4}


def test_job_and_daemonset_counts() -> None:
    jobs = {"a": {"active": 1, "succeeded": 2}, "b": {"failed": 1, "succeeded": 1}}
    assert aggregate_workload_status("Job", jobs, 1, {"a": False, "b": True}) == {
        "active": 1,
        "succeeded": 3,
        "failed": 1,
    }
    daemons = {
        "a": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "numberMisscheduled": 0,
        },
        "b": {
            "desiredNumberScheduled": 2,
            "currentNumberScheduled": 1,
            "numberReady": 1,
            "numberUnavailable": 1,
        },
    }
    assert aggregate_workload_status("DaemonSet", daemons, 2, {"a": True, "b": True}) == {
        "desiredNumberScheduled": 5,
        "currentNumberScheduled": 4,
        "numberReady": 3,
        "numberUnavailable": 1,
        "numberMisscheduled": 0,
        "observedGeneration": 2,
    }


def test_kinds_without_counts_aggregate_nothing() -> None:
    assert aggregate_workload_status("ConfigMap", {"a": {"x": 1}}, 1, {"a": True}) == {}


def test_propagated_when_every_cluster_is_ok() -> None:
    condition = propagated_condition({"a": "OK", "b": ClusterStatus.OK}, "2024-01-01T00:00:00Z")
    assert condition == {
        "type": "Propagated",
        "status": "True",
        "reason": "",
        "message": "",
        "lastTransitionTime": "2024-01-01T00:00:00Z",
        "lastUpdateTime": "2024-01-01T00:00:00Z",
    }
    assert propagated_condition({}, "t")["status"] == "True"


def test_not_propagated_names_the_clusters_to_check() -> None:
    condition = propagated_condition(
        {"b": ClusterStatus.CREATION_FAILED, "a": "ClusterNotReady", "c": "OK"}, "t"
    )
    assert condition["status"] == "False"
    assert condition["reason"] == "CheckClusters"
    assert condition["message"] == "2 of 3 clusters not OK: a (ClusterNotReady), b (CreationFailed)"


def test_long_lists_of_clusters_are_cut_short() -> None:
    statuses = {f"c{i}": "UpdateFailed" for i in range(8)}
    message = propagated_condition(statuses, "t")["message"]
    assert message.startswith("8 of 8 clusters not OK: c0 (UpdateFailed), ")
    assert message.endswith("c4 (UpdateFailed) and 3 more")


def test_cluster_status_codes_are_the_documented_ones() -> None:
    assert [code.value for code in ClusterStatus] == [
        "OK",
        "PendingCreate",
        "WaitingForRemoval",
        "ClusterNotReady",
        "ClusterTerminating",
        "ApplyOverridesFailed",
        "CreationFailed",
        "UpdateFailed",
        "DeletionFailed",
        "RetrievalFailed",
        "AlreadyExists",
        "ManagedLabelFalse",
        "FieldRetentionFailed",
        "CreationTimedOut",
        "UpdateTimedOut",
        "DeletionTimedOut",
        "Drifted",
        "PendingSync",
    ]
    assert ClusterStatus("OK") == "OK"
    assert f"{ClusterStatus.APPLY_OVERRIDES_FAILED}" == "ApplyOverridesFailed"
