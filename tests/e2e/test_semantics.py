"""KubeAdmiral's semantics, through the real kubectl on the local apiservers: followers
without a policy of their own, namespace auto-propagation, overrides as KubeAdmiral's
patch library applies them, and `matchFields` in a policy's cluster affinity.

The apiservers are bare (no namespace controller): a deleted namespace stays Terminating
until its `kubernetes` finalizer is removed, which `_finalize` does as the controller would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import (
    POLICY_LABEL,
    apply,
    deployment,
    entry,
    get,
    policy,
    sync_once,
)

pytestmark = pytest.mark.e2e
MEMBERS = ("member-1", "member-2")
OVERRIDE_LABEL = "kubeadmiral.io/override-policy-name"
MANAGED = "kubeadmiral.io/managed"
PSA = {"pod-security.kubernetes.io/enforce": "restricted"}


def _managed_in(k: Kubectl, kind: str, name: str, namespace: str) -> set[str]:
    """The members holding a managed copy (a PVC deleted stays Terminating on a bare
    apiserver, held by its protection finalizer: it counts as gone)."""
    found = set()
    for member in MEMBERS:
        obj = get(k, member, kind, name, "-n", namespace)
        metadata = (obj or {}).get("metadata") or {}
        managed = (metadata.get("labels") or {}).get(MANAGED) == "true"
        if managed and not metadata.get("deletionTimestamp"):
            found.add(member)
    return found


def _bare(kind: str, name: str, namespace: str, **annotations: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
    }
    if kind == "ConfigMap":
        body["data"] = {"mode": "fast"}
    if kind == "Secret":
        body["stringData"] = {"token": "t"}
    if kind == "PersistentVolumeClaim":
        body["spec"] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        }
    if kind == "Service":
        body["spec"] = {"ports": [{"port": 80}]}
    return body


def _must(k: Kubectl, context: str, *args: str) -> dict[str, Any]:
    found = get(k, context, *args)
    assert found is not None, (context, args)
    return found


def _finalize(k: Kubectl, context: str, namespace: str) -> None:
    """What a namespace controller does once a namespace is empty: drop its finalizer."""
    found = get(k, context, "namespace", namespace)
    if found is None:
        return
    found["spec"]["finalizers"] = []
    k.run(
        "--context",
        context,
        "replace",
        "--raw",
        f"/api/v1/namespaces/{namespace}/finalize",
        "-f",
        "-",
        stdin=json.dumps(found),
    )


@pytest.fixture
def scratch(fed_host: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A host namespace of the test's own that the test deletes; gone everywhere after.
    Its name is the run's own: a bare apiserver keeps what a finalized namespace held."""
    test = request.node.name.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    name = f"x{uuid.uuid4().hex[:5]}-{test}"
    yield name
    fed_host.run("delete", "namespace", name, "--wait=false", check=False)
    _finalize(fed_host, "host", name)
    sync_once(fed_host)
    for member in MEMBERS:
        fed_host.run("--context", member, "delete", "namespace", name, "--wait=false", check=False)
        _finalize(fed_host, member, name)


# --------------------------------------------------------------------------- followers


def test_followers_without_a_policy_go_and_leave_with_their_workload(
    fed_host: Kubectl, ns: str
) -> None:
    k = fed_host
    # A deleted PVC stays Terminating on a bare apiserver (protection finalizer): a name
    # of this run's own.
    claim = f"data-{uuid.uuid4().hex[:6]}"
    web = deployment(
        "web",
        ns,
        1,
        labels={POLICY_LABEL: "two"},
        annotations={
            "kubeadmiral.io/followers": json.dumps([{"kind": "Service", "name": "front"}])
        },
    )
    spec = web["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "runner"
    spec["containers"][0]["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    spec["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": claim}},
        {"name": "p", "projected": {"sources": [{"secret": {"name": "tls"}}]}},
        {"name": "off", "secret": {"secretName": "private"}},
    ]
    # someone else's ConfigMap of that name in member-1: never taken, never deleted
    k.run("--context", "member-1", "create", "namespace", ns, check=False)
    k.run("--context", "member-1", "delete", "configmap", "settings", "-n", ns, check=False)
    k.run(
        "--context",
        "member-1",
        "create",
        "configmap",
        "settings",
        "-n",
        ns,
        "--from-literal=a=theirs",
    )
    theirs = get(k, "member-1", "configmap", "settings", "-n", ns)
    apply(
        k,
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        policy("two", ns, placement=[{"cluster": "member-2"}]),
        _bare("ConfigMap", "settings", ns),
        _bare("ServiceAccount", "runner", ns),
        _bare("PersistentVolumeClaim", claim, ns),
        _bare("Secret", "tls", ns),
        _bare("Secret", "private", ns, **{"kubeadmiral.io/disable-following": "true"}),
        _bare("Service", "front", ns),
        _bare("ConfigMap", "unused", ns),
        web,
    )
    code, report = sync_once(k)
    assert code == 0, report
    followers = [
        ("configmap", "settings"),
        ("serviceaccount", "runner"),
        ("persistentvolumeclaim", claim),
        ("secret", "tls"),
        ("service", "front"),
    ]
    for kind, name in followers:
        assert _managed_in(k, kind, name, ns) == {"member-2"}, (kind, name)
    assert _managed_in(k, "secret", "private", ns) == set()
    assert _managed_in(k, "configmap", "unused", ns) == set()
    fo = get(k, "host", "federatedobject", "settings-configmaps", "-n", ns)
    assert fo is not None
    assert fo["spec"]["follows"] == [
        {"group": "apps", "kind": "Deployment", "namespace": ns, "name": "web"}
    ]
    explained = json.loads(k.fed("explain", "configmap/settings", "-n", ns, "-o", "json").out)
    assert "a follower" in explained["policy"]["name"]
    reasons = {c["cluster"]: c["reason"]["code"] for c in explained["clusters"]}
    assert reasons["member-2"] == "Follower"
    _code, again = sync_once(k)
    assert again["writes"] == 0, again["requests"]

    # the workload moves: its followers move (never over someone else's object)
    k.run("label", "deploy", "web", "-n", ns, f"{POLICY_LABEL}=one", "--overwrite")
    code, report = sync_once(k)
    assert entry(report, "configmap/settings", ns)["clusters"]["member-1"]["status"] == (
        "AlreadyExists"
    )
    assert _managed_in(k, "secret", "tls", ns) == {"member-1"}
    assert _managed_in(k, "configmap", "settings", ns) == set()

    # it stops using them: they leave; someone else's ConfigMap stays as it was
    k.run(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=json",
        "-p",
        json.dumps(
            [
                {"op": "remove", "path": "/spec/template/spec/volumes"},
                {"op": "remove", "path": "/spec/template/spec/containers/0/envFrom"},
                {"op": "remove", "path": "/spec/template/spec/serviceAccountName"},
                # (the apiserver keeps the deprecated alias, and reads it back)
                {"op": "remove", "path": "/spec/template/spec/serviceAccount"},
                {"op": "remove", "path": "/metadata/annotations/kubeadmiral.io~1followers"},
            ]
        ),
    )
    code, report = sync_once(k)
    assert code == 0, report
    for kind, name in followers:
        assert _managed_in(k, kind, name, ns) == set(), (kind, name)
    kept = get(k, "member-1", "configmap", "settings", "-n", ns)
    assert kept is not None and theirs is not None
    assert kept["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert get(k, "host", "federatedobject", "settings-configmaps", "-n", ns) is None
    k.run("--context", "member-1", "delete", "configmap", "settings", "-n", ns)
    for kind in ("secrets", "serviceaccounts", "persistentvolumeclaims"):
        k.run("delete", kind, "--all", "-n", ns, "--wait=false", check=False)
    for context in ("host", *MEMBERS):
        unprotect = ["patch", "pvc", claim, "-n", ns, "--type=merge"]
        unprotect += ["-p", '{"metadata": {"finalizers": null}}']
        k.run("--context", context, *unprotect, check=False)


def test_an_unreadable_followers_annotation_is_one_clear_error(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    web = deployment(
        "web",
        ns,
        1,
        labels={POLICY_LABEL: "two"},
        annotations={"kubeadmiral.io/followers": '[{"kind": "Deployment", "name": "x"}]'},
    )
    apply(k, policy("two", ns, placement=[{"cluster": "member-2"}]), web)
    code, report = sync_once(k)
    assert code == 1
    errors = entry(report, "deployment.apps/web", ns)["errors"]
    assert any("kind 'Deployment' cannot follow" in e for e in errors), errors
    status = k.fed("status", "deploy/web", "-n", ns, check=False)
    assert status.code == 1 and "cannot follow" in status.out


# --------------------------------------------------------------------------- namespaces


def test_host_namespaces_reach_every_member_with_their_labels(
    fed_host: Kubectl, scratch: str
) -> None:
    k = fed_host
    k.run("--context", "member-2", "create", "namespace", scratch)  # member-2 has its own
    own = get(k, "member-2", "namespace", scratch)
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": scratch, "labels": PSA, "annotations": {"owner": "team-a"}},
    }
    apply(k, body)
    private = f"{scratch}-private"[:63]
    apply(
        k,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": private,
                "annotations": {"kubeadmiral.io/no-auto-propagation": "true"},
            },
        },
    )
    try:
        code, report = sync_once(k)
        assert code == 0, report
        for member in MEMBERS:
            copy_ = get(k, member, "namespace", scratch)
            assert copy_ is not None, member
            labels = copy_["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            assert labels[MANAGED] == "true"
            assert copy_["metadata"]["annotations"]["owner"] == "team-a"
            assert get(k, member, "namespace", private) is None
            own_ns = get(k, member, "namespace", "kube-admiral-system")  # join's, not sync's
            assert MANAGED not in ((own_ns or {}).get("metadata") or {}).get("labels", {})
        adopted = get(k, "member-2", "namespace", scratch)
        assert adopted is not None and own is not None
        assert adopted["metadata"]["uid"] == own["metadata"]["uid"]
        assert adopted["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"
        # `-n` leaves namespaces out (as `kubectl get -n`), naming one brings it in
        listed = k.fed("status", "-n", scratch, "-o", "json", check=False)
        assert f"namespace/{scratch}" not in listed.out and listed.code == 0, listed
        named = json.loads(k.fed("status", f"namespace/{scratch}", "-o", "json").out)["items"]
        assert [i["object"] for i in named] == [f"namespace/{scratch}"]
        _code, again = sync_once(k)
        assert again["writes"] == 0, again["requests"]

        # the host namespace goes (once gone, not while Terminating): member-2 keeps its
        # own, unmarked; the one made in member-1 stays too, since kubectl-fed's member
        # identity may not list everything a namespace can hold (see the next test)
        k.run("delete", "namespace", scratch, "--wait=false")
        sync_once(k)
        assert MANAGED in _must(k, "member-1", "namespace", scratch)["metadata"]["labels"]
        _finalize(k, "host", scratch)
        code, report = sync_once(k)
        assert code == 0, report
        for member in MEMBERS:
            kept = _must(k, member, "namespace", scratch)
            assert not kept["metadata"].get("deletionTimestamp"), member
            assert MANAGED not in (kept["metadata"].get("labels") or {}), member
        events = k.run("get", "events", "-n", "default", "-o", "json").out
        assert "member-1: copy left running" in events and "it may not list" in events
    finally:
        k.run("delete", "namespace", private, "--wait=false", check=False)
        _finalize(k, "host", private)


LIST_EVERYTHING = "kubectl-fed-list-everything"


@pytest.fixture
def list_everything(fed_host: Kubectl) -> Iterator[None]:
    """What README's Namespaces section says to do for sync to delete the namespaces it
    made: let kubectl-fed's member identity list everything."""
    for member in MEMBERS:
        at = ("--context", member)
        fed_host.run(
            *at,
            "create",
            "clusterrole",
            LIST_EVERYTHING,
            "--verb=list",
            "--resource=*.*",
            check=False,
        )
        fed_host.run(
            *at,
            "create",
            "clusterrolebinding",
            LIST_EVERYTHING,
            f"--clusterrole={LIST_EVERYTHING}",
            "--serviceaccount=kube-admiral-system:kubectl-fed",
            check=False,
        )
    yield
    for member in MEMBERS:
        remove = ("--context", member, "delete", "--ignore-not-found")
        fed_host.run(*remove, "clusterrolebinding,clusterrole", LIST_EVERYTHING, check=False)


def test_a_member_namespace_holding_other_objects_is_never_deleted(
    fed_host: Kubectl, scratch: str, list_everything: None
) -> None:
    k = fed_host
    apply(k, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": scratch}})
    code, report = sync_once(k)
    assert code == 0, report
    k.run("--context", "member-1", "create", "configmap", "mine", "-n", scratch)
    k.run("delete", "namespace", scratch, "--wait=false")
    _finalize(k, "host", scratch)
    code, report = sync_once(k)
    assert code == 0, report
    kept = get(k, "member-1", "namespace", scratch)
    assert kept is not None and not kept["metadata"].get("deletionTimestamp")
    assert MANAGED not in (kept["metadata"].get("labels") or {})
    assert get(k, "member-1", "configmap", "mine", "-n", scratch) is not None
    gone = get(k, "member-2", "namespace", scratch)
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    events = k.run("get", "events", "-n", "default", "-o", "json").out
    assert "configmaps/mine" in events and "Orphaned" in events


# --------------------------------------------------------------------------- overrides


def _override(name: str, ns: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"overrideRules": list(rules)},
    }


EVERY_PART = [
    {"imageComponent": part, "operator": "delete"}
    for part in ("Registry", "Repository", "Tag", "Digest")
]


def test_overrides_as_kubeadmirals_patch_library_applies_them(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    to_member_1 = {"clusters": ["member-1"]}
    settings = _bare("ConfigMap", "image-ref", ns)
    settings["metadata"]["labels"] = {POLICY_LABEL: "both", OVERRIDE_LABEL: "empty-ref"}
    settings["data"] = {"image": "reg.io/team/web:1"}
    web = deployment(
        "web", ns, 1, labels={POLICY_LABEL: "both", OVERRIDE_LABEL: "op", "app": "web"}
    )
    bare_image = deployment(
        "noimage", ns, 1, labels={POLICY_LABEL: "both", OVERRIDE_LABEL: "empty"}
    )
    apply(
        k,
        policy("both", ns),
        # every part of an image deleted: an empty image, as KubeAdmiral prints it
        _override(
            "empty-ref",
            ns,
            {
                "targetClusters": to_member_1,
                "overriders": {"image": [{"imagePath": "/data/image", "operations": EVERY_PART}]},
            },
        ),
        _override(
            "empty",
            ns,
            {"targetClusters": to_member_1, "overriders": {"image": [{"operations": EVERY_PART}]}},
        ),
        _override(
            "op",
            ns,
            # a replace of a key missing from an existing object adds it
            {
                "targetClusters": to_member_1,
                "overriders": {"jsonpatch": [{"path": "/metadata/labels/tier", "value": "web"}]},
            },
            # a label value that is no label value: an error for that cluster
            {
                "targetClusters": {
                    "clusters": ["member-2"],
                    "clusterSelector": {"region": "not a label value"},
                },
                "overriders": {"labels": [{"operator": "addIfAbsent", "value": {"team": "a"}}]},
            },
        ),
        settings,
        web,
        bare_image,
    )
    code, report = sync_once(k)
    assert code == 1
    ref = entry(report, "configmap/image-ref", ns)["clusters"]
    assert ref["member-1"]["status"] == "OK", ref
    assert _must(k, "member-1", "configmap", "image-ref", "-n", ns)["data"]["image"] == ""
    assert _must(k, "member-2", "configmap", "image-ref", "-n", ns)["data"]["image"] == (
        "reg.io/team/web:1"
    )
    clusters = entry(report, "deployment.apps/web", ns)["clusters"]
    assert clusters["member-1"]["status"] == "OK", clusters
    assert _must(k, "member-1", "deploy", "web", "-n", ns)["metadata"]["labels"]["tier"] == "web"
    assert clusters["member-2"]["status"] == "ApplyOverridesFailed"
    assert "clusterSelector" in clusters["member-2"]["message"]
    assert get(k, "member-2", "deploy", "web", "-n", ns) is None  # nothing half-applied
    # a Deployment's pod template needs an image: the member says so, as with KubeAdmiral
    refused = entry(report, "deployment.apps/noimage", ns)["clusters"]["member-1"]
    assert refused["status"] == "CreationFailed" and "image: Required value" in refused["message"]
    _code, again = sync_once(k)
    assert entry(again, "configmap/image-ref", ns)["ok"]
    assert again["requests"]["member-1"].get("PATCH", 0) == 1, again["requests"]  # noimage


# --------------------------------------------------------------------------- matchFields


def test_match_fields_and_invalid_labels_in_a_policys_cluster_affinity(
    fed_host: Kubectl, ns: str
) -> None:
    k = fed_host
    by_name = {
        "clusterAffinity": [
            {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["member-1"]}]}
        ]
    }
    invalid = {
        "clusterAffinity": [
            {"matchExpressions": [{"key": "region", "operator": "In", "values": ["not valid!"]}]}
        ]
    }
    apply(
        k,
        policy("by-name", ns, **by_name),
        policy("invalid", ns, **invalid),
        deployment("named", ns, 1, labels={POLICY_LABEL: "by-name"}),
        deployment("nowhere", ns, 1, labels={POLICY_LABEL: "invalid"}),
    )
    code, report = sync_once(k)
    assert code == 1  # "nowhere" is placed nowhere
    assert set(entry(report, "deployment.apps/named", ns)["clusters"]) == {"member-2"}
    assert get(k, "member-2", "deploy", "named", "-n", ns) is not None
    assert get(k, "member-1", "deploy", "named", "-n", ns) is None
    nowhere = entry(report, "deployment.apps/nowhere", ns)
    assert any("no cluster satisfies" in e for e in nowhere["errors"]), nowhere
    explained = json.loads(k.fed("explain", "deploy/nowhere", "-n", ns, "-o", "json").out)
    assert not any("clusterAffinity" in e for e in explained["errors"]), explained["errors"]
    assert any("matches no cluster" in w for w in explained["warnings"]), explained["warnings"]
    reasons = {c["cluster"]: c["reason"]["code"] for c in explained["clusters"]}
    assert reasons == {"member-1": "AffinityMismatch", "member-2": "AffinityMismatch"}
