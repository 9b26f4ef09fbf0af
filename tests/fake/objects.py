"""Manifests the fake-federation tests create: templates, policies, a CRD and its
FederatedTypeConfig."""

from __future__ import annotations

from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.marks import PROPAGATION_POLICY_LABEL

Object = dict[str, Any]


def namespace(name: str) -> Object:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def policy(
    name: str,
    namespace: str,
    mode: str = "Duplicate",
    placement: dict[str, int | None] | list[str] | None = None,
    **spec: Any,
) -> Object:
    """A PropagationPolicy; `placement` maps clusters to weights (None: no preferences)."""
    body: Object = {"schedulingMode": mode, **spec}
    if placement is not None:
        weights = placement if isinstance(placement, dict) else dict.fromkeys(placement)
        body["placement"] = [
            {"cluster": c, **({"preferences": {"weight": w}} if w is not None else {})}
            for c, w in weights.items()
        ]
    return {
        "apiVersion": kubeadmiral.API_VERSION,
        "kind": "PropagationPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def labels_for(policy_name: str | None, **extra: str) -> dict[str, str]:
    found = dict(extra)
    if policy_name is not None:
        found[PROPAGATION_POLICY_LABEL] = policy_name
    return found


def deployment(
    name: str,
    namespace: str,
    replicas: int = 1,
    image: str = "nginx:1.25",
    policy_name: str | None = None,
    **labels: str,
) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels_for(policy_name, app=name, **labels),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def configmap(
    name: str,
    namespace: str,
    data: dict[str, str] | None = None,
    policy_name: str | None = None,
    **labels: str,
) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels_for(policy_name, **labels),
        },
        "data": dict(data or {}),
    }


# A custom kind named like a core one, in another group: `ConfigMap.example.io`.
CUSTOM_GROUP = "example.io"


def custom_crd(
    group: str = CUSTOM_GROUP,
    kind: str = "ConfigMap",
    plural: str = "configmaps",
    schema: Object | None = None,
) -> Object:
    """A namespaced v1 CRD; by default its schema is a ConfigMap's (data: strings)."""
    crd: Object = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "data": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
    if schema is not None:
        crd["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": schema}
    return crd


def custom_object(
    name: str,
    namespace: str,
    data: dict[str, str] | None = None,
    policy_name: str | None = None,
    **labels: str,
) -> Object:
    obj = configmap(name, namespace, data, policy_name, **labels)
    obj["apiVersion"] = f"{CUSTOM_GROUP}/v1"
    return obj


def type_config(
    group: str = CUSTOM_GROUP, kind: str = "ConfigMap", plural: str = "configmaps"
) -> Object:
    return {
        "apiVersion": kubeadmiral.API_VERSION,
        "kind": "FederatedTypeConfig",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "sourceType": {
                "group": group,
                "version": "v1",
                "kind": kind,
                "pluralName": plural,
                "scope": "Namespaced",
            }
        },
    }
