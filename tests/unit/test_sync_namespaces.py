"""Namespace auto-propagation on a fake federation, as KubeAdmiral's nsautoprop controller:
every host namespace goes to every member with its labels and annotations, but `kube-*`,
the federation's own and those opted out; a member's own namespace is adopted and never
deleted, nor one holding what the federation does not manage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.marks import ADOPTED_LABEL, MANAGED_LABEL
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import status as inspect
from kubectl_fed.ops.membership import unjoin
from kubectl_fed.planning.scope import Scope
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import configmap, deployment, namespace, policy

NAMESPACES = "/api/v1/namespaces"
PSA = {"pod-security.kubernetes.io/enforce": "restricted", "team": "shop"}


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as fed:
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def host_namespace(fed: FakeFederation, name: str, **annotations: str) -> Any:
    body = namespace(name)
    body["metadata"]["labels"] = dict(PSA)
    if annotations:
        body["metadata"]["annotations"] = annotations
    return fed.kube().create(NAMESPACES, body)


def where(fed: FakeFederation, name: str) -> dict[str, Any]:
    """member -> its namespace of that name, if any."""
    found = {c: m.get("namespaces", name) for c, m in fed.members.items()}
    return {c: ns for c, ns in found.items() if ns is not None}


def managed(obj: Any) -> bool:
    return (obj["metadata"].get("labels") or {}).get(MANAGED_LABEL) == "true"


def test_every_host_namespace_goes_to_every_member_with_its_labels(fed: FakeFederation) -> None:
    host_namespace(fed, "shop", **{"owner": "team-a"})
    host_namespace(fed, "kube-extra")
    host_namespace(fed, "private", **{"kubeadmiral.io/no-auto-propagation": "true"})
    report = run_pass(fed)
    assert report.ok, [(o.title, o.errors, o.clusters) for o in report.objects]
    copies = where(fed, "shop")
    assert set(copies) == {"member-1", "member-2"}
    for copy_ in copies.values():
        labels = copy_["metadata"]["labels"]
        assert {k: labels[k] for k in PSA} == PSA
        assert labels[MANAGED_LABEL] == "true" and ADOPTED_LABEL not in labels
        assert copy_["metadata"]["annotations"]["owner"] == "team-a"
    assert where(fed, "kube-extra") == {} and where(fed, "private") == {}
    assert where(fed, "kube-admiral-system") == {}  # the federation's own
    # default exists in every member: taken over in place, never created
    for copy_ in where(fed, "default").values():
        assert copy_["metadata"]["labels"][ADOPTED_LABEL] == "true"
    fed.reset_counts()
    again = run_pass(fed)
    assert again.ok and again.writes == 0, fed.mutations()


def test_a_label_edit_reaches_the_members(fed: FakeFederation) -> None:
    host_namespace(fed, "shop")
    run_pass(fed)
    fed.kube().merge_patch(
        f"{NAMESPACES}/shop",
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
    )
    assert run_pass(fed).ok
    for copy_ in where(fed, "shop").values():
        assert copy_["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_a_members_own_namespace_is_adopted_and_never_deleted(fed: FakeFederation) -> None:
    theirs = fed.kube("member-2").create(NAMESPACES, namespace("shop"))
    host_namespace(fed, "shop")
    assert run_pass(fed).ok
    adopted = where(fed, "shop")["member-2"]
    assert adopted["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert adopted["metadata"]["labels"][ADOPTED_LABEL] == "true"
    fed.kube().delete(f"{NAMESPACES}/shop")  # the host's namespace controller: gone at once
    assert run_pass(fed).ok
    copies = where(fed, "shop")
    assert set(copies) == {"member-2"}  # created in member-1: deleted there
    kept = copies["member-2"]
    assert kept["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert not managed(kept) and ADOPTED_LABEL not in kept["metadata"]["labels"]


def test_a_member_namespace_holding_what_is_not_ours_is_kept(fed: FakeFederation) -> None:
    host_namespace(fed, "shop")
    fed.kube().create(
        fed.host_cluster.path("propagationpolicies.core.kubeadmiral.io", "shop"),
        policy("dup", "shop"),
    )
    fed.kube().create(
        fed.host_cluster.path("configmaps", "shop"), configmap("ours", "shop", {"a": "b"}, "dup")
    )
    assert run_pass(fed).ok
    fed.kube("member-1").create(
        fed.members["member-1"].path("configmaps", "shop"), configmap("theirs", "shop")
    )
    fed.kube("member-2").create(  # owned by something else there: not holding it back
        fed.members["member-2"].path("configmaps", "shop"),
        {
            **configmap("derived", "shop"),
            "metadata": {
                "name": "derived",
                "namespace": "shop",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}
                ],
            },
        },
    )
    fed.kube().delete(f"{NAMESPACES}/shop")  # its templates go with it
    # The host's namespace waits for the FederatedObjects in it: their copies leave the
    # members first; the next pass sees it gone.
    assert run_pass(fed).ok
    assert fed.members["member-1"].get("configmaps", "ours", "shop") is None
    assert set(where(fed, "shop")) == {"member-1", "member-2"}
    assert fed.host_cluster.get("namespaces", "shop") is None
    report = run_pass(fed)
    assert report.ok, [(o.title, o.errors, o.clusters) for o in report.objects]
    copies = where(fed, "shop")
    assert set(copies) == {"member-1"}
    assert not managed(copies["member-1"])
    assert fed.members["member-1"].get("configmaps", "theirs", "shop") is not None
    assert fed.members["member-1"].get("configmaps", "ours", "shop") is None
    events = [
        e
        for e in fed.host_cluster.objects("events", "default")
        if e["reason"] == "Orphaned" and e["involvedObject"]["name"] == "shop"
    ]
    assert events and "configmaps/theirs" in events[0]["message"], events


def test_opting_out_later_takes_the_namespace_away(fed: FakeFederation) -> None:
    host_namespace(fed, "shop")
    run_pass(fed)
    fed.kube().merge_patch(
        f"{NAMESPACES}/shop",
        {"metadata": {"annotations": {"kubeadmiral.io/no-auto-propagation": "true"}}},
    )
    assert run_pass(fed).ok
    assert where(fed, "shop") == {}
    assert (
        fed.host_cluster.get("clusterfederatedobjects.core.kubeadmiral.io", "shop-namespaces")
        is None
    )


def test_a_namespace_with_a_policy_goes_where_its_policy_says(fed: FakeFederation) -> None:
    cpp = {**policy("one", "", placement=["member-1"]), "kind": "ClusterPropagationPolicy"}
    cpp["metadata"].pop("namespace")
    fed.kube().create(fed_path(kubeadmiral.CLUSTER_PROPAGATION_POLICIES), cpp)
    body = namespace("shop")
    body["metadata"]["labels"] = {"kubeadmiral.io/cluster-propagation-policy-name": "one"}
    fed.kube().create(NAMESPACES, body)
    assert run_pass(fed).ok
    assert set(where(fed, "shop")) == {"member-1"}


def test_namespaces_come_first_with_their_labels(fed: FakeFederation) -> None:
    host_namespace(fed, "shop")
    fed.kube().create(
        fed.host_cluster.path("propagationpolicies.core.kubeadmiral.io", "shop"),
        policy("dup", "shop"),
    )
    fed.kube().create(
        fed.host_cluster.path("deployments.apps", "shop"),
        deployment("web", "shop", 1, policy_name="dup"),
    )
    fed.reset_counts()
    assert run_pass(fed).ok
    for cluster in ("member-1", "member-2"):
        writes = [r.path for r in fed.members[cluster].mutations()]
        first = next(i for i, p in enumerate(writes) if p.endswith("/namespaces/shop"))
        web = next(i for i, p in enumerate(writes) if p.endswith("/deployments/web"))
        assert first < web, writes
        assert not any(p == NAMESPACES for p in writes), "made once, with its labels"


def test_an_unreachable_member_gets_no_new_namespace_and_keeps_its_own(
    fed: FakeFederation,
) -> None:
    host_namespace(fed, "kept")
    run_pass(fed)
    fed.members["member-2"].down = True
    host_namespace(fed, "fresh")
    fed.kube().delete(f"{NAMESPACES}/kept")
    report = run_pass(fed)
    fresh = next(o for o in report.objects if o.title == "Namespace/fresh")
    assert fresh.ok and set(fresh.clusters) == {"member-1"}
    fed.members["member-2"].down = False
    assert "kept" in {n["metadata"]["name"] for n in fed.members["member-2"].objects("namespaces")}
    assert run_pass(fed).ok
    assert set(where(fed, "fresh")) == {"member-1", "member-2"}
    assert where(fed, "kept") == {}


def test_a_namespaced_scope_brings_its_namespace_and_status_leaves_namespaces_out(
    fed: FakeFederation,
) -> None:
    """`sync -n shop` (or `sync cm/settings -n shop`) makes `shop` with its labels before
    the objects in it; other namespaces are not in scope. `status -n` lists what is in
    the namespace, as `kubectl get -n` would; naming a namespace brings it in."""
    host_namespace(fed, "shop")
    fed.kube().create(
        fed.host_cluster.path("configmaps", "shop"), configmap("settings", "shop", {}, "dup")
    )
    fed.kube().create(
        fed.host_cluster.path("propagationpolicies.core.kubeadmiral.io", "shop"),
        policy("dup", "shop"),
    )
    host_namespace(fed, "other")
    reconciler = fed.reconciler()
    reconciler.scope = Scope(namespace="shop")
    report = reconciler.run_pass()
    assert [o.title for o in report.objects] == ["Namespace/shop", "ConfigMap/shop/settings"]
    for copy_ in where(fed, "shop").values():  # not bare: with its labels
        assert copy_["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert where(fed, "other") == {}
    reconciler.scope = Scope(selection=frozenset({("", "ConfigMap", None)}))
    assert [o.title for o in reconciler.run_pass().objects] == [
        "Namespace/shop",
        "ConfigMap/shop/settings",
    ]
    reconciler.scope = Scope(selection=frozenset({("", "Namespace", "shop")}), namespace="shop")
    assert [o.title for o in reconciler.run_pass().objects] == ["Namespace/shop"]
    assert [s.object for s in inspect.status(fed.host, [], "shop", fed.timeout)] == [
        "configmap/settings"
    ]
    reconciler.scope = Scope()
    assert reconciler.run_pass().ok
    everywhere = {s.object for s in inspect.status(fed.host, [], None, fed.timeout)}
    assert {"namespace/shop", "namespace/default", "configmap/settings"} <= everywhere


def test_unjoin_deletes_only_what_the_federation_made_and_holds_nothing_else(
    fed: FakeFederation,
) -> None:
    fed.kube("member-1").create(NAMESPACES, namespace("adopted"))
    for name in ("adopted", "made", "busy"):
        host_namespace(fed, name)
    assert run_pass(fed).ok
    fed.kube("member-1").create(
        fed.members["member-1"].path("configmaps", "busy"), configmap("theirs", "busy")
    )
    done = unjoin(fed.host, "member-1", "delete", fed.timeout)
    assert done.handled > 0
    member = fed.members["member-1"]
    names = {n["metadata"]["name"] for n in member.objects("namespaces")}
    assert {"adopted", "busy", "default"} <= names and "made" not in names
    assert all(not managed(n) for n in member.objects("namespaces"))


def test_a_namespace_deleted_and_made_again_keeps_its_member_namespaces(
    fed: FakeFederation,
) -> None:
    """Between two passes (a host namespace goes once the FederatedObjects in it have
    left): the new namespace takes the members' over as they are (deleting them would
    delete what runs there), in one pass."""
    host_namespace(fed, "shop")
    assert run_pass(fed).ok
    before = {c: ns["metadata"]["uid"] for c, ns in where(fed, "shop").items()}
    member = fed.members["member-1"]
    fed.kube("member-1").create(member.path("configmaps", "shop"), configmap("theirs", "shop"))
    fed.kube().delete(f"{NAMESPACES}/shop")
    assert fed.host_cluster.get("namespaces", "shop") is None
    host_namespace(fed, "shop")
    fed.kube().create(
        fed.host_cluster.path("propagationpolicies.core.kubeadmiral.io", "shop"),
        policy("dup", "shop"),
    )
    fed.kube().create(
        fed.host_cluster.path("configmaps", "shop"), configmap("settings", "shop", {}, "dup")
    )
    report = run_pass(fed)
    assert report.ok, [(o.title, o.errors, o.clusters) for o in report.objects]
    assert {c: ns["metadata"]["uid"] for c, ns in where(fed, "shop").items()} == before
    assert all(managed(ns) for ns in where(fed, "shop").values())
    for cluster, copy_ in fed.members.items():
        assert copy_.get("configmaps", "settings", "shop") is not None, cluster
    assert member.get("configmaps", "theirs", "shop") is not None
    fed.reset_counts()
    assert run_pass(fed).writes == 0


def test_a_namespace_whose_contents_cannot_be_listed_is_kept(fed: FakeFederation) -> None:
    """kubectl-fed's member identity may list the federated kinds and pods only: what it
    may not list could hold anything, so the namespace stays and the event says why."""
    host_namespace(fed, "shop")
    assert run_pass(fed).ok
    fed.members["member-1"].fail_next("GET", "/api/v1/namespaces/shop/pods", 403, times=None)
    fed.kube().delete(f"{NAMESPACES}/shop")
    assert run_pass(fed).ok
    kept = where(fed, "shop")
    assert set(kept) == {"member-1"} and not managed(kept["member-1"])
    events = [
        e["message"]
        for e in fed.host_cluster.objects("events", "default")
        if e["reason"] == "Orphaned" and e["involvedObject"]["name"] == "shop"
    ]
    assert events == [
        "member-1: copy left running without the federation's marks (orphaned): "
        "kept: what it holds cannot be told (it may not list pods)"
    ]
