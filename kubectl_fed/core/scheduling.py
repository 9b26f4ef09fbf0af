"""What cluster selection takes and gives: the member clusters (ClusterInfo, ClusterSet),
the object to place (WorkloadInfo, CurrentPlacement), and the decision (SchedulingResult,
with a ClusterReason per cluster and, for Divide, its ReplicaDivision).

The decision itself is core/selection.py; the policy it applies, core/policy.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.objects import short_hash
from kubectl_fed.core.replicas import Preferences

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


TRIGGER_PARTS: Final = ("labels", "taints", "apiResources")


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
            part: {name: h[i] for name, h in hashes.items()} for i, part in enumerate(TRIGGER_PARTS)
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
    return short_hash(dict(cluster.labels)), short_hash(taints), short_hash(resources)


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


def cluster_info(cluster: Mapping[str, Any], ready: bool | None = None) -> ClusterInfo:
    """A FederatedCluster object as selection sees it. `ready` defaults to its recorded
    Ready condition; `status.apiResourceTypes`, when recorded, says what it serves."""
    metadata = cluster.get("metadata") or {}
    status = cluster.get("status") or {}
    resources = status.get("apiResourceTypes")
    served = (
        frozenset(
            f"{r['group']}/{r['version']}/{r['pluralName']}"
            if r.get("group")
            else f"{r['version']}/{r['pluralName']}"
            for r in resources
        )
        if resources
        else None
    )
    if ready is None:
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
    return ClusterInfo(
        name=str(metadata.get("name", "")),
        labels=metadata.get("labels") or {},
        taints=(cluster.get("spec") or {}).get("taints") or [],
        ready=ready,
        api_resources=served,
    )


def workload_info(
    obj: Mapping[str, Any], ftype: FederatedType, annotations: Mapping[str, str] | None = None
) -> WorkloadInfo:
    """The object to place, as selection sees it (annotations: the v1 preferences may sit
    on another object than the template, e.g. the host's native object)."""
    metadata = obj.get("metadata") or {}
    namespace, name = metadata.get("namespace") or "", str(metadata.get("name", ""))
    return WorkloadInfo(
        kind=ftype.kind,
        api_resource=ftype.api_resource,
        key=f"{namespace}/{name}" if namespace else name,
        replicas=_replicas(obj, ftype.replicas_path),
        annotations=(metadata.get("annotations") or {}) if annotations is None else annotations,
    )


def _replicas(obj: Mapping[str, Any], path: tuple[str, ...] | None) -> int | None:
    """The replicas at `path`; an absent `replicas` field is 1, as the API defaults it."""
    if not path:
        return None
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return 1 if part == path[-1] and path[-1] == "replicas" else None
        node = node[part]
    return node if isinstance(node, int) else None


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

    planner: Literal["plan", "plan_v1"]  # KubeAdmiral's, or Federation v1 / KubeFed's
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


class Verdict(NamedTuple):
    reason: ClusterReason | None  # why the cluster is left out; None when it fits
    # The untolerated NoSchedule taint behind ``reason``: a cluster that already holds
    # the object keeps it anyway.
    no_schedule: str | None = None


def _format_preference(pref: Mapping[str, int | None] | None) -> str:
    if pref is None:
        return "none"
    return ", ".join(f"{k}={v}" for k, v in pref.items() if v is not None) or "none"


@dataclass
class SchedulingRecord:
    """A scheduling decision as the FederatedObject's `status.scheduling` keeps it: the
    chosen clusters, replicas per cluster, a typed reason per cluster, the fingerprint of
    the inputs it was made from, and the set of Ready clusters it saw. `kept` marks "no
    scheduling ran" (no policy, or placed by hand): the placement stays as written."""

    clusters: list[str] = field(default_factory=list)
    replicas: dict[str, int] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    divided: bool = False
    reasons: dict[str, ClusterReason] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    deferred_reason: str | None = None
    ready: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # of this pass; never stored
    kept: bool = False

    @classmethod
    def of(cls, outcome: SchedulingResult, ready: list[str]) -> SchedulingRecord:
        return cls(
            clusters=sorted(outcome.clusters),
            replicas={c: n for c, n in outcome.clusters.items() if n is not None},
            fingerprint=dict(outcome.fingerprint),
            divided=outcome.division is not None,
            reasons=dict(sorted(outcome.reasons.items())),
            warnings=list(outcome.warnings),
            deferred_reason=outcome.deferred_reason,
            ready=list(ready),
            errors=list(outcome.errors),
        )

    def to_status(self) -> dict[str, Any]:
        """The status.scheduling map (reasons as `code: message`, as stored so far)."""
        status: dict[str, Any] = {
            "clusters": list(self.clusters),
            "replicas": dict(self.replicas),
            "fingerprint": self.fingerprint,
            "divided": self.divided,
            "reasons": {c: f"{r.code}: {r.message}" for c, r in self.reasons.items()},
            "ready": list(self.ready),
        }
        if self.warnings:
            status["warnings"] = list(self.warnings)
        if self.deferred_reason:
            status["deferredReason"] = self.deferred_reason
        return status

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None) -> SchedulingRecord:
        """Read back what to_status wrote (tolerant: a field missing is empty)."""
        status = status or {}
        clusters = [str(c) for c in status.get("clusters") or []]
        reasons = {}
        for cluster, text in (status.get("reasons") or {}).items():
            code, _, message = str(text).partition(": ")
            reasons[str(cluster)] = ClusterReason(cluster in clusters, code, message)
        return cls(
            clusters=clusters,
            replicas={str(c): int(n) for c, n in (status.get("replicas") or {}).items()},
            fingerprint=dict(status.get("fingerprint") or {}),
            divided=bool(status.get("divided")),
            reasons=reasons,
            warnings=[str(w) for w in status.get("warnings") or []],
            deferred_reason=status.get("deferredReason") or None,
            ready=[str(c) for c in status.get("ready") or []],
        )
