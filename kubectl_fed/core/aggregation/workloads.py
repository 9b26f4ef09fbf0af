"""Deployments, ReplicaSets, StatefulSets and DaemonSets: counts summed, observedGeneration
advanced only when every member is current, and Deployment/ReplicaSet conditions merged.

Counts and observedGeneration are KubeAdmiral's Deployment rule (its status aggregator
keeps the template's old observedGeneration until every cluster is up to date), applied to
the other replica kinds too: KubeAdmiral has no ReplicaSet or DaemonSet plugin and copies
a StatefulSet's status only when it runs in one cluster, which cannot describe a
StatefulSet divided over several. KubeAdmiral writes no conditions; kubectl-fed merges
the members' so that `kubectl rollout status` and `kubectl wait --for=condition=Available`
against the host see a member's failure.
"""

from __future__ import annotations

from kubectl_fed.core.aggregation.collected import (
    Collected,
    Object,
    conditions_of,
    observed_generation,
    settled,
    summed,
)

# The counts each kind reports, summed over the members.
COUNTED_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": (
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ),
    "ReplicaSet": ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"),
    "StatefulSet": (
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
    ),
    "DaemonSet": (
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberReady",
        "numberAvailable",
        "numberUnavailable",
        "numberMisscheduled",
    ),
    "Job": ("active", "succeeded", "failed"),
}

# Condition types merged per kind: "good" ones are True when all is well (False in any
# cluster makes them False), "bad" ones are True when something failed (True in any
# cluster makes them True).
GOOD_CONDITIONS = {"Deployment": ("Available", "Progressing")}
BAD_CONDITIONS = {"Deployment": ("ReplicaFailure",), "ReplicaSet": ("ReplicaFailure",)}
NOT_REPORTED = "NotReported"


def deployment(collected: Collected) -> Object:
    return _replicas_status("Deployment", collected)


def replicaset(collected: Collected) -> Object:
    return _replicas_status("ReplicaSet", collected)


def statefulset(collected: Collected) -> Object:
    return _replicas_status("StatefulSet", collected)


def daemonset(collected: Collected) -> Object:
    return _replicas_status("DaemonSet", collected)


def _replicas_status(kind: str, collected: Collected) -> Object:
    status = summed(collected, COUNTED_FIELDS[kind])
    generation = observed_generation(collected)
    if generation is not None:
        status["observedGeneration"] = generation
    conditions = merged_conditions(kind, collected)
    if conditions:
        status["conditions"] = conditions
    return status


def merged_conditions(kind: str, collected: Collected) -> list[Object]:
    """One condition per type some placed cluster reports, its times kept while it says
    the same thing; none when no cluster reports any."""
    per_cluster = {c: conditions_of(collected.statuses.get(c)) for c in collected.placed}
    previous = conditions_of(collected.previous)
    updated = kind == "Deployment"  # only DeploymentCondition has lastUpdateTime
    merged = []
    for type_ in GOOD_CONDITIONS.get(kind, ()):
        if any(type_ in found for found in per_cluster.values()):
            new = _good(type_, per_cluster)
            merged.append(settled(new, previous.get(type_), collected.now, updated))
    for type_ in BAD_CONDITIONS.get(kind, ()):
        failing = {c: f[type_] for c, f in per_cluster.items() if _is(f.get(type_), "True")}
        if failing:
            new = _condition(type_, "True", failing)
            merged.append(settled(new, previous.get(type_), collected.now, updated))
    return merged


def _good(type_: str, per_cluster: dict[str, dict[str, Object]]) -> Object:
    """False where any cluster says False; else Unknown while a cluster has not said (no
    status yet, or Unknown); else True."""
    false = {c: f[type_] for c, f in per_cluster.items() if _is(f.get(type_), "False")}
    if false:
        return _condition(type_, "False", false)
    silent = sorted(c for c, f in per_cluster.items() if not _is(f.get(type_), "True"))
    if silent:
        return {
            "type": type_,
            "status": "Unknown",
            "reason": NOT_REPORTED,
            "message": "not reported by clusters [" + ",".join(silent) + "]",
        }
    return _condition(type_, "True", {c: f[type_] for c, f in per_cluster.items()})


def _condition(type_: str, status: str, deciding: dict[str, Object]) -> Object:
    """The reason of the first deciding cluster (by name); their messages, each named by
    its cluster unless all say the same."""
    clusters = sorted(deciding)
    messages = [str(deciding[c].get("message") or "") for c in clusters]
    if len(set(messages)) == 1:
        message = f"{messages[0]} (clusters [{','.join(clusters)}])".lstrip()
    else:
        message = "; ".join(f"{c}: {m}" for c, m in zip(clusters, messages, strict=True))
    return {
        "type": type_,
        "status": status,
        "reason": str(deciding[clusters[0]].get("reason") or ""),
        "message": message,
    }


def _is(condition: Object | None, status: str) -> bool:
    return condition is not None and condition.get("status") == status
