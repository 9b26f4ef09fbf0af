"""The resource types a fake apiserver serves: built-in ones, and those CRDs add."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
REVIEW_VERBS = ("create",)


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status: bool = False  # served with a /status subresource
    generation: bool = False  # the apiserver tracks metadata.generation
    review: bool = False  # create-only, never stored (SelfSubjectAccessReview...)
    custom: bool = False  # served because a CRD says so
    crd: str = ""  # name of that CRD
    schema: Any = None  # its openAPIV3Schema for this version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are shared by every version of a resource."""
        return self.group, self.plural

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `configmaps`: how the apiserver names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def verbs(self) -> tuple[str, ...]:
        return REVIEW_VERBS if self.review else ALL_VERBS

    def discovery(self) -> list[dict[str, Any]]:
        """Legacy discovery entries: the resource and its subresources."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        found = [entry]
        if self.status:
            found.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return found


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    *,
    status: bool = False,
    generation: bool = False,
    review: bool = False,
) -> ResourceType:
    return ResourceType(
        group,
        version,
        kind,
        plural,
        namespaced,
        kind.lower(),
        short,
        status=status,
        generation=generation,
        review=review,
    )


# What a fresh kube-apiserver serves that kubectl-fed touches (plus a few neighbours).
# `generation`: the registry strategies of apps, batch, networking and apiextensions set
# metadata.generation; core and rbac kinds never do (a ConfigMap has no generation).
BUILTIN: tuple[ResourceType, ...] = (
    _t("", "v1", "Namespace", "namespaces", False, ("ns",), status=True),
    _t("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _t("", "v1", "Secret", "secrets", True),
    _t("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _t("", "v1", "Service", "services", True, ("svc",), status=True),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), status=True),
    _t("", "v1", "Event", "events", True, ("ev",)),
    _t("", "v1", "Pod", "pods", True, ("po",), status=True),
    _t("", "v1", "Node", "nodes", False, ("no",), status=True),
    _t("apps", "v1", "Deployment", "deployments", True, ("deploy",), status=True, generation=True),
    _t("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), status=True, generation=True),
    _t("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), status=True, generation=True),
    _t("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), status=True, generation=True),
    _t("batch", "v1", "Job", "jobs", True, (), status=True, generation=True),
    _t("batch", "v1", "CronJob", "cronjobs", True, ("cj",), status=True, generation=True),
    _t(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        True,
        ("ing",),
        status=True,
        generation=True,
    ),
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _t("coordination.k8s.io", "v1", "Lease", "leases", True),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        status=True,
        generation=True,
    ),
    _t(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        review=True,
    ),
    _t(
        "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, review=True
    ),
)


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CRD serves, one per served version (storage version first)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = sorted(
        (v for v in spec.get("versions") or [] if v.get("served", True)),
        key=lambda v: not v.get("storage", False),
    )
    return [
        ResourceType(
            group=spec["group"],
            version=v["name"],
            kind=names["kind"],
            plural=names["plural"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            singular=names.get("singular") or names["kind"].lower(),
            short_names=tuple(names.get("shortNames") or ()),
            status="status" in (v.get("subresources") or {}),
            generation=True,
            custom=True,
            crd=crd["metadata"]["name"],
            schema=(v.get("schema") or {}).get("openAPIV3Schema"),
        )
        for v in versions
    ]
