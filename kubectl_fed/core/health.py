"""How one member copy is doing, from its status alone: Ready, Progressing, Failed or
Unknown, with a reason (the member's own where it gives one) and a message.

Workloads that `kubectl rollout status` knows are judged by its checks (core/rollout): a
Deployment whose Progressing condition says ProgressDeadlineExceeded is Failed, one whose
controller has not observed the latest spec is Progressing. The other kinds follow their
status: a Job's Failed or Complete condition, a Pod's phase and readiness, a PVC's phase,
a LoadBalancer Service's or an Ingress's address. A kind with nothing to judge (a
ConfigMap) is Ready when the copy exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_fed.core.objects import Object, field_at
from kubectl_fed.core.rollout import Verdict, condition_of, count, viewer_for

READY, PROGRESSING, FAILED, UNKNOWN = "Ready", "Progressing", "Failed", "Unknown"
# Worst first: what an object's health is when its members disagree.
SEVERITY = (FAILED, UNKNOWN, PROGRESSING, READY)


@dataclass(frozen=True)
class Health:
    state: str
    reason: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "reason": self.reason, "message": self.message}

    @property
    def text(self) -> str:
        """`Progressing (ReplicasUnavailable)`: the state and, unless Ready, its reason."""
        return (
            self.state
            if self.state == READY or not self.reason
            else f"{self.state} ({self.reason})"
        )


def unknown(reason: str, message: str) -> Health:
    return Health(UNKNOWN, reason, message)


def worst(healths: list[Health]) -> str | None:
    """The worst state among `healths` (None for none)."""
    states = {h.state for h in healths}
    return next((state for state in SEVERITY if state in states), None)


def health_of(group: str, kind: str, copy: Object | None) -> Health:
    """A member copy's health; a missing copy is Unknown (NotFound)."""
    if copy is None:
        return unknown("NotFound", "no copy in the member")
    if field_at(copy, "metadata", "deletionTimestamp"):
        return Health(PROGRESSING, "Terminating", "the copy is being deleted")
    found = copy.get("status")
    status: Object = found if isinstance(found, dict) else {}
    viewer = viewer_for(group, kind)
    if viewer is not None:
        return _from_rollout(viewer(copy), status)
    judge = JUDGES.get((group, kind))
    return judge(copy, status) if judge else Health(READY)


def _from_rollout(verdict: Verdict, status: Object) -> Health:
    if verdict.error:
        state = FAILED if verdict.reason == "ProgressDeadlineExceeded" else UNKNOWN
        return Health(state, verdict.reason, verdict.detail or verdict.error)
    if verdict.done:
        available = condition_of(status, "Available")
        return Health(READY, str((available or {}).get("reason") or verdict.reason))
    failure = condition_of(status, "ReplicaFailure")
    if failure and failure.get("status") == "True":  # e.g. FailedCreate: over quota
        return Health(
            PROGRESSING, str(failure.get("reason") or ""), str(failure.get("message") or "")
        )
    return Health(PROGRESSING, verdict.reason, verdict.detail)


def _replicaset(copy: Object, status: Object) -> Health:
    if count(field_at(copy, "metadata", "generation")) > count(status.get("observedGeneration")):
        return Health(
            PROGRESSING,
            "GenerationNotObserved",
            "the member's controller has not observed the latest spec",
        )
    failure = condition_of(status, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return Health(
            PROGRESSING, str(failure.get("reason") or ""), str(failure.get("message") or "")
        )
    wanted = field_at(copy, "spec", "replicas")
    available = count(status.get("availableReplicas"))
    if isinstance(wanted, int) and available < wanted:
        return Health(
            PROGRESSING, "ReplicasUnavailable", f"{available} of {wanted} replicas are available"
        )
    return Health(READY)


def _job(_copy: Object, status: Object) -> Health:
    for type_, state in (("Failed", FAILED), ("Complete", READY)):
        found = condition_of(status, type_)
        if found and found.get("status") == "True":
            return Health(state, str(found.get("reason") or type_), str(found.get("message") or ""))
    suspended = condition_of(status, "Suspended")
    if suspended and suspended.get("status") == "True":
        return Health(PROGRESSING, "Suspended", str(suspended.get("message") or ""))
    counts = ", ".join(f"{count(status.get(k))} {k}" for k in ("active", "succeeded", "failed"))
    return Health(PROGRESSING, "Running" if status.get("startTime") else "NotStarted", counts)


def _pod(_copy: Object, status: Object) -> Health:
    phase = str(status.get("phase") or "Pending")
    message = str(status.get("message") or "")
    if phase == "Failed":
        return Health(FAILED, str(status.get("reason") or "Failed"), message)
    if phase == "Succeeded":
        return Health(READY, "Succeeded")
    if phase == "Unknown":
        return unknown(str(status.get("reason") or "Unknown"), message)
    waiting = _waiting_container(status)
    ready = condition_of(status, "Ready")
    if phase == "Running" and ready and ready.get("status") == "True":
        return Health(READY, "Running")
    if waiting:
        return Health(PROGRESSING, waiting[0], waiting[1])
    unschedulable = condition_of(status, "PodScheduled")
    if unschedulable and unschedulable.get("status") == "False":
        return Health(
            PROGRESSING,
            str(unschedulable.get("reason") or "Unschedulable"),
            str(unschedulable.get("message") or ""),
        )
    reason = str((ready or {}).get("reason") or phase)
    return Health(PROGRESSING, reason, str((ready or {}).get("message") or message))


def _service(copy: Object, status: Object) -> Health:
    if field_at(copy, "spec", "type") != "LoadBalancer":
        return Health(READY)
    return _load_balanced(status)


def _ingress(_copy: Object, status: Object) -> Health:
    return _load_balanced(status)


def _pvc(_copy: Object, status: Object) -> Health:
    phase = str(status.get("phase") or "Pending")
    if phase == "Bound":
        return Health(READY, "Bound")
    if phase == "Lost":
        return Health(FAILED, "ClaimLost", "the claim lost its volume")
    return Health(PROGRESSING, phase, "waiting for a volume")


def _load_balanced(status: Object) -> Health:
    points = field_at(status, "loadBalancer", "ingress") or []
    if any(isinstance(p, dict) and (p.get("ip") or p.get("hostname")) for p in points):
        return Health(READY)
    return Health(PROGRESSING, "LoadBalancerPending", "waiting for a load-balancer address")


JUDGES: dict[tuple[str, str], Callable[[Object, Object], Health]] = {
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("", "PersistentVolumeClaim"): _pvc,
}
# Kinds whose health says more than "the copy exists".
JUDGED = frozenset(JUDGES) | frozenset(
    {("apps", "Deployment"), ("apps", "DaemonSet"), ("apps", "StatefulSet")}
)


def _waiting_container(status: Object) -> tuple[str, str] | None:
    """The first container waiting for a reason other than starting (ImagePullBackOff,
    CrashLoopBackOff, ...): what kubectl get pods shows as STATUS."""
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or []:
            waiting = field_at(container, "state", "waiting") or {}
            reason = waiting.get("reason") if isinstance(waiting, dict) else None
            if reason and reason != "ContainerCreating":
                return str(reason), str(waiting.get("message") or "")
    return None
