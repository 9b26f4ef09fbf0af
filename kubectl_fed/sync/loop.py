"""Continuous sync: watch what matters, reconcile what changed, resync periodically.

A watch event that names one template (the template, its FederatedObject, or a member
copy) queues just that template: the next pass reads and reconciles only what is queued,
which keeps an edit's way to the members well under a second. Policy, cluster and type
changes, a burst of events, and the resync period call for a full pass.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federated_types import FederatedType, type_of
from kubectl_fed.core.marks import MANAGED_LABEL
from kubectl_fed.core.objects import ObjectKey
from kubectl_fed.kube.client import ClusterClient, path_for
from kubectl_fed.kube.errors import ApiError
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.planning.snapshot import federated_types
from kubectl_fed.sync.reconcile import PassReport, Reconciler

DEBOUNCE_S = 0.02  # gather a burst of events (one kubectl apply -f of many objects)
FULL_PASS_ABOVE = 50  # more queued templates than this: one full pass is cheaper


class Stopper:
    """SIGINT/SIGTERM end the loop after the pass in flight: its writes complete."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.event.set()

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Pending:
    """What the watches asked for since the last pass."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.keys: set[ObjectKey] = set()
        self.full = False

    def add(self, key: ObjectKey | None) -> None:
        with self.lock:
            if key is None:
                self.full = True
            else:
                self.keys.add(key)
        self.wakeup.set()

    def take(self) -> tuple[set[ObjectKey], bool]:
        with self.lock:
            keys, full = self.keys, self.full
            self.keys, self.full = set(), False
            self.wakeup.clear()
        return keys, full


Classifier = Callable[[dict[str, Any]], ObjectKey | None]


class Watcher(threading.Thread):
    """One list+watch of a collection; each event is classified and queued.

    A watch that comes back after a failure (a member that was down, a host restart) asks
    for a full pass: whatever changed meanwhile produced no event it could see.
    """

    def __init__(
        self,
        kube: ClusterClient,
        path: str,
        classify: Classifier,
        pending: Pending,
        stop: threading.Event,
        label_selector: str | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"watch {kube.name} {path}")
        self.kube, self.path, self.classify, self.pending = kube, path, classify, pending
        self.stop, self.label_selector = stop, label_selector
        self.retired = threading.Event()  # this watch is no longer wanted

    def stopped(self) -> bool:
        return self.stop.is_set() or self.retired.is_set()

    def run(self) -> None:
        version = ""
        failed = False
        while not self.stopped():
            try:
                if not version:
                    listing = self.kube.get(self.path, limit=1, labelSelector=self.label_selector)
                    version = listing["metadata"]["resourceVersion"]
                    if failed:
                        self.pending.add(None)  # back after an outage: catch up in full
                        failed = False
                for event in self.kube.watch(
                    self.path, version, timeout_s=60, labelSelector=self.label_selector
                ):
                    if self.stopped():
                        return
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        version = ""  # 410 Gone or similar: list again
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event.get("type") != "BOOKMARK":
                        self.pending.add(self.classify(obj))
            except ApiError:
                version, failed = "", True
                self.stop.wait(2.0)  # the cluster is down: try again shortly
            except Exception:  # a broken stream: start over from a fresh list
                version, failed = "", True
                self.stop.wait(1.0)


def _by_name(ftype: FederatedType) -> Classifier:
    def classify(obj: dict[str, Any]) -> ObjectKey:
        metadata = obj.get("metadata") or {}
        return ObjectKey(
            ftype.group, ftype.kind, metadata.get("namespace") or "", metadata.get("name", "")
        )

    return classify


def _by_template(types: list[FederatedType]) -> Classifier:
    """A FederatedObject event names the template it carries."""

    def classify(obj: dict[str, Any]) -> ObjectKey | None:
        template = (obj.get("spec") or {}).get("template") or {}
        ftype = type_of(types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            return None
        metadata = template.get("metadata") or {}
        namespace = metadata.get("namespace") or (obj.get("metadata") or {}).get("namespace")
        return ObjectKey(ftype.group, ftype.kind, namespace or "", metadata.get("name", ""))

    return classify


def _everything(_obj: dict[str, Any]) -> None:
    return None


class WatchSet:
    """The watches of a continuous sync, following what is federated: host collections
    for every federated type, and every member's managed objects. `update` after each
    full pass starts watches for joined members and new FederatedTypeConfig types, and
    retires those no longer wanted."""

    def __init__(self, host: Host, timeout: float | None, pending: Pending) -> None:
        self.host, self.timeout, self.pending = host, timeout, pending
        self.stop = threading.Event()
        self.host_kube = host.kube.clone(pool_size=4)
        self.member_kubes: dict[str, tuple[str, ClusterClient]] = {}  # name -> (endpoint, client)
        self.running: dict[tuple[str, str], Watcher] = {}  # (cluster or "", path) -> watcher

    def update(self, types: list[FederatedType], clusters: list[dict[str, Any]]) -> None:
        wanted: dict[tuple[str, str], Callable[[], Watcher]] = {}
        for plural in _FULL_PASS_COLLECTIONS:
            wanted[("", fed_path(plural))] = self._host_watch(fed_path(plural), _everything)
        for plural in (kubeadmiral.FEDERATED_OBJECTS, kubeadmiral.CLUSTER_FEDERATED_OBJECTS):
            path = fed_path(plural)
            wanted[("", path)] = self._host_watch(path, _by_template(types))
        for t in types:
            wanted[("", path_for(t.resource))] = self._host_watch(path_for(t.resource), _by_name(t))
        for cluster in clusters:
            kube = self._member(cluster)
            if kube is None:
                continue
            name = cluster["metadata"]["name"]
            for t in types:
                wanted[(name, path_for(t.resource))] = self._member_watch(kube, t)
        for key in set(self.running) - set(wanted):
            self.running.pop(key).retired.set()
        for key, make in wanted.items():
            if key not in self.running:
                self.running[key] = make()
                self.running[key].start()

    def _host_watch(self, path: str, classify: Classifier) -> Callable[[], Watcher]:
        return lambda: Watcher(self.host_kube, path, classify, self.pending, self.stop)

    def _member_watch(self, kube: ClusterClient, ftype: FederatedType) -> Callable[[], Watcher]:
        return lambda: Watcher(
            kube,
            path_for(ftype.resource),
            _by_name(ftype),
            self.pending,
            self.stop,
            label_selector=f"{MANAGED_LABEL}=true",
        )

    def _member(self, cluster: dict[str, Any]) -> ClusterClient | None:
        """A watch connection per member, opened again when its endpoint changes."""
        name = cluster["metadata"]["name"]
        endpoint = str((cluster.get("spec") or {}).get("apiEndpoint", ""))
        known = self.member_kubes.get(name)
        if known is not None and known[0] == endpoint:
            return known[1]
        try:
            kube = self.host.connect_member(cluster, self.timeout, pool_size=2)
        except Exception:  # reconnecting is the next full pass's job
            return None
        if known is not None:  # re-joined elsewhere: the old watches go
            for key in [k for k in self.running if k[0] == name]:
                self.running.pop(key).retired.set()
        self.member_kubes[name] = (endpoint, kube)
        return kube

    def close(self) -> None:
        self.stop.set()


_FULL_PASS_COLLECTIONS = (
    kubeadmiral.FEDERATED_CLUSTERS,
    kubeadmiral.PROPAGATION_POLICIES,
    kubeadmiral.CLUSTER_PROPAGATION_POLICIES,
    kubeadmiral.OVERRIDE_POLICIES,
    kubeadmiral.CLUSTER_OVERRIDE_POLICIES,
    kubeadmiral.FEDERATED_TYPE_CONFIGS,
)


def run_forever(
    host: Host,
    reconciler: Reconciler,
    resync_period: float,
    report: Callable[[PassReport, bool], None],
    stopper: Stopper,
) -> None:
    pending = Pending()
    watches = WatchSet(host, reconciler.options.timeout, pending)
    try:
        pending.add(None)  # start with a full pass
        next_full = time.monotonic() + resync_period
        while not stopper.event.is_set():
            pending.wakeup.wait(0.2)
            if not pending.wakeup.is_set() and time.monotonic() < next_full:
                continue
            time.sleep(DEBOUNCE_S)
            keys, full = pending.take()
            # A follower is planned with the workloads using it: count them too.
            keys = reconciler.planner.with_leaders(keys)
            if full or len(keys) > FULL_PASS_ABOVE or time.monotonic() >= next_full:
                # The watches follow what the pass saw: members, types, endpoints.
                watches.update(federated_types(host), host.clusters())
                report(reconciler.run_pass(), True)
                next_full = time.monotonic() + resync_period
            elif keys:
                done = reconciler.run_pass(only=keys)
                report(done, False)
                if done.needs_full_pass:
                    pending.add(None)
    finally:
        watches.close()
