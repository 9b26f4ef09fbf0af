from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.core.followers import pod_spec, referenced_objects

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
