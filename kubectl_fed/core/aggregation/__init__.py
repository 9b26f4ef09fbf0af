"""A template's status from its member copies' statuses, per kind: what `kubectl fed sync`
writes into the host's native template (one module per family of kinds).

`aggregate` returns the template's whole new status, or None for a kind with no rule
(its status is left as it is). The rules are pure: the caller decides which clusters
count (`Collected`).
"""

from __future__ import annotations

from kubectl_fed.core.aggregation.collected import Aggregator, Collected, Object
from kubectl_fed.core.aggregation.job import job
from kubectl_fed.core.aggregation.loadbalancer import ingress, service
from kubectl_fed.core.aggregation.pod import pod
from kubectl_fed.core.aggregation.workloads import (
    COUNTED_FIELDS,
    daemonset,
    deployment,
    replicaset,
    statefulset,
)

__all__ = ["AGGREGATORS", "COUNTED_FIELDS", "Collected", "aggregate", "aggregator_for"]

# (API group, kind) -> its rule.
AGGREGATORS: dict[tuple[str, str], Aggregator] = {
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replicaset,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("batch", "Job"): job,
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("networking.k8s.io", "Ingress"): ingress,
}


def aggregator_for(group: str, kind: str) -> Aggregator | None:
    return AGGREGATORS.get((group, kind))


def aggregate(group: str, kind: str, collected: Collected) -> Object | None:
    """The template's new status, or None when the kind has no rule or the rule leaves
    this object's status alone (a Service that is not a LoadBalancer)."""
    rule = aggregator_for(group, kind)
    return rule(collected) if rule else None
