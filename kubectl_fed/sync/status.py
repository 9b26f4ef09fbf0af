"""What a pass records: per-cluster codes, the Propagated condition and the scheduling
decision on each FederatedObject, and member status summed into native templates."""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.aggregation import Collected, aggregate
from kubectl_fed.core.clock import now
from kubectl_fed.core.mergepatch import merge_patch
from kubectl_fed.core.objects import Object, key_of
from kubectl_fed.core.status import ClusterStatus, propagated_condition
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
    elif old.get("scheduling") and not _no_own_decision(plan):
        status["scheduling"] = old["scheduling"]
    patch = merge_patch(old, status)
    if patch:
        host.kube.merge_patch(fo_path(plan.existing) + "/status", {"status": patch})


def _write_template_status(host: Host, plan: Plan, members: Members) -> None:
    """The native template's status aggregated from its member copies (core/aggregation),
    unless its FederatedTypeConfig turns statusAggregation off; written only on a change."""
    assert plan.native is not None
    if not plan.ftype.status_aggregation:
        return
    obj = plan.native.obj
    new = aggregate(plan.ftype.group, plan.ftype.kind, collected_statuses(plan, members, obj))
    if new is None:
        return
    patch = merge_patch(obj.get("status") or {}, new)
    if not patch:
        return
    namespace, name = plan.native.key
    path = path_for(plan.ftype.resource, namespace or None, name) + "/status"
    host.kube.merge_patch(path, {"status": patch})


def collected_statuses(plan: Plan, members: Members, template: Object) -> Collected:
    """What the aggregation reads: each placed cluster's copy as this pass read it (one
    that does not answer, or has no copy yet, adds nothing), and whether it is current:
    this pass left it OK, it is the copy the pass wrote, and its controller has observed
    that generation (KubeAdmiral's rule: the recorded generation is the observed one)."""
    namespace, name = key_of(template)
    statuses: dict[str, Object | None] = {}
    current: dict[str, bool] = {}
    for cluster in sorted(plan.placement):
        member = members.by_name.get(cluster)
        live = member.live(plan.ftype, namespace, name) if member and member.reachable else None
        result = plan.result.clusters.get(cluster)
        current[cluster] = bool(live and result and _current(live, result))
        if live is not None:
            statuses[cluster] = live.get("status") or None
    return Collected(
        placed=tuple(sorted(plan.placement)),
        statuses=statuses,
        current=current,
        generation=template.get("metadata", {}).get("generation"),
        previous=template.get("status") or {},
        spec=template.get("spec") or {},
        now=now(),
    )


def _current(live: Object, result: ClusterResult) -> bool:
    generation = live.get("metadata", {}).get("generation")
    observed = (live.get("status") or {}).get("observedGeneration")
    return (
        result.status == ClusterStatus.OK
        and result.generation == generation
        and isinstance(observed, int)
        and isinstance(generation, int)
        and observed >= generation
    )


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


def _no_own_decision(plan: Plan) -> bool:
    """A follower without a policy of its own, or a namespace going everywhere: no
    scheduling decision is its own, so none recorded before may stay (a pass would trust
    it, e.g. as the placement to keep when a policy label then names a missing policy)."""
    return plan.native is not None and (plan.native.follower or plan.native.auto_namespace)
