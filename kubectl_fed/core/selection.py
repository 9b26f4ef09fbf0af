"""Cluster selection: which member clusters get a federated object, and with how many replicas.

``select_clusters`` applies a PropagationPolicy (or ClusterPropagationPolicy) spec the way
KubeAdmiral's scheduler does (docs/api.md); ``select_clusters_v1`` serves objects without a
policy the way Federation v1 did. Both are pure, take and return plain data, and never
raise: bad input becomes ``errors`` (placement left as it was) or ``warnings`` in the
result, which the sync loop surfaces as object status and ``kubectl fed explain`` prints.

Every known cluster gets a ``ClusterReason`` saying why it was chosen or left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, Final, NamedTuple

from kubectl_fed.core.labels import OPERATORS, requirement_matches, requirement_problem
from kubectl_fed.core.planner import (
    Preferences,
    PreparedPreferences,
    plan,
    plan_v1,
    tie_break_hashes,
)

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ClusterInfo:
    """A FederatedCluster as selection sees it.

    ``api_resources`` holds ``group/version/plural`` strings (``v1/configmaps`` for the
    core group); ``None`` means not yet discovered, and is taken as "served".
    """

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    ready: bool = True
    api_resources: Set[str] | None = None


_TRIGGER_PARTS: Final = ("labels", "taints", "apiResources")


class ClusterSet:
    """The member clusters, deduplicated by name and hashed for fingerprints.

    ``select_clusters`` takes a plain list too; a sync pass builds one ClusterSet and
    passes it to every call, so that this work, and the policy's verdict on each
    cluster, is done once. The clusters must not change while the set is in use.
    """

    __slots__ = ("_hashes", "by_name", "warnings")

    def __init__(self, clusters: Iterable[ClusterInfo]) -> None:
        self.by_name: dict[str, ClusterInfo] = {}
        self.warnings: list[str] = []
        for cluster in clusters:
            if cluster.name in self.by_name:
                self.warnings.append(f"cluster {cluster.name!r} is listed twice; the first is used")
            else:
                self.by_name[cluster.name] = cluster
        hashes = {name: _trigger_hashes(c) for name, c in self.by_name.items()}
        self._hashes = {
            part: {name: h[i] for name, h in hashes.items()}
            for i, part in enumerate(_TRIGGER_PARTS)
        }

    def fingerprint(self, policy_hash: str, replicas: int | None) -> dict[str, Any]:
        """What a decision depends on, per trigger; per-cluster hashes tell a joined
        cluster from a changed one, as KubeAdmiral's scheduling-triggers annotation does."""
        fingerprint: dict[str, Any] = {"policy": policy_hash, "replicas": replicas}
        for part, hashes in self._hashes.items():
            fingerprint[part] = dict(hashes)
        return fingerprint


def _trigger_hashes(cluster: ClusterInfo) -> tuple[str, str, str]:
    # Only key, value and effect decide scheduling (timeAdded does not), as in KubeAdmiral.
    taints = sorted(
        (str(t.get("key", "")), str(t.get("value", "")), str(t.get("effect", "")))
        for t in cluster.taints
    )
    resources = None if cluster.api_resources is None else sorted(cluster.api_resources)
    return _short_hash(dict(cluster.labels)), _short_hash(taints), _short_hash(resources)


@dataclass(frozen=True)
class WorkloadInfo:
    """The object to place. ``key`` is ``namespace/name`` (``name`` when cluster-scoped);
    ``replicas`` is ``None`` for kinds without a replicas field."""

    kind: str
    api_resource: str
    key: str
    replicas: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CurrentPlacement:
    """Replicas the object has in each cluster now (``None``: not overridden, so the
    template's count) and the fingerprint stored at the last scheduling."""

    clusters: Mapping[str, int | None] = field(default_factory=dict)
    fingerprint: Mapping[str, Any] | None = None


# -------------------------------------------------------------------------- outputs


class Reason:
    """Codes of ``ClusterReason``: stable strings for status, tests and ``explain``."""

    SELECTED: Final = "Selected"
    SCALED_TO_ZERO: Final = "ScaledToZero"
    KEPT_STICKY: Final = "KeptSticky"
    KEPT_UNCHANGED: Final = "KeptUnchanged"
    KEPT_DEFERRED: Final = "KeptDeferred"
    KEPT_ON_ERROR: Final = "KeptOnError"
    NOT_PLACED: Final = "NotPlaced"
    NOT_READY: Final = "NotReady"
    API_RESOURCE_MISSING: Final = "APIResourceMissing"
    NOT_IN_PLACEMENT: Final = "NotInPlacement"
    SELECTOR_MISMATCH: Final = "SelectorMismatch"
    AFFINITY_MISMATCH: Final = "AffinityMismatch"
    TAINT_NOT_TOLERATED: Final = "TaintNotTolerated"
    TAINT_EVICTED: Final = "TaintEvicted"
    MAX_CLUSTERS_EXCEEDED: Final = "MaxClustersExceeded"
    NO_REPLICAS: Final = "NoReplicasAssigned"
    CLUSTER_NOT_FOUND: Final = "ClusterNotFound"


class ClusterReason(NamedTuple):
    chosen: bool
    code: str
    message: str


@dataclass(frozen=True)
class ReplicaDivision:
    """The planner call behind a Divide placement, for ``kubectl fed explain``."""

    planner: str  # "plan" (KubeAdmiral) or "plan_v1" (Federation v1 / KubeFed)
    total: int
    clusters: tuple[str, ...]
    preferences: Preferences  # as passed to the planner
    current: dict[str, int]
    options: dict[str, bool]
    plan: dict[str, int]
    overflow: dict[str, int]

    def describe(self) -> str:
        lines = [
            f"{self.planner}: {self.total} replicas over {', '.join(self.clusters) or 'no cluster'}"
            + "".join(f", {name}={value}" for name, value in self.options.items())
        ]
        for cluster in self.clusters:
            pref = self.preferences.get(cluster) or self.preferences.get("*")
            lines.append(
                f"  {cluster}: preference {_format_preference(pref)}, "
                f"current {self.current.get(cluster, 0)}, planned {self.plan.get(cluster, 0)}"
                + (f" + overflow {self.overflow[cluster]}" if cluster in self.overflow else "")
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class SchedulingResult:
    """``clusters`` maps each chosen cluster to its replicas (``None``: the template's own)."""

    clusters: dict[str, int | None]
    reasons: dict[str, ClusterReason]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    rescheduled: bool = False
    deferred_reason: str | None = None
    division: ReplicaDivision | None = None


# ---------------------------------------------------------------------- entry points

V1_ANNOTATIONS: Final = {
    "Deployment": "federation.kubernetes.io/deployment-preferences",
    "ReplicaSet": "federation.kubernetes.io/replica-set-preferences",
}
_V1_EQUAL_SPREAD: Final[Preferences] = {"*": {"weight": 1}}


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


# ------------------------------------------------------------------ policy parsing

_MODES: Final = ("Duplicate", "Divide")
_TOLERATION_OPERATORS: Final = ("", "Equal", "Exists")
_TRIGGER_DEFAULTS: Final = {
    "policyContentChanged": True,
    "clusterJoined": False,
    "clusterLabelsChanged": False,
    "clusterAPIResourcesChanged": False,
}
# Not part of where the object goes, so changing them must not reschedule (as KubeAdmiral).
_POLICY_FIELDS_NOT_HASHED: Final = ("disableFollowerScheduling", "autoMigration")


@dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return requirement_matches(self.key, self.operator, self.values, labels)


@dataclass(frozen=True)
class _PlacementPreference:
    min_replicas: int
    max_replicas: int | None
    weight: int | None


class _Verdict(NamedTuple):
    reason: ClusterReason | None  # why the cluster is left out; None when it fits
    # The untolerated NoSchedule taint behind ``reason``: a cluster that already holds
    # the object keeps it anyway.
    no_schedule: str | None = None


@dataclass
class Policy:
    """A parsed (Cluster)PropagationPolicy spec, from ``parse_policy``.

    Parsing costs more than placing one object, so the sync loop parses a policy once
    and passes the result to ``select_clusters`` for every object it governs.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""
    mode: str = "Duplicate"
    cluster_selector: dict[str, str] = field(default_factory=dict)
    affinity: list[list[_Requirement]] | None = None  # None: no affinity, every cluster fits
    tolerations: list[Mapping[str, Any]] = field(default_factory=list)
    max_clusters: int | None = None
    placement: dict[str, _PlacementPreference] = field(default_factory=dict)
    sticky: bool = False
    triggers: dict[str, bool] = field(default_factory=lambda: dict(_TRIGGER_DEFAULTS))
    avoid_disruption: bool = True
    # API resource -> (the ClusterSet judged, a verdict per cluster). A new cluster list
    # comes as a new ClusterSet, which the identity check sends to fresh verdicts.
    _verdicts: dict[str, tuple[ClusterSet, list[tuple[str, _Verdict]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def verdicts(self, clusters: ClusterSet, api_resource: str) -> list[tuple[str, _Verdict]]:
        """Whether the policy lets each cluster have objects of ``api_resource``; memoized,
        since every object the policy places asks the same of every cluster."""
        cached = self._verdicts.get(api_resource)
        if cached is not None and cached[0] is clusters:
            return cached[1]
        verdicts = [(n, _judge(c, self, api_resource)) for n, c in clusters.by_name.items()]
        self._verdicts[api_resource] = (clusters, verdicts)
        return verdicts

    @cached_property
    def has_weights(self) -> bool:
        return any(p.weight is not None for p in self.placement.values())

    def weight_of(self, cluster: str) -> int:
        """The cluster's weight; without any weight in the policy, all are equal."""
        if not self.has_weights:
            return 1
        preference = self.placement.get(cluster)
        return 0 if preference is None or preference.weight is None else preference.weight

    @cached_property
    def planner_preferences(self) -> PreparedPreferences:
        """spec.placement as ``plan`` preferences (an allow-list, so it covers every
        candidate); without placement every cluster weighs the same."""
        if not self.placement:
            return PreparedPreferences({"*": {"minReplicas": 0, "maxReplicas": None, "weight": 1}})
        return PreparedPreferences(
            {
                name: {
                    "minReplicas": p.min_replicas,
                    "maxReplicas": p.max_replicas,
                    "weight": self.weight_of(name),
                }
                for name, p in self.placement.items()
            }
        )


class _Problems:
    def __init__(self, errors: Sequence[str] = (), warnings: Sequence[str] = ()) -> None:
        self.errors: list[str] = list(errors)
        self.warnings: list[str] = list(warnings)


def parse_policy(spec: Mapping[str, Any] | None) -> Policy:
    """Parse and check a policy spec. Never raises: problems land in ``errors`` and
    ``warnings``, and ``select_clusters`` keeps the placement while there are errors."""
    problems = _Problems()
    policy = Policy(errors=problems.errors, warnings=problems.warnings)
    if spec is None:
        problems.errors.append("no propagation policy: the object names none, or it was not found")
    elif not isinstance(spec, Mapping):
        problems.errors.append(f"spec: expected a mapping, got {_kind_of(spec)}")
    else:
        _parse_spec(spec, policy, problems)
        policy.content_hash = _short_hash(
            {k: v for k, v in spec.items() if k not in _POLICY_FIELDS_NOT_HASHED}
        )
    return policy


def _parse_spec(spec: Mapping[str, Any], policy: Policy, problems: _Problems) -> None:
    errors = problems.errors
    mode = spec.get("schedulingMode") or "Duplicate"
    if mode in _MODES:
        policy.mode = mode
    else:
        errors.append(f"spec.schedulingMode: unknown mode {mode!r}; expected Duplicate or Divide")
    policy.cluster_selector = _string_map(
        spec.get("clusterSelector"), "spec.clusterSelector", errors
    )
    policy.affinity = _parse_affinity(spec.get("clusterAffinity"), errors)
    policy.tolerations = _parse_tolerations(spec.get("tolerations"), errors)
    policy.max_clusters = _optional_count(spec.get("maxClusters"), "spec.maxClusters", errors)
    policy.placement = _parse_placement(spec.get("placement"), problems)
    _parse_reschedule_policy(spec, policy, errors)
    if spec.get("schedulingProfile"):
        problems.warnings.append(
            f"spec.schedulingProfile {spec['schedulingProfile']!r} is accepted but not applied: "
            "kubectl-fed schedules with the default profile"
        )


def _parse_affinity(terms: Any, errors: list[str]) -> list[list[_Requirement]] | None:
    if not terms:
        return None  # KubeAdmiral ignores an empty clusterAffinity
    if not isinstance(terms, list):
        errors.append(f"spec.clusterAffinity: expected a list of terms, got {_kind_of(terms)}")
        return None
    parsed = []
    for i, term in enumerate(terms):
        where = f"spec.clusterAffinity[{i}]"
        if not isinstance(term, Mapping):
            errors.append(f"{where}: expected a mapping, got {_kind_of(term)}")
            continue
        expressions = term.get("matchExpressions") or []
        if not isinstance(expressions, list):
            errors.append(f"{where}.matchExpressions: expected a list")
            continue
        requirements = [
            _parse_requirement(e, f"{where}.matchExpressions[{j}]", errors)
            for j, e in enumerate(expressions)
        ]
        parsed.append([r for r in requirements if r is not None])
    return parsed


def _parse_requirement(expr: Any, where: str, errors: list[str]) -> _Requirement | None:
    if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str):
        errors.append(f"{where}: expected a mapping with a string key")
        return None
    operator = expr.get("operator")
    values = expr.get("values") or []
    if operator not in OPERATORS:
        errors.append(
            f"{where}.operator: unknown {operator!r}; expected one of {', '.join(OPERATORS)}"
        )
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors.append(f"{where}.values: expected a list of strings")
        return None
    problem = requirement_problem(operator, values)
    if problem:
        errors.append(f"{where}: {problem}")
        return None
    return _Requirement(expr["key"], operator, tuple(values))


def _parse_tolerations(tolerations: Any, errors: list[str]) -> list[Mapping[str, Any]]:
    if not tolerations:
        return []
    if not isinstance(tolerations, list):
        errors.append(f"spec.tolerations: expected a list, got {_kind_of(tolerations)}")
        return []
    valid = []
    for i, toleration in enumerate(tolerations):
        if not isinstance(toleration, Mapping):
            errors.append(f"spec.tolerations[{i}]: expected a mapping")
        elif toleration.get("operator", "") not in _TOLERATION_OPERATORS:
            errors.append(
                f"spec.tolerations[{i}].operator: unknown {toleration['operator']!r}; "
                "expected Equal or Exists"
            )
        else:
            valid.append(toleration)
    return valid


def _parse_placement(entries: Any, problems: _Problems) -> dict[str, _PlacementPreference]:
    if not entries:
        return {}
    if not isinstance(entries, list):
        problems.errors.append(f"spec.placement: expected a list, got {_kind_of(entries)}")
        return {}
    placement: dict[str, _PlacementPreference] = {}
    for i, entry in enumerate(entries):
        where = f"spec.placement[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("cluster"), str):
            problems.errors.append(f"{where}: expected a mapping with a string cluster")
            continue
        preferences = entry.get("preferences") or {}
        preference = _parse_preferences(preferences, f"{where}.preferences", problems.errors)
        if entry["cluster"] in placement:
            problems.warnings.append(
                f"{where}: cluster {entry['cluster']!r} is listed again; the last entry is used"
            )
        if preference is not None:
            placement[entry["cluster"]] = preference
    return placement


def _parse_preferences(
    preferences: Any, where: str, errors: list[str]
) -> _PlacementPreference | None:
    if not isinstance(preferences, Mapping):
        errors.append(f"{where}: expected a mapping")
        return None
    found = len(errors)
    minimum = _optional_count(preferences.get("minReplicas"), f"{where}.minReplicas", errors)
    maximum = _optional_count(preferences.get("maxReplicas"), f"{where}.maxReplicas", errors)
    weight = _optional_count(preferences.get("weight"), f"{where}.weight", errors)
    if minimum is not None and maximum is not None and minimum > maximum:
        errors.append(f"{where}: minReplicas ({minimum}) > maxReplicas ({maximum})")
    if len(errors) > found:
        return None
    return _PlacementPreference(minimum or 0, maximum, weight)


def _parse_reschedule_policy(spec: Mapping[str, Any], policy: Policy, errors: list[str]) -> None:
    reschedule = spec.get("reschedulePolicy") or {}
    if not isinstance(reschedule, Mapping):
        errors.append("spec.reschedulePolicy: expected a mapping")
        return
    sticky = _flag(spec, "stickyCluster", "spec", False, errors)
    disabled = _flag(reschedule, "disableRescheduling", "spec.reschedulePolicy", False, errors)
    policy.sticky = sticky or disabled
    when = reschedule.get("rescheduleWhen") or {}
    if isinstance(when, Mapping):
        for trigger, default in _TRIGGER_DEFAULTS.items():
            where = "spec.reschedulePolicy.rescheduleWhen"
            policy.triggers[trigger] = _flag(when, trigger, where, default, errors)
    else:
        errors.append("spec.reschedulePolicy.rescheduleWhen: expected a mapping")
    # The newer field wins over the older top-level one that published manifests carry.
    for source, where in (
        (reschedule.get("replicaRescheduling"), "spec.reschedulePolicy.replicaRescheduling"),
        (spec.get("replicaRescheduling"), "spec.replicaRescheduling"),
    ):
        if isinstance(source, Mapping) and "avoidDisruption" in source:
            policy.avoid_disruption = _flag(source, "avoidDisruption", where, True, errors)
            break


def _flag(
    source: Mapping[str, Any], name: str, where: str, default: bool, errors: list[str]
) -> bool:
    value = source.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.append(f"{where}.{name}: expected true or false, got {value!r}")
        return default
    return value


def _optional_count(value: Any, where: str, errors: list[str]) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        errors.append(f"{where}: expected a non-negative integer, got {value!r}")
        return None
    return value


def _string_map(value: Any, where: str, errors: list[str]) -> dict[str, str]:
    if not value:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        errors.append(f"{where}: expected a map of strings to strings")
        return {}
    return dict(value)


# -------------------------------------------------------- Federation v1 annotation


@dataclass(frozen=True)
class _V1Preferences:
    annotation: str
    raw: str
    rebalance: bool
    clusters: Preferences


def _parse_v1_annotation(workload: WorkloadInfo, problems: _Problems) -> _V1Preferences | None:
    own = V1_ANNOTATIONS.get(workload.kind)
    for kind, annotation in V1_ANNOTATIONS.items():
        if annotation != own and annotation in workload.annotations:
            problems.warnings.append(f"annotation {annotation} applies to {kind} only; ignored")
    if own is None or own not in workload.annotations:
        return None
    raw = workload.annotations[own]
    try:
        document = json.loads(raw)
    except ValueError as exc:
        problems.errors.append(f"annotation {own}: not valid JSON ({exc})")
        return None
    return _v1_preferences(own, raw, document, problems.errors)


def _v1_preferences(
    annotation: str, raw: str, document: Any, errors: list[str]
) -> _V1Preferences | None:
    if not isinstance(document, Mapping):
        errors.append(f"annotation {annotation}: expected a JSON object")
        return None
    found = len(errors)
    rebalance = _flag(document, "rebalance", f"annotation {annotation}", False, errors)
    entries = document.get("clusters") or _V1_EQUAL_SPREAD
    clusters: dict[str, dict[str, int | None]] = {}
    if not isinstance(entries, Mapping):
        errors.append(f"annotation {annotation}: clusters must be an object")
    else:
        for name, entry in entries.items():
            where = f"annotation {annotation}: clusters[{name!r}]"
            parsed = _parse_preferences(entry, where, errors)
            if parsed is not None:
                clusters[name] = {
                    "minReplicas": parsed.min_replicas,
                    "maxReplicas": parsed.max_replicas,
                    "weight": parsed.weight or 0,
                }
    if len(errors) > found:
        return None
    return _V1Preferences(annotation, raw, rebalance, clusters)


# ------------------------------------------------------------------ the decision


def _select(
    policy_or_spec: Policy | Mapping[str, Any] | None,
    clusters: ClusterSet | Sequence[ClusterInfo],
    workload: WorkloadInfo,
    current: CurrentPlacement,
) -> SchedulingResult:
    policy = policy_or_spec if isinstance(policy_or_spec, Policy) else parse_policy(policy_or_spec)
    fleet = clusters if isinstance(clusters, ClusterSet) else ClusterSet(clusters)
    problems = _Problems(policy.errors, [*policy.warnings, *fleet.warnings])
    _check_workload(workload, problems)
    v1 = _parse_v1_annotation(workload, problems)
    _check_unknown_names("spec.placement", policy.placement, fleet, problems)
    if v1 is not None:
        _check_unknown_names(f"annotation {v1.annotation}", v1.clusters, fleet, problems)
    known = list(fleet.by_name)
    if problems.errors:
        why = "the policy or the object has errors"
        return _kept(known, current, Reason.KEPT_ON_ERROR, why, problems.errors, problems.warnings)

    policy_hash = policy.content_hash if v1 is None else _short_hash([policy.content_hash, v1.raw])
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
    v1: _V1Preferences | None,
    fleet: ClusterSet,
    workload: WorkloadInfo,
    current: CurrentPlacement,
    problems: _Problems,
    fingerprint: dict[str, Any],
) -> SchedulingResult:
    reasons: dict[str, ClusterReason] = {}
    feasible: list[str] = []
    capped: dict[str, str] = {}  # held clusters with an untolerated NoSchedule taint
    for name, (reason, no_schedule) in policy.verdicts(fleet, workload.api_resource):
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
    divide = policy.mode == "Divide" or v1 is not None
    if divide and total is None:
        problems.warnings.append(f"{workload.kind} has no replicas field: copied, not divided")
    if not divide or total is None:
        placed: dict[str, int | None] = {name: total for name in chosen}
        for name in chosen:
            reasons[name] = _selected_reason(name, capped, None)
        return _result(placed, _in_order(reasons, fleet), problems, fingerprint)

    running = _running_replicas(current, chosen, total)
    if v1 is not None:
        division = _divide_v1(v1, chosen, total, workload.key, running, capped)
    else:
        division = _divide(policy, chosen, total, workload.key, running, capped)
    placed_replicas = _replicas_from(division, current, reasons, capped, v1 is not None)
    _warn_unplaced(total, placed_replicas, problems)
    ordered = _in_order(reasons, fleet)
    return _result(dict(placed_replicas), ordered, problems, fingerprint, division)


def _judge(cluster: ClusterInfo, policy: Policy, api_resource: str) -> _Verdict:
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
    if policy.affinity is not None and not _matches_affinity(policy.affinity, cluster.labels):
        return _never(
            Reason.AFFINITY_MISMATCH, "labels match none of the spec.clusterAffinity terms"
        )
    evicting = _untolerated_taint(cluster.taints, policy.tolerations, "NoExecute")
    if evicting is not None:
        return _never(
            Reason.TAINT_EVICTED, f"taint {evicting} is not tolerated: the object is evicted"
        )
    blocking = _untolerated_taint(cluster.taints, policy.tolerations, "NoSchedule")
    if blocking is None:
        return _FITS
    message = f"taint {blocking} is not tolerated: no new placement"
    return _Verdict(_excluded(Reason.TAINT_NOT_TOLERATED, message), blocking)


def _never(code: str, message: str) -> _Verdict:
    return _Verdict(_excluded(code, message))


_FITS: Final = _Verdict(None)


def _matches_affinity(terms: list[list[_Requirement]], labels: Mapping[str, str]) -> bool:
    # An empty term matches no cluster, as in KubeAdmiral.
    return any(term and all(r.matches(labels) for r in term) for term in terms)


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


# ------------------------------------------------------------------ replica division


def _divide(
    policy: Policy,
    chosen: list[str],
    total: int,
    key: str,
    running: dict[str, int],
    capped: Mapping[str, str],
) -> ReplicaDivision:
    preferences: Preferences = policy.planner_preferences
    if capped:
        capped_preferences = dict(preferences)
        for name in capped:
            entry = preferences.get(name) or preferences["*"]
            capped_preferences[name] = _capped_preference(entry, running.get(name, total))
        preferences = capped_preferences
    planned, overflow = plan(
        total,
        chosen,
        preferences,
        key=key,
        current=running,
        avoid_disruption=policy.avoid_disruption,
    )
    options = {"avoidDisruption": policy.avoid_disruption}
    return ReplicaDivision(
        "plan", total, tuple(chosen), preferences, running, options, planned, overflow
    )


def _divide_v1(
    v1: _V1Preferences,
    chosen: list[str],
    total: int,
    key: str,
    running: dict[str, int],
    capped: Mapping[str, str],
) -> ReplicaDivision:
    preferences = {name: dict(entry) for name, entry in v1.clusters.items()}
    for name in capped:
        entry = v1.clusters.get(name) or v1.clusters.get("*")
        if entry is not None:
            preferences[name] = _capped_preference(entry, running.get(name, total))
    planned, overflow = plan_v1(
        total,
        chosen,
        preferences,
        key=key,
        rebalance=v1.rebalance,
        current=running,
    )
    options = {"rebalance": v1.rebalance}
    return ReplicaDivision(
        "plan_v1", total, tuple(chosen), preferences, running, options, planned, overflow
    )


def _capped_preference(entry: Mapping[str, int | None], running: int) -> dict[str, int | None]:
    """No new replicas where a NoSchedule taint is not tolerated: cap at what runs there
    (KubeAdmiral lowers maxReplicas; the minimum follows so the preference stays valid)."""
    maximum = entry.get("maxReplicas")
    cap = running if maximum is None else min(maximum, running)
    return {**entry, "maxReplicas": cap, "minReplicas": min(entry.get("minReplicas") or 0, cap)}


def _running_replicas(current: CurrentPlacement, chosen: list[str], total: int) -> dict[str, int]:
    # A cluster without a replicas override runs the template's count, as KubeAdmiral assumes.
    candidates = set(chosen)
    return {
        name: total if count is None else count
        for name, count in current.clusters.items()
        if name in candidates
    }


def _replicas_from(
    division: ReplicaDivision,
    current: CurrentPlacement,
    reasons: dict[str, ClusterReason],
    capped: Mapping[str, str],
    zero_keeps_copy: bool,
) -> dict[str, int]:
    """The replicas to place (plan plus overflow) and each chosen cluster's reason.

    A cluster given 0 gets no copy; under Federation v1 rules an existing copy is scaled
    to 0 instead of deleted, as the v1 ReplicaSet controller did. An object scaled to 0
    keeps a copy (at 0) in every chosen cluster: scaling down is not leaving.
    """
    placed: dict[str, int] = {}
    zero_keeps_copy = zero_keeps_copy or division.total == 0
    counts = division.plan
    if division.overflow:
        counts = {name: counts.get(name, 0) + division.overflow.get(name, 0) for name in counts}
    for name in division.clusters:
        count = counts.get(name, 0)
        if count > 0:
            placed[name] = count
            reasons[name] = _selected_reason(name, capped, count)
        elif zero_keeps_copy and (name in current.clusters or division.total == 0):
            placed[name] = 0
            reasons[name] = _SCALED_TO_ZERO
        else:
            reasons[name] = _NO_REPLICAS
    return placed


_SCALED_TO_ZERO: Final = ClusterReason(
    True, Reason.SCALED_TO_ZERO, "0 replicas planned: the existing copy is scaled to 0"
)
_NO_REPLICAS: Final = ClusterReason(False, Reason.NO_REPLICAS, "the planner assigned 0 replicas")


def _selected_reason(name: str, capped: Mapping[str, str], count: int | None) -> ClusterReason:
    if name not in capped:
        return _selected(count)
    return ClusterReason(
        True,
        Reason.SELECTED,
        f"{_selected(count).message}; already holds the object, taint {capped[name]} is not "
        "tolerated" + ("" if count is None else ", so it gets no more replicas than it runs"),
    )


@lru_cache(maxsize=1024)
def _selected(count: int | None) -> ClusterReason:
    # Shared: the same few messages recur for every object.
    what = "copied (Duplicate)" if count is None else f"{count} replicas"
    return ClusterReason(True, Reason.SELECTED, f"selected, {what}")


# ------------------------------------------------------------------ fingerprints


def _readable_fingerprint(
    stored: Mapping[str, Any] | None, problems: _Problems
) -> Mapping[str, Any] | None:
    if not stored:
        return None
    if "policy" in stored and all(isinstance(stored.get(k), Mapping) for k in _TRIGGER_PARTS):
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


def _short_hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


# ------------------------------------------------------------------ v1 path


def _select_v1(
    clusters: ClusterSet | Sequence[ClusterInfo], workload: WorkloadInfo, current: CurrentPlacement
) -> SchedulingResult:
    fleet = clusters if isinstance(clusters, ClusterSet) else ClusterSet(clusters)
    problems = _Problems((), fleet.warnings)
    _check_workload(workload, problems)
    v1 = _parse_v1_annotation(workload, problems)
    if problems.errors:
        why = "the object has errors"
        known = list(fleet.by_name)
        return _kept(known, current, Reason.KEPT_ON_ERROR, why, problems.errors, problems.warnings)
    if v1 is None and workload.replicas is not None:
        v1 = _V1Preferences("(none)", "", False, _V1_EQUAL_SPREAD)
    # Kinds without replicas are copied everywhere, as v1 did for every other kind.
    fingerprint = fleet.fingerprint(_short_hash([None, v1 and v1.raw]), workload.replicas)
    return _schedule(Policy(), v1, fleet, workload, current, problems, fingerprint)


# ------------------------------------------------------------------ helpers


def _check_workload(workload: WorkloadInfo, problems: _Problems) -> None:
    replicas = workload.replicas
    if replicas is not None and (type(replicas) is not int or replicas < 0):
        problems.errors.append(f"replicas: expected a non-negative integer, got {replicas!r}")


def _check_unknown_names(
    where: str, names: Mapping[str, Any], fleet: ClusterSet, problems: _Problems
) -> None:
    # An error, not a warning: a typo in a cluster name must never move (or delete) copies.
    unknown = sorted(n for n in names if n != "*" and n not in fleet.by_name)
    if unknown:
        problems.errors.append(f"{where} names clusters that are not members: {', '.join(unknown)}")


def _warn_sticky_replicas(
    previous: Mapping[str, Any] | None, workload: WorkloadInfo, problems: _Problems
) -> None:
    if previous is not None and previous.get("replicas") != workload.replicas:
        problems.warnings.append(
            f"replicas changed from {previous.get('replicas')} to {workload.replicas}, but "
            "rescheduling is disabled: the per-cluster replicas are kept"
        )


def _warn_unplaced(total: int, placed: Mapping[str, int], problems: _Problems) -> None:
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
    problems: _Problems,
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


def _format_preference(pref: Mapping[str, int | None] | None) -> str:
    if pref is None:
        return "none"
    return ", ".join(f"{k}={v}" for k, v in pref.items() if v is not None) or "none"


def _kind_of(value: object) -> str:
    return type(value).__name__


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
