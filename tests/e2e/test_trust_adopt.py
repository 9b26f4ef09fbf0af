"""Templates members accept, and adoption that is whole per object and says what it did."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, entry, get, policy, sync_once

pytestmark = pytest.mark.e2e
UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
ROW = re.compile(
    r"^(\S+)\s+(\S+)\s+(\S+)\s+"
    r"(already federated|would create|created|failed|skipped|reused)(?:\s+(.*))?$"
)


def _job(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
                },
            }
        },
    }


def _generated(job: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    """(uid, selector matchLabels, pod template labels) of a stored Job."""
    spec = job["spec"]
    return (
        job["metadata"]["uid"],
        spec["selector"]["matchLabels"],
        spec["template"]["metadata"]["labels"],
    )


def test_a_job_created_in_the_host_reaches_every_member(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), _job("pi", ns, {POLICY_LABEL: "dup"}))
    try:
        host_job = get(fed_host, "host", "job", "pi", "-n", ns)
        assert host_job is not None
        # The real apiserver's own defaulting, no controller involved: a selector and labels
        # made from the host Job's uid.
        uid, selector, labels = _generated(host_job)
        assert host_job["spec"]["manualSelector"] is False
        assert selector == {"batch.kubernetes.io/controller-uid": uid}
        assert all(labels[label] == uid for label in UID_LABELS)
        assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "pi"
        # That form, sent as it is, every member refuses.
        as_is = {**_job("pi", "default"), "spec": host_job["spec"]}
        refused = fed_host.run(
            "--context", "member-1", "create", "--dry-run=server", "-f", "-",
            stdin=json.dumps(as_is), check=False,
        )  # fmt: skip
        assert refused.code != 0 and "controller-uid" in refused.err

        _, report = sync_once(fed_host)
        assert entry(report, "job.batch/pi", ns)["clusters"] == {
            "member-1": {"status": "OK"},
            "member-2": {"status": "OK"},
        }
        federated = get(fed_host, "host", "fo", "pi-jobs.batch", "-n", ns)
        assert federated is not None
        template = federated["spec"]["template"]
        assert "selector" not in template["spec"]
        assert template["spec"]["template"]["metadata"]["labels"] == {
            "app": "pi",
            "job-name": "pi",
            "batch.kubernetes.io/job-name": "pi",
        }
        for member in ("member-1", "member-2"):
            copy = get(fed_host, member, "job", "pi", "-n", ns)
            assert copy is not None, member
            member_uid, member_selector, member_labels = _generated(copy)
            assert member_uid != uid
            assert member_selector == {"batch.kubernetes.io/controller-uid": member_uid}
            assert member_labels["app"] == "pi" and member_labels["job-name"] == "pi"
            assert all(member_labels[label] == member_uid for label in UID_LABELS)
        _, again = sync_once(fed_host)  # the members' own selectors are kept: still OK
        assert entry(again, "job.batch/pi", ns)["ok"]
    finally:
        fed_host.run("delete", "job", "--all", "-n", ns, "--wait=false", check=False)


def test_a_job_adopted_from_a_member_reaches_the_host_and_stays(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("--context", "member-2", "create", "namespace", ns, check=False)
    apply(fed_host, _job("calc", ns), _job("sum", ns), context="member-2")
    before = {n: get(fed_host, "member-2", "job", n, "-n", ns) for n in ("calc", "sum")}
    try:
        for name, mode in (("calc", "native"), ("sum", "federated")):
            fed_host.fed(
                "adopt", f"job/{name}", "--cluster", "member-2", "-n", ns,
                "--create-policy", "--template", mode,
            )  # fmt: skip
        federated = get(fed_host, "host", "fo", "sum-jobs.batch", "-n", ns)
        assert federated is not None
        template = federated["spec"]["template"]
        assert "selector" not in template["spec"]
        assert not set(UID_LABELS) & set(template["spec"]["template"]["metadata"]["labels"])
        host_job = get(fed_host, "host", "job", "calc", "-n", ns)  # its own selector, the host's
        assert host_job is not None and _generated(host_job)[0] != before["calc"]["metadata"]["uid"]  # type: ignore[index]
        _, report = sync_once(fed_host)
        for name in ("calc", "sum"):
            clusters = entry(report, f"job.batch/{name}", ns)["clusters"]
            assert clusters == {"member-2": {"status": "OK", "message": "adopted in place"}}
            after = get(fed_host, "member-2", "job", name, "-n", ns)
            assert after is not None and before[name] is not None
            assert after["metadata"]["uid"] == before[name]["metadata"]["uid"]  # type: ignore[index]
            assert after["spec"]["selector"] == before[name]["spec"]["selector"]  # type: ignore[index]
            assert after["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"
    finally:
        fed_host.run("delete", "job", "--all", "-n", ns, "--wait=false", check=False)
        fed_host.run("delete", "fo", "--all", "-n", ns, "--wait=false", check=False)


def _report(out: str) -> list[tuple[str, ...]]:
    lines = out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "WITH", "ACTION", "MESSAGE"], out
    rows = []
    for line in lines[1:]:
        if line.startswith("Run `kubectl fed sync`"):
            continue
        match = ROW.match(line)
        assert match, line
        rows.append(tuple(part or "" for part in match.groups()))
    return rows


def _config_map(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"k": name},
    }


def _workload(name: str, namespace: str, *config_maps: str) -> dict[str, Any]:
    workload = deployment(name, namespace, 1, labels={"team": "pay"})
    workload["spec"]["template"]["spec"]["volumes"] = [
        {"name": c, "configMap": {"name": c}} for c in config_maps
    ]
    return workload


def test_adopt_federates_a_shared_dependency_once_and_reports_everything(
    fed_host: Kubectl, ns: str
) -> None:
    fed_host.run("--context", "member-1", "create", "namespace", ns, check=False)
    apply(
        fed_host,
        _config_map("shared", ns),
        _config_map("own-1", ns),
        _workload("pay-0", ns, "shared"),
        _workload("pay-1", ns, "shared", "own-1"),
        _workload("pay-2", ns, "shared"),
        context="member-1",
    )
    apply(fed_host, policy("pay-2", ns, placement=[{"cluster": "member-2"}]))  # not ours
    args = ["adopt", "deploy", "-l", "team=pay", "--cluster", "member-1", "-n", ns]
    result = fed_host.fed(*args, "--create-policy", "--dependencies", check=False)
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "error: could not adopt deployment/pay-2 (1 of 3 objects; the report says why)"
    ]
    rows = _report(result.out)
    assert [row[:4] for row in rows] == [
        ("Deployment", "pay-0", "-", "created"),
        ("PropagationPolicy", "pay-0", "deployment.apps/pay-0", "created"),
        ("ConfigMap", "shared", "deployment.apps/pay-0", "created"),
        ("Deployment", "pay-1", "-", "created"),
        ("PropagationPolicy", "pay-1", "deployment.apps/pay-1", "created"),
        ("ConfigMap", "own-1", "deployment.apps/pay-1", "created"),
        ("ConfigMap", "shared", "deployment.apps/pay-1", "already federated"),
        ("Deployment", "pay-2", "-", "failed"),
        ("PropagationPolicy", "pay-2", "deployment.apps/pay-2", "failed"),
        ("ConfigMap", "shared", "deployment.apps/pay-2", "already federated"),
    ]
    assert rows[6][4] == "adopted with deployment.apps/pay-0 in this run"
    assert rows[8][4].startswith("PropagationPolicy pay-2 already exists with another spec")
    assert get(fed_host, "host", "deploy", "pay-2", "-n", ns) is None
    shared = get(fed_host, "host", "cm", "shared", "-n", ns)
    assert shared is not None and shared["metadata"]["labels"][POLICY_LABEL] == "pay-0"

    _, report = sync_once(fed_host)
    for name in ("pay-0", "pay-1"):
        assert entry(report, f"deployment.apps/{name}", ns)["ok"]
    for name in ("shared", "own-1"):
        assert entry(report, f"configmap/{name}", ns)["ok"]
        live = get(fed_host, "member-1", "cm", name, "-n", ns)
        assert live is not None and live["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"

    # The mismatch removed, the rest follows; the ConfigMap is left with its first policy.
    fed_host.run("delete", "propagationpolicy", "pay-2", "-n", ns)
    again = fed_host.fed(*args, "--create-policy", "--dependencies")
    assert [row[:4] for row in _report(again.out)] == [
        ("Deployment", "pay-0", "-", "already federated"),
        ("Deployment", "pay-1", "-", "already federated"),
        ("Deployment", "pay-2", "-", "created"),
        ("PropagationPolicy", "pay-2", "deployment.apps/pay-2", "created"),
        ("ConfigMap", "shared", "deployment.apps/pay-2", "skipped"),
    ]
    assert "PropagationPolicy pay-0, not pay-2" in again.out


def test_adopt_rolls_back_the_object_whose_write_failed_and_keeps_the_others(
    fed_host: Kubectl, ns: str
) -> None:
    fed_host.run("--context", "member-1", "create", "namespace", ns, check=False)
    apply(
        fed_host,
        _config_map("cfg", ns),
        _workload("with-cfg", ns, "cfg"),
        _workload("plain", ns),
        context="member-1",
    )
    apply(fed_host, policy("p", ns, placement=[{"cluster": "member-1"}]))
    # A quota that is used up: the host's apiserver itself refuses every new ConfigMap.
    fed_host.run("create", "quota", "no-cm", "--hard=configmaps=1", "-n", ns)
    used = {"status": {"hard": {"configmaps": "1"}, "used": {"configmaps": "1"}}}
    fed_host.run(
        "patch", "quota", "no-cm", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps(used),
    )  # fmt: skip
    try:
        result = fed_host.fed(
            "adopt", "deploy/with-cfg", "deploy/plain", "--cluster", "member-1", "-n", ns,
            "--policy", "p", "--dependencies", check=False,
        )  # fmt: skip
        assert result.code == 1 and "could not adopt deployment/with-cfg" in result.err
        rows = _report(result.out)
        assert [row[:4] for row in rows] == [
            ("Deployment", "with-cfg", "-", "failed"),
            ("ConfigMap", "cfg", "deployment.apps/with-cfg", "failed"),
            ("Deployment", "plain", "-", "created"),
        ]
        assert rows[0][4] == "rolled back: ConfigMap cfg failed"
        assert "exceeded quota" in rows[1][4]
        assert get(fed_host, "host", "deploy", "with-cfg", "-n", ns) is None
        assert get(fed_host, "host", "deploy", "plain", "-n", ns) is not None
    finally:
        fed_host.run("delete", "quota", "no-cm", "-n", ns, check=False)
