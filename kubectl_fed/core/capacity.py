"""A member's capacity as KubeAdmiral's cluster controller records it in
FederatedCluster `status.resources`: `schedulableNodes`, `allocatable` and `available`.

Its rules (pkg/controllers/federatedcluster): a node counts when it is schedulable (not
cordoned, no NoSchedule or NoExecute taint, its Ready condition not other than True);
`allocatable` sums those nodes' `status.allocatable`, without `pods` ("not considered
for now"); `available` is allocatable minus the requests of every pod that has not
terminated (wherever it runs or waits), a pod's request being the sum of its containers'
(a limit stands for a missing request), at least each init container's, plus its
overhead. Only resources the nodes offer are subtracted. A member without nodes has
nothing allocatable: `{}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubectl_fed.core.objects import Object, field_at
from kubectl_fed.core.quantity import Quantity, QuantityError, parse_quantity

ResourceList = dict[str, Quantity]
TERMINATED = ("Succeeded", "Failed")
# What `kubectl fed clusters -o wide` shows of it.
SHOWN = ("cpu", "memory")


def schedulable(node: Object) -> bool:
    if field_at(node, "spec", "unschedulable") is True:
        return False
    for taint in field_at(node, "spec", "taints") or []:
        if isinstance(taint, dict) and taint.get("effect") in ("NoSchedule", "NoExecute"):
            return False
    conditions = field_at(node, "status", "conditions") or []
    return not any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") != "True"
        for c in conditions
    )


def cluster_resources(nodes: Iterable[Object], pods: Iterable[Object]) -> Object:
    """`status.resources` of a FederatedCluster, quantities printed canonically."""
    counted = [n for n in nodes if schedulable(n)]
    allocatable: ResourceList = {}
    for node in counted:
        _add(allocatable, quantities(field_at(node, "status", "allocatable")))
    allocatable.pop("pods", None)
    available = dict(allocatable)
    for pod in pods:
        if field_at(pod, "status", "phase") in TERMINATED:
            continue
        for name, request in pod_requests(pod.get("spec") or {}).items():
            if name in available:
                available[name] = available[name] - request
    return {
        "schedulableNodes": len(counted),
        "allocatable": _printed(allocatable),
        "available": _printed(available),
    }


def pod_requests(spec: Object) -> ResourceList:
    """What a pod asks of a node: its containers' requests summed (a limit without a
    request counts as one), raised to any init container's request, plus overhead."""
    total: ResourceList = {}
    for container in _dicts(spec.get("containers")):
        requests = quantities(field_at(container, "resources", "requests"))
        limits = quantities(field_at(container, "resources", "limits"))
        _add(total, {k: v for k, v in limits.items() if k not in requests})
        _add(total, requests)
    for container in _dicts(spec.get("initContainers")):
        for name, request in quantities(field_at(container, "resources", "requests")).items():
            if name not in total or request.value > total[name].value:
                total[name] = request
    _add(total, quantities(spec.get("overhead")))
    return total


def quantities(found: Any) -> ResourceList:
    """A ResourceList's values parsed; one that is not a quantity is left out."""
    parsed: ResourceList = {}
    if isinstance(found, Mapping):
        for name, text in found.items():
            try:
                parsed[str(name)] = parse_quantity(str(text))
            except QuantityError:
                continue
    return parsed


def _add(into: ResourceList, more: Mapping[str, Quantity]) -> None:
    for name, quantity in more.items():
        into[name] = into[name] + quantity if name in into else quantity


def _printed(resources: ResourceList) -> dict[str, str]:
    return {name: str(resources[name]) for name in sorted(resources)}


def _dicts(found: Any) -> list[Object]:
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def shown(resources: Object | None, name: str) -> str | None:
    """`available/allocatable` of one resource for a table, None when nothing is
    recorded or the nodes offer none of it."""
    if not isinstance(resources, dict):
        return None
    allocatable = (resources.get("allocatable") or {}).get(name)
    if allocatable is None:
        return None
    available = (resources.get("available") or {}).get(name, allocatable)
    return f"{available}/{allocatable}"
