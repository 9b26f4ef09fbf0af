"""`kubectl fed explain`: why a federated object is where it is.

What a sync would decide now for one template (nothing is written): the policy, every
member chosen or not and why, the replicas and overrides each gets, and whether
rescheduling is deferred. `explanation` is the pure part: everything comes from the Plan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core.federate import CONTROLLER, override_policies_of, policy_of
from kubectl_fed.core.marks import NO_FEDERATED_RESOURCE_ANNOTATION
from kubectl_fed.core.objects import field_at, key_of
from kubectl_fed.core.overrides import OverrideError
from kubectl_fed.core.policy import V1_ANNOTATIONS, Policy, parse_policy
from kubectl_fed.core.resources import Resource
from kubectl_fed.core.scheduling import Reason, SchedulingRecord
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.host import Host
from kubectl_fed.ops.objects import (
    Object,
    group_object_name,
    object_name,
)
from kubectl_fed.planning.plan import Plan, SyncOptions, all_placed, member_copy
from kubectl_fed.planning.preview import preview


@dataclass
class ClusterChoice:
    """Why one cluster holds (or does not hold) the object, and what it gets."""

    cluster: str
    chosen: bool
    placed: bool  # holds it now, per the FederatedObject
    replicas: int | None  # after overrides
    code: str
    message: str
    overrides: list[Object] = field(default_factory=list)  # patches, each with its source
    override_error: str = ""
    unreachable: str = ""

    def as_dict(self) -> Object:
        return {
            "cluster": self.cluster,
            "chosen": self.chosen,
            "placedNow": self.placed,
            "replicas": self.replicas,
            "reason": {"code": self.code, "message": self.message},
            "overrides": self.overrides,
            **({"overrideError": self.override_error} if self.override_error else {}),
            **({"unreachable": self.unreachable} if self.unreachable else {}),
        }


@dataclass
class Explanation:
    object: str
    namespace: str
    federated_object: str
    federated_object_exists: bool  # in the host (a sync wrote it)
    policy: str  # "PropagationPolicy ns/name", or how it is placed without one
    policy_lines: list[str]
    override_policies: list[str]
    clusters: list[ClusterChoice]
    replicas: list[str]  # how the replicas were computed
    rescheduling: list[str]
    deferred_reason: str
    errors: list[str]
    warnings: list[str]
    scheduling: Object  # the scheduling record, as a sync would store it

    def as_dict(self) -> Object:
        return {
            "object": self.object,
            "namespace": self.namespace,
            "federatedObject": self.federated_object,
            "federatedObjectExists": self.federated_object_exists,
            "policy": {"name": self.policy, "details": self.policy_lines},
            "overridePolicies": self.override_policies,
            "clusters": [c.as_dict() for c in self.clusters],
            "replicas": self.replicas,
            "rescheduling": self.rescheduling,
            "deferredReason": self.deferred_reason or None,
            "errors": self.errors,
            "warnings": self.warnings,
            "scheduling": self.scheduling,
        }


def explain(
    host: Host, options: SyncOptions, resource: Resource, namespace: str, name: str
) -> Explanation:
    """What a sync would decide for one template (nothing written) and why."""
    namespace = namespace if resource["namespaced"] else ""
    plans, leaving, members = preview(host, options)
    try:
        plan = _find_plan(plans, resource, namespace, name)
        if plan is None:
            title = group_object_name(resource["group"], resource["kind"], name)
            if _find_plan(leaving, resource, namespace, name) is not None:
                raise FedError(
                    f"{title} is leaving the federation (template deleted or no longer "
                    "federated): the next sync removes its member copies"
                )
            raise FedError(_not_federated(host, resource, namespace, name))
        unreachable = {n: m.error for n, m in members.by_name.items() if not m.reachable}
        return explanation(plan, sorted(members.by_name), unreachable)
    finally:
        members.close()


def _find_plan(plans: list[Plan], resource: Resource, namespace: str, name: str) -> Plan | None:
    for plan in plans:
        if (
            plan.ftype.group == resource["group"]
            and plan.ftype.kind == resource["kind"]
            and key_of(plan.template) == (namespace, name)
        ):
            return plan
    return None


def _not_federated(host: Host, resource: Resource, namespace: str, name: str) -> str:
    title = group_object_name(resource["group"], resource["kind"], name)
    where = f" in namespace {namespace}" if namespace else ""
    try:
        template = host.kube.get(path_for(resource, namespace or None, name))
    except NotFound:
        return f"{title} not found{where}"
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if annotations.get(NO_FEDERATED_RESOURCE_ANNOTATION):
        return (
            f"{title}{where} is not federated: it is annotated {NO_FEDERATED_RESOURCE_ANNOTATION}"
        )
    return (
        f"{title}{where} is not federated: label it "
        "kubeadmiral.io/propagation-policy-name=POLICY (or cluster-propagation-policy-name)"
    )


def explanation(plan: Plan, members: list[str], unreachable: Mapping[str, str]) -> Explanation:
    """The explanation of one Plan (pure: everything comes from the plan)."""
    source = plan.native.obj if plan.native else plan.fo
    policy_name, policy_spec = _policy_of_plan(plan, source)
    parsed = parse_policy(policy_spec) if policy_spec is not None else None
    record = plan.scheduling
    namespace, name = key_of(plan.template)
    names = sorted(set(members) | set(record.reasons) | set(plan.placement))
    now = set(all_placed(plan.existing or {}))
    return Explanation(
        object=object_name(str(plan.template.get("apiVersion")), plan.ftype.kind, name),
        namespace=namespace,
        federated_object=str(plan.fo["metadata"]["name"]),
        federated_object_exists="uid" in (plan.existing or {}).get("metadata", {}),
        policy=policy_name,
        policy_lines=policy_summary(policy_spec) if policy_spec is not None else [],
        override_policies=[_policy_title(k, namespace, n) for k, n in override_policies_of(source)],
        clusters=[_choice(plan, c, c in now, unreachable.get(c, "")) for c in names],
        replicas=replica_lines(plan, parsed, source),
        rescheduling=rescheduling_lines(parsed, record),
        deferred_reason=record.deferred_reason or "",
        errors=list(plan.result.errors) + (parsed.errors if parsed else []),
        warnings=list(record.warnings) + (parsed.warnings if parsed else []),
        scheduling={} if record.kept else record.to_status(),
    )


def _policy_of_plan(plan: Plan, source: Object) -> tuple[str, Object | None]:
    named = policy_of(source)
    if named is not None:
        kind, name = named
        title = _policy_title(kind, key_of(source)[0], name)
        if plan.leader_policy is None:
            return f"{title} (not found: the placement is kept as it was)", None
        return title, dict(plan.leader_policy.get("spec") or {})
    if plan.native is not None and plan.native.v1_compat:
        return "none: Federation v1 compatibility places it on every Ready member", None
    if plan.native is not None and plan.native.auto_namespace:
        return "none: namespace auto-propagation places it on every member", None
    if plan.native is not None and plan.native.follower:
        return "none: it goes where the workloads using it go (a follower)", None
    return "none: placed by hand in the FederatedObject's spec.placements", None


def _policy_title(kind: str, namespace: str, name: str) -> str:
    namespaced = kind in ("PropagationPolicy", "OverridePolicy")
    return f"{kind} {namespace}/{name}" if namespaced else f"{kind} {name}"


def _choice(plan: Plan, cluster: str, placed_now: bool, unreachable: str) -> ClusterChoice:
    chosen = cluster in plan.placement
    code, message = _reason(plan, cluster, chosen)
    choice = ClusterChoice(
        cluster, chosen, placed_now, None, code, message, unreachable=unreachable
    )
    if chosen:
        choice.overrides = override_patches(plan, cluster)
        choice.override_error = plan.patch_errors.get(cluster, "")
        choice.replicas = _effective_replicas(plan, cluster)
    return choice


def _reason(plan: Plan, cluster: str, chosen: bool) -> tuple[str, str]:
    record = plan.scheduling
    if cluster in plan.follows:  # before its own policy's reason, which says "not here"
        leaders = ", ".join(plan.follows[cluster])
        return "Follower", f"used by {leaders}, placed here (followers go where it goes)"
    recorded = record.reasons.get(cluster)
    if recorded:
        return recorded.code, recorded.message
    if chosen and plan.native is not None and plan.native.auto_namespace:
        return "NamespaceAutoPropagation", "every member gets the host's namespaces"
    if chosen:
        return "Placed", "listed in the FederatedObject's spec.placements"
    return "NotPlaced", "not chosen"


def override_patches(plan: Plan, cluster: str) -> list[Object]:
    """The patches a cluster's copy gets, in the order they apply, each with its source."""
    foreign = [
        {**patch, "source": f"controller {entry.get('controller')}"}
        for entry in (plan.fo.get("spec") or {}).get("overrides") or []
        if entry.get("controller") != CONTROLLER
        for target in entry.get("clusters") or []
        if target.get("cluster") == cluster
        for patch in target.get("patches") or []
    ]
    ours = plan.patches.get(cluster, [])
    replicas = "/" + "/".join(plan.ftype.replicas_path or ())
    divided = plan.scheduling.divided
    tagged = [
        {
            **patch,
            "source": "scheduler: divided replicas"
            if index == 0 and divided and patch.get("path") == replicas
            else "override policies",
        }
        for index, patch in enumerate(ours)
    ]
    return foreign + tagged


def _effective_replicas(plan: Plan, cluster: str) -> int | None:
    """Replicas of the copy a sync would write, overrides included."""
    if not plan.ftype.replicas_path or cluster in plan.patch_errors:
        return None
    try:
        desired = member_copy(plan, cluster, None).desired
    except OverrideError:
        return None
    value = field_at(desired, *plan.ftype.replicas_path)
    return value if isinstance(value, int) else None


def policy_summary(spec: Mapping[str, Any]) -> list[str]:
    """The fields of a propagation policy spec that decide placement, one line each."""
    lines = [f"schedulingMode: {spec.get('schedulingMode') or 'Duplicate'}"]
    selector = spec.get("clusterSelector") or {}
    if selector:
        lines.append("clusterSelector: " + ",".join(f"{k}={v}" for k, v in selector.items()))
    terms = spec.get("clusterAffinity") or []
    if terms:
        lines.append("clusterAffinity: " + " OR ".join(_affinity_term(t) for t in terms))
    tolerations = spec.get("tolerations") or []
    if tolerations:
        lines.append("tolerations: " + ", ".join(_toleration(t) for t in tolerations))
    if spec.get("maxClusters") is not None:
        lines.append(f"maxClusters: {spec['maxClusters']}")
    placement = spec.get("placement") or []
    if placement:
        entries = [f"{p.get('cluster')} ({_preference(p.get('preferences'))})" for p in placement]
        lines.append("placement (allow-list): " + ", ".join(entries))
    return lines


def _affinity_term(term: Mapping[str, Any]) -> str:
    expressions = [
        f"{e.get('key')} {e.get('operator')}"
        + (f" [{', '.join(map(str, e.get('values') or []))}]" if e.get("values") else "")
        for e in term.get("matchExpressions") or []
    ]
    return "(" + " AND ".join(expressions) + ")"


def _toleration(toleration: Mapping[str, Any]) -> str:
    key, value = toleration.get("key", "*"), toleration.get("value")
    effect = toleration.get("effect") or "any effect"
    return f"{key}{'=' + str(value) if value else ''}:{effect}"


def _preference(preference: Mapping[str, Any] | None) -> str:
    preference = preference or {}
    maximum = preference.get("maxReplicas")
    return (
        f"weight {preference.get('weight', 'none')}, min {preference.get('minReplicas') or 0}, "
        f"max {'unlimited' if maximum is None else maximum}"
    )


def replica_lines(plan: Plan, policy: Policy | None, source: Object) -> list[str]:
    """How the replicas per cluster were computed, from the same inputs the planner had."""
    path = plan.ftype.replicas_path
    if not path:
        return [f"{plan.ftype.kind} has no replicas field: every chosen cluster gets a copy"]
    record = plan.scheduling
    total = record.fingerprint.get("replicas", field_at(plan.template, *path))
    if record.kept:
        return ["no scheduling ran (no policy): the placement and replicas are kept as they were"]
    if not record.divided:
        return [f"Duplicate: every chosen cluster runs the template's {total} replicas"]
    annotation = V1_ANNOTATIONS.get(plan.ftype.kind, "")
    raw = ((source.get("metadata") or {}).get("annotations") or {}).get(annotation)
    if raw is not None:
        return _v1_lines(record, total, annotation, raw)
    avoid = policy.avoid_disruption if policy else True
    preferences = dict(policy.planner_preferences) if policy else {}
    header = (
        f"Divide: {total} replicas split by the KubeAdmiral planner over the chosen "
        f"clusters by weight, within min/max (avoidDisruption={str(avoid).lower()})"
    )
    return [header, *_division_lines(record, preferences)]


def _v1_lines(record: SchedulingRecord, total: Any, annotation: str, raw: str) -> list[str]:
    try:
        document = json.loads(raw)
    except ValueError:
        document = {}
    preferences = (document.get("clusters") if isinstance(document, dict) else None) or {
        "*": {"weight": 1}
    }
    rebalance = bool(document.get("rebalance")) if isinstance(document, dict) else False
    header = (
        f"Divide: {total} replicas split by the Federation v1 planner from annotation "
        f"{annotation} (rebalance={str(rebalance).lower()})"
    )
    return [header, *_division_lines(record, preferences)]


def _division_lines(record: SchedulingRecord, preferences: Mapping[str, Any]) -> list[str]:
    candidates = sorted(
        set(record.clusters)
        | {c for c, r in record.reasons.items() if r.code == Reason.NO_REPLICAS}
    )
    return [
        f"  {cluster}: {_preference(preferences.get(cluster) or preferences.get('*'))}"
        f" -> {record.replicas.get(cluster, 0)}"
        for cluster in candidates
    ]


TRIGGER_EVENTS = {  # reschedulePolicy.rescheduleWhen switches, as events
    "policyContentChanged": "the policy changes",
    "clusterJoined": "a cluster joins",
    "clusterLabelsChanged": "cluster labels change",
    "clusterAPIResourcesChanged": "cluster API resources change",
}


def rescheduling_lines(policy: Policy | None, record: SchedulingRecord) -> list[str]:
    if record.deferred_reason:
        return [f"deferred: {record.deferred_reason}"]
    if policy is None:
        return []
    if policy.sticky:
        return [
            "disabled by the policy (stickyCluster / reschedulePolicy.disableRescheduling): "
            "clusters stay as first chosen"
        ]
    switched_on = [TRIGGER_EVENTS[k] for k, on in policy.triggers.items() if on]
    events = [*switched_on, "the replicas change", "taints change", "a cluster leaves"]
    return [
        "not deferred: the placement follows the current inputs",
        f"reschedules when {', '.join(events[:-1])} or {events[-1]}",
    ]
