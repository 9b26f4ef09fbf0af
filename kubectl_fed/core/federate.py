"""Template -> FederatedObject: its name, its cleaned template, and the federation marks.

A template is the object a user creates in the host (a Deployment, a ConfigMap...). Its
FederatedObject (ClusterFederatedObject when the template is cluster-scoped) carries a
cleaned copy of it, where it is placed, and the per-cluster patches, as KubeAdmiral's
federate controller builds it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.labels import DNS_SUBDOMAIN
from kubectl_fed.core.marks import (
    CLUSTER_OVERRIDE_POLICY_LABEL,
    CLUSTER_PROPAGATION_POLICY_LABEL,
    COPY_METADATA,
    FEDERATION_ANNOTATIONS,
    FEDERATION_LABELS,
    JOB_CONTROLLER_UID_LABELS,
    KUBEADMIRAL_HOST_ANNOTATIONS,
    KUBEADMIRAL_INTERNAL_PREFIX,
    MEMBER_MARK_ANNOTATIONS,
    MEMBER_MARK_LABELS,
    NO_FEDERATED_RESOURCE_ANNOTATION,
    OVERRIDE_POLICY_LABEL,
    PROPAGATION_POLICY_LABEL,
)
from kubectl_fed.core.objects import fnv1_32, without_server_fields

CONTROLLER = "kubectl-fed"  # our entry in spec.placements[] and spec.overrides[]
# The placements[] entry of followers (where a ConfigMap goes because a workload uses it),
# under the name KubeAdmiral's follower controller writes, kept apart from the scheduler's.
FOLLOWER_CONTROLLER = "kubeadmiral.io/follower-controller"

MAX_NAME_LENGTH = 253  # a DNS-1123 subdomain
_NAME_SAFE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789.-")
_DOTS = re.compile(r"\.{2,}")


def federated_object_name(name: str, plural: str, group: str) -> str:
    """`<name>-<plural>.<group>` (`<name>-<plural>` for the core group), KubeAdmiral's way.

    As KubeAdmiral's `GenerateFederatedObjectName`: uppercase ASCII is lowered, every
    other byte outside `[a-z0-9.-]` becomes `.`, runs of dots are squashed, and a name so
    changed gets `-<fnv32(original name)>` appended so that `Foo` and `foo` stay apart;
    a result over 253 characters is cut to leave room for `-<fnv32(uncut result)>`.

    KubeAdmiral stops there, and its result is not always a DNS-1123 subdomain (a name
    starting with `-` or `:`, a cut landing next to a dot). Only then does kubectl-fed
    differ: it takes `<name>-<type>-<fnv32(original name)>`, transforms the whole as
    above, strips leading and trailing dashes from each dot-separated part, drops empty
    parts, and cuts and repairs again if too long. Every name KubeAdmiral gets right is
    therefore the same here.
    """
    type_name = f"{plural}.{group}" if group else plural
    safe_name, changed = _dns_safe(name)
    federated = f"{safe_name}-{type_name}"
    if changed:
        federated = f"{federated}-{fnv1_32(name)}"
    federated = _shorten(federated)
    if DNS_SUBDOMAIN.fullmatch(federated):
        return federated
    repaired = _valid_subdomain(f"{safe_name}-{type_name}-{fnv1_32(name)}")
    return _valid_subdomain(_shorten(repaired))


def clean_template(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of `obj` fit for `spec.template`: what the members should receive.

    Removed: `status`; the host-set metadata (uid, resourceVersion, creationTimestamp,
    deletionTimestamp, ownerReferences, finalizers, managedFields, selfLink, generation);
    the policy labels and the conflict-resolution, clusters-to-adopt, orphan and
    retain-replicas annotations (they go to the FederatedObject, see
    `build_federated_object`); the member marks `kubeadmiral.io/managed` and
    `kubeadmiral.io/adopted` (the sync loop sets those); KubeAdmiral's host bookkeeping
    (`internal.kubeadmiral.io/*`, `kubeadmiral.io/latest-replicaset-digests`).

    Kept: every other label and annotation, including `kubectl.kubernetes.io/last-applied-
    configuration` (the user's data, not the federation's; KubeAdmiral keeps it too) and
    `kubeadmiral.io/no-federated-resource` (an object carrying it is never federated, so
    it never reaches a template). A labels or annotations map emptied by the removals is
    dropped. Fields the host's apiserver generated for its own copy, which every member
    would reject, are not sent either (`without_generated_fields`).
    """
    template = without_server_fields(obj, COPY_METADATA)
    metadata = template.get("metadata")
    if isinstance(metadata, dict):
        _drop_keys(metadata, "labels", _label_leaves_template)
        _drop_keys(metadata, "annotations", _annotation_leaves_template)
    return without_generated_fields(template)


def without_generated_fields(template: dict[str, Any]) -> dict[str, Any]:
    """`template` (changed in place) without what the apiserver generated from the uid of
    one copy, which every other cluster's apiserver rejects.

    A Job without `spec.manualSelector: true`: its `spec.selector` (it selects the
    controller-uid, a uid no member's Job has) and the `controller-uid` and
    `batch.kubernetes.io/controller-uid` labels of its pod template. Each member's
    apiserver generates its own. The `job-name` labels stay: they hold the Job's name,
    the same in every cluster, and members accept them; every other label is the user's.
    """
    if template.get("kind") != "Job" or not str(template.get("apiVersion", "")).startswith(
        "batch/"
    ):
        return template
    spec = template.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return template
    spec.pop("selector", None)
    pod_template = spec.get("template")
    pod_metadata = pod_template.get("metadata") if isinstance(pod_template, dict) else None
    if isinstance(pod_metadata, dict):
        _drop_keys(pod_metadata, "labels", JOB_CONTROLLER_UID_LABELS.__contains__)
    return template


def build_federated_object(
    template: dict[str, Any],
    plural: str,
    group: str,
    placements: list[str] | None,
    overrides: dict[str, list[dict[str, Any]]] | None,
    follows: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The FederatedObject (ClusterFederatedObject when cluster-scoped) of a template.

    `placements` None leaves `spec.placements` out (not scheduled yet); a list, even an
    empty one, becomes our controller's entry, clusters sorted and unique. Clusters whose
    patch list is empty are left out of `spec.overrides`. The ownerReference to the
    template needs its uid, so a template never created (a local manifest being diffed)
    gets none. `blockOwnerDeletion` is false: setting it true needs permission to update
    the template's finalizers, and nothing waits on it.
    """
    metadata = template.get("metadata") or {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    api_version, kind = template.get("apiVersion"), template.get("kind")
    if not (name and api_version and kind):
        raise ValueError("a template needs apiVersion, kind and metadata.name")
    fed_metadata: dict[str, Any] = {"name": federated_object_name(name, plural, group)}
    if namespace:
        fed_metadata["namespace"] = namespace
    fed_metadata["labels"] = {**_federation_marks(metadata, "labels"), api_version: kind}
    annotations = _federation_marks(metadata, "annotations")
    if annotations:
        fed_metadata["annotations"] = annotations
    if metadata.get("uid"):
        fed_metadata["ownerReferences"] = [_controller_reference(template)]
    return {
        "apiVersion": kubeadmiral.API_VERSION,
        "kind": "FederatedObject" if namespace else "ClusterFederatedObject",
        "metadata": fed_metadata,
        "spec": _federated_spec(template, placements, overrides, follows),
    }


def policy_of(obj: dict[str, Any]) -> tuple[str, str] | None:
    """The propagation policy a template (or its FederatedObject) names, if any.

    As KubeAdmiral: the namespaced label wins, and counts only on a namespaced object; a
    label present with an empty value still names a policy (whose lookup will fail).
    """
    labels = _string_map(obj, "labels")
    if _namespace(obj) and PROPAGATION_POLICY_LABEL in labels:
        return "PropagationPolicy", labels[PROPAGATION_POLICY_LABEL]
    if CLUSTER_PROPAGATION_POLICY_LABEL in labels:
        return "ClusterPropagationPolicy", labels[CLUSTER_PROPAGATION_POLICY_LABEL]
    return None


def override_policies_of(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """The override policies a template names, in the order they apply: cluster-scoped first.

    A cluster-scoped object cannot use a (namespaced) OverridePolicy.
    """
    labels = _string_map(obj, "labels")
    policies = []
    if CLUSTER_OVERRIDE_POLICY_LABEL in labels:
        policies.append(("ClusterOverridePolicy", labels[CLUSTER_OVERRIDE_POLICY_LABEL]))
    if _namespace(obj) and OVERRIDE_POLICY_LABEL in labels:
        policies.append(("OverridePolicy", labels[OVERRIDE_POLICY_LABEL]))
    return policies


def is_federation_disabled(obj: dict[str, Any]) -> bool:
    """True when the template asks never to be federated: a non-empty annotation, as KubeAdmiral."""
    return bool(_string_map(obj, "annotations").get(NO_FEDERATED_RESOURCE_ANNOTATION))


def _federated_spec(
    template: dict[str, Any],
    placements: list[str] | None,
    overrides: dict[str, list[dict[str, Any]]] | None,
    follows: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": clean_template(template)}
    if placements is not None:
        clusters = [{"cluster": cluster} for cluster in sorted(set(placements))]
        spec["placements"] = [{"controller": CONTROLLER, "placement": clusters}]
    patched = [
        {"cluster": cluster, "patches": copy.deepcopy(patches)}
        for cluster, patches in sorted((overrides or {}).items())
        if patches
    ]
    if patched:
        spec["overrides"] = [{"controller": CONTROLLER, "clusters": patched}]
    if follows:
        spec["follows"] = copy.deepcopy(follows)
    return spec


def _controller_reference(template: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": template["apiVersion"],
        "kind": template["kind"],
        "name": template["metadata"]["name"],
        "uid": template["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": False,
    }


def _federation_marks(metadata: dict[str, Any], field: str) -> dict[str, str]:
    keys = FEDERATION_LABELS if field == "labels" else FEDERATION_ANNOTATIONS
    marks = metadata.get(field) or {}
    return {key: value for key, value in marks.items() if key in keys}


def _label_leaves_template(key: str) -> bool:
    return key in FEDERATION_LABELS or key in MEMBER_MARK_LABELS


def _annotation_leaves_template(key: str) -> bool:
    return (
        key in FEDERATION_ANNOTATIONS
        or key in MEMBER_MARK_ANNOTATIONS
        or key in KUBEADMIRAL_HOST_ANNOTATIONS
        or key.startswith(KUBEADMIRAL_INTERNAL_PREFIX)
    )


def _drop_keys(metadata: dict[str, Any], field: str, leaves: Callable[[str], bool]) -> None:
    entries = metadata.get(field)
    if not isinstance(entries, dict):
        return
    kept = {key: value for key, value in entries.items() if not leaves(key)}
    if len(kept) == len(entries):
        return
    if kept:
        metadata[field] = kept
    else:
        del metadata[field]


def _string_map(obj: dict[str, Any], field: str) -> dict[str, str]:
    metadata = obj.get("metadata")
    entries = metadata.get(field) if isinstance(metadata, dict) else None
    return entries if isinstance(entries, dict) else {}


def _namespace(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get("namespace") or "") if isinstance(metadata, dict) else ""


def _dns_safe(name: str) -> tuple[str, bool]:
    """KubeAdmiral's transformation of an object name, and whether it changed anything."""
    safe = bytearray()
    for byte in name.encode():
        if byte in _NAME_SAFE_BYTES:
            safe.append(byte)
        elif ord("A") <= byte <= ord("Z"):
            safe.append(byte + ord("a") - ord("A"))
        else:
            safe.append(ord("."))
    squashed = _DOTS.sub(".", safe.decode())
    return squashed, squashed != name


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    suffix = str(fnv1_32(name))
    return f"{name[: MAX_NAME_LENGTH - len(suffix) - 1]}-{suffix}"


def _valid_subdomain(name: str) -> str:
    parts = (part.strip("-") for part in _dns_safe(name)[0].split("."))
    return ".".join(part for part in parts if part)
