"""Status of a federated object: the per-cluster codes and the Propagated condition (the
template's status aggregated from its members is core/aggregation)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class ClusterStatus(str, Enum):
    """The per-cluster propagation codes of `status.clusters[].status` (KubeAdmiral's)."""

    OK = "OK"
    PENDING_CREATE = "PendingCreate"
    WAITING_FOR_REMOVAL = "WaitingForRemoval"
    CLUSTER_NOT_READY = "ClusterNotReady"
    CLUSTER_TERMINATING = "ClusterTerminating"
    APPLY_OVERRIDES_FAILED = "ApplyOverridesFailed"
    CREATION_FAILED = "CreationFailed"
    UPDATE_FAILED = "UpdateFailed"
    DELETION_FAILED = "DeletionFailed"
    RETRIEVAL_FAILED = "RetrievalFailed"
    ALREADY_EXISTS = "AlreadyExists"
    MANAGED_LABEL_FALSE = "ManagedLabelFalse"
    FIELD_RETENTION_FAILED = "FieldRetentionFailed"
    CREATION_TIMED_OUT = "CreationTimedOut"
    UPDATE_TIMED_OUT = "UpdateTimedOut"
    DELETION_TIMED_OUT = "DeletionTimedOut"
    # kubectl-fed's own: the copy was changed in the member and `sync --drift=report` left
    # it so. KubeAdmiral always corrects drift and has no code for it.
    DRIFTED = "Drifted"
    # kubectl-fed's own: the copy needs a change, but this pass was limited to other
    # clusters (`sync --cluster`); the next sync that covers the cluster makes it.
    PENDING_SYNC = "PendingSync"

    def __str__(self) -> str:  # the code itself, in messages and documents alike
        return str(self.value)


PROPAGATED = "Propagated"


def cluster_ok(code: str) -> bool:
    """The one definition of a cluster's OK, shared by sync, status, doctor and exit codes:
    its copy is exactly what the federation last wrote there (or, when the object left the
    cluster, no copy remains). Every other code, Drifted included, is not OK."""
    return code == ClusterStatus.OK


def object_ok(errors: list[str], cluster_codes: Mapping[str, str], retired: bool) -> bool:
    """An object is OK when nothing stops it (no policy, override or scheduling error), it
    is placed somewhere (or is being retired), and every cluster it involves is OK."""
    if errors or (not cluster_codes and not retired):
        return False
    return all(cluster_ok(code) for code in cluster_codes.values())


CHECK_CLUSTERS = "CheckClusters"
_MESSAGE_CLUSTERS = 5  # how many failing clusters the condition's message names


def propagated_condition(cluster_statuses: Mapping[str, str], now: str) -> dict[str, Any]:
    """The `Propagated` condition: True when every cluster is OK (or there is none).

    Otherwise False, reason `CheckClusters`, and a message naming the first few clusters
    that are not OK, by name. Both times are `now`: the caller keeps the previous
    `lastTransitionTime` when the status has not changed.
    """
    failing = sorted(
        (cluster, status) for cluster, status in cluster_statuses.items() if status != "OK"
    )
    return {
        "type": PROPAGATED,
        "status": "False" if failing else "True",
        "reason": CHECK_CLUSTERS if failing else "",
        "message": _not_ok_message(failing, len(cluster_statuses)) if failing else "",
        "lastTransitionTime": now,
        "lastUpdateTime": now,
    }


def _not_ok_message(failing: list[tuple[str, str]], total: int) -> str:
    named = ", ".join(f"{cluster} ({status})" for cluster, status in failing[:_MESSAGE_CLUSTERS])
    unnamed = len(failing) - _MESSAGE_CLUSTERS
    return f"{len(failing)} of {total} clusters not OK: {named}" + (
        f" and {unnamed} more" if unnamed > 0 else ""
    )
