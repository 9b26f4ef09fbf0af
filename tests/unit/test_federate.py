from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_fed.core.federate import (
    build_federated_object,
    clean_template,
    federated_object_name,
    is_federation_disabled,
    override_policies_of,
    policy_of,
)

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
RBAC = ("roles", "rbac.authorization.k8s.io")


# KubeAdmiral's own expectations (pkg/util/naming/naming_test.go), so names match theirs.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("foo", "foo-roles.rbac.authorization.k8s.io"),
        ("system:foo", "system.foo-roles.rbac.authorization.k8s.io-2728495308"),
        ("system::foo", "system.foo-roles.rbac.authorization.k8s.io-2999937238"),
        ("system$foo", "system.foo-roles.rbac.authorization.k8s.io-4258037882"),
        ("system%foo", "system.foo-roles.rbac.authorization.k8s.io-1244789457"),
        ("system%%%foo", "system.foo-roles.rbac.authorization.k8s.io-4069727015"),
        ("system#foo", "system.foo-roles.rbac.authorization.k8s.io-1128546011"),
        ("system####foo", "system.foo-roles.rbac.authorization.k8s.io-3227827662"),
        ("system#Foo", "system.foo-roles.rbac.authorization.k8s.io-1133665787"),
        ("system.foo123", "system.foo123-roles.rbac.authorization.k8s.io"),
        ("foo" * 80, "foo" * 80 + "-r-3980386512"),
        ("system#foo" * 25, "system.foo" * 24 + "sys-552681660"),
    ],
)
def test_names_match_kubeadmiral(name: Any, expected: Any) -> None:
    assert federated_object_name(name, *RBAC) == expected


def test_core_group_has_no_group_suffix() -> None:
    assert federated_object_name("my-nginx", "services", "") == "my-nginx-services"
    assert federated_object_name("my-nginx", "deployments", "apps") == "my-nginx-deployments.apps"


def test_names_kubeadmiral_gets_wrong_are_repaired_and_kept_apart() -> None:
    leading_colon = federated_object_name(":foo", *RBAC)
    leading_dash = federated_object_name("-foo", *RBAC)
    assert DNS_SUBDOMAIN.fullmatch(leading_colon)
    assert DNS_SUBDOMAIN.fullmatch(leading_dash)
    assert len({leading_colon, leading_dash, federated_object_name("foo", *RBAC)}) == 3


def test_a_cut_next_to_a_dot_is_repaired() -> None:
    name = "a" * 240 + "." + "b" * 20  # the 253-character cut lands on or near the dot
    result = federated_object_name(name, "deployments", "apps")
    assert DNS_SUBDOMAIN.fullmatch(result)
    assert len(result) <= 253


@given(st.text(min_size=1, max_size=300))
def test_every_name_is_a_dns_subdomain(name: Any) -> None:
    result = federated_object_name(name, "deployments", "apps")
    assert DNS_SUBDOMAIN.fullmatch(result)
    assert len(result) <= 253
    assert result == federated_object_name(name, "deployments", "apps")


def seed_deployment() -> Any:
    """The Deployment of KubeAdmiral's federalization walkthrough, labelled for adoption."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "my-nginx",
            "namespace": "default",
            "uid": "5b64f73b",
            "resourceVersion": "898",
            "generation": 1,
            "creationTimestamp": "2023-08-30T02:26:57Z",
            "selfLink": "/apis/apps/v1/namespaces/default/deployments/my-nginx",
            "finalizers": ["example.com/hold"],
            "ownerReferences": [{"kind": "Thing", "name": "x", "uid": "1"}],
            "managedFields": [{"manager": "kubectl"}],
            "labels": {"kubeadmiral.io/propagation-policy-name": "nginx-pp"},
            "annotations": {
                "kubeadmiral.io/conflict-resolution": "adopt",
                "deployment.kubernetes.io/revision": "1",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"run": "my-nginx"}},
            "template": {
                "metadata": {"labels": {"run": "my-nginx"}},
                "spec": {"containers": [{"name": "my-nginx", "image": "nginx"}]},
            },
        },
        "status": {"replicas": 2},
    }


def test_clean_template_matches_the_walkthrough() -> None:
    deployment = seed_deployment()
    original = copy.deepcopy(deployment)
    template = clean_template(deployment)
    assert deployment == original
    assert template == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "my-nginx",
            "namespace": "default",
            "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": original["spec"],
    }


def test_clean_template_drops_member_marks_and_host_bookkeeping() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "labels": {
                "app": "x",
                "kubeadmiral.io/managed": "false",
                "kubeadmiral.io/override-policy-name": "op",
                "kubeadmiral.io/cluster-override-policy-name": "cop",
                "kubeadmiral.io/cluster-propagation-policy-name": "cpp",
            },
            "annotations": {
                "kubeadmiral.io/adopted": "true",
                "kubeadmiral.io/orphan": "all",
                "kubeadmiral.io/retain-replicas": "true",
                "kubeadmiral.io/clusters-to-adopt": '{"clusters": ["a"]}',
                "kubeadmiral.io/latest-replicaset-digests": "[]",
                "internal.kubeadmiral.io/enable-follower-scheduling": "true",
            },
        },
        "data": {"k": "v"},
    }
    assert clean_template(obj)["metadata"] == {"name": "c", "labels": {"app": "x"}}


def test_clean_template_keeps_maps_it_did_not_empty() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}}
    assert clean_template(obj)["metadata"] == {"name": "c", "labels": {}}


def test_build_federated_object_for_a_namespaced_template() -> None:
    deployment = seed_deployment()
    deployment["metadata"]["annotations"].update(
        {
            "kubeadmiral.io/orphan": "adopted",
            "kubeadmiral.io/retain-replicas": "true",
            "kubeadmiral.io/clusters-to-adopt": '{"clusters": ["b"]}',
        }
    )
    patches = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    fo = build_federated_object(
        deployment,
        "deployments",
        "apps",
        placements=["c", "a", "c"],
        overrides={"c": patches, "a": [], "b": patches},
        follows=[{"kind": "ConfigMap", "name": "cfg"}],
    )
    assert fo == {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "FederatedObject",
        "metadata": {
            "name": "my-nginx-deployments.apps",
            "namespace": "default",
            "labels": {
                "kubeadmiral.io/propagation-policy-name": "nginx-pp",
                "apps/v1": "Deployment",
            },
            "annotations": {
                "kubeadmiral.io/conflict-resolution": "adopt",
                "kubeadmiral.io/orphan": "adopted",
                "kubeadmiral.io/retain-replicas": "true",
                "kubeadmiral.io/clusters-to-adopt": '{"clusters": ["b"]}',
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "my-nginx",
                    "uid": "5b64f73b",
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": {
            "template": clean_template(deployment),
            "placements": [
                {"controller": "kubectl-fed", "placement": [{"cluster": "a"}, {"cluster": "c"}]}
            ],
            "overrides": [
                {
                    "controller": "kubectl-fed",
                    "clusters": [
                        {"cluster": "b", "patches": patches},
                        {"cluster": "c", "patches": patches},
                    ],
                }
            ],
            "follows": [{"kind": "ConfigMap", "name": "cfg"}],
        },
    }


def test_build_federated_object_for_a_cluster_scoped_core_template() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "uid": "u"}}
    fo = build_federated_object(namespace, "namespaces", "", None, None, None)
    assert fo["kind"] == "ClusterFederatedObject"
    assert fo["metadata"]["name"] == "team-namespaces"
    assert "namespace" not in fo["metadata"]
    assert "annotations" not in fo["metadata"]
    assert fo["metadata"]["labels"] == {"v1": "Namespace"}
    assert fo["spec"] == {
        "template": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    }


def test_build_federated_object_placed_nowhere_and_never_created() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    fo = build_federated_object(config, "configmaps", "", [], {}, [])
    assert fo["spec"]["placements"] == [{"controller": "kubectl-fed", "placement": []}]
    assert "overrides" not in fo["spec"] and "follows" not in fo["spec"]
    assert "ownerReferences" not in fo["metadata"]


def test_build_federated_object_needs_a_name() -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        build_federated_object(
            {"apiVersion": "v1", "kind": "ConfigMap"}, "configmaps", "", None, None, None
        )


def labelled(labels: Any, namespace: Any = "n", annotations: Any = None) -> Any:
    metadata = {"name": "x", "labels": labels, "annotations": annotations or {}}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata}


PP = "kubeadmiral.io/propagation-policy-name"
CPP = "kubeadmiral.io/cluster-propagation-policy-name"
OP = "kubeadmiral.io/override-policy-name"
COP = "kubeadmiral.io/cluster-override-policy-name"


def test_policy_of() -> None:
    assert policy_of(labelled({PP: "pp", CPP: "cpp"})) == ("PropagationPolicy", "pp")
    assert policy_of(labelled({CPP: "cpp"})) == ("ClusterPropagationPolicy", "cpp")
    assert policy_of(labelled({PP: "pp", CPP: "cpp"}, namespace="")) == (
        "ClusterPropagationPolicy",
        "cpp",
    )
    assert policy_of(labelled({PP: "pp"}, namespace="")) is None
    assert policy_of(labelled({})) is None
    assert policy_of({}) is None
    assert policy_of(labelled({PP: ""})) == ("PropagationPolicy", "")


def test_override_policies_of() -> None:
    both = labelled({OP: "op", COP: "cop"})
    assert override_policies_of(both) == [
        ("ClusterOverridePolicy", "cop"),
        ("OverridePolicy", "op"),
    ]
    assert override_policies_of(labelled({OP: "op", COP: "cop"}, namespace="")) == [
        ("ClusterOverridePolicy", "cop")
    ]
    assert override_policies_of(labelled({})) == []


def test_is_federation_disabled() -> None:
    key = "kubeadmiral.io/no-federated-resource"
    assert is_federation_disabled(labelled({}, annotations={key: "true"}))
    assert not is_federation_disabled(labelled({}, annotations={key: ""}))
    assert not is_federation_disabled(labelled({}))


# --------------------------------------------------------------------------- generated fields


def _host_job(manual: bool | None = None) -> dict[str, Any]:
    """A Job as the host's apiserver stores it: selector and labels generated from its uid."""
    uid = "0b4c9c2e-host"
    generated = {
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
    }
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "pi",
            "namespace": "default",
            "uid": uid,
            "labels": {"kubeadmiral.io/propagation-policy-name": "all", "team": "math"},
        },
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {
                "metadata": {"labels": {**generated, "app": "pi"}},
                "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"},
            },
        },
    }
    if manual is not None:
        job["spec"]["manualSelector"] = manual
    return job


def test_a_jobs_generated_selector_and_controller_uid_labels_are_not_sent() -> None:
    template = build_federated_object(_host_job(), "jobs", "batch", [], None, None)["spec"][
        "template"
    ]
    assert "selector" not in template["spec"]
    assert template["spec"]["template"]["metadata"]["labels"] == {
        "job-name": "pi",  # the name is the same in every member, which accept it
        "batch.kubernetes.io/job-name": "pi",
        "app": "pi",
    }
    assert template["metadata"]["labels"] == {"team": "math"}
    assert "manualSelector" not in template["spec"]
    for manual in (None, False):
        assert "selector" not in clean_template(_host_job(manual))["spec"]


def test_a_manual_selector_is_the_users_and_is_kept() -> None:
    job = _host_job(manual=True)
    assert clean_template(job)["spec"] == job["spec"]


def test_other_kinds_keep_their_selector_and_labels() -> None:
    job = _host_job()
    for api_version, kind in (("apps/v1", "Deployment"), ("example.com/v1", "Job")):
        other = {**copy.deepcopy(job), "apiVersion": api_version, "kind": kind}
        assert clean_template(other)["spec"] == job["spec"]


def test_generated_labels_alone_leave_no_empty_label_map() -> None:
    job = _host_job()
    job["spec"]["template"]["metadata"]["labels"] = {"controller-uid": "x"}
    assert "labels" not in clean_template(job)["spec"]["template"]["metadata"]
