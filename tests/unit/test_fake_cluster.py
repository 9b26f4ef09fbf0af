"""The in-memory apiserver (tests/fake) answers as kube-apiserver does, seen through
kubectl-fed's own client: status codes and typed errors, resource versions, generation,
merge patch, server-side apply field ownership, finalizers, discovery, CRDs, watches."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kubectl_fed.kube.client import ClusterClient, path_for
from kubectl_fed.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServerError,
    Unauthorized,
    Unreachable,
)
from kubectl_fed.ops import init as init_ops
from tests.fake import FakeCluster, FakeTransport

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
NS = "/api/v1/namespaces"


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster("c1", token="secret-token")


@pytest.fixture
def kube(cluster: FakeCluster) -> ClusterClient:
    return cluster.kube(manager="kubectl-fed")


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


# --------------------------------------------------------------------------- CRUD


def test_create_get_and_the_usual_errors(cluster: FakeCluster, kube: ClusterClient) -> None:
    created = kube.create(CM, configmap("a", k="v"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["metadata"]["namespace"] == "default"
    assert "generation" not in created["metadata"]  # core kinds have none
    assert kube.get(f"{CM}/a")["data"] == {"k": "v"}
    with pytest.raises(AlreadyExists, match='configmaps "a" already exists'):
        kube.create(CM, configmap("a"))
    with pytest.raises(NotFound, match='configmaps "b" not found'):
        kube.get(f"{CM}/b")
    with pytest.raises(NotFound, match='namespaces "nope" not found'):
        kube.create("/api/v1/namespaces/nope/configmaps", configmap("a"))
    with pytest.raises(NotFound):  # a resource nobody serves
        kube.get("/apis/example.io/v1/widgets")
    with pytest.raises(BadRequest, match="does not match the namespace"):
        kube.create(CM, {**configmap("x"), "metadata": {"name": "x", "namespace": "kube-system"}})
    with pytest.raises(Invalid, match=r"metadata\.name"):
        kube.create(CM, configmap("Not_A_Name"))
    with pytest.raises(Invalid, match="must be a string"):
        kube.create(CM, {**configmap("n"), "data": {"k": 1}})


def test_generate_name_and_dry_run(cluster: FakeCluster, kube: ClusterClient) -> None:
    made = kube.create(
        CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x-"}}
    )
    assert made["metadata"]["name"].startswith("x-")
    before = cluster.resource_version
    kube.create(CM, configmap("dry"), dry_run=True)
    kube.apply(f"{CM}/dry2", configmap("dry2"), dry_run=True)
    assert cluster.get("configmaps", "dry", "default") is None
    assert cluster.get("configmaps", "dry2", "default") is None
    assert cluster.resource_version == before
    assert cluster.mutations() == [cluster.requests[0]]  # dry runs are not mutations


def test_replace_conflicts_on_a_stale_resource_version(kube: ClusterClient) -> None:
    first = kube.create(CM, configmap("a", k="1"))
    second = kube.replace(f"{CM}/a", {**first, "data": {"k": "2"}})
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(Conflict, match="the object has been modified"):
        kube.replace(f"{CM}/a", {**first, "data": {"k": "3"}})
    # Without a resourceVersion an update is unconditional.
    unconditional = {**second, "metadata": {"name": "a"}, "data": {"k": "4"}}
    assert kube.replace(f"{CM}/a", unconditional)["data"] == {"k": "4"}
    # Server-set metadata survives an update that leaves it out.
    assert kube.get(f"{CM}/a")["metadata"]["uid"] == first["metadata"]["uid"]


def test_an_update_that_changes_nothing_writes_nothing(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    created = kube.create(CM, configmap("a", k="1"))
    again = kube.replace(f"{CM}/a", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert (
        kube.merge_patch(f"{CM}/a", {"data": {"k": "1"}})["metadata"]["resourceVersion"]
        == (created["metadata"]["resourceVersion"])
    )


def test_merge_patch_follows_rfc_7386_with_a_resource_version_precondition(
    kube: ClusterClient,
) -> None:
    created = kube.create(
        CM, {**configmap("a", k="1", drop="x"), "metadata": {"name": "a", "labels": {"l": "v"}}}
    )
    patched = kube.merge_patch(
        f"{CM}/a", {"data": {"drop": None, "new": "y"}, "metadata": {"labels": None}}
    )
    assert patched["data"] == {"k": "1", "new": "y"}
    assert "labels" not in patched["metadata"]
    stale = {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "data": {"k": "2"},
    }
    with pytest.raises(Conflict):
        kube.merge_patch(f"{CM}/a", stale)
    with pytest.raises(NotFound):
        kube.merge_patch(f"{CM}/missing", {"data": {}})


def test_unsupported_patch_types_are_415(kube: ClusterClient) -> None:
    kube.create(CM, configmap("a"))
    with pytest.raises(Exception, match="unknown format"):
        kube.request("PATCH", f"{CM}/a", body=[], content_type="application/json-patch+json")


# --------------------------------------------------------------------------- generation, status


def test_generation_moves_with_the_spec_only(kube: ClusterClient) -> None:
    path = f"{DEPLOY}/web"
    created = kube.create(DEPLOY, deployment("web"))
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted
    assert created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    labelled = kube.merge_patch(path, {"metadata": {"labels": {"x": "y"}}})
    assert labelled["metadata"]["generation"] == 1
    annotated = kube.merge_patch(path, {"metadata": {"annotations": {"a": "b"}}})
    assert annotated["metadata"]["generation"] == 2  # Deployments count annotations too
    scaled = kube.merge_patch(path, {"spec": {"replicas": 3}})
    assert scaled["metadata"]["generation"] == 3
    # Status goes through its subresource only, and never moves the generation.
    ignored = kube.merge_patch(path, {"status": {"replicas": 3}})
    assert "status" not in ignored and ignored["metadata"]["generation"] == 3
    status = kube.merge_patch(
        f"{path}/status", {"status": {"replicas": 3}, "spec": {"replicas": 9}}
    )
    assert status["status"] == {"replicas": 3}
    assert status["spec"]["replicas"] == 3 and status["metadata"]["generation"] == 3
    with pytest.raises(NotFound):  # ConfigMaps have no status subresource
        kube.create(CM, configmap("a"))
        kube.get(f"{CM}/a/status")


def test_deployment_validation(kube: ClusterClient) -> None:
    broken = deployment("web")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(Invalid, match="selector"):
        kube.create(DEPLOY, broken)
    kube.create(DEPLOY, deployment("web"))
    with pytest.raises(Invalid, match="immutable"):
        kube.merge_patch(f"{DEPLOY}/web", {"spec": {"selector": {"matchLabels": {"app": "x"}}}})


def test_services_get_addresses_that_applies_keep(kube: ClusterClient) -> None:
    path = "/api/v1/namespaces/default/services"
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    created = kube.apply(f"{path}/web", body, field_manager="kubectl-fed")
    ip, node_port = created["spec"]["clusterIP"], created["spec"]["ports"][0]["nodePort"]
    again = kube.apply(f"{path}/web", body, field_manager="kubectl-fed")
    assert again["spec"]["clusterIP"] == ip
    assert again["spec"]["ports"][0]["nodePort"] == node_port


# --------------------------------------------------------------------------- server-side apply


def test_apply_creates_updates_and_removes_what_it_stops_sending(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    path = f"{CM}/a"
    created = kube.apply(
        path, {**configmap("a", one="1", two="2"), "metadata": {"name": "a", "labels": {"x": "1"}}}
    )
    assert created["data"] == {"one": "1", "two": "2"}
    updated = kube.apply(path, configmap("a", one="1"))
    assert updated["data"] == {"one": "1"}
    assert "labels" not in updated["metadata"]  # applied before, not now, owned by nobody else
    assert cluster.managers("configmaps", "a", "default") == {
        "kubectl-fed/Apply": {("data", "one")},
    }
    unchanged = kube.apply(path, configmap("a", one="1"))
    assert unchanged["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


def test_apply_keeps_fields_another_manager_owns(cluster: FakeCluster, kube: ClusterClient) -> None:
    path = f"{CM}/a"
    kube.apply(path, configmap("a", mine="1", gone="g", taken="t"))
    editor = cluster.kube(manager="kubectl-edit")
    # An update owns what it changed: "theirs" and "taken", not "gone" (same value).
    editor.merge_patch(path, {"data": {"theirs": "2", "gone": "g", "taken": "T"}})
    applied = kube.apply(path, configmap("a", mine="1"))
    assert applied["data"] == {"mine": "1", "taken": "T", "theirs": "2"}
    assert cluster.managers("configmaps", "a", "default") == {
        "kubectl-fed/Apply": {("data", "mine")},
        "kubectl-edit/Update": {("data", "theirs"), ("data", "taken")},
    }
    # The editor changes a field we applied: a forced apply takes it back ...
    editor.merge_patch(path, {"data": {"mine": "edited"}})
    assert kube.apply(path, configmap("a", mine="1"))["data"]["mine"] == "1"
    # ... an unforced one is a conflict.
    editor.merge_patch(path, {"data": {"mine": "edited"}})
    with pytest.raises(Conflict, match='conflict with "kubectl-edit"'):
        kube.apply(path, configmap("a", mine="1"), force=False)


def test_apply_needs_a_field_manager_and_type_meta(kube: ClusterClient) -> None:
    with pytest.raises(BadRequest, match="apiVersion and kind"):
        kube.apply(f"{CM}/a", {"metadata": {"name": "a"}})
    with pytest.raises(BadRequest, match="does not match the name"):
        kube.apply(f"{CM}/a", configmap("b"))
    with pytest.raises(Invalid, match="fieldManager"):
        kube.request(
            "PATCH", f"{CM}/a", body=configmap("a"), content_type="application/apply-patch+yaml"
        )


def test_apply_to_a_missing_namespace_is_not_found(kube: ClusterClient) -> None:
    with pytest.raises(NotFound, match='namespaces "shop" not found'):
        kube.apply("/api/v1/namespaces/shop/configmaps/a", configmap("a"))


# --------------------------------------------------------------------------- deletion


def test_finalizers_hold_an_object_until_the_last_one_goes(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    kube.create(CM, {**configmap("a"), "metadata": {"name": "a", "finalizers": ["x/y", "x/z"]}})
    kube.delete(f"{CM}/a")
    held = kube.get(f"{CM}/a")
    assert held["metadata"]["deletionTimestamp"]
    with pytest.raises(Invalid, match="no new finalizers"):
        kube.merge_patch(f"{CM}/a", {"metadata": {"finalizers": ["x/y", "x/z", "x/new"]}})
    kube.merge_patch(f"{CM}/a", {"metadata": {"finalizers": ["x/z"]}})
    assert kube.get(f"{CM}/a")["metadata"]["finalizers"] == ["x/z"]
    kube.merge_patch(f"{CM}/a", {"metadata": {"finalizers": None}})
    with pytest.raises(NotFound):
        kube.get(f"{CM}/a")
    with pytest.raises(NotFound):
        kube.delete(f"{CM}/a")


def test_namespace_deletion_removes_its_objects(cluster: FakeCluster, kube: ClusterClient) -> None:
    kube.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    shop = "/api/v1/namespaces/shop/configmaps"
    kube.create(shop, configmap("a"))
    kube.create(shop, {**configmap("held"), "metadata": {"name": "held", "finalizers": ["x/y"]}})
    kube.delete(f"{NS}/shop")
    assert kube.get(f"{NS}/shop")["status"]["phase"] == "Terminating"
    with pytest.raises(Forbidden, match="being terminated"):
        kube.create(shop, configmap("b"))
    assert [c["metadata"]["name"] for c in kube.list_all(shop)] == ["held"]
    kube.merge_patch(f"{shop}/held", {"metadata": {"finalizers": None}})
    with pytest.raises(NotFound):
        kube.get(f"{NS}/shop")


def test_garbage_collection_follows_owner_references() -> None:
    cluster = FakeCluster("gc", gc=True)
    kube = cluster.kube()
    owner = kube.create(CM, configmap("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    kube.create(CM, {**configmap("child"), "metadata": {"name": "child", "ownerReferences": [ref]}})
    kube.create(
        CM, {**configmap("orphan"), "metadata": {"name": "orphan", "ownerReferences": [ref]}}
    )
    kube.delete(f"{CM}/owner")
    assert cluster.get("configmaps", "child", "default") is None
    assert cluster.get("configmaps", "orphan", "default") is None


def test_delete_preconditions(kube: ClusterClient) -> None:
    kube.create(CM, configmap("a"))
    with pytest.raises(Conflict):
        kube.request("DELETE", f"{CM}/a", body={"preconditions": {"resourceVersion": "1"}})


# --------------------------------------------------------------------------- lists, selectors


def test_label_and_field_selectors(kube: ClusterClient) -> None:
    for name, labels in {
        "a": {"env": "prod", "tier": "web"},
        "b": {"env": "dev"},
        "c": {"tier": "db"},
    }.items():
        kube.create(CM, {**configmap(name), "metadata": {"name": name, "labels": labels}})

    def names(**query: str) -> list[str]:
        return [o["metadata"]["name"] for o in kube.list_all(CM, **query)]

    assert names(labelSelector="env=prod") == ["a"]
    assert names(labelSelector="env==prod") == ["a"]
    assert names(labelSelector="env!=prod") == ["b", "c"]
    assert names(labelSelector="env in (prod,dev)") == ["a", "b"]
    assert names(labelSelector="env notin (prod)") == ["b", "c"]
    assert names(labelSelector="tier") == ["a", "c"]
    assert names(labelSelector="!tier") == ["b"]
    assert names(labelSelector="tier,env=prod") == ["a"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.name!=b") == ["a", "c"]
    with pytest.raises(BadRequest):
        names(labelSelector="env in (prod")
    with pytest.raises(BadRequest):
        names(fieldSelector="spec.x=1")


def test_lists_page_and_leave_type_meta_off_typed_items(kube: ClusterClient) -> None:
    for index in range(1203):
        kube.create(CM, configmap(f"cm-{index:04d}"))
    kube.counts.clear()
    found = list(kube.list_all(CM))
    assert len(found) == 1203 and kube.counts["GET"] == 3  # pages of 500
    page = kube.get(CM, limit=1)
    assert "kind" not in page["items"][0] and page["kind"] == "ConfigMapList"
    assert found[0]["kind"] == "ConfigMap"  # list_all puts it back
    # Every namespace when no namespace is named.
    assert len(list(kube.list_all("/api/v1/configmaps"))) == 1203


# --------------------------------------------------------------------------- discovery, CRDs


def test_discovery_is_legacy_json_whatever_the_client_asks(kube: ClusterClient) -> None:
    resources = {(r["group"], r["plural"]): r for r in kube.api_resources()}
    deployments = resources[("apps", "deployments")]
    assert deployments["kind"] == "Deployment" and deployments["namespaced"]
    assert "status" in deployments["subresources"] and "deploy" in deployments["shortNames"]
    assert not resources[("", "namespaces")]["namespaced"]
    assert kube.server_version() == "v1.34.4"
    with pytest.raises(NotFound):
        kube.get("/apis/core.kubeadmiral.io/v1alpha1")


def test_init_installs_crds_that_are_served_and_established(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    changes = init_ops.install(kube, "kube-admiral-system")
    assert {c.action for c in changes} == {"created"}
    assert kube.get("/apis/core.kubeadmiral.io/v1alpha1")["resources"]
    kube.counts.clear()
    again = init_ops.install(kube, "kube-admiral-system")
    assert {c.action for c in again} == {"unchanged"} and kube.writes == 0
    policies = "/apis/core.kubeadmiral.io/v1alpha1/namespaces/default/propagationpolicies"
    created = kube.create(
        policies,
        {
            "apiVersion": "core.kubeadmiral.io/v1alpha1",
            "kind": "PropagationPolicy",
            "metadata": {"name": "p"},
            "spec": {"placement": [{"cluster": "m1"}], "unknownField": 1},
        },
    )
    assert created["spec"]["schedulingMode"] == "Duplicate"  # defaulted from the schema
    assert "unknownField" not in created["spec"]  # pruned
    assert created["metadata"]["generation"] == 1
    with pytest.raises(Invalid, match="maxClusters"):
        kube.create(
            policies,
            {
                "apiVersion": "core.kubeadmiral.io/v1alpha1",
                "kind": "PropagationPolicy",
                "metadata": {"name": "q"},
                "spec": {"maxClusters": -1},
            },
        )
    with pytest.raises(Invalid, match="Unsupported value"):
        kube.create(
            policies,
            {
                "apiVersion": "core.kubeadmiral.io/v1alpha1",
                "kind": "PropagationPolicy",
                "metadata": {"name": "r"},
                "spec": {"schedulingMode": "Sometimes"},
            },
        )
    kube.delete(f"{init_ops.CRD_PATH}/propagationpolicies.core.kubeadmiral.io")
    with pytest.raises(NotFound):
        kube.get(policies)


def test_reviews_answer_allowed_unless_denied(cluster: FakeCluster, kube: ClusterClient) -> None:
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    body = {
        "spec": {"resourceAttributes": {"verb": "list", "group": "apps", "resource": "deployments"}}
    }
    assert kube.create(path, body)["status"]["allowed"] is True
    cluster.denied.add(("list", "apps", "deployments"))
    assert kube.create(path, body)["status"]["allowed"] is False


# --------------------------------------------------------------------------- faults, auth


def test_down_is_unreachable_and_faults_fire_once(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    cluster.down = True
    with pytest.raises(Unreachable, match="connection refused"):
        kube.get(CM)
    cluster.down = False
    cluster.fail_next("GET", CM, 403)
    with pytest.raises(Forbidden, match="cannot list configmaps"):
        kube.get(CM)
    assert kube.get(CM)["items"] == []
    cluster.fail_next("*", "/api/v1", 500, retry_after=0.001)
    assert kube.get(CM)["items"] == []  # retried by the client
    cluster.fail_next("POST", "/api", 503, times=None, retry_after=0.001)
    with pytest.raises(ServerError):
        kube.create(CM, configmap("a"))
    cluster.clear_faults()
    kube.create(CM, configmap("a"))
    assert cluster.counts["POST"] == 5 and len(cluster.mutations()) == 5


def test_wrong_credentials_are_refused(cluster: FakeCluster) -> None:
    stranger = ClusterClient(FakeTransport(cluster, token="wrong"), "c1", 1.0)
    with pytest.raises(Unauthorized):
        stranger.get(CM)
    nobody = ClusterClient(FakeTransport(None, "https://nowhere:6443"), "x", 1.0)
    with pytest.raises(Unreachable, match="name or service not known"):
        nobody.get(CM)


def test_clone_is_independent(cluster: FakeCluster, kube: ClusterClient) -> None:
    kube.create(CM, configmap("a"))
    other = cluster.clone()
    other.kube().create(CM, configmap("b"))
    kube.delete(f"{CM}/a")
    assert [c["metadata"]["name"] for c in other.objects("configmaps")] == ["a", "b"]
    assert cluster.objects("configmaps") == []


# --------------------------------------------------------------------------- watches


def test_watch_from_a_resource_version(cluster: FakeCluster, kube: ClusterClient) -> None:
    start = kube.get(CM)["metadata"]["resourceVersion"]
    kube.create(CM, {**configmap("a"), "metadata": {"name": "a", "labels": {"w": "1"}}})
    kube.merge_patch(f"{CM}/a", {"data": {"k": "v"}})
    kube.merge_patch(f"{CM}/a", {"metadata": {"labels": {"w": None}}})  # leaves the selection
    kube.create(CM, configmap("other"))
    kube.delete(f"{CM}/a")
    events = list(kube.watch(CM, start, timeout_s=0, labelSelector="w=1"))
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    assert events[0]["object"]["kind"] == "ConfigMap"
    everything = [
        (e["type"], e["object"]["metadata"].get("name")) for e in kube.watch(CM, start, timeout_s=0)
    ]
    assert everything[:-1] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("MODIFIED", "a"),
        ("ADDED", "other"),
        ("DELETED", "a"),
    ]


def test_watch_blocks_until_an_event_and_stops_on_close(
    cluster: FakeCluster, kube: ClusterClient
) -> None:
    start = kube.get(CM)["metadata"]["resourceVersion"]
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        for event in kube.watch(CM, start, timeout_s=30):
            seen.append(event["type"])
        done.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.05)
    assert seen == []
    kube.create(CM, configmap("a"))
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["ADDED"]
    cluster.close()
    assert done.wait(5)


def test_watch_breaks_when_the_cluster_goes_down(cluster: FakeCluster, kube: ClusterClient) -> None:
    start = kube.get(CM)["metadata"]["resourceVersion"]
    errors: list[Exception] = []

    def watch() -> None:
        try:
            list(kube.watch(CM, start, timeout_s=30))
        except Unreachable as err:
            errors.append(err)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.05)
    cluster.down = True
    thread.join(5)
    assert errors and "unreachable" in str(errors[0])


def test_watch_from_a_compacted_resource_version_says_gone() -> None:
    cluster = FakeCluster("small", event_limit=3)
    kube = cluster.kube()
    for index in range(5):
        kube.create(CM, configmap(f"c{index}"))
    events = list(kube.watch(CM, "1", timeout_s=0))
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410


def test_path_for_discovered_resources(kube: ClusterClient) -> None:
    deployments = next(r for r in kube.api_resources() if r["plural"] == "deployments")
    kube.create(path_for(deployments, "default"), deployment("web"))
    assert kube.get(path_for(deployments, "default", "web"))["kind"] == "Deployment"
