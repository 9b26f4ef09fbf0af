"""`kubectl fed adopt`: turn objects running in a member into federation templates.

What KubeAdmiral's federalization guide does by hand, in one step: read the live object,
prune what the member set, add the policy label and the adopt annotations, and create the
template in the host. The pod template is left byte-for-byte, so the next sync takes the
member object over in place (no pod restarts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federate import (
    build_federated_object,
    clean_template,
    federated_object_name,
    policy_of,
)
from kubectl_fed.core.followers import referenced_objects
from kubectl_fed.core.marks import (
    CLUSTER_PROPAGATION_POLICY_LABEL,
    CLUSTERS_TO_ADOPT_ANNOTATION,
    CONFLICT_RESOLUTION_ANNOTATION,
    MANAGED_LABEL,
    PROPAGATION_POLICY_LABEL,
)
from kubectl_fed.core.objects import ObjectKey, api_group, key_of
from kubectl_fed.core.prune import prune_for_adoption
from kubectl_fed.core.resources import Resource, UnknownType, resolve_type
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient, path_for
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
    """One line of the report: an object asked for, or a policy or dependency adopted
    with one, and what happened to it."""

    kind: str
    name: str
    # created | would create | already federated | reused | skipped | failed
    action: str
    message: str = ""
    of: str = ""  # a policy's or dependency's object ("deployment.apps/web"); "" for objects
    objects: list[Object] = field(default_factory=list)  # what was (or would be) created


@dataclass
class _Write:
    row: Adopted
    obj: Object
    key: ObjectKey


def adopt(
    host: Host, member: ClusterClient, request: AdoptRequest, progress: Any = None
) -> list[Adopted]:
    """Adopt each object, with its policy and dependencies, all or nothing; when one
    fails the others go ahead. What this run federates is written once: a policy or a
    dependency that two objects share is created for the first and reported for the next.
    """
    if bool(request.policy) == request.create_policy:
        raise FedError("give exactly one of --policy NAME and --create-policy")
    host.require_api()
    policy_label = _check_policy(host, request) if request.policy else None
    sources = _live_objects(member, request)
    done: dict[ObjectKey, str] = {}  # what this run federated (or would), with which object
    rows: list[Adopted] = []
    for index, (resource, live) in enumerate(sources, 1):
        rows += _adopt_one(host, member, request, resource, live, policy_label, done)
        if progress:
            progress(index, len(sources))
    return rows


def _check_policy(host: Host, request: AdoptRequest) -> tuple[str, str]:
    name = str(request.policy)
    try:
        host.kube.get(fed_path(kubeadmiral.PROPAGATION_POLICIES, name, request.namespace))
        return PROPAGATION_POLICY_LABEL, name
    except NotFound:
        pass
    try:
        host.kube.get(fed_path(kubeadmiral.CLUSTER_PROPAGATION_POLICIES, name))
        return CLUSTER_PROPAGATION_POLICY_LABEL, name
    except NotFound:
        raise FedError(
            f"no PropagationPolicy {request.namespace}/{name} or "
            f"ClusterPropagationPolicy {name} in the host"
        ) from None


def _live_objects(member: ClusterClient, request: AdoptRequest) -> list[tuple[Resource, Object]]:
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
    member: ClusterClient,
    request: AdoptRequest,
    resource: Resource,
    live: Object,
    policy_label: tuple[str, str] | None,
    done: dict[ObjectKey, str],
) -> list[Adopted]:
    """The report rows of one object: itself, then its policy and dependencies."""
    name = live["metadata"]["name"]
    live.setdefault("apiVersion", _api_version(resource))
    live.setdefault("kind", resource["kind"])
    row = Adopted(resource["kind"], name, "created")
    title = object_title(live)
    try:
        verdict = object_verdict(_host_copy(host, resource, live), done.get(_key(live)))
    except ApiError as err:
        return [_fail(row, str(err))]
    if verdict:
        row.action, row.message = verdict
        return [row]
    if (live["metadata"].get("labels") or {}).get(MANAGED_LABEL) == "false":
        return [_fail(row, f"labelled {MANAGED_LABEL}=false in the member")]
    namespaced = bool(resource["namespaced"])
    default_label = PROPAGATION_POLICY_LABEL if namespaced else CLUSTER_PROPAGATION_POLICY_LABEL
    label = policy_label or (default_label, name)
    rows, writes = [row], []
    if request.create_policy:
        policy = _policy(name, request.namespace if namespaced else None, request.cluster)
        policy_row = Adopted(policy["kind"], name, "created", of=title)
        rows.append(policy_row)
        if _key(policy) in done:
            policy_row.action = "reused"
            policy_row.message = f"created with {done[_key(policy)]} in this run"
        else:
            writes.append(_Write(policy_row, policy, _key(policy)))
    writes.append(_Write(row, _template(resource, live, label, request), _key(live)))
    if request.dependencies:
        for dependency_row, dependency in _dependencies(host, member, live, label, request, done):
            rows.append(dependency_row)
            if dependency is not None:
                writes.append(_Write(dependency_row, dependency, _key(dependency)))
    unreadable = next((r for r in rows if r.action == "failed"), None)
    if unreadable:
        _abandon(writes, f"not created: {unreadable.kind} {unreadable.name} could not be read")
    elif _write_all(host, writes, request):
        done.update((w.key, title) for w in writes if w.row.action != "reused")
    return rows


def object_title(obj: Object) -> str:
    """kubectl's `-o name`: `deployment.apps/web`, `configmap/settings`."""
    group, kind, name = api_group(obj), str(obj.get("kind", "")).lower(), obj["metadata"]["name"]
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"


def object_verdict(in_host: Object | None, adopted_with: str | None) -> tuple[str, str] | None:
    """(action, message) for an object that is not to be adopted; None when it is.

    Adopted earlier in this run, or present in the host (as a template or as a
    FederatedObject): never overwritten.
    """
    if adopted_with:
        return "already federated", "adopted earlier in this run"
    if in_host is None:
        return None
    if in_host.get("kind") in ("FederatedObject", "ClusterFederatedObject"):
        return "already federated", f"{in_host['kind']} {in_host['metadata']['name']} exists"
    policy = policy_of(in_host)
    if policy:
        return "already federated", f"the host has it with {policy[0]} {policy[1]}"
    return "skipped", "the host has an object of that name that is not federated: left as it is"


def dependency_verdict(
    in_host: Object | None, adopted_with: str | None, label: tuple[str, str]
) -> tuple[str, str] | None:
    """(action, message) for a dependency that needs no write; None when it is to be created.

    Fine as it is: one this run federated with another object, and one the host already
    federates with the same policy. One federated with another policy, or a host object
    that is not federated, is not this run's to change: skipped, with the reason.
    """
    if adopted_with:
        return "already federated", f"adopted with {adopted_with} in this run"
    if in_host is None:
        return None
    policy, wanted = policy_of(in_host), _policy_named(label)
    if policy == wanted:
        return "already federated", f"the host has it with {wanted[0]} {wanted[1]}"
    if policy:
        return "skipped", (
            f"the host has it with {policy[0]} {policy[1]}, not {wanted[1]}: left as it is"
        )
    return "skipped", "the host has an object of that name that is not federated: left as it is"


def _policy_named(label: tuple[str, str]) -> tuple[str, str]:
    namespaced = label[0] == PROPAGATION_POLICY_LABEL
    return ("PropagationPolicy" if namespaced else "ClusterPropagationPolicy"), label[1]


def _key(obj: Object) -> ObjectKey:
    namespace, name = key_of(obj)
    return ObjectKey(api_group(obj), obj["kind"], namespace, name)


def _fail(row: Adopted, message: str) -> Adopted:
    row.action, row.message, row.objects = "failed", message, []
    return row


def _api_version(resource: Resource) -> str:
    return (
        f"{resource['group']}/{resource['version']}" if resource["group"] else resource["version"]
    )


def _host_copy(host: Host, resource: Resource, live: Object) -> Object | None:
    """The host's object of that name (a template), else its FederatedObject, else None."""
    namespace = live["metadata"].get("namespace")
    try:
        found: Object = host.kube.get(path_for(resource, namespace, live["metadata"]["name"]))
        return found
    except NotFound:
        pass
    plural = kubeadmiral.FEDERATED_OBJECTS if namespace else kubeadmiral.CLUSTER_FEDERATED_OBJECTS
    name = federated_object_name(live["metadata"]["name"], resource["plural"], resource["group"])
    try:
        federated: Object = host.kube.get(fed_path(plural, name, namespace))
    except NotFound:
        return None
    federated.setdefault("kind", "FederatedObject" if namespace else "ClusterFederatedObject")
    return federated


def _policy(name: str, namespace: str | None, cluster: str) -> Object:
    """A Duplicate policy placing the object on the cluster it came from (cluster-scoped
    objects get a ClusterPropagationPolicy)."""
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": kubeadmiral.API_VERSION,
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
    host: Host,
    member: ClusterClient,
    live: Object,
    label: tuple[str, str],
    request: AdoptRequest,
    done: dict[ObjectKey, str],
) -> list[tuple[Adopted, Object | None]]:
    """A report row for every ConfigMap, Secret, ServiceAccount and PVC the pod template
    references, each with the template to create for it (None: nothing to create)."""
    namespace = live["metadata"].get("namespace")
    found: list[tuple[Adopted, Object | None]] = []
    for kind, name in referenced_objects(live):
        plural = DEPENDENCY_KINDS.get(kind)
        if plural is None:
            continue
        row = Adopted(kind, name, "created", of=object_title(live))
        resource = {
            "group": "",
            "version": "v1",
            "kind": kind,
            "plural": plural,
            "namespaced": True,
        }
        try:
            found.append(
                (row, _dependency(host, member, resource, namespace, label, request, done, row))
            )
        except ApiError as err:
            found.append((_fail(row, str(err)), None))
    return found


def _dependency(
    host: Host,
    member: ClusterClient,
    resource: Resource,
    namespace: str | None,
    label: tuple[str, str],
    request: AdoptRequest,
    done: dict[ObjectKey, str],
    row: Adopted,
) -> Object | None:
    """The template to create for one dependency, or None with `row` saying why not."""
    try:
        dependency = member.get(path_for(resource, namespace, row.name))
    except NotFound:  # referenced but absent: the pod would not start either
        row.action, row.message = "skipped", f"not found in {request.cluster}"
        return None
    dependency.setdefault("apiVersion", "v1")
    dependency.setdefault("kind", row.kind)
    if dependency.get("type") == "kubernetes.io/service-account-token":
        row.action, row.message = "skipped", "a token the member mints for itself"
        return None
    in_host = _host_copy(host, resource, dependency)
    verdict = dependency_verdict(in_host, done.get(_key(dependency)), label)
    if verdict:
        row.action, row.message = verdict
        return None
    return _marked(prune_for_adoption(dependency), label, request.cluster)


def _write_all(host: Host, writes: list[_Write], request: AdoptRequest) -> bool:
    """Create every object or none: what was created is removed again on a failure.

    Each write's row says what happened to it. True when all were written.
    """
    if request.dry_run == "client":
        for write in writes:
            write.row.action, write.row.objects = "would create", [write.obj]
        return True
    dry = request.dry_run == "server"
    try:
        ensure_namespace(host.kube, request.namespace, dry_run=dry)
    except ApiError as err:
        _abandon(writes, f"not created: {err}")
        return False
    created: list[_Write] = []
    for index, write in enumerate(writes):
        try:
            reused = _create(host, write.obj, dry)
        except FedError as err:
            _fail(write.row, str(err))
            culprit = f"{write.row.kind} {write.row.name} failed"
            _roll_back(host, created, culprit, dry)
            _abandon(writes[index + 1 :], f"not created: {culprit}")
            return False
        if reused:
            write.row.action, write.row.message = "reused", "exists with the same spec"
        else:
            write.row.objects = [write.obj]
            created.append(write)
    return True


def _create(host: Host, obj: Object, dry: bool) -> bool:
    """Create `obj`; True when it is a policy that already exists with the same spec (a
    Deployment and its Service of the same name share one)."""
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
        return True
    return False


def _roll_back(host: Host, created: list[_Write], culprit: str, dry: bool) -> None:
    for write in reversed(created):
        message = f"rolled back: {culprit}"
        if not dry:
            path = f"{_collection(host, write.obj)}/{write.obj['metadata']['name']}"
            try:
                host.kube.delete(path)
            except NotFound:
                pass
            except ApiError as err:
                message = f"created, but not rolled back ({culprit}): {err}"
        _fail(write.row, message)


def _abandon(writes: list[_Write], message: str) -> None:
    for write in writes:
        if write.row.action != "failed":
            _fail(write.row, message)


def _same_policy(host: Host, path: str, wanted: Object) -> bool:
    """Only the fields we set count: the server adds the CRD's defaults to the rest."""
    existing = host.kube.get(path).get("spec") or {}
    return all(existing.get(key) == value for key, value in wanted["spec"].items())


def _collection(host: Host, obj: Object) -> str:
    namespace = obj["metadata"].get("namespace")
    if obj["apiVersion"] == kubeadmiral.API_VERSION:
        plural = {
            "PropagationPolicy": kubeadmiral.PROPAGATION_POLICIES,
            "ClusterPropagationPolicy": kubeadmiral.CLUSTER_PROPAGATION_POLICIES,
            "FederatedObject": kubeadmiral.FEDERATED_OBJECTS,
            "ClusterFederatedObject": kubeadmiral.CLUSTER_FEDERATED_OBJECTS,
        }[obj["kind"]]
        return fed_path(plural, namespace=namespace)
    group = obj["apiVersion"].rpartition("/")[0]
    resource = resolve_type(
        host.kube.api_resources(), f"{obj['kind']}.{group}" if group else obj["kind"]
    )
    return path_for(resource, namespace)
