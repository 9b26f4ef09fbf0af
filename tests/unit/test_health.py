"""kubectl rollout status's verdicts (core/rollout, its test table ported) and each
kind's per-cluster health (core/health) from a member copy's status."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.core.health import FAILED, PROGRESSING, READY, UNKNOWN, Health, health_of, worst
from kubectl_fed.core.rollout import (
    MemberCopy,
    daemonset,
    deployment,
    federated_rollout,
    in_cluster,
    statefulset,
    unsupported,
)

WAITING = 'Waiting for deployment "foo" rollout to finish: '


def deploy(generation: int, wanted: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "foo", "generation": generation},
        "spec": {"replicas": wanted},
        "status": status,
    }


@pytest.mark.parametrize(
    ("generation", "replicas", "status", "message", "done"),
    [  # kubectl's TestDeploymentStatusViewerStatus
        (
            0,
            1,
            dict(observedGeneration=1, replicas=1, updatedReplicas=0, availableReplicas=1),
            WAITING + "0 out of 1 new replicas have been updated...",
            False,
        ),
        (
            1,
            1,
            dict(observedGeneration=1, replicas=2, updatedReplicas=1, availableReplicas=2),
            WAITING + "1 old replicas are pending termination...",
            False,
        ),
        (
            1,
            2,
            dict(observedGeneration=1, replicas=2, updatedReplicas=2, availableReplicas=1),
            WAITING + "1 of 2 updated replicas are available...",
            False,
        ),
        (
            1,
            2,
            dict(observedGeneration=1, replicas=2, updatedReplicas=2, availableReplicas=2),
            'deployment "foo" successfully rolled out',
            True,
        ),
        (
            2,
            2,
            dict(observedGeneration=1, replicas=2, updatedReplicas=2, availableReplicas=2),
            "Waiting for deployment spec update to be observed...",
            False,
        ),
    ],
)
def test_deployment_verdicts_are_kubectls(
    generation: int, replicas: int, status: dict[str, Any], message: str, done: bool
) -> None:
    verdict = deployment(deploy(generation, replicas, **status))
    assert (verdict.message, verdict.done, verdict.error) == (message, done, "")


def test_progress_deadline_exceeded_is_an_error() -> None:
    late = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "foo-1" has timed out progressing.',
    }
    verdict = deployment(deploy(1, 2, observedGeneration=1, conditions=[late]))
    assert verdict.error == 'deployment "foo" exceeded its progress deadline'
    health = health_of("apps", "Deployment", deploy(1, 2, observedGeneration=1, conditions=[late]))
    assert health == Health(FAILED, "ProgressDeadlineExceeded", late["message"])


def test_daemonset_and_statefulset_verdicts() -> None:
    ds: dict[str, Any] = {
        "metadata": {"name": "d", "generation": 2},
        "spec": {},
        "status": {
            "observedGeneration": 2,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 1,
        },
    }
    assert daemonset(ds).message == (
        'Waiting for daemon set "d" rollout to finish: 1 of 3 updated pods are available...'
    )
    ds["status"]["numberAvailable"] = 3
    assert daemonset(ds).done and daemonset(ds).message == 'daemon set "d" successfully rolled out'
    ds["spec"] = {"updateStrategy": {"type": "OnDelete"}}
    assert daemonset(ds).error == "rollout status is only available for RollingUpdate strategy type"
    sts: dict[str, Any] = {
        "metadata": {"name": "s", "generation": 1},
        "spec": {
            "replicas": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": {"observedGeneration": 1, "readyReplicas": 1},
    }
    assert statefulset(sts).message == "Waiting for 2 pods to be ready..."
    sts["status"].update(readyReplicas=3, updatedReplicas=3)
    assert (
        statefulset(sts).message == "partitioned roll out complete: 3 new pods have been updated..."
    )
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    sts["status"].update(currentReplicas=3, currentRevision="s-1", updateRevision="s-2")
    assert statefulset(sts).message == (
        "waiting for statefulset rolling update to complete 3 pods at revision s-2..."
    )
    sts["status"]["observedGeneration"] = 0
    assert statefulset(sts).message == "Waiting for statefulset spec update to be observed..."


def test_messages_name_the_member() -> None:
    assert in_cluster("Waiting for x: 1 of 3 updated replicas are available...", "m1") == (
        "Waiting for x: 1 of 3 updated replicas are available in m1..."
    )
    assert in_cluster('deployment "web" successfully rolled out', "m1") == (
        'deployment "web" successfully rolled out in m1'
    )
    assert unsupported("batch", "Job") == "no status viewer has been implemented for Job.batch"


@pytest.mark.parametrize(
    ("group", "kind", "copy", "expected"),
    [
        (
            "apps",
            "Deployment",
            deploy(3, 2, observedGeneration=2),
            (PROGRESSING, "GenerationNotObserved"),
        ),
        (
            "apps",
            "Deployment",
            deploy(1, 2),
            (PROGRESSING, "GenerationNotObserved"),
        ),  # no status yet
        (
            "apps",
            "Deployment",
            deploy(
                1,
                2,
                observedGeneration=1,
                replicas=2,
                updatedReplicas=2,
                availableReplicas=2,
                conditions=[
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
                ],
            ),
            (READY, "MinimumReplicasAvailable"),
        ),
        (
            "apps",
            "Deployment",
            deploy(
                1,
                2,
                observedGeneration=1,
                conditions=[
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "reason": "FailedCreate",
                        "message": "quota",
                    }
                ],
            ),
            (PROGRESSING, "FailedCreate"),
        ),
        (
            "apps",
            "ReplicaSet",
            {
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "availableReplicas": 1},
            },
            (PROGRESSING, "ReplicasUnavailable"),
        ),
        (
            "batch",
            "Job",
            {
                "status": {
                    "conditions": [
                        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
                    ]
                }
            },
            (FAILED, "BackoffLimitExceeded"),
        ),
        (
            "batch",
            "Job",
            {"status": {"conditions": [{"type": "Complete", "status": "True"}]}},
            (READY, "Complete"),
        ),
        (
            "batch",
            "Job",
            {"status": {"active": 1, "startTime": "2024-01-01T00:00:00Z"}},
            (PROGRESSING, "Running"),
        ),
        (
            "",
            "Pod",
            {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
            (READY, "Running"),
        ),
        (
            "",
            "Pod",
            {
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                    ],
                }
            },
            (PROGRESSING, "CrashLoopBackOff"),
        ),
        (
            "",
            "Pod",
            {
                "status": {
                    "phase": "Pending",
                    "conditions": [
                        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
                    ],
                }
            },
            (PROGRESSING, "Unschedulable"),
        ),
        ("", "Pod", {"status": {"phase": "Failed", "reason": "Evicted"}}, (FAILED, "Evicted")),
        ("", "Pod", {"status": {"phase": "Unknown"}}, (UNKNOWN, "Unknown")),
        (
            "",
            "Service",
            {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}},
            (PROGRESSING, "LoadBalancerPending"),
        ),
        ("", "Service", {"spec": {"type": "ClusterIP"}, "status": {}}, (READY, "")),
        (
            "networking.k8s.io",
            "Ingress",
            {"status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}},
            (READY, ""),
        ),
        ("", "PersistentVolumeClaim", {"status": {"phase": "Lost"}}, (FAILED, "ClaimLost")),
        ("", "ConfigMap", {"data": {}}, (READY, "")),
        ("", "ConfigMap", {"metadata": {"deletionTimestamp": "x"}}, (PROGRESSING, "Terminating")),
        ("", "ConfigMap", None, (UNKNOWN, "NotFound")),
    ],
)
def test_health_per_kind(group: str, kind: str, copy: Any, expected: tuple[str, str]) -> None:
    health = health_of(group, kind, copy)
    assert (health.state, health.reason) == expected


@pytest.mark.parametrize(
    "status", [None, "x", {"conditions": "no", "containerStatuses": [None, 3]}]
)
@pytest.mark.parametrize(
    "key",
    [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("", "Pod"),
        ("", "Service"),
    ],
)
def test_garbage_status_never_raises(key: tuple[str, str], status: Any) -> None:
    health = health_of(
        *key, {"metadata": {"name": "x", "generation": "2"}, "spec": [], "status": status}
    )
    assert health.state in (READY, PROGRESSING, FAILED, UNKNOWN)


def test_worst_state_and_text() -> None:
    assert worst([Health(READY), Health(PROGRESSING, "x"), Health(UNKNOWN)]) == UNKNOWN
    assert worst([Health(READY), Health(FAILED)]) == FAILED
    assert worst([]) is None
    assert Health(PROGRESSING, "ReplicasUnavailable").text == "Progressing (ReplicasUnavailable)"
    assert Health(READY, "MinimumReplicasAvailable").text == "Ready"


# ----------------------------------------------------------------- federated rollout


def member(cluster: str, copy: Any = None, **fields: Any) -> MemberCopy:
    return MemberCopy(cluster, fields.pop("code", "OK"), fields.pop("recorded", 1), copy, **fields)


def rolled(available: int, wanted: int = 3, generation: int = 1, **status: Any) -> dict[str, Any]:
    return deploy(
        generation,
        wanted,
        observedGeneration=generation,
        replicas=wanted,
        updatedReplicas=wanted,
        availableReplicas=available,
        **status,
    )


def test_federated_rollout_waits_for_every_member_then_is_done() -> None:
    progress = federated_rollout(
        "Deployment", "foo", deployment, "", [member("m1", rolled(1)), member("m2", rolled(6, 6))]
    )
    assert not progress.done and not progress.error
    assert progress.lines == {
        "m1": WAITING + "1 of 3 updated replicas are available in m1...",
        "m2": 'deployment "foo" successfully rolled out in m2',
    }
    done = federated_rollout(
        "Deployment", "foo", deployment, "", [member("m1", rolled(3)), member("m2", rolled(6, 6))]
    )
    assert done.done and done.lines[""] == 'deployment "foo" successfully rolled out'


def test_federated_rollout_waits_for_the_federation_and_the_copies() -> None:
    waiting = federated_rollout("DaemonSet", "d", daemonset, "to be federated (run sync)", [])
    assert waiting.lines == {"": 'Waiting for daemon set "d" to be federated (run sync)...'}
    nowhere = federated_rollout("Deployment", "foo", deployment, "", [])
    assert not nowhere.done
    members = [
        member("a", error="cluster a is unreachable"),
        member("b", code="CreationFailed", message="denied"),
        member("c", code=""),
        member("d"),
        member("e", rolled(3, generation=4), recorded=3),
    ]
    lines = federated_rollout("Deployment", "foo", deployment, "", members).lines
    assert lines == {
        "a": 'Waiting for deployment "foo" in a: cluster a is unreachable...',
        "b": 'Waiting for deployment "foo" to be synced to b: CreationFailed: denied...',
        "c": 'Waiting for deployment "foo" to be synced to c: not synced yet...',
        "d": 'Waiting for deployment "foo" to be created in d...',
        "e": 'Waiting for deployment "foo" in e to be synced again: '
        "changed in the member (generation 4)...",
    }


def test_federated_rollout_fails_with_the_member_named() -> None:
    late = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    progress = federated_rollout(
        "Deployment",
        "foo",
        deployment,
        "",
        [member("m1", rolled(3)), member("m2", rolled(0, conditions=[late]))],
    )
    assert progress.error == 'deployment "foo" exceeded its progress deadline in m2'
