"""Cluster selection: which member clusters get a federated object, and with how many replicas.

``select_clusters`` applies a PropagationPolicy (or ClusterPropagationPolicy) spec the way
KubeAdmiral's scheduler does (docs/api.md); ``select_clusters_v1`` serves objects without a
policy the way Federation v1 did. Both are pure, take and return plain data, and never
raise: bad input becomes ``errors`` (placement left as it was) or ``warnings`` in the
result, which the sync loop surfaces as object status and ``kubectl fed explain`` prints.

Every known cluster gets a ``ClusterReason`` saying why it was chosen or left out.

This module is the decision: which clusters fit, ``maxClusters``, the rescheduling
triggers and when the placement is kept. The policy is parsed by core/policy.py, the
inputs and results are defined in core/scheduling.py, and replicas are divided by
core/division.py. It stays a little over the ~500 lines a module aims at: what is left
is one flow (filter, limit, reschedule or keep, place) whose keep rules and results are
shared by every step, and cutting it again would scatter them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from kubectl_fed.core.division import (
    divide,
    divide_v1,
    replicas_from,
    running_replicas,
    selected_reason,
)
from kubectl_fed.core.objects import short_hash
from kubectl_fed.core.policy import (
    V1_EQUAL_SPREAD,
    AffinityTerm,
    Policy,
    Problems,
    V1Preferences,
    parse_policy,
    parse_v1_annotation,
)
from kubectl_fed.core.replicas import tie_break_hashes
from kubectl_fed.core.scheduling import (
    TRIGGER_PARTS,
    ClusterInfo,
    ClusterReason,
    ClusterSet,
    CurrentPlacement,
    Reason,
    ReplicaDivision,
    SchedulingResult,
    Verdict,
    WorkloadInfo,
)

# ---------------------------------------------------------------------- entry points


def select_clusters(
    policy: Policy | Mapping[str, Any] | None,
    clusters: ClusterSet | Sequence[ClusterInfo],
    workload: WorkloadInfo,
    current: CurrentPlacement | None = None,
) -> SchedulingResult:
    """Place ``workload`` following a (Cluster)PropagationPolicy: its spec as a mapping,
    or parsed once with ``parse_policy``. Never raises."""
    current = current or CurrentPlacement()
    try:
        return _never_empty(_select(policy, clusters, workload, current), current)
    except Exception as exc:  # the sync loop needs a status to show, not a traceback
        return _kept(
            _names(clusters), current, Reason.KEPT_ON_ERROR, "internal error", [_internal(exc)]
        )


def select_clusters_v1(
    clusters: ClusterSet | Sequence[ClusterInfo],
    workload: WorkloadInfo,
    current: CurrentPlacement | None = None,
) -> SchedulingResult:
    """Place a policy-less object as Federation v1 did: every Ready cluster serving its kind,
    replicas divided by the v1 preferences annotation (equal spread without one).

    Like v1 it reschedules on every call. Cluster taints still apply (with no tolerations):
    an administrator's taint keeps new copies away whoever placed them.
    """
    current = current or CurrentPlacement()
    try:
        return _never_empty(_select_v1(clusters, workload, current), current)
    except Exception as exc:  # the sync loop needs a status to show, not a traceback
        return _kept(
            _names(clusters), current, Reason.KEPT_ON_ERROR, "internal error", [_internal(exc)]
        )


# ------------------------------------------------------------------ the decision


def _select(
    policy_or_spec: Policy | Mapping[str, Any] | None,
    clusters: ClusterSet | Sequence[ClusterInfo],
    workload: WorkloadInfo,
    current: CurrentPlacement,
) -> SchedulingResult:
    policy = policy_or_spec if isinstance(policy_or_spec, Policy) else parse_policy(policy_or_spec)
    fleet = clusters if isinstance(clusters, ClusterSet) else ClusterSet(clusters)
    problems = Problems(policy.errors, [*policy.warnings, *fleet.warnings])
    _check_workload(workload, problems)
    v1 = parse_v1_annotation(workload.kind, workload.annotations, problems)
    _check_unknown_names("spec.placement", policy.placement, fleet, problems)
    if v1 is not None:
        _check_unknown_names(f"annotation {v1.annotation}", v1.clusters, fleet, problems)
    known = list(fleet.by_name)
    if problems.errors:
        why = "the policy or the object has errors"
        return _kept(known, current, Reason.KEPT_ON_ERROR, why, problems.errors, problems.warnings)

    policy_hash = policy.content_hash if v1 is None else short_hash([policy.content_hash, v1.raw])
    fingerprint = fleet.fingerprint(policy_hash, workload.replicas)
    previous = _readable_fingerprint(current.fingerprint, problems)
    if policy.sticky and current.clusters:
        _warn_sticky_replicas(previous, workload, problems)
        why = "rescheduling is disabled (stickyCluster / reschedulePolicy.disableRescheduling)"
        return _kept(
            known,
            current,
            Reason.KEPT_STICKY,
            why,
            [],
            problems.warnings,
            previous or fingerprint,
        )
    if previous is not None:
        reschedule, deferred = _trigger_changes(previous, fingerprint, policy.triggers)
        if not reschedule:
            code = Reason.KEPT_DEFERRED if deferred else Reason.KEPT_UNCHANGED
            why = (
                "a change waits for a rescheduleWhen trigger (see deferred_reason)"
                if deferred
                else "no scheduling input changed since the last decision"
            )
            # A deferred change stays pending against the old fingerprint, as in KubeAdmiral.
            kept_fingerprint = previous if deferred else fingerprint
            return _kept(
                known, current, code, why, [], problems.warnings, kept_fingerprint, deferred
            )
    return _schedule(policy, v1, fleet, workload, current, problems, fingerprint)


def _schedule(
    policy: Policy,
    v1: V1Preferences | None,
    fleet: ClusterSet,
    workload: WorkloadInfo,
    current: CurrentPlacement,
    problems: Problems,
    fingerprint: dict[str, Any],
) -> SchedulingResult:
    reasons: dict[str, ClusterReason] = {}
    feasible: list[str] = []
    capped: dict[str, str] = {}  # held clusters with an untolerated NoSchedule taint
    for name, (reason, no_schedule) in verdicts(policy, fleet, workload.api_resource):
        if reason is None:
            feasible.append(name)
        elif no_schedule is not None and name in current.clusters:
            capped[name] = no_schedule
            feasible.append(name)
        else:
            reasons[name] = reason
    chosen = _limit_clusters(feasible, policy, workload.key, current, reasons)
    _note_vanished_clusters(current, fleet, reasons)

    total = workload.replicas
    divided = policy.mode == "Divide" or v1 is not None
    if divided and total is None:
        problems.warnings.append(f"{workload.kind} has no replicas field: copied, not divided")
    if not divided or total is None:
        placed: dict[str, int | None] = {name: total for name in chosen}
        for name in chosen:
            reasons[name] = selected_reason(name, capped, None)
        return _result(placed, _in_order(reasons, fleet), problems, fingerprint)

    running = running_replicas(current, chosen, total)
    if v1 is not None:
        division = divide_v1(v1, chosen, total, workload.key, running, capped)
    else:
        division = divide(policy, chosen, total, workload.key, running, capped)
    placed_replicas = replicas_from(division, current, reasons, capped, v1 is not None)
    _warn_unplaced(total, placed_replicas, problems)
    ordered = _in_order(reasons, fleet)
    return _result(dict(placed_replicas), ordered, problems, fingerprint, division)


def verdicts(policy: Policy, clusters: ClusterSet, api_resource: str) -> list[tuple[str, Verdict]]:
    """Whether the policy lets each cluster have objects of ``api_resource``; memoized on
    the policy, since every object it places asks the same of every cluster."""
    cached = policy.verdict_memo.get(api_resource)
    if cached is not None and cached[0] is clusters:
        return cached[1]
    found = [(n, _judge(c, policy, api_resource)) for n, c in clusters.by_name.items()]
    policy.verdict_memo[api_resource] = (clusters, found)
    return found


def _judge(cluster: ClusterInfo, policy: Policy, api_resource: str) -> Verdict:
    if not cluster.ready:
        return _never(Reason.NOT_READY, "the cluster is not Ready")
    if cluster.api_resources is not None and api_resource not in cluster.api_resources:
        return _never(Reason.API_RESOURCE_MISSING, f"the cluster does not serve {api_resource}")
    if policy.placement and cluster.name not in policy.placement:
        return _never(Reason.NOT_IN_PLACEMENT, "the cluster is not listed in spec.placement")
    mismatch = [k for k, v in policy.cluster_selector.items() if cluster.labels.get(k) != v]
    if mismatch:
        return _never(
            Reason.SELECTOR_MISMATCH,
            f"labels do not match spec.clusterSelector on {', '.join(mismatch)}",
        )
    unmatched = None if policy.affinity is None else _affinity_mismatch(policy.affinity, cluster)
    if unmatched is not None:
        return _never(Reason.AFFINITY_MISMATCH, unmatched)
    evicting = _untolerated_taint(cluster.taints, policy.tolerations, "NoExecute")
    if evicting is not None:
        return _never(
            Reason.TAINT_EVICTED, f"taint {evicting} is not tolerated: the object is evicted"
        )
    blocking = _untolerated_taint(cluster.taints, policy.tolerations, "NoSchedule")
    if blocking is None:
        return _FITS
    message = f"taint {blocking} is not tolerated: no new placement"
    return Verdict(_excluded(Reason.TAINT_NOT_TOLERATED, message), blocking)


def _never(code: str, message: str) -> Verdict:
    return Verdict(_excluded(code, message))


_FITS: Final = Verdict(None)


def _affinity_mismatch(terms: list[AffinityTerm], cluster: ClusterInfo) -> str | None:
    """Why the cluster matches no term, or None. As KubeAdmiral's scheduler: terms in
    order, an empty one skipped; the first whose labels match (name included) selects the
    cluster, and one that cannot be evaluated (a malformed label key or value) rejects it."""
    for index, term in enumerate(terms):
        if term.invalid:
            return f"spec.clusterAffinity[{index}] matches no cluster: {term.invalid}"
        if not term.empty and term.matches(cluster.name, cluster.labels):
            return None
    return "its name and labels match none of the spec.clusterAffinity terms"


def _untolerated_taint(
    taints: Sequence[Mapping[str, str]], tolerations: Sequence[Mapping[str, Any]], effect: str
) -> str | None:
    for taint in taints:
        if taint.get("effect") == effect and not any(_tolerates(t, taint) for t in tolerations):
            return _format_taint(taint)
    return None


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, str]) -> bool:
    """Kubernetes' Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    if toleration.get("operator") == "Exists":
        return True
    return bool(toleration.get("value", "") == taint.get("value", ""))


def _limit_clusters(
    feasible: list[str],
    policy: Policy,
    key: str,
    current: CurrentPlacement,
    reasons: dict[str, ClusterReason],
) -> list[str]:
    """Apply ``maxClusters``: clusters holding the object first, then by weight, then by
    the planner's hash order, so the same inputs always keep the same clusters."""
    if policy.max_clusters is None or len(feasible) <= policy.max_clusters:
        return feasible
    hashes = dict(zip(feasible, tie_break_hashes(feasible, key), strict=True))
    ranked = sorted(
        feasible,
        key=lambda c: (c not in current.clusters, -policy.weight_of(c), hashes[c], c),
    )
    for rank, name in enumerate(ranked[policy.max_clusters :], start=policy.max_clusters + 1):
        reasons[name] = _excluded(
            Reason.MAX_CLUSTERS_EXCEEDED,
            f"ranked {rank} of {len(ranked)}, beyond spec.maxClusters={policy.max_clusters}",
        )
    kept = set(ranked[: policy.max_clusters])
    return [c for c in feasible if c in kept]


# ------------------------------------------------------------------ fingerprints


def _readable_fingerprint(
    stored: Mapping[str, Any] | None, problems: Problems
) -> Mapping[str, Any] | None:
    if not stored:
        return None
    if "policy" in stored and all(isinstance(stored.get(k), Mapping) for k in TRIGGER_PARTS):
        return stored
    problems.warnings.append("the stored scheduling fingerprint is unreadable: rescheduling")
    return None


_SWITCHABLE_CHANGES: Final = {
    "policyContentChanged": "the policy changed",
    "clusterJoined": "clusters joined",
    "clusterLabelsChanged": "cluster labels changed",
    "clusterAPIResourcesChanged": "cluster API resources changed",
}


def _trigger_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], enabled: Mapping[str, bool]
) -> tuple[bool, str | None]:
    """Whether a change reschedules now; if not, a description of the changes held back
    by a trigger switched off in ``rescheduleWhen``."""
    old_clusters, new_clusters = set(old["labels"]), set(new["labels"])
    common = old_clusters & new_clusters
    # Replicas, taints and a cluster leaving always count; the rest only when switched on.
    if (
        old.get("replicas") != new["replicas"]
        or old_clusters - new_clusters
        or _changed_on(old, new, "taints", common)
    ):
        return True, None
    changes: dict[str, bool | list[str]] = {
        "policyContentChanged": old["policy"] != new["policy"],
        "clusterJoined": sorted(new_clusters - old_clusters),
        "clusterLabelsChanged": _changed_on(old, new, "labels", common),
        "clusterAPIResourcesChanged": _changed_on(old, new, "apiResources", common),
    }
    if any(changed and enabled[trigger] for trigger, changed in changes.items()):
        return True, None
    held_back = [
        f"{_SWITCHABLE_CHANGES[trigger]}"
        + (f" ({', '.join(changed)})" if isinstance(changed, list) else "")
        + f" but rescheduleWhen.{trigger} is false"
        for trigger, changed in changes.items()
        if changed
    ]
    if not held_back:
        return False, None
    return False, "; ".join(held_back) + "; the last decision stands until another trigger fires"


def _changed_on(
    old: Mapping[str, Any], new: Mapping[str, Any], part: str, common: set[str]
) -> list[str]:
    """The clusters present before and now whose ``part`` hash differs."""
    before, after = old[part], new[part]
    if before == after:
        return []
    return sorted(name for name in common if before[name] != after[name])


# ------------------------------------------------------------------ v1 path


def _select_v1(
    clusters: ClusterSet | Sequence[ClusterInfo], workload: WorkloadInfo, current: CurrentPlacement
) -> SchedulingResult:
    fleet = clusters if isinstance(clusters, ClusterSet) else ClusterSet(clusters)
    problems = Problems((), fleet.warnings)
    _check_workload(workload, problems)
    v1 = parse_v1_annotation(workload.kind, workload.annotations, problems)
    if problems.errors:
        why = "the object has errors"
        known = list(fleet.by_name)
        return _kept(known, current, Reason.KEPT_ON_ERROR, why, problems.errors, problems.warnings)
    if v1 is None and workload.replicas is not None:
        v1 = V1Preferences("(none)", "", False, V1_EQUAL_SPREAD)
    # Kinds without replicas are copied everywhere, as v1 did for every other kind.
    fingerprint = fleet.fingerprint(short_hash([None, v1 and v1.raw]), workload.replicas)
    return _schedule(Policy(), v1, fleet, workload, current, problems, fingerprint)


# ------------------------------------------------------------------ helpers


def _check_workload(workload: WorkloadInfo, problems: Problems) -> None:
    replicas = workload.replicas
    if replicas is not None and (type(replicas) is not int or replicas < 0):
        problems.errors.append(f"replicas: expected a non-negative integer, got {replicas!r}")


def _check_unknown_names(
    where: str, names: Mapping[str, Any], fleet: ClusterSet, problems: Problems
) -> None:
    # An error, not a warning: a typo in a cluster name must never move (or delete) copies.
    unknown = sorted(n for n in names if n != "*" and n not in fleet.by_name)
    if unknown:
        problems.errors.append(f"{where} names clusters that are not members: {', '.join(unknown)}")


def _warn_sticky_replicas(
    previous: Mapping[str, Any] | None, workload: WorkloadInfo, problems: Problems
) -> None:
    if previous is not None and previous.get("replicas") != workload.replicas:
        problems.warnings.append(
            f"replicas changed from {previous.get('replicas')} to {workload.replicas}, but "
            "rescheduling is disabled: the per-cluster replicas are kept"
        )


def _warn_unplaced(total: int, placed: Mapping[str, int], problems: Problems) -> None:
    unplaced = total - sum(placed.values())
    if unplaced > 0:
        problems.warnings.append(
            f"{unplaced} of {total} replicas could not be placed: "
            "maxReplicas, NoSchedule taints or no cluster left room for them"
        )


def _note_vanished_clusters(
    current: CurrentPlacement, fleet: ClusterSet, reasons: dict[str, ClusterReason]
) -> None:
    for name in current.clusters:
        if name not in fleet.by_name:
            reasons[name] = _excluded(
                Reason.CLUSTER_NOT_FOUND, "the object was placed here, but the cluster is gone"
            )


def _kept(
    known: Iterable[str],
    current: CurrentPlacement,
    code: str,
    why: str,
    errors: list[str],
    warnings: Sequence[str] = (),
    fingerprint: Mapping[str, Any] | None = None,
    deferred_reason: str | None = None,
) -> SchedulingResult:
    """Leave the placement exactly as it is, and say why for every cluster."""
    reasons: dict[str, ClusterReason] = {}
    for name in [*known, *current.clusters]:
        if name in current.clusters:
            reasons[name] = ClusterReason(True, code, f"placement kept: {why}")
        else:
            reasons[name] = ClusterReason(
                False, Reason.NOT_PLACED, f"not placed; placement kept: {why}"
            )
    if fingerprint is None:
        fingerprint = current.fingerprint
    return SchedulingResult(
        clusters=dict(current.clusters),
        reasons=reasons,
        errors=list(errors),
        warnings=list(warnings),
        fingerprint=dict(fingerprint or {}),
        deferred_reason=deferred_reason,
    )


def _result(
    placed: dict[str, int | None],
    reasons: dict[str, ClusterReason],
    problems: Problems,
    fingerprint: dict[str, Any],
    division: ReplicaDivision | None = None,
) -> SchedulingResult:
    return SchedulingResult(
        clusters=placed,
        reasons=reasons,
        warnings=problems.warnings,
        fingerprint=fingerprint,
        rescheduled=True,
        division=division,
    )


def _in_order(reasons: dict[str, ClusterReason], fleet: ClusterSet) -> dict[str, ClusterReason]:
    """Known clusters in their given order, then clusters that are gone."""
    ordered = {name: reasons[name] for name in fleet.by_name}
    ordered.update(reasons)
    return ordered


def _excluded(code: str, message: str) -> ClusterReason:
    return ClusterReason(False, code, message)


def _format_taint(taint: Mapping[str, str]) -> str:
    value = taint.get("value")
    return f"{taint.get('key', '')}{'=' + value if value else ''}:{taint.get('effect', '')}"


def _names(clusters: ClusterSet | Sequence[ClusterInfo]) -> list[str]:
    """Cluster names for a last-resort result, whatever state the input is in."""
    if isinstance(clusters, ClusterSet):
        return list(clusters.by_name)
    return [c.name for c in clusters if isinstance(c, ClusterInfo)]


def _internal(exc: Exception) -> str:
    return f"internal error in cluster selection ({exc!r}); placement left unchanged"


def _never_empty(result: SchedulingResult, current: CurrentPlacement) -> SchedulingResult:
    """A decision that places the object nowhere is never acted on: whatever the cause
    (names that are not members, zero weights, maxClusters 0, unmet minimums, no cluster
    Ready), the previous placement stays and the object is reported not OK. Leaving every
    cluster is done by intent only: deleting the template or removing its policy label."""
    if result.clusters or result.errors:
        return result
    excluded = [f"{name}: {r.code}" for name, r in result.reasons.items() if not r.chosen]
    why = "no cluster satisfies the policy" + (f" ({', '.join(excluded)})" if excluded else "")
    # The previous fingerprint, not this decision's: the next pass must decide (and
    # refuse) again, not find "nothing changed" and report the object OK.
    kept = _kept(list(result.reasons), current, Reason.KEPT_ON_ERROR, why, [why], result.warnings)
    # Keep each cluster's own reason for `explain`; the kept ones say they were kept.
    reasons = {**result.reasons, **{n: r for n, r in kept.reasons.items() if r.chosen}}
    return replace(kept, reasons=reasons)
