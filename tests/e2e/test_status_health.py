"""Status that means something, on the bare local apiservers: member status is written by
hand through the status subresource (no controllers there), and Nodes are created by
hand. The template's aggregated status, per-cluster health in status and get, `rollout
status`, and the members' capacity in `clusters -o wide`."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, get, policy, sync_once

pytestmark = pytest.mark.e2e
MEMBERS = ("member-1", "member-2")
WEIGHTED = [
    {"cluster": "member-1", "preferences": {"weight": 1}},
    {"cluster": "member-2", "preferences": {"weight": 2}},
]
T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:09:00Z"


def write_status(k: Kubectl, context: str, kind: str, name: str, ns: str, status: Any) -> None:
    patch = json.dumps({"status": status})
    k.run(
        "--context",
        context,
        "-n",
        ns,
        "patch",
        kind,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
    )


def roll_out(
    k: Kubectl, context: str, name: str, ns: str, available: int | None = None, **extra: Any
) -> None:
    """What a member's deployment controller would write once it has rolled out."""
    copy = get(k, context, "deployment", name, "-n", ns)
    assert copy is not None
    replicas = copy["spec"]["replicas"]
    status = {
        "observedGeneration": copy["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas if available is None else available,
        "availableReplicas": replicas if available is None else available,
        **extra,
    }
    write_status(k, context, "deployment", name, ns, status)


def divided(k: Kubectl, ns: str, name: str = "web") -> None:
    apply(
        k,
        policy("div", ns, schedulingMode="Divide", placement=WEIGHTED),
        deployment(name, ns, 9, labels={POLICY_LABEL: "div"}),
    )
    sync_once(k)


# ------------------------------------------------------------------------- rollout status


def test_rollout_status_waits_for_every_member(fed_host: Kubectl, ns: str) -> None:
    divided(fed_host, ns)
    early = fed_host.fed("rollout", "status", "deploy/web", "-n", ns, "--timeout=2s", check=False)
    assert early.code == 1 and early.err.strip() == "error: timed out waiting for the condition"
    assert early.out.splitlines() == [
        "Waiting for deployment spec update to be observed in member-1...",
        "Waiting for deployment spec update to be observed in member-2...",
    ]
    once = fed_host.fed("rollout", "status", "deployment", "web", "-n", ns, "--watch=false")
    assert once.code == 0 and len(once.out.splitlines()) == 2

    waiter = subprocess.Popen(
        ["kubectl", "fed", "rollout", "status", "deployment/web", "-n", ns, "--timeout=90s"],
        env=fed_host.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    roll_out(fed_host, "member-1", "web", ns, available=1)
    time.sleep(2)
    assert waiter.poll() is None  # still waiting
    roll_out(fed_host, "member-1", "web", ns)
    roll_out(fed_host, "member-2", "web", ns)
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    lines = out.splitlines()
    assert (
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available '
        "in member-1..." in lines
    )
    assert (
        lines[-3:]
        == [
            'deployment "web" successfully rolled out in member-1',
            'deployment "web" successfully rolled out in member-2',
            'deployment "web" successfully rolled out',
        ]
        or lines[-1] == 'deployment "web" successfully rolled out'
    )

    # A template change is not rolled out until a sync has sent it and the members observed it.
    fed_host.run("-n", ns, "set", "image", "deployment/web", "main=nginx:1.27")
    pending = fed_host.fed("rollout", "status", "deploy/web", "-n", ns, "--watch=false")
    assert pending.out.strip() == (
        'Waiting for deployment "web" spec update to be synced to the members '
        "(run kubectl fed sync)..."
    )


def test_a_failed_rollout_in_one_member(fed_host: Kubectl, ns: str) -> None:
    divided(fed_host, ns)
    roll_out(fed_host, "member-1", "web", ns)
    late = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-1" has timed out progressing.',
    }
    roll_out(fed_host, "member-2", "web", ns, available=2, conditions=[late])

    rollout = fed_host.fed("rollout", "status", "deploy/web", "-n", ns, check=False)
    assert rollout.code == 1
    assert (
        rollout.err.strip() == 'error: deployment "web" exceeded its progress deadline in member-2'
    )

    status = fed_host.fed("status", "deploy/web", "-n", ns, check=False)
    assert status.code == 1
    assert "member-2: Failed (ProgressDeadlineExceeded)" in status.out
    wide = fed_host.fed("status", "deploy/web", "-n", ns, "-o", "wide", check=False)
    health = {r[1]: r[4:6] for r in (line.split() for line in wide.out.splitlines()[1:])}
    assert health == {
        "member-1": ["Ready", "RolledOut"],
        "member-2": ["Failed", "ProgressDeadlineExceeded"],
    }
    got = fed_host.fed("get", "deploy", "web", "-n", ns, "-o", "wide")
    header, *rows = [line.split() for line in got.out.splitlines()]
    assert header[:5] == ["NAME", "CLUSTER", "MANAGED", "READY", "HEALTH"]
    assert [r[4] for r in rows] == ["Ready", "Failed"]
    assert rows[1][header.index("REASON")] == "ProgressDeadlineExceeded"
    as_json = json.loads(
        fed_host.fed("status", "deploy/web", "-n", ns, "-o", "json", check=False).out
    )
    assert as_json["items"][0]["health"] == "Failed"

    # The host's template carries the members' verdict: kubectl itself sees it there.
    sync_once(fed_host)
    host = get(fed_host, "host", "deployment", "web", "-n", ns)
    assert host is not None
    assert host["status"]["readyReplicas"] == 5 and host["status"]["observedGeneration"] == 1
    plain = fed_host.run(
        "--context", "host", "-n", ns, "rollout", "status", "deploy/web", check=False
    )
    assert plain.code == 1 and "exceeded its progress deadline" in plain.err


# ------------------------------------------------------------------------- aggregation


def test_job_and_load_balancer_status_aggregated_into_the_host(fed_host: Kubectl, ns: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": ns, "labels": {POLICY_LABEL: "dup"}},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front", "namespace": ns, "labels": {POLICY_LABEL: "dup"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    apply(fed_host, policy("dup", ns), job, service)
    try:
        sync_once(fed_host)
        for context, start, end in (("member-1", T1, T2), ("member-2", T0, T1)):
            # Kubernetes 1.34 accepts Complete only after SuccessCriteriaMet.
            done = [
                {"type": kind, "status": "True", "lastTransitionTime": end}
                for kind in ("SuccessCriteriaMet", "Complete")
            ]
            finished = {"startTime": start, "completionTime": end, "succeeded": 1}
            write_status(fed_host, context, "job", "once", ns, {**finished, "conditions": done})
        write_status(
            fed_host,
            "member-1",
            "service",
            "front",
            ns,
            {"loadBalancer": {"ingress": [{"ip": "10.9.0.1"}]}},
        )
        write_status(
            fed_host,
            "member-2",
            "service",
            "front",
            ns,
            {"loadBalancer": {"ingress": [{"hostname": "lb.eu.example"}]}},
        )
        sync_once(fed_host)

        host_job = get(fed_host, "host", "job", "once", "-n", ns)
        assert host_job is not None
        status = host_job["status"]
        assert (status["succeeded"], status["startTime"], status["completionTime"]) == (2, T0, T2)
        met, condition = status["conditions"]
        assert met["type"] == "SuccessCriteriaMet"
        assert (condition["type"], condition["reason"]) == ("Complete", "Completed")
        assert condition["message"] == "Job completed in clusters [member-1,member-2]"
        host_service = get(fed_host, "host", "service", "front", "-n", ns)
        assert host_service is not None
        assert host_service["status"]["loadBalancer"]["ingress"] == [
            {"ip": "10.9.0.1", "ipMode": "VIP", "hostname": "member-1"},  # ipMode: defaulted
            {"hostname": "lb.eu.example"},
        ]
        _, report = sync_once(fed_host)  # nothing changed: nothing written
        assert report["writes"] == 0, report
    finally:
        fed_host.run("-n", ns, "delete", "job", "once", "--wait=false", check=False)


# ------------------------------------------------------------------------- capacity


@pytest.fixture
def nodes(fed_host: Kubectl) -> Iterator[None]:
    """Two schedulable nodes in member-1 (4 CPUs, 8Gi each) and a pod asking for some."""
    for name in ("cap-a", "cap-b"):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        apply(fed_host, node, context="member-1")
        # The apiserver taints a new Node not-ready (TaintNodesByCondition); no node
        # controller is there to lift it.
        fed_host.run(
            "--context",
            "member-1",
            "patch",
            "node",
            name,
            "--type=merge",
            "-p",
            '{"spec": {"taints": null}}',
        )
        resources = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        write_status(
            fed_host,
            "member-1",
            "node",
            name,
            "default",
            {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "cap-pod", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
                }
            ]
        },
    }
    apply(fed_host, pod, context="member-1")
    try:
        yield
    finally:
        fed_host.run(
            "--context",
            "member-1",
            "-n",
            "default",
            "delete",
            "pod",
            "cap-pod",
            "--grace-period=0",
            "--force",
            check=False,
        )
        fed_host.run("--context", "member-1", "delete", "node", "cap-a", "cap-b", check=False)
        fed_host.fed("clusters", "--refresh", check=False)


def test_cluster_capacity_from_the_members_nodes(fed_host: Kubectl, nodes: None) -> None:
    wide = fed_host.fed("clusters", "--refresh", "-o", "wide")
    header, *rows = [line.split() for line in wide.out.splitlines()]
    assert header[-3:] == ["NODES", "CPU", "MEMORY"]
    by_name = {r[0]: r[-3:] for r in rows}
    assert by_name["member-1"] == ["2", "7750m/8", "15872Mi/16Gi"]
    assert by_name["member-2"] == ["0", "<none>", "<none>"]  # a bare apiserver: no nodes
    listing = json.loads(fed_host.fed("clusters", "-o", "json").out)
    recorded = {i["metadata"]["name"]: i["status"]["resources"] for i in listing["items"]}
    assert recorded["member-1"] == {
        "schedulableNodes": 2,
        "allocatable": {"cpu": "8", "memory": "16Gi"},
        "available": {"cpu": "7750m", "memory": "15872Mi"},
    }
    # Sync's probe keeps it current: a cordoned node leaves the count.
    fed_host.run(
        "--context",
        "member-1",
        "patch",
        "node",
        "cap-b",
        "--type=merge",
        "-p",
        '{"spec": {"unschedulable": true}}',
    )
    sync_once(fed_host)
    again = json.loads(fed_host.fed("clusters", "-o", "json").out)
    member_1 = next(i for i in again["items"] if i["metadata"]["name"] == "member-1")
    assert member_1["status"]["resources"]["schedulableNodes"] == 1
    assert member_1["status"]["resources"]["available"] == {"cpu": "3750m", "memory": "7680Mi"}


def test_rollout_status_bad_input_is_one_line(fed_host: Kubectl, ns: str) -> None:
    cases = {
        ("deploy/ghost",): 'error: deployments.apps "ghost" not found',
        ("jobs/x",): "error: no status viewer has been implemented for Job.batch",
        ("deploy",): "error: expected TYPE/NAME or TYPE NAME, not 'deploy'",
        ("frobs/x",): 'error: the server does not have a resource type "frobs"',
    }
    for args, expected in cases.items():
        result = fed_host.fed("rollout", "status", *args, "-n", ns, check=False)
        assert (result.code, result.err.strip()) == (1, expected), (args, result.err)
    fed_host.run("-n", ns, "create", "deployment", "plain", "--image=nginx")
    plain = fed_host.fed("rollout", "status", "deploy/plain", "-n", ns, check=False)
    assert plain.code == 1 and "is not federated" in plain.err
    assert len(plain.err.strip().splitlines()) == 1 and "Traceback" not in plain.err
