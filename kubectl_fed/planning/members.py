"""The members as one pass sees them: who answers, what they hold, and writing to them.

Reads are bulk (one paged list per kind per member) so a pass costs a few requests per
member, not one per object. A member that stops answering is marked unreachable at the
first failure and skipped for the rest of the pass: its objects are never taken as gone.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.membership import credentials_mode
from kubectl_fed.core.objects import Object, key_of
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient, path_for
from kubectl_fed.kube.errors import ApiError, Forbidden, NotFound, Unreachable
from kubectl_fed.kube.host import Host


@dataclass
class Member:
    name: str
    kube: ClusterClient | None
    error: str = ""
    objects: dict[str, dict[tuple[str, str], Object]] = field(default_factory=dict)
    # Kinds that could not be listed (e.g. RBAC): never taken as "holds nothing".
    read_errors: dict[str, str] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)
    minted: bool = False  # reached with kubectl-fed's own identity (join's default)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Held while a namespace is created, so that concurrent workers create it once.
    namespace_lock: threading.Lock = field(default_factory=threading.Lock)

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
        kube.fence = self.host.kube.fence  # member writes are fenced like the host's
        member = Member(name, kube, minted=credentials_mode(cluster) == "serviceaccount")
        try:
            member.namespaces = {n["metadata"]["name"] for n in kube.list_all("/api/v1/namespaces")}
        except ApiError as err:
            member.mark_unreachable(err)
        return member

    def read(self, types: list[FederatedType]) -> None:
        """List every federated kind in every reachable member, concurrently."""
        self._run([(m, t, None) for m in self.by_name.values() if m.reachable for t in types])

    def read_named(self, items: list[tuple[FederatedType, str, str]]) -> None:
        """GET just these objects in every reachable member (a watch-driven pass)."""
        self._run(
            [
                (m, t, (namespace, name))
                for m in self.by_name.values()
                if m.reachable
                for t, namespace, name in items
            ]
        )

    def _run(self, jobs: list[tuple[Member, FederatedType, tuple[str, str] | None]]) -> None:
        if jobs:
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(jobs)))) as pool:
                list(pool.map(lambda job: self._read(*job), jobs))

    def _read(self, member: Member, ftype: FederatedType, named: tuple[str, str] | None) -> None:
        """Record what the member holds of a kind (all of it, or one named object).

        A kind the member does not serve holds nothing; any other failure is recorded,
        never taken as "holds nothing"; no answer marks the member unreachable.
        """
        if not member.reachable or member.kube is None:
            return
        try:
            found = _fetch(member.kube, ftype, named)
        except Unreachable as err:
            member.mark_unreachable(err)
            return
        except ApiError as err:
            with member.lock:
                member.read_errors[ftype.describe()] = _read_error(member, err)
            return
        with member.lock:
            member.objects.setdefault(ftype.plural + "." + ftype.group, {}).update(found)

    def close(self) -> None:
        for member in self.by_name.values():
            if member.kube is not None:
                member.kube.close()

    def requests(self) -> dict[str, dict[str, int]]:
        return {name: dict(m.kube.counts) for name, m in self.by_name.items() if m.kube}


def _read_error(member: Member, err: ApiError) -> str:
    """A refusal met by kubectl-fed's own member identity is a kind its role lacks (a
    FederatedTypeConfig added it after join): say how to extend the role."""
    if isinstance(err, Forbidden) and member.minted:
        return (
            f"{err}: the member's kubectl-fed identity lacks this kind: run "
            f"`kubectl fed join {member.name} --update-role`"
        )
    return str(err)


def _fetch(
    kube: ClusterClient, ftype: FederatedType, named: tuple[str, str] | None
) -> dict[tuple[str, str], Object]:
    try:
        if named is None:
            return {key_of(o): o for o in kube.list_all(path_for(ftype.resource))}
        namespace, name = named
        path = path_for(ftype.resource, namespace if ftype.namespaced else None, name)
        return {named: kube.get(path)}
    except NotFound:  # not served, or no such object
        return {}
