"""Each kind's status aggregation (core/aggregation) against worked examples: member
statuses in, the template's status out. The rules are KubeAdmiral's status aggregator's
(Deployment counts and observedGeneration, Job, Pod) and Karmada's (load balancers)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.core.aggregation import AGGREGATORS, Collected, aggregate

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:09:00Z"
NOW = "2024-05-02T00:00:00Z"


def collected(
    statuses: dict[str, Any],
    current: dict[str, bool] | None = None,
    placed: tuple[str, ...] | None = None,
    generation: int | None = 7,
    previous: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> Collected:
    return Collected(
        placed=placed if placed is not None else tuple(sorted(statuses)),
        statuses=statuses,
        current=current if current is not None else {c: True for c in statuses},
        generation=generation,
        previous=previous or {},
        spec=spec or {},
        now=NOW,
    )


def condition(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


# ------------------------------------------------------------------------- replica kinds


def test_deployment_counts_are_summed_where_reported() -> None:
    statuses = {
        "a": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2},
        "b": {"replicas": 3, "readyReplicas": 1, "unavailableReplicas": 2, "updatedReplicas": 3},
        "c": None,
    }
    current = {"a": True, "b": True, "c": True}
    assert aggregate("apps", "Deployment", collected(statuses, current)) == {
        "replicas": 5,
        "updatedReplicas": 5,
        "readyReplicas": 3,
        "availableReplicas": 2,
        "unavailableReplicas": 2,
        "observedGeneration": 7,
    }


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_observed_generation_mismatch_keeps_the_old_one(kind: str) -> None:
    """One member whose controller has not observed the generation sync wrote: the
    template's observedGeneration stays what it was (KubeAdmiral), so waiters keep waiting."""
    statuses = {"a": {"observedGeneration": 4}, "b": {"observedGeneration": 3}}
    behind = collected(statuses, {"a": True, "b": False}, previous={"observedGeneration": 6})
    assert aggregate("apps", kind, behind) == {"observedGeneration": 6}
    never = collected(statuses, {"a": True, "b": False})
    assert "observedGeneration" not in (aggregate("apps", kind, never) or {})
    assert aggregate("apps", kind, collected(statuses))["observedGeneration"] == 7  # type: ignore[index]


def test_a_member_missing_status_adds_nothing_and_is_not_current() -> None:
    statuses = {"a": {"replicas": 3, "readyReplicas": 3}, "b": None}
    result = aggregate("apps", "StatefulSet", collected(statuses, {"a": True, "b": False}))
    assert result == {"replicas": 3, "readyReplicas": 3}


def test_a_member_down_counts_nothing_and_holds_observed_generation() -> None:
    """member-2 does not answer: it is placed but absent from the statuses."""
    statuses = {"member-1": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}}
    down = collected(
        statuses,
        {"member-1": True},
        placed=("member-1", "member-2"),
        previous={"observedGeneration": 2, "replicas": 9, "readyReplicas": 9},
    )
    assert aggregate("apps", "Deployment", down) == {
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 2,
    }


def test_placed_nowhere_is_trivially_current() -> None:
    assert aggregate("apps", "ReplicaSet", collected({})) == {"observedGeneration": 7}


def test_daemonset_counts() -> None:
    daemons = {
        "a": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2},
        "b": {"desiredNumberScheduled": 2, "numberReady": 1, "numberUnavailable": 1},
    }
    assert aggregate("apps", "DaemonSet", collected(daemons)) == {
        "desiredNumberScheduled": 5,
        "currentNumberScheduled": 3,
        "numberReady": 3,
        "numberUnavailable": 1,
        "observedGeneration": 7,
    }


def test_deployment_conditions_all_true() -> None:
    available = condition(
        "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
    )
    statuses = {"a": {"conditions": [available]}, "b": {"conditions": [available]}}
    [merged] = aggregate("apps", "Deployment", collected(statuses))["conditions"]  # type: ignore[index]
    assert merged == {
        "type": "Available",
        "status": "True",
        "reason": "MinimumReplicasAvailable",
        "message": "Deployment has minimum availability. (clusters [a,b])",
        "lastUpdateTime": NOW,
        "lastTransitionTime": NOW,
    }


def test_progress_deadline_exceeded_in_one_member_makes_progressing_false() -> None:
    ok = condition(
        "Progressing",
        "True",
        "NewReplicaSetAvailable",
        "ReplicaSet web-1 has successfully progressed.",
    )
    late = condition(
        "Progressing",
        "False",
        "ProgressDeadlineExceeded",
        "ReplicaSet web-2 has timed out progressing.",
    )
    statuses = {"a": {"conditions": [ok]}, "b": {"conditions": [late]}}
    [merged] = aggregate("apps", "Deployment", collected(statuses))["conditions"]  # type: ignore[index]
    assert (merged["status"], merged["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert merged["message"] == "ReplicaSet web-2 has timed out progressing. (clusters [b])"


def test_a_cluster_without_the_condition_makes_it_unknown() -> None:
    available = condition("Available", "True", "MinimumReplicasAvailable", "ok")
    statuses = {"a": {"conditions": [available]}, "b": None}
    [merged] = aggregate("apps", "Deployment", collected(statuses))["conditions"]  # type: ignore[index]
    assert (merged["status"], merged["reason"]) == ("Unknown", "NotReported")
    assert merged["message"] == "not reported by clusters [b]"


def test_replica_failure_in_any_member_is_reported_with_each_message() -> None:
    failure_a = condition("ReplicaFailure", "True", "FailedCreate", "quota a")
    failure_b = condition("ReplicaFailure", "True", "FailedCreate", "quota b")
    statuses = {"a": {"conditions": [failure_a]}, "b": {"conditions": [failure_b]}, "c": {}}
    [merged] = aggregate("apps", "ReplicaSet", collected(statuses))["conditions"]  # type: ignore[index]
    assert merged == {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": "a: quota a; b: quota b",
        "lastTransitionTime": NOW,
    }


def test_condition_times_are_kept_while_it_says_the_same() -> None:
    """An unchanged federation writes nothing: the times are the previous ones."""
    available = condition("Available", "True", "MinimumReplicasAvailable", "ok")
    statuses = {"a": {"conditions": [available]}}
    previous = {
        "conditions": [
            {
                **condition("Available", "True", "MinimumReplicasAvailable", "ok (clusters [a])"),
                "lastUpdateTime": T0,
                "lastTransitionTime": T0,
            }
        ]
    }
    [kept] = aggregate("apps", "Deployment", collected(statuses, previous=previous))["conditions"]  # type: ignore[index]
    assert (kept["lastUpdateTime"], kept["lastTransitionTime"]) == (T0, T0)
    changed = {"a": {"conditions": [{**available, "message": "other"}]}}
    [moved] = aggregate("apps", "Deployment", collected(changed, previous=previous))["conditions"]  # type: ignore[index]
    assert (moved["lastUpdateTime"], moved["lastTransitionTime"]) == (NOW, T0)


# ------------------------------------------------------------------------------- jobs


def job_status(**fields: Any) -> dict[str, Any]:
    return fields


def test_job_counts_and_earliest_start_while_running() -> None:
    statuses = {
        "c1": job_status(active=1, succeeded=2, startTime=T1),
        "c2": job_status(failed=1, succeeded=1, startTime=T0),
    }
    assert aggregate("batch", "Job", collected(statuses)) == {
        "active": 1,
        "succeeded": 3,
        "failed": 1,
        "startTime": T0,
    }


def test_job_completed_everywhere() -> None:
    done = condition("Complete", "True")
    statuses = {
        "c2": job_status(succeeded=1, startTime=T1, completionTime=T2, conditions=[done]),
        "c1": job_status(succeeded=2, startTime=T0, completionTime=T1, conditions=[done]),
    }
    assert aggregate("batch", "Job", collected(statuses)) == {
        "succeeded": 3,
        "startTime": T0,
        "completionTime": T2,
        "conditions": [
            {
                "type": type_,
                "status": "True",
                "reason": "Completed",
                "message": "Job completed in clusters [c1,c2]",
                "lastTransitionTime": NOW,
                "lastProbeTime": NOW,
            }
            # The apiserver (>= 1.31) accepts Complete only after SuccessCriteriaMet.
            for type_ in ("SuccessCriteriaMet", "Complete")
        ],
    }


def test_job_failed_everywhere_and_mixed() -> None:
    failed = job_status(
        failed=6, startTime=T0, conditions=[condition("Failed", "True", "BackoffLimitExceeded")]
    )
    done = job_status(succeeded=1, startTime=T0, completionTime=T1)
    target, all_failed = aggregate("batch", "Job", collected({"c1": failed, "c2": failed}))[  # type: ignore[index]
        "conditions"
    ]
    assert (target["type"], target["reason"]) == ("FailureTarget", "Failed")
    assert (all_failed["type"], all_failed["reason"]) == ("Failed", "Failed")
    assert all_failed["message"] == "Job failed in clusters [c1,c2]"
    mixed = aggregate("batch", "Job", collected({"c1": done, "c2": failed}))
    assert "completionTime" not in mixed  # type: ignore[operator]
    _, condition_ = mixed["conditions"]  # type: ignore[index]
    assert (condition_["type"], condition_["reason"]) == ("Failed", "Mixed")
    assert condition_["message"] == (
        "Job completed in clusters [c1] and failed in member clusters [c2]"
    )


def test_job_is_not_finished_while_a_placed_member_has_not_reported() -> None:
    """KubeAdmiral would call it complete with the down member left out; not here."""
    done = job_status(succeeded=1, startTime=T0, completionTime=T1)
    down = collected({"c1": done}, placed=("c1", "c2"))
    assert "conditions" not in aggregate("batch", "Job", down)  # type: ignore[operator]
    running = collected({"c1": done, "c2": job_status(active=1, startTime=T1)})
    assert "conditions" not in aggregate("batch", "Job", running)  # type: ignore[operator]


def test_a_finished_jobs_status_stays_as_it_is() -> None:
    """The apiserver refuses most changes to a finished Job's status (Karmada's rule)."""
    previous = {
        "succeeded": 1,
        "conditions": [{**condition("Complete", "True"), "lastTransitionTime": T2}],
    }
    later = collected({"c1": job_status(active=1), "c2": None}, previous=previous)
    assert aggregate("batch", "Job", later) == previous


def test_a_finished_job_has_no_active_count() -> None:
    failed = job_status(
        active=1, startTime=T0, conditions=[condition("Failed", "True", "DeadlineExceeded")]
    )
    assert "active" not in aggregate("batch", "Job", collected({"c1": failed}))  # type: ignore[operator]


def test_job_with_a_malformed_time_is_not_fatal() -> None:
    statuses = {"c1": job_status(startTime="yesterday", active=1), "c2": job_status(startTime=T1)}
    assert aggregate("batch", "Job", collected(statuses))["startTime"] == T1  # type: ignore[index]


# ------------------------------------------------------------------------------- pods


def test_pod_phase_and_message_across_clusters() -> None:
    statuses = {
        "c3": {
            "phase": "Running",
            "startTime": T1,
            "containerStatuses": [{"name": "web", "ready": True}],
        },
        "c1": {"phase": "Pending"},
        "c2": {"hostIP": "10.0.0.9"},  # no phase yet: pending
        "c4": {
            "phase": "Running",
            "startTime": T0,
            "containerStatuses": [{"name": "web", "ready": False}],
        },
    }
    status = aggregate("", "Pod", collected(statuses))
    assert status == {
        "phase": "Pending",
        "message": "Pod pending in clusters [c1,c2], and running in clusters [c3,c4]",
        "startTime": T0,
        "containerStatuses": [
            {"name": "web (c3)", "ready": True},
            {"name": "web (c4)", "ready": False},
        ],
    }


def test_pod_failed_anywhere_is_failed() -> None:
    statuses = {"c1": {"phase": "Succeeded"}, "c2": {"phase": "Failed"}}
    assert aggregate("", "Pod", collected(statuses)) == {
        "phase": "Failed",
        "message": "Pod failed in clusters [c2], and succeeded in clusters [c1]",
    }


# ---------------------------------------------------------------------- load balancers


def test_service_load_balancer_ingress_merged_with_cluster_hostnames() -> None:
    statuses = {
        "b": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}]}},
        "a": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1", "hostname": "lb.a.example"}]}},
        "c": {"loadBalancer": {}},
    }
    lb = collected(statuses, spec={"type": "LoadBalancer"})
    assert aggregate("", "Service", lb) == {
        "loadBalancer": {
            "ingress": [
                {"ip": "10.0.0.1", "hostname": "lb.a.example"},
                {"ip": "10.0.0.2", "hostname": "b"},
            ]
        }
    }
    assert aggregate("", "Service", collected(statuses, spec={"type": "ClusterIP"})) is None


def test_ingress_without_addresses_is_an_empty_load_balancer() -> None:
    assert aggregate("networking.k8s.io", "Ingress", collected({"a": None})) == {"loadBalancer": {}}
    statuses = {"a": {"loadBalancer": {"ingress": [{"hostname": "x.example"}]}}}
    assert aggregate("networking.k8s.io", "Ingress", collected(statuses)) == {
        "loadBalancer": {"ingress": [{"hostname": "x.example"}]}
    }


def test_kinds_without_a_rule_are_left_alone() -> None:
    assert aggregate("", "ConfigMap", collected({"a": {"x": 1}})) is None
    assert aggregate("example.com", "Deployment", collected({"a": {"replicas": 1}})) is None


@pytest.mark.parametrize("key", sorted(AGGREGATORS))
def test_garbage_statuses_never_raise(key: tuple[str, str]) -> None:
    weird: dict[str, Any] = {
        "a": {
            "replicas": "3",
            "conditions": "no",
            "loadBalancer": {"ingress": ["x", None]},
            "containerStatuses": "x",
            "startTime": 5,
            "phase": "Unknown",
        },
        "b": {"conditions": [None, {"type": "Available"}], "completionTime": "later"},
    }
    result = aggregate(*key, collected(weird, spec={"type": "LoadBalancer"}))
    assert result is None or isinstance(result, dict)
