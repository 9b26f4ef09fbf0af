"""The identity kubectl-fed gives itself in a member: a ServiceAccount, the roles holding
exactly what the federation does there, and the lifetime of its tokens.

KubeAdmiral, Karmada and KubeFed bind their member ServiceAccount to every verb on every
resource and never rotate its token. Here the ClusterRole lists the federated types (and
what sync reads besides), and the identity may request new tokens for itself only, so
that sync renews them without a person.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from kubectl_fed.core import clock, kubeadmiral, marks
from kubectl_fed.core.clock import human_duration
from kubectl_fed.core.federated_types import FederatedType
from kubectl_fed.core.permissions import Permission

SERVICE_ACCOUNT: Final = "kubectl-fed"
# One name for the ClusterRole, the ClusterRoleBinding, the Role and the RoleBinding: a
# person looking for "what did kubectl-fed create here" finds them all with one name.
ROLE: Final = "kubectl-fed"
# Where the TokenRequest API is not served, the token controller fills this Secret.
LEGACY_TOKEN_SECRET: Final = "kubectl-fed-token"
LEGACY_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"

DEFAULT_TOKEN_TTL_S: Final = 365 * 24 * 3600
MIN_TOKEN_TTL_S: Final = 600  # the TokenRequest API refuses shorter lifetimes
# Sync renews a token once this share of its lifetime is used: early enough that a sync
# run now and then (not continuously) still finds it valid.
RENEW_AFTER: Final = 0.8
EXPIRY_WARNING_S: Final = 7 * 24 * 3600

# On the host Secret: when the stored token was issued and when it expires (from the
# TokenRequest answer; the token itself is never decoded for this).
TOKEN_ISSUED_ANNOTATION: Final = "kubectl-fed.io/token-issued"
TOKEN_EXPIRES_ANNOTATION: Final = "kubectl-fed.io/token-expires"
# ... and which Secret in the member the token is bound to (deleting it revokes the token).
TOKEN_HOLDER_ANNOTATION: Final = "kubectl-fed.io/token-holder"
TOKEN_HOLDER_LABEL: Final = "kubectl-fed.io/token-holder"

# What every member copy needs besides the federated types: the members' namespaces are
# listed (and created where an object lands), kube-system is read for the member's
# identity, and discovery tells which kinds a member serves.
# Copies are written by server-side apply (patch), never replaced (update); namespaces are
# created where an object lands. A unit test holds these to what sync, adopt and unjoin
# actually send.
WRITE_VERBS: Final = ("get", "list", "watch", "create", "patch", "delete")
DISCOVERY_URLS: Final = ("/api", "/api/*", "/apis", "/apis/*", "/version")
# Read to record the member's capacity (FederatedCluster status.resources, core/capacity):
# its nodes and the requests of its pods, listed, never changed.
CAPACITY_READS: Final = ("nodes", "pods")

CREDENTIAL_MODES: Final = ("serviceaccount", "copy", "local")
_NAMESPACES: Final = FederatedType("", "v1", "Namespace", "namespaces", False)


def identity_labels() -> dict[str, str]:
    return {marks.MANAGED_BY_LABEL: marks.MANAGED_BY}


def username(namespace: str) -> str:
    """How the member's apiserver names the identity (in refusals and audit logs)."""
    return f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"


def cluster_rules(types: Iterable[FederatedType]) -> list[dict[str, Any]]:
    """The member ClusterRole: the federated types' verbs, namespaces, listing nodes and
    pods (the member's capacity), and discovery.

    Nothing else: a FederatedTypeConfig that adds a kind needs `join --update-role`.
    Federated RBAC objects can grant only what this role holds (no `escalate`/`bind`):
    RBAC refuses the rest, which keeps the identity from granting itself more.
    """
    by_group: dict[str, set[str]] = {}
    for ftype in types:
        by_group.setdefault(ftype.group, set()).add(ftype.plural)
    by_group.setdefault("", set()).add("namespaces")
    rules: list[dict[str, Any]] = [
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": list(WRITE_VERBS)}
        for group, plurals in sorted(by_group.items())
    ]
    rules.append({"apiGroups": [""], "resources": list(CAPACITY_READS), "verbs": ["list"]})
    rules.append({"nonResourceURLs": list(DISCOVERY_URLS), "verbs": ["get"]})
    return rules


def namespace_rules() -> list[dict[str, Any]]:
    """The member Role in the fed namespace: new tokens for itself, and the Secrets they
    are bound to (created for a new token, deleted to revoke the old one)."""
    return [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": [SERVICE_ACCOUNT],
            "verbs": ["create"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"]},
    ]


def identity_objects(namespace: str, types: Iterable[FederatedType]) -> list[dict[str, Any]]:
    """What join creates in a member, in creation order (unjoin removes them in reverse)."""
    meta = {"name": ROLE, "labels": identity_labels()}
    subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}]
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace, "labels": meta["labels"]},
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": dict(meta),
            "rules": cluster_rules(types),
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": dict(meta),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": ROLE,
            },
            "subjects": subject,
        },
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {**meta, "namespace": namespace},
            "rules": namespace_rules(),
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {**meta, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
            "subjects": subject,
        },
    ]


def access_review(namespace: str, ftype: FederatedType, verb: str) -> dict[str, Any]:
    """A SubjectAccessReview: may the member identity `verb` this kind?"""
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": username(namespace),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
            "resourceAttributes": {
                "verb": verb,
                "group": ftype.group,
                "resource": ftype.plural,
            },
        },
    }


def describe_object(obj: dict[str, Any]) -> str:
    """`clusterrole/kubectl-fed`, `serviceaccount/kube-admiral-system/kubectl-fed`."""
    metadata = obj["metadata"]
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{obj['kind'].lower()}/{where}{metadata['name']}"


def token_request(ttl_s: int, holder: dict[str, Any] | None = None) -> dict[str, Any]:
    """A TokenRequest; with a holder, the token is bound to that Secret: it stops working
    the moment the Secret is deleted (how rotate revokes the token it replaces)."""
    spec: dict[str, Any] = {"expirationSeconds": ttl_s}
    if holder is not None:
        metadata = holder["metadata"]
        spec["boundObjectRef"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "name": metadata["name"],
            "uid": metadata["uid"],
        }
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def token_holder(namespace: str) -> dict[str, Any]:
    """An empty Secret a token is bound to (its name generated by the member)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "generateName": f"{SERVICE_ACCOUNT}-token-",
            "namespace": namespace,
            "labels": {**identity_labels(), TOKEN_HOLDER_LABEL: "true"},
        },
    }


def legacy_token_secret(namespace: str) -> dict[str, Any]:
    """A Secret the token controller fills with a non-expiring token (clusters without
    the TokenRequest API)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": LEGACY_TOKEN_TYPE,
        "metadata": {
            "name": LEGACY_TOKEN_SECRET,
            "namespace": namespace,
            "labels": identity_labels(),
            "annotations": {"kubernetes.io/service-account.name": SERVICE_ACCOUNT},
        },
    }


@dataclass(frozen=True)
class Token:
    """A token for the member identity. Never printed: see __repr__."""

    value: str
    issued: datetime
    expires: datetime | None  # None: a legacy token, valid until its Secret is deleted
    holder: str = ""  # the member Secret it is bound to ("" when not bound)

    def __repr__(self) -> str:
        return f"Token(<redacted>, issued={self.issued}, expires={self.expires})"

    def annotations(self) -> dict[str, str]:
        out = {TOKEN_ISSUED_ANNOTATION: _stamp(self.issued)}
        if self.expires:
            out[TOKEN_EXPIRES_ANNOTATION] = _stamp(self.expires)
        if self.holder:
            out[TOKEN_HOLDER_ANNOTATION] = self.holder
        return out


def holder_of(secret: dict[str, Any]) -> str:
    """The member Secret the stored token is bound to ("" for none)."""
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(TOKEN_HOLDER_ANNOTATION) or "")


def token_from_answer(answer: dict[str, Any], issued: datetime) -> Token:
    """The TokenRequest answer -> Token (the server may shorten the lifetime asked)."""
    status = answer.get("status") or {}
    value = str(status.get("token") or "")
    if not value:
        raise ValueError("the TokenRequest answer holds no token")
    expires = parse_time(str(status.get("expirationTimestamp") or ""))
    return Token(value, issued, expires)


def token_from_legacy_secret(secret: dict[str, Any], issued: datetime) -> Token | None:
    """The token the token controller wrote, or None while it has not."""
    raw = (secret.get("data") or {}).get("token")
    if not raw:
        return None
    try:
        return Token(base64.b64decode(raw).decode(), issued, None)
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class TokenLifetime:
    """What the host Secret records of its token."""

    issued: datetime | None
    expires: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def due(self, now: datetime) -> bool:
        """Used RENEW_AFTER of its lifetime (or expired): sync renews it."""
        if self.expires is None:
            return False
        if self.issued is None or self.issued >= self.expires:
            return now >= self.expires
        return now >= self.issued + (self.expires - self.issued) * RENEW_AFTER

    def ttl_s(self) -> int:
        """The lifetime the token was issued with (for its successor), default if unknown."""
        if self.issued is None or self.expires is None or self.expires <= self.issued:
            return DEFAULT_TOKEN_TTL_S
        return max(MIN_TOKEN_TTL_S, round((self.expires - self.issued).total_seconds()))

    def expiring_soon(self, now: datetime) -> bool:
        return self.expires is not None and self.expires - now < timedelta(seconds=EXPIRY_WARNING_S)


def lifetime_of(secret: dict[str, Any]) -> TokenLifetime:
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return TokenLifetime(
        parse_time(annotations.get(TOKEN_ISSUED_ANNOTATION, "")),
        parse_time(annotations.get(TOKEN_EXPIRES_ANNOTATION, "")),
    )


def parse_time(text: str) -> datetime | None:
    """A recorded time; None for none or for one that cannot be read (then the token is
    treated as of unknown lifetime, never as expired)."""
    try:
        return clock.parse(text)
    except ValueError:
        return None


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def token_subject(token: str) -> str:
    """The `sub` claim of a JWT (`system:serviceaccount:NS:NAME`), "" when it is not one.
    Only to tell kinds of credentials apart in `doctor`; nothing trusts it."""
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return ""
    return str(payload.get("sub") or "") if isinstance(payload, dict) else ""


def expired_token_message(member: str, secret: dict[str, Any], now: datetime) -> str:
    """Why a member cannot be reached with its stored token ("" when it has not expired):
    said before a request is sent, so that every command names the cause."""
    lifetime = lifetime_of(secret)
    if lifetime.expires is None or not lifetime.expired(now):
        return ""
    return (
        f"cluster {member}: its kubectl-fed token expired at {_stamp(lifetime.expires)}: "
        f"run `kubectl fed rotate {member}`"
    )


@dataclass(frozen=True)
class CredentialDescription:
    status: str  # "OK" | "WARN" | "FAIL", as doctor's checks
    text: str


def describe_credential(
    member: str, mode: str, secret: dict[str, Any], namespace: str, now: datetime
) -> CredentialDescription:
    """What a member Secret holds and how long it lives, in one line, with a verdict on
    its lifetime alone (expired: FAIL; under 7 days left: WARN)."""
    data = secret.get("data") or {}
    if mode == "serviceaccount":
        kind = f"ServiceAccount token ({username(namespace)})"
    elif kubeadmiral.SECRET_TOKEN in data:
        subject = token_subject(_decoded(data[kubeadmiral.SECRET_TOKEN]))
        kind = f"copied token ({subject})" if subject else "copied token"
    elif kubeadmiral.SECRET_CERT in data:
        kind = "copied client certificate"
    else:
        return CredentialDescription("FAIL", "the Secret holds no credential: join it again")
    lifetime = lifetime_of(secret)
    if lifetime.expires is None:
        return CredentialDescription("OK", f"{kind}, expiry not recorded")
    until = _stamp(lifetime.expires)
    if lifetime.expired(now):
        return CredentialDescription(
            "FAIL",
            f"{kind} expired at {until}: run `kubectl fed rotate {member}`",
        )
    left = human_duration((lifetime.expires - now).total_seconds())
    if lifetime.expiring_soon(now):
        return CredentialDescription(
            "WARN", f"{kind} expires at {until} (in {left}): run `kubectl fed rotate {member}`"
        )
    return CredentialDescription("OK", f"{kind}, expires at {until} (in {left})")


def member_permissions(types: Iterable[FederatedType]) -> list[Permission]:
    """What the member role must allow, as questions `doctor` asks the member."""
    return [
        *(
            Permission(verb, ftype.plural, ftype.group)
            for ftype in [*types, _NAMESPACES]
            for verb in ("list", "patch")
        ),
        *(Permission("list", plural) for plural in CAPACITY_READS),
    ]


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
