from __future__ import annotations

from kubectl_fed.core.kubeconfig import Credentials
from kubectl_fed.core.membership import (
    Probe,
    api_resource_types,
    build_federated_cluster,
    build_secret,
    credentials_from_secret,
    probe_status,
    redact,
)


def test_secret_round_trip_and_redaction() -> None:
    creds = Credentials("https://m", ca_data=b"ca", cert_data=b"c", key_data=b"k", token="t")
    secret = build_secret("m1", "fed", creds)
    assert set(secret["data"]) == {
        "certificate-authority-data",
        "client-certificate-data",
        "client-key-data",
        "service-account-token-data",
    }
    assert credentials_from_secret("https://m", False, secret) == creds
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
