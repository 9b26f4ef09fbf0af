from __future__ import annotations

import copy
from typing import Any

import pytest

from kubectl_fed.core.retain import retain_member_fields, strip_replicas


def retain(desired: Any, live: Any, *, retain_replicas: bool = False, **kwargs: Any) -> Any:
    before = copy.deepcopy((desired, live))
    result = retain_member_fields(desired, live, retain_replicas=retain_replicas, **kwargs)
    assert (desired, live) == before, "inputs must not be mutated"
    return result


def obj(kind: Any, metadata: Any = None, api_version: Any = "v1", **fields: Any) -> Any:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", **(metadata or {})},
        **fields,
    }


def managed(manager: Any, field: Any, *keys: Any) -> Any:
    return {
        "manager": manager,
        "operation": "Apply" if manager == "kubectl-fed" else "Update",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {f"f:{field}": {f"f:{key}": {} for key in keys}}},
    }


# --- every kind --------------------------------------------------------------------------------


def test_resource_version_and_finalizers_come_from_the_member() -> None:
    desired = obj("ConfigMap", {"finalizers": ["ours"]})
    live = obj("ConfigMap", {"resourceVersion": "42", "finalizers": ["theirs", "ours"]})
    metadata = retain(desired, live)["metadata"]
    assert metadata["resourceVersion"] == "42"
    assert metadata["finalizers"] == ["theirs", "ours"]


def test_nothing_to_retain_from_a_bare_member() -> None:
    desired = obj("ConfigMap", {"labels": {"app": "x"}}, data={"k": "v"})
    assert retain(desired, obj("ConfigMap")) == desired


def test_member_labels_and_annotations_are_kept_ours_are_not() -> None:
    desired = obj("ConfigMap", {"labels": {"app": "web", "tier": "fed"}})
    live = obj(
        "ConfigMap",
        {
            "labels": {"app": "web", "tier": "member", "team": "a", "dropped": "1", "shared": "1"},
            "annotations": {"note": "member"},
            "managedFields": [
                managed("kubectl-fed", "labels", "app", "tier", "dropped", "shared"),
                managed("kubectl-edit", "labels", "team", "shared"),
            ],
        },
    )
    metadata = retain(desired, live)["metadata"]
    # the template wins on its keys; `dropped` came from us alone, so it goes; `shared` and
    # `team` are also another manager's, so they stay
    assert metadata["labels"] == {"app": "web", "tier": "fed", "team": "a", "shared": "1"}
    assert metadata["annotations"] == {"note": "member"}


def test_without_managed_fields_every_member_key_is_the_members() -> None:
    live = obj("ConfigMap", {"labels": {"team": "a"}})
    assert retain(obj("ConfigMap"), live)["metadata"]["labels"] == {"team": "a"}


# --- Service ---------------------------------------------------------------------------------


def service(spec: Any, **metadata: Any) -> Any:
    return obj("Service", metadata, spec=spec)


LIVE_PORTS = [
    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
    {"name": "dns", "protocol": "UDP", "port": 53, "nodePort": 30053},
]


def test_service_keeps_its_allocated_addresses_and_ports() -> None:
    desired = service(
        {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "clusterIP": "10.0.0.1",
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "dns", "protocol": "TCP", "port": 53},
            ],
        }
    )
    live = service(
        {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "clusterIP": "10.96.0.7",
            "clusterIPs": ["10.96.0.7"],
            "healthCheckNodePort": 31000,
            "ports": LIVE_PORTS,
        }
    )
    spec = retain(desired, live)["spec"]
    assert spec["clusterIP"] == "10.96.0.7"
    assert spec["clusterIPs"] == ["10.96.0.7"]
    assert spec["healthCheckNodePort"] == 31000
    # matched on (name, protocol defaulting to TCP, port): UDP 53 is not TCP 53
    assert spec["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
        {"name": "dns", "protocol": "TCP", "port": 53},
    ]


def test_headless_and_external_name_services_keep_no_cluster_ip() -> None:
    live = service({"clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"]})
    headless = service({"clusterIP": "None"})
    assert retain(headless, live)["spec"] == {"clusterIP": "None"}
    external = service({"type": "ExternalName", "externalName": "example.com"})
    assert retain(external, live)["spec"] == external["spec"]


def test_cluster_ip_service_keeps_no_node_ports() -> None:
    desired = service({"ports": [{"name": "http", "port": 80}]})
    live = service({"type": "NodePort", "clusterIP": "10.96.0.7", "ports": LIVE_PORTS})
    assert retain(desired, live)["spec"] == {
        "ports": [{"name": "http", "port": 80}],
        "clusterIP": "10.96.0.7",
    }


def test_health_check_node_port_only_for_local_load_balancers() -> None:
    live = service(
        {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000}
    )
    cluster_policy = service({"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"})
    assert "healthCheckNodePort" not in retain(cluster_policy, live)["spec"]


# --- other kinds -------------------------------------------------------------------------------


def test_service_account_keeps_its_secrets_when_the_template_has_none() -> None:
    live = obj(
        "ServiceAccount", secrets=[{"name": "x-token-abcde"}], imagePullSecrets=[{"name": "pull"}]
    )
    result = retain(obj("ServiceAccount"), live)
    assert result["secrets"] == [{"name": "x-token-abcde"}]
    assert result["imagePullSecrets"] == [{"name": "pull"}]
    own = obj("ServiceAccount", imagePullSecrets=[{"name": "ours"}])
    assert retain(own, live)["imagePullSecrets"] == [{"name": "ours"}]


def test_bound_volumes_keep_their_binding() -> None:
    pvc = retain(
        obj("PersistentVolumeClaim", spec={"resources": {}}),
        obj("PersistentVolumeClaim", spec={"volumeName": "pv-1"}),
    )
    assert pvc["spec"] == {"resources": {}, "volumeName": "pv-1"}
    claim = {"kind": "PersistentVolumeClaim", "name": "data", "namespace": "n"}
    pv = retain(obj("PersistentVolume", spec={}), obj("PersistentVolume", spec={"claimRef": claim}))
    assert pv["spec"]["claimRef"] == claim


def job(manual: Any = None, labels: Any = None, selector: Any = None) -> Any:
    spec = {"template": {"metadata": {"labels": labels or {}}, "spec": {"containers": []}}}
    if manual is not None:
        spec["manualSelector"] = manual
    if selector:
        spec["selector"] = selector
    return obj("Job", api_version="batch/v1", spec=spec)


def test_job_keeps_its_generated_selector() -> None:
    uid = {"batch.kubernetes.io/controller-uid": "u1"}
    live = job(labels={"app": "j", **uid}, selector={"matchLabels": uid})
    result = retain(job(labels={"app": "j"}), live)
    assert result["spec"]["selector"] == {"matchLabels": uid}
    assert result["spec"]["template"]["metadata"]["labels"] == {"app": "j", **uid}


def test_job_with_a_manual_selector_keeps_its_own() -> None:
    mine = job(manual=True, labels={"app": "j"}, selector={"matchLabels": {"app": "j"}})
    live = job(manual=True, labels={"app": "old"}, selector={"matchLabels": {"app": "old"}})
    assert retain(mine, live) == mine


def test_pod_keeps_what_scheduling_and_admission_set() -> None:
    token_mount = {
        "name": "kube-api-access-x",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    }
    desired = obj(
        "Pod",
        spec={
            "containers": [
                {"name": "c", "image": "a", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    )
    live = obj(
        "Pod",
        spec={
            "nodeName": "node-1",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "priority": 0,
            "containers": [
                {
                    "name": "c",
                    "image": "a",
                    "resources": {"requests": {"cpu": "100m"}},
                    "volumeMounts": [token_mount, {"name": "data", "mountPath": "/d"}],
                }
            ],
            "volumes": [
                {"name": "kube-api-access-x", "projected": {}},
                {"name": "data", "emptyDir": {}},
            ],
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
        },
    )
    spec = retain(desired, live)["spec"]
    assert spec["nodeName"] == "node-1"
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0
    assert spec["volumes"] == live["spec"]["volumes"]
    assert spec["ephemeralContainers"] == live["spec"]["ephemeralContainers"]
    assert spec["containers"] == live["spec"]["containers"]


def test_pod_keeps_its_own_service_account() -> None:
    desired = obj("Pod", spec={"serviceAccountName": "app", "containers": []})
    live = obj("Pod", spec={"serviceAccountName": "default", "containers": []})
    assert retain(desired, live)["spec"]["serviceAccountName"] == "app"


# --- replicas -------------------------------------------------------------------------------


def deployment(replicas: Any) -> Any:
    return obj("Deployment", api_version="apps/v1", spec={"replicas": replicas, "template": {}})


@pytest.mark.parametrize(("retain_replicas", "expected"), [(True, 7), (False, 3)])
def test_replicas_are_the_members_only_when_asked(retain_replicas: Any, expected: Any) -> None:
    result = retain(deployment(3), deployment(7), retain_replicas=retain_replicas)
    assert result["spec"]["replicas"] == expected


def test_replicas_at_another_path() -> None:
    desired = obj("Scaled", api_version="example.com/v1", spec={"size": {"count": 1}})
    live = obj("Scaled", api_version="example.com/v1", spec={"size": {"count": 4}})
    result = retain(desired, live, retain_replicas=True, replicas_path=("spec", "size", "count"))
    assert result["spec"]["size"]["count"] == 4


def test_strip_replicas() -> None:
    desired = deployment(3)
    assert "replicas" not in strip_replicas(desired)["spec"]
    assert desired["spec"]["replicas"] == 3
    assert strip_replicas(desired, ("spec", "missing", "replicas")) == desired
