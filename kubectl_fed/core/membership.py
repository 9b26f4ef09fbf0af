"""FederatedCluster and credential Secret documents, and the status a probe records."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import kubeadmiral, marks
from kubectl_fed.core.kubeconfig import Credentials

REDACTED = "<redacted>"

# The namespace whose UID tells what a member *is* (marks.CLUSTER_ID_ANNOTATION).
IDENTITY_NAMESPACE = "kube-system"


def secret_name(cluster: str) -> str:
    return f"{cluster}-credentials"


# kubectl-fed's own key: a proxy URL may carry the proxy's password, so it is kept with
# the credentials, not in an annotation.
SECRET_PROXY_URL = "proxy-url"


@dataclass(frozen=True)
class StoredAccess:
    """What a member Secret holds. Never printed: see __repr__."""

    ca_data: bytes | None = None
    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    proxy_url: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "StoredAccess(<redacted>)"

    @property
    def uses_token(self) -> bool:
        return bool(self.token)


def stored_access(credentials: Credentials, proxy_url: str | None = None) -> StoredAccess:
    """A copied credential (`--credentials copy`)."""
    return StoredAccess(
        ca_data=credentials.ca_data,
        token=credentials.token,
        cert_data=credentials.cert_data,
        key_data=credentials.key_data,
        proxy_url=proxy_url,
    )


def build_secret(cluster: str, namespace: str, access: StoredAccess) -> dict[str, Any]:
    """The member Secret in KubeAdmiral's layout: with a token, KubeAdmiral reads
    `service-account-token-data` and the CA from `service-account-ca-data` (its
    spec.useServiceAccount); with a client certificate, the certificate, key and
    `certificate-authority-data`. The CA is written under both keys."""
    data: dict[str, bytes | None] = {
        kubeadmiral.SECRET_CA: access.ca_data,
        kubeadmiral.SECRET_CERT: access.cert_data,
        kubeadmiral.SECRET_KEY: access.key_data,
        kubeadmiral.SECRET_TOKEN: access.token.encode() if access.token else None,
        kubeadmiral.SECRET_TOKEN_CA: access.ca_data if access.token else None,
        SECRET_PROXY_URL: access.proxy_url.encode() if access.proxy_url else None,
    }
    metadata: dict[str, Any] = {
        "name": secret_name(cluster),
        "namespace": namespace,
        "labels": {marks.MANAGED_BY_LABEL: marks.MANAGED_BY},
    }
    if access.annotations:
        metadata["annotations"] = dict(access.annotations)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items() if v},
    }


def credentials_from_secret(server: str, insecure: bool, secret: dict[str, Any]) -> Credentials:
    """Raises ValueError naming a key whose value cannot be used (never the value)."""
    data = _decoded(secret)
    return Credentials(
        server=server,
        ca_data=data.get(kubeadmiral.SECRET_CA) or data.get(kubeadmiral.SECRET_TOKEN_CA),
        cert_data=data.get(kubeadmiral.SECRET_CERT),
        key_data=data.get(kubeadmiral.SECRET_KEY),
        token=_text(data, kubeadmiral.SECRET_TOKEN),
        insecure=insecure,
    )


def proxy_url_from_secret(secret: dict[str, Any]) -> str | None:
    return _text(_decoded(secret), SECRET_PROXY_URL)


def _decoded(secret: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value)
        except (binascii.Error, TypeError):
            raise ValueError(f"{key} is not base64") from None
    return out


def _text(data: dict[str, bytes], key: str) -> str | None:
    """A token or URL: any bytes fit in a Secret, only UTF-8 text is one."""
    raw = data.get(key)
    if not raw:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ValueError(f"{key} is not text") from None


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret fit for output: keys kept, values never shown."""
    if obj.get("kind") != "Secret":
        return obj
    shown = dict(obj)
    shown["data"] = {k: REDACTED for k in obj.get("data") or {}}
    return shown


def build_federated_cluster(
    name: str,
    server: str,
    *,
    insecure: bool,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    credentials_mode: str,
    secret: str | None,
    cluster_id: str = "",
    uses_token: bool = False,
    tls_server_name: str | None = None,
    join_context: str = "",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"apiEndpoint": server, "taints": taints}
    if insecure:
        spec["insecure"] = True
    if secret:
        spec["secretRef"] = {"name": secret}
    if uses_token:
        # What makes KubeAdmiral read the token (it rejects a token-only Secret without).
        spec["useServiceAccount"] = True
    annotations = {marks.CREDENTIALS_ANNOTATION: credentials_mode}
    if cluster_id:
        annotations[marks.CLUSTER_ID_ANNOTATION] = cluster_id
    if tls_server_name:
        annotations[marks.TLS_SERVER_NAME_ANNOTATION] = tls_server_name
    if join_context:
        annotations[marks.JOIN_CONTEXT_ANNOTATION] = join_context
    return {
        "apiVersion": kubeadmiral.API_VERSION,
        "kind": "FederatedCluster",
        "metadata": {"name": name, "labels": {**labels}, "annotations": annotations},
        "spec": spec,
    }


def credentials_mode(cluster: dict[str, Any]) -> str:
    """serviceaccount, copy or local ("secret", written by 0.1, is a copy)."""
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    mode = str(annotations.get(marks.CREDENTIALS_ANNOTATION, "copy"))
    return "copy" if mode == "secret" else mode


def tls_server_name(cluster: dict[str, Any]) -> str | None:
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    return annotations.get(marks.TLS_SERVER_NAME_ANNOTATION) or None


def join_context(cluster: dict[str, Any]) -> str:
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(marks.JOIN_CONTEXT_ANNOTATION) or "")


def recorded_cluster_id(cluster: dict[str, Any]) -> str:
    """The identity recorded at join ("" for members joined before it was recorded)."""
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(marks.CLUSTER_ID_ANNOTATION) or "")


def member_with_id(clusters: list[dict[str, Any]], cluster_id: str, exclude: str) -> str | None:
    """The member (other than `exclude`) recorded with that identity, if any."""
    for cluster in clusters:
        name = cluster["metadata"]["name"]
        if name != exclude and cluster_id and recorded_cluster_id(cluster) == cluster_id:
            return str(name)
    return None


def identity_warnings(found: dict[str, str], clusters: list[dict[str, Any]]) -> list[str]:
    """What a refresh learnt about identities that needs a person: a member that now
    answers as another cluster than the one joined, and members that are one cluster.

    `found` maps member names to the identity read from them just now.
    """
    warnings = []
    for cluster in clusters:
        name = cluster["metadata"]["name"]
        recorded, live = recorded_cluster_id(cluster), found.get(name, "")
        if recorded and live and recorded != live:
            warnings.append(
                f"cluster {name!r} now answers as another cluster than the one joined "
                f"({IDENTITY_NAMESPACE} uid {live}, recorded {recorded}): check its "
                "spec.apiEndpoint, or join it again with --overwrite"
            )
    seen: dict[str, str] = {}
    for cluster in clusters:
        name = cluster["metadata"]["name"]
        identity = found.get(name) or recorded_cluster_id(cluster)
        if not identity:
            continue
        if identity in seen:
            warnings.append(
                f"clusters {seen[identity]!r} and {name!r} are the same cluster "
                f"({IDENTITY_NAMESPACE} uid {identity}): unjoin one of them "
                "(the objects there are left to the other)"
            )
        else:
            seen[identity] = name
    return warnings


@dataclass
class Probe:
    """What one look at a member found."""

    reachable: bool
    version: str = ""
    message: str = ""
    api_resources: list[dict[str, str]] = field(default_factory=list)
    cluster_id: str = ""  # the kube-system UID; "" when it could not be read
    id_error: str = ""  # why it could not be read
    # status.resources (core/capacity); None: not read, what was recorded stays.
    resources: dict[str, Any] | None = None
    resources_error: str = ""  # why the nodes or pods could not be read


def probe_status(previous: dict[str, Any], probe: Probe, now: str) -> dict[str, Any]:
    """FederatedCluster status after a probe; transition times move only on change."""
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    reason = "ClusterReady" if probe.reachable else "ClusterNotReachable"
    message = probe.message or ("cluster is reachable" if probe.reachable else "no answer")
    conditions = [
        _condition(old, kubeadmiral.JOINED, True, "ClusterJoined", "cluster joined", now),
        _condition(old, kubeadmiral.READY, probe.reachable, reason, message, now),
        _condition(old, kubeadmiral.OFFLINE, not probe.reachable, reason, message, now),
    ]
    status: dict[str, Any] = {**previous, "conditions": conditions, "joinPerformed": True}
    if probe.reachable:
        status["kubernetesVersion"] = probe.version
        status["apiResourceTypes"] = probe.api_resources
        if probe.resources is not None:
            status["resources"] = probe.resources
    return status


def _condition(
    old: dict[Any, dict[str, Any]], kind: str, value: bool, reason: str, message: str, now: str
) -> dict[str, Any]:
    status = "True" if value else "False"
    previous = old.get(kind) or {}
    changed = previous.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now if changed else previous.get("lastTransitionTime", now),
    }


def condition(cluster: dict[str, Any], kind: str) -> str:
    for cond in (cluster.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status", "Unknown"))
    return "Unknown"


def api_resource_types(resources: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Discovery -> status.apiResourceTypes (preferred entries, no subresources)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for res in resources:
        key = (res["group"], res["version"], res["plural"])
        if key in seen or not res.get("kind"):
            continue
        seen.add(key)
        out.append(
            {
                "group": res["group"],
                "version": res["version"],
                "kind": res["kind"],
                "pluralName": res["plural"],
                "scope": "Namespaced" if res["namespaced"] else "Cluster",
            }
        )
    return sorted(out, key=lambda r: (r["group"], r["version"], r["pluralName"]))
