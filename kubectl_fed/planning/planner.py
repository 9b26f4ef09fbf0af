"""Planning: from one read of the host and the members to a Plan per federated object:
where it goes (schedule), with which per-cluster patches (overrides), following its
workloads (followers). Nothing here writes; sync/ acts on the plans, and `diff` and
`explain` show them (planning.preview)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federate import (
    CONTROLLER,
    FOLLOWER_CONTROLLER,
    build_federated_object,
    federated_object_name,
    override_policies_of,
    policy_of,
)
from kubectl_fed.core.federated_types import UNKNOWN_KIND, FederatedType, type_of
from kubectl_fed.core.followers import referenced_objects
from kubectl_fed.core.objects import Object, ObjectKey, api_group, key_of
from kubectl_fed.core.overrides import OverrideError, patches_for_cluster
from kubectl_fed.core.policy import Policy, parse_policy
from kubectl_fed.core.scheduling import (
    ClusterInfo,
    ClusterSet,
    CurrentPlacement,
    SchedulingRecord,
    cluster_info,
    workload_info,
)
from kubectl_fed.core.selection import select_clusters, select_clusters_v1
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import (
    ObjectResult,
    Plan,
    all_placed,
    controller_ref,
    fo_key,
    our_overrides,
    owned_by,
    placed_by,
)
from kubectl_fed.planning.snapshot import HostSnapshot, Template


class Planner:
    """Plans a pass. Keeps, per pass, the Ready clusters and each policy parsed once."""

    def __init__(self) -> None:
        self._ready: list[str] = []
        self._all_ready: ClusterSet | None = None
        self._policies: dict[Any, Policy] = {}

    def plan_all(
        self, snap: HostSnapshot, members: Members, partial: bool = False
    ) -> tuple[list[Plan], list[Plan]]:
        existing = {fo_key(fo): fo for fo in snap.federated_objects}
        clusters = _cluster_infos(snap, members)
        self._ready = sorted(name for name, (fresh, _) in clusters.items() if fresh.ready)
        # With every member answering, all objects see the same clusters: hash them once.
        all_ready = len(self._ready) == len(clusters)
        self._all_ready = ClusterSet(f for f, _ in clusters.values()) if all_ready else None
        self._policies = {}
        plans: list[Plan] = []
        claimed: set[ObjectKey] = set()
        for template in snap.templates:
            name = federated_object_name(
                template.obj["metadata"]["name"], template.type.plural, template.type.group
            )
            fo_kind = "FederatedObject" if template.type.namespaced else "ClusterFederatedObject"
            key = ObjectKey(kubeadmiral.GROUP, fo_kind, template.key[0], name)
            fo = existing.get(key)
            if fo is not None and _leaving_before(fo, template):
                # The FederatedObject of an earlier template of that name (deleted and
                # created again) leaves first; this one follows in the same pass.
                plan = self._plan_native(template, None, snap, clusters)
                plan.waits_for_leaving = True
                plans.append(plan)
                continue
            if fo is not None and not owned_by(fo, template.obj):
                continue  # someone else's object of that name
            claimed.add(key)
            plans.append(self._plan_native(template, fo, snap, clusters))
        leaving = []
        for key, fo in existing.items():
            if key in claimed:
                continue
            if fo["metadata"].get("deletionTimestamp") or controller_ref(fo):
                # deleted, or its template is gone / no longer federated
                gone = self._leaving_plan(fo, snap)
                if gone is not None:
                    leaving.append(gone)
            else:
                direct = self._plan_direct(fo, snap, clusters)
                if direct is not None:
                    plans.append(direct)
        _add_followers(plans, keep_recorded=partial)
        for plan in plans:
            self._compute_patches(plan, snap)
        return plans, leaving

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
        result.errors += scheduling.errors
        return Plan(
            fo=draft,
            existing=existing,
            ftype=template.type,
            template=draft["spec"]["template"],
            native=template,
            placement=_placement_of(scheduling, existing),
            scheduling=scheduling,
            leader_policy=policy,
            result=result,
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
            group=api_group(template),
        )
        ftype = type_of(snap.types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            result.errors.append(
                f"kind {template.get('apiVersion')}/{template.get('kind')} is "
                "not federated: add a FederatedTypeConfig for it"
            )
            return Plan(
                fo=fo,
                existing=fo,
                ftype=FederatedType("", "v1", UNKNOWN_KIND, "?", True),
                template=template,
                result=result,
            )
        desired = copy.deepcopy(fo)
        policy, errors = self._policy_for(fo, snap)
        result.errors += errors
        scheduling = SchedulingRecord(kept=True)
        if policy_of(fo) is not None:
            scheduling = self._schedule(template, ftype, fo, policy, False, clusters, fo)
            result.errors += scheduling.errors
            placement = _placement_of(scheduling, fo)
        else:  # placed by hand: the union of every controller's placement
            placement = {c: None for c in all_placed(fo, followers=False)}
        return Plan(
            fo=desired,
            existing=fo,
            ftype=ftype,
            template=template,
            placement=placement,
            scheduling=scheduling,
            leader_policy=policy,
            result=result,
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
    ) -> SchedulingRecord:
        stored = ((existing or {}).get("status") or {}).get("scheduling")
        previous = SchedulingRecord.from_status(stored) if stored else None
        placed = set(placed_by(existing, CONTROLLER)) if existing else set()
        current_replicas = previous.replicas if previous else {}
        ready = self._ready
        current = CurrentPlacement(
            clusters={c: current_replicas.get(c) for c in placed},
            # A cluster that went down or came back is not a policy trigger, but must be
            # rescheduled for: else what was created during an outage never reaches it.
            fingerprint=previous.fingerprint if previous and previous.ready == ready else None,
        )
        # An unreachable cluster keeps what it holds (an outage is not a reason to move),
        # but gets nothing new.
        infos: ClusterSet | list[ClusterInfo] = self._all_ready or [
            held if name in placed else fresh for name, (fresh, held) in clusters.items()
        ]
        annotations = (source.get("metadata") or {}).get("annotations") or {}
        workload = workload_info(template, ftype, annotations)
        if policy is None and v1_compat:
            outcome = select_clusters_v1(infos, workload, current)
        elif policy is None:
            # Kept as last decided: a divided object keeps its per-cluster replicas.
            divided = previous.divided if previous else False
            return SchedulingRecord(replicas=dict(current_replicas), divided=divided, kept=True)
        else:
            outcome = select_clusters(self._parsed(policy), infos, workload, current)
        record = SchedulingRecord.of(outcome, ready)
        if previous and not outcome.rescheduled and not outcome.errors:
            # Same decision: keep its record (and reasons) so status does not churn.
            return replace(
                previous,
                deferred_reason=outcome.deferred_reason,
                clusters=record.clusters,
                replicas=record.replicas,
            )
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
        divided = plan.scheduling.divided
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
        previous = our_overrides(plan.existing)
        patches = {c: p for c, p in plan.patches.items() if c not in plan.patch_errors}
        patches.update({c: previous[c] for c in plan.patch_errors if c in previous})
        ours = [{"cluster": c, "patches": p} for c, p in sorted(patches.items()) if p]
        spec["overrides"] = others_o + (
            [{"controller": CONTROLLER, "clusters": ours}] if ours else []
        )

    @staticmethod
    def read_members(plans: list[Plan], members: Members, bulk: bool) -> None:
        """One list per kind for a full pass; one GET per object for a few objects."""
        known = [p for p in plans if p.ftype.kind != UNKNOWN_KIND]
        if bulk:
            members.read(sorted({p.ftype for p in known}, key=lambda t: (t.group, t.kind)))
        else:
            members.read_named([(p.ftype, *key_of(p.template)) for p in known])

    def _leaving_plan(self, fo: Object, snap: HostSnapshot) -> Plan | None:
        template = (fo.get("spec") or {}).get("template") or {}
        ftype = type_of(snap.types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            return None
        namespace, name = key_of(template)
        result = ObjectResult(
            template.get("kind", "?"), namespace, name, leaving=True, group=ftype.group
        )
        return Plan(fo=fo, existing=fo, ftype=ftype, template=template, result=result)


def _set_follower_spec(plan: Plan) -> None:
    """The follower entry of spec.placements: where it goes only because its leaders do."""
    spec = plan.fo.setdefault("spec", {})
    others = [p for p in spec.get("placements") or [] if p.get("controller") != FOLLOWER_CONTROLLER]
    follows = [{"cluster": c} for c in sorted(plan.follows)]
    if follows:
        others.append({"controller": FOLLOWER_CONTROLLER, "placement": follows})
    if others or "placements" in spec:
        spec["placements"] = others


def leader_moved(plan: Plan) -> bool:
    """Whether a workload's clusters changed in this pass (its followers must follow)."""
    if not referenced_objects(plan.template):
        return False
    return set(plan.own_placement) != set(placed_by(plan.existing, CONTROLLER))


def _placement_of(record: SchedulingRecord, existing: Object | None) -> dict[str, int | None]:
    clusters = placed_by(existing, CONTROLLER) if record.kept else record.clusters
    return {c: record.replicas.get(c) for c in clusters}


def _cluster_infos(
    snap: HostSnapshot, members: Members
) -> dict[str, tuple[ClusterInfo, ClusterInfo]]:
    """Per cluster: as new placements see it (Ready only if it answers this pass), and as
    a cluster already holding it sees it (an outage is no reason to move)."""
    infos = {}
    for cluster in snap.clusters:
        member = members.by_name.get(cluster["metadata"]["name"])
        fresh = cluster_info(cluster)
        fresh = replace(fresh, ready=fresh.ready and bool(member and member.reachable))
        infos[fresh.name] = (fresh, replace(fresh, ready=True))
    return infos


def _leaving_before(fo: Object, template: Template) -> bool:
    """Whether `fo` is an earlier template's (or being deleted) and must leave first."""
    ref = controller_ref(fo)
    earlier = ref is not None and not owned_by(fo, template.obj)
    return bool(fo["metadata"].get("deletionTimestamp")) or earlier


def _add_followers(plans: list[Plan], keep_recorded: bool) -> None:
    """ConfigMaps, Secrets, ServiceAccounts and PVCs a workload uses go where it goes, and
    leave where it leaves. A watch-driven pass sees only some workloads, so it keeps the
    follower placement recorded by the last full pass and adds to it, never removes."""
    by_key = {ObjectKey(p.ftype.group, p.ftype.kind, *key_of(p.template)): p for p in plans}
    if keep_recorded:
        for plan in plans:
            for cluster in placed_by(plan.existing, FOLLOWER_CONTROLLER):
                _follow(plan, cluster, "(recorded by the last full pass)")
    for leader in plans:
        spec = (leader.leader_policy or {}).get("spec") or {}
        if spec.get("disableFollowerScheduling") or not leader.placement:
            continue
        namespace = key_of(leader.template)[0]
        title = f"{leader.ftype.kind}/{key_of(leader.template)[1]}"
        for kind, name in referenced_objects(leader.template):
            follower = by_key.get(ObjectKey("", kind, namespace, name))  # followers: core kinds
            if follower is not None and follower is not leader:
                for cluster in leader.own_placement:
                    _follow(follower, cluster, title)


def _follow(follower: Plan, cluster: str, leader: str) -> None:
    if cluster in follower.placement and cluster not in follower.follows:
        return  # placed there by its own policy
    follower.placement.setdefault(cluster, None)
    follower.follows.setdefault(cluster, []).append(leader)
