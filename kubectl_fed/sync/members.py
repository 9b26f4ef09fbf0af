"""The members as one pass sees them: who answers, what they hold, and writing to them.

Reads are bulk (one paged list per kind per member) so a pass costs a few requests per
member, not one per object. A member that stops answering is marked unreachable at the
first failure and skipped for the rest of the pass: its objects are never taken as gone.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import Kube, path_for
from kubectl_fed.kube.errors import AlreadyExists, ApiError, NotFound, Unreachable
from kubectl_fed.kube.host import Host
from kubectl_fed.sync.types import FederatedType

Object = dict[str, Any]


@dataclass
class Member:
    name: str
    kube: Kube | None
    error: str = ""
    objects: dict[str, dict[tuple[str, str], Object]] = field(default_factory=dict)
    # Kinds that could not be listed (e.g. RBAC): never taken as "holds nothing".
    read_errors: dict[str, str] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def reachable(self) -> bool:
        return self.kube is not None and not self.error

    def mark_unreachable(self, error: Exception | str) -> None:
        with self.lock:
            self.error = self.error or str(error)

    def live(self, ftype: FederatedType, namespace: str, name: str) -> Object | None:
        return self.objects.get(ftype.plural + "." + ftype.group, {}).get((namespace, name))


class Members:
    """Connections to every member, opened concurrently, with their objects read in bulk."""

    def __init__(
        self, host: Host, clusters: list[Object], timeout: float | None, workers: int
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.workers = workers
        self.pool_size = max(8, workers * max(1, len(clusters)))
        self.by_name: dict[str, Member] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(clusters)))) as pool:
            for member in pool.map(self._connect, clusters):
                self.by_name[member.name] = member

    def _connect(self, cluster: Object) -> Member:
        name = cluster["metadata"]["name"]
        try:
            # Objects are processed many at a time: one pooled connection per worker.
            kube = self.host.connect_member(cluster, self.timeout, pool_size=self.pool_size)
        except FedError as err:
            return Member(name, None, str(err))
        member = Member(name, kube)
        try:
            member.namespaces = {n["metadata"]["name"] for n in kube.list_all("/api/v1/namespaces")}
        except ApiError as err:
            member.mark_unreachable(err)
        return member

    def read(self, types: list[FederatedType]) -> None:
        """List every federated kind in every reachable member, concurrently."""
        jobs = [(m, t) for m in self.by_name.values() if m.reachable for t in types]
        if not jobs:
            return
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(jobs)))) as pool:
            list(pool.map(lambda job: self._read_one(*job), jobs))

    def _read_one(self, member: Member, ftype: FederatedType) -> None:
        if not member.reachable or member.kube is None:
            return
        key = ftype.plural + "." + ftype.group
        try:
            items = {_key(o): o for o in member.kube.list_all(path_for(ftype.resource))}
        except NotFound:  # the member does not serve this kind
            items = {}
        except Unreachable as err:
            member.mark_unreachable(err)
            return
        except ApiError as err:
            with member.lock:
                member.read_errors[ftype.describe()] = str(err)
            return
        with member.lock:
            member.objects[key] = items

    def read_named(self, items: list[tuple[FederatedType, str, str]]) -> None:
        """GET just these objects in every reachable member (a watch-driven pass)."""
        jobs = [(m, *item) for m in self.by_name.values() if m.reachable for item in items]
        if jobs:
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(jobs)))) as pool:
                list(pool.map(lambda job: self._get_one(*job), jobs))

    def _get_one(self, member: Member, ftype: FederatedType, namespace: str, name: str) -> None:
        if not member.reachable or member.kube is None:
            return
        key = ftype.plural + "." + ftype.group
        path = path_for(ftype.resource, namespace if ftype.namespaced else None, name)
        try:
            found: Object | None = member.kube.get(path)
        except NotFound:
            found = None
        except Unreachable as err:
            member.mark_unreachable(err)
            return
        except ApiError as err:
            with member.lock:
                member.read_errors[ftype.describe()] = str(err)
            return
        with member.lock:
            objects = member.objects.setdefault(key, {})
            if found is not None:
                objects[(namespace, name)] = found

    def close(self) -> None:
        for member in self.by_name.values():
            if member.kube is not None:
                member.kube.close()

    def requests(self) -> dict[str, dict[str, int]]:
        return {name: dict(m.kube.counts) for name, m in self.by_name.items() if m.kube}


def _key(obj: Object) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name"))


# --------------------------------------------------------------------------- writes


def ensure_namespace(member: Member, namespace: str) -> None:
    if not namespace or namespace in member.namespaces or member.kube is None:
        return
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    with contextlib.suppress(AlreadyExists):
        member.kube.create("/api/v1/namespaces", body)
    with member.lock:
        member.namespaces.add(namespace)


def apply(member: Member, ftype: FederatedType, body: Object) -> Object:
    assert member.kube is not None
    namespace, name = _key(body)
    if ftype.namespaced:
        ensure_namespace(member, namespace)
    path = path_for(ftype.resource, namespace if ftype.namespaced else None, name)
    result: Object = member.kube.apply(path, body, force=True)
    return result


def merge_patch(member: Member, ftype: FederatedType, live: Object, patch: Object) -> None:
    assert member.kube is not None
    namespace, name = _key(live)
    member.kube.merge_patch(path_for(ftype.resource, namespace or None, name), patch)


def delete(member: Member, ftype: FederatedType, live: Object) -> None:
    assert member.kube is not None
    namespace, name = _key(live)
    with contextlib.suppress(NotFound):
        member.kube.delete(path_for(ftype.resource, namespace or None, name))
