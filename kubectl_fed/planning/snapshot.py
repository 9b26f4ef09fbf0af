"""One consistent read of the host: clusters, policies, templates and federated objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_fed.core.federate import (
    federated_object_name,
    is_federation_disabled,
    policy_of,
)
from kubectl_fed.core.federated_types import (
    V1_COMPAT_KINDS,
    FederatedType,
    types_with_configs,
)
from kubectl_fed.core.kubeadmiral import (
    CLUSTER_FEDERATED_OBJECTS,
    CLUSTER_OVERRIDE_POLICIES,
    CLUSTER_PROPAGATION_POLICIES,
    FEDERATED_OBJECTS,
    FEDERATED_TYPE_CONFIGS,
    OVERRIDE_POLICIES,
    PROPAGATION_POLICIES,
)
from kubectl_fed.core.marks import (
    CLUSTER_PROPAGATION_POLICY_LABEL,
    PROPAGATION_POLICY_LABEL,
)
from kubectl_fed.core.objects import Object, ObjectKey, key_of
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.host import Host, fed_path

SETTINGS_CONFIGMAP = "kubectl-fed-settings"
V1_COMPAT_KEY = "v1-compat"
# Namespaces whose objects are the host's own, never templates.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@dataclass
class Template:
    """A native object in the host that the federation propagates."""

    type: FederatedType
    obj: Object
    v1_compat: bool = False  # federated by `init --v1-compat`, not by a policy label

    @property
    def key(self) -> tuple[str, str]:
        return key_of(self.obj)

    @property
    def type_key(self) -> ObjectKey:
        namespace, name = self.key
        return ObjectKey(self.type.group, self.type.kind, namespace, name)


@dataclass
class HostSnapshot:
    clusters: list[Object]
    types: list[FederatedType]
    # By (kind, namespace, name): every policy kind is of core.kubeadmiral.io, and what a
    # template names is a kind and a name ("" namespace for the cluster-scoped kinds).
    policies: dict[tuple[str, str, str], Object]
    templates: list[Template]
    federated_objects: list[Object]
    v1_compat: bool
    unserved: list[str] = field(default_factory=list)

    def policy(self, kind: str, namespace: str, name: str) -> Object | None:
        scoped = namespace if kind in NAMESPACED_POLICY_KINDS else ""
        return self.policies.get((kind, scoped, name))


POLICY_KINDS = (
    ("PropagationPolicy", PROPAGATION_POLICIES, True),
    ("ClusterPropagationPolicy", CLUSTER_PROPAGATION_POLICIES, False),
    ("OverridePolicy", OVERRIDE_POLICIES, True),
    ("ClusterOverridePolicy", CLUSTER_OVERRIDE_POLICIES, False),
)
NAMESPACED_POLICY_KINDS = frozenset(kind for kind, _, namespaced in POLICY_KINDS if namespaced)


def load(host: Host, only: set[ObjectKey] | None = None) -> HostSnapshot:
    """The whole host, or with `only` just those templates and their FederatedObjects
    (what a watch event names; clusters and policies are always read whole)."""
    kube = host.kube
    clusters = host.clusters()
    types = federated_types(host)
    policies: dict[tuple[str, str, str], Object] = {}
    for kind, plural, namespaced in POLICY_KINDS:
        for item in kube.list_all(fed_path(plural)):
            namespace = item["metadata"].get("namespace", "") if namespaced else ""
            policies[(kind, namespace, item["metadata"]["name"])] = item
    v1_compat = read_v1_compat(host)
    if only is None:
        templates, unserved = _templates(host, types, v1_compat)
        federated_objects = [
            *kube.list_all(fed_path(FEDERATED_OBJECTS)),
            *kube.list_all(fed_path(CLUSTER_FEDERATED_OBJECTS)),
        ]
    else:
        templates, federated_objects, unserved = _named(host, types, v1_compat, only)
    return HostSnapshot(
        clusters, types, policies, templates, federated_objects, v1_compat, unserved
    )


def _named(
    host: Host, types: list[FederatedType], v1_compat: bool, keys: set[ObjectKey]
) -> tuple[list[Template], list[Object], list[str]]:
    found: dict[ObjectKey, Template] = {}
    federated_objects = []
    for group, kind, namespace, name in sorted(keys):
        ftype = next((t for t in types if t.group == group and t.kind == kind), None)
        if ftype is None:
            continue
        obj = _get(host, path_for(ftype.resource, namespace or None, name))
        if obj is not None:
            obj.setdefault("apiVersion", ftype.api_version)
            obj.setdefault("kind", kind)
            if policy_of(obj) is not None:
                _add(found, Template(ftype, obj))
            elif v1_compat and kind in V1_COMPAT_KINDS and group == "apps":
                _add(found, Template(ftype, obj, v1_compat=True))
        plural = FEDERATED_OBJECTS if ftype.namespaced else CLUSTER_FEDERATED_OBJECTS
        fo = _get(
            host,
            fed_path(plural, federated_object_name(name, ftype.plural, group), namespace or None),
        )
        if fo is not None:
            fo.setdefault(
                "kind", "FederatedObject" if ftype.namespaced else "ClusterFederatedObject"
            )
            federated_objects.append(fo)
    return list(found.values()), federated_objects, []


def _get(host: Host, path: str) -> Object | None:
    try:
        found: Object = host.kube.get(path)
        return found
    except NotFound:
        return None


def federated_types(host: Host) -> list[FederatedType]:
    return types_with_configs(list(host.kube.list_all(fed_path(FEDERATED_TYPE_CONFIGS))))


def read_v1_compat(host: Host) -> bool:
    try:
        settings = host.kube.get(
            f"/api/v1/namespaces/{host.fed_namespace}/configmaps/{SETTINGS_CONFIGMAP}"
        )
    except NotFound:
        return False
    return (settings.get("data") or {}).get(V1_COMPAT_KEY) == "true"


def _templates(
    host: Host, types: list[FederatedType], v1_compat: bool
) -> tuple[list[Template], list[str]]:
    """Objects labelled with a policy (two selectors: labels cannot be ORed), plus with
    v1 compatibility every policy-less ReplicaSet and Deployment."""
    found: dict[ObjectKey, Template] = {}
    unserved = []
    for ftype in types:
        path = path_for(ftype.resource)
        try:
            for label in (PROPAGATION_POLICY_LABEL, CLUSTER_PROPAGATION_POLICY_LABEL):
                for obj in host.kube.list_all(path, labelSelector=label):
                    _add(found, Template(ftype, obj))
            if v1_compat and ftype.kind in V1_COMPAT_KINDS and ftype.group == "apps":
                for obj in host.kube.list_all(path):
                    if policy_of(obj) is None:
                        _add(found, Template(ftype, obj, v1_compat=True))
        except NotFound:
            unserved.append(ftype.describe())
    return list(found.values()), unserved


def _add(found: dict[ObjectKey, Template], template: Template) -> None:
    namespace, _ = template.key
    if namespace in SYSTEM_NAMESPACES or is_federation_disabled(template.obj):
        return
    # With the API group: a CRD kind `Service` of example.com is not the core Service.
    found[template.type_key] = template
