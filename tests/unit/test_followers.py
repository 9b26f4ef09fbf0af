from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_fed.core.followers import (
    followers_of,
    following_disabled,
    pod_spec,
    referenced_objects,
)
from kubectl_fed.core.marks import DISABLE_FOLLOWING_ANNOTATION, FOLLOWERS_ANNOTATION

POD_SPEC = {
    "serviceAccountName": "app",
    "imagePullSecrets": [{"name": "pull"}],
    "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "init-env"}}]}],
    "containers": [
        {
            "name": "web",
            "envFrom": [
                {"secretRef": {"name": "web-secrets"}},
                {"configMapRef": {"name": "shared"}},
            ],
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}}},
                {"name": "C", "valueFrom": {"secretKeyRef": {"name": "password", "key": "c"}}},
                {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
        }
    ],
    "volumes": [
        {"name": "v1", "configMap": {"name": "shared"}},
        {"name": "v2", "secret": {"secretName": "tls"}},
        {"name": "v3", "persistentVolumeClaim": {"claimName": "data"}},
        {
            "name": "v4",
            "projected": {
                "sources": [
                    {"configMap": {"name": "projected-config"}},
                    {"secret": {"name": "projected-secret"}},
                    {"serviceAccountToken": {"path": "token"}},
                ]
            },
        },
        {"name": "v5", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-creds"}}},
        {"name": "v6", "emptyDir": {}},
    ],
}

EXPECTED = [
    ("ConfigMap", "init-env"),
    ("ConfigMap", "projected-config"),
    ("ConfigMap", "settings"),
    ("ConfigMap", "shared"),
    ("PersistentVolumeClaim", "data"),
    ("Secret", "csi-creds"),
    ("Secret", "password"),
    ("Secret", "projected-secret"),
    ("Secret", "pull"),
    ("Secret", "tls"),
    ("Secret", "web-secrets"),
    ("ServiceAccount", "app"),
]


def workload(api_version: Any, kind: Any, *path: Any) -> Any:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}}
    node = obj
    for key in path:
        node = node.setdefault(key, {})
    node.update(POD_SPEC)
    return obj


@pytest.mark.parametrize(
    "obj",
    [
        workload("apps/v1", "Deployment", "spec", "template", "spec"),
        workload("apps/v1", "StatefulSet", "spec", "template", "spec"),
        workload("apps/v1", "DaemonSet", "spec", "template", "spec"),
        workload("apps/v1", "ReplicaSet", "spec", "template", "spec"),
        workload("batch/v1", "Job", "spec", "template", "spec"),
        workload("batch/v1", "CronJob", "spec", "jobTemplate", "spec", "template", "spec"),
        workload("v1", "Pod", "spec"),
    ],
)
def test_every_reference_of_every_workload_kind(obj: Any) -> None:
    assert pod_spec(obj) == POD_SPEC
    assert referenced_objects(obj) == EXPECTED


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"serviceAccountName": "default"}, []),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]},
                    }
                ]
            },
            [],
        ),
        ({"serviceAccount": "legacy"}, [("ServiceAccount", "legacy")]),
        ({"serviceAccountName": ""}, []),
        (
            {"volumes": [{"name": "v", "rbd": {"secretRef": {"name": "ceph"}}}]},
            [("Secret", "ceph")],
        ),
        ({"volumes": [{"name": "v", "azureFile": {"secretName": "az"}}]}, [("Secret", "az")]),
        ({"containers": [{"name": "c", "envFrom": [{"configMapRef": {}}]}]}, []),
        ({"containers": "malformed", "volumes": [None, {"projected": []}]}, []),
    ],
)
def test_single_references(spec: Any, expected: Any) -> None:
    assert referenced_objects({"apiVersion": "v1", "kind": "Pod", "spec": spec}) == expected


def test_objects_without_a_pod_spec_reference_nothing() -> None:
    assert referenced_objects({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}) == []
    assert referenced_objects({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}) == []
    assert (
        referenced_objects({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": POD_SPEC})
        == []
    )


# --- followers of a workload: pod spec and the kubeadmiral.io/followers annotation ---------


def workload_with(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": spec}},
    }


def test_followers_of_a_workload_union_the_pod_spec_and_the_annotation() -> None:
    named = json.dumps(
        [
            {"kind": "Service", "name": "front"},
            {"group": "networking.k8s.io", "kind": "Ingress", "name": "edge"},
            {"group": "", "kind": "ConfigMap", "name": "settings"},  # also in the pod spec
        ]
    )
    refs, problem = followers_of(workload_with(POD_SPEC), {FOLLOWERS_ANNOTATION: named})
    assert problem == ""
    assert refs == sorted(
        [("", kind, name) for kind, name in EXPECTED]
        + [("", "Service", "front"), ("networking.k8s.io", "Ingress", "edge")]
    )


def test_only_workloads_have_followers() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    named = json.dumps([{"kind": "Secret", "name": "s"}])
    assert followers_of(configmap, {FOLLOWERS_ANNOTATION: named}) == ([], "")


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("[{", "not valid JSON"),
        ('{"kind": "Secret", "name": "s"}', "expected a JSON list"),
        ('["s"]', "[0]: expected {group, kind, name} strings"),
        ('[{"kind": "Secret", "name": 1}]', "[0]: expected {group, kind, name} strings"),
        ('[{"kind": "Secret"}]', "[0]: a follower needs a name"),
        (
            '[{"kind": "Secret", "name": "s"}, {"kind": "Deployment", "name": "d"}]',
            "[1]: kind 'Deployment' cannot follow",
        ),
        ('[{"group": "apps", "kind": "Secret", "name": "s"}]', "kind 'Secret.apps' cannot follow"),
        ('[{"kind": "Ingress", "name": "i"}]', "kind 'Ingress' cannot follow"),  # needs its group
    ],
)
def test_an_unreadable_annotation_is_reported_and_names_nothing(
    annotation: str, message: str
) -> None:
    spec = {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "env"}}]}]}
    refs, problem = followers_of(workload_with(spec), {FOLLOWERS_ANNOTATION: annotation})
    assert refs == [("", "ConfigMap", "env")]  # the pod spec still counts
    assert problem.startswith(f"annotation {FOLLOWERS_ANNOTATION}") and message in problem


def test_an_empty_annotation_names_nothing() -> None:
    assert followers_of(workload_with({}), {FOLLOWERS_ANNOTATION: ""}) == ([], "")
    assert followers_of(workload_with({}), {FOLLOWERS_ANNOTATION: "[]"}) == ([], "")


def test_only_true_disables_following() -> None:
    assert following_disabled({DISABLE_FOLLOWING_ANNOTATION: "true"})
    for value in ("True", "yes", "", "false"):
        assert not following_disabled({DISABLE_FOLLOWING_ANNOTATION: value})
    assert not following_disabled({})
