"""The federation host: its federation API objects and the way to reach members."""

from __future__ import annotations

import os
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.clock import now, utc_now
from kubectl_fed.core.member_identity import expired_token_message
from kubectl_fed.core.membership import Probe, credentials_mode, probe_status, tls_server_name
from kubectl_fed.core.mergepatch import replacing
from kubectl_fed.errors import CRDsMissing, FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.connect import ConnectionSpec, connect, context_spec, member_spec
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.state import LocalState


def fed_path(plural: str, name: str | None = None, namespace: str | None = None) -> str:
    path = f"/apis/{kubeadmiral.GROUP}/{kubeadmiral.VERSION}"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    return f"{path}/{name}" if name else path


class Host:
    """The host cluster seen through its federation API."""

    def __init__(self, kube: ClusterClient, fed_namespace: str, state: LocalState) -> None:
        self.kube = kube
        self.fed_namespace = fed_namespace
        self.state = state

    def require_api(self) -> None:
        """Every command but init needs the CRDs; say so plainly when they are missing."""
        try:
            self.kube.get(f"/apis/{kubeadmiral.GROUP}/{kubeadmiral.VERSION}")
        except NotFound:
            raise CRDsMissing(self.kube.server) from None

    # ------------------------------------------------------------------ clusters

    def clusters(self) -> list[dict[str, Any]]:
        try:
            items = list(self.kube.list_all(fed_path(kubeadmiral.FEDERATED_CLUSTERS)))
        except NotFound:
            raise CRDsMissing(self.kube.server) from None
        return sorted(items, key=lambda c: c["metadata"]["name"])

    def cluster(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.kube.get(fed_path(kubeadmiral.FEDERATED_CLUSTERS, name))
            return found
        except NotFound:
            self.require_api()
            return None

    def must_cluster(self, name: str) -> dict[str, Any]:
        cluster = self.cluster(name)
        if cluster is None:
            raise FedError(f"cluster {name!r} is not a member of this federation")
        return cluster

    def record_cluster_status(
        self, name: str, probe: Probe, cluster: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write what a look at a member found into its FederatedCluster's status."""
        previous = ((cluster or self.cluster(name) or {}).get("status")) or {}
        status = probe_status(previous, probe, now())
        self.kube.merge_patch(
            fed_path(kubeadmiral.FEDERATED_CLUSTERS, name) + "/status",
            {"status": replacing(previous, status)},
        )
        return status

    def secret_path(self, name: str | None = None) -> str:
        path = f"/api/v1/namespaces/{self.fed_namespace}/secrets"
        return f"{path}/{name}" if name else path

    # ------------------------------------------------------------------ members

    def connect_member(
        self, cluster: dict[str, Any], timeout: float | None, pool_size: int = 8
    ) -> ClusterClient:
        """A client for a member, from its Secret or, for `local` members, local state."""
        return connect(self.member_connection(cluster), timeout, pool_size)

    def member_connection(self, cluster: dict[str, Any]) -> ConnectionSpec:
        """How to reach a member: its Secret, or for `local` members the kubeconfig context
        recorded in local state at join."""
        name = cluster["metadata"]["name"]
        spec = cluster.get("spec") or {}
        if credentials_mode(cluster) == "local":
            entry = self.state.member(name)
            if not entry:
                raise FedError(
                    f"cluster {name!r} was joined with local credentials on another machine: "
                    f"join it here with `kubectl fed join {name} --credentials local --overwrite`"
                )
            kubeconfig = entry.get("kubeconfig")  # local state's: `~` is ours to expand
            return context_spec(
                os.path.expanduser(kubeconfig) if kubeconfig else None, entry.get("context")
            )
        secret_name = (spec.get("secretRef") or {}).get("name")
        if not secret_name:
            raise FedError(f"cluster {name!r} has no spec.secretRef")
        try:
            secret = self.kube.get(self.secret_path(secret_name))
        except NotFound:
            raise FedError(
                f"cluster {name!r}: secret {self.fed_namespace}/{secret_name} is missing"
            ) from None
        expired = expired_token_message(name, secret, utc_now())
        if expired:
            raise FedError(expired)
        return member_spec(
            name,
            spec.get("apiEndpoint", ""),
            bool(spec.get("insecure")),
            secret,
            tls_server_name(cluster),
        )

    def member_secret(self, cluster: dict[str, Any]) -> dict[str, Any] | None:
        """The member's credential Secret, None when it has none (or it is missing)."""
        name = ((cluster.get("spec") or {}).get("secretRef") or {}).get("name")
        if not name:
            return None
        try:
            found: dict[str, Any] = self.kube.get(self.secret_path(name))
            return found
        except NotFound:
            return None
