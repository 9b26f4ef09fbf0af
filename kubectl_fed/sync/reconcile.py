"""One reconcile pass: templates -> FederatedObjects -> scheduled, overridden member copies.

The pass reads the host once and every member once (in bulk), decides everything with
core/, then writes only what differs: FederatedObjects first (so a crash never leaves
member copies that nothing tracks), then members in parallel, then status.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kubectl_fed.core import api
from kubectl_fed.core.federate import (
    CONFLICT_RESOLUTION_ANNOTATION,
    CONTROLLER,
    FOLLOWER_CONTROLLER,
    ORPHAN_ANNOTATION,
    RETAIN_REPLICAS_ANNOTATION,
    build_federated_object,
    federated_object_name,
    override_policies_of,
    policy_of,
)
from kubectl_fed.core.followers import referenced_objects
from kubectl_fed.core.membership import Probe, api_resource_types, condition
from kubectl_fed.core.mergepatch import merge_patch
from kubectl_fed.core.overrides import OverrideError, patches_for_cluster
from kubectl_fed.core.propagation import (
    Decision,
    decide,
    desired_with_live,
    is_adopted,
    is_managed,
    member_object,
    unmarked,
)
from kubectl_fed.core.selection import (
    ClusterInfo,
    ClusterSet,
    CurrentPlacement,
    Policy,
    SchedulingResult,
    WorkloadInfo,
    parse_policy,
    select_clusters,
    select_clusters_v1,
)
from kubectl_fed.core.status import (
    ClusterStatus,
    aggregate_workload_status,
    object_ok,
    propagated_condition,
)
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import ApiError, Conflict, NotFound, Unreachable
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.ops.membership import record_status
from kubectl_fed.sync import members as member_io
from kubectl_fed.sync.adoption import adoption_allowed
from kubectl_fed.sync.members import Member, Members
from kubectl_fed.sync.snapshot import HostSnapshot, Template, TemplateKey, key_of, load
from kubectl_fed.sync.types import DEFAULT_TYPES, FederatedType, type_of

FINALIZER = "kubectl-fed.io/cleanup"
UNKNOWN_KIND = "?"  # a FederatedObject whose template is of a kind that is not federated
Object = dict[str, Any]


@dataclass
class SyncOptions:
    drift: str = "correct"  # correct | report
    workers: int = 8
    timeout: float | None = 10.0


@dataclass
class ClusterResult:
    status: str
    message: str = ""
    generation: int | None = None
    drifted: tuple[str, ...] = ()


@dataclass
class ObjectResult:
    kind: str
    namespace: str
    name: str
    clusters: dict[str, ClusterResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    retired: bool = False
    group: str = ""  # the template's API group

    @property
    def ok(self) -> bool:
        codes = {c: str(r.status) for c, r in self.clusters.items()}
        return object_ok(self.errors, codes, self.retired)

    @property
    def drifted(self) -> bool:
        return any(c.drifted for c in self.clusters.values())

    @property
    def title(self) -> str:
        """`Kind/namespace/name`; a kind other than the built-in ones (a CRD's) with its
        group, so that a Knative `Service` is not spelt like the core one."""
        builtin = any((g, k) == (self.group, self.kind) for g, _, k, *_ in DEFAULT_TYPES)
        kind = self.kind if builtin or not self.group else f"{self.kind}.{self.group}"
        return f"{kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class PassReport:
    objects: list[ObjectResult]
    unreachable: dict[str, str]
    requests: dict[str, dict[str, int]]
    seconds: float
    drift_mode: str = "correct"
    # A watch-driven pass moved a workload: its followers need a full pass to follow.
    needs_full_pass: bool = False

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.objects)

    @property
    def writes(self) -> int:
        mutating = ("POST", "PUT", "PATCH", "DELETE")
        return sum(
            n for counts in self.requests.values() for m, n in counts.items() if m in mutating
        )


@dataclass
class Plan:
    """Everything decided about one federated object before any write."""

    fo: Object  # the FederatedObject as it should be (spec, labels, annotations)
    existing: Object | None  # as it is in the host
    ftype: FederatedType
    template: Object  # what members receive, before per-cluster patches
    native: Template | None
    placement: dict[str, int | None]
    patches: dict[str, list[dict[str, Any]]]
    patch_errors: dict[str, str]
    scheduling: dict[str, Any]
    leader_policy: Object | None = None
    result: ObjectResult = field(default_factory=lambda: ObjectResult("", "", ""))
    # Clusters it goes to only because workloads placed there use it: cluster -> leaders.
    follows: dict[str, list[str]] = field(default_factory=dict)

    @property
    def own_placement(self) -> list[str]:
        return sorted(c for c in self.placement if c not in self.follows)


@dataclass
class Work:
    plan: Plan
    cluster: str
    action: str  # apply | delete | unmark
    body: Object | None = None
    live: Object | None = None


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    def __init__(
        self, host: Host, options: SyncOptions, progress: Callable[[str], None] | None = None
    ) -> None:
        self.host = host
        self.options = options
        self.progress = progress or (lambda _message: None)
        self._ready: list[str] = []
        self._all_ready: ClusterSet | None = None
        self._policies: dict[Any, Policy] = {}

    # ------------------------------------------------------------------ the pass

    def run_pass(self, only: set[TemplateKey] | None = None) -> PassReport:
        """A full pass, or with `only` a pass over just those templates (watch events)."""
        started = time.monotonic()
        self.host.kube.counts.clear()
        snap = load(self.host, only)
        members = Members(self.host, snap.clusters, self.options.timeout, self.options.workers)
        try:
            self._record_reachability(snap, members, discover=only is None)
            plans, retiring = self._plan_all(snap, members, partial=only is not None)
            self._read_members(plans + retiring, members, bulk=only is None)
            self._pipeline(plans, retiring, members)
            results = [p.result for p in plans + retiring]
            requests = {"host": dict(self.host.kube.counts), **members.requests()}
            unreachable = {n: m.error for n, m in members.by_name.items() if not m.reachable}
        finally:
            members.close()
        return PassReport(
            results,
            unreachable,
            requests,
            time.monotonic() - started,
            self.options.drift,
            needs_full_pass=only is not None and any(_leader_moved(p) for p in plans),
        )

    def _record_reachability(self, snap: HostSnapshot, members: Members, discover: bool) -> None:
        """Keep FederatedCluster Ready/Offline and, on a full pass, the members' API
        resources truthful (a CRD installed in a member is usable without a manual
        `clusters --refresh`), writing only on a change."""
        for cluster in snap.clusters:
            name = cluster["metadata"]["name"]
            member = members.by_name[name]
            status = cluster.get("status") or {}
            resources = status.get("apiResourceTypes") or []
            if discover and member.reachable and member.kube is not None:
                try:
                    resources = api_resource_types(member.kube.api_resources())
                except Unreachable as err:
                    member.mark_unreachable(err)
                except ApiError:
                    pass  # discovery refused: keep what was recorded
            was_ready = condition(cluster, api.READY) == "True"
            if was_ready == member.reachable and resources == (
                status.get("apiResourceTypes") or []
            ):
                continue
            probe = Probe(
                reachable=member.reachable,
                message=member.error,
                version=status.get("kubernetesVersion", ""),
                api_resources=resources,
            )
            cluster["status"] = record_status(self.host, name, probe, cluster)

    # ------------------------------------------------------------------ planning

    def _plan_all(
        self, snap: HostSnapshot, members: Members, partial: bool = False
    ) -> tuple[list[Plan], list[Plan]]:
        existing = {_fo_key(fo): fo for fo in snap.federated_objects}
        clusters = _cluster_infos(snap, members)
        self._ready = sorted(name for name, (fresh, _) in clusters.items() if fresh.ready)
        # With every member answering, all objects see the same clusters: hash them once.
        all_ready = len(self._ready) == len(clusters)
        self._all_ready = ClusterSet(f for f, _ in clusters.values()) if all_ready else None
        self._policies = {}
        plans: list[Plan] = []
        claimed: set[tuple[str, str, str]] = set()
        for template in snap.templates:
            name = federated_object_name(
                template.obj["metadata"]["name"], template.type.plural, template.type.group
            )
            fo_kind = "FederatedObject" if template.type.namespaced else "ClusterFederatedObject"
            key = (fo_kind, template.key[0], name)
            fo = existing.get(key)
            if fo is not None and (
                fo["metadata"].get("deletionTimestamp") or not _owned_by(fo, template.obj)
            ):
                continue  # being deleted, or someone else's object of that name
            claimed.add(key)
            plans.append(self._plan_native(template, fo, snap, clusters))
        retiring = []
        for key, fo in existing.items():
            if key in claimed:
                continue
            if fo["metadata"].get("deletionTimestamp") or _controller_ref(fo):
                # deleted, or its template is gone / no longer federated
                plan = self._retire_plan(fo, snap)
                if plan is not None:
                    retiring.append(plan)
            else:
                plan = self._plan_direct(fo, snap, clusters)
                if plan is not None:
                    plans.append(plan)
        _add_followers(plans, keep_recorded=partial)
        for plan in plans:
            self._compute_patches(plan, snap)
        return plans, retiring

    def _plan_native(
        self,
        template: Template,
        existing: Object | None,
        snap: HostSnapshot,
        clusters: dict[str, tuple[ClusterInfo, ClusterInfo]],
    ) -> Plan:
        obj = template.obj
        draft = build_federated_object(
            obj, template.type.plural, template.type.group, None, None, None
        )
        # Other controllers' placements and overrides on the FederatedObject are theirs.
        for field_ in ("placements", "overrides"):
            theirs = [
                e
                for e in ((existing or {}).get("spec") or {}).get(field_) or []
                if e.get("controller") not in (CONTROLLER, FOLLOWER_CONTROLLER)
            ]
            if theirs:
                draft["spec"][field_] = theirs
        policy, errors = self._policy_for(obj, snap)
        result = ObjectResult(
            obj["kind"], template.key[0], template.key[1], errors=errors, group=template.type.group
        )
        scheduling = self._schedule(
            draft["spec"]["template"],
            template.type,
            existing,
            policy,
            template.v1_compat,
            clusters,
            obj,
        )
        result.errors += scheduling.get("errors", [])
        return Plan(
            draft,
            existing,
            template.type,
            draft["spec"]["template"],
            template,
            _placement_of(scheduling, existing),
            {},
            {},
            scheduling,
            policy,
            result,
        )

    def _plan_direct(
        self, fo: Object, snap: HostSnapshot, clusters: dict[str, tuple[ClusterInfo, ClusterInfo]]
    ) -> Plan | None:
        template = (fo.get("spec") or {}).get("template") or {}
        namespace, name = key_of(fo)
        result = ObjectResult(
            template.get("kind", "?"),
            namespace,
            (template.get("metadata") or {}).get("name", name),
            group=str(template.get("apiVersion", "")).rpartition("/")[0],
        )
        ftype = type_of(snap.types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            result.errors.append(
                f"kind {template.get('apiVersion')}/{template.get('kind')} is "
                "not federated: add a FederatedTypeConfig for it"
            )
            return Plan(
                fo,
                fo,
                FederatedType("", "v1", UNKNOWN_KIND, "?", True),
                template,
                None,
                {},
                {},
                {},
                {},
                None,
                result,
            )
        desired = copy.deepcopy(fo)
        policy, errors = self._policy_for(fo, snap)
        result.errors += errors
        scheduling: dict[str, Any] = {}
        if policy_of(fo) is not None:
            scheduling = self._schedule(template, ftype, fo, policy, False, clusters, fo)
            result.errors += scheduling.get("errors", [])
            placement = _placement_of(scheduling, fo)
        else:  # placed by hand: the union of every controller's placement
            placement = {c: None for c in _all_placed(fo, followers=False)}
        return Plan(
            desired, fo, ftype, template, None, placement, {}, {}, scheduling, policy, result
        )

    def _policy_for(self, obj: Object, snap: HostSnapshot) -> tuple[Object | None, list[str]]:
        found = policy_of(obj)
        if found is None:
            return None, []
        kind, name = found
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        policy = snap.policy(kind, namespace, name)
        if policy is None:
            where = f"{namespace}/{name}" if kind == "PropagationPolicy" else name
            return None, [f"{kind} {where} not found"]
        return policy, []

    def _schedule(
        self,
        template: Object,
        ftype: FederatedType,
        existing: Object | None,
        policy: Object | None,
        v1_compat: bool,
        clusters: dict[str, tuple[ClusterInfo, ClusterInfo]],
        source: Object,
    ) -> dict[str, Any]:
        previous = ((existing or {}).get("status") or {}).get("scheduling") or {}
        placed = set(_our_placement(existing)) if existing else set()
        current_replicas = previous.get("replicas") or {}
        ready = self._ready
        current = CurrentPlacement(
            clusters={c: current_replicas.get(c) for c in placed},
            # A cluster that went down or came back is not a policy trigger, but must be
            # rescheduled for: else what was created during an outage never reaches it.
            fingerprint=previous.get("fingerprint") if previous.get("ready") == ready else None,
        )
        # An unreachable cluster keeps what it holds (an outage is not a reason to move),
        # but gets nothing new.
        infos: ClusterSet | list[ClusterInfo] = self._all_ready or [
            held if name in placed else fresh for name, (fresh, held) in clusters.items()
        ]
        namespace, name = key_of(template)
        workload = WorkloadInfo(
            kind=ftype.kind,
            api_resource=ftype.api_resource,
            key=f"{namespace}/{name}" if namespace else name,
            replicas=_replicas(template, ftype.replicas_path),
            annotations=(source.get("metadata") or {}).get("annotations") or {},
        )
        if policy is None and v1_compat:
            outcome = select_clusters_v1(infos, workload, current)
        elif policy is None:
            return {"errors": [], "replicas": current_replicas, "kept": True}
        else:
            outcome = select_clusters(self._parsed(policy), infos, workload, current)
        record = {**_scheduling_record(outcome), "ready": ready}
        if previous and not outcome.rescheduled and not outcome.errors:
            # Same decision: keep its record (and reasons) so status does not churn.
            record = {
                **previous,
                "errors": [],
                "deferredReason": outcome.deferred_reason,
                "clusters": record["clusters"],
                "replicas": record["replicas"],
            }
            if not outcome.deferred_reason:
                record.pop("deferredReason")
        return record

    def _parsed(self, policy: Object) -> Policy:
        """Each policy is parsed once per pass, not once per object it places."""
        key = policy["metadata"].get("uid") or id(policy)
        if key not in self._policies:
            self._policies[key] = parse_policy(policy.get("spec") or {})
        return self._policies[key]

    def _compute_patches(self, plan: Plan, snap: HostSnapshot) -> None:
        """Per-cluster patches: scheduled replicas first, then ClusterOverridePolicies, then
        OverridePolicies (an override may still change replicas)."""
        source = plan.native.obj if plan.native else plan.fo
        overrides, missing = self._override_policies(source, snap)
        if missing and not plan.placement:
            plan.result.errors += missing
        labels = {c["metadata"]["name"]: c["metadata"].get("labels") or {} for c in snap.clusters}
        divided = plan.scheduling.get("divided", False)
        for cluster, replicas in sorted(plan.placement.items()):
            if missing:  # never half-applied: without its overrides a copy is not written
                plan.patch_errors[cluster] = "; ".join(missing) + ": the copy is not written"
                continue
            patches: list[dict[str, Any]] = []
            if divided and replicas is not None and plan.ftype.replicas_path:
                patches.append(
                    {
                        "op": "add",
                        "path": "/" + "/".join(plan.ftype.replicas_path),
                        "value": replicas,
                    }
                )
            try:
                patches += patches_for_cluster(
                    plan.template, overrides, cluster, labels.get(cluster, {})
                )
            except OverrideError as err:
                plan.patch_errors[cluster] = str(err)
            plan.patches[cluster] = patches
        if plan.native is not None or policy_of(plan.fo) is not None:
            self._set_our_spec(plan)
        _set_follower_spec(plan)

    def _override_policies(
        self, source: Object, snap: HostSnapshot
    ) -> tuple[list[Object], list[str]]:
        found, errors = [], []
        namespace = (source.get("metadata") or {}).get("namespace", "")
        for kind, name in override_policies_of(source):
            policy = snap.policy(kind, namespace, name)
            if policy is None:
                errors.append(f"{kind} {name} not found")
            else:
                found.append(policy)
        return found, errors

    def _set_our_spec(self, plan: Plan) -> None:
        """Our controller's placements and overrides on the FederatedObject."""
        spec = plan.fo.setdefault("spec", {})
        others_p = [
            p
            for p in spec.get("placements") or []
            if p.get("controller") not in (CONTROLLER, FOLLOWER_CONTROLLER)
        ]
        others_o = [o for o in spec.get("overrides") or [] if o.get("controller") != CONTROLLER]
        spec["placements"] = [
            *others_p,
            {
                "controller": CONTROLLER,
                "placement": [{"cluster": c} for c in plan.own_placement],
            },
        ]
        # A cluster whose overrides failed keeps the ones it was last written with.
        previous = _our_overrides(plan.existing)
        patches = {c: p for c, p in plan.patches.items() if c not in plan.patch_errors}
        patches.update({c: previous[c] for c in plan.patch_errors if c in previous})
        ours = [{"cluster": c, "patches": p} for c, p in sorted(patches.items()) if p]
        spec["overrides"] = others_o + (
            [{"controller": CONTROLLER, "clusters": ours}] if ours else []
        )

    # ------------------------------------------------------------------ host writes

    def _pipeline(self, plans: list[Plan], retiring: list[Plan], members: Members) -> None:
        """Each object end to end (FederatedObject, member copies, status), many objects at
        a time: the host and every member are kept busy at once."""
        jobs = [(plan, False) for plan in plans] + [(plan, True) for plan in retiring]
        if not jobs:
            return
        # The host connection pools 32 connections (cli.settings): stay within it.
        workers = min(32, max(1, self.options.workers) * max(1, len(members.by_name)))

        def run(job: tuple[Plan, bool]) -> None:
            plan, retire = job
            if retire:
                self._retire(plan, members)
            else:
                self._propagate(plan, members)

        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for done, _ in enumerate(pool.map(run, jobs), 1):
                self.progress(f"{done}/{len(jobs)}")

    def _propagate(self, plan: Plan, members: Members) -> None:
        # Written even when placed nowhere: its status is where `kubectl fed status` (and
        # KubeAdmiral's tools) read why, e.g. a policy that is missing or places nothing.
        # Not for a kind that is not federated: our finalizer would hold it forever.
        if plan.ftype.kind != UNKNOWN_KIND:
            try:
                plan.existing = self._write_fo(plan)
            except ApiError as err:
                plan.result.errors.append(f"cannot write the FederatedObject: {err}")
        for item in self._member_work(plan, members):
            self._run_one(item, members.by_name[item.cluster])
        self._write_status(plan, members)

    def _retire(self, plan: Plan, members: Members) -> None:
        for item in self._retire_work(plan, members):
            self._run_one(item, members.by_name[item.cluster])
        if plan.result.clusters:  # something is still out there (or unknown)
            return
        try:
            self._drop_federated_object(plan.fo)
        except NotFound:
            pass
        except ApiError as err:
            plan.result.errors.append(f"cannot remove the FederatedObject: {err}")

    def _write_fo(self, plan: Plan) -> Object:
        wanted = plan.fo
        metadata = wanted["metadata"]
        existing = plan.existing
        finalizers = list((existing or {}).get("metadata", {}).get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        metadata["finalizers"] = finalizers
        if plan.native is not None and existing is not None:
            # Keep what others added to a FederatedObject we generate.
            metadata["labels"] = {
                **(existing["metadata"].get("labels") or {}),
                **(metadata.get("labels") or {}),
            }
        path = _fo_path(wanted)
        if existing is None:
            created: Object = self.host.kube.create(_fo_collection(wanted), wanted)
            return created
        if _same_fo(existing, wanted):
            return existing
        body = {
            **existing,
            "metadata": {**existing["metadata"], **metadata},
            "spec": wanted["spec"],
        }
        for attempt in range(3):
            try:
                updated: Object = self.host.kube.replace(path, body)
                return updated
            except Conflict:
                if attempt == 2:
                    raise
                fresh = self.host.kube.get(path)
                body = {
                    **fresh,
                    "metadata": {**fresh["metadata"], **metadata},
                    "spec": wanted["spec"],
                }
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ member work

    def _member_work(self, plan: Plan, members: Members) -> list[Work]:
        result = plan.result
        work: list[Work] = []
        if plan.existing is None or (result.errors and not plan.placement):
            return work
        if not plan.placement and not result.errors:
            result.errors.append("placed in no cluster")
        annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
        namespace, name = key_of(plan.template)
        for cluster in sorted(plan.placement):
            member = members.by_name.get(cluster)
            if member is None:
                result.clusters[cluster] = ClusterResult(
                    ClusterStatus.CLUSTER_NOT_READY, "not a member"
                )
                continue
            if not member.reachable:
                result.clusters[cluster] = ClusterResult(
                    ClusterStatus.CLUSTER_NOT_READY, member.error
                )
                continue
            if cluster in plan.patch_errors:
                result.clusters[cluster] = ClusterResult(
                    ClusterStatus.APPLY_OVERRIDES_FAILED, plan.patch_errors[cluster]
                )
                continue
            unreadable = member.read_errors.get(plan.ftype.describe())
            if unreadable:
                result.clusters[cluster] = ClusterResult(ClusterStatus.RETRIEVAL_FAILED, unreadable)
                continue
            live = member.live(plan.ftype, namespace, name)
            item = self._decide(plan, cluster, live)
            if item is not None:
                work.append(item)
        previously = _previously_placed(plan.existing)
        for cluster, member in members.by_name.items():
            if cluster in plan.placement:
                continue
            unknown = member.error or member.read_errors.get(plan.ftype.describe())
            if unknown:
                if cluster in previously:  # a copy may still be there: removal is pending
                    code = (
                        ClusterStatus.CLUSTER_NOT_READY
                        if member.error
                        else (ClusterStatus.RETRIEVAL_FAILED)
                    )
                    result.clusters[cluster] = ClusterResult(
                        code, f"removal pending, a copy may remain: {unknown}"
                    )
                continue
            live = member.live(plan.ftype, namespace, name)
            if live is not None and is_managed(live):
                action = "unmark" if _orphans(annotations, live) else "delete"
                result.clusters[cluster] = ClusterResult(ClusterStatus.WAITING_FOR_REMOVAL)
                work.append(Work(plan, cluster, action, live=live))
        return work

    def _decide(self, plan: Plan, cluster: str, live: Object | None) -> Work | None:
        try:
            copy_ = member_copy(plan, cluster, live)
        except OverrideError as err:
            plan.result.clusters[cluster] = ClusterResult(
                ClusterStatus.APPLY_OVERRIDES_FAILED, str(err)
            )
            return None
        decision: Decision = decide(
            copy_.desired,
            live,
            adopt=copy_.adopting,
            correct_drift=self.options.drift == "correct",
        )
        generation = (live or {}).get("metadata", {}).get("generation")
        plan.result.clusters[cluster] = ClusterResult(
            decision.status, decision.message, generation, decision.drifted
        )
        if decision.action == "none":
            return None
        return Work(plan, cluster, "apply", body=copy_.body, live=live)

    def preview(self) -> tuple[list[Plan], list[Plan], Members]:
        """Everything a pass would decide, read but not written (for diff and explain).
        The caller closes the returned Members."""
        snap = load(self.host)
        members = Members(self.host, snap.clusters, self.options.timeout, self.options.workers)
        plans, retiring = self._plan_all(snap, members)
        self._read_members(plans + retiring, members, bulk=True)
        return plans, retiring, members

    @staticmethod
    def _read_members(plans: list[Plan], members: Members, bulk: bool) -> None:
        """One list per kind for a full pass; one GET per object for a few objects."""
        known = [p for p in plans if p.ftype.kind != UNKNOWN_KIND]
        if bulk:
            members.read(sorted({p.ftype for p in known}, key=lambda t: (t.group, t.kind)))
        else:
            members.read_named([(p.ftype, *key_of(p.template)) for p in known])

    def _retire_plan(self, fo: Object, snap: HostSnapshot) -> Plan | None:
        template = (fo.get("spec") or {}).get("template") or {}
        ftype = type_of(snap.types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            return None
        namespace, name = key_of(template)
        plan = Plan(fo, fo, ftype, template, None, {}, {}, {}, {})
        plan.result = ObjectResult(
            template.get("kind", "?"), namespace, name, retired=True, group=ftype.group
        )
        return plan

    def _retire_work(self, plan: Plan, members: Members) -> list[Work]:
        """Remove (or orphan) every managed copy; an unreachable member keeps it pending."""
        annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
        namespace, name = key_of(plan.template)
        work = []
        for cluster, member in members.by_name.items():
            if not member.reachable:
                plan.result.clusters[cluster] = ClusterResult(
                    ClusterStatus.CLUSTER_NOT_READY, member.error
                )
                continue
            unreadable = member.read_errors.get(plan.ftype.describe())
            if unreadable:  # unknown whether a copy is there: keep the object pending
                plan.result.clusters[cluster] = ClusterResult(
                    ClusterStatus.RETRIEVAL_FAILED, unreadable
                )
                continue
            live = member.live(plan.ftype, namespace, name)
            if live is not None and is_managed(live):
                action = "unmark" if _orphans(annotations, live) else "delete"
                plan.result.clusters[cluster] = ClusterResult(ClusterStatus.WAITING_FOR_REMOVAL)
                work.append(Work(plan, cluster, action, live=live))
        return work

    def _run_one(self, item: Work, member: Member) -> None:
        results = item.plan.result.clusters
        if not member.reachable:
            results[item.cluster] = ClusterResult(ClusterStatus.CLUSTER_NOT_READY, member.error)
            return
        try:
            if item.action == "apply" and item.body is not None:
                written = member_io.apply(member, item.plan.ftype, item.body)
                previous = results.get(item.cluster) or ClusterResult(ClusterStatus.OK)
                results[item.cluster] = ClusterResult(
                    ClusterStatus.OK,
                    previous.message,
                    written.get("metadata", {}).get("generation"),
                    previous.drifted,
                )
            elif item.action == "delete" and item.live is not None:
                member_io.delete(member, item.plan.ftype, item.live)
                results.pop(item.cluster, None)
            elif item.action == "unmark" and item.live is not None:
                patch = unmarked(item.live)
                if patch:
                    member_io.merge_patch(member, item.plan.ftype, item.live, patch)
                results.pop(item.cluster, None)
        except Unreachable as err:
            member.mark_unreachable(err)
            results[item.cluster] = ClusterResult(ClusterStatus.CLUSTER_NOT_READY, str(err))
        except ApiError as err:
            results[item.cluster] = ClusterResult(_failure_code(item), str(err))

    # ------------------------------------------------------------------ status

    def _write_status(self, plan: Plan, members: Members) -> None:
        if plan.existing is None or "uid" not in plan.existing.get("metadata", {}):
            return
        try:
            self._write_fo_status(plan)
            if plan.native is not None:
                self._write_template_status(plan, members)
        except NotFound:
            pass  # deleted meanwhile: the next pass retires it
        except ApiError as err:
            plan.result.errors.append(f"cannot record status: {err}")

    def _write_fo_status(self, plan: Plan) -> None:
        assert plan.existing is not None
        old = plan.existing.get("status") or {}
        codes = {c: r.status for c, r in plan.result.clusters.items()}
        condition_ = propagated_condition({c: str(s) for c, s in codes.items()}, now())
        if plan.result.errors:
            condition_.update(
                status="False", reason="CheckErrors", message="; ".join(plan.result.errors)[:500]
            )
        previous = next(
            (c for c in old.get("conditions") or [] if c.get("type") == condition_["type"]), None
        )
        if previous and all(
            previous.get(k) == condition_.get(k) for k in ("status", "reason", "message")
        ):
            condition_ = previous
        status = {
            "syncedGeneration": plan.existing["metadata"].get("generation"),
            "conditions": [condition_],
            "clusters": [_cluster_entry(c, r) for c, r in sorted(plan.result.clusters.items())],
        }
        if plan.scheduling and not plan.scheduling.get("kept"):
            status["scheduling"] = {k: v for k, v in plan.scheduling.items() if k != "errors"}
        elif old.get("scheduling"):
            status["scheduling"] = old["scheduling"]
        patch = merge_patch(old, status)
        if patch:
            self.host.kube.merge_patch(_fo_path(plan.existing) + "/status", {"status": patch})

    def _write_template_status(self, plan: Plan, members: Members) -> None:
        assert plan.native is not None
        obj = plan.native.obj
        namespace, name = plan.native.key
        statuses: dict[str, Any] = {}
        current: dict[str, bool] = {}
        for cluster in plan.placement:
            member = members.by_name.get(cluster)
            live = member.live(plan.ftype, namespace, name) if member else None
            statuses[cluster] = (live or {}).get("status")
            result = plan.result.clusters.get(cluster)
            observed = ((live or {}).get("status") or {}).get("observedGeneration", -1)
            current[cluster] = bool(
                live
                and result
                and result.status == ClusterStatus.OK
                and result.generation == live["metadata"].get("generation")
                and observed >= live["metadata"].get("generation", 0)
            )
        aggregated = aggregate_workload_status(
            plan.ftype.kind, statuses, obj["metadata"].get("generation", 0), current
        )
        if not aggregated and plan.ftype.kind not in (
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
        ):
            return
        old = obj.get("status") or {}
        counted = (
            set(aggregated)
            | {"observedGeneration"}
            | {k for k in old if isinstance(old.get(k), int)}
        )
        if all(old.get(k) == aggregated.get(k) for k in counted):
            return
        patch = {k: aggregated.get(k) for k in counted}
        path = path_for(plan.ftype.resource, namespace or None, name) + "/status"
        self.host.kube.merge_patch(path, {"status": patch})

    # ------------------------------------------------------------------ retiring

    def _drop_federated_object(self, fo: Object) -> None:
        path = _fo_path(fo)
        finalizers = [f for f in fo["metadata"].get("finalizers") or [] if f != FINALIZER]
        if FINALIZER in (fo["metadata"].get("finalizers") or []):
            self.host.kube.merge_patch(
                path,
                {
                    "metadata": {
                        "finalizers": finalizers or None,
                        "resourceVersion": fo["metadata"]["resourceVersion"],
                    }
                },
            )
        if not fo["metadata"].get("deletionTimestamp"):
            self.host.kube.delete(path)


# --------------------------------------------------------------------------- helpers


@dataclass
class MemberCopy:
    desired: Object  # what the federation says, marks included
    body: Object  # what would be sent: desired plus the fields the member owns
    adopting: bool


def member_copy(plan: Plan, cluster: str, live: Object | None) -> MemberCopy:
    """The copy of a planned object for one member. Raises OverrideError."""
    annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    retain = annotations.get(RETAIN_REPLICAS_ANNOTATION) == "true"
    adopting = (
        live is not None
        and not is_managed(live)
        and annotations.get(CONFLICT_RESOLUTION_ANNOTATION) == "adopt"
        and adoption_allowed(annotations, cluster)
    )
    path = plan.ftype.replicas_path or ("spec", "replicas")
    desired = member_object(
        plan.template,
        _foreign_patches(plan.fo, cluster) + plan.patches.get(cluster, []),
        adopted=adopting or (live is not None and is_adopted(live)),
        retain_replicas=retain and live is not None,
        replicas_path=path,
    )
    body = desired_with_live(desired, live, retain_replicas=retain, replicas_path=path)
    return MemberCopy(desired, body, adopting)


def _fo_key(fo: Object) -> tuple[str, str, str]:
    namespace, name = key_of(fo)
    return str(fo.get("kind")), namespace, name


def _fo_collection(fo: Object) -> str:
    namespace = (fo.get("metadata") or {}).get("namespace")
    plural = api.FEDERATED_OBJECTS if namespace else api.CLUSTER_FEDERATED_OBJECTS
    return fed_path(plural, namespace=namespace)


def _fo_path(fo: Object) -> str:
    return f"{_fo_collection(fo)}/{fo['metadata']['name']}"


def _controller_ref(fo: Object) -> Object | None:
    for ref in (fo.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _owned_by(fo: Object, template: Object) -> bool:
    ref = _controller_ref(fo)
    return ref is not None and ref.get("uid") == template["metadata"].get("uid")


def _same_fo(existing: Object, wanted: Object) -> bool:
    ours, theirs = wanted["metadata"], existing["metadata"]
    for field_ in ("labels", "annotations", "ownerReferences", "finalizers"):
        if (ours.get(field_) or None) != (theirs.get(field_) or None):
            return False
    return bool(existing.get("spec") == wanted.get("spec"))


def _our_placement(fo: Object | None) -> list[str]:
    for entry in ((fo or {}).get("spec") or {}).get("placements") or []:
        if entry.get("controller") == CONTROLLER:
            return [p["cluster"] for p in entry.get("placement") or [] if p.get("cluster")]
    return []


def _our_overrides(fo: Object | None) -> dict[str, list[dict[str, Any]]]:
    for entry in ((fo or {}).get("spec") or {}).get("overrides") or []:
        if entry.get("controller") == CONTROLLER:
            return {t["cluster"]: t.get("patches") or [] for t in entry.get("clusters") or []}
    return {}


def _previously_placed(fo: Object | None) -> set[str]:
    """Clusters that may hold a copy: placed by any controller, or with a recorded status."""
    status_entries = ((fo or {}).get("status") or {}).get("clusters") or []
    return set(_all_placed(fo or {})) | {e["cluster"] for e in status_entries if e.get("cluster")}


def _all_placed(fo: Object, followers: bool = True) -> list[str]:
    clusters = {
        p.get("cluster")
        for entry in (fo.get("spec") or {}).get("placements") or []
        if followers or entry.get("controller") != FOLLOWER_CONTROLLER
        for p in entry.get("placement") or []
    }
    return sorted(c for c in clusters if c)


def _recorded_follows(fo: Object | None) -> list[str]:
    for entry in ((fo or {}).get("spec") or {}).get("placements") or []:
        if entry.get("controller") == FOLLOWER_CONTROLLER:
            return [p["cluster"] for p in entry.get("placement") or [] if p.get("cluster")]
    return []


def _set_follower_spec(plan: Plan) -> None:
    """The follower entry of spec.placements: where it goes only because its leaders do."""
    spec = plan.fo.setdefault("spec", {})
    others = [p for p in spec.get("placements") or [] if p.get("controller") != FOLLOWER_CONTROLLER]
    follows = [{"cluster": c} for c in sorted(plan.follows)]
    if follows:
        others.append({"controller": FOLLOWER_CONTROLLER, "placement": follows})
    if others or "placements" in spec:
        spec["placements"] = others


def _leader_moved(plan: Plan) -> bool:
    """Whether a workload's clusters changed in this pass (its followers must follow)."""
    if not referenced_objects(plan.template):
        return False
    return set(plan.own_placement) != set(_our_placement(plan.existing))


def _placement_of(scheduling: dict[str, Any], existing: Object | None) -> dict[str, int | None]:
    replicas = scheduling.get("replicas") or {}
    clusters = _our_placement(existing) if scheduling.get("kept") else scheduling["clusters"]
    return {c: replicas.get(c) for c in clusters}


def _replicas(template: Object, path: tuple[str, ...] | None) -> int | None:
    if not path:
        return None
    node: Any = template
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return 1 if part == path[-1] and path[-1] == "replicas" else None
        node = node[part]
    return node if isinstance(node, int) else None


def _cluster_infos(
    snap: HostSnapshot, members: Members
) -> dict[str, tuple[ClusterInfo, ClusterInfo]]:
    """Per cluster: as new placements see it, and as a cluster already holding it sees it."""
    infos = {}
    for cluster in snap.clusters:
        name = cluster["metadata"]["name"]
        resources = (cluster.get("status") or {}).get("apiResourceTypes")
        served = (
            None
            if not resources
            else {
                f"{r['group']}/{r['version']}/{r['pluralName']}"
                if r.get("group")
                else f"{r['version']}/{r['pluralName']}"
                for r in resources
            }
        )
        member = members.by_name.get(name)
        ready = condition(cluster, api.READY) == "True" and bool(member and member.reachable)
        base = {
            "name": name,
            "labels": cluster["metadata"].get("labels") or {},
            "taints": (cluster.get("spec") or {}).get("taints") or [],
            "api_resources": frozenset(served) if served is not None else None,
        }
        infos[name] = (ClusterInfo(ready=ready, **base), ClusterInfo(ready=True, **base))
    return infos


def _scheduling_record(outcome: SchedulingResult) -> dict[str, Any]:
    record: dict[str, Any] = {
        "clusters": sorted(outcome.clusters),
        "replicas": {c: n for c, n in outcome.clusters.items() if n is not None},
        "fingerprint": outcome.fingerprint,
        "divided": outcome.division is not None,
        "reasons": {c: f"{r.code}: {r.message}" for c, r in sorted(outcome.reasons.items())},
        "errors": list(outcome.errors),
    }
    if outcome.warnings:
        record["warnings"] = list(outcome.warnings)
    if outcome.deferred_reason:
        record["deferredReason"] = outcome.deferred_reason
    return record


def _add_followers(plans: list[Plan], keep_recorded: bool) -> None:
    """ConfigMaps, Secrets, ServiceAccounts and PVCs a workload uses go where it goes, and
    leave where it leaves. A watch-driven pass sees only some workloads, so it keeps the
    follower placement recorded by the last full pass and adds to it, never removes."""
    by_key = {(p.ftype.group, p.ftype.kind, *key_of(p.template)): p for p in plans}
    if keep_recorded:
        for plan in plans:
            for cluster in _recorded_follows(plan.existing):
                _follow(plan, cluster, "(recorded by the last full pass)")
    for leader in plans:
        spec = (leader.leader_policy or {}).get("spec") or {}
        if spec.get("disableFollowerScheduling") or not leader.placement:
            continue
        namespace = key_of(leader.template)[0]
        title = f"{leader.ftype.kind}/{key_of(leader.template)[1]}"
        for kind, name in referenced_objects(leader.template):
            follower = by_key.get(("", kind, namespace, name))  # followers are core kinds
            if follower is not None and follower is not leader:
                for cluster in leader.own_placement:
                    _follow(follower, cluster, title)


def _follow(follower: Plan, cluster: str, leader: str) -> None:
    if cluster in follower.placement and cluster not in follower.follows:
        return  # placed there by its own policy
    follower.placement.setdefault(cluster, None)
    follower.follows.setdefault(cluster, []).append(leader)


def _foreign_patches(fo: Object, cluster: str) -> list[dict[str, Any]]:
    """Patches other controllers (or the user) wrote into spec.overrides, in order."""
    found: list[dict[str, Any]] = []
    for entry in (fo.get("spec") or {}).get("overrides") or []:
        if entry.get("controller") == CONTROLLER:
            continue
        for target in entry.get("clusters") or []:
            if target.get("cluster") == cluster:
                found += target.get("patches") or []
    return found


def _orphans(annotations: dict[str, str], live: Object) -> bool:
    mode = annotations.get(ORPHAN_ANNOTATION)
    return mode == "all" or (mode == "adopted" and is_adopted(live))


def _failure_code(item: Work) -> ClusterStatus:
    if item.action in ("delete", "unmark"):
        return ClusterStatus.DELETION_FAILED
    return ClusterStatus.CREATION_FAILED if item.live is None else ClusterStatus.UPDATE_FAILED


def _cluster_entry(cluster: str, result: ClusterResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"cluster": cluster, "status": str(result.status)}
    if result.generation is not None:
        entry["lastObservedGeneration"] = result.generation
    if result.message:
        entry["message"] = result.message[:300]
    return entry
