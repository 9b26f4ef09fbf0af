"""`kubectl fed adopt`: turn objects running in a member into federation templates.

What KubeAdmiral's federalization guide does by hand, in one step: read the live object,
prune what the member set, add the policy label and the adopt annotations, and create the
template in the host. The pod template is left byte-for-byte, so the next sync takes the
member object over in place (no pod restarts).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import api
from kubectl_fed.core.federate import (
    CLUSTER_PROPAGATION_POLICY_LABEL,
    CLUSTERS_TO_ADOPT_ANNOTATION,
    CONFLICT_RESOLUTION_ANNOTATION,
    MANAGED_LABEL,
    PROPAGATION_POLICY_LABEL,
    build_federated_object,
    clean_template,
    federated_object_name,
    policy_of,
)
from kubectl_fed.core.followers import referenced_objects
from kubectl_fed.core.prune import prune_for_adoption
from kubectl_fed.core.resources import Resource, UnknownType, resolve_type
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import Kube, path_for
from kubectl_fed.kube.errors import AlreadyExists, ApiError, NotFound
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.ops.membership import ensure_namespace

Object = dict[str, Any]
DEPENDENCY_KINDS = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "ServiceAccount": "serviceaccounts",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}


@dataclass
class AdoptRequest:
    references: list[str]  # TYPE/NAME, or TYPE with a selector
    cluster: str
    namespace: str
    selector: str | None
    policy: str | None
    create_policy: bool
    template: str  # native | federated
    dependencies: bool
    dry_run: str  # none | client | server


@dataclass
class Adopted:
    """One object's outcome, for the summary table."""

    kind: str
    name: str
    action: str  # created | already federated | would create | failed
    message: str = ""
    objects: list[Object] = field(default_factory=list)  # what was (or would be) created


def adopt(host: Host, member: Kube, request: AdoptRequest, progress: Any = None) -> list[Adopted]:
    if bool(request.policy) == request.create_policy:
        raise FedError("give exactly one of --policy NAME and --create-policy")
    host.require_api()
    policy_label = _check_policy(host, request) if request.policy else None
    sources = _live_objects(member, request)
    results = []
    for index, (resource, live) in enumerate(sources, 1):
        results.append(_adopt_one(host, member, request, resource, live, policy_label))
        if progress:
            progress(index, len(sources))
    return results


def _check_policy(host: Host, request: AdoptRequest) -> tuple[str, str]:
    name = str(request.policy)
    try:
        host.kube.get(fed_path(api.PROPAGATION_POLICIES, name, request.namespace))
        return PROPAGATION_POLICY_LABEL, name
    except NotFound:
        pass
    try:
        host.kube.get(fed_path(api.CLUSTER_PROPAGATION_POLICIES, name))
        return CLUSTER_PROPAGATION_POLICY_LABEL, name
    except NotFound:
        raise FedError(
            f"no PropagationPolicy {request.namespace}/{name} or "
            f"ClusterPropagationPolicy {name} in the host"
        ) from None


def _live_objects(member: Kube, request: AdoptRequest) -> list[tuple[Resource, Object]]:
    resources = member.api_resources()
    found = []
    for reference in request.references:
        kind, _, name = reference.partition("/")
        try:
            resource = resolve_type(resources, kind)
        except UnknownType as err:
            raise FedError(f"{request.cluster}: {err}") from None
        namespace = request.namespace if resource["namespaced"] else None
        if name:
            try:
                found.append((resource, member.get(path_for(resource, namespace, name))))
            except NotFound:
                raise FedError(
                    f"{reference} not found in {request.cluster}"
                    f"{' namespace ' + namespace if namespace else ''}"
                ) from None
        elif request.selector is not None:
            found += [
                (resource, o)
                for o in member.list_all(
                    path_for(resource, namespace), labelSelector=request.selector
                )
            ]
        else:
            raise FedError(f"{reference}: give TYPE/NAME, or TYPE with -l SELECTOR")
    return found


def _adopt_one(
    host: Host,
    member: Kube,
    request: AdoptRequest,
    resource: Resource,
    live: Object,
    policy_label: tuple[str, str] | None,
) -> Adopted:
    name = live["metadata"]["name"]
    live.setdefault("apiVersion", _api_version(resource))
    live.setdefault("kind", resource["kind"])
    result = Adopted(resource["kind"], name, "created")
    in_host = _in_host(host, resource, live)
    if in_host:
        result.action, result.message = "already federated", in_host
        return result
    if (live["metadata"].get("labels") or {}).get(MANAGED_LABEL) == "false":
        result.action = "failed"
        result.message = f"labelled {MANAGED_LABEL}=false in the member"
        return result
    namespaced = bool(resource["namespaced"])
    default_label = PROPAGATION_POLICY_LABEL if namespaced else CLUSTER_PROPAGATION_POLICY_LABEL
    label = policy_label or (default_label, name)
    objects = []
    if request.create_policy:
        objects.append(_policy(name, request.namespace if namespaced else None, request.cluster))
    objects.append(_template(resource, live, label, request))
    if request.dependencies:
        objects += _dependencies(member, live, label, request)
    result.objects = objects
    if request.dry_run == "client":
        result.action = "would create"
        return result
    try:
        _create_all(host, objects, request)
    except ApiError as err:
        result.action, result.message = "failed", str(err)
    return result


def _api_version(resource: Resource) -> str:
    return (
        f"{resource['group']}/{resource['version']}" if resource["group"] else resource["version"]
    )


def _in_host(host: Host, resource: Resource, live: Object) -> str:
    """Why the host already has this object (never overwritten), or "" when it has not."""
    namespace = live["metadata"].get("namespace")
    try:
        existing = host.kube.get(path_for(resource, namespace, live["metadata"]["name"]))
    except NotFound:
        existing = None
    if existing is not None:
        policy = policy_of(existing)
        return (
            f"the host has it with {policy[0]} {policy[1]}: left as it is"
            if policy
            else "the host has an object of that name (not federated): left as it is"
        )
    plural = api.FEDERATED_OBJECTS if namespace else api.CLUSTER_FEDERATED_OBJECTS
    name = federated_object_name(live["metadata"]["name"], resource["plural"], resource["group"])
    try:
        host.kube.get(fed_path(plural, name, namespace))
    except NotFound:
        return ""
    return f"FederatedObject {name} exists: left as it is"


def _policy(name: str, namespace: str | None, cluster: str) -> Object:
    """A Duplicate policy placing the object on the cluster it came from (cluster-scoped
    objects get a ClusterPropagationPolicy)."""
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": api.API_VERSION,
        "kind": "PropagationPolicy" if namespace else "ClusterPropagationPolicy",
        "metadata": metadata,
        "spec": {"schedulingMode": "Duplicate", "placement": [{"cluster": cluster}]},
    }


def _marked(pruned: Object, label: tuple[str, str], cluster: str) -> Object:
    metadata = pruned.setdefault("metadata", {})
    metadata.setdefault("labels", {})[label[0]] = label[1]
    annotations = metadata.setdefault("annotations", {})
    annotations[CONFLICT_RESOLUTION_ANNOTATION] = "adopt"
    annotations[CLUSTERS_TO_ADOPT_ANNOTATION] = json.dumps({"clusters": [cluster]})
    return pruned


def _template(
    resource: Resource, live: Object, label: tuple[str, str], request: AdoptRequest
) -> Object:
    native = _marked(prune_for_adoption(live), label, request.cluster)
    if request.template == "native":
        return native
    federated = build_federated_object(
        native, resource["plural"], resource["group"], None, None, None
    )
    federated["spec"]["template"] = clean_template(native)
    return federated


def _dependencies(
    member: Kube, live: Object, label: tuple[str, str], request: AdoptRequest
) -> list[Object]:
    namespace = live["metadata"].get("namespace")
    found = []
    for kind, name in referenced_objects(live):
        plural = DEPENDENCY_KINDS.get(kind)
        if plural is None:
            continue
        resource = {
            "group": "",
            "version": "v1",
            "kind": kind,
            "plural": plural,
            "namespaced": True,
        }
        try:
            dependency = member.get(path_for(resource, namespace, name))
        except NotFound:
            continue  # referenced but absent: the pod would not start either
        dependency.setdefault("apiVersion", "v1")
        dependency.setdefault("kind", kind)
        if dependency.get("type") == "kubernetes.io/service-account-token":
            continue  # minted by the member for itself
        found.append(_marked(prune_for_adoption(dependency), label, request.cluster))
    return found


def _create_all(host: Host, objects: list[Object], request: AdoptRequest) -> None:
    """Create every object or none: what was created is removed again on a failure."""
    dry = request.dry_run == "server"
    ensure_namespace(host.kube, request.namespace, dry_run=dry)
    created: list[str] = []
    try:
        for obj in objects:
            path = _collection(host, obj)
            try:
                host.kube.create(path, obj, dry_run=dry)
            except AlreadyExists:
                if not obj["kind"].endswith("PropagationPolicy"):
                    raise
                if not _same_policy(host, f"{path}/{obj['metadata']['name']}", obj):
                    raise FedError(
                        f"{obj['kind']} {obj['metadata']['name']} already exists with another "
                        "spec: use --policy to reuse it"
                    ) from None
                continue  # the very policy we would create (a Deployment and its Service)
            created.append(f"{path}/{obj['metadata']['name']}")
    except (ApiError, FedError):
        if not dry:
            for path in reversed(created):
                with contextlib.suppress(ApiError):
                    host.kube.delete(path)
        raise


def _same_policy(host: Host, path: str, wanted: Object) -> bool:
    """Only the fields we set count: the server adds the CRD's defaults to the rest."""
    existing = host.kube.get(path).get("spec") or {}
    return all(existing.get(key) == value for key, value in wanted["spec"].items())


def _collection(host: Host, obj: Object) -> str:
    namespace = obj["metadata"].get("namespace")
    if obj["apiVersion"] == api.API_VERSION:
        plural = {
            "PropagationPolicy": api.PROPAGATION_POLICIES,
            "ClusterPropagationPolicy": api.CLUSTER_PROPAGATION_POLICIES,
            "FederatedObject": api.FEDERATED_OBJECTS,
            "ClusterFederatedObject": api.CLUSTER_FEDERATED_OBJECTS,
        }[obj["kind"]]
        return fed_path(plural, namespace=namespace)
    group = obj["apiVersion"].rpartition("/")[0]
    resource = resolve_type(
        host.kube.api_resources(), f"{obj['kind']}.{group}" if group else obj["kind"]
    )
    return path_for(resource, namespace)
