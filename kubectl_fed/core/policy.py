"""PropagationPolicy and ClusterPropagationPolicy specs, and the Federation v1 preferences
annotation, parsed and checked: what cluster selection (core/selection.py) applies, and
what `kubectl fed explain` shows.

Parsing never raises: problems land in ``errors`` (the placement is then left as it was)
and ``warnings``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

from kubectl_fed.core.labels import (
    OPERATORS,
    key_problem,
    requirement_matches,
    requirement_problem,
    value_problem,
)
from kubectl_fed.core.objects import short_hash
from kubectl_fed.core.replicas import Preferences, PreparedPreferences

if TYPE_CHECKING:
    from kubectl_fed.core.scheduling import ClusterSet, Verdict

# Federation v1's replica preferences, per kind (read by select_clusters_v1, and by
# select_clusters when a policy-governed object still carries one).
V1_ANNOTATIONS: Final = {
    "Deployment": "federation.kubernetes.io/deployment-preferences",
    "ReplicaSet": "federation.kubernetes.io/replica-set-preferences",
}
V1_EQUAL_SPREAD: Final[Preferences] = {"*": {"weight": 1}}


SchedulingMode = Literal["Duplicate", "Divide"]
MODES: Final[tuple[SchedulingMode, ...]] = ("Duplicate", "Divide")
_TOLERATION_OPERATORS: Final = ("", "Equal", "Exists")
TRIGGER_DEFAULTS: Final = {
    "policyContentChanged": True,
    "clusterJoined": False,
    "clusterLabelsChanged": False,
    "clusterAPIResourcesChanged": False,
}
# Not part of where the object goes, so changing them must not reschedule (as KubeAdmiral).
_POLICY_FIELDS_NOT_HASHED: Final = ("disableFollowerScheduling", "autoMigration")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return requirement_matches(self.key, self.operator, self.values, labels)


# The cluster fields a clusterAffinity term's matchFields can name (KubeAdmiral's field set),
# and the operators its scheduler takes there, each with exactly one value.
CLUSTER_FIELDS: Final = ("metadata.name",)
FIELD_OPERATORS: Final = ("In", "NotIn")


@dataclass(frozen=True)
class AffinityTerm:
    """One clusterAffinity term: its label expressions and name fields, all ANDed.

    `invalid` says why the term can match nothing: a label key or value that is not
    well-formed makes KubeAdmiral's label selector fail, and its scheduler then takes the
    cluster as not matching (no error). An empty term matches nothing either.
    """

    expressions: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()  # key: a CLUSTER_FIELDS entry
    invalid: str = ""

    @property
    def empty(self) -> bool:
        return not self.expressions and not self.fields and not self.invalid

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        values = {"metadata.name": name}
        return all(r.matches(labels) for r in self.expressions) and all(
            (values.get(f.key) in f.values) == (f.operator == "In") for f in self.fields
        )


@dataclass(frozen=True)
class PlacementPreference:
    min_replicas: int
    max_replicas: int | None
    weight: int | None


@dataclass
class Policy:
    """A parsed (Cluster)PropagationPolicy spec, from ``parse_policy``.

    Parsing costs more than placing one object, so the sync loop parses a policy once
    and passes the result to ``select_clusters`` for every object it governs.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""
    mode: SchedulingMode = "Duplicate"
    cluster_selector: dict[str, str] = field(default_factory=dict)
    affinity: list[AffinityTerm] | None = None  # None: no affinity, every cluster fits
    tolerations: list[Mapping[str, Any]] = field(default_factory=list)
    max_clusters: int | None = None
    placement: dict[str, PlacementPreference] = field(default_factory=dict)
    sticky: bool = False
    triggers: dict[str, bool] = field(default_factory=lambda: dict(TRIGGER_DEFAULTS))
    avoid_disruption: bool = True
    # Selection's verdicts on the clusters, kept with the policy since every object it
    # places asks the same of every cluster (core/selection.py `verdicts`). API resource ->
    # (the ClusterSet judged, a verdict per cluster). A new cluster list comes as a new
    # ClusterSet, which the identity check sends to fresh verdicts.
    verdict_memo: dict[str, tuple[ClusterSet, list[tuple[str, Verdict]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

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


class Problems:
    """What parsing and selection found wrong so far."""

    def __init__(self, errors: Sequence[str] = (), warnings: Sequence[str] = ()) -> None:
        self.errors: list[str] = list(errors)
        self.warnings: list[str] = list(warnings)


def parse_policy(spec: Mapping[str, Any] | None) -> Policy:
    """Parse and check a policy spec. Never raises: problems land in ``errors`` and
    ``warnings``, and ``select_clusters`` keeps the placement while there are errors."""
    problems = Problems()
    policy = Policy(errors=problems.errors, warnings=problems.warnings)
    if spec is None:
        problems.errors.append("no propagation policy: the object names none, or it was not found")
    elif not isinstance(spec, Mapping):
        problems.errors.append(f"spec: expected a mapping, got {_kind_of(spec)}")
    else:
        _parse_spec(spec, policy, problems)
        policy.content_hash = short_hash(
            {k: v for k, v in spec.items() if k not in _POLICY_FIELDS_NOT_HASHED}
        )
    return policy


def _parse_spec(spec: Mapping[str, Any], policy: Policy, problems: Problems) -> None:
    errors = problems.errors
    mode = spec.get("schedulingMode") or "Duplicate"
    known = next((m for m in MODES if m == mode), None)
    if known is not None:
        policy.mode = known
    else:
        errors.append(f"spec.schedulingMode: unknown mode {mode!r}; expected Duplicate or Divide")
    policy.cluster_selector = _string_map(
        spec.get("clusterSelector"), "spec.clusterSelector", errors
    )
    policy.affinity = _parse_affinity(spec.get("clusterAffinity"), problems)
    policy.tolerations = _parse_tolerations(spec.get("tolerations"), errors)
    policy.max_clusters = _optional_count(spec.get("maxClusters"), "spec.maxClusters", errors)
    policy.placement = _parse_placement(spec.get("placement"), problems)
    _parse_reschedule_policy(spec, policy, errors)
    if spec.get("schedulingProfile"):
        problems.warnings.append(
            f"spec.schedulingProfile {spec['schedulingProfile']!r} is accepted but not applied: "
            "kubectl-fed schedules with the default profile"
        )


def _parse_affinity(terms: Any, problems: Problems) -> list[AffinityTerm] | None:
    if not terms:
        return None  # KubeAdmiral ignores an empty clusterAffinity
    if not isinstance(terms, list):
        problems.errors.append(
            f"spec.clusterAffinity: expected a list of terms, got {_kind_of(terms)}"
        )
        return None
    return [
        term
        for i, raw in enumerate(terms)
        if (term := _parse_term(raw, f"spec.clusterAffinity[{i}]", problems)) is not None
    ]


def _parse_term(term: Any, where: str, problems: Problems) -> AffinityTerm | None:
    errors = problems.errors
    if not isinstance(term, Mapping):
        errors.append(f"{where}: expected a mapping, got {_kind_of(term)}")
        return None
    parsed: dict[str, list[Requirement]] = {}
    for part in ("matchExpressions", "matchFields"):
        entries = term.get(part) or []
        if not isinstance(entries, list):
            errors.append(f"{where}.{part}: expected a list")
            return None
        found = [
            _parse_requirement(e, f"{where}.{part}[{j}]", errors) for j, e in enumerate(entries)
        ]
        parsed[part] = [r for r in found if r is not None]
    fields = parsed["matchFields"]
    for j, field_ in enumerate(fields):
        if field_.key not in CLUSTER_FIELDS:
            errors.append(
                f"{where}.matchFields[{j}]: only metadata.name can be matched, not {field_.key!r}"
            )
        elif field_.operator not in FIELD_OPERATORS or len(field_.values) != 1:
            errors.append(f"{where}.matchFields[{j}]: takes In or NotIn with exactly one value")
    invalid = next(filter(None, map(_label_problem, parsed["matchExpressions"])), "")
    if invalid:
        problems.warnings.append(f"{where}: {invalid}: the term matches no cluster")
    return AffinityTerm(tuple(parsed["matchExpressions"]), tuple(fields), invalid)


def _label_problem(requirement: Requirement) -> str | None:
    """What KubeAdmiral's label selector refuses in a well-shaped expression: a key that is
    not a qualified name, a value that is not a label value (`Gt`/`Lt` ones included)."""
    return key_problem(requirement.key) or next(
        filter(None, map(value_problem, requirement.values)), None
    )


def _parse_requirement(expr: Any, where: str, errors: list[str]) -> Requirement | None:
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
    return Requirement(expr["key"], operator, tuple(values))


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


def _parse_placement(entries: Any, problems: Problems) -> dict[str, PlacementPreference]:
    if not entries:
        return {}
    if not isinstance(entries, list):
        problems.errors.append(f"spec.placement: expected a list, got {_kind_of(entries)}")
        return {}
    placement: dict[str, PlacementPreference] = {}
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
) -> PlacementPreference | None:
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
    return PlacementPreference(minimum or 0, maximum, weight)


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
        for trigger, default in TRIGGER_DEFAULTS.items():
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
class V1Preferences:
    """A Federation v1 preferences annotation, parsed into ``plan_v1`` preferences."""

    annotation: str
    raw: str
    rebalance: bool
    clusters: Preferences


def parse_v1_annotation(
    kind: str, annotations: Mapping[str, str], problems: Problems
) -> V1Preferences | None:
    """The v1 preferences annotation of an object of ``kind``, if it has one."""
    own = V1_ANNOTATIONS.get(kind)
    for other, annotation in V1_ANNOTATIONS.items():
        if annotation != own and annotation in annotations:
            problems.warnings.append(f"annotation {annotation} applies to {other} only; ignored")
    if own is None or own not in annotations:
        return None
    raw = annotations[own]
    try:
        document = json.loads(raw)
    except ValueError as exc:
        problems.errors.append(f"annotation {own}: not valid JSON ({exc})")
        return None
    return _v1_preferences(own, raw, document, problems.errors)


def _v1_preferences(
    annotation: str, raw: str, document: Any, errors: list[str]
) -> V1Preferences | None:
    if not isinstance(document, Mapping):
        errors.append(f"annotation {annotation}: expected a JSON object")
        return None
    found = len(errors)
    rebalance = _flag(document, "rebalance", f"annotation {annotation}", False, errors)
    entries = document.get("clusters") or V1_EQUAL_SPREAD
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
    return V1Preferences(annotation, raw, rebalance, clusters)


def _kind_of(value: object) -> str:
    return type(value).__name__
