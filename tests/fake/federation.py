"""A host FakeCluster and member FakeClusters wired together the way kubectl-fed sees a
federation: a `Host` on the fake host, `init` run for real, members joined for real
(through a kubeconfig file naming their fake servers), and member connections resolved
to the fakes by patching `kubectl_fed.kube.connect._transport`.

    with FakeFederation(["member-1", "member-2"]) as fed:
        fed.host_cluster.kube().create(...)
        report = run_pass(fed)
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from kubectl_fed.core.kubeadmiral import DEFAULT_FED_NAMESPACE
from kubectl_fed.kube import connect
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.connect import ConnectionSpec
from kubectl_fed.kube.host import Host
from kubectl_fed.ops import init as init_ops
from kubectl_fed.ops.membership import JoinRequest, join
from kubectl_fed.planning.plan import DriftMode, SyncOptions
from kubectl_fed.state import LocalState
from kubectl_fed.sync.reconcile import PassReport, Reconciler
from tests.fake.cluster import FakeCluster, FakeTransport

HOST = "host"


def server_of(name: str) -> str:
    return f"https://{name}.fake:6443"


# --------------------------------------------------------------------------- connections

# server -> the clusters answering for it, the newest last (a clone shadows its original)
_REGISTRY: dict[str, list[FakeCluster]] = {}
_PATCH_LOCK = threading.Lock()
_USERS = 0
_ORIGINAL: Any = None


def _fake_transport(spec: ConnectionSpec, pool_size: int) -> FakeTransport:
    """Stands in for `connect._transport`: a server URL resolves to its FakeCluster
    (an unknown one to nobody, as a name that does not resolve)."""
    credentials = spec.target.credentials
    found = _REGISTRY.get(credentials.server.rstrip("/"))
    cluster = found[-1] if found else None
    return FakeTransport(cluster, credentials.server, token=credentials.token, pool_size=pool_size)


def register(cluster: FakeCluster) -> None:
    """Make `cluster.server` reachable through kubectl-fed's own connection code."""
    global _USERS, _ORIGINAL
    with _PATCH_LOCK:
        _REGISTRY.setdefault(cluster.server, []).append(cluster)
        if _USERS == 0:
            _ORIGINAL = connect._transport
            setattr(connect, "_transport", _fake_transport)  # noqa: B010
        _USERS += 1


def unregister(cluster: FakeCluster) -> None:
    global _USERS
    with _PATCH_LOCK:
        found = _REGISTRY.get(cluster.server, [])
        if cluster in found:
            found.remove(cluster)
        if not found:
            _REGISTRY.pop(cluster.server, None)
        _USERS -= 1
        if _USERS == 0:
            setattr(connect, "_transport", _ORIGINAL)  # noqa: B010


# --------------------------------------------------------------------------- the federation


class FakeFederation:
    """A fake host and members; `init` and `join` run through kubectl-fed's own code."""

    def __init__(
        self,
        members: list[str] | tuple[str, ...] = ("member-1", "member-2"),
        *,
        labels: dict[str, dict[str, str]] | None = None,
        fed_namespace: str = DEFAULT_FED_NAMESPACE,
        init: bool = True,
        join: bool = True,
        gc: bool = False,
        ready_workloads: bool = False,
        timeout: float = 5.0,
        workers: int = 4,
    ) -> None:
        self.timeout = timeout
        self.workers = workers
        self.fed_namespace = fed_namespace
        self.directory = Path(tempfile.mkdtemp(prefix="kubectl-fed-fake-"))
        self.kubeconfig = self.directory / "kubeconfig"
        self.state = LocalState(self.directory / "config.toml")
        self.host_cluster = FakeCluster(HOST, server_of(HOST), token="token-host", gc=gc)
        self.members: dict[str, FakeCluster] = {}
        self._clusters: list[FakeCluster] = []
        self._track(self.host_cluster)
        self.host = Host(self.kube(HOST), fed_namespace, self.state)
        for name in members:
            self.add_member(name, gc=gc, ready_workloads=ready_workloads)
        if init:
            self.init()
        if init and join:
            for name in members:
                self.join(name, labels=(labels or {}).get(name))

    def _track(self, cluster: FakeCluster) -> None:
        register(cluster)
        self._clusters.append(cluster)

    # ------------------------------------------------------------------ clusters

    def add_member(self, name: str, **options: Any) -> FakeCluster:
        """A new member cluster (not joined yet), reachable by its server URL."""
        cluster = FakeCluster(name, server_of(name), token=f"token-{name}", **options)
        self.members[name] = cluster
        self._track(cluster)
        self._write_kubeconfig()
        return cluster

    def clone(self) -> FakeFederation:
        """An independent federation in the state this one is in (no init, no join to
        redo): build one per module, clone it per test."""
        other = FakeFederation.__new__(FakeFederation)
        other.timeout, other.workers = self.timeout, self.workers
        other.fed_namespace = self.fed_namespace
        other.directory = Path(tempfile.mkdtemp(prefix="kubectl-fed-fake-"))
        other.kubeconfig = other.directory / "kubeconfig"
        other.state = LocalState(
            other.directory / "config.toml", copy.deepcopy(self.state.document)
        )
        other._clusters = []
        other.host_cluster = self.host_cluster.clone()
        other._track(other.host_cluster)
        other.members = {}
        for name, member in self.members.items():
            other.members[name] = member.clone()
            other._track(other.members[name])
        other.host = Host(other.kube(HOST), other.fed_namespace, other.state)
        other._write_kubeconfig()
        return other

    def cluster(self, name: str) -> FakeCluster:
        return self.host_cluster if name == HOST else self.members[name]

    def kube(self, name: str = HOST, manager: str | None = None) -> ClusterClient:
        """A client of one cluster, as kubectl-fed (or as field manager `manager`)."""
        cluster = self.cluster(name)
        agent = f"{manager}/v1.34.4" if manager else None
        transport = FakeTransport(cluster, token=cluster.token, user_agent=agent, pool_size=32)
        return ClusterClient(transport, name, self.timeout)

    def _write_kubeconfig(self) -> None:
        clusters = [self.host_cluster, *self.members.values()]
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": c.name, "cluster": {"server": c.server}} for c in clusters],
            "users": [{"name": c.name, "user": {"token": c.token}} for c in clusters],
            "contexts": [
                {"name": c.name, "context": {"cluster": c.name, "user": c.name}} for c in clusters
            ],
            "current-context": HOST,
        }
        self.kubeconfig.write_text(yaml.safe_dump(document))

    # ------------------------------------------------------------------ federation ops

    def init(self, v1_compat: bool | None = None) -> list[init_ops.Change]:
        return init_ops.install(self.host.kube, self.fed_namespace, v1_compat)

    def join(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        credentials: str = "secret",
        overwrite: bool = False,
    ) -> Any:
        """`kubectl fed join NAME --cluster-context NAME` against the fake member."""
        request = JoinRequest(
            name=name,
            context=name,
            kubeconfig=str(self.kubeconfig),
            labels=dict(labels or {}),
            taints=list(taints or []),
            credentials=credentials,
            overwrite=overwrite,
            dry_run="none",
        )
        return join(self.host, request, self.timeout)

    def reconciler(self, drift: str = "correct", workers: int | None = None) -> Reconciler:
        mode: DriftMode = "report" if drift == "report" else "correct"
        options = SyncOptions(drift=mode, workers=workers or self.workers, timeout=self.timeout)
        return Reconciler(self.host, options)

    def run_pass(self, drift: str = "correct", workers: int | None = None) -> PassReport:
        return self.reconciler(drift, workers).run_pass()

    def reset_counts(self) -> None:
        for cluster in self._clusters:
            cluster.reset_counts()

    def mutations(self, ignore: tuple[str, ...] = ("/leases",)) -> dict[str, list[Any]]:
        """Mutating requests each cluster served since the last reset (the sync lease
        left out by default)."""
        return {c.name: c.mutations(ignore) for c in self._clusters if c.mutations(ignore)}

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        for cluster in self._clusters:
            cluster.close()
            unregister(cluster)
        self._clusters = []
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> FakeFederation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def run_pass(fed: FakeFederation, drift: str = "correct", workers: int | None = None) -> PassReport:
    """One full sync pass over the fake federation (`kubectl fed sync --once`)."""
    return fed.run_pass(drift, workers)
