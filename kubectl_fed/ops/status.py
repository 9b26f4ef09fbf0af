"""`kubectl fed status`: propagation status of federated objects, per member cluster.

What the host recorded in each FederatedObject's status, checked against the member copies
read live (concurrently); `object_state` is the pure part, tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federated_types import FederatedType, type_of
from kubectl_fed.core.health import FAILED, Health, health_of, worst
from kubectl_fed.core.health import unknown as unknown_health
from kubectl_fed.core.objects import field_at, key_of
from kubectl_fed.core.overrides import OverrideError
from kubectl_fed.core.propagation import differences, is_managed
from kubectl_fed.core.status import PROPAGATED, ClusterStatus, cluster_ok
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.ops.objects import (
    Object,
    find_condition,
    group_object_name,
    object_name,
)
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import Plan, all_placed, member_copy, our_overrides
from kubectl_fed.planning.snapshot import federated_types


def replica_pair(scheduled: int | None, ready: int | None) -> str | None:
    """READY as `kubectl get deploy` writes it, `ready/desired` (desired: the replicas
    scheduled there); `?` for an unknown count."""
    if scheduled is None and ready is None:
        return None
    return f"{'?' if ready is None else ready}/{'?' if scheduled is None else scheduled}"


@dataclass(frozen=True)
class Selector:
    """One TYPE[/NAME] the user named, resolved: (group, kind) and an optional name."""

    group: str
    kind: str
    name: str | None = None

    @property
    def title(self) -> str:
        return group_object_name(self.group, self.kind, self.name or "")

    def matches(self, template: Object) -> bool:
        api_version = str(template.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        name = (template.get("metadata") or {}).get("name")
        return (
            group == self.group and template.get("kind") == self.kind and self.name in (None, name)
        )


@dataclass
class ClusterState:
    """One federated object in one member cluster."""

    cluster: str
    status: str  # the per-cluster code of status.clusters[]
    scheduled: int | None
    ready: int | None
    synced: bool | None  # None: unknown (the member did not answer)
    message: str = ""
    created: str | None = None  # of the member copy
    health: Health | None = None  # None: not placed there (the copy is leaving)
    collected: Object | None = None  # the FederatedTypeConfig's statusCollection fields

    @property
    def ok(self) -> bool:
        return cluster_ok(self.status) and self.synced is True

    @property
    def failed(self) -> bool:
        return self.health is not None and self.health.state == FAILED

    @property
    def replicas(self) -> str | None:
        return replica_pair(self.scheduled, self.ready)

    @property
    def summary(self) -> str:
        """What is wrong, naming the cluster once (member errors often name it already)."""
        message = self.message or self.status
        return message if self.cluster in message else f"{self.cluster}: {message}"

    @property
    def health_summary(self) -> str:
        assert self.health is not None
        health = self.health
        return f"{self.cluster}: {health.text}" + (f": {health.message}" if health.message else "")

    def as_dict(self) -> Object:
        return {
            "cluster": self.cluster,
            "status": self.status,
            "scheduledReplicas": self.scheduled,
            "readyReplicas": self.ready,
            "synced": self.synced,
            "message": self.message,
            "creationTimestamp": self.created,
            "health": self.health.as_dict() if self.health else None,
            **({"collectedFields": self.collected} if self.collected is not None else {}),
        }


@dataclass
class ObjectState:
    """A FederatedObject as `kubectl fed status` reports it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    federated_object: str
    created: str | None
    generation: int | None
    synced_generation: int | None
    propagated: Object | None  # the Propagated condition
    clusters: list[ClusterState]
    problems: list[str] = field(default_factory=list)

    @property
    def object(self) -> str:
        return object_name(self.api_version, self.kind, self.name)

    @property
    def synced(self) -> bool | None:
        if self.generation != self.synced_generation:
            return False
        states = [c.synced for c in self.clusters]
        if False in states:
            return False
        return None if None in states else True

    @property
    def ok(self) -> bool:
        propagated = (self.propagated or {}).get("status") == "True"
        clusters_ok = bool(self.clusters) and all(c.ok for c in self.clusters)
        return propagated and self.synced is True and clusters_ok and not self.problems

    @property
    def health(self) -> str | None:
        """The worst health of the copies where it is placed (None: placed nowhere)."""
        return worst([c.health for c in self.clusters if c.health is not None])

    @property
    def healthy(self) -> bool:
        """No member copy has Failed (a rollout that exceeded its deadline, a failed Job)."""
        return not any(c.failed for c in self.clusters)

    @property
    def clusters_ok(self) -> str:
        return f"{sum(c.ok for c in self.clusters)}/{len(self.clusters)}"

    @property
    def replicas(self) -> str | None:
        scheduled = [c.scheduled for c in self.clusters if c.scheduled is not None]
        if not scheduled:
            return None
        ready = [c.ready for c in self.clusters if c.scheduled is not None]
        return replica_pair(sum(scheduled), None if None in ready else sum(r or 0 for r in ready))

    @property
    def message(self) -> str:
        failing = [c.summary for c in self.clusters if not c.ok]
        failed = [c.health_summary for c in self.clusters if c.ok and c.failed]
        return "; ".join(self.problems + failing + failed)

    def as_dict(self) -> Object:
        return {
            "object": self.object,
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "federatedObject": self.federated_object,
            "ok": self.ok,
            "synced": self.synced,
            "generation": self.generation,
            "syncedGeneration": self.synced_generation,
            "propagated": self.propagated,
            "health": self.health,
            "message": self.message,
            "creationTimestamp": self.created,
            "clusters": [c.as_dict() for c in self.clusters],
        }


def status(
    host: Host, selectors: list[Selector], namespace: str | None, timeout: float | None
) -> list[ObjectState]:
    """The FederatedObjects in `namespace` (None: all; cluster-scoped ones always, but
    Namespaces, as `kubectl get -n` would not list them) that match any selector (no
    selector: all; a selector may name Namespaces), with live replicas read from every
    member."""
    host.require_api()
    found = [
        fo
        for fo in federated_objects(host, namespace)
        if any(s.matches(_template(fo)) for s in selectors)
        or not (selectors or (namespace is not None and _is_namespace(fo)))
    ]
    if not found:
        return []
    types = federated_types(host)
    typed = [(fo, type_of(types, *_type_key(fo))) for fo in found]
    members = Members(host, host.clusters(), timeout, workers=8)
    try:
        members.read(sorted({t for _, t in typed if t}, key=lambda t: (t.group, t.kind)))
        states = [_state_from_members(fo, ftype, members) for fo, ftype in typed]
    finally:
        members.close()
    return sorted(states, key=lambda s: (s.namespace, s.object))


def federated_objects(host: Host, namespace: str | None) -> list[Object]:
    return [
        *host.kube.list_all(fed_path(kubeadmiral.FEDERATED_OBJECTS, namespace=namespace)),
        *host.kube.list_all(fed_path(kubeadmiral.CLUSTER_FEDERATED_OBJECTS)),
    ]


def _is_namespace(fo: Object) -> bool:
    template = _template(fo)
    return template.get("kind") == "Namespace" and template.get("apiVersion") == "v1"


def _template(fo: Object) -> Object:
    return dict((fo.get("spec") or {}).get("template") or {})


def _type_key(fo: Object) -> tuple[str, str]:
    template = _template(fo)
    return str(template.get("apiVersion", "")), str(template.get("kind", ""))


def _state_from_members(fo: Object, ftype: FederatedType | None, members: Members) -> ObjectState:
    namespace, name = key_of(_template(fo))
    api_version, kind = _type_key(fo)
    live: dict[str, Object | None] = {}
    unknown: dict[str, str] = {}
    for cluster, member in members.by_name.items():
        if not member.reachable:
            unknown[cluster] = member.error
        elif ftype is None:
            unknown[cluster] = f"cannot read {api_version}/{kind}: the kind is not federated"
        else:
            live[cluster] = member.live(ftype, namespace, name)
    collect = ftype.status_collection if ftype else None
    state = object_state(fo, ftype.replicas_path if ftype else None, live, unknown, collect)
    if ftype is not None:
        _mark_changed_copies(state, fo, ftype, live)
    return state


def _mark_changed_copies(
    state: ObjectState, fo: Object, ftype: FederatedType, live: Mapping[str, Object | None]
) -> None:
    """A copy changed by hand is not synced, whatever its generation says (a ConfigMap's
    data or any label moves no generation): its content is compared with the copy the
    FederatedObject describes, as sync compares it."""
    plan = Plan(fo=fo, existing=fo, ftype=ftype, template=_template(fo), patches=our_overrides(fo))
    for row in state.clusters:
        copy = live.get(row.cluster)
        if row.synced is not True or copy is None:
            continue
        if not is_managed(copy):  # deleted by hand, and someone else's made in its place
            row.synced = False
            row.message = "the member's object of that name is not the federation's copy"
            continue
        try:
            desired = member_copy(plan, row.cluster, copy).desired
        except OverrideError:
            continue  # the sync reports it (ApplyOverridesFailed)
        changed = differences(desired, copy)
        if changed:
            row.synced = False
            row.message = "changed in the member since the last sync: " + ", ".join(changed[:5])


def object_state(
    fo: Object,
    replicas_path: tuple[str, ...] | None,
    live: Mapping[str, Object | None],
    unknown: Mapping[str, str],
    collect: tuple[str, ...] | None = None,
) -> ObjectState:
    """Status of one FederatedObject from its recorded status and the member copies
    (`live`: cluster -> copy, None when missing; `unknown`: cluster -> why its copy could
    not be read, e.g. the member does not answer). `collect`: the fields its
    FederatedTypeConfig's statusCollection names, shown per cluster."""
    template = _template(fo)
    metadata = fo.get("metadata") or {}
    status_ = fo.get("status") or {}
    generation, synced_generation = metadata.get("generation"), status_.get("syncedGeneration")
    entries = {e.get("cluster"): e for e in status_.get("clusters") or [] if e.get("cluster")}
    placed = set(all_placed(fo))
    context = _ClusterContext(
        template,
        replicas_path,
        (status_.get("scheduling") or {}).get("replicas") or {},
        generation == synced_generation,
        collect,
    )
    clusters = [
        _cluster_state(name, entries.get(name), name in placed, context, live, unknown.get(name))
        for name in sorted(set(entries) | placed)
    ]
    api_version, kind = str(template.get("apiVersion", "")), str(template.get("kind", ""))
    return ObjectState(
        api_version,
        kind,
        str(metadata.get("namespace") or ""),
        str((template.get("metadata") or {}).get("name", "")),
        str(metadata.get("name", "")),
        metadata.get("creationTimestamp"),
        generation,
        synced_generation,
        find_condition(status_, PROPAGATED),
        clusters,
        _object_problems(status_, generation, synced_generation),
    )


def _object_problems(status_: Object, generation: Any, synced_generation: Any) -> list[str]:
    if not status_:
        return ["never synced: run `kubectl fed sync`"]
    problems = []
    if generation != synced_generation:
        problems.append(f"generation {generation} not synced yet (synced: {synced_generation})")
    propagated = find_condition(status_, PROPAGATED) or {}
    # CheckClusters repeats the per-cluster codes, which the cluster rows already say.
    if propagated.get("status") != "True" and propagated.get("reason") != "CheckClusters":
        problems.append(str(propagated.get("message") or "not propagated"))
    return problems


@dataclass(frozen=True)
class _ClusterContext:
    template: Object
    replicas_path: tuple[str, ...] | None
    scheduled: Mapping[str, int]
    fo_synced: bool
    collect: tuple[str, ...] | None = None

    @property
    def group_kind(self) -> tuple[str, str]:
        api_version = str(self.template.get("apiVersion", ""))
        return api_version.rpartition("/")[0], str(self.template.get("kind", ""))


# Codes a sync records for a copy that stays unlike the template: changed by someone else
# and left (--drift=report), or waiting for a sync that covers its cluster (--cluster).
NOT_WHAT_WAS_SENT = frozenset({ClusterStatus.DRIFTED, ClusterStatus.PENDING_SYNC})


def _cluster_state(
    cluster: str,
    entry: Object | None,
    placed: bool,
    context: _ClusterContext,
    live: Mapping[str, Object | None],
    error: str | None,
) -> ClusterState:
    code = str((entry or {}).get("status") or ClusterStatus.PENDING_CREATE)
    recorded = str((entry or {}).get("message") or "")
    observed = (entry or {}).get("lastObservedGeneration")
    scheduled = _scheduled(cluster, placed, context, live.get(cluster))
    if error is not None:
        health = unknown_health("ClusterUnreachable", error) if placed else None
        return ClusterState(cluster, code, scheduled, None, None, error, health=health)
    if cluster not in live:
        message = "not a member of the federation"
        health = unknown_health("NotAMember", message) if placed else None
        return ClusterState(cluster, code, scheduled, None, None, message, health=health)
    copy = live[cluster]
    synced, note = _member_synced(copy, placed, observed, context.fo_synced)
    if code in NOT_WHAT_WAS_SENT:
        synced = False  # the sync recorded that this copy is not the template's
    if entry is None:
        note = "placed, but no sync has reported on it yet"
    ready = _ready(copy, context.replicas_path)
    created = (copy or {}).get("metadata", {}).get("creationTimestamp")
    health = health_of(*context.group_kind, copy) if placed else None
    collected = collected_fields(copy, context.collect) if context.collect and copy else None
    return ClusterState(
        cluster, code, scheduled, ready, synced, recorded or note, created, health, collected
    )


def collected_fields(copy: Object, fields: tuple[str, ...]) -> Object:
    """The fields a FederatedTypeConfig's statusCollection names (`status`,
    `metadata.creationTimestamp`, ...), as KubeAdmiral collects them: nested as in the
    object, a field the copy lacks left out."""
    collected: Object = {}
    for path in fields:
        keys = path.split(".")
        value = field_at(copy, *keys)
        if value is None:
            continue
        node = collected
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = deepcopy(value)
    return collected


def _scheduled(
    cluster: str, placed: bool, context: _ClusterContext, copy: Object | None
) -> int | None:
    """Replicas the federation gives the cluster: the scheduling record, else the copy's
    (overridden) count, else the template's."""
    if not placed or not context.replicas_path:
        return None
    for candidate in (
        context.scheduled.get(cluster),
        field_at(copy, *context.replicas_path),
        field_at(context.template, *context.replicas_path),
    ):
        if isinstance(candidate, int):
            return candidate
    return None


def _ready(copy: Object | None, replicas_path: tuple[str, ...] | None) -> int | None:
    if copy is None or not replicas_path:
        return None
    status_ = copy.get("status") or {}
    ready = status_.get("readyReplicas", status_.get("ready", 0))  # Jobs count `ready`
    return ready if isinstance(ready, int) else None


def _member_synced(
    copy: Object | None, placed: bool, observed: Any, fo_synced: bool
) -> tuple[bool | None, str]:
    """Whether the member copy is the one the last sync wrote, and if not, why."""
    if not placed and copy is None:
        return True, ""
    if not placed:
        return False, "no longer placed here: awaiting removal"
    if copy is None:
        return False, "missing in the member"
    generation = copy.get("metadata", {}).get("generation")
    if observed is not None and generation != observed:
        return False, f"changed in the member since the last sync (generation {generation})"
    if not fo_synced:
        return False, "the FederatedObject changed since the last sync"
    return True, ""
