"""Review of issue "Secure membership" on real apiservers: what only a real apiserver
shows (server-side apply field ownership, status conditions written by sync)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Federation, Kubectl
from tests.e2e.helpers import get, sync_once, wait_for
from tests.e2e.test_secure_membership import (
    SA_USER,
    kubeconfig_with,
    member_server,
    secret,
    stored_token,
    whoami,
)

pytestmark = pytest.mark.e2e

FED_NS = "kube-admiral-system"
EXPIRES = "kubectl-fed.io/token-expires"


@pytest.fixture
def member_2_back(fed_host: Kubectl) -> Iterator[None]:
    yield
    fed_host.fed("join", "member-2", "--cluster-context", "member-2", "--overwrite", check=False)


def test_overwrite_after_a_renewal_stores_only_the_new_credential(
    fed_host: Kubectl, federation: Federation, tmp_path: Path, member_2_back: None
) -> None:
    """A renewed token is merge-patched into the Secret, which takes the token and its
    expiry out of join's server-side apply: a later `join --overwrite --credentials copy`
    left the old ServiceAccount token and its expiry next to the copied credential, and
    once that expiry passed every command refused the member ("run rotate"), which
    rotate refuses for a copied credential."""
    fed_host.fed("join", "member-2", "--cluster-context", "member-2", "--overwrite")
    fed_host.fed("rotate", "member-2")  # what sync does at 80% of the token's life
    state = federation.state
    if "client_certificate" in state:
        user = {
            "client-certificate": state["client_certificate"]["cert_file"],
            "client-key": state["client_certificate"]["key_file"],
        }
        expected = {"certificate-authority-data", "client-certificate-data", "client-key-data"}
    else:
        user = {"token": state["admin_token"]}
        expected = {
            "certificate-authority-data",
            "service-account-token-data",
            "service-account-ca-data",
        }
    path = kubeconfig_with(
        federation, tmp_path, "m2-admin", member_server(federation, "member-2"), user
    )
    fed_host.fed(
        "join",
        "member-2",
        "--cluster-context",
        "m2-admin",
        "--cluster-kubeconfig",
        str(path),
        "--overwrite",
        "--credentials",
        "copy",
    )
    stored = secret(fed_host, "member-2")
    assert set(stored["data"]) == expected
    assert EXPIRES not in (stored["metadata"].get("annotations") or {})
    doctor = fed_host.fed("doctor", check=False).out
    line = next(x for x in doctor.splitlines() if x.startswith("credentials member-2"))
    assert "expires" not in line and "rotate" not in line, line
    # The identity join created is not used any more: it is gone from the member.
    assert get(fed_host, "member-2", "serviceaccount", "-n", FED_NS, "kubectl-fed") is None


def test_a_proxy_password_never_reaches_cluster_status(fed_host: Kubectl) -> None:
    """Whoever may read FederatedClusters (far more than may read Secrets) must not learn
    the proxy password from the Ready condition sync writes."""
    url = base64.b64encode(b"https://me:hunter2@proxy.invalid:3128").decode()
    patch = json.dumps({"data": {"proxy-url": url}})
    where = ("--context", "host", "-n", FED_NS)
    fed_host.run(*where, "patch", "secret", "member-1-credentials", "--type", "merge", "-p", patch)
    try:
        _code, report = sync_once(fed_host)
        assert "member-1" in report["unreachable"]
        cluster = fed_host.json("--context", "host", "get", "federatedcluster", "member-1")
        doctor = fed_host.fed("doctor", check=False).out
        for text in (json.dumps(cluster["status"]), json.dumps(report), doctor):
            assert "hunter2" not in text
        assert "me:xxxxx@proxy.invalid" in json.dumps(cluster["status"])
    finally:
        remove = '[{"op": "remove", "path": "/data/proxy-url"}]'
        fed_host.run(*where, "patch", "secret", "member-1-credentials", "--type=json", "-p", remove)
        sync_once(fed_host)


def test_rotate_cuts_a_leaked_token_off(fed_host: Kubectl, member_2_back: None) -> None:
    """Each token is bound to a Secret of its own in the member: rotate deletes the old
    one's, so a leaked token stops working (after the apiserver's ~10 s token cache)."""
    leaked = stored_token(fed_host, "member-2")
    assert whoami(fed_host, "member-2", leaked) == SA_USER
    fed_host.fed("rotate", "member-2")
    assert wait_for(lambda: not accepted(fed_host, "member-2", leaked), timeout=30)
    assert whoami(fed_host, "member-2", stored_token(fed_host, "member-2")) == SA_USER
    assert sync_once(fed_host)[1]["unreachable"] == {}


def accepted(k: Kubectl, context: str, token: str) -> bool:
    return k.run("--context", context, "--token", token, "auth", "whoami", check=False).code == 0
