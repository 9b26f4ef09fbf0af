"""Pods, as KubeAdmiral's status aggregator does: one phase and a message naming the
clusters in each phase, the earliest `startTime`, and every container status renamed
`<container> (<cluster>)`.

The phase is the first found in the order Failed, Pending, Running, Succeeded; the message
lists every phase found in that order: "Pod pending in clusters [c1,c2], and running in
clusters [c3]". A copy whose status has no phase yet counts as pending; the deprecated
phase Unknown is left out of both.
"""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.aggregation.collected import Collected, Object, cluster_list
from kubectl_fed.core.aggregation.job import earliest

PHASES = ("Failed", "Pending", "Running", "Succeeded")


def pod(collected: Collected) -> Object:
    by_phase: dict[str, list[str]] = {phase: [] for phase in PHASES}
    starts: list[Any] = []
    containers: dict[str, list[Object]] = {"initContainerStatuses": [], "containerStatuses": []}
    for cluster, status in collected.reported():
        phase = str(status.get("phase") or "")
        if not phase:
            by_phase["Pending"].append(cluster)
            continue
        if phase in by_phase:
            by_phase[phase].append(cluster)
        starts.append(status.get("startTime"))
        for key, found in containers.items():
            found.extend(_renamed(status.get(key), cluster))
    aggregated: Object = {}
    parts = [(phase, clusters) for phase, clusters in by_phase.items() if clusters]
    if parts:
        aggregated["phase"] = parts[0][0]
        aggregated["message"] = "Pod " + ", and ".join(
            f"{phase.lower()} in clusters {cluster_list(clusters)}" for phase, clusters in parts
        )
    start = earliest(starts)
    if start:
        aggregated["startTime"] = start
    for key, found in containers.items():
        if found:
            aggregated[key] = sorted(found, key=lambda s: str(s.get("name")))
    return aggregated


def _renamed(statuses: Any, cluster: str) -> list[Object]:
    if not isinstance(statuses, list):
        return []
    return [{**s, "name": f"{s.get('name')} ({cluster})"} for s in statuses if isinstance(s, dict)]
