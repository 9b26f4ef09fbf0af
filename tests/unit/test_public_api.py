"""The public library API (README, "Library use"): stable names and signatures, plain
Kubernetes objects in, plain results out. The README's examples are these."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from kubectl_fed.overrides import OverrideError, apply_patches, override_patches
from kubectl_fed.planner import plan, plan_v1
from kubectl_fed.scheduler import Schedule, schedule, schedule_v1
from kubectl_fed.status import aggregate_status


def cluster(name: str, ready: bool = True, **labels: str) -> dict[str, Any]:
    """A FederatedCluster as `kubectl get federatedcluster NAME -o json` shows it."""
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "FederatedCluster",
        "metadata": {"name": name, "labels": labels},
        "spec": {"apiEndpoint": f"https://{name}:6443"},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def deployment(replicas: int = 9, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    }


DIVIDE = {
    "apiVersion": "core.kubeadmiral.io/v1alpha1",
    "kind": "PropagationPolicy",
    "metadata": {"name": "spread", "namespace": "shop"},
    "spec": {
        "schedulingMode": "Divide",
        "placement": [
            {"cluster": "member-1", "preferences": {"weight": 1}},
            {"cluster": "member-2", "preferences": {"weight": 2}},
        ],
    },
}
MEMBERS = [cluster("member-1", region="eu"), cluster("member-2", region="us"), cluster("edge")]


def test_planner_signatures_are_stable() -> None:
    # People call these as KubeFed's planner was called: the parameters are the contract.
    assert list(inspect.signature(plan).parameters) == [
        "total",
        "clusters",
        "preferences",
        "key",
        "current",
        "estimated_capacity",
        "limited_capacity",
        "avoid_disruption",
        "keep_unschedulable",
    ]
    assert list(inspect.signature(plan_v1).parameters) == [
        "total",
        "clusters",
        "preferences",
        "key",
        "rebalance",
        "current",
        "capacity",
    ]
    assert plan(9, ["a", "b"], {"a": {"weight": 1}, "b": {"weight": 2}}) == ({"a": 3, "b": 6}, {})


def test_schedule_divides_and_gives_every_cluster_a_reason() -> None:
    result = schedule(DIVIDE, MEMBERS, deployment(9))
    assert isinstance(result, Schedule)
    assert result.clusters == {"member-1": 3, "member-2": 6}
    assert result.reasons["edge"].code == "NotInPlacement" and not result.reasons["edge"].chosen
    assert result.reasons["member-2"].chosen and result.errors == []


def test_schedule_keeps_the_current_placement_when_nothing_fits() -> None:
    typo = {**DIVIDE, "spec": {"placement": [{"cluster": "membr-1"}]}}
    result = schedule(typo, MEMBERS, deployment(9), current={"member-1": 3, "member-2": 6})
    assert result.clusters == {"member-1": 3, "member-2": 6}
    assert result.errors and "not members: membr-1" in result.errors[0]


def test_schedule_v1_spreads_over_ready_clusters_by_the_annotation() -> None:
    prefs = (
        '{"rebalance": true, "clusters": {"member-1": {"weight": 1}, "member-2": {"weight": 2}}}'
    )
    members = [cluster("member-1"), cluster("member-2"), cluster("down", ready=False)]
    annotated = deployment(12, **{"federation.kubernetes.io/deployment-preferences": prefs})
    assert schedule_v1(members, annotated).clusters == {"member-1": 4, "member-2": 8}
    assert schedule_v1(members, deployment(9)).clusters == {"member-1": 5, "member-2": 4}


def test_schedule_refuses_a_kind_that_is_not_federated() -> None:
    with pytest.raises(ValueError, match="not federated"):
        schedule(DIVIDE, MEMBERS, {"apiVersion": "example.com/v1", "kind": "Widget"})


def test_override_patches_for_one_cluster_and_applying_them() -> None:
    policy = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {"name": "eu-registry", "namespace": "shop"},
        "spec": {
            "overrideRules": [
                {
                    "targetClusters": {"clusterSelector": {"region": "eu"}},
                    "overriders": {
                        "image": [
                            {
                                "operations": [
                                    {"imageComponent": "Registry", "value": "eu.registry.io"}
                                ]
                            }
                        ]
                    },
                }
            ]
        },
    }
    obj = deployment()
    eu = override_patches([policy], MEMBERS[0], obj)
    assert eu == [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": "eu.registry.io/nginx:1.25",
        }
    ]
    assert override_patches([policy], MEMBERS[1], obj) == []
    copy_ = apply_patches(obj, eu)
    assert (
        copy_["spec"]["template"]["spec"]["containers"][0]["image"] == "eu.registry.io/nginx:1.25"
    )
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    with pytest.raises(OverrideError):
        apply_patches(obj, [{"op": "remove", "path": "/spec/nothing"}])


def test_aggregate_status_sums_the_members() -> None:
    statuses = {
        "member-1": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3},
        "member-2": {"replicas": 6, "readyReplicas": 5, "availableReplicas": 5},
        "member-3": None,
    }
    assert aggregate_status("Deployment", statuses) == {
        "replicas": 9,
        "readyReplicas": 8,
        "availableReplicas": 8,
    }
    current = {"member-1": True, "member-2": True, "member-3": False}
    assert "observedGeneration" not in aggregate_status("Deployment", statuses, 4, current)
    every = {c: True for c in statuses}
    assert aggregate_status("Deployment", statuses, 4, every)["observedGeneration"] == 4
    assert aggregate_status("ConfigMap", statuses) == {}


def test_aggregate_status_signature_grows_only_by_keywords() -> None:
    parameters = inspect.signature(aggregate_status).parameters
    assert list(parameters)[:4] == ["kind", "member_statuses", "generation", "current"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(parameters.values())[4:])


def test_aggregate_status_of_jobs_and_load_balancers() -> None:
    done = {
        "succeeded": 1,
        "startTime": "2024-05-01T10:00:00Z",
        "completionTime": "2024-05-01T10:05:00Z",
    }
    job = aggregate_status("Job", {"member-1": done, "member-2": done}, now="2024-05-02T00:00:00Z")
    assert job["conditions"][-1]["message"] == "Job completed in clusters [member-1,member-2]"
    lb = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    service = {"spec": {"type": "LoadBalancer"}, "status": {}}
    assert aggregate_status("Service", {"member-1": lb}, template=service) == {
        "loadBalancer": {"ingress": [{"ip": "10.0.0.1", "hostname": "member-1"}]}
    }
    assert aggregate_status("Service", {"member-1": lb}) == {}  # type unknown: left alone
    kept = {"status": {"observedGeneration": 3}}
    assert aggregate_status("Deployment", {"member-1": None}, 4, {}, template=kept) == {
        "observedGeneration": 3
    }
