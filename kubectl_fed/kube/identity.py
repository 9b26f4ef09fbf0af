"""The member identity in the member itself: create it, give it tokens, extend its role,
remove it. The objects and rules are core/member_identity's; this is the talking.

Used by `join`, `rotate`, `unjoin` (with the operator's own credentials for the member)
and by sync, which renews the stored token with the identity's own credentials.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_fed.core import member_identity as ident
from kubectl_fed.core.clock import utc_now
from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.membership import IDENTITY_NAMESPACE, credentials_mode
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.errors import ApiError, Forbidden, MethodNotAllowed, NotFound, Unreachable
from kubectl_fed.kube.host import Host

LEGACY_TOKEN_WAIT_S = 10.0  # how long the token controller gets to fill the Secret


@dataclass
class Minted:
    objects: list[dict[str, Any]]  # created or updated in the member
    token: ident.Token | None  # None on a dry run
    warnings: list[str] = field(default_factory=list)


def object_path(obj: dict[str, Any]) -> str:
    """REST path of one of the identity's objects."""
    metadata, kind = obj["metadata"], obj["kind"]
    name = metadata["name"]
    if kind == "ServiceAccount":
        return f"/api/v1/namespaces/{metadata['namespace']}/serviceaccounts/{name}"
    if kind == "Secret":
        return f"/api/v1/namespaces/{metadata['namespace']}/secrets/{name}"
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    plural = kind.lower() + "s"
    if metadata.get("namespace"):
        return f"{rbac}/namespaces/{metadata['namespace']}/{plural}/{name}"
    return f"{rbac}/{plural}/{name}"


def mint(
    kube: ClusterClient,
    member: str,
    namespace: str,
    types: Iterable[FederatedType],
    ttl_s: int,
    dry_run: bool = False,
) -> Minted:
    """Create (or bring up to date) the identity in the member and get it a token, with
    the operator's credentials. All or nothing: what this call created is removed again
    when a later step fails."""
    objects = ident.identity_objects(namespace, types)
    created: list[dict[str, Any]] = []
    try:
        _refuse_another_federation(kube, member, namespace)
        new_namespace = _ensure_namespace(kube, namespace, dry_run)
        for obj in objects:
            if dry_run and new_namespace and obj["metadata"].get("namespace"):
                continue  # a dry-run namespace holds nothing a next request could see
            if not _exists(kube, obj):
                created.append(obj)
            kube.apply(object_path(obj), obj, dry_run=dry_run)
        if dry_run:
            return Minted(objects, None)
        return Minted(objects, issue_token(kube, member, namespace, ttl_s))
    except FedError as err:  # API errors included: nothing stays half-made
        if not dry_run:
            _remove_quietly(kube, created)
        if isinstance(err, ApiError):
            raise FedError(_refusal(member, err)) from None
        raise


def update_role(
    kube: ClusterClient, member: str, namespace: str, types: Iterable[FederatedType]
) -> dict[str, Any]:
    """Rewrite the member ClusterRole for the federated types of now, and bring back
    whatever of the identity was deleted by hand (a binding, the ServiceAccount): sync,
    doctor and rotate send a person here when the identity is refused."""
    types = list(types)
    objects = ident.identity_objects(namespace, types)
    _refuse_another_federation(kube, member, namespace)
    try:
        _ensure_namespace(kube, namespace, dry_run=False)
        for obj in objects:
            kube.apply(object_path(obj), obj)
    except ApiError as err:
        raise FedError(_refusal(member, err)) from None
    _wait_enforced(kube, namespace, types)
    return next(o for o in objects if o["kind"] == "ClusterRole")


def _wait_enforced(
    kube: ClusterClient, namespace: str, types: list[FederatedType], timeout_s: float = 10.0
) -> None:
    """Return once the member's authorizer grants the identity every kind (its RBAC cache
    follows a role change a moment later), so a sync right after is not refused. Asked
    with SubjectAccessReviews; when those are not allowed, it does not wait."""
    reviews = [ident.access_review(namespace, t, "list") for t in types]
    deadline = time.monotonic() + timeout_s
    path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    while True:
        try:
            granted = all(kube.create(path, r).get("status", {}).get("allowed") for r in reviews)
        except ApiError:
            return
        if granted or time.monotonic() >= deadline:
            return
        time.sleep(0.2)


def issue_token(kube: ClusterClient, member: str, namespace: str, ttl_s: int) -> ident.Token:
    """A new token through the TokenRequest API, bound to a Secret of its own in the member
    (deleting that Secret revokes it); where the API is not served, the token a
    ServiceAccount token Secret receives from the member's token controller."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{ident.SERVICE_ACCOUNT}/token"
    issued = utc_now()
    holder = _new_holder(kube, namespace)
    try:
        answer = kube.create(path, ident.token_request(ttl_s, holder))
    except (NotFound, MethodNotAllowed) as err:
        _delete_holder(kube, namespace, holder)
        if isinstance(err, NotFound) and _missing(kube, path.removesuffix("/token")):
            raise FedError(
                f"member {member}: serviceaccount {namespace}/{ident.SERVICE_ACCOUNT} is "
                f"missing (deleted by hand?): `kubectl fed join {member} --update-role` "
                f"creates it again, then `kubectl fed rotate {member}` gets it a token"
            ) from None
        return _legacy_token(kube, member, namespace)
    except ApiError:
        _delete_holder(kube, namespace, holder)
        raise
    try:
        token = ident.token_from_answer(answer, issued)
    except ValueError as err:
        _delete_holder(kube, namespace, holder)
        raise FedError(f"member {member}: {err}") from None
    return dataclasses.replace(token, holder=holder["metadata"]["name"] if holder else "")


def _new_holder(kube: ClusterClient, namespace: str) -> dict[str, Any] | None:
    """The Secret a new token is bound to; None where it may not be created (an identity
    made before tokens were bound lacks the right): the token is then unbound."""
    try:
        created: dict[str, Any] = kube.create(
            f"/api/v1/namespaces/{namespace}/secrets", ident.token_holder(namespace)
        )
        return created
    except Unreachable:
        raise
    except (Forbidden, NotFound):
        return None


def _delete_holder(kube: ClusterClient, namespace: str, holder: dict[str, Any] | None) -> None:
    if holder is not None:
        revoke(kube, namespace, holder["metadata"]["name"])


def revoke(kube: ClusterClient, namespace: str, holder: str) -> bool:
    """Delete the Secret a token is bound to: from that moment the member refuses the
    token. False when it could not be deleted (the token then lives until it expires)."""
    if not holder:
        return False
    try:
        kube.delete(f"/api/v1/namespaces/{namespace}/secrets/{holder}")
    except NotFound:
        return True
    except ApiError:
        return False
    return True


def replace_token(
    host: Host, cluster: dict[str, Any], kube: ClusterClient, ttl_s: int
) -> ident.Token:
    """Issue a token with `kube` (the identity itself, or the operator), store it, then
    revoke the one it replaces. A token that could not be stored is revoked instead."""
    secret = host.member_secret(cluster) or {}
    old_holder = ident.holder_of(secret)
    token = issue_token(kube, cluster["metadata"]["name"], host.fed_namespace, ttl_s)
    try:
        store_token(host, cluster, token)
    except FedError:
        revoke(kube, host.fed_namespace, token.holder)
        raise
    if old_holder and old_holder != token.holder:
        revoke(kube, host.fed_namespace, old_holder)
    return token


def _legacy_token(kube: ClusterClient, member: str, namespace: str) -> ident.Token:
    secret = ident.legacy_token_secret(namespace)
    path = object_path(secret)
    # The token controller never changes a token it wrote: a new token takes a new
    # Secret (deleting the old one also revokes the token it held).
    with contextlib.suppress(NotFound):
        kube.delete(path)
    kube.apply(path, secret)
    deadline = time.monotonic() + LEGACY_TOKEN_WAIT_S
    while True:
        token = ident.token_from_legacy_secret(kube.get(path), utc_now())
        if token:
            return token
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    _remove_quietly(kube, [secret])
    raise FedError(
        f"member {member} serves no TokenRequest API and no token controller filled "
        f"secret {namespace}/{ident.LEGACY_TOKEN_SECRET}: join it with --credentials copy "
        "(your own credential is stored) or --credentials local"
    )


def remove(kube: ClusterClient, namespace: str) -> tuple[list[str], list[str]]:
    """Delete the identity's objects (bindings first, the ServiceAccount last).
    Returns (removed, left with why)."""
    removed: list[str] = []
    left: list[str] = []
    removed += _remove_holders(kube, namespace)
    candidates = [*ident.identity_objects(namespace, []), ident.legacy_token_secret(namespace)]
    for obj in reversed(candidates):
        what = ident.describe_object(obj)
        try:
            kube.delete(object_path(obj))
            removed.append(what)
        except NotFound:
            continue
        except Unreachable:
            raise
        except ApiError as err:
            left.append(f"{what} ({err.message})")
    return removed, left


def _remove_holders(kube: ClusterClient, namespace: str) -> list[str]:
    """The Secrets tokens are bound to: deleting them revokes every token at once."""
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        found = kube.get(path, labelSelector=f"{ident.TOKEN_HOLDER_LABEL}=true").get("items")
    except Unreachable:
        raise
    except ApiError:
        return []
    removed = []
    for secret in found or []:
        name = secret["metadata"]["name"]
        if revoke(kube, namespace, name):
            removed.append(f"secret/{namespace}/{name}")
    return removed


def leftovers(namespace: str) -> list[str]:
    """Every object join creates in a member, named as `remove` names them."""
    return [ident.describe_object(o) for o in ident.identity_objects(namespace, [])]


def _ensure_namespace(kube: ClusterClient, namespace: str, dry_run: bool) -> bool:
    """The fed namespace in the member; one join creates is labelled as kubectl-fed's.
    unjoin leaves it: deleting a namespace is slow and final (a join right after would
    find it terminating), and it may hold what others put there. True: it was missing."""
    try:
        kube.get(f"/api/v1/namespaces/{namespace}")
        return False
    except NotFound:
        metadata = {"name": namespace, "labels": ident.identity_labels()}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
        kube.create("/api/v1/namespaces", body, dry_run=dry_run)
        return True


def _refuse_another_federation(kube: ClusterClient, member: str, namespace: str) -> None:
    """The ClusterRole and ClusterRoleBinding `kubectl-fed` are cluster-scoped: bound to
    the ServiceAccount of another fed namespace, the cluster is a member of another
    federation, and taking the binding over would silently cut that one off."""
    try:
        binding = kube.get(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{ident.ROLE}")
    except ApiError:  # none, or not readable: the writes that follow say what RBAC allows
        return
    ours = ("ServiceAccount", ident.SERVICE_ACCOUNT, namespace)
    others = [
        s
        for s in binding.get("subjects") or []
        if (s.get("kind"), s.get("name"), s.get("namespace")) != ours
    ]
    if others:
        named = ", ".join(
            f"{s.get('kind', '').lower()} {s.get('namespace')}/{s.get('name')}" for s in others
        )
        raise FedError(
            f"member {member}: clusterrolebinding {ident.ROLE} binds {named}: the cluster "
            "is in another federation; unjoin it there first, or join it here with "
            "--credentials copy or --credentials local"
        )


def _missing(kube: ClusterClient, path: str) -> bool:
    """Known to be missing (not: could not be asked)."""
    try:
        kube.get(path)
        return False
    except NotFound:
        return True
    except ApiError:
        return False


def _exists(kube: ClusterClient, obj: dict[str, Any]) -> bool:
    try:
        kube.get(object_path(obj))
        return True
    except NotFound:
        return False


def _remove_quietly(kube: ClusterClient, objects: list[dict[str, Any]]) -> None:
    for obj in reversed(objects):
        try:
            kube.delete(object_path(obj))
        except ApiError:
            continue


def _refusal(member: str, err: ApiError) -> str:
    """A refusal to create RBAC objects names what was refused and the ways around it."""
    if isinstance(err, Forbidden):
        return (
            f"member {member}: cannot create its kubectl-fed identity: {err.message}: "
            "join it with --credentials copy (your own credential is stored) or "
            "--credentials local (nothing is stored)"
        )
    return f"member {member}: cannot create its kubectl-fed identity: {err.message}"


def read_cluster_id(kube: ClusterClient) -> str:
    """The uid of the cluster's kube-system namespace: the same by every URL, name or TLS
    setting that reaches the cluster, and new when the cluster is rebuilt."""
    namespace = kube.get(f"/api/v1/namespaces/{IDENTITY_NAMESPACE}")
    uid = str((namespace.get("metadata") or {}).get("uid") or "")
    if not uid:
        raise FedError(f"{kube.name}: namespace {IDENTITY_NAMESPACE} has no uid")
    return uid


# --------------------------------------------------------------------------- stored tokens


def store_token(host: Host, cluster: dict[str, Any], token: ident.Token) -> None:
    """Replace the token in the member's host Secret, with its lifetime."""
    from kubectl_fed.core import kubeadmiral

    secret_name = ((cluster.get("spec") or {}).get("secretRef") or {}).get("name")
    if not secret_name:
        raise FedError(f"cluster {cluster['metadata']['name']!r} has no spec.secretRef")
    # A token without expiry (legacy) or holder must not keep its predecessor's.
    annotations: dict[str, str | None] = {
        ident.TOKEN_EXPIRES_ANNOTATION: None,
        ident.TOKEN_HOLDER_ANNOTATION: None,
    }
    patch = {
        "metadata": {"annotations": {**annotations, **token.annotations()}},
        "data": {kubeadmiral.SECRET_TOKEN: base64.b64encode(token.value.encode()).decode()},
    }
    host.kube.merge_patch(host.secret_path(secret_name), patch)


def renew_due(
    host: Host, cluster: dict[str, Any], ttl_s: int | None = None, timeout: float | None = 30
) -> ident.Token | None:
    """Renew a minted member token that has used most of its lifetime, with the member
    identity's own right to request tokens for itself. None when none was due."""
    if credentials_mode(cluster) != "serviceaccount":
        return None
    secret = host.member_secret(cluster)
    if secret is None:
        return None
    lifetime = ident.lifetime_of(secret)
    if not lifetime.due(utc_now()) or lifetime.expired(utc_now()):
        return None  # an expired token cannot ask for another: `rotate` with a context
    return renew_with_identity(host, cluster, ttl_s or lifetime.ttl_s(), timeout)


def renew_with_identity(
    host: Host, cluster: dict[str, Any], ttl_s: int, timeout: float | None = 30
) -> ident.Token:
    kube = host.connect_member(cluster, timeout=timeout)
    try:
        return replace_token(host, cluster, kube, ttl_s)
    finally:
        kube.close()
