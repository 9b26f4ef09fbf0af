"""core/namespaces.py: which host namespaces auto-propagate (KubeAdmiral's nsautoprop
rules), and what in a member namespace keeps the federation from deleting it."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_fed.core.marks import MANAGED_LABEL
from kubectl_fed.core.namespaces import auto_propagated, counted, foreign_objects


def ns(name: str, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations}}


@pytest.mark.parametrize(
    ("namespace", "propagated"),
    [
        (ns("shop"), True),
        (ns("default"), True),  # exists everywhere: adopted, never created
        (ns("kube-system"), False),
        (ns("kube-anything"), False),  # KubeAdmiral leaves every kube- prefix out
        (ns("kubeflow"), True),
        (ns("kube-admiral-system"), False),
        (ns("fed-system"), False),  # the federation's own, whatever its name
        (ns("shop", **{"kubeadmiral.io/no-auto-propagation": "true"}), False),
        (ns("shop", **{"kubeadmiral.io/no-auto-propagation": "false"}), True),
        (ns("shop", **{"kubeadmiral.io/no-auto-propagation": "True"}), True),  # only "true"
        ({"metadata": {}}, False),
    ],
)
def test_auto_propagated(namespace: dict[str, Any], propagated: bool) -> None:
    assert auto_propagated(namespace, "fed-system") is propagated


def test_the_default_fed_namespace_is_left_out() -> None:
    assert not auto_propagated(ns("kube-admiral-system"), "kube-admiral-system")
    assert auto_propagated(ns("shop"), "kube-admiral-system")


def obj(name: str, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **metadata}}


def test_what_holds_a_namespace_back() -> None:
    ours = obj("web", labels={MANAGED_LABEL: "true"})
    contents = {
        "deployments.apps": [ours, obj("legacy")],
        "replicasets.apps": [obj("web-1", ownerReferences=[{"uid": "1"}])],
        "pods": [obj("web-1-a", ownerReferences=[{"uid": "2"}]), obj("debug")],
        "serviceaccounts": [obj("default"), obj("runner")],
        "configmaps": [obj("kube-root-ca.crt")],
        "secrets": [
            {**obj("runner-token"), "type": "kubernetes.io/service-account-token"},
            {**obj("tls"), "type": "kubernetes.io/tls"},
        ],
        "services": [obj("front", labels={MANAGED_LABEL: "true"})],
        "endpoints": [obj("front"), obj("manual")],
        "events": [obj("web.1")],
        "events.events.k8s.io": [obj("web.2")],
        "leases.coordination.k8s.io": [obj("leader")],
        "pods.metrics.k8s.io": [obj("web-1-a")],
        "persistentvolumeclaims": [obj("data-db-0")],
    }
    assert foreign_objects(contents) == [
        "deployments/legacy",
        "endpoints/manual",
        "persistentvolumeclaims/data-db-0",
        "pods/debug",
        "secrets/tls",
        "serviceaccounts/runner",
    ]


def test_an_empty_or_federation_only_namespace_holds_nothing_back() -> None:
    assert foreign_objects({}) == []
    assert foreign_objects({"configmaps": [obj("x", labels={MANAGED_LABEL: "true"})]}) == []
    assert foreign_objects({"configmaps": [obj("x", labels={MANAGED_LABEL: "false"})]}) == [
        "configmaps/x"
    ]


@pytest.mark.parametrize(
    ("group", "plural", "expected"),
    [
        ("", "configmaps", True),
        ("", "events", False),
        ("events.k8s.io", "events", False),
        ("coordination.k8s.io", "leases", False),
        ("metrics.k8s.io", "pods", False),
        ("apps", "deployments", True),
        ("example.io", "events", True),
    ],
)
def test_counted(group: str, plural: str, expected: bool) -> None:
    assert counted(group, plural) is expected
