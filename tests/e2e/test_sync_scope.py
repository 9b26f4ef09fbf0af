"""`kubectl fed sync [TYPE[/NAME]...] [-n NS] [-l SEL] [--cluster NAME...]`: a pass that
acts on part of the federation, the rest left exactly as it is."""

from __future__ import annotations

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import (
    POLICY_LABEL,
    apply,
    deployment,
    entry,
    policy,
    replicas_in,
    sync_once,
)

pytestmark = pytest.mark.e2e


def _two_namespaces(k: Kubectl, ns: str) -> str:
    other = f"{ns}-b"
    k.run("create", "namespace", other, check=False)
    for namespace in (ns, other):
        apply(
            k,
            policy("dup", namespace),
            deployment("web", namespace, 1, labels={POLICY_LABEL: "dup", "tier": "front"}),
            deployment("db", namespace, 1, labels={POLICY_LABEL: "dup", "tier": "back"}),
        )
    code, report = sync_once(k)
    assert code == 0, report
    return other


def _scale_all(k: Kubectl, namespaces: list[str], replicas: int) -> None:
    for namespace in namespaces:
        k.run("scale", "deploy", "web", "db", "-n", namespace, f"--replicas={replicas}")


def test_scope_by_namespace_type_name_and_labels(fed_host: Kubectl, ns: str) -> None:
    other = _two_namespaces(fed_host, ns)
    try:
        _scale_all(fed_host, [ns, other], 2)
        code, report = sync_once(fed_host, "-n", other)
        assert code == 0, report
        # the namespace its objects are in comes along (made first, with its labels)
        assert {(o.get("namespace"), o["object"]) for o in report["objects"]} == {
            (None, f"namespace/{other}"),
            (other, "deployment.apps/web"),
            (other, "deployment.apps/db"),
        }
        assert replicas_in(fed_host, "deploy", "web", other) == {"member-1": 2, "member-2": 2}
        assert replicas_in(fed_host, "deploy", "web", ns) == {"member-1": 1, "member-2": 1}

        code, report = sync_once(fed_host, "deploy/web", "-n", ns)
        objects = [(o.get("namespace"), o["object"]) for o in report["objects"]]
        assert code == 0 and objects == [(None, f"namespace/{ns}"), (ns, "deployment.apps/web")]
        assert replicas_in(fed_host, "deploy", "db", ns) == {"member-1": 1, "member-2": 1}

        _scale_all(fed_host, [ns, other], 3)
        code, report = sync_once(fed_host, "-l", "tier=back", "-A")
        assert code == 0, report
        assert replicas_in(fed_host, "deploy", "db", ns)["member-1"] == 3
        assert replicas_in(fed_host, "deploy", "web", ns)["member-1"] == 2

        bad = fed_host.fed("sync", "--once", "-l", "tier in back", check=False)
        assert bad.code == 2 and bad.err.startswith("error: -l: invalid label selector")
        both = fed_host.fed("sync", "--once", "-n", ns, "-A", check=False)
        assert both.code == 2 and "cannot be used together" in both.err
    finally:
        # The host runs no namespace controller: empty the namespace first (and let a sync
        # take the copies away), else it stays Terminating with its objects for good.
        fed_host.run("delete", "deployments", "--all", "-n", other, check=False)
        fed_host.run("delete", "propagationpolicies", "--all", "-n", other, check=False)
        sync_once(fed_host)
        fed_host.run("delete", "namespace", other, "--wait=false", check=False)


def test_a_canary_cluster_first_then_the_rest(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("web", ns, 1, labels={POLICY_LABEL: "dup"}))
    code, report = sync_once(fed_host)
    assert code == 0, report
    fed_host.run("scale", "deploy", "web", "-n", ns, "--replicas=4")

    code, report = sync_once(fed_host, "--cluster", "member-1")
    assert replicas_in(fed_host, "deploy", "web", ns) == {"member-1": 4, "member-2": 1}
    assert code == 1, "member-2 is not up to date: not OK until a sync covers it"
    clusters = entry(report, "deployment.apps/web", ns)["clusters"]
    assert clusters["member-1"]["status"] == "OK"
    assert clusters["member-2"]["status"] == "PendingSync"
    status = fed_host.fed("status", "deploy/web", "-n", ns, check=False)
    assert status.code == 1 and "member-2: apply waits for a sync" in status.out
    wide = fed_host.fed("status", "deploy/web", "-n", ns, "-o", "json", check=False).out
    assert '"PendingSync"' in wide and '"synced": false' in wide

    code, report = sync_once(fed_host)
    assert code == 0, report
    assert replicas_in(fed_host, "deploy", "web", ns) == {"member-1": 4, "member-2": 4}
    unknown = fed_host.fed("sync", "--once", "--cluster", "nosuch", check=False)
    assert unknown.code == 2 and "not a member" in unknown.err
