from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubectl_fed.core.prune import prune_for_adoption

MEMBER_METADATA = {
    "uid": "5b64f73b",
    "resourceVersion": "898",
    "creationTimestamp": "2023-08-30T02:26:57Z",
    "deletionTimestamp": "2023-08-31T00:00:00Z",
    "deletionGracePeriodSeconds": 30,
    "generation": 1,
    "managedFields": [{"manager": "kubectl"}],
    "selfLink": "/x",
    "ownerReferences": [{"kind": "Thing", "name": "t", "uid": "1"}],
    "finalizers": ["example.com/hold"],
}

POD_TEMPLATE = {
    "metadata": {"creationTimestamp": None, "labels": {"run": "my-nginx"}},
    "spec": {
        "containers": [
            {
                "image": "nginx",
                "imagePullPolicy": "Always",
                "name": "my-nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    },
}


def live_deployment() -> Any:
    """The member Deployment of KubeAdmiral's federalization walkthrough."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "deployment.kubernetes.io/revision-history": "1",
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
            },
            "name": "my-nginx",
            "namespace": "default",
            **MEMBER_METADATA,
        },
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 2,
            "selector": {"matchLabels": {"run": "my-nginx"}},
            "template": copy.deepcopy(POD_TEMPLATE),
        },
        "status": {"availableReplicas": 2, "observedGeneration": 1},
    }


def test_deployment_loses_what_only_the_member_has() -> None:
    live = live_deployment()
    before = copy.deepcopy(live)
    template = prune_for_adoption(live)
    assert live == before
    assert template == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}'
            },
            "name": "my-nginx",
            "namespace": "default",
        },
        "spec": before["spec"],
    }
    assert json.dumps(template["spec"]["template"]) == json.dumps(POD_TEMPLATE)


def test_revision_annotations_alone_leave_no_annotations() -> None:
    live = live_deployment()
    del live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert "annotations" not in prune_for_adoption(live)["metadata"]


def service(cluster_ip: Any, **spec: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": [{"port": 80}],
            **spec,
        },
    }


def test_service_loses_its_cluster_ip_unless_headless() -> None:
    assert prune_for_adoption(service("10.96.72.40"))["spec"] == {"ports": [{"port": 80}]}
    assert prune_for_adoption(service("None")) == service("None")


def test_service_account_loses_only_its_auto_created_token_secrets() -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "app", "namespace": "n"},
        "secrets": [
            {"name": "app-token-x7k2p"},
            {"name": "app-extra"},
            {"name": "other-token-x7k2p"},
        ],
    }
    assert prune_for_adoption(account)["secrets"] == [
        {"name": "app-extra"},
        {"name": "other-token-x7k2p"},
    ]
    account["secrets"] = [{"name": "app-token-x7k2p"}]
    assert "secrets" not in prune_for_adoption(account)


def job(manual_selector: Any = None) -> Any:
    uid = "8c6a0cf4-1e4b-4c5e-9e0b-2f6f1f3a9d11"
    spec = {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
        "template": {
            "metadata": {
                "labels": {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": "j",
                    "controller-uid": uid,
                    "job-name": "j",
                }
            },
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"},
        },
    }
    if manual_selector is not None:
        spec["manualSelector"] = manual_selector
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "n"},
        "spec": spec,
    }


def test_job_loses_its_generated_selector() -> None:
    spec = prune_for_adoption(job())["spec"]
    assert "selector" not in spec
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/job-name": "j",
        "job-name": "j",
    }
    assert spec["template"]["spec"] == job()["spec"]["template"]["spec"]


def test_job_with_a_manual_selector_keeps_it() -> None:
    assert prune_for_adoption(job(manual_selector=True)) == job(manual_selector=True)


def test_claim_loses_its_selected_node() -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "data",
            "annotations": {"volume.kubernetes.io/selected-node": "node-1", "keep": "me"},
        },
        "spec": {"volumeName": "pv-1"},
    }
    assert prune_for_adoption(claim)["metadata"]["annotations"] == {"keep": "me"}
    assert prune_for_adoption(claim)["spec"] == {"volumeName": "pv-1"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.sampled_from(
        [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
        ]
    ),
    st.dictionaries(st.text(max_size=8), json_values, max_size=6),
)
def test_pod_template_is_kept_byte_for_byte(type_: Any, pod_template: Any) -> None:
    api_version, kind = type_
    live = live_deployment()
    live["apiVersion"], live["kind"] = api_version, kind
    live["spec"]["template"] = pod_template
    pruned = prune_for_adoption(live)
    assert json.dumps(pruned["spec"]["template"]) == json.dumps(pod_template)
