"""One reconcile pass: templates -> FederatedObjects -> scheduled, overridden member copies.

The pass reads the host once and every member once (in bulk), decides everything with
core/, then writes only what differs: FederatedObjects first (so a crash never leaves
member copies that nothing tracks), then members in parallel, then status.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federated_types import UNKNOWN_KIND
from kubectl_fed.core.membership import Probe, api_resource_types, condition
from kubectl_fed.core.objects import ObjectKey, key_of
from kubectl_fed.core.status import ClusterStatus
from kubectl_fed.errors import FedError
from kubectl_fed.kube.capacity import read_capacity
from kubectl_fed.kube.errors import AlreadyExists, ApiError, NotFound, Unreachable
from kubectl_fed.kube.host import Host
from kubectl_fed.kube.identity import renew_due
from kubectl_fed.planning.leaving import refresh_orphaning
from kubectl_fed.planning.members import Member, Members
from kubectl_fed.planning.plan import (
    ClusterResult,
    DriftMode,
    MemberAction,
    ObjectResult,
    Plan,
    SyncOptions,
    all_placed,
    is_namespace,
    our_overrides,
)
from kubectl_fed.planning.planner import Planner, leader_moved
from kubectl_fed.planning.scope import Scope
from kubectl_fed.planning.snapshot import HostSnapshot, load
from kubectl_fed.planning.work import leaving_work, member_work
from kubectl_fed.sync.events import EventRecorder
from kubectl_fed.sync.lease import LeaseLost
from kubectl_fed.sync.status import write_status
from kubectl_fed.sync.writes import (
    drop_federated_object,
    failure_code,
    run_one,
    write_federated_object,
)


@dataclass
class PassReport:
    objects: list[ObjectResult]
    unreachable: dict[str, str]
    requests: dict[str, dict[str, int]]
    seconds: float
    drift_mode: DriftMode = "correct"
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


def _with_namespaces(chosen: list[Plan], plans: list[Plan]) -> list[Plan]:
    """The plans in scope, and the namespaces they are in (when federated): a namespace is
    made with its labels, pod-security ones included, before anything lands in it, even
    by a sync of one object."""
    needed = {key_of(p.template)[0] for p in chosen if p.ftype.namespaced}
    have = {id(p) for p in chosen}
    extra = [
        p
        for p in plans
        if is_namespace(p) and key_of(p.template)[1] in needed and id(p) not in have
    ]
    return extra + chosen


def _discover(member: Member, resources: list[Any], capacity: Any) -> tuple[list[Any], Any]:
    """A member's API resources and capacity (status.resources) as they are now; what
    was recorded where it refuses to say (discovery or node and pod lists forbidden)."""
    assert member.kube is not None
    try:
        resources = api_resource_types(member.kube.api_resources())
        capacity = read_capacity(member.kube)
    except Unreachable as err:
        member.mark_unreachable(err)
    except ApiError:
        pass  # refused: keep what was recorded
    return resources, capacity


class Reconciler:
    """Runs passes: plan (planning/), then write, many objects at a time."""

    def __init__(
        self,
        host: Host,
        options: SyncOptions,
        progress: Callable[[str], None] | None = None,
        scope: Scope | None = None,
        events: EventRecorder | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        # What a person should hear of besides objects (a token renewed, or not).
        self.notice = notice or (lambda _message: None)
        self.options = options
        self.progress = progress or (lambda _message: None)
        self.planner = Planner()
        # Objects out of scope are left as they are; clusters out of scope get no write,
        # and their copies that need one are PendingSync.
        self.scope = scope or Scope()
        # Events on the templates and FederatedObjects (kubectl describe), through the
        # host's client: fenced by the lease like every write.
        self.events = events or EventRecorder(host.kube)

    def run_pass(self, only: set[ObjectKey] | None = None) -> PassReport:
        """A full pass, or with `only` a pass over just those templates (watch events)."""
        started = time.monotonic()
        self.host.kube.counts.clear()
        if only is not None:  # a follower is planned with the workloads it follows
            only = self.planner.with_leaders(only)
        snap = load(self.host, only)
        if only is None:
            self._renew_tokens(snap)
        members = Members(self.host, snap.clusters, self.options.timeout, self.options.workers)
        try:
            self._record_reachability(snap, members, discover=only is None)
            plans, leaving = self.planner.plan_all(snap, members, partial=only is not None)
            # Everything is planned (followers depend on their workloads); only the scope
            # is acted on.
            plans = _with_namespaces([p for p in plans if self.scope.covers(p)], plans)
            leaving = [p for p in leaving if self.scope.covers(p)]
            # Before the writes: a plan's `existing` becomes what was written.
            moved = only is not None and any(leader_moved(p) for p in plans)
            refresh_orphaning(self.host, leaving)
            Planner.read_members(plans + leaving, members, bulk=only is None)
            self._propagate_all(plans, leaving, members)
            results = [p.result for p in plans + leaving]
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
            needs_full_pass=moved,
        )

    def _renew_tokens(self, snap: HostSnapshot) -> None:
        """Member tokens that used most of their lifetime are renewed by the member
        identity itself, so a federation synced now and then never sees one expire. A
        failed renewal is said and retried on the next full pass; the old token still
        works until it expires."""
        for cluster in snap.clusters:
            name = cluster["metadata"]["name"]
            try:
                token = renew_due(self.host, cluster, timeout=self.options.timeout)
            except LeaseLost:
                raise  # a FedError too, but the end of this pass, not a warning
            except FedError as err:
                self.notice(f"warning: cluster {name}: token not renewed: {err.message}")
                continue
            if token is not None:
                until = (
                    f" (valid until {token.expires:%Y-%m-%dT%H:%M:%SZ})" if token.expires else ""
                )
                self.notice(f"cluster {name}: token renewed{until}")

    def _record_reachability(self, snap: HostSnapshot, members: Members, discover: bool) -> None:
        """Keep FederatedCluster Ready/Offline and, on a full pass, the members' API
        resources truthful (a CRD installed in a member is usable without a manual
        `clusters --refresh`), writing only on a change."""
        for cluster in snap.clusters:
            name = cluster["metadata"]["name"]
            member = members.by_name[name]
            status = cluster.get("status") or {}
            resources = status.get("apiResourceTypes") or []
            capacity = status.get("resources")
            if discover and member.reachable and member.kube is not None:
                resources, capacity = _discover(member, resources, capacity)
            was_ready = condition(cluster, kubeadmiral.READY) == "True"
            if (
                was_ready == member.reachable
                and resources == (status.get("apiResourceTypes") or [])
                and capacity == status.get("resources")
            ):
                continue
            probe = Probe(
                reachable=member.reachable,
                message=member.error,
                version=status.get("kubernetesVersion", ""),
                api_resources=resources,
                resources=capacity,
            )
            # Not recorded now: a later pass records it; this pass goes on.
            with contextlib.suppress(ApiError):
                cluster["status"] = self.host.record_cluster_status(name, probe, cluster)

    def _propagate_all(self, plans: list[Plan], leaving: list[Plan], members: Members) -> None:
        """Each object end to end (FederatedObject, member copies, status), many objects at
        a time: the host and every member are kept busy at once. Namespaces come first
        (their labels, pod-security ones included, are there before anything lands in
        them), and leave last (after the copies in them); an object deleted and created
        again follows the leaving one."""
        waiting = [p for p in plans if p.waits_for_leaving]
        spaces = [p for p in plans if is_namespace(p) and not p.waits_for_leaving]
        plans = [p for p in plans if not is_namespace(p) and not p.waits_for_leaving]
        last = [p for p in leaving if is_namespace(p)]
        leaving = [p for p in leaving if not is_namespace(p)]
        self._run_jobs([(plan, False) for plan in spaces], members)
        self._run_jobs(
            [(plan, False) for plan in plans] + [(plan, True) for plan in leaving], members
        )
        self._run_jobs([(plan, True) for plan in last], members)
        self._run_jobs([(plan, False) for plan in waiting], members)

    def _run_jobs(self, jobs: list[tuple[Plan, bool]], members: Members) -> None:
        if not jobs:
            return
        # The host connection pools 32 connections (cli.settings): stay within it.
        workers = min(32, max(1, self.options.workers) * max(1, len(members.by_name)))

        def run(job: tuple[Plan, bool]) -> None:
            plan, leave = job
            if leave:
                self._finish_leaving(plan, members)
            else:
                self._propagate(plan, members)

        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for done, _ in enumerate(pool.map(run, jobs), 1):
                self.progress(f"{done}/{len(jobs)}")

    def _propagate(self, plan: Plan, members: Members) -> None:
        before = plan.existing  # as read: what its status recorded is what events compare with
        # Written even when placed nowhere: its status is where `kubectl fed status` (and
        # KubeAdmiral's tools) read why, e.g. a policy that is missing or places nothing.
        # Not for a kind that is not federated: our finalizer would hold it forever.
        if plan.ftype.kind != UNKNOWN_KIND:
            try:
                plan.existing = write_federated_object(self.host, plan)
            except ApiError as err:
                # Members never get ahead of what the FederatedObject records, and its
                # status never describes a spec that was not written: all of it waits.
                plan.result.errors.append(
                    "waits for the earlier object of that name to leave the federation "
                    "(its copies are not all removed yet)"
                    if plan.waits_for_leaving and isinstance(err, AlreadyExists)
                    else f"cannot write the FederatedObject: {err}"
                )
                self._record_only(plan, members)
                self.events.record(plan, before, [], placed=False)
                return
        done = self._in_scope(member_work(plan, members, self.options.drift == "correct"))
        for item in done:
            run_one(item, members.by_name[item.cluster])
        write_status(self.host, plan, members)
        self.events.record(plan, before, done, placed=plan.ftype.kind != UNKNOWN_KIND)

    def _record_only(self, plan: Plan, members: Members) -> None:
        """The FederatedObject could not be written, so nothing goes to the members; its
        status still tells the truth about them, against what it records: a copy that
        needs a write is marked failed, saying why."""
        existing = plan.existing
        if existing is None or "uid" not in existing.get("metadata", {}):
            return
        recorded = Plan(
            fo=existing,
            existing=existing,
            ftype=plan.ftype,
            template=(existing.get("spec") or {}).get("template") or {},
            placement={c: None for c in all_placed(existing)},
            patches=our_overrides(existing),
            result=plan.result,
        )
        for item in member_work(recorded, members, correct_drift=True):
            plan.result.clusters[item.cluster] = ClusterResult(
                failure_code(item), f"not written: {plan.result.errors[-1]}"
            )
        write_status(self.host, recorded, members)

    def _in_scope(self, items: list[MemberAction]) -> list[MemberAction]:
        """The member writes this pass may make; the others wait, and say so."""
        if self.scope.clusters is None:
            return items
        kept = []
        for item in items:
            if self.scope.covers_cluster(item.cluster):
                kept.append(item)
            else:
                item.plan.result.clusters[item.cluster] = ClusterResult(
                    ClusterStatus.PENDING_SYNC,
                    f"{item.action} waits for a sync that covers this cluster",
                )
        return kept

    def _finish_leaving(self, plan: Plan, members: Members) -> None:
        done = self._in_scope(leaving_work(plan, members))
        for item in done:
            run_one(item, members.by_name[item.cluster])
        if plan.result.clusters:  # something is still out there (or unknown): say where
            write_status(self.host, plan, members)
        else:
            try:
                drop_federated_object(self.host, plan.fo)
            except NotFound:
                pass
            except ApiError as err:
                plan.result.errors.append(f"cannot remove the FederatedObject: {err}")
                write_status(self.host, plan, members)  # it holds no copy any more: say so
        self.events.record(plan, plan.fo, done, placed=False)
