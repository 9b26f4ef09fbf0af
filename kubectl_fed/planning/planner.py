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
from kubectl_fed.core.followers import FollowerRef, followers_of, following_disabled
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
    LeaderRef,
    ObjectResult,
    Plan,
    all_placed,
    controller_ref,
    fo_key,
    is_namespace,
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
        # Follower (any object a workload references) -> the workloads referencing it.
        self._leaders_of: dict[ObjectKey, set[ObjectKey]] = {}

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
        # Follower candidates: planned, and kept only where workloads make them follow.
        candidates: list[tuple[ObjectKey | None, Plan]] = []
        for template in [*snap.templates, *snap.followers]:
            key = _fo_key_of(template)
            fo = existing.get(key)
            if fo is not None and _leaving_before(fo, template):
                # The FederatedObject of an earlier template of that name (deleted and
                # created again) leaves first; this one follows in the same pass.
                plan = self._plan_native(template, None, snap, clusters)
                if plan is not None:
                    plan.waits_for_leaving = True
                    if template.follower:
                        candidates.append((None, plan))
                    else:
                        plans.append(plan)
                continue
            if fo is not None and not owned_by(fo, template.obj):
                continue  # someone else's object of that name
            plan = self._plan_native(template, fo, snap, clusters)
            if plan is None:
                continue
            if template.follower:
                candidates.append((key, plan))
            else:
                claimed.add(key)
                plans.append(plan)
        for key, fo in existing.items():
            deleted = fo["metadata"].get("deletionTimestamp")
            if key not in claimed and not deleted and not controller_ref(fo):
                claimed.add(key)  # written by hand, not made from a template
                direct = self._plan_direct(fo, snap, clusters)
                if direct is not None:
                    plans.append(direct)
        self._index_followers(plans, partial)
        _add_followers(plans + [plan for _, plan in candidates], keep_recorded=partial)
        for candidate_key, plan in candidates:
            if plan.placement:  # it follows a workload somewhere
                plans.append(plan)
                if candidate_key is not None:
                    claimed.add(candidate_key)
        leaving = []
        anew = {key_of(p.template) for p in plans if p.waits_for_leaving and is_namespace(p)}
        for key, fo in existing.items():
            if key not in claimed:
                # deleted, or its template is gone / no longer federated / follows nothing
                gone = self._leaving_plan(fo, snap)
                if gone is not None:
                    gone.hand_over = is_namespace(gone) and key_of(gone.template) in anew
                    leaving.append(gone)
        for plan in plans:
            self._compute_patches(plan, snap)
        return plans, leaving

    def with_leaders(self, keys: set[ObjectKey]) -> set[ObjectKey]:
        """`keys` and the workloads that reference any of them (as the last passes saw
        them): a pass over a follower plans its leaders too, so that it knows where it goes."""
        found = set(keys)
        for key in keys:
            found |= self._leaders_of.get(key, set())
        return found

    def _index_followers(self, plans: list[Plan], partial: bool) -> None:
        """Which workloads reference which objects, existing or not: a ConfigMap created
        after the Deployment using it is planned with that Deployment."""
        if not partial:
            self._leaders_of = {}
        for plan in plans:
            leader = ObjectKey(plan.ftype.group, plan.ftype.kind, *key_of(plan.template))
            for leaders in self._leaders_of.values() if partial else ():
                leaders.discard(leader)  # what it referenced before this pass
            refs, _problem = leader_followers(plan)
            for group, kind, name in refs:
                follower = ObjectKey(group, kind, leader.namespace, name)
                self._leaders_of.setdefault(follower, set()).add(leader)

    def _plan_native(
        self,
        template: Template,
        existing: Object | None,
        snap: HostSnapshot,
        clusters: dict[str, tuple[ClusterInfo, ClusterInfo]],
    ) -> Plan | None:
        """The plan of a host object. None for a namespace being deleted that was never
        propagated: it gets nothing new."""
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
        placement: dict[str, int | None] | None = {}
        if template.follower:  # goes only where the workloads it follows go (below)
            scheduling = SchedulingRecord(kept=True)
        elif template.auto_namespace:
            scheduling = SchedulingRecord(kept=True)
            placement = _every_member(template, existing, clusters)
        else:
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
            placement = _placement_of(scheduling, existing)
        if placement is None:
            return None
        return Plan(
            fo=draft,
            existing=existing,
            ftype=template.type,
            template=draft["spec"]["template"],
            native=template,
            placement=placement,
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
        """Our controller's placements and overrides on the FederatedObject (a follower
        without a policy has no placement of its own: only the follower entry)."""
        spec = plan.fo.setdefault("spec", {})
        others_p = [
            p
            for p in spec.get("placements") or []
            if p.get("controller") not in (CONTROLLER, FOLLOWER_CONTROLLER)
        ]
        others_o = [o for o in spec.get("overrides") or [] if o.get("controller") != CONTROLLER]
        placed = {
            "controller": CONTROLLER,
            "placement": [{"cluster": c} for c in plan.own_placement],
        }
        only_follows = plan.native is not None and plan.native.follower
        spec["placements"] = others_p if only_follows else [*others_p, placed]
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
    """The follower entry of spec.placements (where it goes only because its leaders do),
    and spec.follows (its leaders), as KubeAdmiral's follower controller records them."""
    spec = plan.fo.setdefault("spec", {})
    others = [p for p in spec.get("placements") or [] if p.get("controller") != FOLLOWER_CONTROLLER]
    follows = [{"cluster": c} for c in sorted(plan.follows)]
    if follows:
        others.append({"controller": FOLLOWER_CONTROLLER, "placement": follows})
    if others or "placements" in spec:
        spec["placements"] = others
    namespace = key_of(plan.template)[0]
    leaders: list[dict[str, str]] = [
        {**({"group": group} if group else {}), "kind": kind, "namespace": namespace, "name": name}
        for group, kind, name in sorted(plan.leaders)
    ]
    if leaders:
        spec["follows"] = leaders
    else:
        spec.pop("follows", None)


def leader_followers(plan: Plan) -> tuple[list[FollowerRef], str]:
    """The followers a planned workload names (pod spec and annotation), and why its
    annotation was not used, if it was not. Its federation annotations are on its
    FederatedObject (a native template's have moved there)."""
    annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    return followers_of(plan.template, annotations)


def leader_moved(plan: Plan) -> bool:
    """Whether a pass over a few objects left followers behind: a workload whose clusters
    or followers changed, or a follower that opted out (a full pass settles them)."""
    fo_annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    if following_disabled(fo_annotations) and placed_by(plan.existing, FOLLOWER_CONTROLLER):
        return True
    refs, _problem = leader_followers(plan)
    if plan.existing is None:
        return bool(refs)
    existing = plan.existing
    before, _ = followers_of(
        (existing.get("spec") or {}).get("template") or {},
        (existing.get("metadata") or {}).get("annotations") or {},
    )
    if refs != before:
        return True
    return bool(refs) and set(plan.own_placement) != set(placed_by(existing, CONTROLLER))


def _fo_key_of(template: Template) -> ObjectKey:
    name = federated_object_name(
        template.obj["metadata"]["name"], template.type.plural, template.type.group
    )
    fo_kind = "FederatedObject" if template.type.namespaced else "ClusterFederatedObject"
    return ObjectKey(kubeadmiral.GROUP, fo_kind, template.key[0], name)


def _every_member(
    template: Template,
    existing: Object | None,
    clusters: dict[str, tuple[ClusterInfo, ClusterInfo]],
) -> dict[str, int | None] | None:
    """Namespace auto-propagation: every member, as KubeAdmiral's nsautoprop controller
    places it (taints and policies aside). As for every object, a member that does not
    answer keeps it but gets it only once it answers; a namespace being deleted keeps the
    members it is in and gets no new one (None when it is in none)."""
    held = {c for c in placed_by(existing, CONTROLLER) if c in clusters} if existing else set()
    if template.obj["metadata"].get("deletionTimestamp"):
        return {cluster: None for cluster in sorted(held)} if existing is not None else None
    ready = {name for name, (fresh, _held) in clusters.items() if fresh.ready}
    return {cluster: None for cluster in sorted(ready | held)}


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
    """ConfigMaps, Secrets, ServiceAccounts and PVCs a workload uses (and what its
    `kubeadmiral.io/followers` annotation names) go where it goes, and leave where it
    leaves, unless its policy says `disableFollowerScheduling` or the follower says
    `kubeadmiral.io/disable-following: "true"`. A watch-driven pass sees only some
    workloads, so it keeps the follower placement recorded by the last full pass and adds
    to it, never removes; so does a workload whose annotation cannot be read, for the
    followers that recorded it as their leader."""
    by_key = {ObjectKey(p.ftype.group, p.ftype.kind, *key_of(p.template)): p for p in plans}
    unreadable: set[LeaderRef] = set()
    for leader in plans:
        refs, problem = leader_followers(leader)
        if problem:
            leader.result.errors.append(problem)
            unreadable.add(_leader_ref(leader))
        spec = (leader.leader_policy or {}).get("spec") or {}
        if spec.get("disableFollowerScheduling") or not leader.placement:
            continue
        namespace, _ = key_of(leader.template)
        title = f"{leader.ftype.kind}/{key_of(leader.template)[1]}"
        for group, kind, name in refs:
            follower = by_key.get(ObjectKey(group, kind, namespace, name))
            if follower is None or follower is leader or _opted_out(follower):
                continue
            follower.leaders.add(_leader_ref(leader))
            for cluster in leader.own_placement:
                _follow(follower, cluster, title)
    for plan in plans:
        recorded = _recorded_leaders(plan.existing)
        stuck = recorded & unreadable if not _opted_out(plan) else set()
        if keep_recorded or stuck:
            plan.leaders |= recorded if keep_recorded else stuck
            for cluster in placed_by(plan.existing, FOLLOWER_CONTROLLER):
                _follow(plan, cluster, "(recorded by the last full pass)")


def _follow(follower: Plan, cluster: str, leader: str) -> None:
    if cluster in follower.placement and cluster not in follower.follows:
        return  # placed there by its own policy
    follower.placement.setdefault(cluster, None)
    follower.follows.setdefault(cluster, []).append(leader)


def _opted_out(plan: Plan) -> bool:
    annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    return following_disabled(annotations)


def _leader_ref(plan: Plan) -> LeaderRef:
    """(group, kind, name) of a planned workload, in its followers' namespace."""
    return plan.ftype.group, plan.ftype.kind, key_of(plan.template)[1]


def _recorded_leaders(fo: Object | None) -> set[LeaderRef]:
    """The leaders a FederatedObject's spec.follows records."""
    return {
        (str(entry.get("group") or ""), str(entry.get("kind") or ""), str(entry.get("name") or ""))
        for entry in ((fo or {}).get("spec") or {}).get("follows") or []
        if isinstance(entry, dict)
    }
