"""`kubectl fed rollout status`: wait until every member a workload is placed on has rolled
out its current template, reading only (the host's template and FederatedObject, and the
member copies, every POLL_S seconds).

The pure verdicts are core/rollout's (kubectl's own checks and messages, per member);
here is the reading, the clock, and which lines are new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federate import clean_template, federated_object_name, policy_of
from kubectl_fed.core.objects import Object
from kubectl_fed.core.resources import Resource, describe
from kubectl_fed.core.rollout import (
    MemberCopy,
    Progress,
    Viewer,
    federated_rollout,
    unsupported,
    viewer_for,
)
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient, path_for
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.ops.objects import parallel
from kubectl_fed.planning.plan import all_placed
from kubectl_fed.planning.snapshot import read_v1_compat

POLL_S = 1.0
TIMED_OUT = "timed out waiting for the condition"  # kubectl's words


@dataclass
class RolloutRequest:
    resource: Resource
    name: str
    namespace: str
    timeout: float  # seconds; 0: wait for ever (kubectl's default)
    watch: bool = True


@dataclass
class _Watch:
    """What stays between two looks: member connections and the lines already printed."""

    host: Host
    request: RolloutRequest
    timeout: float | None
    viewer: Viewer
    members: dict[str, ClusterClient] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    seen: bool = False  # the object existed at some look

    def close(self) -> None:
        for kube in self.members.values():
            kube.close()


def rollout_status(
    host: Host, request: RolloutRequest, timeout: float | None, emit: Callable[[str], None]
) -> None:
    """Print progress lines (each once, as it changes) until the rollout is done (return),
    has failed or the time is up (FedError), or after one look without `watch`."""
    resource = request.resource
    viewer = viewer_for(resource["group"], resource["kind"])
    if viewer is None:
        raise FedError(unsupported(resource["group"], resource["kind"]))
    host.require_api()
    deadline = time.monotonic() + request.timeout if request.timeout > 0 else None
    watch = _Watch(host, request, timeout, viewer)
    try:
        while True:
            progress = _look(watch)
            for key, line in progress.lines.items():
                if watch.printed.get(key) != line:
                    emit(line)
                    watch.printed[key] = line
            if progress.error:
                raise FedError(progress.error)
            if progress.done or not request.watch:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise FedError(TIMED_OUT)
            pause = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            time.sleep(max(0.0, pause))
    finally:
        watch.close()


def _look(watch: _Watch) -> Progress:
    request = watch.request
    native, fo = _read(watch.host, request)
    if native is None and fo is None:
        if watch.seen:
            raise FedError("object has been deleted")
        raise FedError(f'{describe(request.resource)} "{request.name}" not found')
    watch.seen = True
    waiting = _waiting(watch.host, request, native, fo)
    members = [] if waiting or fo is None else _members(watch, fo)
    return federated_rollout(request.resource["kind"], request.name, watch.viewer, waiting, members)


def _read(host: Host, request: RolloutRequest) -> tuple[Object | None, Object | None]:
    resource = request.resource
    namespace = request.namespace if resource["namespaced"] else None
    native = _get(host.kube, path_for(resource, namespace, request.name))
    plural = kubeadmiral.FEDERATED_OBJECTS if namespace else kubeadmiral.CLUSTER_FEDERATED_OBJECTS
    fo_name = federated_object_name(request.name, resource["plural"], resource["group"])
    return native, _get(host.kube, fed_path(plural, fo_name, namespace))


def _waiting(host: Host, request: RolloutRequest, native: Object | None, fo: Object | None) -> str:
    """Why the members have not all been sent the current template ("" when they have):
    no FederatedObject yet, one that holds an older template, or one not synced since."""
    if fo is None:
        assert native is not None
        if policy_of(native) is None and not read_v1_compat(host):
            raise FedError(
                f'{describe(request.resource)} "{request.name}" is not federated in namespace '
                f"{request.namespace} (no propagation policy label, no FederatedObject)"
            )
        return "to be federated (run kubectl fed sync)"
    if native is not None and clean_template(native) != (fo.get("spec") or {}).get("template"):
        return "spec update to be synced to the members (run kubectl fed sync)"
    status = fo.get("status") or {}
    if status.get("syncedGeneration") != (fo.get("metadata") or {}).get("generation"):
        return "spec update to be synced to the members (run kubectl fed sync)"
    return ""


def _members(watch: _Watch, fo: Object) -> list[MemberCopy]:
    entries = {e.get("cluster"): e for e in (fo.get("status") or {}).get("clusters") or []}
    placed = all_placed(fo)
    clusters = {c["metadata"]["name"]: c for c in watch.host.clusters()}

    def read(cluster: str) -> MemberCopy:
        entry = entries.get(cluster) or {}
        recorded = entry.get("lastObservedGeneration")
        base = MemberCopy(
            cluster,
            str(entry.get("status") or ""),
            recorded if isinstance(recorded, int) else None,
            message=str(entry.get("message") or ""),
        )
        if cluster not in clusters:
            return _with(base, error="not a member of the federation")
        try:
            kube = _member(watch, clusters[cluster])
            resource, request = watch.request.resource, watch.request
            namespace = request.namespace if resource["namespaced"] else None
            return _with(base, copy=_get(kube, path_for(resource, namespace, request.name)))
        except FedError as err:  # API errors included: the member is asked again next time
            watch.members.pop(cluster, None)
            return _with(base, error=err.message)

    return parallel(read, placed)


def _with(base: MemberCopy, copy: Object | None = None, error: str = "") -> MemberCopy:
    return MemberCopy(base.cluster, base.code, base.recorded, copy, error, base.message)


def _member(watch: _Watch, cluster: Object) -> ClusterClient:
    name = cluster["metadata"]["name"]
    kube = watch.members.get(name)
    if kube is None:
        kube = watch.host.connect_member(cluster, watch.timeout)
        watch.members[name] = kube
    return kube


def _get(kube: ClusterClient, path: str) -> Object | None:
    try:
        found: Object = kube.get(path)
        return found
    except NotFound:
        return None
