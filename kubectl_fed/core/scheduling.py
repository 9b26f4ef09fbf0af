"""What cluster selection takes and gives: the member clusters (ClusterInfo, ClusterSet),
the object to place (WorkloadInfo, CurrentPlacement), and the decision (SchedulingResult,
with a ClusterReason per cluster and, for Divide, its ReplicaDivision).

The decision itself is core/selection.py; the policy it applies, core/policy.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

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
            part: {name: h[i] for name, h in hashes.items()}
            for i, part in enumerate(TRIGGER_PARTS)
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
