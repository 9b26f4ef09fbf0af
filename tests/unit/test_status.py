from __future__ import annotations

from kubectl_fed.core.status import ClusterStatus, propagated_condition


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
