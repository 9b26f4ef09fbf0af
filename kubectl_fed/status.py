"""Public status API: a template's status aggregated from its member copies' statuses,
exactly as `kubectl fed sync` writes it into the host's template.

    from kubectl_fed.status import aggregate_status
    aggregate_status("Deployment", {"member-1": copy1["status"], "member-2": copy2["status"]})
    # {"replicas": 9, "readyReplicas": 9, ...}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_fed.core.aggregation import AGGREGATORS, COUNTED_FIELDS, Collected, aggregate

__all__ = ["COUNTED_FIELDS", "aggregate_status"]


def aggregate_status(
    kind: str,
    member_statuses: Mapping[str, Mapping[str, Any] | None],
    generation: int | None = None,
    current: Mapping[str, bool] | None = None,
    *,
    template: Mapping[str, Any] | None = None,
    now: str = "",
) -> dict[str, Any]:
    """The status of a template of `kind` placed on the clusters of `member_statuses`
    (cluster -> its copy's status; None: no status yet). Deployments, ReplicaSets,
    StatefulSets, DaemonSets: counts summed (COUNTED_FIELDS) and conditions merged; Jobs:
    counts, startTime, and a Complete/Failed condition once every cluster finished; Pods:
    phase and message; LoadBalancer Services and Ingresses: load-balancer ingress merged.

    With `generation` (the template's), `observedGeneration` is set to it only when
    every cluster is `current` (runs the latest template and has observed it), else
    kept from `template`'s status, so rollout waiters keep waiting. `template` (the host
    object) gives the previous status, whose condition times are kept while they hold,
    and a Service's type; `now` stamps conditions that change. Other kinds give {}.
    """
    group = next((g for g, k in AGGREGATORS if k == kind), None)
    if group is None:
        return {}
    collected = Collected(
        placed=tuple(sorted(member_statuses)),
        statuses={c: dict(s) if s else None for c, s in member_statuses.items()},
        current=current or {},
        generation=generation,
        previous=(template or {}).get("status") or {},
        spec=(template or {}).get("spec") or {},
        now=now,
    )
    return aggregate(group, kind, collected) or {}
