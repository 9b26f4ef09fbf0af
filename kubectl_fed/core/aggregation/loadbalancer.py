"""Services and Ingresses: the load-balancer ingress points of every member, merged.

KubeAdmiral aggregates neither; this is Karmada's rule (its default interpreter): each
member's `status.loadBalancer.ingress` entries in turn, an entry without a `hostname`
given the cluster's name as one, so that the host's copy tells where each address comes
from. A Service only when its type is LoadBalancer (another type's status is left alone).
Clusters come in name order.
"""

from __future__ import annotations

from kubectl_fed.core.aggregation.collected import Collected, Object


def service(collected: Collected) -> Object | None:
    if collected.spec.get("type") != "LoadBalancer":
        return None
    return _merged(collected)


def ingress(collected: Collected) -> Object:
    return _merged(collected)


def _merged(collected: Collected) -> Object:
    points: list[Object] = []
    for cluster, status in collected.reported():
        found = (status.get("loadBalancer") or {}).get("ingress") or []
        for point in found:
            if isinstance(point, dict):
                points.append(point if point.get("hostname") else {**point, "hostname": cluster})
    return {"loadBalancer": {"ingress": points} if points else {}}
