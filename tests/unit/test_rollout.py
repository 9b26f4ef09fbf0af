"""`kubectl fed rollout status` (ops/rollout) on the fake federation: it waits for the
federation and then every member, prints each line once, fails on a member's failure or
the timeout, and never writes anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.errors import FedError
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import rollout as rollout_ops
from kubectl_fed.ops.rollout import RolloutRequest, rollout_status
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import configmap, deployment, namespace, policy

NS = "shop"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
POLICIES = fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS)
DEPLOY = {
    "group": "apps",
    "version": "v1",
    "kind": "Deployment",
    "plural": "deployments",
    "namespaced": True,
}


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as fed:
        fed.kube().create("/api/v1/namespaces", namespace(NS))
        fed.kube().create(POLICIES, policy("div", NS, "Divide", {"member-1": 1, "member-2": 2}))
        yield fed


@pytest.fixture
def fed(base: FakeFederation, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFederation]:
    monkeypatch.setattr(rollout_ops, "POLL_S", 0.01)
    clone = base.clone()
    yield clone
    clone.close()


def roll_out(fed: FakeFederation, cluster: str, available: int | None = None, **extra: Any) -> None:
    copy = fed.members[cluster].must("deployments.apps", "web", NS)
    wanted = copy["spec"]["replicas"]
    status = {
        "observedGeneration": copy["metadata"]["generation"],
        "replicas": wanted,
        "updatedReplicas": wanted,
        "availableReplicas": wanted if available is None else available,
        **extra,
    }
    fed.kube(cluster).merge_patch(f"{DEPLOYMENTS}/web/status", {"status": status})


def watch(
    fed: FakeFederation,
    name: str = "web",
    timeout: float = 2.0,
    watch: bool = True,
    resource: dict[str, Any] | None = None,
) -> list[str]:
    lines: list[str] = []
    request = RolloutRequest(resource or DEPLOY, name, NS, timeout, watch)
    rollout_status(fed.host, request, fed.timeout, lines.append)
    return lines


def test_done_once_every_member_has_rolled_out_and_nothing_is_written(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    roll_out(fed, "member-1")
    roll_out(fed, "member-2")
    fed.reset_counts()
    assert watch(fed) == [
        'deployment "web" successfully rolled out in member-1',
        'deployment "web" successfully rolled out in member-2',
        'deployment "web" successfully rolled out',
    ]
    assert fed.mutations() == {}


def test_waits_for_a_member_then_times_out(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    roll_out(fed, "member-1")
    roll_out(fed, "member-2", available=4)
    lines: list[str] = []
    request = RolloutRequest(DEPLOY, "web", NS, 0.2, True)
    with pytest.raises(FedError, match="timed out waiting for the condition"):
        rollout_status(fed.host, request, fed.timeout, lines.append)
    assert lines == [  # each line once, however many looks
        'deployment "web" successfully rolled out in member-1',
        'Waiting for deployment "web" rollout to finish: 4 of 6 updated replicas are available '
        "in member-2...",
    ]


def test_a_template_edit_waits_for_a_sync(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    roll_out(fed, "member-1")
    roll_out(fed, "member-2")
    fed.kube().merge_patch(
        f"{DEPLOYMENTS}/web", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}
    )
    assert watch(fed, watch=False) == [
        'Waiting for deployment "web" spec update to be synced to the members '
        "(run kubectl fed sync)..."
    ]
    run_pass(fed)  # the copies change: their controllers have not observed it yet
    assert watch(fed, watch=False) == [
        "Waiting for deployment spec update to be observed in member-1...",
        "Waiting for deployment spec update to be observed in member-2...",
    ]


def test_progress_deadline_exceeded_fails(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    roll_out(fed, "member-1")
    late = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    roll_out(fed, "member-2", available=0, conditions=[late])
    with pytest.raises(FedError, match='"web" exceeded its progress deadline in member-2'):
        watch(fed)


def test_a_member_down_is_waited_for(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    roll_out(fed, "member-1")
    fed.members["member-2"].down = True
    lines = watch(fed, watch=False)
    assert lines[0] == 'deployment "web" successfully rolled out in member-1'
    assert lines[1].startswith('Waiting for deployment "web" in member-2: ')


def test_not_found_not_federated_and_unsupported(fed: FakeFederation) -> None:
    with pytest.raises(FedError, match=r'deployments\.apps "ghost" not found'):
        watch(fed, "ghost")
    fed.kube().create(DEPLOYMENTS, deployment("plain", NS, 1))
    with pytest.raises(FedError, match="is not federated"):
        watch(fed, "plain")
    fed.kube().create(DEPLOYMENTS, deployment("new", NS, 1, policy_name="div"))
    assert watch(fed, "new", watch=False) == [
        'Waiting for deployment "new" to be federated (run kubectl fed sync)...'
    ]
    fed.kube().create(f"/api/v1/namespaces/{NS}/configmaps", configmap("cm", NS, policy_name="div"))
    cm = {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
        "plural": "configmaps",
        "namespaced": True,
    }
    with pytest.raises(FedError, match="no status viewer has been implemented for ConfigMap"):
        watch(fed, "cm", resource=cm)


def test_deleted_while_watching(fed: FakeFederation) -> None:
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="div"))
    run_pass(fed)
    lines: list[str] = []

    def delete_after_first(line: str) -> None:
        lines.append(line)
        if len(lines) > 1:
            return
        fo = fed_path(kubeadmiral.FEDERATED_OBJECTS, "web-deployments.apps", NS)
        fed.kube().delete(f"{DEPLOYMENTS}/web")
        fed.kube().merge_patch(fo, {"metadata": {"finalizers": None}})
        fed.kube().delete(fo)

    request = RolloutRequest(DEPLOY, "web", NS, 2.0, True)
    with pytest.raises(FedError, match="object has been deleted"):
        rollout_status(fed.host, request, fed.timeout, delete_after_first)
