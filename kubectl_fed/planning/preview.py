"""What a pass would decide, read but not written: for `diff` and `explain`."""

from __future__ import annotations

from kubectl_fed.kube.host import Host
from kubectl_fed.planning.leaving import refresh_orphaning
from kubectl_fed.planning.members import Members
from kubectl_fed.planning.plan import Plan, SyncOptions
from kubectl_fed.planning.planner import Planner
from kubectl_fed.planning.snapshot import load


def preview(host: Host, options: SyncOptions) -> tuple[list[Plan], list[Plan], Members]:
    """Every plan and leaving plan of a full pass, with the members read. The caller
    closes the returned Members."""
    snap = load(host)
    members = Members(host, snap.clusters, options.timeout, options.workers)
    plans, leaving = Planner().plan_all(snap, members)
    refresh_orphaning(host, leaving)
    Planner.read_members(plans + leaving, members, bulk=True)
    return plans, leaving, members
