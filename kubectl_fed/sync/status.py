"""What a pass records: per-cluster codes, the Propagated condition and the scheduling
decision on each FederatedObject, and member status summed into native templates."""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.clock import now
from kubectl_fed.core.mergepatch import merge_patch
from kubectl_fed.core.status import ClusterStatus, aggregate_workload_status, propagated_condition
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import ApiError, NotFound
from kubectl_fed.kube.host import Host
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import ClusterResult, Plan, fo_path


def write_status(host: Host, plan: Plan, members: Members) -> None:
    """The FederatedObject's status, and a native template's aggregated status."""
    if plan.existing is None or "uid" not in plan.existing.get("metadata", {}):
        return
    try:
        _write_fo_status(host, plan)
        if plan.native is not None:
            _write_template_status(host, plan, members)
    except NotFound:
        pass  # deleted meanwhile: the next pass retires it
    except ApiError as err:
        plan.result.errors.append(f"cannot record status: {err}")


def _write_fo_status(host: Host, plan: Plan) -> None:
    assert plan.existing is not None
    old = plan.existing.get("status") or {}
    codes = {c: r.status for c, r in plan.result.clusters.items()}
    condition_ = propagated_condition({c: str(s) for c, s in codes.items()}, now())
    if plan.result.errors:
        condition_.update(
            status="False", reason="CheckErrors", message="; ".join(plan.result.errors)[:500]
        )
    previous = next(
        (c for c in old.get("conditions") or [] if c.get("type") == condition_["type"]), None
    )
    if previous and all(
        previous.get(k) == condition_.get(k) for k in ("status", "reason", "message")
    ):
        condition_ = previous
    status = {
        "syncedGeneration": plan.existing["metadata"].get("generation"),
        "conditions": [condition_],
        "clusters": [_cluster_entry(c, r) for c, r in sorted(plan.result.clusters.items())],
    }
    if not plan.scheduling.kept:
        status["scheduling"] = plan.scheduling.to_status()
    elif old.get("scheduling"):
        status["scheduling"] = old["scheduling"]
    patch = merge_patch(old, status)
    if patch:
        host.kube.merge_patch(fo_path(plan.existing) + "/status", {"status": patch})


def _write_template_status(host: Host, plan: Plan, members: Members) -> None:
    assert plan.native is not None
    obj = plan.native.obj
    namespace, name = plan.native.key
    statuses: dict[str, Any] = {}
    current: dict[str, bool] = {}
    for cluster in plan.placement:
        member = members.by_name.get(cluster)
        live = member.live(plan.ftype, namespace, name) if member else None
        statuses[cluster] = (live or {}).get("status")
        result = plan.result.clusters.get(cluster)
        observed = ((live or {}).get("status") or {}).get("observedGeneration", -1)
        current[cluster] = bool(
            live
            and result
            and result.status == ClusterStatus.OK
            and result.generation == live["metadata"].get("generation")
            and observed >= live["metadata"].get("generation", 0)
        )
    aggregated = aggregate_workload_status(
        plan.ftype.kind, statuses, obj["metadata"].get("generation", 0), current
    )
    if not aggregated and plan.ftype.kind not in (
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
    ):
        return
    old = obj.get("status") or {}
    counted = (
        set(aggregated) | {"observedGeneration"} | {k for k in old if isinstance(old.get(k), int)}
    )
    if all(old.get(k) == aggregated.get(k) for k in counted):
        return
    patch = {k: aggregated.get(k) for k in counted}
    path = path_for(plan.ftype.resource, namespace or None, name) + "/status"
    host.kube.merge_patch(path, {"status": patch})


def _cluster_entry(cluster: str, result: ClusterResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"cluster": cluster, "status": str(result.status)}
    if result.generation is not None:
        entry["lastObservedGeneration"] = result.generation
    # An OK cluster's message tells what this pass did ("drift corrected", "adopted in
    # place"): news for the pass report, not a state; stored, it would be rewritten (and
    # the status churn) on the next pass.
    if result.message and result.status != ClusterStatus.OK:
        entry["message"] = result.message[:300]
    return entry
