"""Secure membership on real apiservers (RBAC, TokenRequest): kubectl-fed's own identity in
each member, whatever kind of user joined it; sync as that identity and nothing more;
renewal, rotation and expiry; everything needed to reach a member (tls-server-name, http
and socks5 proxies); unjoin leaving nothing; the host roles of a narrower sync user."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Federation, Kubectl
from tests.connect_proxy import connect_proxy, socks_proxy
from tests.e2e.helpers import (
    POLICY_LABEL,
    apply,
    deployment,
    entry,
    get,
    policy,
    sync_once,
    wait_for,
)

pytestmark = pytest.mark.e2e

FED_NS = "kube-admiral-system"
SA_USER = f"system:serviceaccount:{FED_NS}:kubectl-fed"
TOKEN_KEYS = {"service-account-token-data", "service-account-ca-data", "certificate-authority-data"}
IDENTITY_KINDS = "serviceaccount,clusterrole,clusterrolebinding,role,rolebinding"
MANAGED_BY = "app.kubernetes.io/managed-by=kubectl-fed"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def secret(k: Kubectl, member: str) -> dict[str, Any]:
    found = get(k, "host", "secret", "-n", FED_NS, f"{member}-credentials")
    assert found is not None
    return found


def stored_token(k: Kubectl, member: str) -> str:
    return base64.b64decode(secret(k, member)["data"]["service-account-token-data"]).decode()


def whoami(k: Kubectl, context: str, token: str) -> str:
    """Who the member takes the token for (the real kubectl's `auth whoami`)."""
    result = k.run("--context", context, "--token", token, "auth", "whoami", "-o", "json")
    return str(json.loads(result.out)["status"]["userInfo"]["username"])


def rejoin(k: Kubectl, member: str) -> None:
    k.fed("join", member, "--cluster-context", member, "--overwrite")


def member_server(federation: Federation, member: str) -> dict[str, Any]:
    config = yaml.safe_load(federation.kubeconfig.read_text())
    cluster: dict[str, Any] = next(c for c in config["clusters"] if c["name"] == member)["cluster"]
    return cluster


def kubeconfig_with(
    federation: Federation, tmp_path: Path, name: str, cluster: dict[str, Any], user: dict[str, Any]
) -> Path:
    """The federation's kubeconfig plus one context `name` (its own cluster and user)."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    config["clusters"].append({"name": name, "cluster": cluster})
    config["users"].append({"name": name, "user": user})
    config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def exec_plugin(tmp_path: Path, token: str) -> dict[str, Any]:
    """A user whose token comes from an exec credential plugin (as EKS, GKE, AKS, OIDC)."""
    script = tmp_path / "credential-plugin"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    script.chmod(0o755)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(script),
            "interactiveMode": "Never",
        }
    }


@pytest.fixture
def member_2_back(fed_host: Kubectl) -> Iterator[None]:
    """member-2 joined as the other tests expect it, whatever the test did to it."""
    yield
    fed_host.fed("join", "member-2", "--cluster-context", "member-2", "--overwrite", check=False)


@pytest.mark.parametrize("user_kind", ["token", "client-certificate", "exec-plugin"])
def test_join_stores_only_the_identity_token_whatever_the_user(
    fed_host: Kubectl, federation: Federation, tmp_path: Path, user_kind: str, member_2_back: None
) -> None:
    state = federation.state
    if user_kind == "client-certificate" and "client_certificate" not in state:
        pytest.skip("a local federation started before client certificates were set up")
    admin = state["admin_token"]
    users = {
        "token": lambda: {"token": admin},
        "client-certificate": lambda: {
            "client-certificate": state["client_certificate"]["cert_file"],
            "client-key": state["client_certificate"]["key_file"],
        },
        "exec-plugin": lambda: exec_plugin(tmp_path, admin),
    }
    context = f"m2-{user_kind}"
    path = kubeconfig_with(
        federation, tmp_path, context, member_server(federation, "member-2"), users[user_kind]()
    )
    joined = fed_host.fed(
        "join",
        "member-2",
        "--cluster-context",
        context,
        "--cluster-kubeconfig",
        str(path),
        "--overwrite",
    )
    assert "serviceaccount credentials" in joined.out
    data = secret(fed_host, "member-2")["data"]
    assert set(data) == TOKEN_KEYS  # no client certificate, key or copied token
    token = stored_token(fed_host, "member-2")
    assert token != admin and whoami(fed_host, "member-2", token) == SA_USER
    cluster = fed_host.json("--context", "host", "get", "federatedcluster", "member-2")
    assert cluster["spec"]["useServiceAccount"] is True  # what KubeAdmiral reads it by
    assert sync_once(fed_host)[1]["unreachable"] == {}  # sync reaches it with that token


def test_sync_runs_as_the_identity_and_the_member_refuses_the_rest(
    fed_host: Kubectl, federation: Federation
) -> None:
    ns = "t-identity"
    fed_host.run("create", "namespace", ns, check=False)
    apply(
        fed_host,
        policy("all", ns),
        deployment("web", ns, labels={POLICY_LABEL: "all"}),
    )
    code, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/web", ns)["ok"], report
    assert get(fed_host, "member-1", "deployment", "web", "-n", ns) is not None
    token = stored_token(fed_host, "member-1")
    # Outside its role: a node (it may only list them, for the member's capacity), and
    # granting itself more (RBAC refuses the escalation).
    nodes = fed_host.run(
        "--context", "member-1", "--token", token, "get", "node", "any", check=False
    )
    assert nodes.code != 0 and "forbidden" in nodes.err.lower()
    grab = fed_host.run(
        "--context",
        "member-1",
        "--token",
        token,
        "create",
        "clusterrolebinding",
        "grab",
        "--clusterrole",
        "cluster-admin",
        f"--serviceaccount={FED_NS}:kubectl-fed",
        check=False,
    )
    assert grab.code != 0 and "forbidden" in grab.err.lower()
    # Take Deployments out of its role, as if a FederatedTypeConfig had added them: sync
    # says what is missing and how to grant it; `join --update-role` grants it.
    role = fed_host.json("--context", "member-1", "get", "clusterrole", "kubectl-fed")
    role["rules"] = [r for r in role["rules"] if "deployments" not in (r.get("resources") or [])]
    role["metadata"] = {"name": "kubectl-fed"}
    fed_host.run("--context", "member-1", "replace", "-f", "-", stdin=json.dumps(role))
    try:
        fed_host.run("--context", "host", "-n", ns, "scale", "deployment", "web", "--replicas=3")
        code, report = sync_once(fed_host)
        text = json.dumps(entry(report, "deployment.apps/web", ns))
        assert code == 1 and "kubectl fed join member-1 --update-role" in text, text
        doctor = fed_host.fed("doctor", check=False)
        line = next(x for x in doctor.out.splitlines() if x.startswith("credentials member-1"))
        assert "FAIL" in line and "--update-role" in line, doctor.out
    finally:
        updated = fed_host.fed("join", "member-1", "--update-role")
    assert "clusterrole kubectl-fed in member-1 updated" in updated.out
    code, report = sync_once(fed_host)
    assert code == 0 and entry(report, "deployment.apps/web", ns)["ok"]
    copy = get(fed_host, "member-1", "deployment", "web", "-n", ns)
    assert copy is not None and copy["spec"]["replicas"] == 3
    fed_host.run("--context", "host", "-n", ns, "delete", "deployment", "web")
    sync_once(fed_host)


def age(k: Kubectl, member: str, issued: datetime, expires: datetime) -> None:
    k.run(
        "--context",
        "host",
        "-n",
        FED_NS,
        "annotate",
        "secret",
        f"{member}-credentials",
        "--overwrite",
        f"kubectl-fed.io/token-issued={issued.strftime(STAMP)}",
        f"kubectl-fed.io/token-expires={expires.strftime(STAMP)}",
    )


def test_renewal_rotation_and_expiry(fed_host: Kubectl) -> None:
    now = datetime.now(timezone.utc)
    first = stored_token(fed_host, "member-1")
    # sync renews a token that has used 80% of its life, by the identity's own right.
    age(fed_host, "member-1", now - timedelta(days=300), now + timedelta(days=65))
    renewed = fed_host.fed("sync", "--once")
    assert "cluster member-1: token renewed" in renewed.err
    second = stored_token(fed_host, "member-1")
    assert second != first and whoami(fed_host, "member-1", second) == SA_USER
    refused = ("--context", "member-1", "--token", first, "auth", "whoami")
    assert wait_for(lambda: fed_host.run(*refused, check=False).code != 0, timeout=30)
    # rotate does it on demand; sync goes on with the new token.
    rotated = fed_host.fed("rotate", "member-1", "--token-ttl", "2h")
    assert "new token stored" in rotated.out
    third = stored_token(fed_host, "member-1")
    assert third != second and sync_once(fed_host)[1]["unreachable"] == {}
    # An expired token: named, ClusterNotReady, doctor FAIL with the way out.
    age(fed_host, "member-1", now - timedelta(days=366), now - timedelta(hours=1))
    _, report = sync_once(fed_host)
    why = report["unreachable"]["member-1"]
    assert "token expired at" in why and "kubectl fed rotate member-1" in why
    doctor = fed_host.fed("doctor", check=False)
    line = next(x for x in doctor.out.splitlines() if x.startswith("credentials member-1"))
    assert doctor.code == 1 and "FAIL" in line and "expired" in line
    # rotate after expiry asks with the context member-1 was joined with.
    fed_host.fed("rotate", "member-1")
    assert sync_once(fed_host)[1]["unreachable"] == {}


def test_tls_server_name_and_proxies_are_used_by_sync(
    fed_host: Kubectl, federation: Federation, tmp_path: Path, member_2_back: None
) -> None:
    """member-2 behind a name only the proxy resolves, its certificate checked against
    tls-server-name: join records both, and sync, doctor and clusters reach it."""
    server = member_server(federation, "member-2")
    port = server["server"].rsplit(":", 1)[1]
    ns = "t-proxied"
    fed_host.run("create", "namespace", ns, check=False)
    apply(fed_host, policy("all", ns), deployment("web", ns, labels={POLICY_LABEL: "all"}))
    for proxy_kind, proxy_context in (("socks5", socks_proxy), ("http", connect_proxy)):
        with proxy_context({"member-2.private.invalid": "127.0.0.1"}) as proxy:
            tunnelled = {
                **server,
                "server": f"https://member-2.private.invalid:{port}",
                "tls-server-name": "kubernetes.default",
                "proxy-url": f"{proxy_kind}://127.0.0.1:{proxy.server_address[1]}",
            }
            context = f"m2-{proxy_kind}"
            path = kubeconfig_with(
                federation, tmp_path, context, tunnelled, {"token": federation.state["admin_token"]}
            )
            fed_host.fed(
                "join",
                "member-2",
                "--cluster-context",
                context,
                "--cluster-kubeconfig",
                str(path),
                "--overwrite",
            )
            proxy.tunnels.clear()
            fed_host.run(
                "--context",
                "member-2",
                "-n",
                ns,
                "delete",
                "deployment",
                "web",
                "--ignore-not-found",
            )
            _, report = sync_once(fed_host)
            assert report["unreachable"] == {}, report
            assert entry(report, "deployment.apps/web", ns)["ok"]
            assert get(fed_host, "member-2", "deployment", "web", "-n", ns) is not None
            assert proxy.tunnels and set(proxy.tunnels) == {f"member-2.private.invalid:{port}"}
            doctor = fed_host.fed("doctor", check=False)
            assert any(
                x.startswith("member member-2") and " OK " in x for x in doctor.out.splitlines()
            ), doctor.out
    fed_host.run("--context", "host", "-n", ns, "delete", "deployment", "web")


def test_unjoin_leaves_nothing_behind(fed_host: Kubectl, member_2_back: None) -> None:
    done = fed_host.fed("unjoin", "member-2")
    assert "clusterrole/kubectl-fed deleted from member-2" in done.out
    left = fed_host.run(
        "--context", "member-2", "get", IDENTITY_KINDS, "-A", "-l", MANAGED_BY, "-o", "name"
    )
    assert left.out.strip() == ""
    assert get(fed_host, "host", "secret", "-n", FED_NS, "member-2-credentials") is None
    assert get(fed_host, "host", "federatedcluster", "member-2") is None


def test_unjoin_of_a_member_that_is_down_names_what_stays(
    fed_host: Kubectl, federation: Federation, member_2_back: None
) -> None:
    federation.stop("member-2")
    try:
        done = fed_host.fed("unjoin", "member-2", "--request-timeout", "5s")
    finally:
        federation.start("member-2")
    assert get(fed_host, "host", "federatedcluster", "member-2") is None
    assert "the kubectl-fed identity stays in member-2" in done.err
    assert "clusterrole/kubectl-fed" in done.err
    # Joining again finds and reuses what stayed.
    rejoin(fed_host, "member-2")
    assert stored_token(fed_host, "member-2")


def test_a_plain_http_member_gets_no_token(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    server = member_server(federation, "member-2")
    plain = {"server": server["server"].replace("https://", "http://")}
    path = kubeconfig_with(
        federation, tmp_path, "m2-http", plain, {"token": federation.state["admin_token"]}
    )
    refused = fed_host.fed(
        "join",
        "member-2",
        "--cluster-context",
        "m2-http",
        "--cluster-kubeconfig",
        str(path),
        "--overwrite",
        check=False,
    )
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "plain http" in refused.err and federation.state["admin_token"] not in refused.err


def test_rbac_refusal_at_join_names_it_and_suggests_copy_or_local(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """A user who may read everything (so the cluster can be told apart) but create no RBAC
    objects joins the host (not a member): refused, named, nothing left anywhere."""
    bindings = (("viewer-reads", "view"), ("viewer-ns", "ns-reader"))
    fed_host.run(
        "--context",
        "host",
        "create",
        "clusterrole",
        "ns-reader",
        "--verb",
        "get,list",
        "--resource",
        "namespaces",
    )
    for binding, role in bindings:
        fed_host.run(
            "--context",
            "host",
            "create",
            "clusterrolebinding",
            binding,
            "--clusterrole",
            role,
            "--user",
            "viewer",
        )
    try:
        path = kubeconfig_with(
            federation,
            tmp_path,
            "host-viewer",
            member_server(federation, "host"),
            {"token": federation.state["viewer_token"]},
        )
        refused = fed_host.fed(
            "join",
            "viewer-host",
            "--cluster-context",
            "host-viewer",
            "--cluster-kubeconfig",
            str(path),
            check=False,
        )
        assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1, refused.err
        assert "cannot create its kubectl-fed identity" in refused.err
        assert "forbidden" in refused.err and "serviceaccounts" in refused.err
        assert "--credentials copy" in refused.err and "--credentials local" in refused.err
        assert federation.state["viewer_token"] not in refused.err
        assert get(fed_host, "host", "federatedcluster", "viewer-host") is None
        assert get(fed_host, "host", "secret", "-n", FED_NS, "viewer-host-credentials") is None
    finally:
        for binding, _ in bindings:
            fed_host.run("--context", "host", "delete", "clusterrolebinding", binding)
        fed_host.run("--context", "host", "delete", "clusterrole", "ns-reader")


def test_sync_as_a_user_bound_to_the_init_roles(fed_host: Kubectl, federation: Federation) -> None:
    """init's ClusterRole and Role kubectl-fed-sync are all a sync needs in the host."""
    cluster_role = fed_host.json("--context", "host", "get", "clusterrole", "kubectl-fed-sync")
    assert cluster_role["rules"]
    fed_host.run(
        "--context",
        "host",
        "create",
        "clusterrolebinding",
        "sync-viewer",
        "--clusterrole",
        "kubectl-fed-sync",
        "--user",
        "viewer",
        check=False,
    )
    fed_host.run(
        "--context",
        "host",
        "-n",
        FED_NS,
        "create",
        "rolebinding",
        "sync-viewer",
        "--role",
        "kubectl-fed-sync",
        "--user",
        "viewer",
        check=False,
    )
    try:
        viewer = ("--token", federation.state["viewer_token"])
        result = fed_host.fed(*viewer, "sync", "--once", "-o", "json", check=False)
        assert result.code == 0, result.err
        doctor = fed_host.fed(*viewer, "doctor", check=False)
        line = next(x for x in doctor.out.splitlines() if x.startswith("permissions"))
        assert " OK " in line, doctor.out
    finally:
        fed_host.run("--context", "host", "delete", "clusterrolebinding", "sync-viewer")
        fed_host.run("--context", "host", "-n", FED_NS, "delete", "rolebinding", "sync-viewer")
