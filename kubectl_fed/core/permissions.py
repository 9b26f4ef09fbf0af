"""What `kubectl fed sync` may do in the host, as permissions and as RBAC rules.

One list, three uses: `doctor` asks the apiserver about each (SelfSubjectAccessReviews),
`init` writes them as the ClusterRole and Role `kubectl-fed-sync` that operators bind to
a narrower user, and a test checks every request of a sync pass against them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.aggregation import aggregator_for
from kubectl_fed.core.federated_types import FederatedType

ALL_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
READ_VERBS: Final = ("get", "list", "watch")
SYNC_ROLE: Final = "kubectl-fed-sync"

Object = dict[str, Any]


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""  # "": every namespace (or cluster-scoped)

    def describe(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        what += f".{self.group}" if self.group else ""
        return f"{self.verb} {what}" + (f" in {self.namespace}" if self.namespace else "")

    def review(self) -> Object:
        attributes = {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
        }
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}},
        }


def sync_permissions(fed_namespace: str, types: list[FederatedType]) -> list[Permission]:
    """Every permission `kubectl fed sync` uses in the host."""
    needed: list[tuple[Iterable[str], str, str, str, str]] = [
        (ALL_VERBS, kubeadmiral.FEDERATED_OBJECTS, kubeadmiral.GROUP, "", ""),
        (("patch",), kubeadmiral.FEDERATED_OBJECTS, kubeadmiral.GROUP, "status", ""),
        (ALL_VERBS, kubeadmiral.CLUSTER_FEDERATED_OBJECTS, kubeadmiral.GROUP, "", ""),
        (("patch",), kubeadmiral.CLUSTER_FEDERATED_OBJECTS, kubeadmiral.GROUP, "status", ""),
        (READ_VERBS, kubeadmiral.FEDERATED_CLUSTERS, kubeadmiral.GROUP, "", ""),
        (
            ("patch",),
            kubeadmiral.FEDERATED_CLUSTERS,
            kubeadmiral.GROUP,
            "status",
            "",
        ),  # Ready/Offline
        *(
            (READ_VERBS, plural, kubeadmiral.GROUP, "", "")
            for plural in (
                kubeadmiral.PROPAGATION_POLICIES,
                kubeadmiral.CLUSTER_PROPAGATION_POLICIES,
                kubeadmiral.OVERRIDE_POLICIES,
                kubeadmiral.CLUSTER_OVERRIDE_POLICIES,
                kubeadmiral.FEDERATED_TYPE_CONFIGS,
            )
        ),
        (("get", "patch"), "secrets", "", "", fed_namespace),  # member credentials, renewed
        (("get",), "configmaps", "", "", fed_namespace),  # federation settings
        (("get", "create", "update", "delete"), "leases", "coordination.k8s.io", "", fed_namespace),
    ]
    # Events on templates and FederatedObjects (kubectl describe), in their namespaces.
    needed.append((("get", "create", "patch"), "events", "", "", ""))
    for ftype in types:
        needed.append((READ_VERBS, ftype.plural, ftype.group, "", ""))
        if ftype.status_aggregation and aggregator_for(ftype.group, ftype.kind):
            # the members' status is aggregated into the template
            needed.append((("patch",), ftype.plural, ftype.group, "status", ""))
    return [
        Permission(verb, resource, group, subresource, namespace)
        for verbs, resource, group, subresource, namespace in needed
        for verb in verbs
    ]


def sync_role_objects(fed_namespace: str, types: list[FederatedType]) -> list[Object]:
    """The ClusterRole and the Role (in the fed namespace) `kubectl-fed-sync`."""
    permissions = sync_permissions(fed_namespace, types)
    cluster = [p for p in permissions if not p.namespace]
    local = [p for p in permissions if p.namespace == fed_namespace]
    labels = {"app.kubernetes.io/managed-by": "kubectl-fed"}
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": SYNC_ROLE, "labels": labels},
            "rules": rules_of(cluster),
        },
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": SYNC_ROLE, "namespace": fed_namespace, "labels": labels},
            "rules": rules_of(local),
        },
    ]


def rules_of(permissions: Iterable[Permission]) -> list[Object]:
    """RBAC rules granting exactly these permissions: one rule per resource (with its
    subresource), its verbs in the order given."""
    verbs: dict[tuple[str, str], list[str]] = {}
    for permission in permissions:
        resource = permission.resource + (
            f"/{permission.subresource}" if permission.subresource else ""
        )
        wanted = verbs.setdefault((permission.group, resource), [])
        if permission.verb not in wanted:
            wanted.append(permission.verb)
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": list(granted)}
        for (group, resource), granted in verbs.items()
    ]


def allowed_by(
    rules: Iterable[Object], verb: str, group: str, resource: str, name: str = ""
) -> bool:
    """Whether RBAC rules allow one request (`resource` with its subresource as
    `plural/sub`), as the RBAC authorizer matches them (`*` included)."""
    for rule in rules:
        if not _matches(rule.get("verbs"), verb):
            continue
        if not _matches(rule.get("apiGroups"), group):
            continue
        if not _matches(rule.get("resources"), resource):
            continue
        names = rule.get("resourceNames") or []
        if names and name not in names:
            continue
        return True
    return False


def _matches(values: Any, wanted: str) -> bool:
    listed = list(values or [])
    return "*" in listed or wanted in listed
