"""Events for what a pass did, on the native template and on its FederatedObject.

core.events decides what is news and builds the Events; this writes them to the host
through the pass's own client, so every Event write is fenced by the sync lease like any
other write. An Event that cannot be written never fails the pass: it is logged at -v=1.

When is an Event written: only for news. A failure is news when the FederatedObject's
recorded status (read before the pass) does not already say it, so a failure that
persists unchanged writes nothing on later passes (nor does a second `sync` process); a
placement is news when it differs from the recorded one; adoption, drift correction and
deletion are news when the pass did them. The same Event again (same object, type, reason
and message) bumps the existing Event's `count` and `lastTimestamp` instead of creating one.
Where nothing is recorded to compare with (the FederatedObject itself cannot be written),
the same Event is bumped at most once per REPEAT_AFTER_S by this process.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from kubectl_fed.core.clock import now
from kubectl_fed.core.events import (
    ClusterOutcome,
    Occurrence,
    bumped,
    cluster_occurrences,
    error_occurrences,
    event_name,
    event_namespace,
    new_event,
    owner_reference,
    placement_occurrences,
    recorded_clusters,
    recorded_errors,
    reference,
)
from kubectl_fed.core.objects import Object
from kubectl_fed.core.scheduling import SchedulingRecord
from kubectl_fed.kube import log
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.errors import AlreadyExists, ApiError, NotFound
from kubectl_fed.planning.plan import MemberAction, Plan, all_placed, controller_ref

REPEAT_AFTER_S = 300.0
CACHE_SIZE = 4096  # client-go's correlator keeps as many


class EventRecorder:
    """Writes the Events of each object's pass; remembers the Events it wrote (name ->
    count, when), as client-go's correlator does, to bump them without reading them."""

    def __init__(
        self,
        kube: ClusterClient,
        instance: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.instance = instance or f"kubectl-fed-{socket.gethostname()}"
        self.clock = clock
        self._lock = threading.Lock()
        self._written: OrderedDict[str, tuple[int, float]] = OrderedDict()

    # ------------------------------------------------------------------ what a pass did

    def record(
        self,
        plan: Plan,
        before: Object | None,
        done: list[MemberAction],
        *,
        placed: bool,
    ) -> None:
        """The Events of one object's pass. `before`: its FederatedObject as the pass read
        it (None: there was none); `done`: the member writes carried out; `placed`: its
        FederatedObject (and so its placement) was written."""
        leaving = plan.result.leaving
        found: list[Occurrence] = []
        if placed and not leaving:
            scheduling = ((before or {}).get("status") or {}).get("scheduling")
            found += placement_occurrences(
                all_placed(before),
                SchedulingRecord.from_status(scheduling).replicas if scheduling else {},
                plan.placement,
                plan.scheduling.divided,
            )
        found += error_occurrences(
            recorded_errors(before), plan.result.errors, plan.scheduling.errors
        )
        found += cluster_occurrences(
            recorded_clusters(before), _outcomes(plan, done), leaving=leaving
        )
        if not found:
            return
        template, fo = self._involved(plan, before, leaving)
        # Nothing recorded to tell news from a repeat: a persisting failure is bumped at
        # most once per REPEAT_AFTER_S.
        throttle = before is None and fo is None
        for occurrence in found:
            for ref, related in ((template, fo), (fo, template)):
                if ref is not None:
                    self.emit(ref, occurrence, related, throttle=throttle)

    @staticmethod
    def _involved(
        plan: Plan, before: Object | None, leaving: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the native template, the FederatedObject) as Event references, when known."""
        fo_obj = plan.fo if leaving else plan.existing
        fo = reference(fo_obj) if fo_obj and (fo_obj.get("metadata") or {}).get("uid") else None
        template = None
        if plan.native is not None:
            template = reference(plan.native.obj)
        elif leaving:  # the template it was made from (gone, or no longer federated)
            owner = controller_ref(plan.fo)
            namespace = (plan.fo.get("metadata") or {}).get("namespace") or ""
            template = owner_reference(owner, namespace) if owner else None
        return template, fo

    # ------------------------------------------------------------------ one Event

    def emit(
        self,
        ref: Mapping[str, Any],
        occurrence: Occurrence,
        related: Mapping[str, Any] | None = None,
        *,
        throttle: bool = False,
    ) -> None:
        """Create the Event, or bump the one already there; log a failure, never raise
        one (the lease's fence still stops it: LeaseLost is not an API error)."""
        name = event_name(ref, occurrence)
        namespace = event_namespace(ref)
        collection = f"/api/v1/namespaces/{namespace}/events"
        path = f"{collection}/{name}"
        stamp = now()
        with self._lock:
            known = self._written.get(name)
        if throttle and known and self.clock() - known[1] < REPEAT_AFTER_S:
            return
        try:
            written: Object | None = None
            if known is not None:
                try:
                    written = self.kube.merge_patch(path, bumped(known[0], stamp))
                except NotFound:
                    written = None  # expired (the apiserver keeps Events an hour): anew
            if written is None:
                try:
                    written = self.kube.create(
                        collection, new_event(ref, occurrence, self.instance, stamp, related)
                    )
                except AlreadyExists:  # written by an earlier sync: bump it
                    current = self.kube.get(path)
                    written = self.kube.merge_patch(
                        path, bumped(int(current.get("count") or 1), stamp)
                    )
        except ApiError as err:
            log.warning(1, f"event {namespace}/{name} ({occurrence.reason}) not recorded: {err}")
            return
        self._remember(name, int((written or {}).get("count") or 1))

    def _remember(self, name: str, count: int) -> None:
        with self._lock:
            self._written[name] = (count, self.clock())
            self._written.move_to_end(name)
            while len(self._written) > CACHE_SIZE:
                self._written.popitem(last=False)


def _outcomes(plan: Plan, done: list[MemberAction]) -> dict[str, ClusterOutcome]:
    """Each cluster's outcome: its result, and the write carried out there (a copy
    deleted or orphaned has no result left)."""
    actions = {item.cluster: item.action for item in done}
    notes = {item.cluster: item.note for item in done}
    outcomes = {
        cluster: ClusterOutcome(str(r.status), r.message, actions.get(cluster, ""), r.drifted)
        for cluster, r in plan.result.clusters.items()
    }
    for cluster, action in actions.items():
        if cluster not in outcomes and action in ("delete", "unmark"):
            outcomes[cluster] = ClusterOutcome("OK", notes[cluster], action)
    return outcomes
