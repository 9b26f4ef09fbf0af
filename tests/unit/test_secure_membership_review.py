"""Review of issue "Secure membership": half-done states, dead ends and misleading advice
found by hunting, each held here (on the in-memory fake) so that it stays fixed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core import member_identity as ident
from kubectl_fed.errors import FedError
from kubectl_fed.kube import identity as kube_identity
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.host import Host
from kubectl_fed.ops import identity as ops_identity
from kubectl_fed.ops.doctor import doctor
from kubectl_fed.ops.membership import JoinRequest, join, unjoin
from kubectl_fed.sync.lease import LeaseLost
from tests.fake import FakeFederation
from tests.fake.cluster import FakeCluster

FED_NS = "kube-admiral-system"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
RBAC_KINDS = ("clusterroles", "clusterrolebindings")


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"], join=False) as fed:
        for name in fed.members:
            fed.join(name, credentials="serviceaccount")
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def secret_path(member: str) -> str:
    return f"/api/v1/namespaces/{FED_NS}/secrets/{member}-credentials"


def has_identity(member: FakeCluster) -> bool:
    found = [member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS)]
    found += [member.get(f"{kind}.rbac.authorization.k8s.io", ident.ROLE) for kind in RBAC_KINDS]
    return any(found)


def expire(fed: FakeFederation, member: str) -> None:
    now = datetime.now(timezone.utc)
    annotations = {
        ident.TOKEN_ISSUED_ANNOTATION: (now - timedelta(days=366)).strftime(STAMP),
        ident.TOKEN_EXPIRES_ANNOTATION: (now - timedelta(days=1)).strftime(STAMP),
    }
    fed.kube().merge_patch(secret_path(member), {"metadata": {"annotations": annotations}})


# --------------------------------------------------------------------------- join


def test_a_minted_token_that_does_not_open_the_member_leaves_no_identity() -> None:
    """Behind an authenticating proxy (Rancher, Teleport) the operator's context works
    and a ServiceAccount token does not: join fails, and must not leave the ServiceAccount,
    roles and bindings it just created (no host record names them for unjoin)."""
    with FakeFederation(["member-3"], join=False) as fed:
        member = fed.members["member-3"]
        serve = member._token_request

        def useless_token(route: Any, body: Any) -> Any:
            answer = serve(route, body)
            answer["status"]["token"] = "a-token-this-member-does-not-take"
            return answer

        member._token_request = useless_token  # type: ignore[method-assign]
        with pytest.raises(FedError, match="the minted kubectl-fed token does not open it"):
            fed.join("member-3", credentials="serviceaccount")
        assert fed.host.cluster("member-3") is None
        assert not has_identity(member)


def test_overwrite_with_copied_credentials_removes_the_identity(fed: FakeFederation) -> None:
    """`join --overwrite --credentials copy|local` of a member that had kubectl-fed's
    identity: nothing would ever remove it (unjoin removes only a serviceaccount member's)."""
    member = fed.members["member-1"]
    fed.join("member-1", credentials="copy", overwrite=True)
    assert not has_identity(member)
    fed.join("member-2", credentials="local", overwrite=True)
    assert not has_identity(fed.members["member-2"])


# --------------------------------------------------------------------------- unjoin


@pytest.mark.parametrize("broken", ["expired token", "no secretRef", "Secret missing"])
def test_unjoin_orphan_goes_ahead_when_the_stored_credential_is_unusable(
    fed: FakeFederation, broken: str
) -> None:
    """A member whose stored credential cannot be used can still be unjoined (as one that
    is down): the host side goes, the marks stay (said), and the identity is removed with
    the operator's context. `--cascade delete` refuses, in one line."""
    if broken == "expired token":
        expire(fed, "member-1")
    elif broken == "Secret missing":
        fed.kube().delete(secret_path("member-1"))
    else:
        path = f"/apis/{kubeadmiral.API_VERSION}/{kubeadmiral.FEDERATED_CLUSTERS}/member-1"
        fed.kube().merge_patch(path, {"spec": {"secretRef": None}})
    with pytest.raises(FedError, match="cannot delete the objects in member-1"):
        unjoin(fed.host, "member-1", "delete", fed.timeout, None, str(fed.kubeconfig))
    assert fed.host.cluster("member-1") is not None
    done = unjoin(fed.host, "member-1", "orphan", fed.timeout, None, str(fed.kubeconfig))
    assert fed.host.cluster("member-1") is None
    assert any("keep their federation marks" in w for w in done.warnings), done.warnings
    assert not has_identity(fed.members["member-1"])


# --------------------------------------------------------------------------- repairs


def test_update_role_restores_bindings_deleted_by_hand(fed: FakeFederation) -> None:
    """sync and doctor answer a refused kind with `join NAME --update-role`: that must
    also bring back a binding someone deleted, or the advice goes round in circles."""
    member = fed.members["member-1"]
    admin = member.kube()
    admin.delete(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{ident.ROLE}")
    admin.delete(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{FED_NS}/rolebindings/{ident.ROLE}"
    )
    ops_identity.update_role(fed.host, "member-1", None, str(fed.kubeconfig), fed.timeout)
    assert member.get("clusterrolebindings.rbac.authorization.k8s.io", ident.ROLE) is not None
    assert member.get("rolebindings.rbac.authorization.k8s.io", ident.ROLE, FED_NS) is not None


def test_rotate_names_a_service_account_deleted_by_hand(
    fed: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TokenRequest for a ServiceAccount that is gone is a 404 too: that is not "no
    TokenRequest API" (a 10 s wait, then advice to store your own credential instead)."""
    monkeypatch.setattr(kube_identity, "LEGACY_TOKEN_WAIT_S", 5.0)
    member = fed.members["member-1"]
    member.kube().delete(f"/api/v1/namespaces/{FED_NS}/serviceaccounts/{ident.SERVICE_ACCOUNT}")
    with pytest.raises(FedError) as raised:
        ops_identity.rotate(fed.host, "member-1", None, str(fed.kubeconfig), None, fed.timeout)
    message = raised.value.message
    assert "TokenRequest" not in message and "--credentials copy" not in message, message
    assert f"serviceaccount {FED_NS}/{ident.SERVICE_ACCOUNT}" in message
    assert "kubectl fed join member-1 --update-role" in message
    assert member.get("secrets", ident.LEGACY_TOKEN_SECRET, FED_NS) is None
    # The advice works: the identity is back, and rotate gets it a token.
    ops_identity.update_role(fed.host, "member-1", None, str(fed.kubeconfig), fed.timeout)
    token = ops_identity.rotate(fed.host, "member-1", None, str(fed.kubeconfig), None, 5)
    assert member.issued[token.value][0] == ident.username(FED_NS)
    assert fed.run_pass().unreachable == {}


# --------------------------------------------------------------------------- legacy tokens


def token_controller(member: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member without the TokenRequest API whose token controller fills token Secrets
    (a new token for each new Secret)."""
    member.token_requests = False
    real_get = ClusterClient.get
    count = iter(range(1, 1000))

    def get(self: Any, path: str, **query: Any) -> Any:
        found = real_get(self, path, **query)
        if path.endswith(f"/secrets/{ident.LEGACY_TOKEN_SECRET}") and "data" not in found:
            token = f"legacy-token-{next(count)}"
            member.issued[token] = (ident.username(FED_NS), 4e9)
            member.kube().merge_patch(
                path, {"data": {"token": base64.b64encode(token.encode()).decode()}}
            )
            found = real_get(self, path, **query)
        return found

    monkeypatch.setattr(ClusterClient, "get", get)


def test_rotate_replaces_a_legacy_token_and_forgets_the_old_expiry(
    base: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the TokenRequest API, `rotate` must give a new token (README: "rotate
    replaces them"), not hand back the one the Secret already holds; and the expiry of
    an earlier TokenRequest token must not stay on the host Secret (it would later make
    every command refuse the member as expired)."""
    with FakeFederation(["member-3"], join=False) as fed:
        fed.join("member-3", credentials="serviceaccount")  # a TokenRequest token first
        member = fed.members["member-3"]
        token_controller(member, monkeypatch)
        first = ops_identity.rotate(fed.host, "member-3", None, str(fed.kubeconfig), None, 5)
        second = ops_identity.rotate(fed.host, "member-3", None, str(fed.kubeconfig), None, 5)
        assert first.value != second.value
        secret = fed.kube().get(secret_path("member-3"))
        assert ident.lifetime_of(secret).expires is None
        assert fed.run_pass().unreachable == {}


# --------------------------------------------------------------------------- bad Secrets


def test_a_secret_holding_bytes_that_are_not_text_is_named_not_a_crash(
    fed: FakeFederation,
) -> None:
    """Secret data is base64 of any bytes (the apiserver checks only the base64): a token
    or proxy URL that is not UTF-8 made every sync and unjoin end in an internal error."""
    fed.kube().merge_patch(secret_path("member-1"), {"data": {"proxy-url": "/w=="}})
    report = fed.run_pass()
    assert "proxy-url" in report.unreachable["member-1"]
    assert report.unreachable.get("member-2") is None
    done = unjoin(fed.host, "member-1", "orphan", fed.timeout, None, str(fed.kubeconfig))
    assert fed.host.cluster("member-1") is None and done.warnings


# --------------------------------------------------------------------------- renewal in sync


def make_due(fed: FakeFederation, member: str) -> None:
    now = datetime.now(timezone.utc)
    annotations = {
        ident.TOKEN_ISSUED_ANNOTATION: (now - timedelta(days=300)).strftime(STAMP),
        ident.TOKEN_EXPIRES_ANNOTATION: (now + timedelta(days=65)).strftime(STAMP),
    }
    fed.kube().merge_patch(secret_path(member), {"metadata": {"annotations": annotations}})


def test_a_lost_lease_ends_the_pass_not_a_renewal_warning(fed: FakeFederation) -> None:
    """LeaseLost is a FedError: caught as "token not renewed", the pass went on as if it
    still held the lease."""
    make_due(fed, "member-1")

    def fence() -> None:
        raise LeaseLost("another sync holds the lease")

    fed.host.kube.fence = fence
    with pytest.raises(LeaseLost):
        fed.run_pass()


def test_renewal_uses_the_request_timeout(
    fed: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewal ran with a fixed 30 s per member, whatever --request-timeout says: a member
    that swallows packets held every full pass of its token's last 20% for 30 s."""
    make_due(fed, "member-1")
    seen: list[float | None] = []
    connect = Host.connect_member

    def spy(self: Host, cluster: dict[str, Any], timeout: float | None, pool_size: int = 8) -> Any:
        seen.append(timeout)
        return connect(self, cluster, timeout, pool_size)

    monkeypatch.setattr(Host, "connect_member", spy)
    fed.run_pass()
    assert seen and set(seen) == {fed.timeout}


# --------------------------------------------------------------------------- doctor


def test_doctor_fails_a_credential_the_member_refuses(fed: FakeFederation) -> None:
    """A stored token the member refuses (its ServiceAccount deleted, revoked) cannot do
    anything: WARN ("cannot ask what it may do") understated it."""
    token = base64.b64encode(b"a-token-nobody-issued").decode()
    fed.kube().merge_patch(secret_path("member-1"), {"data": {kubeadmiral.SECRET_TOKEN: token}})
    checks = {c.name: c for c in doctor(fed.host, fed.timeout)}
    assert checks["credentials member-1"].status == "FAIL", checks["credentials member-1"]
    assert "refused" in checks["credentials member-1"].detail


# --------------------------------------------------------------------------- another federation


def bind_elsewhere(member: FakeCluster) -> list[dict[str, str]]:
    """The member as another federation (fed namespace fed-b) left it: the one
    ClusterRoleBinding `kubectl-fed` binds that federation's ServiceAccount."""
    path = f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{ident.ROLE}"
    foreign = [{"kind": "ServiceAccount", "name": ident.SERVICE_ACCOUNT, "namespace": "fed-b"}]
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ident.ROLE}
    metadata: dict[str, Any] = {"name": ident.ROLE}
    admin = member.kube()
    live = member.get("clusterrolebindings.rbac.authorization.k8s.io", ident.ROLE)
    if live:
        metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
    body = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": role_ref,
        "subjects": foreign,
    }
    if live:
        admin.replace(path, body)
    else:
        admin.create(path.rsplit("/", 1)[0], body)
    return foreign


def test_join_refuses_a_member_whose_kubectl_fed_binding_is_another_federations() -> None:
    """Two federations (fed namespaces) share the cluster-scoped names: the second join
    rebound `kubectl-fed` to its own ServiceAccount and the first federation lost every
    permission there, silently; its `--update-role` took them back, and so on."""
    with FakeFederation(["member-3"], join=False) as fed:
        member = fed.members["member-3"]
        foreign = bind_elsewhere(member)
        with pytest.raises(FedError, match="another federation") as raised:
            fed.join("member-3", credentials="serviceaccount")
        assert "fed-b" in raised.value.message
        binding = member.must("clusterrolebindings.rbac.authorization.k8s.io", ident.ROLE)
        assert binding["subjects"] == foreign
        assert member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS) is None
        assert fed.host.cluster("member-3") is None


def test_update_role_refuses_to_take_the_binding_back(fed: FakeFederation) -> None:
    member = fed.members["member-1"]
    foreign = bind_elsewhere(member)
    with pytest.raises(FedError, match="another federation"):
        ops_identity.update_role(fed.host, "member-1", None, str(fed.kubeconfig), fed.timeout)
    binding = member.must("clusterrolebindings.rbac.authorization.k8s.io", ident.ROLE)
    assert binding["subjects"] == foreign


def test_a_server_dry_run_join_of_a_new_member_writes_nothing_and_succeeds() -> None:
    """The fed namespace a dry run "creates" in the member does not exist for the next
    dry-run request: the Role, RoleBinding and ServiceAccount in it were refused with
    "namespaces not found", so `join --dry-run=server` failed on every new member."""
    with FakeFederation(["member-3"], join=False) as fed:
        request = JoinRequest(
            name="member-3",
            context="member-3",
            kubeconfig=str(fed.kubeconfig),
            labels={},
            taints=[],
            credentials="serviceaccount",
            overwrite=False,
            dry_run="server",
        )
        joined = join(fed.host, request, fed.timeout)
        kinds = {o["kind"] for o in joined.objects}
        assert {"ServiceAccount", "ClusterRole", "RoleBinding", "FederatedCluster"} <= kinds
        member = fed.members["member-3"]
        assert member.get("namespaces", FED_NS) is None and not has_identity(member)
        assert fed.host.cluster("member-3") is None
