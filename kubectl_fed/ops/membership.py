"""Joining, probing and tainting members: orchestration over kube/ and core/."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kubectl_fed.core import api
from kubectl_fed.core.kubeconfig import Credentials, NotCopyable, Target, copyable_credentials
from kubectl_fed.core.membership import (
    Probe,
    api_resource_types,
    build_federated_cluster,
    build_secret,
    probe_status,
    secret_name,
)
from kubectl_fed.core.parsing import ParseError, apply_taint_changes, check_cluster_name
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import Kube
from kubectl_fed.kube.connect import connect_target, kubeconfig_target
from kubectl_fed.kube.errors import ApiError, NotFound
from kubectl_fed.kube.host import Host, fed_path


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def join(host: Host, request: JoinRequest, timeout: float | None) -> list[dict[str, Any]]:
    """Check the member answers, then write its Secret and FederatedCluster.

    Returns the objects written (or that would be). Nothing is written when any
    check fails; a Secret written before a failed cluster write is removed again.
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
    secret = build_secret(request.name, host.fed_namespace, credentials) if credentials else None
    cluster = build_federated_cluster(
        request.name,
        server,
        insecure=insecure,
        labels=request.labels,
        taints=request.taints,
        credentials_mode=request.credentials,
        secret=secret_name(request.name) if secret else None,
    )
    objects = [o for o in (secret, cluster) if o]
    if request.dry_run == "client":
        return objects
    _write_join(host, secret, cluster, existing, probe, request)
    return objects


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
            host.kube.replace(fed_path(api.FEDERATED_CLUSTERS, request.name), cluster, dry)
        else:
            host.kube.create(fed_path(api.FEDERATED_CLUSTERS), cluster, dry)
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
    record_status(host, request.name, probe)


def unjoin(host: Host, name: str, cascade: str, timeout: float | None) -> tuple[int, str]:
    """Remove a member. Its managed objects are unmarked (orphan) or deleted first.

    Returns (objects handled, warning). An unreachable member cannot have its objects
    deleted, so `delete` fails then; `orphan` goes ahead and says the marks stay.
    """
    cluster = host.must_cluster(name)
    handled, warning = 0, ""
    try:
        handled = _cascade(host, cluster, cascade, timeout)
    except ApiError as err:
        if cascade == "delete":
            raise FedError(f"cannot delete the objects in {name}: {err}") from None
        warning = f"objects in {name} keep their federation marks: {err}"
    delete_quietly(host.kube, fed_path(api.FEDERATED_CLUSTERS, name))
    secret = ((cluster.get("spec") or {}).get("secretRef") or {}).get("name")
    if secret:
        delete_quietly(host.kube, host.secret_path(secret))
    if host.state.member(name):
        host.state.unset(f"members.{name}")
    return handled, warning


def _cascade(host: Host, cluster: dict[str, Any], cascade: str, timeout: float | None) -> int:
    from kubectl_fed.core.federate import MANAGED_LABEL
    from kubectl_fed.core.propagation import unmarked
    from kubectl_fed.kube.client import path_for
    from kubectl_fed.sync.snapshot import federated_types

    kube = host.connect_member(cluster, timeout)
    handled = 0
    try:
        for ftype in federated_types(host):
            try:
                items = list(
                    kube.list_all(path_for(ftype.resource), labelSelector=f"{MANAGED_LABEL}=true")
                )
            except NotFound:
                continue
            for item in items:
                metadata = item["metadata"]
                path = path_for(ftype.resource, metadata.get("namespace"), metadata["name"])
                if cascade == "delete":
                    delete_quietly(kube, path)
                else:
                    kube.merge_patch(path, unmarked(item))
                handled += 1
    finally:
        kube.close()
    return handled


def ensure_namespace(kube: Kube, namespace: str, dry_run: bool = False) -> bool:
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


def delete_quietly(kube: Kube, path: str) -> None:
    with contextlib.suppress(NotFound):
        kube.delete(path)


# --------------------------------------------------------------------------- probing


def _copyable(target: Target) -> Credentials:
    try:
        return copyable_credentials(target)
    except NotCopyable as err:
        raise FedError(str(err)) from None


def _probe(kube: Kube) -> Probe:
    try:
        version = kube.server_version()
        resources = api_resource_types(kube.api_resources())
    except ApiError as err:
        return Probe(reachable=False, message=str(err))
    finally:
        kube.close()
    return Probe(reachable=True, version=version, api_resources=resources)


def refresh(host: Host, clusters: list[dict[str, Any]], timeout: float | None) -> None:
    """Probe every member concurrently and record what was found in its status."""
    if not clusters:
        return

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
        by_name[name]["status"] = record_status(host, name, probe, by_name[name])


def record_status(
    host: Host, name: str, probe: Probe, cluster: dict[str, Any] | None = None
) -> dict[str, Any]:
    previous = ((cluster or host.cluster(name) or {}).get("status")) or {}
    status = probe_status(previous, probe, now())
    host.kube.merge_patch(fed_path(api.FEDERATED_CLUSTERS, name) + "/status", {"status": status})
    return status


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
        host.kube.merge_patch(fed_path(api.FEDERATED_CLUSTERS, name), {"spec": {"taints": taints}})
    return taints


def cordon(host: Host, name: str, on: bool) -> bool:
    """Cordon = a NoSchedule taint: no new placements, existing ones stay."""
    taint = {"key": api.CORDON_TAINT_KEY, "effect": "NoSchedule"}
    cluster = host.must_cluster(name)
    current = (cluster.get("spec") or {}).get("taints") or []
    has = any(t.get("key") == api.CORDON_TAINT_KEY for t in current)
    if has == on:
        return False
    change_taints(host, name, [(taint, not on)], overwrite=True)
    return True
