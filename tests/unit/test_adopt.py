"""`kubectl fed adopt` over a small in-memory API: shared dependencies, all or nothing per
object, and a report line for everything."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import pytest

from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.errors import AlreadyExists, ApiError, Forbidden, NotFound
from kubectl_fed.kube.host import Host
from kubectl_fed.ops.adopt import (
    Adopted,
    AdoptRequest,
    _template,
    adopt,
    dependency_verdict,
    object_verdict,
)
from kubectl_fed.state import LocalState

POLICY_LABEL = "kubeadmiral.io/propagation-policy-name"
FED = "/apis/core.kubeadmiral.io/v1alpha1"
NS = "shop"


def _resource(group: str, kind: str, plural: str, namespaced: bool = True) -> dict[str, Any]:
    return {
        "group": group,
        "version": "v1",
        "kind": kind,
        "plural": plural,
        "singular": kind.lower(),
        "namespaced": namespaced,
        "shortNames": [],
    }


RESOURCES = [
    {**_resource("apps", "Deployment", "deployments"), "shortNames": ["deploy"]},
    _resource("batch", "Job", "jobs"),
    _resource("", "ConfigMap", "configmaps"),
    _resource("", "Secret", "secrets"),
    _resource("", "Namespace", "namespaces", namespaced=False),
]


class FakeKube:
    """Objects by path; writes can be made to fail by path."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.objects: dict[str, dict[str, Any]] = {FED: {}}
        self.fail: dict[str, ApiError] = {}
        self.deleted: list[str] = []

    def get(self, path: str, **_query: Any) -> dict[str, Any]:
        if path not in self.objects:
            raise NotFound(f"{self.name}: {path} not found")
        return copy.deepcopy(self.objects[path])

    def create(self, path: str, body: dict[str, Any], dry_run: bool = False) -> Any:
        target = f"{path}/{body['metadata']['name']}"
        if target in self.fail:
            raise self.fail[target]
        if target in self.objects:
            raise AlreadyExists(f"{target} already exists")
        if not dry_run:
            self.objects[target] = copy.deepcopy(body)
        return body

    def delete(self, path: str, **_options: Any) -> None:
        if path not in self.objects:
            raise NotFound(path)
        del self.objects[path]
        self.deleted.append(path)

    def api_resources(self) -> list[dict[str, Any]]:
        return RESOURCES

    def list_all(self, path: str, labelSelector: str = "") -> list[dict[str, Any]]:
        key, _, value = labelSelector.partition("=")
        prefix = f"{path}/"
        return [
            copy.deepcopy(o)
            for p, o in self.objects.items()
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
            if (o["metadata"].get("labels") or {}).get(key) == value
        ]

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[_path(obj)] = copy.deepcopy(obj)


def _path(obj: dict[str, Any]) -> str:
    plural = {
        "Deployment": "deployments",
        "Job": "jobs",
        "ConfigMap": "configmaps",
        "Secret": "secrets",
        "PropagationPolicy": "propagationpolicies",
    }[obj["kind"]]
    base = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    return f"{base}/namespaces/{obj['metadata']['namespace']}/{plural}/{obj['metadata']['name']}"


def _workload(name: str, *config_maps: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"team": "batch"}, "uid": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "main", "image": "nginx"}],
                    "volumes": [{"name": c, "configMap": {"name": c}} for c in config_maps],
                },
            },
        },
    }


def _config_map(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata = {"name": name, "namespace": NS, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def _policy(name: str, cluster: str = "member-1") -> dict[str, Any]:
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"schedulingMode": "Duplicate", "placement": [{"cluster": cluster}]},
    }


def _request(*references: str, **options: Any) -> AdoptRequest:
    values: dict[str, Any] = {
        "references": list(references),
        "cluster": "member-1",
        "namespace": NS,
        "selector": None,
        "policy": None,
        "create_policy": False,
        "template": "native",
        "dependencies": True,
        "dry_run": "none",
        **options,
    }
    return AdoptRequest(**values)


def _run(host_kube: FakeKube, member: FakeKube, request: AdoptRequest) -> list[Adopted]:
    host = Host(cast(ClusterClient, host_kube), "kube-admiral-system", LocalState.load(None))
    return adopt(host, cast(ClusterClient, member), request)


def _report(rows: list[Adopted]) -> list[tuple[str, str, str, str]]:
    return [(r.kind, r.name, r.of, r.action) for r in rows]


@pytest.fixture
def member() -> FakeKube:
    kube = FakeKube("member-1")
    for obj in (
        _workload("batch-0", "shared"),
        _workload("batch-1", "shared", "only-1"),
        _workload("batch-2", "shared"),
        _config_map("shared"),
        _config_map("only-1"),
    ):
        kube.put(obj)
    return kube


@pytest.fixture
def host_kube(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> FakeKube:
    monkeypatch.setenv("KUBECTL_FED_CONFIG", str(tmp_path / "state.toml"))
    kube = FakeKube("host")
    kube.put(_policy("batch"))
    return kube


def test_a_shared_dependency_is_created_once_and_reported_for_every_object(
    host_kube: FakeKube, member: FakeKube
) -> None:
    rows = _run(host_kube, member, _request("deploy", selector="team=batch", policy="batch"))
    assert _report(rows) == [
        ("Deployment", "batch-0", "", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-0", "created"),
        ("Deployment", "batch-1", "", "created"),
        ("ConfigMap", "only-1", "deployment.apps/batch-1", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-1", "already federated"),
        ("Deployment", "batch-2", "", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-2", "already federated"),
    ]
    assert rows[4].message == "adopted with deployment.apps/batch-0 in this run"
    shared = host_kube.get(f"/api/v1/namespaces/{NS}/configmaps/shared")
    assert shared["metadata"]["labels"][POLICY_LABEL] == "batch"
    again = _run(host_kube, member, _request("deploy/batch-0", policy="batch"))
    assert _report(again) == [("Deployment", "batch-0", "", "already federated")]


def test_with_created_policies_a_shared_dependency_goes_with_the_first(
    host_kube: FakeKube, member: FakeKube
) -> None:
    rows = _run(host_kube, member, _request("deploy/batch-0", "deploy/batch-2", create_policy=True))
    assert _report(rows) == [
        ("Deployment", "batch-0", "", "created"),
        ("PropagationPolicy", "batch-0", "deployment.apps/batch-0", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-0", "created"),
        ("Deployment", "batch-2", "", "created"),
        ("PropagationPolicy", "batch-2", "deployment.apps/batch-2", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-2", "already federated"),
    ]
    # A later run: federated with another object's policy, so not this run's to change.
    rows = _run(host_kube, member, _request("deploy/batch-1", create_policy=True))
    shared = next(r for r in rows if r.name == "shared")
    assert (shared.action, shared.message) == (
        "skipped",
        "the host has it with PropagationPolicy batch-0, not batch-1: left as it is",
    )
    assert [r.action for r in rows if r.name != "shared"] == ["created"] * 3


def test_one_failed_write_rolls_back_that_object_only(
    host_kube: FakeKube, member: FakeKube
) -> None:
    host_kube.fail[f"/api/v1/namespaces/{NS}/configmaps/only-1"] = Forbidden(
        "forbidden in host: cannot create configmaps"
    )
    rows = _run(host_kube, member, _request("deploy", selector="team=batch", create_policy=True))
    by_row = {(r.kind, r.name, r.of): (r.action, r.message) for r in rows}
    assert by_row[("ConfigMap", "only-1", "deployment.apps/batch-1")] == (
        "failed",
        "forbidden in host: cannot create configmaps",
    )
    assert by_row[("Deployment", "batch-1", "")] == (
        "failed",
        "rolled back: ConfigMap only-1 failed",
    )
    assert by_row[("PropagationPolicy", "batch-1", "deployment.apps/batch-1")][0] == "failed"
    # batch-1 created nothing of its own that is left; the shared ConfigMap was batch-0's.
    assert by_row[("ConfigMap", "shared", "deployment.apps/batch-1")][0] == "already federated"
    assert not any(p.endswith(("/batch-1", "/only-1")) for p in host_kube.objects)
    assert sorted(p.rsplit("/", 1)[1] for p in host_kube.deleted) == ["batch-1", "batch-1"]
    assert by_row[("Deployment", "batch-2", "")] == ("created", "")
    assert f"/apis/apps/v1/namespaces/{NS}/deployments/batch-2" in host_kube.objects


def test_a_policy_mismatch_fails_that_object_and_the_batch_goes_on(
    host_kube: FakeKube, member: FakeKube
) -> None:
    host_kube.put(_policy("batch-0", cluster="member-2"))
    rows = _run(host_kube, member, _request("deploy/batch-0", "deploy/batch-2", create_policy=True))
    assert _report(rows) == [
        ("Deployment", "batch-0", "", "failed"),
        ("PropagationPolicy", "batch-0", "deployment.apps/batch-0", "failed"),
        ("ConfigMap", "shared", "deployment.apps/batch-0", "failed"),
        ("Deployment", "batch-2", "", "created"),
        ("PropagationPolicy", "batch-2", "deployment.apps/batch-2", "created"),
        ("ConfigMap", "shared", "deployment.apps/batch-2", "created"),
    ]
    assert rows[1].message == (
        "PropagationPolicy batch-0 already exists with another spec: use --policy to reuse it"
    )
    assert rows[0].message == "not created: PropagationPolicy batch-0 failed"


def test_dependencies_that_are_not_this_runs_are_reported_not_written(
    host_kube: FakeKube, member: FakeKube
) -> None:
    member.put(_workload("odd", "host-local", "elsewhere", "absent"))
    member.put(_config_map("host-local"))
    member.put(_config_map("elsewhere"))
    host_kube.put(_config_map("host-local"))
    host_kube.put(_config_map("elsewhere", labels={POLICY_LABEL: "other"}))
    rows = _run(host_kube, member, _request("deploy/odd", policy="batch"))
    assert [(r.name, r.action, r.message) for r in rows[1:]] == [
        ("absent", "skipped", "not found in member-1"),
        (
            "elsewhere",
            "skipped",
            "the host has it with PropagationPolicy other, not batch: left as it is",
        ),
        (
            "host-local",
            "skipped",
            "the host has an object of that name that is not federated: left as it is",
        ),
    ]
    assert rows[0].action == "created"


def test_an_unreadable_dependency_fails_its_object_before_any_write(
    host_kube: FakeKube, member: FakeKube
) -> None:
    def refuse(path: str, **_query: Any) -> dict[str, Any]:
        if path.endswith("/configmaps/only-1"):
            raise Forbidden("forbidden in member-1: cannot get configmaps")
        return FakeKube.get(member, path)

    member.get = refuse  # type: ignore[method-assign]
    rows = _run(host_kube, member, _request("deploy/batch-1", policy="batch"))
    assert [(r.name, r.action) for r in rows] == [
        ("batch-1", "failed"),
        ("only-1", "failed"),
        ("shared", "failed"),
    ]
    assert rows[0].message == "not created: ConfigMap only-1 could not be read"
    assert not any("batch-1" in p or "shared" in p for p in host_kube.objects)


def test_a_client_dry_run_lists_a_shared_object_once(host_kube: FakeKube, member: FakeKube) -> None:
    request = _request("deploy/batch-0", "deploy/batch-2", create_policy=True, dry_run="client")
    rows = _run(host_kube, member, request)
    kinds = [o["kind"] for r in rows for o in r.objects]
    assert kinds == [
        "Deployment",
        "PropagationPolicy",
        "ConfigMap",
        "Deployment",
        "PropagationPolicy",
    ]
    assert rows[-1].action == "already federated"
    assert host_kube.objects.keys() == {FED, f"{FED}/namespaces/{NS}/propagationpolicies/batch"}


def test_verdicts() -> None:
    label = (POLICY_LABEL, "p")
    templated = _config_map("c", labels={POLICY_LABEL: "p"})
    assert object_verdict(None, None) is None
    assert object_verdict(None, "deployment.apps/a") == (
        "already federated",
        "adopted earlier in this run",
    )
    assert object_verdict(templated, None) == (
        "already federated",
        "the host has it with PropagationPolicy p",
    )
    assert object_verdict(_config_map("c"), None)[0] == "skipped"  # type: ignore[index]
    federated = {"kind": "FederatedObject", "metadata": {"name": "c-configmaps"}}
    assert object_verdict(federated, None) == (
        "already federated",
        "FederatedObject c-configmaps exists",
    )
    assert dependency_verdict(None, None, label) is None
    assert dependency_verdict(templated, None, label) == (
        "already federated",
        "the host has it with PropagationPolicy p",
    )
    assert dependency_verdict(templated, None, (POLICY_LABEL, "q"))[0] == "skipped"  # type: ignore[index]
    assert dependency_verdict(None, "deployment.apps/a", label) == (
        "already federated",
        "adopted with deployment.apps/a in this run",
    )


def test_a_member_job_becomes_a_template_without_its_generated_selector() -> None:
    uid = "member-job-uid"
    live = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": NS, "uid": uid},
        "spec": {
            "manualSelector": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {
                "metadata": {
                    "labels": {
                        "controller-uid": uid,
                        "batch.kubernetes.io/controller-uid": uid,
                        "job-name": "pi",
                        "app": "pi",
                    }
                },
                "spec": {"containers": [{"name": "pi", "image": "perl"}]},
            },
        },
    }
    resource = RESOURCES[1]
    for mode in ("native", "federated"):
        made = _template(
            resource, copy.deepcopy(live), (POLICY_LABEL, "p"), _request(template=mode)
        )
        job = made if mode == "native" else made["spec"]["template"]
        assert "selector" not in job["spec"], mode
        assert job["spec"]["template"]["metadata"]["labels"] == {"job-name": "pi", "app": "pi"}
        annotations = made["metadata"]["annotations"]
        assert json.loads(annotations["kubeadmiral.io/clusters-to-adopt"]) == {
            "clusters": ["member-1"]
        }
