"""Public status API: a template's status aggregated from its member copies' statuses,
exactly as `kubectl fed sync` writes it into the host's workload template.

    from kubectl_fed.status import aggregate_status
    aggregate_status("Deployment", {"member-1": copy1["status"], "member-2": copy2["status"]})
    # {"replicas": 9, "readyReplicas": 9, ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_fed.core.status import COUNTED_FIELDS, aggregate_workload_status

__all__ = ["COUNTED_FIELDS", "aggregate_status"]


def aggregate_status(
    kind: str,
    member_statuses: Mapping[str, Mapping[str, Any] | None],
    generation: int | None = None,
    current: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Each count of `kind` (COUNTED_FIELDS: Deployment, ReplicaSet, StatefulSet, DaemonSet,
    Job) summed over the clusters that report it; a cluster with no status yet (None) adds
    nothing. With `generation` (the template's), `observedGeneration` is set to it only
    when every cluster is `current` (runs the latest template and has observed it), so
    rollout waiters keep waiting otherwise. Other kinds give {}."""
    if generation is None:
        return {
            k: v
            for k, v in aggregate_workload_status(kind, member_statuses, 0, {}).items()
            if k != "observedGeneration"
        }
    return aggregate_workload_status(kind, member_statuses, generation, current or {})
