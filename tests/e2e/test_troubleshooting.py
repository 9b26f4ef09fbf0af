"""kubectl fed status, get, explain and doctor, end to end through the real kubectl."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Federation, Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, policy, sync_once

pytestmark = pytest.mark.e2e
OVERRIDE_LABEL = "kubeadmiral.io/override-policy-name"
WEIGHTED = [
    {"cluster": "member-1", "preferences": {"weight": 1}},
    {"cluster": "member-2", "preferences": {"weight": 2}},
]


def rows(out: str) -> list[list[str]]:
    """Table rows (header dropped) split on whitespace."""
    return [line.split() for line in out.splitlines()[1:]]


def configmap(name: str, namespace: str, policy_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {POLICY_LABEL: policy_name}},
        "data": {"key": "value"},
    }


def image_override(name: str, namespace: str, cluster: str, tag: str) -> dict[str, Any]:
    operation = {"imageComponent": "Tag", "operator": "overwrite", "value": tag}
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "overrideRules": [
                {
                    "targetClusters": {"clusters": [cluster]},
                    "overriders": {"image": [{"operations": [operation]}]},
                }
            ]
        },
    }


def set_ready(k: Kubectl, context: str, name: str, namespace: str, ready: int) -> None:
    status = {"status": {"replicas": ready, "readyReplicas": ready}}
    k.run(
        "--context",
        context,
        "patch",
        "deploy",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


def one_line_error(result: Any, expected: str) -> None:
    assert result.code == 1, result.out + result.err
    assert expected in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- status


def test_status_in_every_format(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("div", ns, schedulingMode="Divide", placement=WEIGHTED),
        policy("dup", ns),
        deployment("web", ns, 9, labels={POLICY_LABEL: "div"}),
        configmap("settings", ns, "dup"),
    )
    sync_once(fed_host)
    set_ready(fed_host, "member-1", "web", ns, 3)

    table = fed_host.fed("status", "-n", ns)
    assert table.out.splitlines()[0].split() == [
        *("OBJECT", "CLUSTERS", "OK", "READY", "HEALTH", "SYNCED", "AGE", "MESSAGE"),
    ]
    # The member copies' status was written by hand, without observedGeneration: no
    # controller there has observed the spec, so the Deployment is still Progressing.
    assert [r[:5] for r in rows(table.out)] == [
        ["configmap/settings", "2/2", "<none>", "Ready", "True"],
        ["deployment.apps/web", "2/2", "3/9", "Progressing", "True"],
    ]
    assert "\x1b[" not in table.out  # no colour through a pipe

    wide = fed_host.fed("status", "deploy/web", "-n", ns, "-o", "wide")
    assert wide.out.splitlines()[0].split()[:8] == [
        *("OBJECT", "CLUSTER", "STATUS", "READY", "HEALTH", "REASON", "SYNCED", "AGE"),
    ]
    assert [r[:7] for r in rows(wide.out)] == [
        *(
            ["deployment.apps/web", m, "OK", r, "Progressing", "GenerationNotObserved", "True"]
            for m, r in (("member-1", "3/3"), ("member-2", "0/6"))
        ),
    ]

    listing = json.loads(fed_host.fed("status", "-n", ns, "-o", "json").out)
    web = listing["items"][1]
    assert (web["object"], web["ok"], web["federatedObject"]) == (
        "deployment.apps/web",
        True,
        "web-deployments.apps",
    )
    assert [
        (c["cluster"], c["scheduledReplicas"], c["readyReplicas"]) for c in web["clusters"]
    ] == [
        ("member-1", 3, 3),
        ("member-2", 6, 0),
    ]
    as_yaml = yaml.safe_load(fed_host.fed("status", "-n", ns, "-o", "yaml").out)
    assert as_yaml["items"] == listing["items"]
    names = fed_host.fed("status", "-n", ns, "-o", "name").out.split()
    assert names == ["configmap/settings", "deployment.apps/web"]
    bare = fed_host.fed("status", "cm", "-n", ns, "--no-headers").out.splitlines()
    assert [line.split()[0] for line in bare] == ["configmap/settings"]
    everywhere = fed_host.fed("status", "-A")
    assert everywhere.out.splitlines()[0].split()[0] == "NAMESPACE"
    assert [ns, "deployment.apps/web"] in [r[:2] for r in rows(everywhere.out)]


def test_status_exit_code_and_bad_input(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("web", ns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    assert fed_host.fed("status", "-n", ns).code == 0
    # Someone scales the copy in member-2 behind the federation's back.
    fed_host.run("--context", "member-2", "scale", "deploy", "web", "-n", ns, "--replicas=5")
    result = fed_host.fed("status", "-n", ns, "-o", "wide", check=False)
    assert result.code == 1
    by_cluster = {r[1]: r for r in rows(result.out)}
    assert by_cluster["member-1"][6] == "True"
    assert by_cluster["member-2"][6] == "False"
    assert "changed in the member since the last sync" in result.out

    one_line_error(fed_host.fed("status", "frobs", check=False), '"frobs"')
    one_line_error(fed_host.fed("status", "deploy/nope", "-n", ns, check=False), "is not federated")
    empty = fed_host.fed("status", "-n", "default", "jobs")
    assert empty.code == 0 and "No federated objects found" in empty.err


# --------------------------------------------------------------------------- get


def test_get_live_objects_across_members(fed_host: Kubectl, ns: str) -> None:
    for member in ("member-1", "member-2"):
        fed_host.run("--context", member, "create", "namespace", ns, check=False)
    apply(fed_host, deployment("legacy", ns, 1), context="member-1")
    apply(fed_host, deployment("local", ns, 1), context="member-2")
    adopt = {"kubeadmiral.io/conflict-resolution": "adopt"}
    apply(
        fed_host,
        policy("dup", ns),
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        deployment("web", ns, 2, labels={POLICY_LABEL: "dup"}),
        deployment("legacy", ns, 1, labels={POLICY_LABEL: "one"}, annotations=adopt),
    )
    sync_once(fed_host)

    table = fed_host.fed("get", "deploy", "-n", ns)
    assert table.out.splitlines()[0].split() == [
        *("NAME", "CLUSTER", "MANAGED", "READY", "HEALTH", "AGE"),
    ]
    assert [r[:4] for r in rows(table.out)] == [
        ["legacy", "member-1", "adopted", "0/1"],
        ["local", "member-2", "no", "0/1"],
        ["web", "member-1", "yes", "0/2"],
        ["web", "member-2", "yes", "0/2"],
    ]
    wide = fed_host.fed("get", "deployments.apps", "-n", ns, "-o", "wide", "--no-headers")
    assert all(r[-1] == "nginx" for r in (line.split() for line in wide.out.splitlines()))
    only = fed_host.fed("get", "deploy", "-n", ns, "--clusters", "member-2")
    assert {r[1] for r in rows(only.out)} == {"member-2"}
    managed = fed_host.fed("get", "deploy", "-n", ns, "-l", "kubeadmiral.io/managed=true")
    assert sorted(r[0] for r in rows(managed.out)) == ["legacy", "web", "web"]
    everywhere = fed_host.fed("get", "deploy", "web", "-A")
    assert [r[:3] for r in rows(everywhere.out) if r[0] == ns] == [
        [ns, "web", "member-1"],
        [ns, "web", "member-2"],
    ]

    names = fed_host.fed("get", "deploy", "web", "-n", ns, "-o", "name").out.splitlines()
    assert names == ["cluster/member-1 deployment.apps/web", "cluster/member-2 deployment.apps/web"]
    listing = json.loads(fed_host.fed("get", "deploy", "web", "-n", ns, "-o", "json").out)
    assert listing["kind"] == "List"
    clusters = [i["metadata"]["annotations"]["kubectl-fed.io/cluster"] for i in listing["items"]]
    assert clusters == ["member-1", "member-2"]
    assert all(
        i["kind"] == "Deployment" and "managedFields" not in i["metadata"] for i in listing["items"]
    )
    as_yaml = yaml.safe_load(fed_host.fed("get", "deploy", "web", "-n", ns, "-o", "yaml").out)
    assert as_yaml == listing


def test_get_clusters_still_lists_members_and_bad_input(fed_host: Kubectl, ns: str) -> None:
    members = fed_host.fed("get", "clusters")
    assert members.out.splitlines()[0].split()[:3] == ["NAME", "READY", "VERSION"]
    assert {"member-1", "member-2"} <= {r[0] for r in rows(members.out)}
    assert (
        "federatedcluster.core.kubeadmiral.io/member-1"
        in fed_host.fed("get", "fcluster", "-o", "name").out
    )

    one_line_error(fed_host.fed("get", "frobs", "-n", ns, check=False), '"frobs"')
    one_line_error(
        fed_host.fed("get", "deploy", "--clusters", "member-1,nope", check=False),
        "'nope' is not a member",
    )
    one_line_error(fed_host.fed("get", "deploy", "ghost", "-n", ns, check=False), "not found")
    one_line_error(
        fed_host.fed("get", "deploy", "--clusters", "member-1", "--all-clusters", check=False),
        "mutually exclusive",
    )


# --------------------------------------------------------------------------- a member down


def test_member_down_is_a_row_with_its_error(
    fed_host: Kubectl, federation: Federation, ns: str
) -> None:
    apply(fed_host, policy("dup", ns), deployment("web", ns, 1, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    quick = ("--request-timeout", "3s")
    federation.stop("member-2")
    try:
        status = fed_host.fed("status", "-n", ns, "-o", "wide", *quick, check=False)
        got = fed_host.fed("get", "deploy", "-n", ns, *quick, check=False)
        doctor = fed_host.fed("doctor", "-o", "json", *quick, check=False)
    finally:
        federation.start("member-2")

    assert status.code == 1
    by_cluster = {r[1]: r for r in rows(status.out)}
    assert by_cluster["member-1"][2:4] == ["OK", "0/1"] and by_cluster["member-1"][6] == "True"
    assert by_cluster["member-2"][4:7] == ["Unknown", "ClusterUnreachable", "Unknown"]
    assert "unreachable" in " ".join(by_cluster["member-2"])

    assert got.code == 1
    assert got.out.splitlines()[0].split()[-1] == "MESSAGE"
    got_rows = {r[1]: r for r in rows(got.out)}
    assert got_rows["member-1"][:3] == ["web", "member-1", "yes"]
    assert got_rows["member-2"][0] == "-" and "unreachable" in " ".join(got_rows["member-2"])

    assert doctor.code == 1
    checks = {i["check"]: i for i in json.loads(doctor.out)["items"]}
    assert checks["member member-1"]["status"] == "OK"
    assert checks["member member-2"]["status"] == "FAIL"
    assert "unreachable" in checks["member member-2"]["detail"]


# --------------------------------------------------------------------------- explain


def test_explain_policy_reasons_replicas_and_overrides(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("div", ns, schedulingMode="Divide", placement=WEIGHTED),
        policy("one", ns, maxClusters=1),
        policy("nowhere", ns, clusterSelector={"region": "nowhere"}),
        image_override("img", ns, "member-1", "1.25"),
        deployment("web", ns, 9, labels={POLICY_LABEL: "div", OVERRIDE_LABEL: "img"}),
        configmap("single", ns, "one"),
        configmap("stranded", ns, "nowhere"),
    )
    sync_once(fed_host)

    text = fed_host.fed("explain", "deploy/web", "-n", ns).out
    assert f"Policy:       PropagationPolicy {ns}/div" in text
    assert f"OverridePolicy {ns}/img" in text
    table = text.split("Clusters:\n")[1].split("\n\n")[0]
    assert [line.split()[:4] for line in table.splitlines()[1:]] == [
        ["member-1", "yes", "3", "Selected:"],
        ["member-2", "yes", "6", "Selected:"],
    ]
    assert "Divide: 9 replicas split by the KubeAdmiral planner" in text
    assert "member-2: weight 2, min 0, max unlimited -> 6" in text
    overrides = text.split("Overrides:\n")[1]
    assert 'replace /spec/template/spec/containers/0/image "nginx:1.25"' in overrides
    assert "not deferred" in text

    single = json.loads(fed_host.fed("explain", "cm/single", "-n", ns, "-o", "json").out)
    codes = sorted(c["reason"]["code"] for c in single["clusters"])
    assert codes == ["MaxClustersExceeded", "Selected"]
    stranded = yaml.safe_load(fed_host.fed("explain", "cm/stranded", "-n", ns, "-o", "yaml").out)
    assert {c["reason"]["code"] for c in stranded["clusters"]} == {"SelectorMismatch"}
    # Placing nowhere is refused (an error, not a warning): see README, Safety rules.
    assert any("no cluster satisfies the policy" in e for e in stranded["errors"]), stranded


def test_explain_bad_input(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("create", "deployment", "plain", "--image=nginx", "-n", ns)
    one_line_error(
        fed_host.fed("explain", "deploy/plain", "-n", ns, check=False), "is not federated"
    )
    one_line_error(fed_host.fed("explain", "deploy/ghost", "-n", ns, check=False), "not found")
    one_line_error(fed_host.fed("explain", "deploy", "-n", ns, check=False), "TYPE/NAME")
    one_line_error(fed_host.fed("explain", "frobs/x", check=False), '"frobs"')


# --------------------------------------------------------------------------- doctor


def test_doctor_passes_on_a_healthy_federation(fed_host: Kubectl) -> None:
    result = fed_host.fed("doctor")
    assert result.out.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL"]
    listing = json.loads(fed_host.fed("doctor", "-o", "json").out)
    checks = {i["check"]: i for i in listing["items"]}
    assert {
        *("host", "crds", "fed namespace", "permissions", "sync lease"),
        *("member member-1", "member member-2", "federated objects", "templates"),
    } <= set(checks)
    assert not [c for c in checks.values() if c["status"] == "FAIL"]
    assert checks["crds"]["status"] == "OK" and checks["permissions"]["status"] == "OK"
    assert "v1." in checks["member member-1"]["detail"]
    as_yaml = yaml.safe_load(fed_host.fed("doctor", "-o", "yaml").out)
    assert [i["check"] for i in as_yaml["items"]] == list(checks)
    assert "check/fed-namespace" in fed_host.fed("doctor", "-o", "name").out.split()
    assert fed_host.fed("doctor", "--no-headers").out.split()[0] == "host"


def test_doctor_fails_without_the_api_or_the_permissions(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    # member-2 never received the federation API: as a host it is pristine.
    pristine = fed_host.fed("doctor", "--context", "member-2", check=False)
    assert pristine.code == 1
    crds = next(line for line in pristine.out.splitlines() if line.startswith("crds"))
    assert "FAIL" in crds and "kubectl fed init" in crds

    config = yaml.safe_load(federation.kubeconfig.read_text())
    config["users"].append({"name": "viewer", "user": {"token": federation.state["viewer_token"]}})
    config["contexts"].append(
        {"name": "host-viewer", "context": {"cluster": "host", "user": "viewer"}}
    )
    path = tmp_path / "viewer.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    viewer = fed_host.fed(
        "doctor", "--kubeconfig", str(path), "--context", "host-viewer", "-o", "json", check=False
    )
    assert viewer.code == 1
    checks = {i["check"]: i for i in json.loads(viewer.out)["items"]}
    assert checks["permissions"]["status"] == "FAIL"
    assert "sync would be refused" in checks["permissions"]["detail"]
    assert "federatedobjects.core.kubeadmiral.io" in checks["permissions"]["detail"]


def _on_a_terminal(k: Kubectl, *args: str, **env: str) -> str:
    """Run `kubectl ARGS` with stdout on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        ["kubectl", *args], env={**k.env, **env}, stdout=follower, stderr=subprocess.DEVNULL
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        try:
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the terminal closed: the command is done
            chunk = b""
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(leader)
    return output.decode(errors="replace")


def test_colour_only_on_a_terminal_and_never_with_no_color(fed_host: Kubectl) -> None:
    coloured = _on_a_terminal(fed_host, "fed", "doctor")
    assert "\x1b[32mOK" in coloured
    plain = _on_a_terminal(fed_host, "fed", "doctor", NO_COLOR="1")
    assert "OK" in plain and "\x1b[" not in plain


# --------------------------------------------------------------------------- completion


def test_completion_of_types_and_names(fed_host: Kubectl, ns: str) -> None:
    apply(
        fed_host,
        policy("dup", ns),
        deployment("web", ns, 1, labels={POLICY_LABEL: "dup"}),
        deployment("worker", ns, 1, labels={POLICY_LABEL: "dup"}),
    )
    sync_once(fed_host)

    def complete(*words: str) -> list[str]:
        out = fed_host.run("__complete", "fed", *words).out.splitlines()
        assert out[-1].startswith(":")
        return [line.split("\t")[0] for line in out[:-1]]

    assert {"status", "get", "explain", "doctor"} <= set(complete(""))
    assert {"deployments", "configmaps", "services"} <= set(complete("status", ""))
    assert complete("explain", "dep") == ["deployments"]
    assert complete("status", "-n", ns, "deployments/") == ["deployments/web", "deployments/worker"]
    assert complete("explain", "-n", ns, "deploy/wo") == ["deploy/worker"]
    assert complete("get", "")[0] == "clusters"
    assert complete("get", "deployments", "-n", ns, "") == ["web", "worker"]
    listed = complete("get", "deployments", "--clusters", "member-1,")
    assert "member-1,member-2" in listed and "member-1,member-1" not in listed
