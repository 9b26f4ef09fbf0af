"""Followers on a fake federation: what a workload references follows it to its clusters,
policy or not, and leaves where it leaves; never a member object the federation does not
manage. As KubeAdmiral's follower controller (pkg/controllers/follower)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.marks import MANAGED_LABEL, PROPAGATION_POLICY_LABEL
from kubectl_fed.core.objects import ObjectKey
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import explain as explain_ops
from kubectl_fed.planning.plan import SyncOptions
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import configmap, deployment, namespace, policy

NS = "shop"
FOS = "federatedobjects.core.kubeadmiral.io"
POLICIES = fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS)
BOTH, ONE, TWO = "both", "one", "two"


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as fed:
        host = fed.kube()
        host.create("/api/v1/namespaces", namespace(NS))
        host.create(POLICIES, policy(BOTH, NS))
        host.create(POLICIES, policy(ONE, NS, placement=["member-1"]))
        host.create(POLICIES, policy(TWO, NS, placement=["member-2"]))
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def create(fed: FakeFederation, *objects: Any) -> None:
    host = fed.host_cluster
    for obj in objects:
        plural = {
            "ConfigMap": "configmaps",
            "Secret": "secrets",
            "ServiceAccount": "serviceaccounts",
            "PersistentVolumeClaim": "persistentvolumeclaims",
            "Service": "services",
            "Deployment": "deployments.apps",
        }[obj["kind"]]
        fed.kube().create(host.path(plural, NS), obj)


def bare(kind: str, name: str, **annotations: str) -> Any:
    """A ConfigMap, Secret, ServiceAccount... without a policy label."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS},
    }
    if annotations:
        body["metadata"]["annotations"] = annotations
    if kind in ("ConfigMap", "Secret"):
        body["data"] = {"k": "djE=" if kind == "Secret" else "v1"}
    if kind == "PersistentVolumeClaim":
        body["spec"] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        }
    if kind == "Service":
        body["spec"] = {"ports": [{"port": 80}]}
    return body


def workload(name: str, policy_name: str | None, **annotations: str) -> Any:
    """A Deployment whose pod spec references every kind of follower."""
    body = deployment(name, NS, 2, policy_name=policy_name)
    spec = body["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "runner"
    spec["imagePullSecrets"] = [{"name": "pull"}]
    spec["containers"][0]["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    spec["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        {
            "name": "proj",
            "projected": {
                "sources": [{"configMap": {"name": "extra"}}, {"secret": {"name": "tls"}}]
            },
        },
    ]
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body


FOLLOWERS = [
    ("configmaps", "settings"),
    ("configmaps", "extra"),
    ("secrets", "pull"),
    ("secrets", "tls"),
    ("serviceaccounts", "runner"),
    ("persistentvolumeclaims", "data"),
]


def all_followers(fed: FakeFederation) -> None:
    create(
        fed,
        bare("ConfigMap", "settings"),
        bare("ConfigMap", "extra"),
        bare("Secret", "pull"),
        bare("Secret", "tls"),
        bare("ServiceAccount", "runner"),
        bare("PersistentVolumeClaim", "data"),
    )


def where(fed: FakeFederation, plural: str, name: str) -> set[str]:
    """Members holding a managed copy."""
    return {
        cluster
        for cluster, member in fed.members.items()
        if (member.get(plural, name, NS) or {})
        .get("metadata", {})
        .get("labels", {})
        .get(MANAGED_LABEL)
        == "true"
    }


def fo(fed: FakeFederation, plural: str, name: str) -> Any:
    return fed.host_cluster.get(FOS, f"{name}-{plural}", NS)


def retarget(fed: FakeFederation, name: str, policy_name: str | None) -> None:
    path = fed.host_cluster.path("deployments.apps", NS, name)
    fed.kube().merge_patch(path, {"metadata": {"labels": {PROPAGATION_POLICY_LABEL: policy_name}}})


def test_what_a_workload_references_follows_it_without_a_policy(fed: FakeFederation) -> None:
    all_followers(fed)
    create(fed, bare("ConfigMap", "unused"), workload("web", TWO))
    first = run_pass(fed)
    assert first.ok, [(o.title, o.errors, o.clusters) for o in first.objects]
    for plural, name in FOLLOWERS:
        assert where(fed, plural, name) == {"member-2"}, (plural, name)
        spec = fo(fed, plural, name)["spec"]
        # only the follower controller places it, and it records its leader
        assert spec["placements"] == [
            {
                "controller": "kubeadmiral.io/follower-controller",
                "placement": [{"cluster": "member-2"}],
            }
        ]
        assert spec["follows"] == [
            {"group": "apps", "kind": "Deployment", "namespace": NS, "name": "web"}
        ]
    assert where(fed, "configmaps", "unused") == set()
    assert fo(fed, "configmaps", "unused") is None
    fed.reset_counts()
    assert run_pass(fed).writes == 0
    assert fed.mutations() == {}


def test_followers_move_with_their_workload_and_leave_with_it(fed: FakeFederation) -> None:
    all_followers(fed)
    create(fed, workload("web", BOTH))
    run_pass(fed)
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    retarget(fed, "web", ONE)
    assert run_pass(fed).ok
    for plural, name in FOLLOWERS:
        assert where(fed, plural, name) == {"member-1"}, (plural, name)
    fed.kube().delete(fed.host_cluster.path("deployments.apps", NS, "web"))
    assert run_pass(fed).ok
    for plural, name in FOLLOWERS:
        assert where(fed, plural, name) == set(), (plural, name)
        assert fo(fed, plural, name) is None
        assert fed.host_cluster.get(plural, name, NS) is not None  # the host keeps its own


def test_a_follower_no_longer_referenced_leaves_but_never_takes_what_is_not_ours(
    fed: FakeFederation,
) -> None:
    member2 = fed.kube("member-2")
    member2.create("/api/v1/namespaces", namespace(NS))
    theirs = member2.create(
        fed.members["member-2"].path("configmaps", NS), configmap("settings", NS, {"k": "theirs"})
    )
    create(fed, bare("ConfigMap", "settings"), workload("web", BOTH))
    report = run_pass(fed)
    result = next(o for o in report.objects if o.title == f"ConfigMap/{NS}/settings")
    assert result.clusters["member-1"].status == "OK"
    assert result.clusters["member-2"].status == "AlreadyExists"
    # the workload stops using it
    path = fed.host_cluster.path("deployments.apps", NS, "web")
    fed.kube().merge_patch(
        path, {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}
    )
    fed.kube().merge_patch(path, {"spec": {"template": {"spec": {"volumes": None}}}})
    live = fed.host_cluster.must("deployments.apps", "web", NS)
    assert "envFrom" not in live["spec"]["template"]["spec"]["containers"][0]
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == set()
    kept = fed.members["member-2"].get("configmaps", "settings", NS)
    assert kept is not None and kept["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert kept["data"] == {"k": "theirs"}
    assert fo(fed, "configmaps", "settings") is None


def test_a_follower_with_its_own_policy_goes_to_the_union(fed: FakeFederation) -> None:
    create(fed, configmap("settings", NS, {"a": "b"}, ONE), workload("web", TWO))
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    spec = fo(fed, "configmaps", "settings")["spec"]
    assert {e["controller"]: e["placement"] for e in spec["placements"]} == {
        "kubectl-fed": [{"cluster": "member-1"}],
        "kubeadmiral.io/follower-controller": [{"cluster": "member-2"}],
    }
    resource = {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
        "plural": "configmaps",
        "namespaced": True,
    }
    explained = explain_ops.explain(
        fed.host, SyncOptions(timeout=fed.timeout), resource, NS, "settings"
    )
    reasons = {c.cluster: c.code for c in explained.clusters}
    assert reasons == {"member-1": "Selected", "member-2": "Follower"}
    # its own policy label goes: it stays only where it follows
    fed.kube().merge_patch(
        fed.host_cluster.path("configmaps", NS, "settings"),
        {"metadata": {"labels": {PROPAGATION_POLICY_LABEL: None}}},
    )
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == {"member-2"}
    assert [e["controller"] for e in fo(fed, "configmaps", "settings")["spec"]["placements"]] == [
        "kubeadmiral.io/follower-controller"
    ]


def test_the_followers_annotation_names_more_followers(fed: FakeFederation) -> None:
    named = json.dumps(
        [{"kind": "Service", "name": "front"}, {"group": "", "kind": "Secret", "name": "extra"}]
    )
    body = deployment("web", NS, 1, policy_name=TWO)
    body["metadata"]["annotations"] = {"kubeadmiral.io/followers": named}
    create(fed, bare("Service", "front"), bare("Secret", "extra"), body)
    assert run_pass(fed).ok
    assert where(fed, "services", "front") == {"member-2"}
    assert where(fed, "secrets", "extra") == {"member-2"}
    # the annotation steers the federation: it is not sent to the members
    copy_ = fed.members["member-2"].must("deployments.apps", "web", NS)
    assert "kubeadmiral.io/followers" not in (copy_["metadata"].get("annotations") or {})


def test_an_unreadable_followers_annotation_is_an_error_and_moves_nothing(
    fed: FakeFederation,
) -> None:
    named = json.dumps([{"kind": "Secret", "name": "extra"}])
    body = workload("web", TWO, **{"kubeadmiral.io/followers": named})
    create(fed, bare("Secret", "extra"), bare("ConfigMap", "settings"), body)
    assert run_pass(fed).ok
    assert where(fed, "secrets", "extra") == {"member-2"}
    path = fed.host_cluster.path("deployments.apps", NS, "web")
    for broken in ("[{", json.dumps([{"kind": "Deployment", "name": "x"}]), '{"a": 1}'):
        fed.kube().merge_patch(
            path, {"metadata": {"annotations": {"kubeadmiral.io/followers": broken}}}
        )
        report = run_pass(fed)
        assert not report.ok
        result = next(o for o in report.objects if o.title == f"Deployment/{NS}/web")
        assert any("annotation kubeadmiral.io/followers" in e for e in result.errors), result
        # what it named stays where it was, and the pod spec's followers still follow
        assert where(fed, "secrets", "extra") == {"member-2"}
        assert where(fed, "configmaps", "settings") == {"member-2"}


def test_disable_following_opts_a_follower_out(fed: FakeFederation) -> None:
    create(
        fed,
        bare("ConfigMap", "settings"),
        bare("Secret", "pull", **{"kubeadmiral.io/disable-following": "true"}),
        workload("web", BOTH),
    )
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    assert where(fed, "secrets", "pull") == set()
    fed.kube().merge_patch(
        fed.host_cluster.path("configmaps", NS, "settings"),
        {"metadata": {"annotations": {"kubeadmiral.io/disable-following": "true"}}},
    )
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == set()


def test_disable_follower_scheduling_in_the_workloads_policy(fed: FakeFederation) -> None:
    fed.kube().create(
        POLICIES, policy("lonely", NS, placement=["member-1"], disableFollowerScheduling=True)
    )
    create(fed, bare("ConfigMap", "settings"), workload("web", "lonely"))
    assert run_pass(fed).ok
    assert where(fed, "deployments.apps", "web") == {"member-1"}
    assert where(fed, "configmaps", "settings") == set()
    assert fo(fed, "configmaps", "settings") is None


def test_a_workload_whose_policy_is_missing_keeps_its_followers(fed: FakeFederation) -> None:
    create(fed, bare("ConfigMap", "settings"), workload("web", ONE))
    assert run_pass(fed).ok
    retarget(fed, "web", "nosuch")
    assert not run_pass(fed).ok
    assert where(fed, "deployments.apps", "web") == {"member-1"}
    assert where(fed, "configmaps", "settings") == {"member-1"}


def test_an_unreachable_member_keeps_its_followers(fed: FakeFederation) -> None:
    create(fed, bare("ConfigMap", "settings"), workload("web", BOTH))
    run_pass(fed)
    fed.members["member-2"].down = True
    fed.kube().delete(fed.host_cluster.path("deployments.apps", NS, "web"))
    run_pass(fed)
    assert fed.members["member-2"].get("configmaps", "settings", NS) is not None
    fed.members["member-2"].down = False
    assert run_pass(fed).ok
    assert where(fed, "configmaps", "settings") == set()


def test_orphaned_followers_stay_unmarked(fed: FakeFederation) -> None:
    create(
        fed, bare("ConfigMap", "settings", **{"kubeadmiral.io/orphan": "all"}), workload("web", TWO)
    )
    run_pass(fed)
    fed.kube().delete(fed.host_cluster.path("deployments.apps", NS, "web"))
    assert run_pass(fed).ok
    left = fed.members["member-2"].get("configmaps", "settings", NS)
    assert left is not None and MANAGED_LABEL not in (left["metadata"].get("labels") or {})


def test_a_watch_driven_pass_propagates_a_follower_created_after_its_workload(
    fed: FakeFederation,
) -> None:
    """Continuous sync: the ConfigMap's own event plans the Deployment using it too."""
    reconciler = fed.reconciler()
    create(fed, workload("web", BOTH))
    assert reconciler.run_pass().ok  # a full pass: it knows who uses "settings"
    create(fed, bare("ConfigMap", "settings"))
    key = ObjectKey("", "ConfigMap", NS, "settings")
    report = reconciler.run_pass(only={key})
    assert report.ok and not report.needs_full_pass
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    # an edit of the follower alone reaches the members
    fed.kube().merge_patch(
        fed.host_cluster.path("configmaps", NS, "settings"), {"data": {"k": "v2"}}
    )
    assert reconciler.run_pass(only={key}).ok
    assert fed.members["member-1"].must("configmaps", "settings", NS)["data"] == {"k": "v2"}


def test_a_watch_driven_pass_never_drops_a_follower_and_asks_for_a_full_pass(
    fed: FakeFederation,
) -> None:
    reconciler = fed.reconciler()
    create(fed, bare("ConfigMap", "settings"), workload("web", BOTH))
    assert reconciler.run_pass().ok
    path = fed.host_cluster.path("deployments.apps", NS, "web")
    containers = [{"name": "main", "image": "nginx:1.26"}]
    fed.kube().merge_patch(path, {"spec": {"template": {"spec": {"containers": containers}}}})
    partial = reconciler.run_pass(only={ObjectKey("apps", "Deployment", NS, "web")})
    assert partial.needs_full_pass
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    # the follower's own event alone does not drop it either
    partial = reconciler.run_pass(only={ObjectKey("", "ConfigMap", NS, "settings")})
    assert where(fed, "configmaps", "settings") == {"member-1", "member-2"}
    assert reconciler.run_pass().ok
    assert where(fed, "configmaps", "settings") == set()


def test_nothing_in_the_fed_namespace_follows(fed: FakeFederation) -> None:
    """The members' credentials are Secrets there: a workload there never takes them."""
    fed_ns = fed.fed_namespace
    host = fed.kube()
    host.create(fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=fed_ns), policy("all", fed_ns))
    body = deployment("agent", fed_ns, 1, policy_name="all")
    secret = {"secretRef": {"name": "member-1-credentials"}}
    body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [secret]
    host.create(fed.host_cluster.path("deployments.apps", fed_ns), body)
    run_pass(fed)
    for member in fed.members.values():
        assert member.get("secrets", "member-1-credentials", fed_ns) is None
    key = ObjectKey("", "Secret", fed_ns, "member-1-credentials")
    fed.reconciler().run_pass(only={key, ObjectKey("apps", "Deployment", fed_ns, "agent")})
    for member in fed.members.values():
        assert member.get("secrets", "member-1-credentials", fed_ns) is None


def test_a_follower_that_lost_its_policy_records_no_stale_decision(fed: FakeFederation) -> None:
    """Found by the state machine's soak: a ConfigMap placed by its own policy, then left
    to follow its workload only, then labelled with a policy that does not exist. Its
    FederatedObject placed nowhere by its own policy (the follower entry places it) while
    the scheduling record still said every cluster: the record a pass trusts must be the
    placement it recorded."""
    settings = bare("ConfigMap", "settings")
    settings["metadata"]["labels"] = {PROPAGATION_POLICY_LABEL: BOTH}
    create(fed, settings, workload("web", BOTH))
    run_pass(fed)
    path = fed.host_cluster.path("configmaps", NS, "settings")
    fed.kube().merge_patch(path, {"metadata": {"labels": {PROPAGATION_POLICY_LABEL: None}}})
    run_pass(fed)
    run_pass(fed)
    fed.kube().merge_patch(path, {"metadata": {"labels": {PROPAGATION_POLICY_LABEL: "nosuch"}}})
    run_pass(fed)
    fo = next(
        o
        for o in fed.host_cluster.objects(FOS, NS)
        if o["spec"]["template"]["metadata"]["name"] == "settings"
    )
    ours = next(
        (
            sorted(p["cluster"] for p in entry.get("placement") or [])
            for entry in fo["spec"].get("placements") or []
            if entry.get("controller") == "kubectl-fed"
        ),
        None,
    )
    decided = ((fo.get("status") or {}).get("scheduling") or {}).get("clusters")
    assert ours is None or decided is None or sorted(decided) == ours, (ours, decided)
    for member in fed.members.values():  # it still follows its workload: nothing deleted
        assert member.get("configmaps", "settings", NS) is not None
