"""`kubectl fed get`: the pure parts (object names, managed marks, chosen clusters)."""

from __future__ import annotations

import pytest

from kubectl_fed.errors import FedError
from kubectl_fed.ops.get import chosen_clusters, managed_state
from kubectl_fed.ops.objects import object_name


def test_object_name_and_managed_state() -> None:
    assert object_name("apps/v1", "Deployment", "web") == "deployment.apps/web"
    assert object_name("v1", "ConfigMap", "cfg") == "configmap/cfg"
    managed = {"metadata": {"labels": {"kubeadmiral.io/managed": "true"}}}
    assert managed_state(managed) == "yes"
    labelled = {"kubeadmiral.io/managed": "true", "kubeadmiral.io/adopted": "true"}
    assert managed_state({"metadata": {"labels": labelled}}) == "adopted"
    annotated = {
        "labels": {"kubeadmiral.io/managed": "true"},
        "annotations": {"kubeadmiral.io/adopted": "true"},
    }
    assert managed_state({"metadata": annotated}) == "adopted"
    assert managed_state({"metadata": {"labels": {"kubeadmiral.io/managed": "false"}}}) == "no"
    assert managed_state({}) == "no"


def test_chosen_clusters_refuses_unknown_names() -> None:
    clusters = [{"metadata": {"name": n}} for n in ("member-1", "member-2")]
    assert chosen_clusters(clusters, None) == clusters
    assert chosen_clusters(clusters, ["member-2", "member-2"]) == clusters[1:]
    with pytest.raises(FedError, match="'nope' is not a member"):
        chosen_clusters(clusters, ["nope"])
    with pytest.raises(FedError, match="no members joined"):
        chosen_clusters([], None)
