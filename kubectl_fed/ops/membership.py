"""Joining, probing and tainting members: orchestration over kube/ and core/."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core import kubeadmiral, marks
from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.kubeconfig import Credentials, NotCopyable, Target, copyable_credentials
from kubectl_fed.core.marks import CLUSTER_ID_ANNOTATION
from kubectl_fed.core.membership import (
    IDENTITY_NAMESPACE,
    Probe,
    api_resource_types,
    build_federated_cluster,
    build_secret,
    identity_warnings,
    member_with_id,
    recorded_cluster_id,
    secret_name,
)
from kubectl_fed.core.namespaces import NAMESPACE
from kubectl_fed.core.parsing import ParseError, apply_taint_changes, check_cluster_name
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.connect import connect_target, kubeconfig_target
from kubectl_fed.kube.errors import ApiError, NotFound, Unreachable
from kubectl_fed.kube.host import Host, fed_path


@dataclass
class JoinRequest:
    name: str
    context: str
    kubeconfig: str | None
    labels: dict[str, str]
    taints: list[dict[str, str]]
    credentials: str  # "secret" | "local"
    overwrite: bool
    dry_run: str  # "none" | "client" | "server"


@dataclass
class Joined:
    objects: list[dict[str, Any]]  # written, or that would be
    warnings: list[str]


def join(host: Host, request: JoinRequest, timeout: float | None) -> Joined:
    """Check the member answers and is not a member already, then write its Secret and
    FederatedCluster.

    Nothing is written when any check fails; a Secret written before a failed cluster
    write is removed again.
    """
    try:
        check_cluster_name(request.name)
    except ParseError as err:
        raise FedError(str(err)) from None
    host.require_api()
    existing = host.cluster(request.name)
    if existing and not request.overwrite:
        raise FedError(f"cluster {request.name!r} already joined: use --overwrite to replace it")
    target = kubeconfig_target(request.kubeconfig, request.context)
    credentials = _copyable(target) if request.credentials == "secret" else None
    server, insecure = target.credentials.server, target.credentials.insecure
    probe = _probe(connect_target(request.kubeconfig, target, timeout))
    if not probe.reachable:
        raise FedError(f"cluster {request.name!r} does not answer: {probe.message}")
    if not probe.cluster_id:
        raise FedError(
            f"cannot tell which cluster {request.name!r} is: {probe.id_error} (members are "
            f"told apart by the uid of their {IDENTITY_NAMESPACE} namespace: its credentials "
            f"need `get` on namespaces/{IDENTITY_NAMESPACE})"
        )
    warnings: list[str] = []
    twin = same_cluster(host, probe.cluster_id, request.name, timeout, warnings)
    if twin:
        raise FedError(
            f'cluster {server} (context "{request.context}") is already joined as "{twin}" '
            f"(same {IDENTITY_NAMESPACE} namespace uid {probe.cluster_id}): a cluster can be "
            "a member only once"
        )
    secret = build_secret(request.name, host.fed_namespace, credentials) if credentials else None
    cluster = build_federated_cluster(
        request.name,
        server,
        insecure=insecure,
        labels=request.labels,
        taints=request.taints,
        credentials_mode=request.credentials,
        secret=secret_name(request.name) if secret else None,
        cluster_id=probe.cluster_id,
    )
    objects = [o for o in (secret, cluster) if o]
    if request.dry_run != "client":
        _write_join(host, secret, cluster, existing, probe, request)
    return Joined(objects, warnings)


def same_cluster(
    host: Host, cluster_id: str, exclude: str, timeout: float | None, warnings: list[str]
) -> str | None:
    """The member (other than `exclude`) that is the cluster with this identity, if any.

    Recorded identities are compared first; members joined before identities were
    recorded are asked, concurrently, within the request timeout. One that does not
    answer cannot be told apart: that goes into `warnings`, and does not block.
    """
    clusters = host.clusters()
    recorded = member_with_id(clusters, cluster_id, exclude)
    if recorded:
        return recorded
    unknown = [
        c for c in clusters if c["metadata"]["name"] != exclude and not recorded_cluster_id(c)
    ]
    for name, (identity, error) in read_identities(host, unknown, timeout).items():
        if identity == cluster_id:
            return name
        if not identity:
            warnings.append(f"cannot tell whether member {name!r} is the same cluster: {error}")
    return None


def read_cluster_id(kube: ClusterClient) -> str:
    """The uid of the cluster's kube-system namespace: the same by every URL, name or TLS
    setting that reaches the cluster, and new when the cluster is rebuilt."""
    namespace = kube.get(f"/api/v1/namespaces/{IDENTITY_NAMESPACE}")
    uid = str((namespace.get("metadata") or {}).get("uid") or "")
    if not uid:
        raise FedError(f"{kube.name}: namespace {IDENTITY_NAMESPACE} has no uid")
    return uid


def read_identities(
    host: Host, clusters: list[dict[str, Any]], timeout: float | None
) -> dict[str, tuple[str, str]]:
    """{member: (identity or "", why not)}, every member asked at once."""
    if not clusters:
        return {}

    def read_one(cluster: dict[str, Any]) -> tuple[str, tuple[str, str]]:
        name = cluster["metadata"]["name"]
        try:
            kube = host.connect_member(cluster, timeout)
        except FedError as err:
            return name, ("", str(err))
        try:
            return name, (read_cluster_id(kube), "")
        except FedError as err:
            return name, ("", str(err))
        finally:
            kube.close()

    with ThreadPoolExecutor(max_workers=min(16, len(clusters))) as pool:
        return dict(pool.map(read_one, clusters))


def _write_join(
    host: Host,
    secret: dict[str, Any] | None,
    cluster: dict[str, Any],
    existing: dict[str, Any] | None,
    probe: Probe,
    request: JoinRequest,
) -> None:
    dry = request.dry_run == "server"
    ensure_namespace(host.kube, host.fed_namespace, dry_run=dry)
    if secret:
        host.kube.apply(host.secret_path(secret["metadata"]["name"]), secret, dry_run=dry)
    try:
        if existing:
            # --overwrite replaces the spec, labels and annotations wholesale.
            cluster["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            host.kube.replace(fed_path(kubeadmiral.FEDERATED_CLUSTERS, request.name), cluster, dry)
        else:
            host.kube.create(fed_path(kubeadmiral.FEDERATED_CLUSTERS), cluster, dry)
    except ApiError:
        if secret and not dry and not existing:
            delete_quietly(host.kube, host.secret_path(secret["metadata"]["name"]))
        raise
    if dry:
        return
    if existing and request.credentials == "local" and secret is None:
        old_secret = (existing.get("spec") or {}).get("secretRef", {}).get("name")
        if old_secret:
            delete_quietly(host.kube, host.secret_path(old_secret))
    if request.credentials == "local":
        host.state.set_member(
            request.name,
            {
                "context": request.context,
                **({"kubeconfig": request.kubeconfig} if request.kubeconfig else {}),
            },
        )
    elif host.state.member(request.name):
        host.state.unset(f"members.{request.name}")
    host.record_cluster_status(request.name, probe)


def unjoin(host: Host, name: str, cascade: str, timeout: float | None) -> tuple[int, list[str]]:
    """Remove a member. Its managed objects are unmarked (orphan) or deleted first.

    Returns (objects handled, warnings). An unreachable member cannot have its objects
    deleted, so `delete` fails then; `orphan` goes ahead and says the marks stay. A member
    that is the same cluster as another member (joined twice before identities were
    checked) leaves its objects alone: they are the other member's too.
    """
    cluster = host.must_cluster(name)
    handled = 0
    warnings: list[str] = []
    try:
        handled = _cascade(host, cluster, cascade, timeout, warnings)
    except ApiError as err:
        if cascade == "delete":
            raise FedError(f"cannot delete the objects in {name}: {err}") from None
        warnings.append(f"objects in {name} keep their federation marks: {err}")
    delete_quietly(host.kube, fed_path(kubeadmiral.FEDERATED_CLUSTERS, name))
    secret = ((cluster.get("spec") or {}).get("secretRef") or {}).get("name")
    if secret:
        delete_quietly(host.kube, host.secret_path(secret))
    if host.state.member(name):
        host.state.unset(f"members.{name}")
    return handled, warnings


def _cascade(
    host: Host, cluster: dict[str, Any], cascade: str, timeout: float | None, warnings: list[str]
) -> int:
    from kubectl_fed.core.marks import MANAGED_LABEL
    from kubectl_fed.core.propagation import unmarked
    from kubectl_fed.kube.client import path_for
    from kubectl_fed.planning.snapshot import federated_types

    name = cluster["metadata"]["name"]
    kube = host.connect_member(cluster, timeout)
    handled = 0
    try:
        twin = _twin(host, kube, cluster, timeout, warnings)
        if twin:
            warnings.append(
                f"cluster {name!r} is the same cluster as member {twin!r}: its objects are "
                f"{twin}'s too and are left as they are"
            )
            return 0
        # Namespaces last: the copies in them go first.
        types = sorted(federated_types(host), key=lambda t: (t.group, t.kind) == NAMESPACE)
        for ftype in types:
            try:
                items = list(
                    kube.list_all(path_for(ftype.resource), labelSelector=f"{MANAGED_LABEL}=true")
                )
            except NotFound:
                continue
            for item in items:
                metadata = item["metadata"]
                path = path_for(ftype.resource, metadata.get("namespace"), metadata["name"])
                if cascade == "delete" and not _keeps_namespace(kube, ftype, item):
                    delete_quietly(kube, path)
                else:
                    kube.merge_patch(path, unmarked(item))
                handled += 1
    finally:
        kube.close()
    return handled


def _keeps_namespace(kube: ClusterClient, ftype: FederatedType, item: dict[str, Any]) -> bool:
    """A member namespace the federation took over, or that holds anything it does not
    manage (or whose contents cannot be told), is unmarked, never deleted."""
    from kubectl_fed.core.namespaces import counted, foreign_objects
    from kubectl_fed.core.propagation import is_adopted
    from kubectl_fed.kube.client import namespace_contents

    if (ftype.group, ftype.kind) != NAMESPACE:
        return False
    if is_adopted(item):
        return True
    contents, unreadable = namespace_contents(kube, item["metadata"]["name"], counted)
    return bool(foreign_objects(contents) or unreadable)


def _twin(
    host: Host,
    kube: ClusterClient,
    cluster: dict[str, Any],
    timeout: float | None,
    warnings: list[str],
) -> str | None:
    """Another member that is this very cluster, if any (read live, else as recorded)."""
    try:
        identity = read_cluster_id(kube)
    except Unreachable:
        raise
    except FedError:
        identity = recorded_cluster_id(cluster)
    if not identity:
        return None
    return same_cluster(host, identity, cluster["metadata"]["name"], timeout, warnings)


def ensure_namespace(kube: ClusterClient, namespace: str, dry_run: bool = False) -> bool:
    """Create the namespace when missing; True when it had to be created."""
    try:
        kube.get(f"/api/v1/namespaces/{namespace}")
        return False
    except NotFound:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        try:
            kube.create("/api/v1/namespaces", body, dry_run=dry_run)
        except ApiError as err:
            if "already exists" not in str(err):
                raise
        return True


def delete_quietly(kube: ClusterClient, path: str) -> None:
    with contextlib.suppress(NotFound):
        kube.delete(path)


# --------------------------------------------------------------------------- probing


def _copyable(target: Target) -> Credentials:
    try:
        return copyable_credentials(target)
    except NotCopyable as err:
        raise FedError(str(err)) from None


def _probe(kube: ClusterClient) -> Probe:
    try:
        version = kube.server_version()
        resources = api_resource_types(kube.api_resources())
        identity, error = _identity(kube)
    except ApiError as err:
        return Probe(reachable=False, message=str(err))
    finally:
        kube.close()
    return Probe(
        reachable=True,
        version=version,
        api_resources=resources,
        cluster_id=identity,
        id_error=error,
    )


def _identity(kube: ClusterClient) -> tuple[str, str]:
    """(identity, "") or ("", why not): a member may answer yet refuse to show kube-system."""
    try:
        return read_cluster_id(kube), ""
    except Unreachable:
        raise
    except FedError as err:
        return "", str(err)


def refresh(host: Host, clusters: list[dict[str, Any]], timeout: float | None) -> list[str]:
    """Probe every member concurrently and record what was found in its status, and its
    identity when none is recorded yet (members joined before identities were recorded).

    Returns warnings: a member answering as another cluster than the one joined, and
    members that are one cluster.
    """
    if not clusters:
        return []

    def probe_one(cluster: dict[str, Any]) -> tuple[str, Probe]:
        name = cluster["metadata"]["name"]
        try:
            kube = host.connect_member(cluster, timeout)
        except FedError as err:
            return name, Probe(reachable=False, message=str(err))
        return name, _probe(kube)

    with ThreadPoolExecutor(max_workers=min(16, len(clusters))) as pool:
        results = list(pool.map(probe_one, clusters))
    by_name = {c["metadata"]["name"]: c for c in clusters}
    for name, probe in results:
        cluster = by_name[name]
        cluster["status"] = host.record_cluster_status(name, probe, cluster)
        if probe.cluster_id and not recorded_cluster_id(cluster):
            record_cluster_id(host, cluster, probe.cluster_id)
    return identity_warnings({n: p.cluster_id for n, p in results if p.cluster_id}, clusters)


def live_readiness(
    host: Host, clusters: list[dict[str, Any]], timeout: float | None
) -> dict[str, str]:
    """Each member's readiness now: "" when it answers an authenticated request with the
    stored credentials (what sync needs), else why not. Probed concurrently."""

    def probe_one(cluster: dict[str, Any]) -> tuple[str, str]:
        name = cluster["metadata"]["name"]
        kube = None
        try:  # API errors are FedErrors too
            kube = host.connect_member(cluster, timeout)
            kube.get("/api/v1/namespaces", limit=1)  # /version would answer anyone
            return name, ""
        except FedError as err:
            return name, err.message
        finally:
            if kube is not None:
                kube.close()

    if not clusters:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(clusters))) as pool:
        return dict(pool.map(probe_one, clusters))


def record_cluster_id(host: Host, cluster: dict[str, Any], cluster_id: str) -> None:
    patch = {"metadata": {"annotations": {CLUSTER_ID_ANNOTATION: cluster_id}}}
    host.kube.merge_patch(
        fed_path(kubeadmiral.FEDERATED_CLUSTERS, cluster["metadata"]["name"]), patch
    )
    cluster["metadata"].setdefault("annotations", {})[CLUSTER_ID_ANNOTATION] = cluster_id


# --------------------------------------------------------------------------- taints


def change_taints(
    host: Host, name: str, changes: list[tuple[dict[str, str], bool]], overwrite: bool
) -> list[dict[str, Any]]:
    cluster = host.must_cluster(name)
    current = (cluster.get("spec") or {}).get("taints") or []
    try:
        taints = apply_taint_changes(current, changes, overwrite)
    except ParseError as err:
        raise FedError(f"cluster {name!r}: {err}") from None
    if taints != current:
        host.kube.merge_patch(
            fed_path(kubeadmiral.FEDERATED_CLUSTERS, name), {"spec": {"taints": taints}}
        )
    return taints


def cordon(host: Host, name: str, on: bool) -> bool:
    """Cordon = a NoSchedule taint: no new placements, existing ones stay."""
    taint = {"key": marks.CORDON_TAINT_KEY, "effect": "NoSchedule"}
    cluster = host.must_cluster(name)
    current = (cluster.get("spec") or {}).get("taints") or []
    has = any(t.get("key") == marks.CORDON_TAINT_KEY for t in current)
    if has == on:
        return False
    change_taints(host, name, [(taint, not on)], overwrite=True)
    return True
