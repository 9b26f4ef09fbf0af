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

from kubectl_fed.core import api
from kubectl_fed.core.federate import MANAGED_LABEL
from kubectl_fed.kube.client import Kube, path_for
from kubectl_fed.kube.errors import ApiError
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.sync.reconcile import PassReport, Reconciler
from kubectl_fed.sync.snapshot import TemplateKey
from kubectl_fed.sync.types import FederatedType, type_of

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
        self.keys: set[TemplateKey] = set()
        self.full = False

    def add(self, key: TemplateKey | None) -> None:
        with self.lock:
            if key is None:
                self.full = True
            else:
                self.keys.add(key)
        self.wakeup.set()

    def take(self) -> tuple[set[TemplateKey], bool]:
        with self.lock:
            keys, full = self.keys, self.full
            self.keys, self.full = set(), False
            self.wakeup.clear()
        return keys, full


Classifier = Callable[[dict[str, Any]], TemplateKey | None]


class Watcher(threading.Thread):
    """One list+watch of a collection; each event is classified and queued."""

    def __init__(
        self,
        kube: Kube,
        path: str,
        classify: Classifier,
        pending: Pending,
        stop: threading.Event,
        label_selector: str | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"watch {path}")
        self.kube, self.path, self.classify, self.pending = kube, path, classify, pending
        self.stop, self.label_selector = stop, label_selector

    def run(self) -> None:
        version = ""
        while not self.stop.is_set():
            try:
                if not version:
                    listing = self.kube.get(self.path, limit=1, labelSelector=self.label_selector)
                    version = listing["metadata"]["resourceVersion"]
                for event in self.kube.watch(
                    self.path, version, timeout_s=60, labelSelector=self.label_selector
                ):
                    if self.stop.is_set():
                        return
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        version = ""  # 410 Gone or similar: list again
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event.get("type") != "BOOKMARK":
                        self.pending.add(self.classify(obj))
            except ApiError:
                version = ""
                self.stop.wait(2.0)  # the cluster is down: try again shortly
            except Exception:  # a broken stream: start over from a fresh list
                version = ""
                self.stop.wait(1.0)


def _by_name(ftype: FederatedType) -> Classifier:
    def classify(obj: dict[str, Any]) -> TemplateKey:
        metadata = obj.get("metadata") or {}
        return ftype.group, ftype.kind, metadata.get("namespace") or "", metadata.get("name", "")

    return classify


def _by_template(types: list[FederatedType]) -> Classifier:
    """A FederatedObject event names the template it carries."""

    def classify(obj: dict[str, Any]) -> TemplateKey | None:
        template = (obj.get("spec") or {}).get("template") or {}
        ftype = type_of(types, template.get("apiVersion", ""), template.get("kind", ""))
        if ftype is None:
            return None
        metadata = template.get("metadata") or {}
        namespace = metadata.get("namespace") or (obj.get("metadata") or {}).get("namespace")
        return ftype.group, ftype.kind, namespace or "", metadata.get("name", "")

    return classify


def _everything(_obj: dict[str, Any]) -> None:
    return None


def watchers(
    host: Host,
    reconciler: Reconciler,
    types: list[FederatedType],
    pending: Pending,
    stop: threading.Event,
) -> list[Watcher]:
    kube = host.kube.clone(pool_size=len(types) + 10)
    found = [
        Watcher(kube, fed_path(plural), _everything, pending, stop)
        for plural in (
            api.FEDERATED_CLUSTERS,
            api.PROPAGATION_POLICIES,
            api.CLUSTER_PROPAGATION_POLICIES,
            api.OVERRIDE_POLICIES,
            api.CLUSTER_OVERRIDE_POLICIES,
            api.FEDERATED_TYPE_CONFIGS,
        )
    ]
    found += [
        Watcher(kube, fed_path(plural), _by_template(types), pending, stop)
        for plural in (api.FEDERATED_OBJECTS, api.CLUSTER_FEDERATED_OBJECTS)
    ]
    found += [Watcher(kube, path_for(t.resource), _by_name(t), pending, stop) for t in types]
    for cluster in host.clusters():
        try:
            member = host.connect_member(
                cluster, reconciler.options.timeout, pool_size=len(types) + 2
            )
        except Exception:  # reconnecting is the resync's job
            continue
        found += [
            Watcher(
                member,
                path_for(t.resource),
                _by_name(t),
                pending,
                stop,
                label_selector=f"{MANAGED_LABEL}=true",
            )
            for t in types
        ]
    return found


def run_forever(
    host: Host,
    reconciler: Reconciler,
    types: list[FederatedType],
    resync_period: float,
    report: Callable[[PassReport, bool], None],
    stopper: Stopper,
) -> None:
    pending = Pending()
    stop_watches = threading.Event()
    for watcher in watchers(host, reconciler, types, pending, stop_watches):
        watcher.start()
    try:
        pending.add(None)  # start with a full pass
        next_full = time.monotonic() + resync_period
        while not stopper.event.is_set():
            pending.wakeup.wait(0.2)
            if not pending.wakeup.is_set() and time.monotonic() < next_full:
                continue
            time.sleep(DEBOUNCE_S)
            keys, full = pending.take()
            if full or len(keys) > FULL_PASS_ABOVE or time.monotonic() >= next_full:
                report(reconciler.run_pass(), True)
                next_full = time.monotonic() + resync_period
            elif keys:
                report(reconciler.run_pass(only=keys), False)
    finally:
        stop_watches.set()
