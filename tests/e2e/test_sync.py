"""kubectl fed sync, end to end, on real apiservers through the real kubectl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Federation, Kubectl
from tests.e2e.helpers import (
    POLICY_LABEL,
    apply,
    deployment,
    entry,
    get,
    policy,
    replicas_in,
    sync_once,
    unreachable_kubeconfig,
    wait_for,
)

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent / "fixtures"


# --------------------------------------------------------------------------- the v1 guide


def test_federation_v1_replicasets_guide(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """The Federation v1 "Federated ReplicaSets" guide, its commands verbatim."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    config["contexts"] += [
        {"name": "federation-cluster", "context": {"cluster": "host", "user": "admin"}},
        {"name": "gce-asia-east1a", "context": {"cluster": "member-1", "user": "admin"}},
    ]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    k = Kubectl(federation, Path(fed_host.env["KUBECTL_FED_CONFIG"]))
    k.env["KUBECONFIG"] = str(kubeconfig)
    (tmp_path / "myrs.yaml").write_text(
        (FIXTURES / "federation-v1-replicaset-myrs.yaml").read_text()
    )
    k.fed("init", "--v1-compat")
    try:
        k.run("--context=federation-cluster", "create", "-f", str(tmp_path / "myrs.yaml"))
        _, report = sync_once(k)
        assert entry(report, "replicaset.apps/myrs", "default")["ok"]
        mine = k.run("--context=gce-asia-east1a", "get", "rs", "myrs").out
        assert "myrs" in mine
        spread = replicas_in(k, "rs", "myrs", "default")
        assert sum(v or 0 for v in spread.values()) == 9 and set(spread.values()) == {4, 5}

        prefs = {
            "rebalance": True,
            "clusters": {"member-1": {"weight": 1}, "member-2": {"weight": 2}},
        }
        k.run(
            "--context=federation-cluster",
            "annotate",
            "rs",
            "myrs",
            f"federation.kubernetes.io/replica-set-preferences={json.dumps(prefs)}",
        )
        sync_once(k)
        assert replicas_in(k, "rs", "myrs", "default") == {"member-1": 3, "member-2": 6}

        k.run("--context=federation-cluster", "scale", "rs", "myrs", "--replicas=12")
        sync_once(k)
        assert replicas_in(k, "rs", "myrs", "default") == {"member-1": 4, "member-2": 8}

        k.run("--context=federation-cluster", "delete", "rs", "myrs")
        _code, report = sync_once(k)
        assert replicas_in(k, "rs", "myrs", "default") == {"member-1": None, "member-2": None}
    finally:
        k.fed("init", "--no-v1-compat")
        k.run("--context=federation-cluster", "delete", "rs", "myrs", check=False)
        k.fed("sync", "--once", check=False)


# --------------------------------------------------------------------------- policies


def test_duplicate_and_divide(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns, schedulingMode="Duplicate"),
        policy(
            "div",
            ns,
            schedulingMode="Divide",
            placement=[
                {"cluster": "member-1", "preferences": {"weight": 1}},
                {"cluster": "member-2", "preferences": {"weight": 2}},
            ],
        ),
        deployment("dup", ns, 3, labels={POLICY_LABEL: "dup"}),
        deployment("div", ns, 9, labels={POLICY_LABEL: "div"}),
    )
    _code, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/dup", ns)["ok"]
    assert replicas_in(fed_host, "deploy", "dup", ns) == {"member-1": 3, "member-2": 3}
    assert replicas_in(fed_host, "deploy", "div", ns) == {"member-1": 3, "member-2": 6}
    fo = get(fed_host, "host", "fo", "div-deployments.apps", "-n", ns)
    assert fo is not None
    assert [c["status"] for c in fo["status"]["clusters"]] == ["OK", "OK"]
    assert fo["status"]["conditions"][0]["type"] == "Propagated"
    assert fo["status"]["syncedGeneration"] == fo["metadata"]["generation"]
    member = get(fed_host, "member-1", "deploy", "dup", "-n", ns, "--show-managed-fields")
    assert member is not None
    assert member["metadata"]["labels"]["kubeadmiral.io/managed"] == "true"
    assert POLICY_LABEL not in member["metadata"]["labels"]
    fields = {m["manager"] for m in member["metadata"]["managedFields"]}
    assert "kubectl-fed" in fields

    fed_host.run("scale", "deploy", "div", "-n", ns, "--replicas=12")
    sync_once(fed_host)
    assert replicas_in(fed_host, "deploy", "div", ns) == {"member-1": 4, "member-2": 8}


def test_second_pass_sends_no_writes(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        deployment("a", ns, labels={POLICY_LABEL: "dup"}),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": ns, "labels": {POLICY_LABEL: "dup"}},
            "data": {"k": "v"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "namespace": ns, "labels": {POLICY_LABEL: "dup"}},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "a"}},
        },
    )
    _first_code, first = sync_once(fed_host)
    assert first["writes"] > 0
    _code, second = sync_once(fed_host)
    assert second["writes"] == 0, second["requests"]
    for member in ("member-1", "member-2"):
        service = get(fed_host, member, "svc", "svc", "-n", ns)
        assert service is not None and service["spec"]["clusterIP"]


def test_overrides_per_cluster(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        {
            "apiVersion": "core.kubeadmiral.io/v1alpha1",
            "kind": "OverridePolicy",
            "metadata": {"name": "op", "namespace": ns},
            "spec": {
                "overrideRules": [
                    {
                        "targetClusters": {"clusters": ["member-1"]},
                        "overriders": {
                            "image": [
                                {
                                    "operations": [
                                        {
                                            "imageComponent": "Tag",
                                            "operator": "overwrite",
                                            "value": "1.25",
                                        }
                                    ]
                                }
                            ],
                            "jsonpatch": [{"path": "/spec/replicas", "value": 5}],
                        },
                    },
                    {
                        "targetClusters": {"clusters": ["member-2"]},
                        "overriders": {
                            "labels": [{"operator": "addIfAbsent", "value": {"tier": "b"}}]
                        },
                    },
                ]
            },
        },
        deployment(
            "web", ns, 2, labels={POLICY_LABEL: "dup", "kubeadmiral.io/override-policy-name": "op"}
        ),
    )
    sync_once(fed_host)
    one = get(fed_host, "member-1", "deploy", "web", "-n", ns)
    two = get(fed_host, "member-2", "deploy", "web", "-n", ns)
    assert one is not None and two is not None
    assert one["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert one["spec"]["replicas"] == 5
    assert two["spec"]["replicas"] == 2 and two["metadata"]["labels"]["tier"] == "b"


def test_failing_override_is_reported_and_others_continue(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        {
            "apiVersion": "core.kubeadmiral.io/v1alpha1",
            "kind": "OverridePolicy",
            "metadata": {"name": "bad", "namespace": ns},
            "spec": {
                "overrideRules": [
                    {
                        "targetClusters": {"clusters": ["member-2"]},
                        "overriders": {"jsonpatch": [{"path": "/metadata/name", "value": "x"}]},
                    }
                ]
            },
        },
        deployment(
            "bad", ns, labels={POLICY_LABEL: "dup", "kubeadmiral.io/override-policy-name": "bad"}
        ),
        deployment("good", ns, labels={POLICY_LABEL: "dup"}),
    )
    code, report = sync_once(fed_host)
    assert code == 1
    bad = entry(report, "deployment.apps/bad", ns)
    assert bad["clusters"]["member-2"]["status"] == "ApplyOverridesFailed"
    assert "/metadata/name" in bad["clusters"]["member-2"]["message"]
    assert bad["clusters"]["member-1"]["status"] == "OK"
    assert entry(report, "deployment.apps/good", ns)["ok"]
    fo = get(fed_host, "host", "fo", "bad-deployments.apps", "-n", ns)
    assert fo is not None and fo["status"]["conditions"][0]["status"] == "False"


def test_template_member_rejects_is_reported(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        {
            "apiVersion": "core.kubeadmiral.io/v1alpha1",
            "kind": "OverridePolicy",
            "metadata": {"name": "neg", "namespace": ns},
            "spec": {
                "overrideRules": [
                    {
                        "targetClusters": {"clusters": ["member-1"]},
                        "overriders": {"jsonpatch": [{"path": "/spec/replicas", "value": -3}]},
                    }
                ]
            },
        },
        deployment(
            "neg", ns, labels={POLICY_LABEL: "dup", "kubeadmiral.io/override-policy-name": "neg"}
        ),
    )
    code, report = sync_once(fed_host)
    assert code == 1
    member_1 = entry(report, "deployment.apps/neg", ns)["clusters"]["member-1"]
    assert member_1["status"] == "CreationFailed" and "replicas" in member_1["message"]


# --------------------------------------------------------------------------- adoption


def test_adoption_in_place_keeps_generation(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("--context", "member-1", "create", "namespace", ns, check=False)
    apply(fed_host, deployment("legacy", ns, 2), context="member-1")
    before = get(fed_host, "member-1", "deploy", "legacy", "-n", ns)
    assert before is not None
    apply(
        fed_host,
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        deployment("legacy", ns, 2, labels={POLICY_LABEL: "one"}),
    )
    _, report = sync_once(fed_host)
    refused = entry(report, "deployment.apps/legacy", ns)["clusters"]["member-1"]
    assert refused["status"] == "AlreadyExists"

    fed_host.run(
        "annotate",
        "deploy",
        "legacy",
        "-n",
        ns,
        "kubeadmiral.io/conflict-resolution=adopt",
        'kubeadmiral.io/clusters-to-adopt={"clusters": ["member-1"]}',
    )
    _code, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/legacy", ns)["ok"]
    after = get(fed_host, "member-1", "deploy", "legacy", "-n", ns)
    assert after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["template"] == before["spec"]["template"]
    assert after["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"
    assert after["metadata"]["labels"]["kubeadmiral.io/managed"] == "true"


def test_managed_false_is_left_alone(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("--context", "member-2", "create", "namespace", ns, check=False)
    mine = deployment("mine", ns, 1, labels={"kubeadmiral.io/managed": "false"})
    apply(fed_host, mine, context="member-2")
    apply(
        fed_host,
        policy("dup", ns),
        deployment(
            "mine",
            ns,
            4,
            labels={POLICY_LABEL: "dup"},
            annotations={"kubeadmiral.io/conflict-resolution": "adopt"},
        ),
    )
    code, report = sync_once(fed_host)
    assert code == 1
    assert (
        entry(report, "deployment.apps/mine", ns)["clusters"]["member-2"]["status"]
        == "ManagedLabelFalse"
    )
    assert replicas_in(fed_host, "deploy", "mine", ns)["member-2"] == 1


# --------------------------------------------------------------------------- followers, deletion


def test_followers_go_where_their_workload_goes(fed_host: Kubectl, ns: str) -> None:
    workload = deployment("app", ns, labels={POLICY_LABEL: "two"})
    workload["spec"]["template"]["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "settings"}}
    ]
    apply(
        fed_host,
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        policy("two", ns, placement=[{"cluster": "member-2"}]),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns, "labels": {POLICY_LABEL: "one"}},
            "data": {"a": "b"},
        },
        workload,
    )
    sync_once(fed_host)
    assert get(fed_host, "member-1", "cm", "settings", "-n", ns) is not None
    assert get(fed_host, "member-2", "cm", "settings", "-n", ns) is not None
    assert get(fed_host, "member-1", "deploy", "app", "-n", ns) is None


def test_deletion_unplacement_and_orphaning(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        deployment("gone", ns, labels={POLICY_LABEL: "dup"}),
        deployment(
            "kept", ns, labels={POLICY_LABEL: "dup"}, annotations={"kubeadmiral.io/orphan": "all"}
        ),
        deployment("moved", ns, labels={POLICY_LABEL: "dup"}),
        deployment("unlabelled", ns, labels={POLICY_LABEL: "dup"}),
    )
    sync_once(fed_host)
    fed_host.run("delete", "deploy", "gone", "kept", "-n", ns)
    fed_host.run("label", "deploy", "moved", "-n", ns, f"{POLICY_LABEL}=one", "--overwrite")
    fed_host.run("label", "deploy", "unlabelled", "-n", ns, f"{POLICY_LABEL}-")
    _code, _report = sync_once(fed_host)
    assert replicas_in(fed_host, "deploy", "gone", ns) == {"member-1": None, "member-2": None}
    assert replicas_in(fed_host, "deploy", "moved", ns) == {"member-1": 2, "member-2": None}
    assert replicas_in(fed_host, "deploy", "unlabelled", ns) == {"member-1": None, "member-2": None}
    for member in ("member-1", "member-2"):
        kept = get(fed_host, member, "deploy", "kept", "-n", ns)
        assert kept is not None
        assert "kubeadmiral.io/managed" not in kept["metadata"].get("labels", {})
    assert get(fed_host, "host", "fo", "gone-deployments.apps", "-n", ns) is None


# --------------------------------------------------------------------------- drift, status


def test_drift_is_corrected_or_reported(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("drifty", ns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    fed_host.run("--context", "member-1", "scale", "deploy", "drifty", "-n", ns, "--replicas=7")
    code, report = sync_once(fed_host, "--drift=report")
    assert code == 1
    drift = entry(report, "deployment.apps/drifty", ns)["clusters"]["member-1"]
    assert "/spec/replicas" in drift["message"]
    assert replicas_in(fed_host, "deploy", "drifty", ns)["member-1"] == 7
    sync_once(fed_host)
    assert replicas_in(fed_host, "deploy", "drifty", ns)["member-1"] == 2


def test_workload_status_is_summed_into_the_template(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("counted", ns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    for member, ready in (("member-1", 2), ("member-2", 1)):
        live = get(fed_host, member, "deploy", "counted", "-n", ns)
        assert live is not None
        status = {
            "observedGeneration": live["metadata"]["generation"],
            "replicas": 2,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": 2,
        }
        fed_host.run(
            "--context",
            member,
            "patch",
            "deploy",
            "counted",
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )
    sync_once(fed_host)
    template = get(fed_host, "host", "deploy", "counted", "-n", ns)
    assert template is not None
    assert template["status"]["replicas"] == 4
    assert template["status"]["readyReplicas"] == 3
    assert template["status"]["observedGeneration"] == template["metadata"]["generation"]


# --------------------------------------------------------------------------- faults, lease


def test_stopped_member_is_never_taken_as_gone(
    fed_host: Kubectl, federation: Federation, ns: str
) -> None:
    apply(fed_host, policy("dup", ns), deployment("sturdy", ns, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    federation.stop("member-2")
    try:
        fed_host.run("delete", "deploy", "sturdy", "-n", ns)
        apply(fed_host, deployment("late", ns, labels={POLICY_LABEL: "dup"}))
        started = time.monotonic()
        code, report = sync_once(fed_host, "--request-timeout", "3s")
        assert time.monotonic() - started < 30
        assert code == 1
        assert "member-2" in report["unreachable"]
        late = entry(report, "deployment.apps/late", ns)
        assert late["clusters"]["member-1"]["status"] == "OK"
        assert "member-2" not in late["clusters"]  # nothing new goes to an Offline member
        sturdy = entry(report, "deployment.apps/sturdy", ns)
        assert sturdy["clusters"]["member-2"]["status"] == "ClusterNotReady"
        assert get(fed_host, "member-1", "deploy", "sturdy", "-n", ns) is None
        assert get(fed_host, "host", "fo", "sturdy-deployments.apps", "-n", ns) is not None
    finally:
        federation.start("member-2")
    assert get(fed_host, "member-2", "deploy", "sturdy", "-n", ns) is not None
    code, report = sync_once(fed_host)
    assert get(fed_host, "member-2", "deploy", "sturdy", "-n", ns) is None
    assert get(fed_host, "member-2", "deploy", "late", "-n", ns) is not None
    assert get(fed_host, "host", "fo", "sturdy-deployments.apps", "-n", ns) is None


def _background_sync(k: Kubectl, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["kubectl", "fed", "sync", *args],
        env=k.env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_continuous_sync_follows_edits_and_stops_cleanly(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("live", ns, 1, labels={POLICY_LABEL: "dup"}))
    process = _background_sync(fed_host, "--resync-period", "1m")
    try:
        assert wait_for(lambda: replicas_in(fed_host, "deploy", "live", ns)["member-1"] == 1)
        fed_host.run("scale", "deploy", "live", "-n", ns, "--replicas=4")
        assert wait_for(
            lambda: replicas_in(fed_host, "deploy", "live", ns) == {"member-1": 4, "member-2": 4},
            timeout=10,
        )
        fed_host.run("--context", "member-2", "scale", "deploy", "live", "-n", ns, "--replicas=9")
        assert wait_for(
            lambda: replicas_in(fed_host, "deploy", "live", ns)["member-2"] == 4, timeout=10
        )
        second = fed_host.fed("sync", "--once", "--no-wait", check=False)
        assert second.code == 3 and "holds the lease" in second.err
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_killed_sync_is_safely_rerun(fed_host: Kubectl, ns: str) -> None:
    for i in range(20):
        apply(fed_host, deployment(f"many-{i}", ns, 1, labels={POLICY_LABEL: "dup"}))
    apply(fed_host, policy("dup", ns))
    process = _background_sync(fed_host)
    wait_for(lambda: get(fed_host, "member-1", "deploy", "-n", ns) is not None, timeout=15)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    code, report = sync_once(fed_host)  # waits for the dead holder's lease to expire
    assert code == 0, report
    for member in ("member-1", "member-2"):
        listed = get(fed_host, member, "deploy", "-n", ns)
        assert listed is not None and len(listed["items"]) == 20
    fos = get(fed_host, "host", "fo", "-n", ns)
    assert fos is not None and len(fos["items"]) == 20


def test_unjoin_cascade(fed_host: Kubectl, ns: str) -> None:
    # A cluster can be joined once only (by its kube-system uid): member-2 itself leaves and
    # comes back, and is joined again whatever happens.
    try:
        apply(
            fed_host,
            policy("extra", ns, placement=[{"cluster": "member-2"}]),
            deployment("leaving", ns, labels={POLICY_LABEL: "extra"}),
        )
        sync_once(fed_host)
        assert get(fed_host, "member-2", "deploy", "leaving", "-n", ns) is not None
        out = fed_host.fed("unjoin", "member-2", "--cascade=orphan").out
        assert "orphaned" in out
        orphan = get(fed_host, "member-2", "deploy", "leaving", "-n", ns)
        assert orphan is not None
        assert "kubeadmiral.io/managed" not in orphan["metadata"].get("labels", {})
        fed_host.fed("join", "member-2", "--cluster-context", "member-2")
        fed_host.run("--context", "member-2", "delete", "deploy", "leaving", "-n", ns)
        sync_once(fed_host)
        assert get(fed_host, "member-2", "deploy", "leaving", "-n", ns) is not None
        fed_host.fed("unjoin", "member-2", "--cascade=delete")
        assert get(fed_host, "member-2", "deploy", "leaving", "-n", ns) is None
    finally:
        fed_host.fed("join", "member-2", "--cluster-context", "member-2", "--overwrite")


# --------------------------------------------------------------------------- more templates


def test_federated_objects_written_directly(fed_host: Kubectl, ns: str) -> None:
    template = deployment("direct", ns, 3)
    manual = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "FederatedObject",
        "metadata": {"name": "direct-deployments.apps", "namespace": ns},
        "spec": {
            "template": template,
            "placements": [{"controller": "me", "placement": [{"cluster": "member-2"}]}],
            "overrides": [
                {
                    "controller": "me",
                    "clusters": [
                        {
                            "cluster": "member-2",
                            "patches": [{"op": "replace", "path": "/spec/replicas", "value": 1}],
                        }
                    ],
                }
            ],
        },
    }
    scheduled = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "FederatedObject",
        "metadata": {
            "name": "planned-deployments.apps",
            "namespace": ns,
            "labels": {POLICY_LABEL: "dup"},
        },
        "spec": {"template": deployment("planned", ns, 2)},
    }
    apply(fed_host, policy("dup", ns), manual, scheduled)
    _, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/direct", ns)["ok"]
    assert replicas_in(fed_host, "deploy", "direct", ns) == {"member-1": None, "member-2": 1}
    assert replicas_in(fed_host, "deploy", "planned", ns) == {"member-1": 2, "member-2": 2}
    fed_host.run(
        "delete",
        "fo",
        "direct-deployments.apps",
        "planned-deployments.apps",
        "-n",
        ns,
        "--wait=false",
    )
    sync_once(fed_host)  # the finalizer lets sync remove the member copies first
    assert replicas_in(fed_host, "deploy", "direct", ns)["member-2"] is None
    assert get(fed_host, "host", "fo", "planned-deployments.apps", "-n", ns) is None


def test_cluster_override_policy_applies_before_override_policy(fed_host: Kubectl, ns: str) -> None:
    name = f"cop-{ns}"[:60]
    cop = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "ClusterOverridePolicy",
        "metadata": {"name": name},
        "spec": {
            "overrideRules": [
                {
                    "overriders": {
                        "labels": [
                            {"operator": "addIfAbsent", "value": {"from": "cop", "tier": "gold"}}
                        ],
                        "jsonpatch": [{"path": "/spec/replicas", "value": 7}],
                    }
                }
            ]
        },
    }
    op = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {"name": "op", "namespace": ns},
        "spec": {
            "overrideRules": [
                {
                    "targetClusters": {"clusters": ["member-1"]},
                    "overriders": {"labels": [{"operator": "overwrite", "value": {"from": "op"}}]},
                }
            ]
        },
    }
    apply(
        fed_host,
        policy("dup", ns),
        cop,
        op,
        deployment(
            "layered",
            ns,
            2,
            labels={
                POLICY_LABEL: "dup",
                "kubeadmiral.io/cluster-override-policy-name": name,
                "kubeadmiral.io/override-policy-name": "op",
            },
        ),
    )
    try:
        sync_once(fed_host)
        one = get(fed_host, "member-1", "deploy", "layered", "-n", ns)
        two = get(fed_host, "member-2", "deploy", "layered", "-n", ns)
        assert one is not None and two is not None
        assert one["metadata"]["labels"]["from"] == "op"  # the OverridePolicy came second
        assert two["metadata"]["labels"]["from"] == "cop"
        assert one["spec"]["replicas"] == two["spec"]["replicas"] == 7
    finally:
        fed_host.run("delete", "clusteroverridepolicy", name, check=False)


def test_retain_replicas_leaves_the_member_its_replicas(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        deployment(
            "scaled",
            ns,
            2,
            labels={POLICY_LABEL: "dup"},
            annotations={"kubeadmiral.io/retain-replicas": "true"},
        ),
    )
    sync_once(fed_host)
    fed_host.run("--context", "member-1", "scale", "deploy", "scaled", "-n", ns, "--replicas=6")
    fed_host.run("label", "deploy", "scaled", "-n", ns, "touched=yes")
    _code, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/scaled", ns)["ok"]
    assert replicas_in(fed_host, "deploy", "scaled", ns)["member-1"] == 6
    live = get(fed_host, "member-1", "deploy", "scaled", "-n", ns)
    assert live is not None and live["metadata"]["labels"]["touched"] == "yes"


def test_sync_errors_exit_above_one(kubectl: Kubectl, tmp_path: Path) -> None:
    path = unreachable_kubeconfig(tmp_path)
    result = kubectl.fed(
        "--kubeconfig", str(path), "sync", "--once", "--request-timeout", "2s", check=False
    )
    assert result.code == 2 and "unreachable" in result.err
    missing = kubectl.fed("--context", "member-2", "sync", "--once", check=False)
    assert missing.code == 2 and "kubectl fed init" in missing.err


def test_interrupt_while_waiting_for_the_lease(fed_host: Kubectl) -> None:
    holder = _background_sync(fed_host)
    try:
        wait_for(
            lambda: (
                get(fed_host, "host", "lease", "kubectl-fed-sync", "-n", "kube-admiral-system")
                is not None
            )
        )
        waiting = _background_sync(fed_host, "--once")
        time.sleep(2)
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=10)
        assert waiting.returncode == 0 and "waiting for the sync lease" in err
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.communicate(timeout=30)
