"""What a pass decides about one federated object, before any write: the records the
planner fills (Plan, and a MemberAction per member write) and the readers of a
FederatedObject's spec (whose placement, whose overrides) that planning and writing share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federate import CONTROLLER, FOLLOWER_CONTROLLER
from kubectl_fed.core.federated_types import DEFAULT_TYPES, FederatedType
from kubectl_fed.core.marks import (
    CONFLICT_RESOLUTION_ANNOTATION,
    ORPHAN_ANNOTATION,
    RETAIN_REPLICAS_ANNOTATION,
)
from kubectl_fed.core.namespaces import DEFAULT_ORPHAN_MODE, NAMESPACE
from kubectl_fed.core.objects import Object, ObjectKey, key_of
from kubectl_fed.core.propagation import (
    adoption_allowed,
    desired_with_live,
    is_adopted,
    is_managed,
    member_object,
)
from kubectl_fed.core.scheduling import SchedulingRecord
from kubectl_fed.core.status import object_ok
from kubectl_fed.kube.host import fed_path
from kubectl_fed.planning.snapshot import Template

# A member copy someone else changed: put it back, or leave it and report it (Drifted).
DriftMode = Literal["correct", "report"]
# (API group, kind, name) of a workload a follower follows, in the follower's namespace.
LeaderRef = tuple[str, str, str]


@dataclass
class SyncOptions:
    drift: DriftMode = "correct"
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
    leaving: bool = False
    group: str = ""  # the template's API group

    @property
    def ok(self) -> bool:
        codes = {c: str(r.status) for c, r in self.clusters.items()}
        return object_ok(self.errors, codes, self.leaving)

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
class Plan:
    """Everything decided about one federated object before any write."""

    fo: Object  # the FederatedObject as it should be (spec, labels, annotations)
    existing: Object | None  # as it is in the host
    ftype: FederatedType
    template: Object  # what members receive, before per-cluster patches
    native: Template | None = None  # the host object it was made from, if any
    placement: dict[str, int | None] = field(default_factory=dict)  # cluster -> replicas
    patches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per cluster
    patch_errors: dict[str, str] = field(default_factory=dict)  # why a cluster got none
    scheduling: SchedulingRecord = field(default_factory=lambda: SchedulingRecord(kept=True))
    leader_policy: Object | None = None
    result: ObjectResult = field(default_factory=lambda: ObjectResult("", "", ""))
    # Clusters it goes to only because workloads placed there use it: cluster -> leaders.
    follows: dict[str, list[str]] = field(default_factory=dict)
    # The workloads it follows (spec.follows), in its namespace.
    leaders: set[LeaderRef] = field(default_factory=set)
    # Its FederatedObject's name is still taken by one leaving (an earlier template of the
    # same name): propagated after the leaving ones, in the same pass.
    waits_for_leaving: bool = False
    # Leaving, but a namespace of that name is federated anew: its member namespaces pass
    # to the new one as they are (deleting them would delete what they hold).
    hand_over: bool = False

    @property
    def own_placement(self) -> list[str]:
        return sorted(c for c in self.placement if c not in self.follows)


# What a member needs for one planned object: its copy written (server-side apply), its
# copy deleted, or its copy left in place without the federation's marks (orphaned).
MemberActionKind = Literal["apply", "delete", "unmark"]


@dataclass
class MemberAction:
    """One write to one member for one planned object."""

    plan: Plan
    cluster: str
    action: MemberActionKind
    body: Object | None = None  # apply: what is sent
    live: Object | None = None  # the member's copy as read, if any
    note: str = ""  # why it was carried out otherwise (a namespace kept, not deleted)


@dataclass
class MemberCopy:
    desired: Object  # what the federation says, marks included
    body: Object  # what would be sent: desired plus the fields the member owns
    adopting: bool


def member_copy(plan: Plan, cluster: str, live: Object | None) -> MemberCopy:
    """The copy of a planned object for one member. Raises OverrideError."""
    annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    retain = annotations.get(RETAIN_REPLICAS_ANNOTATION) == "true"
    # A namespace is adopted wherever it exists already, as KubeAdmiral's nsautoprop does:
    # taking it over only adds the host's labels and annotations.
    adopt = annotations.get(CONFLICT_RESOLUTION_ANNOTATION) == "adopt" or is_namespace(plan)
    adopting = (
        live is not None
        and not is_managed(live)
        and adopt
        and adoption_allowed(annotations, cluster)
    )
    path = plan.ftype.replicas_path or ("spec", "replicas")
    desired = member_object(
        plan.template,
        foreign_patches(plan.fo, cluster) + plan.patches.get(cluster, []),
        adopted=adopting or (live is not None and is_adopted(live)),
        retain_replicas=retain and live is not None,
        replicas_path=path,
    )
    body = desired_with_live(desired, live, retain_replicas=retain, replicas_path=path)
    return MemberCopy(desired, body, adopting)


def fo_key(fo: Object) -> ObjectKey:
    namespace, name = key_of(fo)
    return ObjectKey(kubeadmiral.GROUP, str(fo.get("kind")), namespace, name)


def fo_collection(fo: Object) -> str:
    namespace = (fo.get("metadata") or {}).get("namespace")
    plural = kubeadmiral.FEDERATED_OBJECTS if namespace else kubeadmiral.CLUSTER_FEDERATED_OBJECTS
    return fed_path(plural, namespace=namespace)


def fo_path(fo: Object) -> str:
    return f"{fo_collection(fo)}/{fo['metadata']['name']}"


def controller_ref(fo: Object) -> Object | None:
    for ref in (fo.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owned_by(fo: Object, template: Object) -> bool:
    ref = controller_ref(fo)
    return ref is not None and ref.get("uid") == template["metadata"].get("uid")


def same_fo(existing: Object, wanted: Object) -> bool:
    ours, theirs = wanted["metadata"], existing["metadata"]
    for field_ in ("labels", "annotations", "ownerReferences", "finalizers"):
        if (ours.get(field_) or None) != (theirs.get(field_) or None):
            return False
    return bool(existing.get("spec") == wanted.get("spec"))


def placements(fo: Object | None) -> list[tuple[str, list[str]]]:
    """The one reader of a FederatedObject's spec.placements: (controller, its clusters)
    per entry, in order, clusters without a name skipped."""
    found = []
    for entry in ((fo or {}).get("spec") or {}).get("placements") or []:
        clusters = [p["cluster"] for p in entry.get("placement") or [] if p.get("cluster")]
        found.append((entry.get("controller"), clusters))
    return found


def placed_by(fo: Object | None, controller: str) -> list[str]:
    """The clusters of the first placements entry of `controller` (CONTROLLER: ours, the
    scheduler's; FOLLOWER_CONTROLLER: where it follows workloads)."""
    return next((clusters for owner, clusters in placements(fo) if owner == controller), [])


def our_overrides(fo: Object | None) -> dict[str, list[dict[str, Any]]]:
    for entry in ((fo or {}).get("spec") or {}).get("overrides") or []:
        if entry.get("controller") == CONTROLLER:
            return {t["cluster"]: t.get("patches") or [] for t in entry.get("clusters") or []}
    return {}


def previously_placed(fo: Object | None) -> set[str]:
    """Clusters that may hold a copy: placed by any controller, or with a recorded status."""
    status_entries = ((fo or {}).get("status") or {}).get("clusters") or []
    return set(all_placed(fo)) | {e["cluster"] for e in status_entries if e.get("cluster")}


def all_placed(fo: Object | None, followers: bool = True) -> list[str]:
    """Every cluster any controller placed it in (or only the non-follower ones), sorted."""
    clusters = {
        cluster
        for controller, placed in placements(fo)
        if followers or controller != FOLLOWER_CONTROLLER
        for cluster in placed
    }
    return sorted(clusters)


def foreign_patches(fo: Object, cluster: str) -> list[dict[str, Any]]:
    """Patches other controllers (or the user) wrote into spec.overrides, in order."""
    found: list[dict[str, Any]] = []
    for entry in (fo.get("spec") or {}).get("overrides") or []:
        if entry.get("controller") == CONTROLLER:
            continue
        for target in entry.get("clusters") or []:
            if target.get("cluster") == cluster:
                found += target.get("patches") or []
    return found


def is_namespace(plan: Plan) -> bool:
    return (plan.ftype.group, plan.ftype.kind) == NAMESPACE


def orphans(plan: Plan, live: Object) -> bool:
    """Whether a copy leaving is unmarked rather than deleted: `kubeadmiral.io/orphan` on
    the FederatedObject (`all`, or `adopted`: only what was taken over); a namespace
    without it as `adopted` (a member's own namespace is never deleted by the federation)."""
    annotations = (plan.fo.get("metadata") or {}).get("annotations") or {}
    mode = annotations.get(ORPHAN_ANNOTATION)
    if mode is None and is_namespace(plan):
        mode = DEFAULT_ORPHAN_MODE
    return mode == "all" or (mode == "adopted" and is_adopted(live))
