"""The pure parts of status, get, explain and doctor: verdicts from plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.cli.inspect import explanation_text
from kubectl_fed.errors import FedError
from kubectl_fed.ops.init import HASH_ANNOTATION, REVISION_ANNOTATION
from kubectl_fed.ops.inspect import (
    FAIL,
    OK,
    WARN,
    Permission,
    Selector,
    chosen_clusters,
    crd_verdict,
    denied_text,
    explanation,
    lease_verdict,
    managed_state,
    member_verdict,
    minor_of,
    object_name,
    object_state,
    objects_verdict,
    policy_summary,
    replica_pair,
    sync_permissions,
    templates_verdict,
)
from kubectl_fed.planning.plan import ObjectResult, Plan
from kubectl_fed.planning.snapshot import HostSnapshot, Template
from kubectl_fed.planning.types import default_types

DEPLOYMENTS = next(t for t in default_types() if t.kind == "Deployment")
CONFIGMAPS = next(t for t in default_types() if t.kind == "ConfigMap")
REPLICAS = ("spec", "replicas")


def deployment(name: str = "web", replicas: int = 9) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": replicas},
    }


def federated(clusters: list[str], generation: int = 2, synced: int | None = 2) -> dict[str, Any]:
    status: dict[str, Any] = {
        "syncedGeneration": synced,
        "conditions": [{"type": "Propagated", "status": "True", "reason": "", "message": ""}],
        "clusters": [{"cluster": c, "status": "OK", "lastObservedGeneration": 1} for c in clusters],
        "scheduling": {"replicas": {"member-1": 3, "member-2": 6}},
    }
    return {
        "kind": "FederatedObject",
        "metadata": {
            "name": "web-deployments.apps",
            "namespace": "shop",
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "template": deployment(),
            "placements": [
                {"controller": "kubectl-fed", "placement": [{"cluster": c} for c in clusters]}
            ],
        },
        "status": status if synced is not None else {},
    }


def copy(ready: int, generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": ready},
    }


# --------------------------------------------------------------------------- shared


def test_object_name_and_managed_state() -> None:
    assert object_name("apps/v1", "Deployment", "web") == "deployment.apps/web"
    assert object_name("v1", "ConfigMap", "cfg") == "configmap/cfg"
    managed = {"metadata": {"labels": {"kubeadmiral.io/managed": "true"}}}
    assert managed_state(managed) == "yes"
    labelled = {"kubeadmiral.io/managed": "true", "kubeadmiral.io/adopted": "true"}
    assert managed_state({"metadata": {"labels": labelled}}) == "adopted"
    annotated = {
        "labels": {"kubeadmiral.io/managed": "true"},
        "annotations": {"kubeadmiral.io/adopted": "true"},
    }
    assert managed_state({"metadata": annotated}) == "adopted"
    assert managed_state({"metadata": {"labels": {"kubeadmiral.io/managed": "false"}}}) == "no"
    assert managed_state({}) == "no"


def test_replica_pair() -> None:
    assert replica_pair(3, 1) == "3/1"
    assert replica_pair(3, None) == "3/?"
    assert replica_pair(None, None) is None


def test_selector_matches_group_kind_and_name() -> None:
    assert Selector("apps", "Deployment").matches(deployment())
    assert Selector("apps", "Deployment", "web").matches(deployment())
    assert not Selector("apps", "Deployment", "api").matches(deployment())
    assert not Selector("", "Deployment").matches(deployment())
    assert Selector("apps", "Deployment", "web").title == "deployment.apps/web"


def test_chosen_clusters_refuses_unknown_names() -> None:
    clusters = [{"metadata": {"name": n}} for n in ("member-1", "member-2")]
    assert chosen_clusters(clusters, None) == clusters
    assert chosen_clusters(clusters, ["member-2", "member-2"]) == clusters[1:]
    with pytest.raises(FedError, match="'nope' is not a member"):
        chosen_clusters(clusters, ["nope"])
    with pytest.raises(FedError, match="no members joined"):
        chosen_clusters([], None)


# --------------------------------------------------------------------------- status


def test_status_all_ok() -> None:
    state = object_state(
        federated(["member-1", "member-2"]),
        REPLICAS,
        {"member-1": copy(3), "member-2": copy(5)},
        {},
    )
    assert state.ok and state.synced is True
    assert state.object == "deployment.apps/web" and state.namespace == "shop"
    assert state.clusters_ok == "2/2" and state.replicas == "9/8"
    assert [(c.cluster, c.replicas) for c in state.clusters] == [
        ("member-1", "3/3"),
        ("member-2", "6/5"),
    ]
    assert state.message == ""


def test_status_unreachable_member_is_unknown_not_ok() -> None:
    error = "cluster member-2 (https://x) is unreachable: connection refused"
    state = object_state(
        federated(["member-1", "member-2"]), REPLICAS, {"member-1": copy(3)}, {"member-2": error}
    )
    row = state.clusters[1]
    assert (row.status, row.synced, row.ready, row.message) == ("OK", None, None, error)
    assert not state.ok and state.synced is None and state.replicas == "9/?"
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


# --------------------------------------------------------------------------- explain


def plan(scheduling: dict[str, Any], **overrides: Any) -> Plan:
    template = deployment()
    template["metadata"]["labels"] = {"kubeadmiral.io/propagation-policy-name": "div"}
    fo = {"metadata": {"name": "web-deployments.apps", "namespace": "shop"}, "spec": {}}
    policy = {
        "spec": {
            "schedulingMode": "Divide",
            "placement": [
                {"cluster": "member-1", "preferences": {"weight": 1}},
                {"cluster": "member-2", "preferences": {"weight": 2}},
            ],
        }
    }
    fields: dict[str, Any] = {
        "fo": fo,
        "existing": None,
        "ftype": DEPLOYMENTS,
        "template": deployment(),
        "native": Template(DEPLOYMENTS, template),
        "placement": {"member-1": 3, "member-2": 6},
        "patches": {
            "member-1": [{"op": "add", "path": "/spec/replicas", "value": 3}],
            "member-2": [
                {"op": "add", "path": "/spec/replicas", "value": 6},
                {"op": "replace", "path": "/spec/replicas", "value": 7},
            ],
        },
        "patch_errors": {},
        "scheduling": scheduling,
        "leader_policy": policy,
        "result": ObjectResult("Deployment", "shop", "web"),
    }
    fields.update(overrides)
    return Plan(**fields)


DIVIDED = {
    "clusters": ["member-1", "member-2"],
    "replicas": {"member-1": 3, "member-2": 6},
    "divided": True,
    "fingerprint": {"replicas": 9},
    "reasons": {
        "member-1": "Selected: selected, 3 replicas",
        "member-2": "Selected: selected, 6 replicas",
        "member-3": "NotInPlacement: the cluster is not listed in spec.placement",
    },
}


def test_explanation_of_a_divided_deployment() -> None:
    found = explanation(plan(DIVIDED), ["member-1", "member-2", "member-3"], {})
    assert found.policy == "PropagationPolicy shop/div"
    assert "schedulingMode: Divide" in found.policy_lines
    rows = [(c.cluster, c.chosen, c.replicas, c.code) for c in found.clusters]
    assert rows == [
        ("member-1", True, 3, "Selected"),
        ("member-2", True, 7, "Selected"),  # the override wins over the division
        ("member-3", False, None, "NotInPlacement"),
    ]
    assert found.replicas[0].startswith("Divide: 9 replicas split by the KubeAdmiral planner")
    assert "member-2: weight 2, min 0, max unlimited -> 6" in found.replicas[2]
    sources = [p["source"] for p in found.clusters[1].overrides]
    assert sources == ["scheduler: divided replicas", "override policies"]
    assert found.rescheduling[0].startswith("not deferred")
    assert not found.federated_object_exists and not found.errors


def test_explanation_of_deferral_followers_and_missing_policy() -> None:
    deferred = {**DIVIDED, "deferredReason": "cluster labels changed but ..."}
    assert explanation(plan(deferred), [], {}).rescheduling == [
        "deferred: cluster labels changed but ..."
    ]
    follower = plan(
        {**DIVIDED, "clusters": ["member-1"]}, placement={"member-1": 3, "member-2": None}
    )
    follower.scheduling["reasons"] = {"member-1": "Selected: selected, 3 replicas"}
    follower.follows = {"member-2": ["Deployment/web"]}
    codes = {c.cluster: c.code for c in explanation(follower, [], {}).clusters}
    assert codes == {"member-1": "Selected", "member-2": "Follower"}
    missing = plan({"kept": True, "replicas": {}}, leader_policy=None, placement={})
    missing.result.errors.append("PropagationPolicy shop/div not found")
    found = explanation(missing, ["member-1"], {})
    assert "not found" in found.policy and found.errors
    assert [c.code for c in found.clusters] == ["NotPlaced"]


def test_explanation_text_has_every_section() -> None:
    found = explanation(plan(DIVIDED), ["member-1", "member-2"], {"member-2": "refused"})
    text = explanation_text(found)
    for section in ("Object:", "Policy:", "Clusters:", "Replicas:", "Overrides:", "Rescheduling:"):
        assert section in text
    assert "CLUSTER    CHOSEN" in text and "(does not answer now)" in text
    assert "replace /spec/replicas 7   [override policies]" in text


def test_policy_summary() -> None:
    spec = {
        "clusterSelector": {"region": "eu"},
        "clusterAffinity": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}],
        "tolerations": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
        "maxClusters": 2,
    }
    assert policy_summary(spec) == [
        "schedulingMode: Duplicate",
        "clusterSelector: region=eu",
        "clusterAffinity: (a Exists)",
        "tolerations: gpu=true:NoSchedule",
        "maxClusters: 2",
    ]


# --------------------------------------------------------------------------- doctor


def test_sync_permissions_cover_what_sync_does() -> None:
    wanted = {p.describe() for p in sync_permissions("fed", default_types())}
    for expected in (
        "delete federatedobjects.core.kubeadmiral.io",
        "patch clusterfederatedobjects/status.core.kubeadmiral.io",
        "patch federatedclusters/status.core.kubeadmiral.io",
        "watch propagationpolicies.core.kubeadmiral.io",
        "get secrets in fed",
        "create leases.coordination.k8s.io in fed",
        "watch configmaps",
        "patch deployments/status.apps",
    ):
        assert expected in wanted, expected
    assert "patch configmaps/status" not in wanted  # only workload counts are written back


def test_permission_review_and_denials_text() -> None:
    lease = Permission("create", "leases", "coordination.k8s.io", namespace="fed")
    assert lease.review()["spec"]["resourceAttributes"] == {
        "verb": "create",
        "group": "coordination.k8s.io",
        "resource": "leases",
        "namespace": "fed",
    }
    denied = [Permission("get", "secrets", namespace="fed"), lease, Permission("list", "secrets")]
    assert denied_text(denied) == (
        "get secrets in fed; create leases.coordination.k8s.io in fed; list secrets"
    )
    denied[2] = Permission("list", "secrets", namespace="fed")
    assert denied_text(denied).startswith("get,list secrets in fed; ")


def crd(name: str, digest: str, revision: str = "1", established: bool = True) -> dict[str, Any]:
    status = "True" if established else "False"
    return {
        "metadata": {
            "name": name,
            "annotations": {HASH_ANNOTATION: digest, REVISION_ANNOTATION: revision},
        },
        "status": {"conditions": [{"type": "Established", "status": status}]},
    }


def test_crd_verdicts() -> None:
    wanted = [crd("federatedobjects.core.kubeadmiral.io", "h1")]
    name = "federatedobjects.core.kubeadmiral.io"
    assert crd_verdict(wanted, {name: crd(name, "h1")}).status == OK
    missing = crd_verdict(wanted, {name: None})
    assert missing.status == FAIL and "kubectl fed init" in missing.detail
    assert crd_verdict(wanted, {name: crd(name, "h1", established=False)}).status == FAIL
    outdated = crd_verdict(wanted, {name: crd(name, "old")})
    assert outdated.status == WARN and "outdated: federatedobjects" in outdated.detail
    assert "newer" in crd_verdict(wanted, {name: crd(name, "new", revision="9")}).detail


def test_member_verdicts_and_version_skew() -> None:
    assert minor_of("v1.34.4") == (1, 34) and minor_of("v1.30.0-eks-1") == (1, 30)
    assert minor_of("unknown") is None
    assert member_verdict("m", "v1.33.1", "v1.34.4", "True").status == OK
    skewed = member_verdict("m", "v1.32.0", "v1.34.4", "True")
    assert skewed.status == WARN and "more than one minor version" in skewed.detail
    assert member_verdict("m", "v1.34.0", "v1.34.4", "False").status == WARN


def test_lease_verdicts() -> None:
    assert lease_verdict("laptop-1", 3.0, 15).status == OK
    stale = lease_verdict("laptop-1", 600.0, 15)
    assert stale.status == WARN and "not renewed for 600s" in stale.detail


def test_objects_and_templates_verdicts() -> None:
    assert objects_verdict([federated(["member-1"])]).status == OK
    behind = objects_verdict([federated(["member-1"], generation=3)])
    assert behind.status == WARN and "1 not synced (shop/web-deployments.apps)" in behind.detail
    labelled = deployment()
    labelled["metadata"]["labels"] = {
        "kubeadmiral.io/propagation-policy-name": "gone",
        "kubeadmiral.io/override-policy-name": "here",
    }
    here = {"metadata": {"name": "here", "namespace": "shop"}}
    snap = HostSnapshot(
        clusters=[],
        types=default_types(),
        policies={("OverridePolicy", "shop", "here"): here},
        templates=[Template(DEPLOYMENTS, labelled), Template(CONFIGMAPS, deployment("v1"), True)],
        federated_objects=[],
        v1_compat=True,
    )
    verdict = templates_verdict(snap)
    assert verdict.status == WARN
    assert verdict.detail == "policy missing: deployment.apps/web in shop (PropagationPolicy gone)"
