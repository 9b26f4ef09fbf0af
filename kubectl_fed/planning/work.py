"""Per member, what a planned object needs: the member copy compared with the live one
(apply, or nothing), copies to delete or orphan where the object no longer goes, and why
a cluster cannot be acted on now (unreachable, unreadable, overrides failed)."""

from __future__ import annotations

from kubectl_fed.core.objects import Object, key_of
from kubectl_fed.core.overrides import OverrideError
from kubectl_fed.core.propagation import Decision, decide, is_managed
from kubectl_fed.core.status import ClusterStatus
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import (
    ClusterResult,
    MemberAction,
    MemberActionKind,
    Plan,
    member_copy,
    orphans,
    previously_placed,
)


def member_work(plan: Plan, members: Members, correct_drift: bool) -> list[MemberAction]:
    """What to do in each member for a planned object: apply, delete or unmark."""
    result = plan.result
    work: list[MemberAction] = []
    if plan.existing is None or (result.errors and not plan.placement):
        return work
    if not plan.placement and not result.errors:
        result.errors.append("placed in no cluster")
    namespace, name = key_of(plan.template)
    for cluster in sorted(plan.placement):
        member = members.by_name.get(cluster)
        if member is None:
            result.clusters[cluster] = ClusterResult(
                ClusterStatus.CLUSTER_NOT_READY, "not a member"
            )
            continue
        if not member.reachable:
            result.clusters[cluster] = ClusterResult(ClusterStatus.CLUSTER_NOT_READY, member.error)
            continue
        if cluster in plan.patch_errors:
            result.clusters[cluster] = ClusterResult(
                ClusterStatus.APPLY_OVERRIDES_FAILED, plan.patch_errors[cluster]
            )
            continue
        unreadable = member.read_errors.get(plan.ftype.describe())
        if unreadable:
            result.clusters[cluster] = ClusterResult(ClusterStatus.RETRIEVAL_FAILED, unreadable)
            continue
        live = member.live(plan.ftype, namespace, name)
        item = _decide(plan, cluster, live, correct_drift)
        if item is not None:
            work.append(item)
    previously = previously_placed(plan.existing)
    for cluster, member in members.by_name.items():
        if cluster in plan.placement:
            continue
        unknown = member.error or member.read_errors.get(plan.ftype.describe())
        if unknown:
            if cluster in previously:  # a copy may still be there: removal is pending
                code = (
                    ClusterStatus.CLUSTER_NOT_READY
                    if member.error
                    else (ClusterStatus.RETRIEVAL_FAILED)
                )
                result.clusters[cluster] = ClusterResult(
                    code, f"removal pending, a copy may remain: {unknown}"
                )
            continue
        live = member.live(plan.ftype, namespace, name)
        if live is not None and is_managed(live):
            action: MemberActionKind = "unmark" if orphans(plan, live) else "delete"
            result.clusters[cluster] = ClusterResult(ClusterStatus.WAITING_FOR_REMOVAL)
            work.append(MemberAction(plan, cluster, action, live=live))
    return work


def _decide(
    plan: Plan, cluster: str, live: Object | None, correct_drift: bool
) -> MemberAction | None:
    try:
        copy_ = member_copy(plan, cluster, live)
    except OverrideError as err:
        plan.result.clusters[cluster] = ClusterResult(
            ClusterStatus.APPLY_OVERRIDES_FAILED, str(err)
        )
        return None
    decision: Decision = decide(
        copy_.desired,
        live,
        adopt=copy_.adopting,
        correct_drift=correct_drift,
    )
    generation = (live or {}).get("metadata", {}).get("generation")
    plan.result.clusters[cluster] = ClusterResult(
        decision.status, decision.message, generation, decision.drifted
    )
    if decision.action == "none":
        return None
    return MemberAction(plan, cluster, "apply", body=copy_.body, live=live)


def leaving_work(plan: Plan, members: Members) -> list[MemberAction]:
    """Remove (or orphan) every managed copy; an unreachable member keeps it pending. A
    namespace handed over to a new one of its name keeps its copies as they are."""
    namespace, name = key_of(plan.template)
    work: list[MemberAction] = []
    if plan.hand_over:
        return work
    for cluster, member in members.by_name.items():
        if not member.reachable:
            plan.result.clusters[cluster] = ClusterResult(
                ClusterStatus.CLUSTER_NOT_READY, member.error
            )
            continue
        unreadable = member.read_errors.get(plan.ftype.describe())
        if unreadable:  # unknown whether a copy is there: keep the object pending
            plan.result.clusters[cluster] = ClusterResult(
                ClusterStatus.RETRIEVAL_FAILED, unreadable
            )
            continue
        live = member.live(plan.ftype, namespace, name)
        if live is not None and is_managed(live):
            action: MemberActionKind = "unmark" if orphans(plan, live) else "delete"
            plan.result.clusters[cluster] = ClusterResult(ClusterStatus.WAITING_FOR_REMOVAL)
            work.append(MemberAction(plan, cluster, action, live=live))
    return work
