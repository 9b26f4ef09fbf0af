"""Whether one copy of a workload has rolled out, in `kubectl rollout status`'s words.

kubectl's status viewers (k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go), for
the kinds it has one: Deployment, DaemonSet, StatefulSet. Same checks in the same order,
same messages (without the trailing newline). `in_cluster` names the member a message is
about, as `kubectl fed rollout status` prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core.objects import Object, field_at

TIMED_OUT = "ProgressDeadlineExceeded"  # kubectl's deploymentutil.TimedOutReason


@dataclass(frozen=True)
class Verdict:
    """One look at one copy. `error`: the rollout failed (kubectl returns it as an error);
    `reason`: a word for it (GenerationNotObserved, ReplicasUpdating, ..., RolledOut);
    `detail`: the message without kubectl's "Waiting for ... to finish: " and "...",
    for tables."""

    done: bool
    message: str
    reason: str
    detail: str = ""
    error: str = ""


Viewer = Callable[[Object], Verdict]


def deployment(obj: Object) -> Verdict:
    name, spec, status = _parts(obj)
    if count(field_at(obj, "metadata", "generation")) > count(status.get("observedGeneration")):
        return _not_observed("deployment")
    progressing = condition_of(status, "Progressing")
    if progressing and progressing.get("reason") == TIMED_OUT:
        error = f'deployment "{name}" exceeded its progress deadline'
        return Verdict(False, "", TIMED_OUT, str(progressing.get("message") or error), error)
    wanted = spec.get("replicas")
    updated, replicas = count(status.get("updatedReplicas")), count(status.get("replicas"))
    available = count(status.get("availableReplicas"))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if isinstance(wanted, int) and updated < wanted:
        detail = f"{updated} out of {wanted} new replicas have been updated"
        return Verdict(False, f"{waiting}{detail}...", "ReplicasUpdating", detail)
    if replicas > updated:
        detail = f"{replicas - updated} old replicas are pending termination"
        return Verdict(False, f"{waiting}{detail}...", "OldReplicasPending", detail)
    if available < updated:
        detail = f"{available} of {updated} updated replicas are available"
        return Verdict(False, f"{waiting}{detail}...", "ReplicasUnavailable", detail)
    return Verdict(True, f'deployment "{name}" successfully rolled out', "RolledOut")


def daemonset(obj: Object) -> Verdict:
    name, spec, status = _parts(obj)
    strategy = _strategy_error(spec)
    if strategy:
        return Verdict(True, "", "UnsupportedStrategy", strategy, strategy)
    if count(field_at(obj, "metadata", "generation")) > count(status.get("observedGeneration")):
        return _not_observed("daemon set")
    desired = count(status.get("desiredNumberScheduled"))
    updated, available = (
        count(status.get("updatedNumberScheduled")),
        count(status.get("numberAvailable")),
    )
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        detail = f"{updated} out of {desired} new pods have been updated"
        return Verdict(False, f"{waiting}{detail}...", "PodsUpdating", detail)
    if available < desired:
        detail = f"{available} of {desired} updated pods are available"
        return Verdict(False, f"{waiting}{detail}...", "PodsUnavailable", detail)
    return Verdict(True, f'daemon set "{name}" successfully rolled out', "RolledOut")


def statefulset(obj: Object) -> Verdict:
    _, spec, status = _parts(obj)
    strategy = _strategy_error(spec)
    if strategy:
        return Verdict(True, "", "UnsupportedStrategy", strategy, strategy)
    observed = count(status.get("observedGeneration"))
    if observed == 0 or count(field_at(obj, "metadata", "generation")) > observed:
        return _not_observed("statefulset")
    wanted, ready = spec.get("replicas"), count(status.get("readyReplicas"))
    updated = count(status.get("updatedReplicas"))
    if isinstance(wanted, int) and ready < wanted:
        detail = f"{wanted - ready} pods not ready"
        return Verdict(
            False, f"Waiting for {wanted - ready} pods to be ready...", "PodsNotReady", detail
        )
    rolling = field_at(spec, "updateStrategy", "rollingUpdate")
    if isinstance(rolling, dict):
        partition = rolling.get("partition")
        if isinstance(wanted, int) and isinstance(partition, int) and updated < wanted - partition:
            detail = f"{updated} out of {wanted - partition} new pods have been updated"
            message = f"Waiting for partitioned roll out to finish: {detail}..."
            return Verdict(False, message, "PodsUpdating", detail)
        message = f"partitioned roll out complete: {updated} new pods have been updated..."
        return Verdict(True, message, "RolledOut")
    revision, current = status.get("updateRevision"), status.get("currentRevision")
    if revision != current:
        detail = f"{updated} pods updated to revision {revision}"
        message = (
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {revision}..."
        )
        return Verdict(False, message, "RevisionUpdating", detail)
    pods = count(status.get("currentReplicas"))
    message = f"statefulset rolling update complete {pods} pods at revision {current}..."
    return Verdict(True, message, "RolledOut")


VIEWERS: dict[tuple[str, str], Viewer] = {
    ("apps", "Deployment"): deployment,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "StatefulSet"): statefulset,
}


def viewer_for(group: str, kind: str) -> Viewer | None:
    return VIEWERS.get((group, kind))


def unsupported(group: str, kind: str) -> str:
    """kubectl's error for a kind without a status viewer (GroupKind as Go prints it)."""
    return f"no status viewer has been implemented for {kind}{'.' + group if group else ''}"


def in_cluster(text: str, cluster: str) -> str:
    """A kubectl message about one member: "... are available in member-1...",
    "deployment "web" successfully rolled out in member-1"."""
    if text.endswith("..."):
        return f"{text[:-3]} in {cluster}..."
    return f"{text} in {cluster}"


def _not_observed(what: str) -> Verdict:
    return Verdict(
        False,
        f"Waiting for {what} spec update to be observed...",
        "GenerationNotObserved",
        "the member's controller has not observed the latest spec",
    )


def _strategy_error(spec: Object) -> str:
    """DaemonSets and StatefulSets roll out only with RollingUpdate (the API's default)."""
    strategy = field_at(spec, "updateStrategy", "type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        return "rollout status is only available for RollingUpdate strategy type"
    return ""


def _parts(obj: Object) -> tuple[str, Object, Object]:
    spec, status = obj.get("spec"), obj.get("status")
    return (
        str(field_at(obj, "metadata", "name") or ""),
        spec if isinstance(spec, dict) else {},
        status if isinstance(status, dict) else {},
    )


def condition_of(status: Object, type_: str) -> Object | None:
    """The status condition of that type, if any (malformed entries skipped)."""
    for found in status.get("conditions") or []:
        if isinstance(found, dict) and found.get("type") == type_:
            return found
    return None


def count(value: Any) -> int:
    """A status count as the member wrote it, 0 when absent or not an integer."""
    return value if isinstance(value, int) else 0


# --------------------------------------------------------------------------- federated

NOUNS = {"Deployment": "deployment", "DaemonSet": "daemon set", "StatefulSet": "statefulset"}


@dataclass(frozen=True)
class MemberCopy:
    """One placed cluster as `kubectl fed rollout status` reads it: the code and generation
    the FederatedObject recorded for it, its copy (None: none), or why it could not be read."""

    cluster: str
    code: str = ""  # status.clusters[].status; "" when no sync has recorded it
    recorded: int | None = None  # status.clusters[].lastObservedGeneration
    copy: Object | None = None
    error: str = ""
    message: str = ""  # status.clusters[].message


@dataclass(frozen=True)
class Progress:
    """Where a federated rollout stands: one line per cluster (and for the whole object,
    key ""), each in kubectl's words; `done` once every placed member has rolled out the
    current template; `error` when one failed."""

    lines: dict[str, str]
    done: bool = False
    error: str = ""


def federated_rollout(
    kind: str, name: str, viewer: Viewer, waiting: str, members: list[MemberCopy]
) -> Progress:
    """`waiting`: why the federation has not taken the current template yet ("" when
    every placed member has been sent it); `members`: every placed cluster."""
    noun = NOUNS.get(kind, kind.lower())
    if waiting:
        return Progress({"": f'Waiting for {noun} "{name}" {waiting}...'})
    if not members:
        return Progress({"": f'Waiting for {noun} "{name}" to be placed on a member cluster...'})
    lines: dict[str, str] = {}
    finished = True
    for member in members:
        verdict = _member_verdict(noun, name, viewer, member)
        if verdict.error:
            return Progress(lines, error=in_cluster(verdict.error, member.cluster))
        lines[member.cluster] = verdict.message
        finished = finished and verdict.done
    if finished:
        lines[""] = f'{noun} "{name}" successfully rolled out'
    return Progress(lines, done=finished)


def _member_verdict(noun: str, name: str, viewer: Viewer, member: MemberCopy) -> Verdict:
    where = member.cluster
    if member.error:
        return Verdict(False, f'Waiting for {noun} "{name}" in {where}: {member.error}...', "")
    if member.code != "OK":
        code = member.code or "not synced yet"
        note = f": {member.message}" if member.message else ""
        return Verdict(
            False, f'Waiting for {noun} "{name}" to be synced to {where}: {code}{note}...', ""
        )
    if member.copy is None:
        return Verdict(False, f'Waiting for {noun} "{name}" to be created in {where}...', "")
    generation = field_at(member.copy, "metadata", "generation")
    if member.recorded is not None and generation != member.recorded:
        return Verdict(
            False,
            f'Waiting for {noun} "{name}" in {where} to be synced again: '
            f"changed in the member (generation {generation})...",
            "",
        )
    verdict = viewer(member.copy)
    return Verdict(
        verdict.done,
        in_cluster(verdict.message, where),
        verdict.reason,
        verdict.detail,
        verdict.error,
    )
