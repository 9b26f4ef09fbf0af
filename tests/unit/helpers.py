"""Sample objects the tests of the read-only commands (status, explain, doctor) share."""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.federated_types import default_types

DEPLOYMENTS = next(t for t in default_types() if t.kind == "Deployment")
CONFIGMAPS = next(t for t in default_types() if t.kind == "ConfigMap")


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
