"""The writes of a pass: FederatedObjects in the host, copies in the members.

Each write is fenced by the sync lease through the client (kube.client.ClusterClient.fence).
"""

from __future__ import annotations

import contextlib

from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.marks import FEDERATION_LABELS, FINALIZER
from kubectl_fed.core.namespaces import NAMESPACE, counted, foreign_objects
from kubectl_fed.core.objects import Object, key_of
from kubectl_fed.core.propagation import unmarked
from kubectl_fed.core.status import ClusterStatus
from kubectl_fed.kube.client import namespace_contents, path_for
from kubectl_fed.kube.errors import AlreadyExists, ApiError, Conflict, NotFound, Unreachable
from kubectl_fed.kube.host import Host
from kubectl_fed.planning.members import Member
from kubectl_fed.planning.plan import (
    ClusterResult,
    MemberAction,
    Plan,
    fo_collection,
    fo_path,
    is_namespace,
    same_fo,
)


def write_federated_object(host: Host, plan: Plan) -> Object:
    """Create or update the FederatedObject of a plan; keep what others added to it."""
    wanted = plan.fo
    metadata = wanted["metadata"]
    existing = plan.existing
    finalizers = list((existing or {}).get("metadata", {}).get("finalizers") or [])
    if FINALIZER not in finalizers:
        finalizers.append(FINALIZER)
    metadata["finalizers"] = finalizers
    if plan.native is not None and existing is not None:
        # The federation's marks follow the template (one it no longer carries goes: an
        # orphan annotation removed must not stay); labels others added are kept.
        theirs = {
            k: v
            for k, v in (existing["metadata"].get("labels") or {}).items()
            if k not in FEDERATION_LABELS
        }
        metadata["labels"] = {**theirs, **(metadata.get("labels") or {})}
        metadata["annotations"] = metadata.get("annotations") or None
    path = fo_path(wanted)
    if existing is None:
        created: Object = host.kube.create(fo_collection(wanted), wanted)
        return created
    if same_fo(existing, wanted):
        return existing
    body = {
        **existing,
        "metadata": {**existing["metadata"], **metadata},
        "spec": wanted["spec"],
    }
    for attempt in range(3):
        try:
            updated: Object = host.kube.replace(path, body)
            return updated
        except Conflict:
            if attempt == 2:
                raise
            fresh = host.kube.get(path)
            body = {
                **fresh,
                "metadata": {**fresh["metadata"], **metadata},
                "spec": wanted["spec"],
            }
    raise AssertionError("unreachable")


def run_one(item: MemberAction, member: Member) -> None:
    """Carry out one member write, recording the outcome in the plan's result."""
    results = item.plan.result.clusters
    if not member.reachable:
        results[item.cluster] = ClusterResult(ClusterStatus.CLUSTER_NOT_READY, member.error)
        return
    try:
        if item.action == "apply" and item.body is not None:
            written = apply(member, item.plan.ftype, item.body)
            previous = results.get(item.cluster) or ClusterResult(ClusterStatus.OK)
            results[item.cluster] = ClusterResult(
                ClusterStatus.OK,
                previous.message,
                written.get("metadata", {}).get("generation"),
                previous.drifted,
            )
        elif item.action == "delete" and item.live is not None:
            if is_namespace(item.plan) and _kept_namespace(member, item):
                item.action = "unmark"  # what was done, for the events
            else:
                delete(member, item.plan.ftype, item.live)
            results.pop(item.cluster, None)
        elif item.action == "unmark" and item.live is not None:
            patch = unmarked(item.live)
            if patch:
                merge_patch(member, item.plan.ftype, item.live, patch)
            results.pop(item.cluster, None)
    except Unreachable as err:
        member.mark_unreachable(err)
        results[item.cluster] = ClusterResult(ClusterStatus.CLUSTER_NOT_READY, str(err))
    except ApiError as err:
        results[item.cluster] = ClusterResult(failure_code(item), str(err))


def _kept_namespace(member: Member, item: MemberAction) -> bool:
    """A member namespace the federation made, about to be deleted: if it holds anything
    the federation does not manage (or what it holds cannot be told), it is unmarked
    instead and stays, with everything in it. True when kept."""
    assert member.kube is not None and item.live is not None
    name = item.live["metadata"]["name"]
    contents, unreadable = namespace_contents(member.kube, name, counted)
    foreign = foreign_objects(contents)
    if not foreign and not unreadable:
        return False
    patch = unmarked(item.live)
    if patch:
        merge_patch(member, item.plan.ftype, item.live, patch)
    item.note = (
        f"kept: it holds objects the federation does not manage: {_few(foreign)}"
        if foreign
        else f"kept: what it holds cannot be told (it may not list {_few(unreadable)})"
    )
    return True


def _few(names: list[str], shown: int = 5) -> str:
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def drop_federated_object(host: Host, fo: Object) -> None:
    """Release our finalizer and delete the FederatedObject (its copies are gone)."""
    path = fo_path(fo)
    finalizers = [f for f in fo["metadata"].get("finalizers") or [] if f != FINALIZER]
    if FINALIZER in (fo["metadata"].get("finalizers") or []):
        host.kube.merge_patch(
            path,
            {
                "metadata": {
                    "finalizers": finalizers or None,
                    "resourceVersion": fo["metadata"]["resourceVersion"],
                }
            },
        )
    if not fo["metadata"].get("deletionTimestamp"):
        host.kube.delete(path)


def failure_code(item: MemberAction) -> ClusterStatus:
    if item.action in ("delete", "unmark"):
        return ClusterStatus.DELETION_FAILED
    return ClusterStatus.CREATION_FAILED if item.live is None else ClusterStatus.UPDATE_FAILED


def ensure_namespace(member: Member, namespace: str) -> None:
    if not namespace or namespace in member.namespaces or member.kube is None:
        return
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    with member.namespace_lock:
        if namespace in member.namespaces:  # another worker created it meanwhile
            return
        with contextlib.suppress(AlreadyExists):
            member.kube.create("/api/v1/namespaces", body)
        with member.lock:
            member.namespaces.add(namespace)


def apply(member: Member, ftype: FederatedType, body: Object) -> Object:
    assert member.kube is not None
    namespace, name = key_of(body)
    if ftype.namespaced:
        ensure_namespace(member, namespace)
    path = path_for(ftype.resource, namespace if ftype.namespaced else None, name)
    result: Object = member.kube.apply(path, body, force=True)
    if (ftype.group, ftype.kind) == NAMESPACE:
        with member.lock:
            member.namespaces.add(name)  # the objects it holds need not create it
    return result


def merge_patch(member: Member, ftype: FederatedType, live: Object, patch: Object) -> None:
    assert member.kube is not None
    namespace, name = key_of(live)
    member.kube.merge_patch(path_for(ftype.resource, namespace or None, name), patch)


def delete(member: Member, ftype: FederatedType, live: Object) -> None:
    assert member.kube is not None
    namespace, name = key_of(live)
    with contextlib.suppress(NotFound):
        member.kube.delete(path_for(ftype.resource, namespace or None, name))
