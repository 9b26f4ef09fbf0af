"""Read-only troubleshooting: `status`, `get` across members, `explain` and `doctor`.

Nothing here writes (a SelfSubjectAccessReview is a question, not a write). Each entry
point reads the host, and the members where it must, concurrently, and returns plain
dataclasses that cli/inspect.py renders. The functions that only turn dicts into verdicts
are kept apart from the reading so they are tested without a server.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubectl_fed.core import api
from kubectl_fed.core.federate import (
    ADOPTED_ANNOTATION,
    CONTROLLER,
    MANAGED_LABEL,
    NO_FEDERATED_RESOURCE_ANNOTATION,
    override_policies_of,
    policy_of,
)
from kubectl_fed.core.lease import DURATION_S, LEASE_NAME, describe
from kubectl_fed.core.membership import condition
from kubectl_fed.core.overrides import OverrideError
from kubectl_fed.core.resources import Resource, UnknownType, resolve_type
from kubectl_fed.core.selection import V1_ANNOTATIONS, Policy, parse_policy
from kubectl_fed.core.status import COUNTED_FIELDS, PROPAGATED, ClusterStatus, cluster_ok
from kubectl_fed.crds import CRD_REVISION
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import ApiError, Forbidden, NotFound, Unauthorized
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.ops.init import CRD_PATH, HASH_ANNOTATION, REVISION_ANNOTATION, desired_objects
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import Plan, SyncOptions, member_copy
from kubectl_fed.planning.preview import preview
from kubectl_fed.planning.snapshot import HostSnapshot, federated_types, key_of, load
from kubectl_fed.planning.types import FederatedType, default_types, type_of

Object = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")
MAX_PARALLEL = 16  # members (or access reviews) asked at once
SHOWN_NAMES = 5  # how many offenders a doctor line names before "+N more"


def object_name(api_version: str, kind: str, name: str) -> str:
    """kubectl's `-o name` spelling: `deployment.apps/web`, `configmap/settings`."""
    return group_object_name(api_version.rpartition("/")[0], kind, name)


def group_object_name(group: str, kind: str, name: str) -> str:
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


def managed_state(obj: Object) -> str:
    """yes / no / adopted, from the marks the sync stamps on member copies. kubectl-fed
    stamps `adopted` as a label; KubeAdmiral's annotation spelling is accepted too."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(MANAGED_LABEL) != "true":
        return "no"
    annotations = metadata.get("annotations") or {}
    adopted = "true" in (labels.get(ADOPTED_ANNOTATION), annotations.get(ADOPTED_ANNOTATION))
    return "adopted" if adopted else "yes"


def value_at(obj: Any, path: Iterable[str]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def replica_pair(scheduled: int | None, ready: int | None) -> str | None:
    """`scheduled/ready` as kubectl's READY column writes it; `?` for an unknown count."""
    if scheduled is None and ready is None:
        return None
    return f"{'?' if scheduled is None else scheduled}/{'?' if ready is None else ready}"


def _parallel(function: Callable[[T], R], items: list[T]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(function, items))


def _named(names: list[str], separator: str = ", ") -> str:
    shown = separator.join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" (+{more} more)" if more > 0 else "")


# =========================================================================== status


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

    @property
    def ok(self) -> bool:
        return cluster_ok(self.status) and self.synced is True

    @property
    def replicas(self) -> str | None:
        return replica_pair(self.scheduled, self.ready)

    @property
    def summary(self) -> str:
        """What is wrong, naming the cluster once (member errors often name it already)."""
        message = self.message or self.status
        return message if self.cluster in message else f"{self.cluster}: {message}"

    def as_dict(self) -> Object:
        return {
            "cluster": self.cluster,
            "status": self.status,
            "scheduledReplicas": self.scheduled,
            "readyReplicas": self.ready,
            "synced": self.synced,
            "message": self.message,
            "creationTimestamp": self.created,
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
        return "; ".join(self.problems + failing)

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
            "message": self.message,
            "creationTimestamp": self.created,
            "clusters": [c.as_dict() for c in self.clusters],
        }


def status(
    host: Host, selectors: list[Selector], namespace: str | None, timeout: float | None
) -> list[ObjectState]:
    """The FederatedObjects in `namespace` (None: all; cluster-scoped ones always) that
    match any selector (no selector: all), with live replicas read from every member."""
    host.require_api()
    found = [
        fo
        for fo in federated_objects(host, namespace)
        if not selectors or any(s.matches(_template(fo)) for s in selectors)
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
        *host.kube.list_all(fed_path(api.FEDERATED_OBJECTS, namespace=namespace)),
        *host.kube.list_all(fed_path(api.CLUSTER_FEDERATED_OBJECTS)),
    ]


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
    return object_state(fo, ftype.replicas_path if ftype else None, live, unknown)


def object_state(
    fo: Object,
    replicas_path: tuple[str, ...] | None,
    live: Mapping[str, Object | None],
    unknown: Mapping[str, str],
) -> ObjectState:
    """Status of one FederatedObject from its recorded status and the member copies
    (`live`: cluster -> copy, None when missing; `unknown`: cluster -> why its copy could
    not be read, e.g. the member does not answer)."""
    template = _template(fo)
    metadata = fo.get("metadata") or {}
    status_ = fo.get("status") or {}
    generation, synced_generation = metadata.get("generation"), status_.get("syncedGeneration")
    entries = {e.get("cluster"): e for e in status_.get("clusters") or [] if e.get("cluster")}
    placed = _placed_clusters(fo)
    context = _ClusterContext(
        template,
        replicas_path,
        (status_.get("scheduling") or {}).get("replicas") or {},
        generation == synced_generation,
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
        _condition(status_, PROPAGATED),
        clusters,
        _object_problems(status_, generation, synced_generation),
    )


def _placed_clusters(fo: Object) -> set[str]:
    return {
        str(p["cluster"])
        for entry in (fo.get("spec") or {}).get("placements") or []
        for p in entry.get("placement") or []
        if p.get("cluster")
    }


def _condition(status_: Object, kind: str) -> Object | None:
    for found in status_.get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    return None


def _object_problems(status_: Object, generation: Any, synced_generation: Any) -> list[str]:
    if not status_:
        return ["never synced: run `kubectl fed sync`"]
    problems = []
    if generation != synced_generation:
        problems.append(f"generation {generation} not synced yet (synced: {synced_generation})")
    propagated = _condition(status_, PROPAGATED) or {}
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
        return ClusterState(cluster, code, scheduled, None, None, error)
    if cluster not in live:
        return ClusterState(cluster, code, scheduled, None, None, "not a member of the federation")
    copy = live[cluster]
    synced, note = _member_synced(copy, placed, observed, context.fo_synced)
    if entry is None:
        note = "placed, but no sync has reported on it yet"
    ready = _ready(copy, context.replicas_path)
    created = (copy or {}).get("metadata", {}).get("creationTimestamp")
    return ClusterState(cluster, code, scheduled, ready, synced, recorded or note, created)


def _scheduled(
    cluster: str, placed: bool, context: _ClusterContext, copy: Object | None
) -> int | None:
    """Replicas the federation gives the cluster: the scheduling record, else the copy's
    (overridden) count, else the template's."""
    if not placed or not context.replicas_path:
        return None
    for candidate in (
        context.scheduled.get(cluster),
        value_at(copy, context.replicas_path),
        value_at(context.template, context.replicas_path),
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


# =========================================================================== get


@dataclass
class GetRequest:
    type_text: str
    name: str | None
    namespace: str | None  # None: every namespace
    selector: str | None
    clusters: list[str] | None  # None: every member


@dataclass
class MemberObjects:
    """What one member holds of the requested type, or why it could not say."""

    cluster: str
    resource: Resource | None = None
    items: list[Object] = field(default_factory=list)
    error: str = ""
    unknown_type: bool = False  # answered, but does not serve the type


def get_objects(host: Host, request: GetRequest, timeout: float | None) -> list[MemberObjects]:
    """List the type in every chosen member concurrently. Unknown clusters and a type no
    answering member serves are FedErrors; an unreachable member is a result with an error."""
    clusters = chosen_clusters(host.clusters(), request.clusters)
    found = _parallel(lambda c: _member_objects(host, c, request, timeout), clusters)
    answered = [f for f in found if f.resource is not None or f.unknown_type]
    if answered and all(f.unknown_type for f in answered):
        raise FedError(f'the members do not have a resource type "{request.type_text}"')
    return found


def chosen_clusters(clusters: list[Object], wanted: list[str] | None) -> list[Object]:
    if not clusters:
        raise FedError("no members joined: use `kubectl fed join`")
    by_name = {c["metadata"]["name"]: c for c in clusters}
    if wanted is None:
        return clusters
    for name in wanted:
        if name not in by_name:
            raise FedError(f"cluster {name!r} is not a member of this federation")
    return [by_name[name] for name in dict.fromkeys(wanted)]


def _member_objects(
    host: Host, cluster: Object, request: GetRequest, timeout: float | None
) -> MemberObjects:
    name = cluster["metadata"]["name"]
    try:
        kube = host.connect_member(cluster, timeout)
    except FedError as err:
        return MemberObjects(name, error=err.message)
    try:
        resource = resolve_type(kube.api_resources(), request.type_text)
        path = path_for(resource, request.namespace if resource["namespaced"] else None)
        items = kube.list_all(
            path,
            labelSelector=request.selector,
            fieldSelector=f"metadata.name={request.name}" if request.name else None,
        )
        return MemberObjects(name, resource, list(items))
    except UnknownType:
        return MemberObjects(name, error=f"does not serve {request.type_text!r}", unknown_type=True)
    except ApiError as err:
        return MemberObjects(name, error=err.message)
    finally:
        kube.close()


# =========================================================================== explain


@dataclass
class ClusterChoice:
    """Why one cluster holds (or does not hold) the object, and what it gets."""

    cluster: str
    chosen: bool
    placed: bool  # holds it now, per the FederatedObject
    replicas: int | None  # after overrides
    code: str
    message: str
    overrides: list[Object] = field(default_factory=list)  # patches, each with its source
    override_error: str = ""
    unreachable: str = ""

    def as_dict(self) -> Object:
        return {
            "cluster": self.cluster,
            "chosen": self.chosen,
            "placedNow": self.placed,
            "replicas": self.replicas,
            "reason": {"code": self.code, "message": self.message},
            "overrides": self.overrides,
            **({"overrideError": self.override_error} if self.override_error else {}),
            **({"unreachable": self.unreachable} if self.unreachable else {}),
        }


@dataclass
class Explanation:
    object: str
    namespace: str
    federated_object: str
    federated_object_exists: bool  # in the host (a sync wrote it)
    policy: str  # "PropagationPolicy ns/name", or how it is placed without one
    policy_lines: list[str]
    override_policies: list[str]
    clusters: list[ClusterChoice]
    replicas: list[str]  # how the replicas were computed
    rescheduling: list[str]
    deferred_reason: str
    errors: list[str]
    warnings: list[str]
    scheduling: Object  # the scheduling record, as a sync would store it

    def as_dict(self) -> Object:
        return {
            "object": self.object,
            "namespace": self.namespace,
            "federatedObject": self.federated_object,
            "federatedObjectExists": self.federated_object_exists,
            "policy": {"name": self.policy, "details": self.policy_lines},
            "overridePolicies": self.override_policies,
            "clusters": [c.as_dict() for c in self.clusters],
            "replicas": self.replicas,
            "rescheduling": self.rescheduling,
            "deferredReason": self.deferred_reason or None,
            "errors": self.errors,
            "warnings": self.warnings,
            "scheduling": self.scheduling,
        }


def explain(
    host: Host, options: SyncOptions, resource: Resource, namespace: str, name: str
) -> Explanation:
    """What a sync would decide for one template (nothing written) and why."""
    namespace = namespace if resource["namespaced"] else ""
    plans, retiring, members = preview(host, options)
    try:
        plan = _find_plan(plans, resource, namespace, name)
        if plan is None:
            title = group_object_name(resource["group"], resource["kind"], name)
            if _find_plan(retiring, resource, namespace, name) is not None:
                raise FedError(
                    f"{title} is leaving the federation (template deleted or no longer "
                    "federated): the next sync removes its member copies"
                )
            raise FedError(_not_federated(host, resource, namespace, name))
        unreachable = {n: m.error for n, m in members.by_name.items() if not m.reachable}
        return explanation(plan, sorted(members.by_name), unreachable)
    finally:
        members.close()


def _find_plan(plans: list[Plan], resource: Resource, namespace: str, name: str) -> Plan | None:
    for plan in plans:
        if (
            plan.ftype.group == resource["group"]
            and plan.ftype.kind == resource["kind"]
            and key_of(plan.template) == (namespace, name)
        ):
            return plan
    return None


def _not_federated(host: Host, resource: Resource, namespace: str, name: str) -> str:
    title = group_object_name(resource["group"], resource["kind"], name)
    where = f" in namespace {namespace}" if namespace else ""
    try:
        template = host.kube.get(path_for(resource, namespace or None, name))
    except NotFound:
        return f"{title} not found{where}"
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if annotations.get(NO_FEDERATED_RESOURCE_ANNOTATION):
        return (
            f"{title}{where} is not federated: it is annotated {NO_FEDERATED_RESOURCE_ANNOTATION}"
        )
    return (
        f"{title}{where} is not federated: label it "
        "kubeadmiral.io/propagation-policy-name=POLICY (or cluster-propagation-policy-name)"
    )


def explanation(plan: Plan, members: list[str], unreachable: Mapping[str, str]) -> Explanation:
    """The explanation of one Plan (pure: everything comes from the plan)."""
    source = plan.native.obj if plan.native else plan.fo
    policy_name, policy_spec = _policy_of_plan(plan, source)
    parsed = parse_policy(policy_spec) if policy_spec is not None else None
    record = plan.scheduling
    namespace, name = key_of(plan.template)
    names = sorted(set(members) | set(record.get("reasons") or {}) | set(plan.placement))
    now = _placed_clusters(plan.existing or {})
    return Explanation(
        object=object_name(str(plan.template.get("apiVersion")), plan.ftype.kind, name),
        namespace=namespace,
        federated_object=str(plan.fo["metadata"]["name"]),
        federated_object_exists="uid" in (plan.existing or {}).get("metadata", {}),
        policy=policy_name,
        policy_lines=policy_summary(policy_spec) if policy_spec is not None else [],
        override_policies=[_policy_title(k, namespace, n) for k, n in override_policies_of(source)],
        clusters=[_choice(plan, c, c in now, unreachable.get(c, "")) for c in names],
        replicas=replica_lines(plan, parsed, source),
        rescheduling=rescheduling_lines(parsed, record),
        deferred_reason=str(record.get("deferredReason") or ""),
        errors=list(plan.result.errors) + (parsed.errors if parsed else []),
        warnings=list(record.get("warnings") or []) + (parsed.warnings if parsed else []),
        scheduling={k: v for k, v in record.items() if k != "errors"},
    )


def _policy_of_plan(plan: Plan, source: Object) -> tuple[str, Object | None]:
    named = policy_of(source)
    if named is not None:
        kind, name = named
        title = _policy_title(kind, key_of(source)[0], name)
        if plan.leader_policy is None:
            return f"{title} (not found: the placement is kept as it was)", None
        return title, dict(plan.leader_policy.get("spec") or {})
    if plan.native is not None and plan.native.v1_compat:
        return "none: Federation v1 compatibility places it on every Ready member", None
    return "none: placed by hand in the FederatedObject's spec.placements", None


def _policy_title(kind: str, namespace: str, name: str) -> str:
    namespaced = kind in ("PropagationPolicy", "OverridePolicy")
    return f"{kind} {namespace}/{name}" if namespaced else f"{kind} {name}"


def _choice(plan: Plan, cluster: str, placed_now: bool, unreachable: str) -> ClusterChoice:
    chosen = cluster in plan.placement
    code, message = _reason(plan, cluster, chosen)
    choice = ClusterChoice(
        cluster, chosen, placed_now, None, code, message, unreachable=unreachable
    )
    if chosen:
        choice.overrides = override_patches(plan, cluster)
        choice.override_error = plan.patch_errors.get(cluster, "")
        choice.replicas = _effective_replicas(plan, cluster)
    return choice


def _reason(plan: Plan, cluster: str, chosen: bool) -> tuple[str, str]:
    record = plan.scheduling
    if cluster in plan.follows:  # before its own policy's reason, which says "not here"
        leaders = ", ".join(plan.follows[cluster])
        return "Follower", f"used by {leaders}, placed here (followers go where it goes)"
    recorded = (record.get("reasons") or {}).get(cluster)
    if recorded:
        code, _, message = str(recorded).partition(": ")
        return code, message
    if chosen:
        return "Placed", "listed in the FederatedObject's spec.placements"
    return "NotPlaced", "not chosen"


def override_patches(plan: Plan, cluster: str) -> list[Object]:
    """The patches a cluster's copy gets, in the order they apply, each with its source."""
    foreign = [
        {**patch, "source": f"controller {entry.get('controller')}"}
        for entry in (plan.fo.get("spec") or {}).get("overrides") or []
        if entry.get("controller") != CONTROLLER
        for target in entry.get("clusters") or []
        if target.get("cluster") == cluster
        for patch in target.get("patches") or []
    ]
    ours = plan.patches.get(cluster, [])
    replicas = "/" + "/".join(plan.ftype.replicas_path or ())
    divided = bool(plan.scheduling.get("divided"))
    tagged = [
        {
            **patch,
            "source": "scheduler: divided replicas"
            if index == 0 and divided and patch.get("path") == replicas
            else "override policies",
        }
        for index, patch in enumerate(ours)
    ]
    return foreign + tagged


def _effective_replicas(plan: Plan, cluster: str) -> int | None:
    """Replicas of the copy a sync would write, overrides included."""
    if not plan.ftype.replicas_path or cluster in plan.patch_errors:
        return None
    try:
        desired = member_copy(plan, cluster, None).desired
    except OverrideError:
        return None
    value = value_at(desired, plan.ftype.replicas_path)
    return value if isinstance(value, int) else None


def policy_summary(spec: Mapping[str, Any]) -> list[str]:
    """The fields of a propagation policy spec that decide placement, one line each."""
    lines = [f"schedulingMode: {spec.get('schedulingMode') or 'Duplicate'}"]
    selector = spec.get("clusterSelector") or {}
    if selector:
        lines.append("clusterSelector: " + ",".join(f"{k}={v}" for k, v in selector.items()))
    terms = spec.get("clusterAffinity") or []
    if terms:
        lines.append("clusterAffinity: " + " OR ".join(_affinity_term(t) for t in terms))
    tolerations = spec.get("tolerations") or []
    if tolerations:
        lines.append("tolerations: " + ", ".join(_toleration(t) for t in tolerations))
    if spec.get("maxClusters") is not None:
        lines.append(f"maxClusters: {spec['maxClusters']}")
    placement = spec.get("placement") or []
    if placement:
        entries = [f"{p.get('cluster')} ({_preference(p.get('preferences'))})" for p in placement]
        lines.append("placement (allow-list): " + ", ".join(entries))
    return lines


def _affinity_term(term: Mapping[str, Any]) -> str:
    expressions = [
        f"{e.get('key')} {e.get('operator')}"
        + (f" [{', '.join(map(str, e.get('values') or []))}]" if e.get("values") else "")
        for e in term.get("matchExpressions") or []
    ]
    return "(" + " AND ".join(expressions) + ")"


def _toleration(toleration: Mapping[str, Any]) -> str:
    key, value = toleration.get("key", "*"), toleration.get("value")
    effect = toleration.get("effect") or "any effect"
    return f"{key}{'=' + str(value) if value else ''}:{effect}"


def _preference(preference: Mapping[str, Any] | None) -> str:
    preference = preference or {}
    maximum = preference.get("maxReplicas")
    return (
        f"weight {preference.get('weight', 'none')}, min {preference.get('minReplicas') or 0}, "
        f"max {'unlimited' if maximum is None else maximum}"
    )


def replica_lines(plan: Plan, policy: Policy | None, source: Object) -> list[str]:
    """How the replicas per cluster were computed, from the same inputs the planner had."""
    path = plan.ftype.replicas_path
    if not path:
        return [f"{plan.ftype.kind} has no replicas field: every chosen cluster gets a copy"]
    record = plan.scheduling
    total = (record.get("fingerprint") or {}).get("replicas", value_at(plan.template, path))
    if record.get("kept"):
        return ["no scheduling ran (no policy): the placement and replicas are kept as they were"]
    if not record.get("divided"):
        return [f"Duplicate: every chosen cluster runs the template's {total} replicas"]
    annotation = V1_ANNOTATIONS.get(plan.ftype.kind, "")
    raw = ((source.get("metadata") or {}).get("annotations") or {}).get(annotation)
    if raw is not None:
        return _v1_lines(record, total, annotation, raw)
    avoid = policy.avoid_disruption if policy else True
    preferences = dict(policy.planner_preferences) if policy else {}
    header = (
        f"Divide: {total} replicas split by the KubeAdmiral planner over the chosen "
        f"clusters by weight, within min/max (avoidDisruption={str(avoid).lower()})"
    )
    return [header, *_division_lines(record, preferences)]


def _v1_lines(record: Object, total: Any, annotation: str, raw: str) -> list[str]:
    try:
        document = json.loads(raw)
    except ValueError:
        document = {}
    preferences = (document.get("clusters") if isinstance(document, dict) else None) or {
        "*": {"weight": 1}
    }
    rebalance = bool(document.get("rebalance")) if isinstance(document, dict) else False
    header = (
        f"Divide: {total} replicas split by the Federation v1 planner from annotation "
        f"{annotation} (rebalance={str(rebalance).lower()})"
    )
    return [header, *_division_lines(record, preferences)]


def _division_lines(record: Object, preferences: Mapping[str, Any]) -> list[str]:
    replicas = record.get("replicas") or {}
    reasons = record.get("reasons") or {}
    candidates = sorted(
        set(record.get("clusters") or [])
        | {c for c, r in reasons.items() if str(r).startswith("NoReplicasAssigned")}
    )
    return [
        f"  {cluster}: {_preference(preferences.get(cluster) or preferences.get('*'))}"
        f" -> {replicas.get(cluster, 0)}"
        for cluster in candidates
    ]


TRIGGER_EVENTS = {  # reschedulePolicy.rescheduleWhen switches, as events
    "policyContentChanged": "the policy changes",
    "clusterJoined": "a cluster joins",
    "clusterLabelsChanged": "cluster labels change",
    "clusterAPIResourcesChanged": "cluster API resources change",
}


def rescheduling_lines(policy: Policy | None, record: Object) -> list[str]:
    if record.get("deferredReason"):
        return [f"deferred: {record['deferredReason']}"]
    if policy is None:
        return []
    if policy.sticky:
        return [
            "disabled by the policy (stickyCluster / reschedulePolicy.disableRescheduling): "
            "clusters stay as first chosen"
        ]
    switched_on = [TRIGGER_EVENTS[k] for k, on in policy.triggers.items() if on]
    events = [*switched_on, "the replicas change", "taints change", "a cluster leaves"]
    return [
        "not deferred: the placement follows the current inputs",
        f"reschedules when {', '.join(events[:-1])} or {events[-1]}",
    ]


# =========================================================================== doctor

OK, WARN, FAIL = "OK", "WARN", "FAIL"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
READ_VERBS = ("get", "list", "watch")


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str

    def as_dict(self) -> Object:
        return {"check": self.name, "status": self.status, "detail": self.detail}


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
        (ALL_VERBS, api.FEDERATED_OBJECTS, api.GROUP, "", ""),
        (("patch",), api.FEDERATED_OBJECTS, api.GROUP, "status", ""),
        (ALL_VERBS, api.CLUSTER_FEDERATED_OBJECTS, api.GROUP, "", ""),
        (("patch",), api.CLUSTER_FEDERATED_OBJECTS, api.GROUP, "status", ""),
        (READ_VERBS, api.FEDERATED_CLUSTERS, api.GROUP, "", ""),
        (("patch",), api.FEDERATED_CLUSTERS, api.GROUP, "status", ""),  # Ready/Offline
        *(
            (READ_VERBS, plural, api.GROUP, "", "")
            for plural in (
                api.PROPAGATION_POLICIES,
                api.CLUSTER_PROPAGATION_POLICIES,
                api.OVERRIDE_POLICIES,
                api.CLUSTER_OVERRIDE_POLICIES,
                api.FEDERATED_TYPE_CONFIGS,
            )
        ),
        (("get",), "secrets", "", "", fed_namespace),  # member credentials
        (("get",), "configmaps", "", "", fed_namespace),  # federation settings
        (("get", "create", "update", "delete"), "leases", "coordination.k8s.io", "", fed_namespace),
    ]
    for ftype in types:
        needed.append((READ_VERBS, ftype.plural, ftype.group, "", ""))
        if ftype.kind in COUNTED_FIELDS:  # workload counts are summed into the template
            needed.append((("patch",), ftype.plural, ftype.group, "status", ""))
    return [
        Permission(verb, resource, group, subresource, namespace)
        for verbs, resource, group, subresource, namespace in needed
        for verb in verbs
    ]


def denied_text(denied: list[Permission]) -> str:
    """`verbs what` per resource: `get,list federatedobjects.core.kubeadmiral.io; ...`."""
    verbs: dict[str, list[str]] = {}
    for permission in denied:
        what = permission.describe().partition(" ")[2]
        verbs.setdefault(what, []).append(permission.verb)
    return _named([f"{','.join(v)} {what}" for what, v in verbs.items()], "; ")


def doctor(host: Host, timeout: float | None) -> list[Check]:
    """Every check, in order; a host that does not answer ends the list early."""
    try:
        version = host.kube.server_version()
    except ApiError as err:
        return [Check("host", FAIL, err.message)]
    checks = [Check("host", OK, f"{host.kube.server} answers: Kubernetes {version}")]
    crds = _guarded("crds", lambda: crd_check(host))
    checks += [
        crds,
        _guarded("fed namespace", lambda: _namespace_check(host)),
        _guarded("permissions", lambda: _permission_check(host, api_ready=crds.status != FAIL)),
    ]
    if crds.status != FAIL:
        checks += _guarded_list("members", lambda: _member_checks(host, version, timeout))
    checks.append(_guarded("sync lease", lambda: _lease_check(host)))
    if crds.status != FAIL:
        checks += _guarded_list("federated objects", lambda: _object_checks(host))
    return checks


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except FedError as err:
        return Check(name, FAIL, err.message)


def _guarded_list(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return checks()
    except FedError as err:
        return [Check(name, FAIL, err.message)]


def crd_check(host: Host) -> Check:
    wanted = [o for o in desired_objects(host.fed_namespace) if o["kind"] != "Namespace"]
    live: dict[str, Object | None] = {}
    for crd in wanted:
        name = crd["metadata"]["name"]
        try:
            live[name] = host.kube.get(f"{CRD_PATH}/{name}")
        except NotFound:
            live[name] = None
        except Forbidden:
            return _served_check(host)
    return crd_verdict(wanted, live)


def _served_check(host: Host) -> Check:
    """Without the right to read CRDs, discovery (open to every user) still tells whether
    the federation API is served, though not whether it is current."""
    host.require_api()
    return Check("crds", WARN, "the federation API is served; cannot read CRDs to check them")


def crd_verdict(wanted: list[Object], live: Mapping[str, Object | None]) -> Check:
    """Compare the bundled CRDs (hash-stamped as init installs them) with the host's."""
    missing: list[str] = []
    unready: list[str] = []
    outdated: list[str] = []
    newer: list[str] = []
    for crd in wanted:
        name = crd["metadata"]["name"]
        short = name.split(".")[0]
        found = live.get(name)
        if found is None:
            missing.append(short)
            continue
        annotations = found["metadata"].get("annotations") or {}
        if not _established(found):
            unready.append(short)
        if annotations.get(HASH_ANNOTATION) != crd["metadata"]["annotations"][HASH_ANNOTATION]:
            installed = _revision(annotations.get(REVISION_ANNOTATION))
            (newer if installed > _revision(CRD_REVISION) else outdated).append(short)
    if missing:
        return Check("crds", FAIL, f"missing: {_named(missing)}: run `kubectl fed init`")
    if unready:
        return Check("crds", FAIL, f"not Established: {_named(unready)}")
    if outdated:
        return Check("crds", WARN, f"outdated: {_named(outdated)}: run `kubectl fed init`")
    if newer:
        return Check("crds", WARN, f"installed by a newer kubectl-fed: {_named(newer)}")
    return Check("crds", OK, f"{len(wanted)} installed and current (revision {CRD_REVISION})")


def _established(crd: Object) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _revision(value: Any) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _namespace_check(host: Host) -> Check:
    try:
        host.kube.get(f"/api/v1/namespaces/{host.fed_namespace}")
    except NotFound:
        return Check(
            "fed namespace", FAIL, f"{host.fed_namespace} is missing: run `kubectl fed init`"
        )
    return Check("fed namespace", OK, f"{host.fed_namespace} exists")


def _permission_check(host: Host, api_ready: bool) -> Check:
    types = default_types()
    # Not allowed to list FederatedTypeConfigs: the defaults, and the denial is reported.
    with contextlib.suppress(FedError):
        types = federated_types(host) if api_ready else types
    wanted = sync_permissions(host.fed_namespace, types)

    def allowed(permission: Permission) -> bool:
        answer = host.kube.create(SSAR_PATH, permission.review())
        return bool((answer.get("status") or {}).get("allowed"))

    answers = _parallel(allowed, wanted)
    denied = [p for p, ok in zip(wanted, answers, strict=True) if not ok]
    if denied:
        return Check("permissions", FAIL, f"sync would be refused: {denied_text(denied)}")
    return Check("permissions", OK, f"all {len(wanted)} permissions sync needs are granted")


def _member_checks(host: Host, host_version: str, timeout: float | None) -> list[Check]:
    clusters = host.clusters()
    if not clusters:
        return [Check("members", WARN, "no members joined: use `kubectl fed join`")]
    return _parallel(lambda c: _member_check(host, c, host_version, timeout), clusters)


def _member_check(host: Host, cluster: Object, host_version: str, timeout: float | None) -> Check:
    name = cluster["metadata"]["name"]
    try:
        kube = host.connect_member(cluster, timeout)
    except FedError as err:
        return Check(f"member {name}", FAIL, err.message)
    try:
        version = kube.server_version()
        # /version answers anyone: an authenticated request proves the credentials.
        kube.get("/api/v1/namespaces", limit=1)
    except Unauthorized:
        return Check(
            f"member {name}",
            FAIL,
            "answers, but refuses the stored credentials: join it again with --overwrite",
        )
    except ApiError as err:
        return Check(f"member {name}", FAIL, err.message)
    finally:
        kube.close()
    return member_verdict(name, version, host_version, condition(cluster, api.READY))


def minor_of(version: str) -> tuple[int, int] | None:
    found = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else None


def member_verdict(name: str, version: str, host_version: str, recorded_ready: str) -> Check:
    label = f"member {name}"
    mine, hosts = minor_of(version), minor_of(host_version)
    if mine and hosts and (mine[0] != hosts[0] or abs(mine[1] - hosts[1]) > 1):
        return Check(
            label, WARN, f"{version}: more than one minor version from the host's {host_version}"
        )
    if recorded_ready != "True":
        return Check(
            label,
            WARN,
            f"{version}, answers, but recorded Ready={recorded_ready}: the next sync "
            "(or `kubectl fed clusters --refresh`) corrects it",
        )
    return Check(label, OK, f"{version}, reachable, credentials accepted")


def _lease_check(host: Host) -> Check:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{host.fed_namespace}/leases/{LEASE_NAME}"
    try:
        lease = host.kube.get(path)
    except NotFound:
        return Check("sync lease", OK, "free: no sync is running")
    holder, age = describe(lease)
    duration = (lease.get("spec") or {}).get("leaseDurationSeconds") or DURATION_S
    return lease_verdict(holder, age, duration)


def lease_verdict(holder: str, age: float | None, duration: float) -> Check:
    if age is not None and age < duration:
        return Check("sync lease", OK, f"held by {holder}, renewed {age:.0f}s ago")
    since = "never renewed" if age is None else f"not renewed for {age:.0f}s"
    return Check(
        "sync lease",
        WARN,
        f"held by {holder} but {since}: that sync stopped without releasing it "
        "(the next sync takes it over)",
    )


def _object_checks(host: Host) -> list[Check]:
    snap = load(host)
    checks = [objects_verdict(snap.federated_objects), templates_verdict(snap)]
    if snap.unserved:
        checks.append(
            Check("federated types", WARN, f"not served by the host: {_named(snap.unserved)}")
        )
    return checks


def objects_verdict(fos: list[Object]) -> Check:
    """FederatedObjects whose last sync is behind their spec, or that did not propagate."""
    unsynced, failing = [], []
    for fo in fos:
        namespace, name = key_of(fo)
        title = f"{namespace}/{name}" if namespace else name
        status_ = fo.get("status") or {}
        if fo["metadata"].get("generation") != status_.get("syncedGeneration"):
            unsynced.append(title)
        elif (_condition(status_, PROPAGATED) or {}).get("status") != "True":
            failing.append(title)
    if not unsynced and not failing:
        return Check("federated objects", OK, f"{len(fos)} synced and propagated")
    problems = []
    if unsynced:
        problems.append(f"{len(unsynced)} not synced ({_named(unsynced)})")
    if failing:
        problems.append(f"{len(failing)} not propagated ({_named(failing)})")
    return Check(
        "federated objects",
        WARN,
        "; ".join(problems) + ": see `kubectl fed status -A`",
    )


def templates_verdict(snap: HostSnapshot) -> Check:
    """Templates that name a propagation or override policy which does not exist."""
    missing = []
    for template in snap.templates:
        namespace, name = template.key
        title = f"{object_name(template.obj.get('apiVersion', ''), template.type.kind, name)}"
        title += f" in {namespace}" if namespace else ""
        named = [policy_of(template.obj), *override_policies_of(template.obj)]
        for found in named:
            if found is not None and snap.policy(found[0], namespace, found[1]) is None:
                missing.append(f"{title} ({found[0]} {found[1]})")
    if missing:
        return Check("templates", WARN, f"policy missing: {_named(missing)}")
    return Check("templates", OK, f"{len(snap.templates)} federated, every policy found")
