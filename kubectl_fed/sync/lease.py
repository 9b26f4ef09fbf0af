"""Only one sync acts on a host at a time: a coordination.k8s.io Lease in the fed namespace.

The holder renews it in the background; a holder that died stops renewing and loses it
when `leaseDurationSeconds` has passed since its last renewal.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import Kube
from kubectl_fed.kube.errors import AlreadyExists, ApiError, Conflict, NotFound

LEASE_NAME = "kubectl-fed-sync"
DURATION_S = 15
RENEW_EVERY_S = 5.0
LEASE_HELD_EXIT = 3


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def holder_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def describe(lease: dict[str, Any]) -> tuple[str, float | None]:
    """(holder, seconds since its last renewal) of a Lease object."""
    spec = lease.get("spec") or {}
    renewed = _parse(spec.get("renewTime"))
    age = (_now() - renewed).total_seconds() if renewed else None
    return str(spec.get("holderIdentity") or ""), age


class SyncLease:
    def __init__(self, kube: Kube, namespace: str, identity: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.identity = identity or holder_identity()
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()

    def acquire(self, wait: bool, stop: threading.Event | None = None, on_wait: Any = None) -> bool:
        """Take the lease; with wait, poll until it is free (False if `stop` is set
        meanwhile); without, fail naming the holder."""
        announced = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                break
            if not wait:
                raise FedError(
                    f"another sync holds the lease: {holder} (lease {self.namespace}/{LEASE_NAME})",
                    LEASE_HELD_EXIT,
                )
            if on_wait and not announced:
                on_wait(holder)
                announced = True
            if stop is not None and stop.wait(1.0):
                return False
            if stop is None:
                time.sleep(1.0)
        self._thread = threading.Thread(target=self._renew_loop, daemon=True, name="lease-renewal")
        self._thread.start()
        return True

    def _try_acquire(self) -> str | None:
        """None when we hold it now; else the current holder's identity."""
        moment = _stamp(_now())
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": DURATION_S,
                "acquireTime": moment,
                "renewTime": moment,
            },
        }
        try:
            existing = self.kube.get(f"{self.path}/{LEASE_NAME}")
        except NotFound:
            try:
                self.kube.create(self.path, body)
                return None
            except AlreadyExists:
                return "someone (just now)"
        holder, age = describe(existing)
        duration = (existing.get("spec") or {}).get("leaseDurationSeconds") or DURATION_S
        if holder and holder != self.identity and age is not None and age < duration:
            return f"{holder}, renewed {age:.0f}s ago"
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        try:
            self.kube.replace(f"{self.path}/{LEASE_NAME}", body)
        except Conflict:
            return "someone (just now)"
        return None

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY_S):
            try:
                lease = self.kube.get(f"{self.path}/{LEASE_NAME}")
                if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                    self.lost.set()
                    return
                lease["spec"]["renewTime"] = _stamp(_now())
                self.kube.replace(f"{self.path}/{LEASE_NAME}", lease)
            except ApiError:
                continue  # retried at the next tick; expiry protects the others

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        try:
            lease = self.kube.get(f"{self.path}/{LEASE_NAME}")
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                self.kube.delete(f"{self.path}/{LEASE_NAME}", propagation=None)
        except ApiError:
            pass  # it expires on its own
