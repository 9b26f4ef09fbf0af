"""Namespaces: which host namespaces go to every member, and what keeps a member's
namespace from being deleted.

Auto-propagation follows KubeAdmiral's nsautoprop controller: every host namespace goes
to every member with its labels and annotations, except `kube-*` ones, the federation's
own namespace, and those annotated `kubeadmiral.io/no-auto-propagation: "true"`. A
namespace that already exists in a member is adopted there, and one the federation
adopted is only unmarked when it leaves, never deleted (KubeAdmiral's `orphan: adopted`).

On top of that, kubectl-fed never deletes a member namespace that holds objects the
federation does not manage: deleting a namespace deletes everything in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kubectl_fed.core.marks import MANAGED_LABEL, NO_AUTO_PROPAGATION_ANNOTATION
from kubectl_fed.core.objects import Object

# Group and kind of the Namespace template.
NAMESPACE: Final = ("", "Namespace")
# What a namespace's copies are, by default, when it leaves: adopted ones stay.
DEFAULT_ORPHAN_MODE: Final = "adopted"

# Resources whose objects are records of what happened or is running, not something a
# user keeps: they never hold a namespace back (`plural.group`).
_RECORDS: Final = frozenset({"events", "events.events.k8s.io", "leases.coordination.k8s.io"})
_RECORD_GROUPS: Final = frozenset({"metrics.k8s.io"})
# Made by Kubernetes itself in every namespace.
_EVERYWHERE: Final = frozenset({("serviceaccounts", "default"), ("configmaps", "kube-root-ca.crt")})
_TOKEN_SECRET: Final = "kubernetes.io/service-account-token"


def auto_propagated(namespace: Object, fed_namespace: str) -> bool:
    """Whether a host namespace goes to every member (KubeAdmiral's
    `shouldBeAutoPropagated`: not `kube-*`, not the federation's own, not opted out)."""
    metadata = namespace.get("metadata") or {}
    name = str(metadata.get("name") or "")
    if not name or name.startswith("kube-") or name == fed_namespace:
        return False
    annotations = metadata.get("annotations") or {}
    return annotations.get(NO_AUTO_PROPAGATION_ANNOTATION) != "true"


def counted(group: str, plural: str) -> bool:
    """Whether objects of a resource can hold a namespace back (records never do)."""
    resource = f"{plural}.{group}" if group else plural
    return resource not in _RECORDS and group not in _RECORD_GROUPS


def foreign_objects(contents: Mapping[str, Iterable[Object]]) -> list[str]:
    """What keeps a member namespace from being deleted: `resource/name` of each object
    in it the federation does not manage, sorted.

    `contents` maps a resource (`plural.group`, core: `plural`) to its objects in the
    namespace. Not counted: the federation's copies (`kubeadmiral.io/managed: "true"`);
    objects owned by another (a Deployment's ReplicaSets and Pods, a Service's
    EndpointSlices: their owner counts); what Kubernetes makes in every namespace (the
    `default` ServiceAccount, the `kube-root-ca.crt` ConfigMap, service-account token
    Secrets, a Service's Endpoints); Events, Leases and metrics.
    """
    services = {_name(o) for o in contents.get("services", ())}
    found = []
    for resource, objects in contents.items():
        if not counted(resource.partition(".")[2], resource.partition(".")[0]):
            continue
        for obj in objects:
            if not _does_not_hold_back(resource, obj, services):
                found.append(f"{resource.partition('.')[0]}/{_name(obj)}")
    return sorted(found)


def _does_not_hold_back(resource: str, obj: Object, services: set[str]) -> bool:
    """Whether the object is the federation's, derived from another, or Kubernetes' own."""
    metadata = obj.get("metadata") or {}
    name = _name(obj)
    if (metadata.get("labels") or {}).get(MANAGED_LABEL) == "true":
        return True
    if metadata.get("ownerReferences"):
        return True
    if (resource, name) in _EVERYWHERE:
        return True
    if resource == "secrets" and obj.get("type") == _TOKEN_SECRET:
        return True
    return resource == "endpoints" and name in services


def _name(obj: Any) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name") or "")
