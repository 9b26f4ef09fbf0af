"""Kubernetes Events (core/v1) for what a sync pass did, so that `kubectl describe` on a
template or its FederatedObject tells the story: where it was placed, what failed where,
what was adopted, corrected or deleted.

Pure: what is news (compared with what the FederatedObject recorded before the pass) and
the Event bodies and count bumps, built as client-go's event recorder and correlator build
them. sync/events.py writes them.

Events are aggregated like client-go's correlator: the same involved object, type, reason
and message (and source) is one Event whose `count` and `lastTimestamp` are bumped. The
Event's name is derived from that key, so a later `sync` process finds it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core.objects import Object
from kubectl_fed.core.propagation import ADOPTED_MESSAGE
from kubectl_fed.core.status import ClusterStatus

COMPONENT = "kubectl-fed"  # source.component, as kubectl describe shows it ("From")
# events.k8s.io names the emitting controller with a qualified name (`kubernetes.io/kubelet`)
# and the instance apart; core/v1 carries both as reportingComponent / reportingInstance.
REPORTING_COMPONENT = "kubectl-fed.io/sync"
NORMAL = "Normal"
WARNING = "Warning"
MESSAGE_LIMIT = 1024  # events.k8s.io's note limit
STATUS_MESSAGE_LIMIT = 300  # what a status.clusters entry keeps of a message (sync.status)
CONDITION_MESSAGE_LIMIT = 500  # what the Propagated condition keeps of the errors
# Where a cluster-scoped object's Events go, as Kubernetes does (a Node's, a Namespace's).
CLUSTER_SCOPED_NAMESPACE = "default"

# Reasons of kubectl-fed's own (per-cluster failures use the status code as the reason).
PLACEMENT_CHANGED = "PlacementChanged"
REPLICAS_REDIVIDED = "ReplicasRedivided"
KEPT_ON_ERROR = "KeptOnError"
POLICY_NOT_FOUND = "PolicyNotFound"
PROPAGATION_FAILED = "PropagationFailed"
ADOPTED = "Adopted"
DRIFT_CORRECTED = "DriftCorrected"
DELETED = "DeletedFromCluster"
ORPHANED = "Orphaned"

# Per-cluster codes that are not news of their own: OK, the transient ones, and an
# unreachable member (a cluster's problem, shown by `clusters` and `doctor`, not each of
# its objects': one member down would otherwise write an Event per object).
_QUIET_CODES = frozenset(
    {
        ClusterStatus.OK,
        ClusterStatus.PENDING_CREATE,
        ClusterStatus.WAITING_FOR_REMOVAL,
        ClusterStatus.PENDING_SYNC,
        ClusterStatus.CLUSTER_NOT_READY,
        ClusterStatus.CLUSTER_TERMINATING,
    }
)


@dataclass(frozen=True)
class Occurrence:
    """Something worth an Event: its type, reason, message and action."""

    type: str
    reason: str
    message: str
    action: str


# --------------------------------------------------------------------------- what is news


@dataclass(frozen=True)
class ClusterOutcome:
    """One cluster after the pass: its code and message, whether a write was carried out
    there ("apply", "delete", "unmark"), and the drifted fields it put back."""

    status: str
    message: str = ""
    done: str = ""
    drifted: tuple[str, ...] = ()


def recorded_clusters(fo: Object | None) -> dict[str, tuple[str, str]]:
    """cluster -> (code, message) as the FederatedObject's status recorded them."""
    entries = ((fo or {}).get("status") or {}).get("clusters") or []
    return {
        str(e["cluster"]): (str(e.get("status", "")), str(e.get("message") or ""))
        for e in entries
        if e.get("cluster")
    }


def recorded_errors(fo: Object | None) -> str | None:
    """The object-level errors the Propagated condition recorded (None: none)."""
    for condition in ((fo or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Propagated" and condition.get("reason") == "CheckErrors":
            return str(condition.get("message") or "")
    return None


def cluster_occurrences(
    before: Mapping[str, tuple[str, str]],
    after: Mapping[str, ClusterOutcome],
    leaving: bool = False,
) -> list[Occurrence]:
    """Per cluster: a failure that is new or changed since it was recorded (Warning, the
    status code as reason), and what a write did there (Normal: adopted in place, drift
    corrected, copy deleted or orphaned). A failure recorded unchanged is no news."""
    found = []
    for cluster, outcome in sorted(after.items()):
        code = str(outcome.status)
        if outcome.done == "delete" and code not in _FAILED_REMOVAL:
            why = "the object left the federation" if leaving else "no longer placed there"
            found.append(Occurrence(NORMAL, DELETED, f"{cluster}: copy deleted ({why})", "Delete"))
            continue
        if outcome.done == "unmark" and code not in _FAILED_REMOVAL:
            why = f": {outcome.message}" if outcome.message else ""
            message = f"{cluster}: copy left running without the federation's marks (orphaned)"
            found.append(Occurrence(NORMAL, ORPHANED, message + why, "Orphan"))
            continue
        if code == ClusterStatus.OK and outcome.done == "apply":
            if outcome.message == ADOPTED_MESSAGE:
                message = f"{cluster}: existing object adopted in place"
                found.append(Occurrence(NORMAL, ADOPTED, message, "Adopt"))
            elif outcome.drifted:
                message = f"{cluster}: drift corrected: {', '.join(outcome.drifted[:5])}"
                found.append(Occurrence(NORMAL, DRIFT_CORRECTED, message, "Propagate"))
            continue
        if code in _QUIET_CODES:
            continue
        message = outcome.message[:STATUS_MESSAGE_LIMIT]
        if before.get(cluster) == (code, message):
            continue  # recorded as it is: no news
        found.append(Occurrence(WARNING, code, f"{cluster}: {outcome.message}", "Propagate"))
    return found


_FAILED_REMOVAL = frozenset(
    {
        ClusterStatus.DELETION_FAILED,
        ClusterStatus.CLUSTER_NOT_READY,
        ClusterStatus.RETRIEVAL_FAILED,
    }
)


def error_occurrences(
    recorded: str | None, errors: list[str], scheduling_errors: Iterable[str]
) -> list[Occurrence]:
    """Object-level errors not already recorded in the Propagated condition (Warning).
    A policy that cannot be honoured, or that places the object nowhere, is KeptOnError:
    the previous placement stays."""
    if not errors:
        return []
    joined = "; ".join(errors)[:CONDITION_MESSAGE_LIMIT]
    if recorded == joined:
        return []
    scheduling = set(scheduling_errors)
    found = []
    for error in errors:
        if recorded is not None and error in recorded:
            continue  # already recorded; another error is the news
        if error in scheduling or error == "placed in no cluster":
            reason = KEPT_ON_ERROR
        elif error.endswith(" not found") and "Policy " in error:
            reason = POLICY_NOT_FOUND
        else:
            reason = PROPAGATION_FAILED
        found.append(Occurrence(WARNING, reason, error, "Schedule"))
    return found


def placement_occurrences(
    before: list[str] | None,
    before_replicas: Mapping[str, int],
    after: Mapping[str, int | None],
    divided: bool,
) -> list[Occurrence]:
    """Clusters added or removed (or the first placement), or replicas divided anew
    (Normal). `before` None: the object was not placed before (a new FederatedObject)."""
    old = set(before or [])
    new = set(after)
    replicas = {c: n for c, n in after.items() if n is not None} if divided else {}

    def listed(clusters: Iterable[str]) -> str:
        return ", ".join(
            f"{c} ({replicas[c]} replicas)" if c in replicas else c for c in sorted(clusters)
        )

    if old != new:
        if not new:
            return []  # placed nowhere is never acted on (KeptOnError says why)
        changes = []
        if old and new - old:
            changes.append("added " + ", ".join(sorted(new - old)))
        if old and old - new:
            changes.append("removed " + ", ".join(sorted(old - new)))
        message = f"placed in {listed(new)}" + (f" ({'; '.join(changes)})" if changes else "")
        return [Occurrence(NORMAL, PLACEMENT_CHANGED, message, "Schedule")]
    if replicas and any(before_replicas.get(c) != n for c, n in replicas.items()):
        was = ", ".join(
            str(before_replicas[c]) if c in before_replicas else "-" for c in sorted(replicas)
        )
        message = f"replicas divided: {listed(new)} (was {was})"
        return [Occurrence(NORMAL, REPLICAS_REDIVIDED, message, "Schedule")]
    return []


# --------------------------------------------------------------------------- Event bodies


def reference(obj: Object) -> dict[str, Any]:
    """An ObjectReference to `obj` (client-go's GetReference, without resourceVersion:
    the Event is about the object, not one version of it)."""
    metadata = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": metadata.get("name", ""),
        "uid": metadata.get("uid", ""),
    }
    if metadata.get("namespace"):
        ref["namespace"] = metadata["namespace"]
    return {k: v for k, v in ref.items() if v}


def owner_reference(owner: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """An ObjectReference from an ownerReference of an object in `namespace`."""
    ref = {k: owner.get(k) for k in ("apiVersion", "kind", "name", "uid") if owner.get(k)}
    if namespace:
        ref["namespace"] = namespace
    return ref


def event_namespace(ref: Mapping[str, Any]) -> str:
    return str(ref.get("namespace") or CLUSTER_SCOPED_NAMESPACE)


def event_name(ref: Mapping[str, Any], occurrence: Occurrence) -> str:
    """`<object name>.<hash of the aggregation key>`: one Event per key, found again by
    any sync (client-go's names carry a timestamp instead, and its cache lives in one
    process)."""
    key = "\x00".join(
        [
            COMPONENT,
            str(ref.get("apiVersion", "")),
            str(ref.get("kind", "")),
            str(ref.get("namespace", "")),
            str(ref.get("name", "")),
            str(ref.get("uid", "")),
            occurrence.type,
            occurrence.reason,
            occurrence.message[:MESSAGE_LIMIT],
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{str(ref.get('name', 'object'))[: 253 - 17]}.{digest}"


def new_event(
    ref: Mapping[str, Any],
    occurrence: Occurrence,
    instance: str,
    now: str,
    related: Mapping[str, Any] | None = None,
) -> Object:
    """A core/v1 Event as client-go's recorder makes one (count 1, first = last time),
    with the events.k8s.io reporting fields."""
    event: Object = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(ref, occurrence), "namespace": event_namespace(ref)},
        "involvedObject": dict(ref),
        "type": occurrence.type,
        "reason": occurrence.reason,
        "message": occurrence.message[:MESSAGE_LIMIT],
        "action": occurrence.action,
        "source": {"component": COMPONENT},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": instance[:128],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    if related:
        event["related"] = dict(related)
    return event


def bumped(count: int, now: str) -> Object:
    """The merge patch of a repeated Event (client-go's correlator: count and last time)."""
    return {"count": count + 1, "lastTimestamp": now}
