"""Joining, probing and tainting members: orchestration over kube/ and core/."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import kubeadmiral, marks
from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.kubeconfig import Credentials, NotCopyable, Target, copyable_credentials
from kubectl_fed.core.marks import CLUSTER_ID_ANNOTATION
from kubectl_fed.core.member_identity import DEFAULT_TOKEN_TTL_S, Token, holder_of
from kubectl_fed.core.membership import (
    IDENTITY_NAMESPACE,
    Probe,
    StoredAccess,
    api_resource_types,
    build_federated_cluster,
    build_secret,
    credentials_mode,
    identity_warnings,
    member_with_id,
    recorded_cluster_id,
    secret_name,
    stored_access,
)
from kubectl_fed.core.namespaces import NAMESPACE
from kubectl_fed.core.parsing import ParseError, apply_taint_changes, check_cluster_name
from kubectl_fed.errors import FedError
from kubectl_fed.kube import identity as member_identity
from kubectl_fed.kube.capacity import read_capacity
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.connect import connect_target, kubeconfig_target
from kubectl_fed.kube.errors import ApiError, NotFound, Unreachable
from kubectl_fed.kube.host import Host, fed_path
from kubectl_fed.kube.identity import read_cluster_id


@dataclass
class JoinRequest:
    name: str
    context: str
    kubeconfig: str | None
    labels: dict[str, str]
    taints: list[dict[str, str]]
    credentials: str  # "serviceaccount" | "copy" | "local"
    overwrite: bool
    dry_run: str  # "none" | "client" | "server"
    token_ttl_s: int = DEFAULT_TOKEN_TTL_S


@dataclass
class Joined:
    objects: list[dict[str, Any]]  # written, or that would be (member objects too)
    warnings: list[str]
    token: Token | None = None  # the member identity's, when one was minted
    removed: list[str] = field(default_factory=list)  # an identity --overwrite made unused


def join(host: Host, request: JoinRequest, timeout: float | None) -> Joined:
    """Check the member answers and is not a member already, give kubectl-fed its own
    identity there (by default), then write its Secret and FederatedCluster.

    Nothing is left half-done when a step fails: a Secret written before a failed
    cluster write is removed again, and so is an identity minted for a new member.
    """
    mode = "copy" if request.credentials == "secret" else request.credentials
    try:
        check_cluster_name(request.name)
    except ParseError as err:
        raise FedError(str(err)) from None
    host.require_api()
    existing = host.cluster(request.name)
    if existing and not request.overwrite:
        raise FedError(f"cluster {request.name!r} already joined: use --overwrite to replace it")
    target = kubeconfig_target(request.kubeconfig, request.context)
    copied = _copyable(target) if mode == "copy" else None
    if mode == "serviceaccount":
        _refuse_plain_http(target)
    server, insecure = target.credentials.server, target.credentials.insecure
    probe = _probe(connect_target(request.kubeconfig, target, timeout), capacity=True)
    if not probe.reachable:
        raise FedError(f"cluster {request.name!r} does not answer: {probe.message}")
    if not probe.cluster_id:
        raise FedError(
            f"cannot tell which cluster {request.name!r} is: {probe.id_error} (members are "
            f"told apart by the uid of their {IDENTITY_NAMESPACE} namespace: its credentials "
            f"need `get` on namespaces/{IDENTITY_NAMESPACE})"
        )
    warnings: list[str] = []
    if insecure and mode != "local":
        warnings.append(
            f"cluster {request.name!r} is reached without verifying its certificate "
            "(insecure-skip-tls-verify): whoever answers at its address gets the stored "
            "credential"
        )
    twin = same_cluster(host, probe.cluster_id, request.name, timeout, warnings)
    if twin:
        raise FedError(
            f'cluster {server} (context "{request.context}") is already joined as "{twin}" '
            f"(same {IDENTITY_NAMESPACE} namespace uid {probe.cluster_id}): a cluster can be "
            "a member only once"
        )
    minted = _mint(host, request, target, timeout) if mode == "serviceaccount" else None
    access = None
    if minted is not None:
        token = minted.token
        access = StoredAccess(
            ca_data=target.credentials.ca_data,
            token=token.value if token else _DRY_RUN_TOKEN,
            proxy_url=target.proxy_url,
            annotations=token.annotations() if token else {},
        )
    elif copied is not None:
        access = stored_access(copied, target.proxy_url)
    secret = build_secret(request.name, host.fed_namespace, access) if access else None
    cluster = build_federated_cluster(
        request.name,
        server,
        insecure=insecure,
        labels=request.labels,
        taints=request.taints,
        credentials_mode=mode,
        secret=secret_name(request.name) if secret else None,
        cluster_id=probe.cluster_id,
        uses_token=bool(access and access.uses_token),
        tls_server_name=target.tls_server_name if mode != "local" else None,
        join_context=request.context,
    )
    objects = [o for o in (secret, cluster) if o] + (minted.objects if minted else [])
    replaced = holder_of(host.member_secret(existing) or {}) if existing else ""
    if request.dry_run != "client":
        try:
            if minted and minted.token:
                _check_token(request.name, target, minted.token, timeout)
            _write_join(host, secret, cluster, existing, probe, request, mode)
        except (ApiError, FedError):
            if minted and minted.token and not existing:
                _forget_identity(host, request, target, timeout)
            raise
    removed: list[str] = []
    if existing and request.dry_run == "none":
        removed, left = _retire_identity(host, request, existing, probe, mode, timeout)
        warnings += left
        if minted and minted.token and replaced and replaced != minted.token.holder:
            _revoke_replaced(host, request, target, replaced, timeout, warnings)
    return Joined(objects, warnings, minted.token if minted else None, removed)


_DRY_RUN_TOKEN = "<minted at join>"  # what a dry run shows in place of a token


def _revoke_replaced(
    host: Host,
    request: JoinRequest,
    target: Target,
    holder: str,
    timeout: float | None,
    warnings: list[str],
) -> None:
    """--overwrite minted a new token: the one it replaces stops working now."""
    kube = connect_target(request.kubeconfig, target, timeout)
    try:
        if not member_identity.revoke(kube, host.fed_namespace, holder):
            warnings.append(
                f"the replaced token of {request.name} could not be revoked: it works until "
                f"it expires (delete secret {host.fed_namespace}/{holder} in the member)"
            )
    finally:
        kube.close()


def _retire_identity(
    host: Host,
    request: JoinRequest,
    existing: dict[str, Any],
    probe: Probe,
    mode: str,
    timeout: float | None,
) -> tuple[list[str], list[str]]:
    """--overwrite of a member that had kubectl-fed's identity, when the new record does
    not use it (copied or local credentials, or another cluster): nothing else would
    ever remove it (unjoin removes only the identity of a serviceaccount member).
    Returns (removed, warnings naming what stays)."""
    from kubectl_fed.ops.identity import remove_identity

    recorded = recorded_cluster_id(existing)
    if credentials_mode(existing) != "serviceaccount" or not recorded:
        return [], []
    same = recorded == probe.cluster_id
    if same and mode == "serviceaccount":
        return [], []
    # The same cluster: the context just used; another one: the context it was joined with.
    context = request.context if same else None
    return remove_identity(host, existing, context, request.kubeconfig, timeout)


def _refuse_plain_http(target: Target) -> None:
    if target.dropped_credentials or not target.credentials.server.startswith("https://"):
        raise FedError(
            f"context {target.context!r}: server {target.credentials.server} is plain http: "
            "a token would travel in clear (kubectl sends none there either): join it by a "
            "https:// server"
        )


def _mint(
    host: Host, request: JoinRequest, target: Target, timeout: float | None
) -> member_identity.Minted:
    """The member identity, created with the operator's context (any kind of user:
    tokens, client certificates, exec plugins). Its token is checked by `join` before it
    is stored, where a failure removes what was minted."""
    from kubectl_fed.core.member_identity import identity_objects
    from kubectl_fed.planning.snapshot import federated_types

    types = federated_types(host)
    if request.dry_run == "client":
        return member_identity.Minted(identity_objects(host.fed_namespace, types), None)
    kube = connect_target(request.kubeconfig, target, timeout)
    try:
        minted = member_identity.mint(
            kube,
            request.name,
            host.fed_namespace,
            types,
            request.token_ttl_s,
            dry_run=request.dry_run == "server",
        )
    finally:
        kube.close()
    return minted


def _check_token(name: str, target: Target, token: Token, timeout: float | None) -> None:
    """The minted token must open the member before the host is told to use it."""
    from kubectl_fed.kube.connect import connect, member_spec

    access = StoredAccess(
        ca_data=target.credentials.ca_data, token=token.value, proxy_url=target.proxy_url
    )
    secret = build_secret(name, "", access)
    spec = member_spec(
        name,
        target.credentials.server,
        target.credentials.insecure,
        secret,
        target.tls_server_name,
    )
    kube = connect(spec, timeout)
    try:
        kube.get("/api/v1/namespaces", limit=1)
    except ApiError as err:
        raise FedError(
            f"member {name}: the minted kubectl-fed token does not open it: {err.message}"
        ) from None
    finally:
        kube.close()


def _forget_identity(
    host: Host, request: JoinRequest, target: Target, timeout: float | None
) -> None:
    """Undo a mint whose host side could not be written (a new member only)."""
    kube = connect_target(request.kubeconfig, target, timeout)
    try:
        with contextlib.suppress(ApiError):
            member_identity.remove(kube, host.fed_namespace)
    finally:
        kube.close()


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
    mode: str,
) -> None:
    dry = request.dry_run == "server"
    ensure_namespace(host.kube, host.fed_namespace, dry_run=dry)
    if secret:
        _put_secret(host, secret, dry)
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
    if existing and mode == "local" and secret is None:
        old_secret = (existing.get("spec") or {}).get("secretRef", {}).get("name")
        if old_secret:
            delete_quietly(host.kube, host.secret_path(old_secret))
    if mode == "local":
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


def _put_secret(host: Host, secret: dict[str, Any], dry: bool) -> None:
    """The Secret holds exactly what this join stores. One already there is replaced
    wholesale: a renewed token is merge-patched in, which takes the token and its expiry
    out of join's server-side apply, so an apply would leave them next to a new
    credential (and the old expiry would later refuse the member)."""
    path = host.secret_path(secret["metadata"]["name"])
    try:
        live = host.kube.get(path)
    except NotFound:
        host.kube.apply(path, secret, dry_run=dry)
        return
    metadata = {**secret["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]}
    host.kube.replace(path, {**secret, "metadata": metadata}, dry)


@dataclass
class Unjoined:
    handled: int  # member objects orphaned or deleted
    removed: list[str]  # the kubectl-fed identity's objects removed from the member
    warnings: list[str]


def unjoin(
    host: Host,
    name: str,
    cascade: str,
    timeout: float | None,
    context: str | None = None,
    kubeconfig: str | None = None,
) -> Unjoined:
    """Remove a member. Its managed objects are unmarked (orphan) or deleted first, then
    the identity join created there (with the operator's context), then the host side.

    An unreachable member cannot have its objects deleted, so `delete` fails then;
    `orphan` goes ahead and says the marks stay, and names the identity objects left. A
    member that is the same cluster as another member (joined twice before identities
    were checked) leaves its objects and identity alone: they are the other member's too.
    """
    from kubectl_fed.ops.identity import remove_identity

    cluster = host.must_cluster(name)
    handled, twin = 0, None
    warnings: list[str] = []
    try:
        handled, twin = _cascade(host, cluster, cascade, timeout, warnings)
    except FedError as err:  # down, or its stored credential unusable (expired, missing)
        if cascade == "delete":
            raise FedError(f"cannot delete the objects in {name}: {err}") from None
        warnings.append(f"objects in {name} keep their federation marks: {err}")
    removed: list[str] = []
    if twin is None:
        removed, left = remove_identity(host, cluster, context, kubeconfig, timeout)
        warnings += left
    delete_quietly(host.kube, fed_path(kubeadmiral.FEDERATED_CLUSTERS, name))
    secret = ((cluster.get("spec") or {}).get("secretRef") or {}).get("name")
    if secret:
        delete_quietly(host.kube, host.secret_path(secret))
    if host.state.member(name):
        host.state.unset(f"members.{name}")
    return Unjoined(handled, removed, warnings)


def _cascade(
    host: Host, cluster: dict[str, Any], cascade: str, timeout: float | None, warnings: list[str]
) -> tuple[int, str | None]:
    """(objects handled, the other member this one is the same cluster as, if any)."""
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
            return 0, twin
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
    return handled, None


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


def _probe(kube: ClusterClient, capacity: bool = False) -> Probe:
    """What a member is: its version, API resources and identity, and with `capacity`
    its nodes' capacity (status.resources)."""
    resources: dict[str, Any] | None = None
    resources_error = ""
    try:
        version = kube.server_version()
        api_resources = api_resource_types(kube.api_resources())
        identity, error = _identity(kube)
        if capacity:
            resources, resources_error = _capacity(kube)
    except ApiError as err:
        return Probe(reachable=False, message=str(err))
    finally:
        kube.close()
    return Probe(
        reachable=True,
        version=version,
        api_resources=api_resources,
        cluster_id=identity,
        id_error=error,
        resources=resources,
        resources_error=resources_error,
    )


def _capacity(kube: ClusterClient) -> tuple[dict[str, Any] | None, str]:
    """(status.resources, "") or (None, why not): credentials that may not list nodes or
    pods keep what was recorded, and say so."""
    try:
        return read_capacity(kube), ""
    except Unreachable:
        raise
    except ApiError as err:
        return None, str(err)


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
        return name, _probe(kube, capacity=True)

    with ThreadPoolExecutor(max_workers=min(16, len(clusters))) as pool:
        results = list(pool.map(probe_one, clusters))
    by_name = {c["metadata"]["name"]: c for c in clusters}
    warnings = []
    for name, probe in results:
        cluster = by_name[name]
        cluster["status"] = host.record_cluster_status(name, probe, cluster)
        if probe.cluster_id and not recorded_cluster_id(cluster):
            record_cluster_id(host, cluster, probe.cluster_id)
        if probe.resources_error:
            warnings.append(
                f"cluster {name!r}: cannot read its nodes and pods for status.resources "
                f"(kept as recorded): {probe.resources_error}"
            )
    ids = {n: p.cluster_id for n, p in results if p.cluster_id}
    return warnings + identity_warnings(ids, clusters)


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
