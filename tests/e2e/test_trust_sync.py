"""Sync that can be trusted: a policy typo never deletes, two kinds of one name stay apart,
overrides are never half-applied, status tells the truth, followers follow both ways,
continuous sync stays live, and a paused holder of the lease never writes after losing it.

Every test drives the real kubectl against the local federation (`fed_host`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

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
    wait_for,
)
from tests.fake.objects import custom_crd, type_config

pytestmark = pytest.mark.e2e
OVERRIDE_LABEL = "kubeadmiral.io/override-policy-name"
MEMBERS = ("member-1", "member-2")
BOTH = [{"cluster": "member-1"}, {"cluster": "member-2"}]
FED_NAMESPACE = "kube-admiral-system"


# --------------------------------------------------------------------------- helpers


def _uids(k: Kubectl, kind: str, name: str, namespace: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for member in MEMBERS:
        obj = get(k, member, kind, name, "-n", namespace)
        found[member] = obj["metadata"]["uid"] if obj else None
    return found


def _status(k: Kubectl, title: str, namespace: str) -> tuple[int, str, dict[str, Any]]:
    """`kubectl fed status TITLE -n NS`: exit code, table output and the JSON item."""
    table = k.fed("status", title, "-n", namespace, check=False)
    listed = k.fed("status", title, "-n", namespace, "-o", "json", check=False)
    assert table.code == listed.code, (table, listed)
    items = json.loads(listed.out)["items"]
    assert len(items) == 1, items
    item: dict[str, Any] = items[0]
    return table.code, table.out, item


def _explain(k: Kubectl, title: str, namespace: str) -> dict[str, dict[str, Any]]:
    """`kubectl fed explain TITLE -o json`: its clusters by name."""
    found = json.loads(k.fed("explain", title, "-n", namespace, "-o", "json").out)
    return {c["cluster"]: c for c in found["clusters"]}


def _summary(out: str) -> tuple[list[list[str]], int]:
    """The rows of a `sync --once` table and the N of its "N not OK" summary line."""
    lines = [line for line in out.strip().splitlines() if line.strip()]
    counted = re.match(r"(\d+) objects, (\d+) not OK", lines[-1])
    assert counted, out
    rows = []  # NAMESPACE, OBJECT, CLUSTERS OK, STATUS, MESSAGE
    if lines[0].startswith("NAMESPACE"):
        rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:-1]]
    return rows, int(counted.group(2))


def _image(k: Kubectl, member: str, name: str, namespace: str) -> tuple[str, int] | None:
    """The first container's image of a member Deployment, and its generation."""
    obj = get(k, member, "deploy", name, "-n", namespace)
    if obj is None:
        return None
    image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
    return str(image), int(obj["metadata"]["generation"])


# Any field goes: the e2e kinds carry whatever spec their tests give them.
ANYTHING = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _install_crd(k: Kubectl, group: str, kind: str, plural: str) -> None:
    """The CRD in the host and both members, Established everywhere."""
    for context in ("host", *MEMBERS):
        apply(k, custom_crd(group, kind, plural, ANYTHING), context=context)
    for context in ("host", *MEMBERS):
        k.run(
            "--context",
            context,
            "wait",
            "--for=condition=Established",
            f"crd/{plural}.{group}",
            "--timeout=30s",
        )


def _remove_crd_and_ftc(k: Kubectl, group: str, plural: str) -> None:
    k.run("delete", "ftc", f"{plural}.{group}", "--ignore-not-found", check=False)
    for context in ("host", *MEMBERS):
        k.run(
            "--context",
            context,
            "delete",
            "crd",
            f"{plural}.{group}",
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )


class BackgroundSync:
    """A continuous `kubectl fed sync` whose stderr lines are collected as they come, each
    with its arrival time (monotonic), so a test can say what it logged when."""

    def __init__(self, k: Kubectl, *args: str) -> None:
        # kubectl execs the plugin: this pid is the sync's own (and in its lease identity).
        self.process = subprocess.Popen(
            ["kubectl", "fed", "sync", *args],
            env=k.env,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def err(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def logged(self, text: str) -> bool:
        return any(text in line for _, line in self.lines)

    def stop(self) -> int:
        """SIGTERM (after SIGCONT, should it be paused); its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return code


@contextmanager
def _stopped(federation: Federation, member: str) -> Iterator[Callable[[], None]]:
    """The member's apiserver stopped; the yielded function starts it again (early), and it
    is started again on the way out in any case."""
    federation.stop(member)
    running = False

    def start() -> None:
        nonlocal running
        if not running:
            federation.start(member)
            running = True

    try:
        yield start
    finally:
        start()


# --------------------------------------------------------------------------- 1. policy typos


class ForgottenError(AssertionError):
    """A later pass forgot the policy error the first pass reported."""


def _typo_never_deletes(k: Kubectl, ns: str, typo: dict[str, Any], cause: str) -> None:
    """Placed on both members; a policy edit that would place it nowhere is refused: the
    copies stay (same uid), sync and status exit 1 saying why, explain says KeptOnError;
    a valid policy again makes sync exit 0."""
    title = "deployment.apps/web"
    apply(
        k, policy("pp", ns, placement=BOTH), deployment("web", ns, 2, labels={POLICY_LABEL: "pp"})
    )
    code, report = sync_once(k)
    assert code == 0, report
    before = _uids(k, "deploy", "web", ns)
    assert all(before.values()), before

    apply(k, policy("pp", ns, **typo))
    for attempt in (1, 2):  # every pass, not only the first after the edit
        code, report = sync_once(k)
        assert _uids(k, "deploy", "web", ns) == before
        found = entry(report, title, ns)
        failure = ForgottenError if attempt > 1 else AssertionError
        if code != 1 or found["ok"]:
            raise failure(f"pass {attempt}: sync exited {code}, reported {found}")
        assert any(cause in error for error in found["errors"]), found
        status_code, table, item = _status(k, "deploy/web", ns)
        if status_code != 1 or item["ok"]:
            raise failure(f"pass {attempt}: status exited {status_code}: {table}")
        assert cause in table and cause in item["message"], (table, item)
        chosen = _explain(k, "deploy/web", ns)
        for member in MEMBERS:
            assert chosen[member]["chosen"], chosen
            assert chosen[member]["reason"]["code"] == "KeptOnError", chosen

    apply(k, policy("pp", ns, placement=BOTH))
    code, report = sync_once(k)
    assert code == 0, report
    assert _uids(k, "deploy", "web", ns) == before
    assert _status(k, "deploy/web", ns)[0] == 0


def test_typo_unknown_clusters_never_deletes(fed_host: Kubectl, ns: str) -> None:
    # One misspelt name among good ones is enough: member-2 must not lose its copy.
    typo = {"placement": [{"cluster": "member-1"}, {"cluster": "memebr-2"}]}
    _typo_never_deletes(fed_host, ns, typo, "not members: memebr-2")


def test_typo_max_clusters_zero_never_deletes(fed_host: Kubectl, ns: str) -> None:
    typo = {"placement": BOTH, "maxClusters": 0}
    _typo_never_deletes(fed_host, ns, typo, "MaxClustersExceeded")


def test_typo_zero_weights_never_deletes(fed_host: Kubectl, ns: str) -> None:
    zero = {"weight": 0}
    typo = {
        "schedulingMode": "Divide",
        "placement": [
            {"cluster": "member-1", "preferences": zero},
            {"cluster": "member-2", "preferences": zero},
        ],
    }
    _typo_never_deletes(fed_host, ns, typo, "NoReplicasAssigned")


# --------------------------------------------------------------------------- 2. same name


def test_two_kinds_named_service_are_kept_apart(fed_host: Kubectl, ns: str) -> None:
    """A CRD kind `Service` in example.com beside the core Service, both named web: each is
    its own template, and deleting one leaves the other untouched."""
    k = fed_host
    group, plural = "example.com", "services"
    custom = f"{plural}.{group}"
    labels = {POLICY_LABEL: "dup"}
    try:
        _install_crd(k, group, "Service", plural)
        apply(k, type_config(group, "Service", plural))
        for member in MEMBERS:  # the members' kubectl-fed identities may handle the new kind
            k.fed("join", member, "--update-role")
        apply(
            k,
            policy("dup", ns),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": ns, "labels": labels},
                "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
            },
            {
                "apiVersion": f"{group}/v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": ns, "labels": labels},
                "spec": {"flavour": "custom"},
            },
        )
        code, report = sync_once(k)
        assert code == 0, report
        titles = {"service/web", f"service.{group}/web"}  # two spellings
        titled = [
            o for o in report["objects"] if o["object"] in titles and o.get("namespace") == ns
        ]
        assert len(titled) == 2 and all(o["ok"] for o in titled), titled
        assert {o["object"] for o in titled} == titles
        core: dict[str, tuple[str, str]] = {}
        for member in MEMBERS:
            service = get(k, member, "services", "web", "-n", ns)
            assert service is not None and service["spec"]["clusterIP"], member
            core[member] = (service["metadata"]["uid"], service["spec"]["clusterIP"])
            mine = get(k, member, custom, "web", "-n", ns)
            assert mine is not None and mine["spec"] == {"flavour": "custom"}, member

        k.run("delete", custom, "web", "-n", ns)
        code, report = sync_once(k)
        assert code == 0, report
        for member in MEMBERS:
            assert get(k, member, custom, "web", "-n", ns) is None, member
            service = get(k, member, "services", "web", "-n", ns)
            assert service is not None, member
            assert (service["metadata"]["uid"], service["spec"]["clusterIP"]) == core[member]
        assert get(k, "host", "fo", "web-services", "-n", ns) is not None
        assert get(k, "host", "fo", f"web-{custom}", "-n", ns) is None
        _code, again = sync_once(k)
        assert again["writes"] == 0, again["requests"]
    finally:
        k.run("delete", custom, "--all", "-n", ns, "--ignore-not-found", check=False)
        k.fed("sync", "--once", check=False)
        _remove_crd_and_ftc(k, group, plural)


# --------------------------------------------------------------------------- 3. overrides


def _image_override(name: str, ns: str, containers: list[str], tag: str) -> dict[str, Any]:
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "OverridePolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "overrideRules": [
                {
                    "targetClusters": {"clusters": ["member-1"]},
                    "overriders": {
                        "image": [
                            {
                                "containerNames": containers,
                                "operations": [
                                    {"imageComponent": "Tag", "operator": "overwrite", "value": tag}
                                ],
                            }
                        ]
                    },
                }
            ]
        },
    }


def test_missing_override_policy_writes_nothing(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    labels = {POLICY_LABEL: "dup", OVERRIDE_LABEL: "nosuch"}
    apply(k, policy("dup", ns), deployment("web", ns, 2, labels=labels))
    code, report = sync_once(k)
    assert code == 1
    found = entry(report, "deployment.apps/web", ns)
    for member in MEMBERS:
        result = found["clusters"][member]
        assert result["status"] == "ApplyOverridesFailed", found
        assert "OverridePolicy nosuch not found" in result["message"], found
        assert get(k, member, "deploy", "web", "-n", ns) is None, member
    status_code, table, item = _status(k, "deploy/web", ns)
    assert status_code == 1 and not item["ok"], table
    assert "nosuch" in table
    for cluster in item["clusters"]:
        assert cluster["status"] == "ApplyOverridesFailed", item
        assert "OverridePolicy nosuch not found" in cluster["message"], item

    apply(k, _image_override("nosuch", ns, ["main"], "1.25"))
    code, report = sync_once(k)
    assert code == 0, report
    assert _image(k, "member-1", "web", ns) == ("nginx:1.25", 1)
    assert _image(k, "member-2", "web", ns) == ("nginx", 1)

    # A placed copy whose OverridePolicy goes missing is not rewritten without it.
    k.run("label", "deploy", "web", "-n", ns, f"{OVERRIDE_LABEL}=gone", "--overwrite")
    k.run("scale", "deploy", "web", "-n", ns, "--replicas=3")
    code, report = sync_once(k)
    assert code == 1
    found = entry(report, "deployment.apps/web", ns)
    assert found["clusters"]["member-1"]["status"] == "ApplyOverridesFailed", found
    assert _image(k, "member-1", "web", ns) == ("nginx:1.25", 1)
    assert replicas_in(k, "deploy", "web", ns) == {"member-1": 2, "member-2": 2}


def test_override_naming_no_container_keeps_copy(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    labels = {POLICY_LABEL: "dup", OVERRIDE_LABEL: "img"}
    apply(
        k,
        policy("dup", ns),
        _image_override("img", ns, ["main"], "1.25"),
        deployment("web", ns, 1, labels=labels),
    )
    code, report = sync_once(k)
    assert code == 0, report
    before = _image(k, "member-1", "web", ns)
    assert before == ("nginx:1.25", 1)

    apply(k, _image_override("img", ns, ["mian"], "1.26"))  # a typo in the container's name
    code, report = sync_once(k)
    assert code == 1
    result = entry(report, "deployment.apps/web", ns)["clusters"]["member-1"]
    assert result["status"] == "ApplyOverridesFailed", result
    assert "no container named mian" in result["message"], result
    assert _image(k, "member-1", "web", ns) == before  # not rewritten with the plain image
    status_code, table, item = _status(k, "deploy/web", ns)
    assert status_code == 1 and not item["ok"], table
    by_cluster = {c["cluster"]: c for c in item["clusters"]}
    assert by_cluster["member-1"]["status"] == "ApplyOverridesFailed", item
    assert "no container named" in by_cluster["member-1"]["message"], item
    assert by_cluster["member-2"]["status"] == "OK", item


# --------------------------------------------------------------------------- 4. status


def test_drift_report_is_not_ok_until_corrected(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    title = "deployment.apps/drifty"
    apply(k, policy("dup", ns), deployment("drifty", ns, 2, labels={POLICY_LABEL: "dup"}))
    code, report = sync_once(k)
    assert code == 0, report
    k.run("--context", "member-1", "scale", "deploy", "drifty", "-n", ns, "--replicas=7")

    reported = k.fed("sync", "--once", "--drift=report", "-o", "wide", check=False)
    assert reported.code == 1, reported.out
    rows, not_ok = _summary(reported.out)
    assert not_ok == sum(1 for row in rows if row[3] == "NotOK"), reported.out
    mine = next(row for row in rows if row[:2] == [ns, title])
    assert mine[2:4] == ["1/2", "NotOK"] and "member-1: Drifted" in mine[4], mine
    assert replicas_in(k, "deploy", "drifty", ns)["member-1"] == 7
    status_code, table, item = _status(k, "deploy/drifty", ns)
    assert status_code == 1 and item["ok"] is False, table
    by_cluster = {c["cluster"]: c for c in item["clusters"]}
    assert by_cluster["member-1"]["status"] == "Drifted", item
    assert "/spec/replicas" in by_cluster["member-1"]["message"], item
    assert by_cluster["member-2"]["status"] == "OK", item
    wide = k.fed("status", "deploy/drifty", "-n", ns, "-o", "wide", check=False).out
    assert re.search(r"member-1\s+Drifted", wide), wide

    corrected = k.fed("sync", "--once", "-o", "wide", check=False)
    assert corrected.code == 0, corrected.out
    rows, not_ok = _summary(corrected.out)
    assert not_ok == sum(1 for row in rows if row[3] == "NotOK") == 0, corrected.out
    mine = next(row for row in rows if row[:2] == [ns, title])
    assert mine[2:4] == ["2/2", "OK"] and "drift corrected" in mine[4], mine
    assert replicas_in(k, "deploy", "drifty", ns)["member-1"] == 2
    status_code, table, item = _status(k, "deploy/drifty", ns)
    assert status_code == 0 and item["ok"] is True, table


def test_object_placed_nowhere_is_not_ok(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    apply(
        k,
        policy("mars", ns, clusterSelector={"region": "mars"}),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "nowhere", "namespace": ns, "labels": {POLICY_LABEL: "mars"}},
            "data": {"a": "b"},
        },
    )
    for _ in (1, 2):
        code, report = sync_once(k)
        assert code == 1, report
        found = entry(report, "configmap/nowhere", ns)
        assert not found["ok"] and found["errors"], found
        assert "no cluster satisfies the policy" in found["errors"][0], found
        for member in MEMBERS:
            assert get(k, member, "cm", "nowhere", "-n", ns) is None
        status_code, table, item = _status(k, "cm/nowhere", ns)
        assert status_code == 1 and item["ok"] is False, table
        assert "no cluster satisfies the policy" in item["message"], item


def test_removal_pending_on_stopped_member(
    fed_host: Kubectl, federation: Federation, ns: str
) -> None:
    k = fed_host
    title = "deployment.apps/pending"
    apply(
        k, policy("pp", ns, placement=BOTH), deployment("pending", ns, labels={POLICY_LABEL: "pp"})
    )
    code, report = sync_once(k)
    assert code == 0, report
    with _stopped(federation, "member-2") as start:
        apply(k, policy("pp", ns, placement=[{"cluster": "member-1"}]))
        started = time.monotonic()
        code, report = sync_once(k, "--request-timeout", "3s")
        assert time.monotonic() - started < 30
        assert code == 1, report
        assert "member-2" in report["unreachable"]
        found = entry(report, title, ns)
        assert not found["ok"], found
        assert found["clusters"]["member-1"]["status"] == "OK", found
        pending = found["clusters"]["member-2"]
        assert pending["status"] == "ClusterNotReady", found
        assert "removal pending" in pending["message"], found
        start()
    assert get(k, "member-2", "deploy", "pending", "-n", ns) is not None  # kept while down
    code, report = sync_once(k)
    assert code == 0, report
    assert replicas_in(k, "deploy", "pending", ns) == {"member-1": 2, "member-2": None}
    assert entry(report, title, ns)["ok"]


# --------------------------------------------------------------------------- 5. followers


def test_followers_leave_with_their_workload(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    workload = deployment("app", ns, 1, labels={POLICY_LABEL: "both"})
    workload["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {
            "name": "A",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}},
        }
    ]
    apply(
        k,
        policy("both", ns, placement=BOTH),
        policy("one", ns, placement=[{"cluster": "member-1"}]),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns, "labels": {POLICY_LABEL: "one"}},
            "data": {"a": "b"},
        },
        workload,
    )
    code, report = sync_once(k)
    assert code == 0, report
    for member in MEMBERS:
        assert get(k, member, "cm", "settings", "-n", ns) is not None, member
    chosen = _explain(k, "configmap/settings", ns)
    assert chosen["member-2"]["chosen"] and chosen["member-2"]["reason"]["code"] == "Follower"

    apply(k, policy("both", ns, placement=[{"cluster": "member-1"}]))
    for _ in (1, 2):
        code, report = sync_once(k)
        if get(k, "member-2", "cm", "settings", "-n", ns) is None:
            break
    assert get(k, "member-2", "cm", "settings", "-n", ns) is None
    assert get(k, "member-2", "deploy", "app", "-n", ns) is None
    assert get(k, "member-1", "cm", "settings", "-n", ns) is not None
    chosen = _explain(k, "configmap/settings", ns)
    assert not chosen["member-2"]["chosen"], chosen
    assert chosen["member-1"]["chosen"], chosen
    code, report = sync_once(k)
    assert code == 0, report


# --------------------------------------------------------------------------- 6. liveness


def test_edit_reaches_restarted_member_quickly(
    fed_host: Kubectl, federation: Federation, ns: str
) -> None:
    k = fed_host
    apply(k, policy("dup", ns), deployment("live", ns, 1, labels={POLICY_LABEL: "dup"}))
    sync = BackgroundSync(k, "--resync-period", "10m")
    try:
        assert wait_for(
            lambda: replicas_in(k, "deploy", "live", ns) == {"member-1": 1, "member-2": 1}
        ), sync.err
        with _stopped(federation, "member-2") as start:
            k.run("scale", "deploy", "live", "-n", ns, "--replicas=3")
            assert wait_for(lambda: replicas_in(k, "deploy", "live", ns)["member-1"] == 3), sync.err
            start()
            back = time.monotonic()
            reached = wait_for(
                lambda: replicas_in(k, "deploy", "live", ns)["member-2"] == 3, timeout=20
            )
            assert reached, f"not in member-2 {time.monotonic() - back:.0f}s on:\n{sync.err}"
    finally:
        code = sync.stop()
    assert code == 0, sync.err
    assert "Traceback" not in sync.err


def test_new_federated_type_without_restart(fed_host: Kubectl, ns: str) -> None:
    k = fed_host
    group, kind, plural = "trust.example.com", "Gadget", "gadgets"
    resource = f"{plural}.{group}"
    apply(k, policy("dup", ns))
    sync = BackgroundSync(k, "--resync-period", "10m")
    try:
        assert wait_for(lambda: sync.logged("pass:")), sync.err  # running, watches set
        _install_crd(k, group, kind, plural)
        apply(k, type_config(group, kind, plural))
        apply(
            k,
            {
                "apiVersion": f"{group}/v1",
                "kind": kind,
                "metadata": {"name": "g1", "namespace": ns, "labels": {POLICY_LABEL: "dup"}},
                "spec": {"size": 3},
            },
        )
        # Each member's kubectl-fed identity was made for the kinds of join time: sync
        # says what it lacks, `join --update-role` grants it, and sync goes on.
        assert wait_for(lambda: sync.logged("--update-role")), sync.err
        for member in MEMBERS:
            k.fed("join", member, "--update-role")
        added = time.monotonic()
        reached = wait_for(
            lambda: all(get(k, m, resource, "g1", "-n", ns) is not None for m in MEMBERS),
            timeout=20,
        )
        assert reached, f"not in both members {time.monotonic() - added:.0f}s on:\n{sync.err}"
        copy = get(k, "member-1", resource, "g1", "-n", ns)
        assert copy is not None and copy["spec"] == {"size": 3}
        assert copy["metadata"]["labels"]["kubeadmiral.io/managed"] == "true"
    finally:
        code = sync.stop()
        k.run("delete", resource, "--all", "-n", ns, "--ignore-not-found", check=False)
        k.fed("sync", "--once", check=False)
        _remove_crd_and_ftc(k, group, plural)
    assert code == 0, sync.err
    assert "Traceback" not in sync.err


# --------------------------------------------------------------------------- 7. split brain


def _lease_holder(k: Kubectl) -> str:
    lease = get(k, "host", "lease", "kubectl-fed-sync", "-n", FED_NAMESPACE)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def test_split_brain_paused_sync_stops_writing(fed_host: Kubectl, ns: str) -> None:
    """A sync paused past its lease finds, when it resumes, that it lost the lease: it
    writes nothing until it has taken the lease again, then carries on."""
    k = fed_host
    apply(k, policy("dup", ns), deployment("brain", ns, 1, labels={POLICY_LABEL: "dup"}))
    a = BackgroundSync(k, "--resync-period", "10m")
    mine = f"-{a.process.pid}-"
    try:
        assert wait_for(
            lambda: replicas_in(k, "deploy", "brain", ns) == {"member-1": 1, "member-2": 1}
        ), a.err
        assert mine in _lease_holder(k)

        os.kill(a.process.pid, signal.SIGSTOP)
        paused = time.monotonic()
        b = k.fed("sync", "--once", "-o", "json", check=False, timeout=60)
        waited = time.monotonic() - paused
        assert b.code == 0, (b.err, b.out)
        assert "waiting for the sync lease" in b.err and mine in b.err, b.err
        assert 10 < waited < 30, waited
        k.run("scale", "deploy", "brain", "-n", ns, "--replicas=3")
        time.sleep(max(0.0, 20 - (time.monotonic() - paused)))
        resumed = time.monotonic()
        os.kill(a.process.pid, signal.SIGCONT)

        assert wait_for(lambda: a.logged("lost the sync lease"), timeout=15), a.err
        assert wait_for(
            lambda: replicas_in(k, "deploy", "brain", ns) == {"member-1": 3, "member-2": 3}
        ), a.err
        assert mine in _lease_holder(k)  # A took the lease again, and carried on
        after = [line for at, line in a.lines if at >= resumed]
        lost = next(i for i, line in enumerate(after) if "lost the sync lease" in line)
        assert "waiting to take it back" in after[lost], after
        # Nothing reported as written between resuming and noticing the loss.
        assert not [line for line in after[:lost] if re.search(r"\b[1-9]\d* writes", line)], after
    finally:
        code = a.stop()
    assert code == 0, a.err
    assert "Traceback" not in a.err
