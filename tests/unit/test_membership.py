from __future__ import annotations

from typing import Any, cast

from kubectl_fed.core.kubeconfig import Credentials
from kubectl_fed.core.marks import CLUSTER_ID_ANNOTATION
from kubectl_fed.core.membership import (
    Probe,
    api_resource_types,
    build_federated_cluster,
    build_secret,
    credentials_from_secret,
    identity_warnings,
    member_with_id,
    probe_status,
    proxy_url_from_secret,
    recorded_cluster_id,
    redact,
    stored_access,
)
from kubectl_fed.kube.host import Host


def test_secret_round_trip_and_redaction() -> None:
    creds = Credentials("https://m", ca_data=b"ca", cert_data=b"c", key_data=b"k", token="t")
    secret = build_secret("m1", "fed", stored_access(creds, "socks5://u:p@proxy:1080"))
    assert set(secret["data"]) == {
        "certificate-authority-data",
        "client-certificate-data",
        "client-key-data",
        "service-account-token-data",
        "service-account-ca-data",  # KubeAdmiral reads the CA there with a token
        "proxy-url",  # it may hold the proxy's password: kept with the credentials
    }
    assert credentials_from_secret("https://m", False, secret) == creds
    assert proxy_url_from_secret(secret) == "socks5://u:p@proxy:1080"
    shown = redact(secret)
    assert set(shown["data"].values()) == {"<redacted>"}
    assert secret["data"]["client-key-data"] != "<redacted>"  # input untouched


def test_federated_cluster_document() -> None:
    cluster = build_federated_cluster(
        "m1",
        "https://m",
        insecure=False,
        labels={"a": "b"},
        taints=[],
        credentials_mode="local",
        secret=None,
    )
    assert "secretRef" not in cluster["spec"]
    assert cluster["metadata"]["annotations"]["kubectl-fed.io/credentials"] == "local"


def test_probe_status_moves_transition_time_only_on_change() -> None:
    up = probe_status({}, Probe(True, "v1.34.4"), "T1")
    assert {c["type"]: c["status"] for c in up["conditions"]} == {
        "Joined": "True",
        "Ready": "True",
        "Offline": "False",
    }
    again = probe_status(up, Probe(True, "v1.34.4"), "T2")
    ready = next(c for c in again["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "T1" and ready["lastProbeTime"] == "T2"
    down = probe_status(again, Probe(False, message="refused"), "T3")
    offline = next(c for c in down["conditions"] if c["type"] == "Offline")
    assert offline["status"] == "True" and offline["lastTransitionTime"] == "T3"
    assert down["kubernetesVersion"] == "v1.34.4"  # last known version kept


def test_api_resource_types_dedupes_and_sorts() -> None:
    found = [
        {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "plural": "deployments",
            "namespaced": True,
        },
        {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "plural": "deployments",
            "namespaced": True,
        },
        {
            "group": "",
            "version": "v1",
            "kind": "Namespace",
            "plural": "namespaces",
            "namespaced": False,
        },
    ]
    assert api_resource_types(found) == [
        {
            "group": "",
            "version": "v1",
            "kind": "Namespace",
            "pluralName": "namespaces",
            "scope": "Cluster",
        },
        {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "pluralName": "deployments",
            "scope": "Namespaced",
        },
    ]


# --------------------------------------------------------------------------- identity


def _member(name: str, cluster_id: str = "") -> dict[str, Any]:
    cluster = build_federated_cluster(
        name,
        f"https://{name}",
        insecure=False,
        labels={},
        taints=[],
        credentials_mode="secret",
        secret=f"{name}-credentials",
        cluster_id=cluster_id,
    )
    cluster["status"] = {}
    return cluster


def test_the_identity_is_an_annotation_not_a_label() -> None:
    cluster = _member("m1", "uid-1")
    assert cluster["metadata"]["annotations"][CLUSTER_ID_ANNOTATION] == "uid-1"
    assert cluster["metadata"]["labels"] == {}  # cluster selectors never see it
    assert recorded_cluster_id(cluster) == "uid-1"
    assert CLUSTER_ID_ANNOTATION not in _member("m2")["metadata"]["annotations"]
    assert recorded_cluster_id(_member("m2")) == ""


def test_member_with_id_ignores_the_name_being_replaced_and_unrecorded_members() -> None:
    members = [_member("a", "uid-1"), _member("b"), _member("c", "uid-3")]
    assert member_with_id(members, "uid-1", exclude="x") == "a"
    assert member_with_id(members, "uid-1", exclude="a") is None  # join a --overwrite
    assert member_with_id(members, "uid-2", exclude="x") is None
    assert member_with_id(members, "", exclude="x") is None


def test_identity_warnings_name_a_moved_member_and_twins() -> None:
    members = [_member("a", "uid-1"), _member("b"), _member("c", "uid-3")]
    assert identity_warnings({"a": "uid-1", "c": "uid-3"}, members) == []
    moved = identity_warnings({"a": "uid-9"}, members)
    assert len(moved) == 1 and "'a' now answers as another cluster" in moved[0]
    twins = identity_warnings({"b": "uid-3"}, members)
    assert twins == [
        "clusters 'b' and 'c' are the same cluster (kube-system uid uid-3): unjoin one of "
        "them (the objects there are left to the other)"
    ]


class _FakeMemberKube:
    def __init__(self, uid: str | None, error: Exception | None = None) -> None:
        self.uid, self.error, self.name, self.closed = uid, error, "fake", False

    def get(self, path: str) -> dict[str, Any]:
        assert path == "/api/v1/namespaces/kube-system"
        if self.error:
            raise self.error
        return {"metadata": {"name": "kube-system", "uid": self.uid}}

    def close(self) -> None:
        self.closed = True


class _FakeHost:
    def __init__(self, clusters: list[dict[str, Any]], live: dict[str, Any]) -> None:
        self._clusters, self.live = clusters, live

    def clusters(self) -> list[dict[str, Any]]:
        return self._clusters

    def connect_member(self, cluster: dict[str, Any], timeout: float | None) -> Any:
        found = self.live[cluster["metadata"]["name"]]
        if isinstance(found, Exception):
            raise found
        return found


def test_same_cluster_asks_unrecorded_members_and_warns_when_they_cannot_say() -> None:
    from kubectl_fed.errors import FedError
    from kubectl_fed.kube.errors import Forbidden
    from kubectl_fed.ops.membership import same_cluster

    members = [_member("a", "uid-1"), _member("b"), _member("c"), _member("d")]
    b = _FakeMemberKube("uid-2")
    live: dict[str, Any] = {
        "b": b,
        "c": _FakeMemberKube(None, Forbidden("forbidden in c: cannot get namespaces")),
        "d": FedError("cluster 'd' was joined with local credentials on another machine"),
    }
    host = cast(Host, _FakeHost(members, live))
    warnings: list[str] = []
    assert same_cluster(host, "uid-1", "new", None, warnings) == "a"  # recorded: nobody asked
    assert not b.closed
    assert same_cluster(host, "uid-2", "new", None, warnings) == "b"
    assert b.closed
    warnings.clear()
    assert same_cluster(host, "uid-9", "new", None, warnings) is None
    assert [w.split(":")[0] for w in warnings] == [
        "cannot tell whether member 'c' is the same cluster",
        "cannot tell whether member 'd' is the same cluster",
    ]
    assert same_cluster(host, "uid-2", "b", None, []) is None  # b itself, being overwritten
