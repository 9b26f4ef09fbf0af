"""The member identity over its life: rotate its token, extend its role, remove it.

Rotation uses the identity's own right to request tokens for itself while its token is
valid; everything else (and a rotation after expiry) needs the operator's own
credentials for the member: `--cluster-context`, by default the context it was joined
with, and only once that context is shown to reach the very cluster that was joined.
"""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.clock import utc_now
from kubectl_fed.core.member_identity import Token, lifetime_of
from kubectl_fed.core.membership import credentials_mode, join_context, recorded_cluster_id
from kubectl_fed.errors import FedError
from kubectl_fed.kube import identity
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.connect import connect_context
from kubectl_fed.kube.errors import ApiError, Forbidden, Unauthorized
from kubectl_fed.kube.host import Host


def operator_client(
    host: Host,
    cluster: dict[str, Any],
    context: str | None,
    kubeconfig: str | None,
    timeout: float | None,
) -> ClusterClient:
    """A client of the member with the operator's credentials, shown to be the member."""
    name = cluster["metadata"]["name"]
    chosen = context or join_context(cluster)
    if not chosen:
        raise FedError(
            f"cluster {name}: name its kubeconfig context with --cluster-context "
            "(your own credentials for it are needed)"
        )
    kube = connect_context(kubeconfig, chosen, timeout)
    recorded = recorded_cluster_id(cluster)
    try:
        live = identity.read_cluster_id(kube) if recorded else ""
    except FedError:
        kube.close()
        raise
    if recorded and live != recorded:
        kube.close()
        raise FedError(
            f'context "{chosen}" reaches another cluster than member {name} (kube-system '
            f"uid {live}, joined as {recorded}): name the right one with --cluster-context"
        )
    return kube


def _minted_member(host: Host, name: str) -> dict[str, Any]:
    cluster = host.must_cluster(name)
    mode = credentials_mode(cluster)
    if mode != "serviceaccount":
        raise FedError(
            f"cluster {name} was joined with --credentials {mode}: kubectl-fed has no "
            f"identity of its own there; join it again with `kubectl fed join {name} "
            "--overwrite` (a ServiceAccount is the default)"
        )
    return cluster


def rotate(
    host: Host,
    name: str,
    context: str | None,
    kubeconfig: str | None,
    ttl_s: int | None,
    timeout: float | None,
) -> Token:
    """A new token for the member identity, stored in the host Secret. With the
    identity's own token while it is valid, else with the operator's context."""
    cluster = _minted_member(host, name)
    secret = host.member_secret(cluster)
    if secret is None:
        raise FedError(f"cluster {name}: its credential Secret is missing: join it again")
    lifetime = lifetime_of(secret)
    ttl = ttl_s or lifetime.ttl_s()
    if not context and not lifetime.expired(utc_now()):
        try:
            return identity.renew_with_identity(host, cluster, ttl, timeout)
        except (Unauthorized, Forbidden):
            # Revoked, expired early, its Role deleted, or a legacy token (a new one takes
            # a new Secret, which the identity may not write): the operator's turn.
            pass
    kube = operator_client(host, cluster, context, kubeconfig, timeout)
    try:
        return identity.replace_token(host, cluster, kube, ttl)
    finally:
        kube.close()


def update_role(
    host: Host, name: str, context: str | None, kubeconfig: str | None, timeout: float | None
) -> dict[str, Any]:
    """Rewrite the member's ClusterRole for today's federated types."""
    from kubectl_fed.planning.snapshot import federated_types

    cluster = _minted_member(host, name)
    kube = operator_client(host, cluster, context, kubeconfig, timeout)
    try:
        return identity.update_role(kube, name, host.fed_namespace, federated_types(host))
    finally:
        kube.close()


def remove_identity(
    host: Host,
    cluster: dict[str, Any],
    context: str | None,
    kubeconfig: str | None,
    timeout: float | None,
) -> tuple[list[str], list[str]]:
    """Remove what join created in the member. Returns (removed, warnings); a member that
    cannot be reached, or no usable context, leaves the objects named in a warning."""
    name = cluster["metadata"]["name"]
    if credentials_mode(cluster) != "serviceaccount":
        return [], []
    try:
        kube = operator_client(host, cluster, context, kubeconfig, timeout)
    except FedError as err:
        return [], [_leftovers(name, host.fed_namespace, err.message)]
    try:
        removed, left = identity.remove(kube, host.fed_namespace)
    except ApiError as err:
        return [], [_leftovers(name, host.fed_namespace, err.message)]
    finally:
        kube.close()
    warnings = [f"left in {name}: {what}" for what in left]
    return removed, warnings


def _leftovers(name: str, namespace: str, why: str) -> str:
    return (
        f"the kubectl-fed identity stays in {name} ({why}): "
        + ", ".join(identity.leftovers(namespace))
        + f"; remove them with your own credentials for {name} (kubectl delete ...)"
    )
