"""Only one sync acts on a host at a time: a coordination.k8s.io Lease in the fed namespace.

Every write a sync makes is fenced by the lease (`SyncLease.check`, called by the client
before each mutating request): a sync that cannot prove it still holds the lease stops
writing at once. Proof is measured on the holder's own monotonic clock, as client-go's
leader election does: the lease is ours until RENEW_DEADLINE_S after the last renewal we
*sent* (a paused or partitioned process that resumes finds its time run out). Others judge
a holder dead when its record has not changed for `leaseDurationSeconds` on *their*
monotonic clock, so a wrong wall clock cannot steal a live lease; only a record older than
the duration plus MAX_CLOCK_SKEW_S by the holder's own timestamps is taken at once (a sync
killed long ago must not block `--no-wait` forever).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubectl_fed.core.clock import micro_time
from kubectl_fed.core.lease import DURATION_S, LEASE_NAME, describe
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.errors import AlreadyExists, ApiError, Conflict, NotFound

RENEW_EVERY_S = 5.0
# Stop writing this long after the last renewal sent: well inside the others' DURATION_S.
RENEW_DEADLINE_S = 10.0
MAX_CLOCK_SKEW_S = 60
LEASE_HELD_EXIT = 3
LEASE_LOST_EXIT = 2


class LeaseLost(FedError):
    """Raised instead of a write when the sync can no longer prove it holds the lease."""

    def __init__(self, why: str) -> None:
        super().__init__(f"lost the sync lease ({why}): stopped writing", LEASE_LOST_EXIT)


def holder_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class SyncLease:
    def __init__(
        self,
        kube: ClusterClient,
        namespace: str,
        identity: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.identity = identity or holder_identity()
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()
        self._valid_until = 0.0  # on self.clock
        self._why_lost = ""
        # Another holder's record as last seen, and since when (on self.clock).
        self._seen: tuple[str, float] | None = None

    # ------------------------------------------------------------------ the fence

    def check(self) -> None:
        """Raise LeaseLost unless the lease is provably ours right now."""
        if not self.lost.is_set() and self.clock() >= self._valid_until:
            self._lose(f"not renewed within {RENEW_DEADLINE_S:.0f}s")
        if self.lost.is_set():
            raise LeaseLost(self._why_lost)

    @property
    def held(self) -> bool:
        return not self.lost.is_set() and self.clock() < self._valid_until

    def _lose(self, why: str) -> None:
        self._why_lost = self._why_lost or why
        self.lost.set()

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
        sent = self.clock()
        moment = micro_time()
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
            except AlreadyExists:
                return "someone (just now)"
            self._took(sent)
            return None
        holder = str((existing.get("spec") or {}).get("holderIdentity") or "")
        if holder and holder != self.identity and not self._expired(existing):
            _, age = describe(existing)
            renewed = f", renewed {age:.0f}s ago by its clock" if age is not None else ""
            return f"{holder}{renewed}"
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        try:
            self.kube.replace(f"{self.path}/{LEASE_NAME}", body)
        except Conflict:
            return "someone (just now)"
        self._took(sent)
        return None

    def _expired(self, lease: dict[str, Any]) -> bool:
        """Whether another holder's record is dead: unchanged for its duration as we watch
        it (our monotonic clock), or stamped far longer ago than any clock skew explains."""
        duration = (lease.get("spec") or {}).get("leaseDurationSeconds") or DURATION_S
        version = str(lease["metadata"].get("resourceVersion"))
        if self._seen is None or self._seen[0] != version:
            self._seen = (version, self.clock())
        if self.clock() - self._seen[1] >= duration:
            return True
        _, age = describe(lease)
        return age is not None and age > duration + MAX_CLOCK_SKEW_S

    def _took(self, sent: float) -> None:
        self._valid_until = sent + RENEW_DEADLINE_S
        self._seen = None
        self.lost.clear()
        self._why_lost = ""

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY_S):
            if not self.renew():
                return

    def renew(self) -> bool:
        """One renewal; False once the lease is known to be someone else's."""
        sent = self.clock()
        try:
            lease = self.kube.get(f"{self.path}/{LEASE_NAME}")
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                self._lose("another sync took it over")
                return False
            lease["spec"]["renewTime"] = micro_time()
            self.kube.replace(f"{self.path}/{LEASE_NAME}", lease)
        except NotFound:
            self._lose("the lease was deleted")
            return False
        except ApiError:
            return True  # retried at the next tick; check() stops writes if it runs out
        if not self.lost.is_set():
            self._valid_until = sent + RENEW_DEADLINE_S
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._stop = threading.Event()  # acquire() may be called again (continuous sync)
        try:
            lease = self.kube.get(f"{self.path}/{LEASE_NAME}")
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                self.kube.delete(f"{self.path}/{LEASE_NAME}", propagation=None)
        except ApiError:
            pass  # it expires on its own
