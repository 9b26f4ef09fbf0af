"""kubectl-fed's own identity in members: the role (exactly what sync uses), the minted
token, its renewal and rotation, and the bad input of issue "Secure membership".

Orchestration runs on the in-memory fake (tests/fake); what depends on a real apiserver's
RBAC and TokenRequest is in tests/e2e/test_secure_membership.py.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core import member_identity as ident
from kubectl_fed.core.federated_types import default_types
from kubectl_fed.core.marks import CREDENTIALS_ANNOTATION
from kubectl_fed.core.objects import ObjectKey
from kubectl_fed.core.permissions import allowed_by, sync_role_objects
from kubectl_fed.errors import FedError
from kubectl_fed.kube import identity as kube_identity
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import identity as ops_identity
from kubectl_fed.ops.adopt import AdoptRequest, adopt
from kubectl_fed.ops.membership import unjoin
from kubectl_fed.sync.loop import Stopper, run_forever
from tests.fake import FakeFederation, run_pass
from tests.fake.cluster import FakeCluster, RequestRecord
from tests.fake.objects import configmap, deployment, namespace, policy

NS = "shop"
FED_NS = "kube-admiral-system"
SA_USER = ident.username(FED_NS)
RBAC = "rbac.authorization.k8s.io/v1"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"], join=False) as fed:
        for name in fed.members:
            fed.join(name, credentials="serviceaccount")
        fed.kube().create("/api/v1/namespaces", namespace(NS))
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def secret_of(fed: FakeFederation, member: str) -> dict[str, Any]:
    found: dict[str, Any] = fed.kube().get(
        f"/api/v1/namespaces/{FED_NS}/secrets/{member}-credentials"
    )
    return found


def stored_token(fed: FakeFederation, member: str) -> str:
    data = secret_of(fed, member)["data"]
    return base64.b64decode(data[kubeadmiral.SECRET_TOKEN]).decode()


# --------------------------------------------------------------------------- join


def test_join_stores_only_the_minted_token(fed: FakeFederation) -> None:
    secret = secret_of(fed, "member-1")
    assert set(secret["data"]) <= {
        kubeadmiral.SECRET_TOKEN,
        kubeadmiral.SECRET_TOKEN_CA,
        kubeadmiral.SECRET_CA,
    }
    token = stored_token(fed, "member-1")
    member = fed.members["member-1"]
    assert token != member.token and member.issued[token][0] == SA_USER
    cluster = fed.host.must_cluster("member-1")
    # What KubeAdmiral's controllers need to read it (spec.useServiceAccount).
    assert cluster["spec"]["useServiceAccount"] is True
    assert cluster["metadata"]["annotations"][CREDENTIALS_ANNOTATION] == "serviceaccount"
    annotations = secret["metadata"]["annotations"]
    lifetime = ident.lifetime_of(secret)
    assert lifetime.issued and lifetime.expires
    assert ident.TOKEN_EXPIRES_ANNOTATION in annotations
    assert 364 <= (lifetime.expires - lifetime.issued).days <= 365


def test_join_creates_the_identity_in_the_member(fed: FakeFederation) -> None:
    member = fed.members["member-1"]
    assert member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS)
    role = member.must("clusterroles.rbac.authorization.k8s.io", ident.ROLE)
    assert role["rules"] == ident.cluster_rules(default_types())
    binding = member.must("clusterrolebindings.rbac.authorization.k8s.io", ident.ROLE)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": ident.SERVICE_ACCOUNT, "namespace": FED_NS}
    ]
    own = member.must("roles.rbac.authorization.k8s.io", ident.ROLE, FED_NS)
    assert own["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": [ident.SERVICE_ACCOUNT],
            "verbs": ["create"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"]},
    ]
    # The stored token is bound to a Secret of its own, recorded on the host Secret.
    holder = ident.holder_of(secret_of(fed, "member-1"))
    assert holder.startswith("kubectl-fed-token-") and member.get("secrets", holder, FED_NS)


def test_a_refused_rbac_write_names_it_and_leaves_nothing(base: FakeFederation) -> None:
    with FakeFederation(["member-3"], join=False) as fed:
        member = fed.members["member-3"]
        member.fail_next("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 403)
        with pytest.raises(FedError) as raised:
            fed.join("member-3", credentials="serviceaccount")
        message = raised.value.message
        assert "clusterrolebindings" in message and "patch" in message
        assert "--credentials copy" in message and "--credentials local" in message
        assert member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS) is None
        assert member.get("clusterroles.rbac.authorization.k8s.io", ident.ROLE) is None
        assert fed.host.cluster("member-3") is None
        assert not fed.host_cluster.objects("secrets", FED_NS)


def test_no_token_request_api_and_no_token_controller(
    base: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube_identity, "LEGACY_TOKEN_WAIT_S", 0.2)
    with FakeFederation(["member-3"], join=False) as fed:
        member = fed.members["member-3"]
        member.token_requests = False
        with pytest.raises(FedError, match="no TokenRequest API and no token controller"):
            fed.join("member-3", credentials="serviceaccount")
        assert member.get("secrets", ident.LEGACY_TOKEN_SECRET, FED_NS) is None
        assert member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS) is None
        assert fed.host.cluster("member-3") is None


def test_a_token_controller_fills_the_legacy_secret(
    base: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the TokenRequest API, the token controller's (non-expiring) token is used."""
    with FakeFederation(["member-3"], join=False) as fed:
        member = fed.members["member-3"]
        member.token_requests = False
        real_get = ClusterClient.get

        def get(self: Any, path: str, **query: Any) -> Any:
            found = real_get(self, path, **query)
            if path.endswith(f"/secrets/{ident.LEGACY_TOKEN_SECRET}") and "data" not in found:
                member.issued["legacy-token"] = (SA_USER, 4e9)
                found["data"] = {"token": base64.b64encode(b"legacy-token").decode()}
            return found

        monkeypatch.setattr(ClusterClient, "get", get)
        fed.join("member-3", credentials="serviceaccount")
        assert stored_token(fed, "member-3") == "legacy-token"
        assert ident.lifetime_of(secret_of(fed, "member-3")).expires is None


def test_plain_http_gets_no_token(base: FakeFederation) -> None:
    with FakeFederation(["member-3"], join=False, init=True) as fed:
        document = fed.kubeconfig.read_text().replace(
            "https://member-3.fake:6443", "http://member-3.fake:6443"
        )
        fed.kubeconfig.write_text(document)
        with pytest.raises(FedError, match="plain http: a token would travel in clear"):
            fed.join("member-3", credentials="serviceaccount")


# --------------------------------------------------------------------------- the role


def request_attributes(record: RequestRecord) -> tuple[str, str, str, str, str]:
    """(verb, group, resource[/sub], namespace, name) as the RBAC authorizer sees it."""
    parts = record.path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource += "/" + rest[2]
    query = parse_qs(record.query)
    method = record.method
    if method == "WATCH":
        return "watch", group, resource, namespace, name
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        if method == "DELETE" and not name:
            verb = "deletecollection"
    return verb, group, resource, namespace, name


def is_discovery(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) < (3 if parts[0] == "api" else 4)


def resource_requests(cluster: FakeCluster, user: str | None = None) -> list[RequestRecord]:
    return [
        r
        for r in cluster.requests
        if r.path.startswith(("/api/", "/apis/"))
        and not is_discovery(r.path)
        and (user is None or r.user == user)
        and not r.path.startswith("/apis/authorization.k8s.io/")  # reviews: anyone may
    ]


def discovery_requests(cluster: FakeCluster, user: str) -> list[str]:
    return [
        r.path
        for r in cluster.requests
        if r.user == user and (r.path in ("/api", "/apis", "/version") or is_discovery(r.path))
    ]


EVERY_KIND: dict[str, dict[str, Any]] = {
    # plural path -> a template of that kind (namespaced ones in NS)
    "/api/v1/namespaces/shop/secrets": {"apiVersion": "v1", "kind": "Secret", "data": {}},
    "/api/v1/namespaces/shop/serviceaccounts": {"apiVersion": "v1", "kind": "ServiceAccount"},
    "/api/v1/namespaces/shop/persistentvolumeclaims": {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
    "/api/v1/namespaces/shop/services": {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"port": 80}]},
    },
    "/apis/apps/v1/namespaces/shop/statefulsets": {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "spec": {
            "replicas": 1,
            "serviceName": "x",
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    },
    "/apis/batch/v1/namespaces/shop/cronjobs": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    },
    f"/apis/{RBAC}/namespaces/shop/roles": {"apiVersion": RBAC, "kind": "Role", "rules": []},
    f"/apis/{RBAC}/clusterroles": {"apiVersion": RBAC, "kind": "ClusterRole", "rules": []},
}


def federate_every_kind(fed: FakeFederation) -> None:
    host = fed.kube()
    host.create(fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS), policy("all", NS))
    cpp = policy("all", "")
    cpp["kind"] = "ClusterPropagationPolicy"
    del cpp["metadata"]["namespace"]
    host.create(fed_path(kubeadmiral.CLUSTER_PROPAGATION_POLICIES), cpp)
    host.create(
        f"/apis/apps/v1/namespaces/{NS}/deployments", deployment("web", NS, policy_name="all")
    )
    host.create(f"/api/v1/namespaces/{NS}/configmaps", configmap("conf", NS, policy_name="all"))
    # A namespace left out of auto-propagation is created bare where an object lands.
    private = {
        **namespace("private"),
        "metadata": {
            "name": "private",
            "annotations": {"kubeadmiral.io/no-auto-propagation": "true"},
        },
    }
    host.create("/api/v1/namespaces", private)
    host.create(
        fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace="private"), policy("all", "private")
    )
    host.create(
        "/api/v1/namespaces/private/configmaps", configmap("conf", "private", policy_name="all")
    )
    for path, body in EVERY_KIND.items():
        cluster_scoped = "/namespaces/" not in path
        label = (
            "kubeadmiral.io/" + ("cluster-" if cluster_scoped else "") + "propagation-policy-name"
        )
        meta: dict[str, Any] = {"name": "fed-x", "labels": {label: "all"}}
        if not cluster_scoped:
            meta["namespace"] = NS
        host.create(path, {**body, "metadata": meta})


def sync_continuously_until_members_are_watched(fed: FakeFederation) -> None:
    stopper = Stopper()
    thread = threading.Thread(
        target=run_forever,
        args=(fed.host, fed.reconciler(), 300.0, lambda _r, _full: None, stopper),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 20
    member = fed.members["member-1"]
    try:
        while not any(r.method == "WATCH" and r.user == SA_USER for r in member.requests):
            assert time.monotonic() < deadline, "no watch of a member"
            time.sleep(0.05)
    finally:
        stopper.event.set()
        thread.join(timeout=30)


def test_the_member_role_allows_every_request_sync_makes_and_no_more(
    fed: FakeFederation,
) -> None:
    """Objects of every default kind are federated, updated, adopted, deleted and
    orphaned by unjoin, all with the minted identity; each request it made must be one
    the member ClusterRole (or its own Role) allows, and each kind and verb the role
    grants must have been used."""
    federate_every_kind(fed)
    sync_continuously_until_members_are_watched(fed)
    host = fed.kube()
    web = host.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web")
    web["spec"]["replicas"] = 5
    host.replace(f"/apis/apps/v1/namespaces/{NS}/deployments/web", web)
    fed.reconciler().run_pass(only={ObjectKey("apps", "Deployment", NS, "web")})  # a watch's
    member = fed.members["member-1"]
    member.kube().create(f"/api/v1/namespaces/{NS}/configmaps", configmap("loose", NS))
    request = AdoptRequest(
        references=["configmap/loose"],
        cluster="member-1",
        namespace=NS,
        selector=None,
        policy="all",
        create_policy=False,
        template="native",
        dependencies=False,
        dry_run="none",
    )
    stored = fed.host.connect_member(fed.host.must_cluster("member-1"), fed.timeout)
    adopt(fed.host, stored, request)
    run_pass(fed)
    host.delete(f"/api/v1/namespaces/{NS}/configmaps/conf")
    run_pass(fed)
    unjoin(fed.host, "member-2", "delete", fed.timeout)
    requests = resource_requests(member, SA_USER) + resource_requests(
        fed.members["member-2"], SA_USER
    )
    rules = ident.cluster_rules(default_types())
    urls = next(r["nonResourceURLs"] for r in rules if "nonResourceURLs" in r)
    for path in discovery_requests(member, SA_USER):
        assert any(path == u or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)
    used: dict[tuple[str, str], set[str]] = {}
    for record in requests:
        verb, group, resource, _namespace, _name = request_attributes(record)
        assert allowed_by(rules, verb, group, resource), (verb, group, resource, record.path)
        used.setdefault((group, resource), set()).add(verb)
    granted = {
        (group, resource)
        for rule in rules
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
    }
    assert granted == set(used), granted ^ set(used)
    verbs_used = set().union(*used.values())
    assert set(ident.WRITE_VERBS) - verbs_used == set(), set(ident.WRITE_VERBS) - verbs_used


def test_the_host_sync_role_allows_every_request_of_a_pass(fed: FakeFederation) -> None:
    federate_every_kind(fed)
    fed.host_cluster.reset_counts()
    run_pass(fed)
    run_pass(fed)
    cluster_role, role = sync_role_objects(FED_NS, default_types())
    for record in resource_requests(fed.host_cluster):
        verb, group, resource, namespace, name = request_attributes(record)
        rules = role["rules"] if namespace == FED_NS else []
        allowed = allowed_by(cluster_role["rules"], verb, group, resource, name) or allowed_by(
            rules, verb, group, resource, name
        )
        assert allowed, (verb, group, resource, namespace, record.path)


# --------------------------------------------------------------------------- sync with it


def test_sync_writes_members_as_the_minted_identity(fed: FakeFederation) -> None:
    federate_every_kind(fed)
    for member in fed.members.values():
        member.reset_counts()
    report = run_pass(fed)
    assert report.ok, [o for o in report.objects if not o.ok]
    for member in fed.members.values():
        users = {r.user for r in resource_requests(member)}
        assert users == {SA_USER}
        assert member.get("deployments.apps", "web", NS) is not None


def age_token(fed: FakeFederation, member: str, issued: datetime, expires: datetime) -> None:
    """Pretend the stored token was issued at `issued` and expires at `expires`."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    fed.kube().merge_patch(
        f"/api/v1/namespaces/{FED_NS}/secrets/{member}-credentials",
        {
            "metadata": {
                "annotations": {
                    ident.TOKEN_ISSUED_ANNOTATION: issued.strftime(stamp),
                    ident.TOKEN_EXPIRES_ANNOTATION: expires.strftime(stamp),
                }
            }
        },
    )


def test_sync_renews_a_token_that_used_most_of_its_life(fed: FakeFederation) -> None:
    now = datetime.now(timezone.utc)
    old = stored_token(fed, "member-1")
    age_token(fed, "member-1", now - timedelta(days=300), now + timedelta(days=65))
    report = run_pass(fed)
    assert report.ok
    new = stored_token(fed, "member-1")
    assert new != old and fed.members["member-1"].issued[new][0] == SA_USER
    lifetime = ident.lifetime_of(secret_of(fed, "member-1"))
    assert lifetime.expires and lifetime.issued
    assert (lifetime.expires - lifetime.issued).days == 365  # the old token's lifetime
    assert stored_token(fed, "member-2") != new  # member-2 was not due
    second = fed.mutations()
    fed.reset_counts()
    run_pass(fed)
    assert stored_token(fed, "member-1") == new  # not due again: no new token
    assert second  # (the first pass wrote)


def test_an_expired_token_is_named_and_rotate_uses_the_join_context(
    fed: FakeFederation,
) -> None:
    now = datetime.now(timezone.utc)
    age_token(fed, "member-1", now - timedelta(days=366), now - timedelta(days=1))
    report = run_pass(fed)
    assert "member-1" in report.unreachable
    assert "token expired at" in report.unreachable["member-1"]
    assert "kubectl fed rotate member-1" in report.unreachable["member-1"]
    token = ops_identity.rotate(fed.host, "member-1", None, str(fed.kubeconfig), None, 5)
    assert stored_token(fed, "member-1") == token.value
    assert run_pass(fed).unreachable == {}


def test_rotate_now_with_the_identitys_own_right(fed: FakeFederation) -> None:
    old = stored_token(fed, "member-1")
    member = fed.members["member-1"]
    member.reset_counts()
    token = ops_identity.rotate(fed.host, "member-1", None, None, 3600, 5)
    assert token.value != old and stored_token(fed, "member-1") == token.value
    token_requests = [r for r in member.requests if r.path.endswith("/token")]
    assert [r.user for r in token_requests] == [SA_USER]  # asked for itself
    assert token.expires and token.expires - token.issued <= timedelta(seconds=3601)


def test_rotate_and_renewal_revoke_the_token_they_replace(fed: FakeFederation) -> None:
    member = fed.members["member-1"]
    first = stored_token(fed, "member-1")
    ops_identity.rotate(fed.host, "member-1", None, None, None, 5)
    second = stored_token(fed, "member-1")
    assert not member._token_valid(first) and member._token_valid(second)
    now = datetime.now(timezone.utc)
    age_token(fed, "member-1", now - timedelta(days=300), now + timedelta(days=65))
    run_pass(fed)
    third = stored_token(fed, "member-1")
    assert third != second and not member._token_valid(second) and member._token_valid(third)
    holders = member.objects("secrets", FED_NS, f"{ident.TOKEN_HOLDER_LABEL}=true")
    assert [h["metadata"]["name"] for h in holders] == [ident.holder_of(secret_of(fed, "member-1"))]
    # join --overwrite mints a new token and revokes the one it replaces.
    fed.join("member-1", credentials="serviceaccount", overwrite=True)
    fourth = stored_token(fed, "member-1")
    assert not member._token_valid(third) and member._token_valid(fourth)


def test_rotate_refuses_a_copied_credential(base: FakeFederation) -> None:
    with (
        FakeFederation(["member-3"]) as fed,
        pytest.raises(FedError, match="--credentials copy: kubectl-fed has no identity"),
    ):
        ops_identity.rotate(fed.host, "member-3", None, None, None, 5)


def test_rotate_with_a_context_of_another_cluster_is_refused(fed: FakeFederation) -> None:
    with pytest.raises(FedError, match='context "member-2" reaches another cluster'):
        ops_identity.rotate(fed.host, "member-1", "member-2", str(fed.kubeconfig), None, 5)


# --------------------------------------------------------------------------- unjoin


def test_unjoin_removes_the_identity(fed: FakeFederation) -> None:
    done = unjoin(fed.host, "member-1", "orphan", fed.timeout, None, str(fed.kubeconfig))
    member = fed.members["member-1"]
    holders = [r for r in done.removed if r.startswith(f"secret/{FED_NS}/kubectl-fed-token-")]
    assert len(holders) == 1  # the token's Secret: every token revoked at once
    assert sorted(set(done.removed) - set(holders)) == sorted(kube_identity.leftovers(FED_NS))
    for kind in ("clusterroles", "clusterrolebindings"):
        assert member.get(f"{kind}.rbac.authorization.k8s.io", ident.ROLE) is None
    assert member.get("serviceaccounts", ident.SERVICE_ACCOUNT, FED_NS) is None
    assert done.warnings == []


def test_unjoin_of_a_member_that_is_down_names_what_stays(fed: FakeFederation) -> None:
    fed.members["member-1"].down = True
    done = unjoin(fed.host, "member-1", "orphan", fed.timeout, None, str(fed.kubeconfig))
    assert fed.host.cluster("member-1") is None
    text = " ".join(done.warnings)
    for what in kube_identity.leftovers(FED_NS):
        assert what in text
    assert done.removed == []


# --------------------------------------------------------------------------- pure parts


def test_lifetime_due_expired_and_soon() -> None:
    year = timedelta(days=365)
    lifetime = ident.TokenLifetime(NOW, NOW + year)
    assert not lifetime.due(NOW + year * 0.79)
    assert lifetime.due(NOW + year * 0.81)
    assert not lifetime.expired(NOW + year * 0.99) and lifetime.expired(NOW + year)
    assert lifetime.expiring_soon(NOW + year - timedelta(days=6))
    assert not lifetime.expiring_soon(NOW + year - timedelta(days=8))
    assert lifetime.ttl_s() == 365 * 24 * 3600
    unknown = ident.TokenLifetime(None, None)
    assert not unknown.due(NOW) and not unknown.expired(NOW)
    assert unknown.ttl_s() == ident.DEFAULT_TOKEN_TTL_S


def test_unreadable_recorded_times_never_count_as_expired() -> None:
    secret = {"metadata": {"annotations": {ident.TOKEN_EXPIRES_ANNOTATION: "soon"}}}
    assert ident.lifetime_of(secret).expires is None
    assert ident.expired_token_message("m", secret, NOW) == ""


def test_credential_descriptions() -> None:
    def secret(data: dict[str, str], expires: datetime | None = None) -> dict[str, Any]:
        annotations = (
            {ident.TOKEN_EXPIRES_ANNOTATION: expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if expires
            else {}
        )
        return {"data": data, "metadata": {"annotations": annotations}}

    token = {kubeadmiral.SECRET_TOKEN: base64.b64encode(b"t").decode()}
    ok = ident.describe_credential(
        "m", "serviceaccount", secret(token, NOW + timedelta(days=30)), FED_NS, NOW
    )
    assert ok.status == "OK" and SA_USER in ok.text and "in 30d" in ok.text
    soon = ident.describe_credential(
        "m", "serviceaccount", secret(token, NOW + timedelta(days=3)), FED_NS, NOW
    )
    assert soon.status == "WARN" and "kubectl fed rotate m" in soon.text
    gone = ident.describe_credential(
        "m", "serviceaccount", secret(token, NOW - timedelta(hours=1)), FED_NS, NOW
    )
    assert gone.status == "FAIL" and "expired at" in gone.text
    jwt_payload = (
        base64.urlsafe_b64encode(b'{"sub":"system:serviceaccount:a:b"}').decode().rstrip("=")
    )
    copied = {kubeadmiral.SECRET_TOKEN: base64.b64encode(f"h.{jwt_payload}.s".encode()).decode()}
    described = ident.describe_credential("m", "copy", secret(copied), FED_NS, NOW)
    assert described.text == "copied token (system:serviceaccount:a:b), expiry not recorded"
    cert = {kubeadmiral.SECRET_CERT: "Yw==", kubeadmiral.SECRET_KEY: "aw=="}
    assert ident.describe_credential("m", "copy", secret(cert), FED_NS, NOW).text.startswith(
        "copied client certificate"
    )
    assert ident.describe_credential("m", "copy", secret({}), FED_NS, NOW).status == "FAIL"


def test_token_subject_of_non_jwts_is_empty() -> None:
    assert ident.token_subject("abc") == ""
    assert ident.token_subject("a.!!!.c") == ""
    assert ident.token_subject("a.bnVsbA.c") == ""  # payload `null`


def test_token_answer_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError):
        ident.token_from_answer({"status": {}}, NOW)
    token = ident.token_from_answer(
        {"status": {"token": "t", "expirationTimestamp": "2027-11-30T12:00:00Z"}}, NOW
    )
    assert token.expires == NOW + timedelta(days=365)
    secret = ident.token_from_answer({"status": {"token": "s3cr3t"}}, NOW)
    assert "s3cr3t" not in repr(secret) and secret.expires is None
