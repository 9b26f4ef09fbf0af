"""Public scheduling API: where a federated object goes, decided exactly as
`kubectl fed sync` decides it, from plain Kubernetes objects (as `kubectl get -o json`
gives them) to plain results. Stable names; nothing here talks to a cluster.

    from kubectl_fed.scheduler import schedule
    result = schedule(policy, federated_clusters, deployment)
    result.clusters   # {"member-1": 3, "member-2": 6}
    result.reasons    # {"member-3": ClusterReason(chosen=False, code="NotInPlacement", ...)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core.federated_types import FederatedType, type_of, types_with_configs
from kubectl_fed.core.scheduling import (
    ClusterReason,
    CurrentPlacement,
    Reason,
    SchedulingResult,
    cluster_info,
    workload_info,
)
from kubectl_fed.core.selection import select_clusters, select_clusters_v1

__all__ = ["ClusterReason", "Reason", "Schedule", "schedule", "schedule_v1"]

Object = Mapping[str, Any]


@dataclass(frozen=True)
class Schedule:
    """Where the object goes: each chosen cluster with its replicas (None: the object's
    own count, Duplicate mode or a kind without replicas), a reason for every cluster
    (chosen or not), and what stopped or worried the decision. With errors, `clusters`
    is the `current` placement, kept (a decision that places nothing is never made)."""

    clusters: dict[str, int | None]
    reasons: dict[str, ClusterReason]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def schedule(
    policy: Object,
    clusters: Sequence[Object],
    obj: Object,
    current: Mapping[str, int | None] | None = None,
    type_configs: Sequence[Object] = (),
) -> Schedule:
    """Place `obj` (a Deployment, ConfigMap, ...) on `clusters` (FederatedCluster objects,
    Ready from their recorded condition) following `policy` (a PropagationPolicy or
    ClusterPropagationPolicy object). `current`: the replicas it has in each cluster now
    (None: the object's own count), so that avoidDisruption and sticky placement apply.
    `type_configs`: FederatedTypeConfig objects, for kinds beyond the built-in ones.
    Raises ValueError for a kind that is not federated."""
    result = select_clusters(
        policy.get("spec") or {},
        [cluster_info(c) for c in clusters],
        workload_info(obj, _federated_type(obj, type_configs)),
        CurrentPlacement(dict(current or {})),
    )
    return _schedule_of(result)


def schedule_v1(
    clusters: Sequence[Object],
    obj: Object,
    current: Mapping[str, int | None] | None = None,
    type_configs: Sequence[Object] = (),
) -> Schedule:
    """Place `obj` as Federation v1 did (`init --v1-compat`): every Ready cluster serving
    its kind, replicas divided by its `federation.kubernetes.io/*-preferences` annotation
    (equally without one)."""
    result = select_clusters_v1(
        [cluster_info(c) for c in clusters],
        workload_info(obj, _federated_type(obj, type_configs)),
        CurrentPlacement(dict(current or {})),
    )
    return _schedule_of(result)


def _federated_type(obj: Object, type_configs: Sequence[Object]) -> FederatedType:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    found = type_of(types_with_configs([dict(c) for c in type_configs]), api_version, kind)
    if found is None:
        raise ValueError(
            f"{api_version}/{kind} is not federated: pass its FederatedTypeConfig in type_configs"
        )
    return found


def _schedule_of(result: SchedulingResult) -> Schedule:
    return Schedule(
        clusters=dict(result.clusters),
        reasons=dict(result.reasons),
        errors=list(result.errors),
        warnings=list(result.warnings),
    )
