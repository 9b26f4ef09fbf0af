"""What a member object should be, and what to do about the live one.

A member copy is the FederatedObject's template with its per-cluster patches applied,
host-allocated Service fields removed, and the federation's marks added. The marks include
a hash of everything else we send: a template change shows as a hash change, a change by
someone else as the live object no longer containing what we sent. Either calls for a
write; neither means no request at all.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_fed.core.jsonpatch import escape
from kubectl_fed.core.marks import (
    ADOPTED_ANNOTATION,
    ADOPTED_LABEL,
    APPLIED_HASH_LABEL,
    CLUSTERS_TO_ADOPT_ANNOTATION,
    CONFLICT_RESOLUTION_ANNOTATION,
    MANAGED_LABEL,
    MEMBER_MARK_ANNOTATIONS,
    MEMBER_MARK_LABELS,
    NOT_SENT_ANNOTATIONS,
    SERVER_METADATA,
)
from kubectl_fed.core.objects import Object
from kubectl_fed.core.overrides import apply_overrides
from kubectl_fed.core.retain import retain_member_fields, strip_replicas
from kubectl_fed.core.status import ClusterStatus


def member_object(
    template: Object,
    patches: list[dict[str, Any]],
    *,
    adopted: bool,
    retain_replicas: bool,
    replicas_path: tuple[str, ...] = ("spec", "replicas"),
) -> Object:
    """The object to apply in one member (before retaining live fields).

    Raises OverrideError when a patch does not apply.
    """
    obj = apply_overrides(copy.deepcopy(template), patches) if patches else copy.deepcopy(template)
    _drop_host_allocations(obj)
    if retain_replicas:
        obj = strip_replicas(obj, replicas_path)  # the member's HPA owns the field
    metadata = obj.setdefault("metadata", {})
    annotations = metadata.get("annotations") or {}
    for key in NOT_SENT_ANNOTATIONS:
        annotations.pop(key, None)
    if "annotations" in metadata and not annotations:
        del metadata["annotations"]
    labels = metadata.setdefault("labels", {})
    labels.pop(APPLIED_HASH_LABEL, None)
    labels[MANAGED_LABEL] = "true"
    if adopted:
        labels[ADOPTED_LABEL] = "true"
    labels[APPLIED_HASH_LABEL] = content_hash(obj)
    return obj


def content_hash(obj: Object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _drop_host_allocations(obj: Object) -> None:
    """A Service template in a real host got addresses from the host's own ranges;
    they mean nothing in a member (and would collide there)."""
    if obj.get("kind") != "Service" or obj.get("apiVersion") != "v1":
        return
    spec = obj.get("spec") or {}
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    spec.pop("healthCheckNodePort", None)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.pop("nodePort", None)


# The message of a copy taken over in place (events and the pass report read it).
ADOPTED_MESSAGE = "adopted in place"

# What one member's copy needs: written anew, written over, taken over, or nothing.
DecisionAction = Literal["create", "update", "adopt", "none"]


@dataclass(frozen=True)
class Decision:
    action: DecisionAction
    status: ClusterStatus
    message: str = ""
    drifted: tuple[str, ...] = ()


def decide(
    desired: Object,
    live: Object | None,
    *,
    adopt: bool,
    correct_drift: bool,
) -> Decision:
    """Compare the desired copy with the live object of one member."""
    if live is None:
        return Decision("create", ClusterStatus.OK)
    labels = (live.get("metadata") or {}).get("labels") or {}
    managed = labels.get(MANAGED_LABEL)
    if managed == "false":
        return Decision(
            "none",
            ClusterStatus.MANAGED_LABEL_FALSE,
            f"the member object is labelled {MANAGED_LABEL}=false",
        )
    if managed != "true":
        if adopt:
            return Decision("adopt", ClusterStatus.OK, ADOPTED_MESSAGE)
        return Decision(
            "none",
            ClusterStatus.ALREADY_EXISTS,
            "an object not managed by the federation exists: add "
            f"{CONFLICT_RESOLUTION_ANNOTATION}: adopt to the template to take it over",
        )
    if labels.get(APPLIED_HASH_LABEL) != desired["metadata"]["labels"][APPLIED_HASH_LABEL]:
        return Decision("update", ClusterStatus.OK)
    drifted = tuple(differences(desired, live))
    if not drifted:
        return Decision("none", ClusterStatus.OK)
    if correct_drift:
        return Decision("update", ClusterStatus.OK, "drift corrected", drifted)
    return Decision("none", ClusterStatus.DRIFTED, "drifted: " + ", ".join(drifted[:5]), drifted)


def desired_with_live(
    desired: Object,
    live: Object | None,
    *,
    retain_replicas: bool,
    replicas_path: tuple[str, ...] = ("spec", "replicas"),
) -> Object:
    """The body to send: the desired copy plus the fields the member owns."""
    if live is None:
        return desired
    body = retain_member_fields(
        desired, live, retain_replicas=retain_replicas, replicas_path=replicas_path
    )
    # The hash covers what the template says, not the live values kept here.
    body["metadata"].pop("resourceVersion", None)
    return body


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths where `live` does not contain what `desired` says (extra live fields are
    defaults or the member's own, and do not count)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [path or "/"]
        found = []
        for key, value in desired.items():
            if path == "/metadata" and key in SERVER_METADATA:
                continue
            child = f"{path}/{escape(str(key))}"
            if key not in live:
                # An empty value the server leaves out (Go's omitempty: "" too) is no drift.
                if value not in (None, "", {}, []):
                    found.append(child)
                continue
            found.extend(differences(value, live[key], child))
        return found
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, live, strict=False)):
            found.extend(differences(want, have, f"{path}/{index}"))
        return found
    return [] if _same_scalar(desired, live) else [path]


def _same_scalar(desired: Any, live: Any) -> bool:
    if desired == live:
        return True
    # int-or-string fields come back in the form the server prefers.
    return str(desired) == str(live)


def unmarked(live: Object) -> dict[str, Any]:
    """A merge patch that removes the federation's marks (orphaning)."""
    metadata = live.get("metadata") or {}
    labels = {k: None for k in MEMBER_MARK_LABELS if k in (metadata.get("labels") or {})}
    annotations = {
        k: None for k in MEMBER_MARK_ANNOTATIONS if k in (metadata.get("annotations") or {})
    }
    patch: dict[str, Any] = {}
    if labels:
        patch["labels"] = labels
    if annotations:
        patch["annotations"] = annotations
    return {"metadata": patch} if patch else {}


def is_managed(live: Object) -> bool:
    return ((live.get("metadata") or {}).get("labels") or {}).get(MANAGED_LABEL) == "true"


def is_adopted(live: Object) -> bool:
    metadata = live.get("metadata") or {}
    return "true" in (
        (metadata.get("labels") or {}).get(ADOPTED_LABEL),
        (metadata.get("annotations") or {}).get(ADOPTED_ANNOTATION),
    )


def adoption_allowed(annotations: dict[str, str], cluster: str) -> bool:
    """Absent: every placed cluster (kubectl-fed's difference from current KubeAdmiral,
    matching its published walkthrough). Present: the named clusters or the regexp.
    Malformed: nowhere (adopting by mistake cannot be undone)."""
    raw = annotations.get(CLUSTERS_TO_ADOPT_ANNOTATION)
    if raw is None:
        return True
    try:
        spec = json.loads(raw)
        if cluster in (spec.get("clusters") or []):
            return True
        pattern = spec.get("regexp")
        return bool(pattern) and re.fullmatch(pattern, cluster) is not None
    except (ValueError, AttributeError, TypeError, re.error):
        return False
