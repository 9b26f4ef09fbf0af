"""Status that means something, observed on members that run workloads: a real rollout
waited for by `kubectl fed rollout status`, Ready pods summed into the template and shown
as per-cluster health, a Job run to completion in every member and aggregated with
KubeAdmiral's message, the members' capacity from their (simulated) nodes, and a
ConfigMap without a policy following the Deployment whose pods use it."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, get, policy, sync_once, wait_for
from tests.e2e.test_workloads import MEMBERS, POD_TIMEOUT_S, ready_counts, wns  # noqa: F401

pytestmark = pytest.mark.e2e


def test_rollout_status_waits_for_real_pods_and_health_follows(
    fed_workloads: Kubectl,
    wns: str,  # noqa: F811
) -> None:
    k = fed_workloads
    web = deployment("web", wns, replicas=4, labels={POLICY_LABEL: "spread"})
    # The pods read a ConfigMap that has no policy of its own: it follows the Deployment.
    web["spec"]["template"]["spec"]["volumes"] = [{"name": "c", "configMap": {"name": "web"}}]
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web", "namespace": wns},
        "data": {"greeting": "hello"},
    }
    apply(k, policy("spread", wns, schedulingMode="Divide"), config, web)
    code, _ = sync_once(k)
    assert code in (0, 1)  # pods are still starting: not every copy is Ready yet
    started = time.monotonic()
    rolled = k.fed("rollout", "status", "deployment/web", "-n", wns, "--timeout", "120s")
    assert rolled.code == 0 and "successfully rolled out" in rolled.out, rolled.out
    assert time.monotonic() - started < 120
    assert sum(ready_counts(k, wns, "web").values()) == 4
    for member in MEMBERS:  # the follower is there before the pods need it
        copy = get(k, member, "configmap", "web", "-n", wns)
        assert copy is not None and copy["data"] == {"greeting": "hello"}
    assert wait_for(lambda: sync_once(k)[0] == 0, timeout=POD_TIMEOUT_S)
    template = k.json("--context", "host", "get", "deployment", "web", "-n", wns)
    assert template["status"].get("readyReplicas") == 4
    assert template["status"].get("observedGeneration") == template["metadata"]["generation"]
    status = json.loads(k.fed("status", "deployment/web", "-n", wns, "-o", "json").out)
    text = json.dumps(status)
    assert '"Ready"' in text and "Failed" not in text, text


def test_a_job_runs_to_completion_in_every_member(
    fed_workloads: Kubectl,
    wns: str,  # noqa: F811
) -> None:
    k = fed_workloads
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": wns, "labels": {POLICY_LABEL: "both"}},
        "spec": {
            "completions": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                }
            },
        },
    }
    apply(k, policy("both", wns), job)
    sync_once(k)

    def complete() -> bool:
        sync_once(k)
        found = get(k, "host", "job", "once", "-n", wns) or {}
        conditions = (found.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)

    assert wait_for(complete, timeout=POD_TIMEOUT_S, every=2)
    status = k.json("--context", "host", "get", "job", "once", "-n", wns)["status"]
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Complete")
    assert message == "Job completed in clusters [member-1,member-2]", message
    assert status.get("succeeded") == 2
    k.run("delete", "job", "once", "-n", wns, "--wait=false")
    sync_once(k)


def test_capacity_of_the_members_nodes(fed_workloads: Kubectl) -> None:
    k = fed_workloads
    wide = k.fed("clusters", "--refresh", "-o", "wide").out.splitlines()
    header = wide[0].split()
    assert "NODES" in header and "CPU" in header, wide[0]
    for member in MEMBERS:
        row = next(line.split() for line in wide if line.startswith(member))
        nodes = row[header.index("NODES")]
        assert nodes.isdigit() and int(nodes) >= 1, row
        cluster = k.json("--context", "host", "get", "federatedcluster", member)
        resources = cluster["status"]["resources"]
        assert resources["schedulableNodes"] == int(nodes)
        assert resources["allocatable"]["cpu"] and resources["available"]["cpu"]
