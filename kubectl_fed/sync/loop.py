"""Continuous sync: watch what matters, reconcile when it changes, resync periodically."""

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
from kubectl_fed.sync.types import FederatedType

DEBOUNCE_S = 0.02  # gather a burst of events (one kubectl apply -f of many objects)


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


class Watcher(threading.Thread):
    """One list+watch of a collection; any event marks the federation dirty."""

    def __init__(
        self,
        kube: Kube,
        path: str,
        dirty: threading.Event,
        stop: threading.Event,
        label_selector: str | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"watch {path}")
        self.kube, self.path, self.dirty, self.stop = kube, path, dirty, stop
        self.label_selector = label_selector

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
                        self.dirty.set()
            except ApiError:
                version = ""
                self.stop.wait(2.0)  # the member is down: try again shortly
            except Exception:  # a broken stream: start over from a fresh list
                version = ""
                self.stop.wait(1.0)


def host_paths(types: list[FederatedType]) -> list[str]:
    paths = [
        fed_path(p)
        for p in (
            api.FEDERATED_CLUSTERS,
            api.PROPAGATION_POLICIES,
            api.CLUSTER_PROPAGATION_POLICIES,
            api.OVERRIDE_POLICIES,
            api.CLUSTER_OVERRIDE_POLICIES,
            api.FEDERATED_OBJECTS,
            api.CLUSTER_FEDERATED_OBJECTS,
            api.FEDERATED_TYPE_CONFIGS,
        )
    ]
    return paths + [path_for(t.resource) for t in types]


def run_forever(
    host: Host,
    reconciler: Reconciler,
    types: list[FederatedType],
    resync_period: float,
    report: Callable[[PassReport], None],
    stopper: Stopper,
) -> None:
    dirty = threading.Event()
    stop_watches = threading.Event()
    watchers = [Watcher(host.kube, path, dirty, stop_watches) for path in host_paths(types)]
    watchers += _member_watchers(host, reconciler, types, dirty, stop_watches)
    for watcher in watchers:
        watcher.start()
    try:
        next_full = 0.0
        while not stopper.event.is_set():
            dirty.clear()
            report(reconciler.run_pass())
            next_full = time.monotonic() + resync_period
            while not stopper.event.is_set() and not dirty.is_set():
                if time.monotonic() >= next_full:
                    break
                dirty.wait(0.2)
            time.sleep(DEBOUNCE_S)
    finally:
        stop_watches.set()


def _member_watchers(
    host: Host,
    reconciler: Reconciler,
    types: list[FederatedType],
    dirty: threading.Event,
    stop: threading.Event,
) -> list[Watcher]:
    """Watch every member's managed objects, so drift and status changes are seen."""
    watchers = []
    for cluster in host.clusters():
        try:
            kube = host.connect_member(
                cluster, reconciler.options.timeout, pool_size=len(types) + 2
            )
        except Exception:  # reconnecting is the resync's job
            continue
        for ftype in types:
            watchers.append(
                Watcher(
                    kube,
                    path_for(ftype.resource),
                    dirty,
                    stop,
                    label_selector=f"{MANAGED_LABEL}=true",
                )
            )
    return watchers
