"""`kubectl fed doctor`: the verdicts, from plain dicts."""

from __future__ import annotations

from typing import Any

from kubectl_fed.core.federated_types import default_types
from kubectl_fed.core.permissions import Permission, sync_permissions
from kubectl_fed.crds import REVISION_ANNOTATION
from kubectl_fed.ops.doctor import (
    FAIL,
    OK,
    WARN,
    crd_verdict,
    denied_text,
    identity_text,
    lease_verdict,
    member_verdict,
    minor_of,
    objects_verdict,
    templates_verdict,
)
from kubectl_fed.ops.init import HASH_ANNOTATION
from kubectl_fed.planning.snapshot import HostSnapshot, Template
from tests.unit.helpers import CONFIGMAPS, DEPLOYMENTS, deployment, federated


def test_sync_permissions_cover_what_sync_does() -> None:
    wanted = {p.describe() for p in sync_permissions("fed", default_types())}
    for expected in (
        "delete federatedobjects.core.kubeadmiral.io",
        "patch clusterfederatedobjects/status.core.kubeadmiral.io",
        "patch federatedclusters/status.core.kubeadmiral.io",
        "watch propagationpolicies.core.kubeadmiral.io",
        "get secrets in fed",
        "create leases.coordination.k8s.io in fed",
        "watch configmaps",
        "patch deployments/status.apps",
    ):
        assert expected in wanted, expected
    assert "patch configmaps/status" not in wanted  # only workload counts are written back


def test_permission_review_and_denials_text() -> None:
    lease = Permission("create", "leases", "coordination.k8s.io", namespace="fed")
    assert lease.review()["spec"]["resourceAttributes"] == {
        "verb": "create",
        "group": "coordination.k8s.io",
        "resource": "leases",
        "namespace": "fed",
    }
    denied = [Permission("get", "secrets", namespace="fed"), lease, Permission("list", "secrets")]
    assert denied_text(denied) == (
        "get secrets in fed; create leases.coordination.k8s.io in fed; list secrets"
    )
    denied[2] = Permission("list", "secrets", namespace="fed")
    assert denied_text(denied).startswith("get,list secrets in fed; ")


def crd(name: str, digest: str, revision: str = "1", established: bool = True) -> dict[str, Any]:
    status = "True" if established else "False"
    return {
        "metadata": {
            "name": name,
            "annotations": {HASH_ANNOTATION: digest, REVISION_ANNOTATION: revision},
        },
        "status": {"conditions": [{"type": "Established", "status": status}]},
    }


def test_crd_verdicts() -> None:
    wanted = [crd("federatedobjects.core.kubeadmiral.io", "h1")]
    name = "federatedobjects.core.kubeadmiral.io"
    assert crd_verdict(wanted, {name: crd(name, "h1")}).status == OK
    missing = crd_verdict(wanted, {name: None})
    assert missing.status == FAIL and "kubectl fed init" in missing.detail
    assert crd_verdict(wanted, {name: crd(name, "h1", established=False)}).status == FAIL
    outdated = crd_verdict(wanted, {name: crd(name, "old")})
    assert outdated.status == WARN and "outdated: federatedobjects" in outdated.detail
    assert "newer" in crd_verdict(wanted, {name: crd(name, "new", revision="9")}).detail


def test_member_verdicts_and_version_skew() -> None:
    assert minor_of("v1.34.4") == (1, 34) and minor_of("v1.30.0-eks-1") == (1, 30)
    assert minor_of("unknown") is None
    assert member_verdict("m", "v1.33.1", "v1.34.4", "True").status == OK
    skewed = member_verdict("m", "v1.32.0", "v1.34.4", "True")
    assert skewed.status == WARN and "more than one minor version" in skewed.detail
    assert member_verdict("m", "v1.34.0", "v1.34.4", "False").status == WARN


def test_lease_verdicts() -> None:
    assert lease_verdict("laptop-1", 3.0, 15).status == OK
    stale = lease_verdict("laptop-1", 600.0, 15)
    assert stale.status == WARN and "not renewed for 600s" in stale.detail


def test_objects_and_templates_verdicts() -> None:
    assert objects_verdict([federated(["member-1"])]).status == OK
    behind = objects_verdict([federated(["member-1"], generation=3)])
    assert behind.status == WARN and "1 not synced (shop/web-deployments.apps)" in behind.detail
    labelled = deployment()
    labelled["metadata"]["labels"] = {
        "kubeadmiral.io/propagation-policy-name": "gone",
        "kubeadmiral.io/override-policy-name": "here",
    }
    here = {"metadata": {"name": "here", "namespace": "shop"}}
    snap = HostSnapshot(
        clusters=[],
        types=default_types(),
        policies={("OverridePolicy", "shop", "here"): here},
        templates=[Template(DEPLOYMENTS, labelled), Template(CONFIGMAPS, deployment("v1"), True)],
        federated_objects=[],
        v1_compat=True,
    )
    verdict = templates_verdict(snap)
    assert verdict.status == WARN
    assert verdict.detail == "policy missing: deployment.apps/web in shop (PropagationPolicy gone)"


def test_identity_text_is_what_the_apiserver_attributes() -> None:
    user = {
        "username": "jane",
        "uid": "42",
        "groups": ["dev", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]},
    }
    assert identity_text(user) == (
        "jane (uid 42; groups dev, system:authenticated; extra scopes=a,b)"
    )
    assert identity_text({"username": "system:anonymous"}) == "system:anonymous"
