"""The kinds the federation propagates, and where their replicas live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_fed.core.objects import group_of

# Kinds federated without any FederatedTypeConfig, with their replicas path.
DEFAULT_TYPES: tuple[tuple[str, str, str, str, bool, str | None], ...] = (
    # group, version, kind, plural, namespaced, replicas path
    ("", "v1", "Namespace", "namespaces", False, None),
    ("", "v1", "ConfigMap", "configmaps", True, None),
    ("", "v1", "Secret", "secrets", True, None),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, None),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, None),
    ("", "v1", "Service", "services", True, None),
    ("apps", "v1", "Deployment", "deployments", True, "spec.replicas"),
    ("apps", "v1", "ReplicaSet", "replicasets", True, "spec.replicas"),
    ("apps", "v1", "StatefulSet", "statefulsets", True, "spec.replicas"),
    ("apps", "v1", "DaemonSet", "daemonsets", True, None),
    ("batch", "v1", "Job", "jobs", True, "spec.parallelism"),
    ("batch", "v1", "CronJob", "cronjobs", True, None),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True, None),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, None),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, None),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, None),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, None),
)
UNKNOWN_KIND = "?"  # a FederatedObject whose template is of a kind that is not federated
V1_COMPAT_KINDS = ("ReplicaSet", "Deployment")


@dataclass(frozen=True)
class FederatedType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    replicas_path: tuple[str, ...] | None = None
    # A FederatedTypeConfig's statusAggregation (on unless it says `enabled: false` or
    # "Disabled", as KubeAdmiral's CRD defaults it) and statusCollection fields (None:
    # collection off).
    status_aggregation: bool = True
    status_collection: tuple[str, ...] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_resource(self) -> str:
        """`group/version/plural` as FederatedCluster apiResourceTypes are matched."""
        return f"{self.api_version}/{self.plural}"

    @property
    def resource(self) -> dict[str, Any]:
        """The shape `kube.client.path_for` takes."""
        return {
            "group": self.group,
            "version": self.version,
            "plural": self.plural,
            "namespaced": self.namespaced,
        }

    def describe(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def default_types() -> list[FederatedType]:
    return [
        FederatedType(g, v, k, p, n, tuple(r.split(".")) if r else None)
        for g, v, k, p, n, r in DEFAULT_TYPES
    ]


def types_with_configs(ftcs: list[dict[str, Any]]) -> list[FederatedType]:
    """Default types plus those FederatedTypeConfigs declare (theirs win on conflicts)."""
    by_key = {(t.group, t.kind): t for t in default_types()}
    for ftc in ftcs:
        spec = ftc.get("spec") or {}
        source = spec.get("sourceType") or spec.get("targetType") or {}
        kind, plural = source.get("kind"), source.get("pluralName")
        if not kind or not plural:
            continue
        path = (spec.get("pathDefinition") or {}).get("replicasSpec")
        by_key[(source.get("group", ""), kind)] = FederatedType(
            group=source.get("group", ""),
            version=source.get("version", "v1"),
            kind=kind,
            plural=plural,
            namespaced=source.get("scope", "Namespaced") == "Namespaced",
            replicas_path=tuple(path.split(".")) if path else None,
            status_aggregation=status_aggregation_enabled(spec.get("statusAggregation")),
            status_collection=status_collection_fields(spec.get("statusCollection")),
        )
    return sorted(by_key.values(), key=lambda t: (t.group, t.kind))


def status_aggregation_enabled(setting: Any) -> bool:
    """A FederatedTypeConfig's `statusAggregation`: `{enabled: bool}` in current KubeAdmiral,
    whose CRD defaults an absent one to `{enabled: true}`; `Enabled`/`Disabled` in older
    releases' samples. Anything else (a typo) leaves it on, as the default does."""
    if isinstance(setting, dict):
        return setting.get("enabled") is not False
    if isinstance(setting, str):
        return setting.strip().lower() != "disabled"
    return True


def status_collection_fields(setting: Any) -> tuple[str, ...] | None:
    """A FederatedTypeConfig's `statusCollection`: the dotted paths to collect from each
    member copy when `enabled` (older samples leave `enabled` out and list `fields`: on);
    None when absent or `enabled: false`."""
    if not isinstance(setting, dict) or setting.get("enabled") is False:
        return None
    fields = setting.get("fields") or []
    return tuple(str(f) for f in fields if isinstance(f, str) and f)


def type_of(types: list[FederatedType], api_version: str, kind: str) -> FederatedType | None:
    group = group_of(api_version)
    for candidate in types:
        if candidate.group == group and candidate.kind == kind:
            return candidate
    return None
