"""Workloads that run: members with a controller manager, a scheduler and simulated nodes.

What the bare-apiserver tests can only infer (from `generation`, from hand-written
status), observed here on pods: adoption restarts nothing, the Federation v1 guide's
replicas exist and are Ready across the members, drift correction and rescheduling
move real pods. Pods are read with the real kubectl in each member's context.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import localcluster
from tests.conftest import WORKLOAD_MEMBERS, Federation, Kubectl
from tests.e2e.helpers import (
    POLICY_LABEL,
    apply,
    deployment,
    entry,
    get,
    policy,
    replicas_in,
    sync_once,
    wait_for,
)

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent / "fixtures"
MEMBERS = tuple(WORKLOAD_MEMBERS)
POD_TIMEOUT_S = 90.0  # controllers, scheduler and KWOK share 2 cores with everything else


@pytest.fixture
def wns(fed_workloads: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own in the workload federation; everything in it is
    removed after, pods included (the members have a namespace controller)."""
    name = ("w-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]).rstrip("-")
    fed_workloads.run("create", "namespace", name, check=False)
    yield name
    k = fed_workloads
    k.run("delete", "deployments,replicasets", "--all", "-n", name, "--wait=false", check=False)
    k.run("delete", "propagationpolicies,overridepolicies", "--all", "-n", name, check=False)
    k.fed("sync", "--once", check=False)
    for member in MEMBERS:
        k.run("--context", member, "delete", "namespace", name, "--wait=false", check=False)


# --------------------------------------------------------------------------- pods


def pods(k: Kubectl, member: str, namespace: str, app: str) -> list[dict[str, Any]]:
    """The member's pods of app that are not being deleted, read with kubectl."""
    result = k.run(
        "--context", member, "get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json"
    )
    items: list[dict[str, Any]] = json.loads(result.out)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status", {})
    return bool(status.get("phase") == "Running") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
    )


def ready_counts(k: Kubectl, namespace: str, app: str) -> dict[str, int]:
    return {m: sum(is_ready(p) for p in pods(k, m, namespace, app)) for m in MEMBERS}


def all_counts(k: Kubectl, namespace: str, app: str) -> dict[str, int]:
    return {m: len(pods(k, m, namespace, app)) for m in MEMBERS}


def wait_for_pods(k: Kubectl, namespace: str, app: str, expected: dict[str, int]) -> None:
    """Until each member has exactly the expected pods, all Ready, and no others."""
    seen: dict[str, dict[str, int]] = {}

    def settled() -> bool:
        seen["ready"] = ready_counts(k, namespace, app)
        seen["all"] = all_counts(k, namespace, app)
        return seen["ready"] == expected and seen["all"] == expected

    assert wait_for(settled, timeout=POD_TIMEOUT_S, every=0.5), (
        f"pods of {app}: expected {expected} ready, saw ready {seen['ready']} of {seen['all']}"
    )


def uids(items: list[dict[str, Any]]) -> dict[str, str]:
    return {i["metadata"]["name"]: i["metadata"]["uid"] for i in items}


def replicasets(k: Kubectl, member: str, namespace: str, app: str) -> dict[str, str]:
    result = k.run(
        "--context", member, "get", "rs", "-n", namespace, "-l", f"app={app}", "-o", "json"
    )
    return uids(json.loads(result.out)["items"])


def member_namespace(k: Kubectl, namespace: str) -> None:
    for member in MEMBERS:
        k.run("--context", member, "create", "namespace", namespace, check=False)


# --------------------------------------------------------------------------- adoption


def test_adoption_restarts_no_pod(fed_workloads: Kubectl, wns: str) -> None:
    """`adopt` + `sync --once` take a running Deployment over: the same pods (UIDs) and
    the same ReplicaSet, no new rollout; the template then reports real readiness."""
    k = fed_workloads
    member_namespace(k, wns)
    k.run("--context", "member-1", "create", "deployment", "api", "--image=nginx",
          "--replicas=3", "-n", wns)  # fmt: skip
    wait_for_pods(k, wns, "api", {"member-1": 3, "member-2": 0})
    pods_before = uids(pods(k, "member-1", wns, "api"))
    rs_before = replicasets(k, "member-1", wns, "api")
    assert len(rs_before) == 1
    deploy_before = get(k, "member-1", "deploy", "api", "-n", wns)
    assert deploy_before is not None

    k.fed("adopt", "deploy/api", "--cluster", "member-1", "-n", wns, "--create-policy")
    code, report = sync_once(k, "-n", wns)
    assert code == 0, report
    assert entry(report, "deployment.apps/api", wns)["ok"]
    # Give the controllers the time to react to a changed pod template, if any.
    assert not wait_for(
        lambda: uids(pods(k, "member-1", wns, "api")) != pods_before, timeout=5.0, every=0.5
    )
    assert replicasets(k, "member-1", wns, "api") == rs_before
    after = get(k, "member-1", "deploy", "api", "-n", wns)
    assert after is not None
    assert after["metadata"]["uid"] == deploy_before["metadata"]["uid"]
    assert after["metadata"]["generation"] == deploy_before["metadata"]["generation"]
    assert all_counts(k, wns, "api") == {"member-1": 3, "member-2": 0}

    # A second pass changes nothing either, and the template's status is the member's.
    code, report = sync_once(k, "-n", wns)
    assert code == 0, report
    assert uids(pods(k, "member-1", wns, "api")) == pods_before
    assert replicasets(k, "member-1", wns, "api") == rs_before
    template = get(k, "host", "deploy", "api", "-n", wns)
    assert template is not None
    assert template["status"].get("readyReplicas") == 3
    assert k.fed("diff", "deploy/api", "-n", wns, check=False).code == 0


# --------------------------------------------------------------------------- the v1 guide


def test_federation_v1_guide_replicas_run(
    fed_workloads: Kubectl, workload_federation: Federation, tmp_path: Path
) -> None:
    """The Federation v1 "Federated ReplicaSets" guide's promise, observed: "the desired
    number of replicas exist across the registered clusters", as Ready pods, through
    creation, preferences, scaling and deletion."""
    config = yaml.safe_load(workload_federation.kubeconfig.read_text())
    config["contexts"] += [
        {"name": "federation-cluster", "context": {"cluster": "host", "user": "admin"}},
    ]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    k = Kubectl(workload_federation, Path(fed_workloads.env["KUBECTL_FED_CONFIG"]))
    k.env["KUBECONFIG"] = str(kubeconfig)
    myrs = tmp_path / "myrs.yaml"
    myrs.write_text((FIXTURES / "federation-v1-replicaset-myrs.yaml").read_text())
    k.fed("init", "--v1-compat")
    try:
        k.run("--context=federation-cluster", "create", "-f", str(myrs))
        sync_once(k)
        spread = replicas_in(k, "rs", "myrs", "default")
        assert sorted(v or 0 for v in spread.values()) == [4, 5]  # 9 spread equally
        wait_for_pods(k, "default", "myrs", {m: v or 0 for m, v in spread.items()})

        prefs = {
            "rebalance": True,
            "clusters": {"member-1": {"weight": 1}, "member-2": {"weight": 2}},
        }
        k.run("--context=federation-cluster", "annotate", "rs", "myrs",
              f"federation.kubernetes.io/replica-set-preferences={json.dumps(prefs)}")  # fmt: skip
        sync_once(k)
        wait_for_pods(k, "default", "myrs", {"member-1": 3, "member-2": 6})

        k.run("--context=federation-cluster", "scale", "rs", "myrs", "--replicas=12")
        sync_once(k)
        wait_for_pods(k, "default", "myrs", {"member-1": 4, "member-2": 8})
        sync_once(k)  # collects the members' status into the template
        template = get(k, "host", "rs", "myrs", "-n", "default")
        assert template is not None
        assert template["status"].get("readyReplicas") == 12

        k.run("--context=federation-cluster", "delete", "rs", "myrs")
        sync_once(k)
        wait_for_pods(k, "default", "myrs", {"member-1": 0, "member-2": 0})
    finally:
        k.fed("init", "--no-v1-compat")
        k.run("--context=federation-cluster", "delete", "rs", "myrs", check=False)
        k.fed("sync", "--once", check=False)


# --------------------------------------------------------------------------- drift, rescheduling


def test_drift_correction_brings_pods_back(fed_workloads: Kubectl, wns: str) -> None:
    """A member copy scaled or deleted by hand: its pods follow the hand edit, and the
    next sync brings them back to what the federation says."""
    k = fed_workloads
    apply(k, policy("dup", wns), deployment("drifty", wns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "drifty", {"member-1": 2, "member-2": 2})

    k.run("--context", "member-1", "scale", "deploy", "drifty", "-n", wns, "--replicas=5")
    wait_for_pods(k, wns, "drifty", {"member-1": 5, "member-2": 2})
    code, _ = sync_once(k, "-n", wns, "--drift=report")
    assert code == 1
    assert all_counts(k, wns, "drifty")["member-1"] == 5  # report changes nothing
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "drifty", {"member-1": 2, "member-2": 2})

    k.run("--context", "member-2", "delete", "deploy", "drifty", "-n", wns)
    wait_for_pods(k, wns, "drifty", {"member-1": 2, "member-2": 0})  # collected with it
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "drifty", {"member-1": 2, "member-2": 2})


def test_rescheduling_moves_pods(fed_workloads: Kubectl, wns: str) -> None:
    """Pods move when placement changes: a cluster dropped from the policy, back in the
    policy (only once avoidDisruption is off, as in KubeAdmiral), a NoExecute taint on a
    member and its removal; the Ready pods always sum to the desired replicas."""
    k = fed_workloads
    both = [{"cluster": m, "preferences": {"weight": 1}} for m in MEMBERS]
    only_first = [{"cluster": "member-1", "preferences": {"weight": 1}}]

    def spread(placement: list[dict[str, Any]], avoid_disruption: bool = True) -> None:
        rescheduling = {"avoidDisruption": avoid_disruption}
        apply(
            k,
            policy(
                "spread",
                wns,
                schedulingMode="Divide",
                placement=placement,
                replicaRescheduling=rescheduling,
            ),
            deployment("mover", wns, 6, labels={POLICY_LABEL: "spread"}),
        )
        code, report = sync_once(k, "-n", wns)
        assert code == 0, report

    spread(both)
    wait_for_pods(k, wns, "mover", {"member-1": 3, "member-2": 3})
    sync_once(k, "-n", wns)
    template = get(k, "host", "deploy", "mover", "-n", wns)
    assert template is not None and template["status"].get("readyReplicas") == 6

    spread(only_first)
    wait_for_pods(k, wns, "mover", {"member-1": 6, "member-2": 0})
    assert get(k, "member-2", "deploy", "mover", "-n", wns) is None

    spread(both)  # avoidDisruption: the running pods stay where they are
    assert replicas_in(k, "deploy", "mover", wns)["member-1"] == 6
    assert replicas_in(k, "deploy", "mover", wns)["member-2"] in (None, 0)
    wait_for_pods(k, wns, "mover", {"member-1": 6, "member-2": 0})
    spread(both, avoid_disruption=False)
    wait_for_pods(k, wns, "mover", {"member-1": 3, "member-2": 3})

    k.fed("taint", "member-1", "evict=now:NoExecute")
    try:
        sync_once(k, "-n", wns)
        wait_for_pods(k, wns, "mover", {"member-1": 0, "member-2": 6})
    finally:
        k.fed("taint", "member-1", "evict:NoExecute-")
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "mover", {"member-1": 3, "member-2": 3})


# --------------------------------------------------------------------------- outage


def test_stopped_member_takes_its_controllers_along(
    fed_workloads: Kubectl, workload_federation: Federation, wns: str
) -> None:
    """`stop` of a workload member stops its controller manager, scheduler and KWOK
    (nothing left retrying against a dead apiserver); `start` brings them all back, with
    the member's nodes and pods as they were, and new pods run again."""
    k = fed_workloads
    apply(k, policy("dup", wns), deployment("survivor", wns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "survivor", {"member-1": 2, "member-2": 2})
    before = uids(pods(k, "member-2", wns, "survivor"))

    workload_federation.stop("member-2")
    try:
        server = workload_federation.state["servers"]["member-2"]
        processes = [server["pid"], *server["workloads"]["pids"].values()]
        assert not any(localcluster._pid_alive(pid) for pid in processes)
    finally:
        workload_federation.start("member-2")
    server = workload_federation.state["servers"]["member-2"]
    assert all(localcluster._pid_alive(pid) for pid in server["workloads"]["pids"].values())
    assert uids(pods(k, "member-2", wns, "survivor")) == before

    k.run("scale", "deploy", "survivor", "-n", wns, "--replicas=3")
    sync_once(k, "-n", wns)
    wait_for_pods(k, wns, "survivor", {"member-1": 3, "member-2": 3})
