"""`kubectl fed diff`: where members differ from what their templates say they should be.

What "should be" means is exactly what `kubectl fed sync` would write (same planning,
same overrides, same retained fields). Server-filled fields (defaults, status, metadata the
server owns) and member-owned fields are not differences, so a freshly synced federation
shows none. With `server_side`, the comparison goes through a server-side dry-run apply,
which is exact even for fields the federation no longer sets.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core.federated_types import UNKNOWN_KIND
from kubectl_fed.core.jsonpatch import unescape
from kubectl_fed.core.marks import SERVER_METADATA
from kubectl_fed.core.objects import api_group, key_of
from kubectl_fed.core.overrides import OverrideError
from kubectl_fed.core.propagation import differences, is_managed
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import ApiError
from kubectl_fed.kube.host import Host
from kubectl_fed.planning.members import Member, Members
from kubectl_fed.planning.plan import Plan, SyncOptions, member_copy
from kubectl_fed.planning.preview import preview
from kubectl_fed.planning.scope import Scope

Object = dict[str, Any]
# Not shown in a diff: what the server owns, but for a deletion under way, which is news.
IGNORED_METADATA = SERVER_METADATA - {"deletionTimestamp", "deletionGracePeriodSeconds"}


@dataclass
class Difference:
    """One federated object in one cluster."""

    title: str  # kubectl's -o name spelling: deployment.apps/web
    cluster: str
    state: str  # same | changed | missing | extraneous | not-managed | error
    live: Object | None = None  # cleaned, for display
    wanted: Object | None = None  # cleaned: what the member would hold after a sync
    paths: list[str] = field(default_factory=list)
    message: str = ""
    namespace: str = ""  # "" for a cluster-scoped object

    @property
    def differs(self) -> bool:
        return self.state not in ("same", "error")


@dataclass
class DiffRequest:
    scope: Scope  # which objects, namespaces and clusters
    server_side: bool


def diff(host: Host, options: SyncOptions, request: DiffRequest) -> list[Difference]:
    plans, leaving, members = preview(host, options)
    try:
        found = []
        for plan in sorted(plans + leaving, key=lambda p: (key_of(p.template)[0], _title(p))):
            if plan.ftype.kind != UNKNOWN_KIND and request.scope.covers(plan):
                for difference in _diff_plan(plan, plan in leaving, members, request):
                    difference.namespace = key_of(plan.template)[0]
                    found.append(difference)
        return found
    finally:
        members.close()


def _title(plan: Plan) -> str:
    from kubectl_fed.ops.objects import group_object_name

    kind = str(plan.template.get("kind", ""))
    return group_object_name(api_group(plan.template), kind, key_of(plan.template)[1])


def _diff_plan(
    plan: Plan, leaving: bool, members: Members, request: DiffRequest
) -> list[Difference]:
    namespace, name = key_of(plan.template)
    title = _title(plan)
    found = []
    for cluster, member in sorted(members.by_name.items()):
        if not request.scope.covers_cluster(cluster):
            continue
        placed = cluster in plan.placement and not leaving
        if not member.reachable:
            if placed or leaving:
                found.append(
                    Difference(title, cluster, "error", message=f"unreachable: {member.error}")
                )
            continue
        live = member.live(plan.ftype, namespace, name)
        if not placed:
            if live is not None and is_managed(live):
                found.append(
                    Difference(
                        title,
                        cluster,
                        "extraneous",
                        _clean(live),
                        None,
                        ["/"],
                        "would be deleted: no longer placed here",
                    )
                )
            continue
        found.append(_compare(plan, cluster, member, live, request.server_side))
    return found


def _compare(
    plan: Plan, cluster: str, member: Member, live: Object | None, server_side: bool
) -> Difference:
    title = _title(plan)
    if cluster in plan.patch_errors:
        return Difference(title, cluster, "error", message=plan.patch_errors[cluster])
    try:
        copy_ = member_copy(plan, cluster, live)
    except OverrideError as err:
        return Difference(title, cluster, "error", message=str(err))
    if live is None:
        return Difference(
            title, cluster, "missing", None, _clean(copy_.body), ["/"], "would be created"
        )
    if not is_managed(live) and not copy_.adopting:
        return Difference(
            title,
            cluster,
            "not-managed",
            _clean(live),
            None,
            [],
            "exists but is not managed by the federation (no adopt annotation, "
            "or labelled kubeadmiral.io/managed=false)",
        )
    if server_side:
        try:
            wanted = _dry_run(member, plan, copy_.body)
        except ApiError as err:
            return Difference(title, cluster, "error", message=str(err))
    else:
        wanted = _overlay(live, copy_.desired)
    paths = _changed_paths(_clean(live), _clean(wanted))
    state = "changed" if paths else "same"
    return Difference(title, cluster, state, _clean(live), _clean(wanted), paths)


def _dry_run(member: Member, plan: Plan, body: Object) -> Object:
    assert member.kube is not None
    namespace, name = key_of(body)
    path = path_for(plan.ftype.resource, namespace or None, name)
    result: Object = member.kube.apply(path, body, force=True, dry_run=True)
    return result


def _overlay(live: Object, desired: Object) -> Object:
    """The live object with every value the federation sets put in (a local estimate of
    what a sync would leave; defaults the server would add to new list items are absent)."""
    result = copy.deepcopy(live)
    for path in differences(desired, live):
        _set_path(result, desired, [unescape(p) for p in path.split("/") if p])
    return result


def _set_path(target: Any, source: Any, parts: list[str]) -> None:
    for index, part in enumerate(parts):
        key: Any = int(part) if isinstance(source, list) else part
        if index == len(parts) - 1:
            target[key] = copy.deepcopy(source[key])
            return
        source = source[key]
        if isinstance(target, dict) and key not in target:
            target[key] = copy.deepcopy(source)
            return
        target = target[key]


def _clean(obj: Object) -> Object:
    cleaned = copy.deepcopy(obj)
    cleaned.pop("status", None)
    metadata = cleaned.get("metadata") or {}
    for key in IGNORED_METADATA:
        metadata.pop(key, None)
    return cleaned


def _changed_paths(live: Object, wanted: Object) -> list[str]:
    from deepdiff import DeepDiff

    found = DeepDiff(live, wanted, ignore_order=False)
    return sorted(found.affected_paths)
