"""One consistent read of the host: clusters, policies, templates and federated objects.

Templates are the objects a policy label (or v1 compatibility) federates, and the host
namespaces auto-propagation sends to every member. Follower candidates are what those
templates' workloads reference without a policy of their own: the planner decides which
of them follow (core/followers.py)."""

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
from kubectl_fed.core.followers import FOLLOWER_KINDS, followers_of, following_disabled
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
from kubectl_fed.core.namespaces import NAMESPACE, auto_propagated
from kubectl_fed.core.objects import Object, ObjectKey, key_of
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.host import Host, fed_path

SETTINGS_CONFIGMAP = "kubectl-fed-settings"
V1_COMPAT_KEY = "v1-compat"
# Namespaces whose objects are the host's own, never templates.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# More followers of one kind than this are read with one list rather than a GET each.
BULK_FOLLOWERS_ABOVE = 8


@dataclass
class Template:
    """A native object in the host that the federation propagates."""

    type: FederatedType
    obj: Object
    v1_compat: bool = False  # federated by `init --v1-compat`, not by a policy label
    # Without a policy of its own: goes only where the workloads it follows go.
    follower: bool = False
    # A namespace without a policy of its own: goes to every member (auto-propagation).
    auto_namespace: bool = False

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
    # Referenced by workloads, without a policy of their own (see Template.follower).
    followers: list[Template] = field(default_factory=list)

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
        found = {t.type_key: t for t in templates}
        followers = _followers(
            host, types, _references(found, federated_objects, host.fed_namespace), found
        )
    else:
        found, federated_objects, followers = _named(host, types, v1_compat, only)
        # The followers these workloads reference, and their FederatedObjects, too.
        more = _followers(
            host, types, _references(found, federated_objects, host.fed_namespace), found
        )
        _add_federated_objects(host, types, set(more), federated_objects)
        followers = {**followers, **more}
        templates, unserved = list(found.values()), []
    snap = HostSnapshot(
        clusters, types, policies, templates, federated_objects, v1_compat, unserved
    )
    snap.followers = list(followers.values())
    return snap


def _named(
    host: Host, types: list[FederatedType], v1_compat: bool, keys: set[ObjectKey]
) -> tuple[dict[ObjectKey, Template], list[Object], dict[ObjectKey, Template]]:
    found: dict[ObjectKey, Template] = {}
    followers: dict[ObjectKey, Template] = {}
    for group, kind, namespace, name in sorted(keys):
        ftype = next((t for t in types if t.group == group and t.kind == kind), None)
        if ftype is None:
            continue
        obj = _get(host, path_for(ftype.resource, namespace or None, name))
        if obj is not None:
            obj.setdefault("apiVersion", ftype.api_version)
            obj.setdefault("kind", kind)
            _classify(found, followers, Template(ftype, obj), v1_compat, host.fed_namespace)
    federated_objects: list[Object] = []
    _add_federated_objects(host, types, keys, federated_objects)
    return found, federated_objects, followers


def _classify(
    found: dict[ObjectKey, Template],
    followers: dict[ObjectKey, Template],
    template: Template,
    v1_compat: bool,
    fed_namespace: str,
) -> None:
    """File one host object read by name: a template, a follower candidate, or neither."""
    obj, ftype = template.obj, template.type
    if policy_of(obj) is not None:
        _add(found, template)
    elif v1_compat and ftype.kind in V1_COMPAT_KINDS and ftype.group == "apps":
        _add(found, Template(ftype, obj, v1_compat=True))
    elif (ftype.group, ftype.kind) == NAMESPACE and auto_propagated(obj, fed_namespace):
        _add(found, Template(ftype, obj, auto_namespace=True))
    elif (ftype.group, ftype.kind) in FOLLOWER_KINDS and template.key[0] != fed_namespace:
        _add_follower(followers, Template(ftype, obj, follower=True))


def _add_federated_objects(
    host: Host, types: list[FederatedType], keys: set[ObjectKey], into: list[Object]
) -> None:
    """GET the FederatedObject of each key (that has one and is not read yet)."""
    have = {(f["metadata"].get("namespace", ""), f["metadata"]["name"]) for f in into}
    for group, kind, namespace, name in sorted(keys):
        ftype = next((t for t in types if t.group == group and t.kind == kind), None)
        if ftype is None:
            continue
        fo_name = federated_object_name(name, ftype.plural, group)
        if (namespace, fo_name) in have:
            continue
        plural = FEDERATED_OBJECTS if ftype.namespaced else CLUSTER_FEDERATED_OBJECTS
        fo = _get(host, fed_path(plural, fo_name, namespace or None))
        if fo is not None:
            fo.setdefault(
                "kind", "FederatedObject" if ftype.namespaced else "ClusterFederatedObject"
            )
            into.append(fo)


def _references(
    templates: dict[ObjectKey, Template], federated_objects: list[Object], fed_namespace: str
) -> set[ObjectKey]:
    """What the workloads among the templates, and among the FederatedObjects written by
    hand, reference as followers (by kind and name; in their namespace), and what follows
    a workload now (the planner decides whether it still does). Nothing in the system
    namespaces or the fed namespace (member credentials are kept there) follows."""
    found: set[ObjectKey] = set()
    for fo in federated_objects:
        spec = fo.get("spec") or {}
        template = spec.get("template") or {}
        if spec.get("follows") and isinstance(template.get("metadata"), dict):
            group = str(template.get("apiVersion", "")).rpartition("/")[0]
            namespace, name = key_of(template)
            found.add(ObjectKey(group, str(template.get("kind", "")), namespace, name))
    leaders: list[tuple[Object, dict[str, str]]] = [
        (t.obj, _annotations(t.obj)) for t in templates.values()
    ]
    leaders += [
        ((fo.get("spec") or {}).get("template") or {}, _annotations(fo))
        for fo in federated_objects
        if not _has_controller(fo)
    ]
    for obj, marks in leaders:
        namespace = key_of(obj)[0]
        if not namespace or namespace in SYSTEM_NAMESPACES or namespace == fed_namespace:
            continue
        refs, _problem = followers_of(obj, marks)
        found.update(ObjectKey(group, kind, namespace, name) for group, kind, name in refs)
    return found


def _followers(
    host: Host,
    types: list[FederatedType],
    keys: set[ObjectKey],
    templates: dict[ObjectKey, Template],
) -> dict[ObjectKey, Template]:
    """The referenced objects that exist and are not templates already: follower
    candidates. Per kind, a GET each, or one list when many are referenced."""
    wanted: dict[FederatedType, set[ObjectKey]] = {}
    by_kind = {(t.group, t.kind): t for t in types}
    for key in keys - set(templates):
        ftype = by_kind.get((key.group, key.kind))
        if ftype is not None and (key.group, key.kind) in FOLLOWER_KINDS:
            wanted.setdefault(ftype, set()).add(key)
    found: dict[ObjectKey, Template] = {}
    for ftype, named in wanted.items():
        try:
            for obj in _read_followers(host, ftype, named):
                obj.setdefault("apiVersion", ftype.api_version)
                obj.setdefault("kind", ftype.kind)
                _add_follower(found, Template(ftype, obj, follower=True))
        except NotFound:
            continue  # the kind is not served: nothing to follow
    return found


def _read_followers(host: Host, ftype: FederatedType, keys: set[ObjectKey]) -> list[Object]:
    if len(keys) > BULK_FOLLOWERS_ABOVE:
        listed = host.kube.list_all(path_for(ftype.resource))
        names = {(k.namespace, k.name) for k in keys}
        return [o for o in listed if key_of(o) in names]
    found = []
    for key in sorted(keys):
        obj = _get(host, path_for(ftype.resource, key.namespace, key.name))
        if obj is not None:
            found.append(obj)
    return found


def _add_follower(found: dict[ObjectKey, Template], template: Template) -> None:
    """A candidate unless it opted out, or is a template after all (labelled meanwhile)."""
    obj = template.obj
    if policy_of(obj) is None and not following_disabled(_annotations(obj)):
        _add(found, template)


def _annotations(obj: Object) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _has_controller(fo: Object) -> bool:
    refs = (fo.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") for ref in refs)


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
            if (ftype.group, ftype.kind) == NAMESPACE:
                _namespaces(host, ftype, found)
                continue
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


def _namespaces(host: Host, ftype: FederatedType, found: dict[ObjectKey, Template]) -> None:
    """Every host namespace, in one list: those with a policy label are templates like any
    other; the others go to every member unless auto-propagation leaves them out."""
    for obj in host.kube.list_all(path_for(ftype.resource)):
        obj.setdefault("apiVersion", ftype.api_version)
        obj.setdefault("kind", ftype.kind)
        if policy_of(obj) is not None:
            _add(found, Template(ftype, obj))
        elif auto_propagated(obj, host.fed_namespace):
            _add(found, Template(ftype, obj, auto_namespace=True))


def _add(found: dict[ObjectKey, Template], template: Template) -> None:
    namespace, _ = template.key
    if namespace in SYSTEM_NAMESPACES or is_federation_disabled(template.obj):
        return
    # With the API group: a CRD kind `Service` of example.com is not the core Service.
    found[template.type_key] = template
