"""Resource quantities (core/quantity, apimachinery's canonical printing) and a member's
capacity as KubeAdmiral's cluster controller records it (core/capacity), and sync and
`clusters --refresh` recording it on the fake federation."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_fed.core.capacity import cluster_resources, pod_requests, schedulable, shown
from kubectl_fed.core.quantity import BINARY, DECIMAL, Quantity, QuantityError, parse_quantity
from kubectl_fed.ops.membership import refresh
from tests.fake import FakeFederation, run_pass


@pytest.mark.parametrize(
    ("text", "printed"),
    [  # apimachinery's canonical forms (resource.Quantity.String)
        ("4", "4"),
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("16Gi", "16Gi"),
        ("16393216Ki", "16009Mi"),
        ("1.5Gi", "1536Mi"),
        ("100M", "100M"),
        ("1e3", "1e3"),
        ("12n", "12n"),
        ("0.1n", "1n"),  # kept to the nanounit, rounded up
        ("-2Gi", "-2Gi"),
        ("0Mi", "0"),
    ],
)
def test_quantities_print_canonically(text: str, printed: str) -> None:
    assert str(parse_quantity(text)) == printed


def test_quantity_arithmetic_keeps_the_first_operands_format() -> None:
    memory = parse_quantity("16Gi")
    assert str(memory - parse_quantity("128Mi")) == "16256Mi"
    assert str(memory - parse_quantity("100M")) == "17079869184"  # not whole in Ki: bytes
    assert str(parse_quantity("4") - parse_quantity("250m")) == "3750m"
    assert str(Quantity(Fraction(1000), BINARY)) == "1k"  # under 1024: decimal
    assert str(Quantity(Fraction(0)) + parse_quantity("1Gi")) == "1Gi"  # zero takes the other's


@pytest.mark.parametrize("bad", ["", "1.2.3", "Gi", "1 Gi", "1Xi", "--1", "1e"])
def test_bad_quantities_are_refused(bad: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(bad)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([BINARY, DECIMAL]))
def test_printing_then_parsing_gives_the_value_back(nanos: int, fmt: str) -> None:
    value = Fraction(nanos, 10**9)
    assert parse_quantity(str(Quantity(value, fmt))).value == value


def node(name: str, cpu: str, memory: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(phase: str = "Running", **spec: Any) -> dict[str, Any]:
    return {"spec": spec, "status": {"phase": phase}}


def container(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Any:
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}


def test_schedulable_nodes() -> None:
    assert schedulable(node("a", "1", "1Gi"))
    assert not schedulable(node("a", "1", "1Gi", unschedulable=True))
    assert not schedulable(node("a", "1", "1Gi", taints=[{"key": "x", "effect": "NoExecute"}]))
    assert schedulable(node("a", "1", "1Gi", taints=[{"key": "x", "effect": "PreferNoSchedule"}]))
    not_ready = node("a", "1", "1Gi")
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    assert not schedulable(not_ready)


def test_pod_requests_count_limits_init_containers_and_overhead() -> None:
    spec = {
        "containers": [
            container({"cpu": "100m"}, {"cpu": "1", "memory": "256Mi"}),  # memory: its limit
            container({"cpu": "200m", "memory": "128Mi"}),
        ],
        "initContainers": [container({"cpu": "500m", "memory": "64Mi"})],
        "overhead": {"cpu": "10m"},
    }
    assert {k: str(v) for k, v in pod_requests(spec).items()} == {
        "cpu": "510m",  # max(100m + 200m, 500m) + 10m
        "memory": "384Mi",
    }


def test_cluster_resources_worked_example() -> None:
    nodes = [
        node("a", "4", "8Gi"),
        node("b", "4", "8Gi"),
        node("cordoned", "64", "256Gi", unschedulable=True),
    ]
    pods = [
        pod(containers=[container({"cpu": "250m", "memory": "512Mi"})]),
        pod("Pending", containers=[container({"cpu": "1", "nvidia.com/gpu": "1"})]),  # unbound
        pod("Succeeded", containers=[container({"cpu": "2"})]),  # terminated: nothing
    ]
    assert cluster_resources(nodes, pods) == {
        "schedulableNodes": 2,
        "allocatable": {"cpu": "8", "memory": "16Gi"},  # pods left out, as KubeAdmiral
        "available": {"cpu": "6750m", "memory": "15872Mi"},
    }


def test_no_nodes_is_nothing_not_an_error() -> None:
    resources = cluster_resources([], [pod(containers=[container({"cpu": "1"})])])
    assert resources == {"schedulableNodes": 0, "allocatable": {}, "available": {}}
    assert shown(resources, "cpu") is None
    assert shown({"allocatable": {"cpu": "8"}, "available": {"cpu": "6"}}, "cpu") == "6/8"


def test_garbage_nodes_and_pods_are_skipped() -> None:
    bad_node = {"status": {"allocatable": {"cpu": "lots", "memory": "1Gi"}}}
    bad_pod = {"spec": {"containers": ["x", {"resources": {"requests": {"cpu": "?"}}}]}}
    assert cluster_resources([bad_node], [bad_pod, {}]) == {
        "schedulableNodes": 1,
        "allocatable": {"memory": "1Gi"},
        "available": {"memory": "1Gi"},
    }


# --------------------------------------------------------------------------- recorded


@pytest.fixture
def fed() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as federation:
        yield federation


def recorded(fed: FakeFederation, cluster: str) -> Any:
    found = fed.host_cluster.must("federatedclusters.core.kubeadmiral.io", cluster)
    return (found.get("status") or {}).get("resources")


def test_sync_and_refresh_record_the_members_capacity(fed: FakeFederation) -> None:
    member = fed.kube("member-1")
    n1 = node("n1", "4", "8Gi")
    member.create("/api/v1/nodes", n1)
    member.merge_patch("/api/v1/nodes/n1/status", {"status": n1["status"]})  # create drops it
    member.create("/api/v1/namespaces", {"metadata": {"name": "apps"}})
    member.create(
        "/api/v1/namespaces/apps/pods",
        {"metadata": {"name": "p"}, **pod(containers=[container({"cpu": "1"})])},
    )
    run_pass(fed)
    assert recorded(fed, "member-1") == {
        "schedulableNodes": 1,
        "allocatable": {"cpu": "4", "memory": "8Gi"},
        "available": {"cpu": "3", "memory": "8Gi"},
    }
    assert recorded(fed, "member-2") == {"schedulableNodes": 0, "allocatable": {}, "available": {}}
    fed.reset_counts()
    assert run_pass(fed).writes == 0  # unchanged: not written again
    member.delete("/api/v1/namespaces/apps/pods/p")
    assert refresh(fed.host, fed.host.clusters(), fed.timeout) == []
    assert recorded(fed, "member-1")["available"] == {"cpu": "4", "memory": "8Gi"}
    member.delete("/api/v1/nodes/n1")  # what was allocatable goes from the record too
    run_pass(fed)
    assert recorded(fed, "member-1") == {"schedulableNodes": 0, "allocatable": {}, "available": {}}


def test_refresh_without_permission_keeps_the_record_and_warns(fed: FakeFederation) -> None:
    run_pass(fed)
    fed.members["member-1"].fail_next("GET", "/api/v1/pods", 403, message="forbidden")
    warnings = refresh(fed.host, fed.host.clusters(), fed.timeout)
    assert len(warnings) == 1 and "cannot read its nodes and pods" in warnings[0]
    assert recorded(fed, "member-1") == {"schedulableNodes": 0, "allocatable": {}, "available": {}}
