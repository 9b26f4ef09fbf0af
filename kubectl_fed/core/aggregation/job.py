"""Jobs, as KubeAdmiral's status aggregator does: counts summed, the earliest `startTime`,
and once every cluster has finished a `Complete` or `Failed` condition naming them.

Kept from KubeAdmiral, word for word: `Complete`, reason `Completed`, "Job completed in
clusters [c1,c2]", with `completionTime` the latest of the members'; `Failed`, reason
`Failed`, "Job failed in clusters [c2]"; and when some completed and some failed,
`Failed`, reason `Mixed`, "Job completed in clusters [c1] and failed in member clusters
[c2]" (no completionTime). A member finished when its copy has a completionTime
(completed) or a `Failed` condition that is True (failed).

Differences: every placed cluster must have finished, one that does not answer or has no
copy yet included (KubeAdmiral counts only the copies it holds, so a Job could be called
complete while a member is down); the condition's times stay (KubeAdmiral stamps them
anew on every pass, rewriting the status each time). And what
the apiserver has required of a Job's status since Kubernetes 1.31, which KubeAdmiral's
status breaks (the host refuses it): `Complete` comes with `SuccessCriteriaMet`, `Failed`
with `FailureTarget` (same reason and message), a finished Job has no `active` count,
and once finished its status no longer changes (Karmada's rule; the apiserver refuses
most changes to a finished Job's status).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kubectl_fed.core.aggregation.collected import (
    Collected,
    Object,
    cluster_list,
    conditions_of,
    summed,
)
from kubectl_fed.core.aggregation.workloads import COUNTED_FIELDS
from kubectl_fed.core.clock import parse

# The condition the apiserver wants before each finished one (Kubernetes >= 1.31).
PRECEDING = {"Complete": "SuccessCriteriaMet", "Failed": "FailureTarget"}


def job(collected: Collected) -> Object:
    if _finished_already(collected.previous):
        return dict(collected.previous)
    status = summed(collected, COUNTED_FIELDS["Job"])
    reported = collected.reported()
    start = earliest(s.get("startTime") for _, s in reported)
    if start:
        status["startTime"] = start
    completed = sorted(c for c, s in reported if s.get("completionTime"))
    failed = sorted(c for c, s in reported if not s.get("completionTime") and _failed(s))
    if collected.placed and len(completed) + len(failed) == len(collected.placed):
        condition = _finished(completed, failed)
        finished_at = _latest(s.get("completionTime") for _, s in reported)
        if not failed and finished_at:
            status["completionTime"] = finished_at
        status.pop("active", None)
        status["conditions"] = [
            _stamped({**condition, "type": PRECEDING[condition["type"]]}, collected),
            _stamped(condition, collected),
        ]
    return status


def _stamped(condition: Object, collected: Collected) -> Object:
    """Both times now, as KubeAdmiral stamps them; they stay, as the whole status does
    once finished."""
    return {**condition, "lastProbeTime": collected.now, "lastTransitionTime": collected.now}


def _finished_already(status: object) -> bool:
    conditions = conditions_of(status if isinstance(status, dict) else {})
    return any(conditions.get(t, {}).get("status") == "True" for t in PRECEDING)


def _finished(completed: list[str], failed: list[str]) -> Object:
    if completed and failed:
        reason = "Mixed"
        message = (
            f"Job completed in clusters {cluster_list(completed)} "
            f"and failed in member clusters {cluster_list(failed)}"
        )
        type_ = "Failed"
    elif completed:
        type_, reason = "Complete", "Completed"
        message = f"Job completed in clusters {cluster_list(completed)}"
    else:
        type_, reason = "Failed", "Failed"
        message = f"Job failed in clusters {cluster_list(failed)}"
    return {"type": type_, "status": "True", "reason": reason, "message": message}


def _failed(status: Object) -> bool:
    failed = conditions_of(status).get("Failed")
    return failed is not None and failed.get("status") == "True"


def earliest(values: Iterable[object]) -> str | None:
    found = _times(values)
    return min(found)[1] if found else None


def _latest(values: Iterable[object]) -> str | None:
    found = _times(values)
    return max(found)[1] if found else None


def _times(values: Iterable[object]) -> list[tuple[datetime, str]]:
    """The timestamps among `values` (a malformed one is skipped, never fatal)."""
    found = []
    for value in values:
        if isinstance(value, str):
            try:
                moment = parse(value)
            except ValueError:
                continue
            if moment is not None:
                found.append((moment, value))
    return found
