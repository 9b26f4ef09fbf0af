"""The template's status written by whole sync passes on the fake federation: what the
members' status says arrives in the host, FederatedTypeConfig statusAggregation turns it
off, and an unchanged federation writes nothing (condition times included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.kube.host import fed_path
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import deployment, namespace, policy

NS = "shop"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
POLICIES = fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS)
FTCS = fed_path(kubeadmiral.FEDERATED_TYPE_CONFIGS)
T0, T1 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z"


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as fed:
        fed.kube().create("/api/v1/namespaces", namespace(NS))
        fed.kube().create(POLICIES, policy("both", NS, "Duplicate"))
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"kubeadmiral.io/propagation-policy-name": "both"},
        },
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }


def set_member_status(fed: FakeFederation, cluster: str, path: str, status: dict[str, Any]) -> None:
    fed.kube(cluster).merge_patch(path + "/status", {"status": status})


def template_status(fed: FakeFederation, kind: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = fed.host_cluster.must(kind, name, NS).get("status") or {}
    return status


def test_job_completion_arrives_in_the_template_and_stays_put(fed: FakeFederation) -> None:
    fed.kube().create(JOBS, job("once"))
    run_pass(fed)
    complete = {"type": "Complete", "status": "True"}
    set_member_status(
        fed,
        "member-1",
        f"{JOBS}/once",
        {"succeeded": 1, "startTime": T1, "completionTime": T1, "conditions": [complete]},
    )
    run_pass(fed)
    status = template_status(fed, "jobs.batch", "once")
    assert status == {"succeeded": 1, "startTime": T1}  # member-2 has not finished
    set_member_status(
        fed,
        "member-2",
        f"{JOBS}/once",
        {"succeeded": 1, "startTime": T0, "completionTime": T1, "conditions": [complete]},
    )
    run_pass(fed)
    status = template_status(fed, "jobs.batch", "once")
    assert status["startTime"] == T0 and status["completionTime"] == T1
    met, condition = status["conditions"]
    assert (met["type"], condition["type"]) == ("SuccessCriteriaMet", "Complete")
    assert condition["message"] == "Job completed in clusters [member-1,member-2]"
    fed.reset_counts()
    assert run_pass(fed).writes == 0  # the condition's times are kept: nothing to write


def test_deployment_observed_generation_waits_for_the_members(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 2, policy_name="both"))
    run_pass(fed)
    assert "observedGeneration" not in template_status(fed, "deployments.apps", "web")
    for cluster in ("member-1", "member-2"):
        generation = fed.members[cluster].must("deployments.apps", "web", NS)["metadata"][
            "generation"
        ]
        set_member_status(
            fed,
            cluster,
            f"{DEPLOYMENTS}/web",
            {
                "observedGeneration": generation,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "slow",
                    }
                ]
                if cluster == "member-2"
                else [],
            },
        )
    run_pass(fed)
    status = template_status(fed, "deployments.apps", "web")
    assert status["observedGeneration"] == 1 and status["readyReplicas"] == 4
    [progressing] = status["conditions"]
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert progressing["message"] == "slow (clusters [member-2])"


def test_status_aggregation_disabled_by_a_type_config(fed: FakeFederation) -> None:
    config = {
        "apiVersion": kubeadmiral.API_VERSION,
        "kind": "FederatedTypeConfig",
        "metadata": {"name": "jobs.batch"},
        "spec": {
            "sourceType": {
                "group": "batch",
                "version": "v1",
                "kind": "Job",
                "pluralName": "jobs",
                "scope": "Namespaced",
            },
            "statusAggregation": {"enabled": False},
        },
    }
    fed.kube().create(FTCS, config)
    fed.kube().create(JOBS, job("quiet"))
    run_pass(fed)
    set_member_status(fed, "member-1", f"{JOBS}/quiet", {"active": 1, "startTime": T0})
    run_pass(fed)
    assert template_status(fed, "jobs.batch", "quiet") == {}
