"""Whole sync passes, adopt, diff, status and the lease on a fake federation (tests/fake):
kubectl-fed's own code from the Reconciler down to the Transport, in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.lease import DURATION_S
from kubectl_fed.core.marks import MANAGED_LABEL
from kubectl_fed.errors import FedError
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import status as inspect
from kubectl_fed.ops.adopt import AdoptRequest, adopt
from kubectl_fed.ops.diff import DiffRequest, diff
from kubectl_fed.planning.plan import SyncOptions
from kubectl_fed.planning.scope import Scope
from kubectl_fed.sync import lease as lease_module
from kubectl_fed.sync.lease import LEASE_HELD_EXIT, LeaseLost, SyncLease
from kubectl_fed.sync.loop import Stopper, run_forever
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import configmap, deployment, namespace, policy

NS = "shop"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
POLICIES = fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS)
FOS = fed_path(kubeadmiral.FEDERATED_OBJECTS, namespace=NS)


def diff_in_namespace(fed: FakeFederation, server_side: bool) -> list[Any]:
    request = DiffRequest(Scope(namespace=NS), server_side=server_side)
    return diff(fed.host, SyncOptions(timeout=fed.timeout), request)


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    """Built once (init and join cost ~0.1 s), cloned for every test."""
    with FakeFederation(
        ["member-1", "member-2"],
        labels={"member-1": {"region": "eu"}, "member-2": {"region": "us"}},
    ) as fed:
        fed.kube().create("/api/v1/namespaces", namespace(NS))
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def objects(report: Any) -> list[Any]:
    """The report's objects but the namespaces (auto-propagated: every host namespace)."""
    return [o for o in report.objects if o.kind != "Namespace"]


def member_copy(
    fed: FakeFederation, cluster: str, kind: str = "deployments.apps", name: str = "web"
) -> Any:  # the copy, or None
    return fed.members[cluster].get(kind, name, NS)


def divided(fed: FakeFederation, replicas: int = 9) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("spread", NS, "Divide", {"member-1": 1, "member-2": 2}))
    host.create(DEPLOYMENTS, deployment("web", NS, replicas, policy_name="spread"))


def fo_status(fed: FakeFederation, name: str = "web-deployments.apps") -> dict[str, str]:
    fo = fed.host_cluster.must("federatedobjects.core.kubeadmiral.io", name, NS)
    return {e["cluster"]: e["status"] for e in (fo.get("status") or {}).get("clusters") or []}


# --------------------------------------------------------------------------- passes


def test_divide_by_weights_then_a_second_pass_writes_nothing(fed: FakeFederation) -> None:
    divided(fed)
    first = run_pass(fed)
    assert first.ok, first.objects
    assert member_copy(fed, "member-1")["spec"]["replicas"] == 3
    assert member_copy(fed, "member-2")["spec"]["replicas"] == 6
    for cluster in ("member-1", "member-2"):
        labels = member_copy(fed, cluster)["metadata"]["labels"]
        assert labels[MANAGED_LABEL] == "true"
        assert "kubeadmiral.io/propagation-policy-name" not in labels
        assert cluster in fed.members and fed.members[cluster].get("namespaces", NS)
    assert fo_status(fed) == {"member-1": "OK", "member-2": "OK"}
    # PassReport.writes counts the mutating requests of the host and every member.
    assert first.writes == sum(
        n for counts in first.requests.values() for m, n in counts.items() if m != "GET"
    )
    fed.reset_counts()
    second = run_pass(fed)
    assert second.ok and second.writes == 0
    assert fed.mutations() == {}  # the servers agree: nothing was written


def test_template_edits_reach_the_members_and_keep_the_division(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    before = member_copy(fed, "member-2")
    fed.kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 12}})
    run_pass(fed)
    assert member_copy(fed, "member-1")["spec"]["replicas"] == 4
    after = member_copy(fed, "member-2")
    assert after["spec"]["replicas"] == 8
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # updated in place


def test_deleting_the_template_deletes_the_copies(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().delete(f"{DEPLOYMENTS}/web")
    report = run_pass(fed)
    assert [o.leaving for o in objects(report)] == [True] and report.ok
    assert member_copy(fed, "member-1") is None and member_copy(fed, "member-2") is None
    assert fed.host_cluster.objects("federatedobjects.core.kubeadmiral.io", NS) == []
    fed.reset_counts()
    assert run_pass(fed).writes == 0


def test_removing_the_policy_label_deletes_the_copies(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().merge_patch(
        f"{DEPLOYMENTS}/web",
        {"metadata": {"labels": {"kubeadmiral.io/propagation-policy-name": None}}},
    )
    run_pass(fed)
    assert member_copy(fed, "member-1") is None and member_copy(fed, "member-2") is None
    assert fed.host_cluster.get("deployments.apps", "web", NS) is not None


def test_an_unreachable_member_loses_nothing(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    kept = member_copy(fed, "member-2")
    fed.members["member-2"].down = True
    fed.kube().delete(f"{DEPLOYMENTS}/web")
    report = run_pass(fed)
    assert "member-2" in report.unreachable
    [result] = objects(report)
    assert result.clusters["member-2"].status == "ClusterNotReady"
    assert member_copy(fed, "member-1") is None
    assert member_copy(fed, "member-2") == kept
    # The FederatedObject waits, held by its finalizer, and the cluster is recorded down.
    assert fed.host_cluster.get("federatedobjects.core.kubeadmiral.io", "web-deployments.apps", NS)
    cluster = fed.host_cluster.must("federatedclusters.core.kubeadmiral.io", "member-2")
    ready = {c["type"]: c["status"] for c in cluster["status"]["conditions"]}
    assert ready["Ready"] == "False"
    fed.members["member-2"].down = False
    assert run_pass(fed).ok
    assert member_copy(fed, "member-2") is None
    assert fed.host_cluster.objects("federatedobjects.core.kubeadmiral.io", NS) == []


def test_nothing_new_goes_to_an_unreachable_member_until_it_answers(fed: FakeFederation) -> None:
    fed.members["member-2"].down = True
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "all"))
    report = run_pass(fed)
    assert report.ok and set(objects(report)[0].clusters) == {"member-1"}
    assert member_copy(fed, "member-2", "configmaps", "settings") is None
    fed.members["member-2"].down = False
    assert run_pass(fed).ok
    assert member_copy(fed, "member-2", "configmaps", "settings")["data"] == {"mode": "fast"}


@pytest.mark.parametrize("avoid_disruption", [True, False])
def test_divided_replicas_after_an_outage(fed: FakeFederation, avoid_disruption: bool) -> None:
    """KubeAdmiral's avoidDisruption (the default) keeps running replicas where they run:
    a member down when the object was first divided gets nothing when it comes back until
    the replicas change; without it the division follows the weights at once."""
    fed.members["member-2"].down = True
    spread = policy("spread", NS, "Divide", {"member-1": 1, "member-2": 2})
    spread["spec"]["reschedulePolicy"] = {
        "replicaRescheduling": {"avoidDisruption": avoid_disruption}
    }
    fed.kube().create(POLICIES, spread)
    fed.kube().create(DEPLOYMENTS, deployment("web", NS, 9, policy_name="spread"))
    run_pass(fed)
    assert member_copy(fed, "member-1")["spec"]["replicas"] == 9
    fed.members["member-2"].down = False
    assert run_pass(fed).ok
    if avoid_disruption:
        assert member_copy(fed, "member-1")["spec"]["replicas"] == 9
        assert member_copy(fed, "member-2") is None
        fed.kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 12}})
        run_pass(fed)
        assert member_copy(fed, "member-1")["spec"]["replicas"] == 9
        assert member_copy(fed, "member-2")["spec"]["replicas"] == 3
    else:
        assert member_copy(fed, "member-1")["spec"]["replicas"] == 3
        assert member_copy(fed, "member-2")["spec"]["replicas"] == 6


def test_drift_is_reported_or_corrected(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    editor = fed.kube("member-1", manager="kubectl-edit")
    path = f"{DEPLOYMENTS}/web"
    editor.merge_patch(path, {"metadata": {"labels": {"team": "x"}}, "spec": {"replicas": 5}})
    reported = run_pass(fed, drift="report")
    [result] = objects(reported)
    assert result.drifted and not reported.ok
    assert result.clusters["member-1"].status == "Drifted"
    assert fo_status(fed)["member-1"] == "Drifted"
    assert member_copy(fed, "member-1")["spec"]["replicas"] == 5  # left as it is
    corrected = run_pass(fed)
    assert corrected.ok and objects(corrected)[0].drifted
    fixed = member_copy(fed, "member-1")
    assert fixed["spec"]["replicas"] == 3
    assert fixed["metadata"]["labels"]["team"] == "x"  # someone else's label stays theirs


def test_configmap_drift_shows_in_status_and_diff(fed: FakeFederation) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "all"))
    run_pass(fed)
    [state] = inspect.status(fed.host, [], NS, fed.timeout)
    assert state.ok, state.message
    fed.kube("member-2", manager="kubectl-edit").merge_patch(
        f"{CONFIGMAPS}/settings", {"data": {"mode": "slow"}}
    )
    differences = diff(
        fed.host,
        SyncOptions(timeout=fed.timeout),
        DiffRequest(Scope(namespace=NS), server_side=True),
    )
    states = {(d.cluster, d.state) for d in differences}
    assert states == {("member-1", "same"), ("member-2", "changed")}
    [changed] = [d for d in differences if d.state == "changed"]
    assert changed.paths == ["root['data']['mode']"]
    local = diff(
        fed.host,
        SyncOptions(timeout=fed.timeout),
        DiffRequest(Scope(namespace=NS), server_side=False),
    )
    assert {(d.cluster, d.state) for d in local} == states


def test_adopt_in_place_then_nothing_differs(fed: FakeFederation) -> None:
    member = fed.kube("member-1", manager="kubectl-client-side-apply")
    member.create("/api/v1/namespaces", namespace(NS))
    app = deployment("legacy", NS, 2)
    app["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "legacy-env"}}
    ]
    member.create(CONFIGMAPS, configmap("legacy-env", NS, {"A": "1"}))
    created = member.create(DEPLOYMENTS, app)
    request = AdoptRequest(
        references=["deploy/legacy"],
        cluster="member-1",
        namespace=NS,
        selector=None,
        policy=None,
        create_policy=True,
        template="native",
        dependencies=True,
        dry_run="none",
    )
    rows = adopt(fed.host, fed.kube("member-1"), request)
    assert rows and all(r.action == "created" for r in rows), rows
    report = run_pass(fed)
    assert report.ok, [(o.title, o.errors, o.clusters) for o in report.objects]
    adopted = member_copy(fed, "member-1", name="legacy")
    assert adopted["metadata"]["uid"] == created["metadata"]["uid"]
    assert adopted["metadata"]["generation"] == created["metadata"]["generation"]  # no restart
    assert adopted["metadata"]["labels"][MANAGED_LABEL] == "true"
    assert adopted["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"
    assert member_copy(fed, "member-2", name="legacy") is None  # the policy names member-1
    differences = diff(
        fed.host,
        SyncOptions(timeout=fed.timeout),
        DiffRequest(Scope(namespace=NS), server_side=True),
    )
    assert differences and {d.state for d in differences} == {"same"}, differences


def test_host_garbage_collector_and_finalizer_agree(fed: FakeFederation) -> None:
    fed.host_cluster.gc = True
    divided(fed)
    run_pass(fed)
    fed.kube().delete(f"{DEPLOYMENTS}/web")
    fo = fed.host_cluster.must("federatedobjects.core.kubeadmiral.io", "web-deployments.apps", NS)
    assert fo["metadata"]["deletionTimestamp"]  # collected, held by the sync's finalizer
    assert run_pass(fed).ok
    assert member_copy(fed, "member-1") is None and member_copy(fed, "member-2") is None
    assert fed.host_cluster.objects("federatedobjects.core.kubeadmiral.io", NS) == []


def test_member_status_is_summed_into_the_template(fed: FakeFederation) -> None:
    for member in fed.members.values():
        member.ready_workloads = True
    divided(fed)
    run_pass(fed)
    run_pass(fed)  # the copies' status, written by their controllers, is read on the next pass
    status = fed.host_cluster.must("deployments.apps", "web", NS)["status"]
    assert status["replicas"] == 9 and status["readyReplicas"] == 9
    assert status["observedGeneration"] == 1


def test_a_failed_member_write_is_reported_and_retried(fed: FakeFederation) -> None:
    divided(fed)
    fed.members["member-2"].fail_next("PATCH", DEPLOYMENTS, 422, message="nope")
    report = run_pass(fed)
    [result] = objects(report)
    assert result.clusters["member-2"].status == "CreationFailed"
    assert "nope" in result.clusters["member-2"].message
    assert fo_status(fed)["member-2"] == "CreationFailed"
    assert run_pass(fed).ok
    assert member_copy(fed, "member-2")["spec"]["replicas"] == 6


def test_a_policy_that_places_nowhere_keeps_the_placement(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().merge_patch(f"{POLICIES}/spread", {"spec": {"maxClusters": 0}})
    run_pass(fed)
    assert member_copy(fed, "member-1") is not None and member_copy(fed, "member-2") is not None


# --------------------------------------------------------------------------- findings
# Each test here was a bug the state machine found, fixed since.


def test_a_retiring_object_records_where_copies_remain(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.members["member-2"].down = True
    fed.kube().delete(f"{DEPLOYMENTS}/web")
    run_pass(fed)
    assert fo_status(fed) == {"member-2": "ClusterNotReady"}


def test_the_pass_after_a_drift_correction_writes_nothing(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    editor = fed.kube("member-1", manager="kubectl-edit")
    editor.merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 5}})
    run_pass(fed)
    fed.reset_counts()
    assert run_pass(fed).writes == 0, fed.mutations()


def test_the_pass_after_an_adoption_writes_nothing(fed: FakeFederation) -> None:
    member = fed.kube("member-1", manager="kubectl-client-side-apply")
    member.create("/api/v1/namespaces", namespace(NS))
    member.create(DEPLOYMENTS, deployment("legacy", NS, 2))
    request = AdoptRequest(
        ["deploy/legacy"], "member-1", NS, None, None, True, "native", False, "none"
    )
    adopt(fed.host, fed.kube("member-1"), request)
    assert run_pass(fed).ok
    fed.reset_counts()
    assert run_pass(fed).writes == 0, fed.mutations()


def test_a_deleted_divide_policy_keeps_the_division(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().delete(f"{POLICIES}/spread")
    run_pass(fed)
    assert member_copy(fed, "member-1")["spec"]["replicas"] == 3
    assert member_copy(fed, "member-2")["spec"]["replicas"] == 6


def test_removing_the_orphan_annotation_restores_deletion(fed: FakeFederation) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    cm = configmap("settings", NS, {"mode": "fast"}, "all")
    cm["metadata"]["annotations"] = {"kubeadmiral.io/orphan": "all"}
    host.create(CONFIGMAPS, cm)
    run_pass(fed)
    host.merge_patch(
        f"{CONFIGMAPS}/settings", {"metadata": {"annotations": {"kubeadmiral.io/orphan": None}}}
    )
    run_pass(fed)
    host.delete(f"{CONFIGMAPS}/settings")
    run_pass(fed)
    assert member_copy(fed, "member-1", "configmaps", "settings") is None


def test_a_recreated_template_settles_in_one_pass(fed: FakeFederation) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "all"))
    run_pass(fed)
    host.delete(f"{CONFIGMAPS}/settings")
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "slow"}, "all"))
    run_pass(fed)
    fed.reset_counts()
    assert run_pass(fed).writes == 0, fed.mutations()


def test_members_are_not_written_past_a_failed_federated_object(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 12}})
    fed.host_cluster.fail_next("PUT", FOS, 422)
    run_pass(fed)
    assert member_copy(fed, "member-2")["spec"]["replicas"] == 6


def test_one_failed_federated_object_write_does_not_misplace_for_good(
    fed: FakeFederation,
) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("where", NS, placement=["member-1"]))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "where"))
    run_pass(fed)
    host.merge_patch(f"{POLICIES}/where", {"spec": {"placement": [{"cluster": "member-2"}]}})
    fed.host_cluster.fail_next("PUT", FOS, 403)
    for _ in range(3):
        run_pass(fed)
    assert member_copy(fed, "member-1", "configmaps", "settings") is None
    assert member_copy(fed, "member-2", "configmaps", "settings") is not None


def test_a_failed_cluster_status_write_does_not_stop_the_pass(fed: FakeFederation) -> None:
    divided(fed)
    fed.members["member-2"].down = True
    fed.host_cluster.fail_next("PATCH", fed_path(kubeadmiral.FEDERATED_CLUSTERS), 403)
    run_pass(fed)
    assert member_copy(fed, "member-1") is not None


def test_status_is_not_ok_for_a_configmap_changed_by_hand(fed: FakeFederation) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "all"))
    run_pass(fed)
    fed.kube("member-2", manager="kubectl-edit").merge_patch(
        f"{CONFIGMAPS}/settings", {"data": {"mode": "slow"}}
    )
    [state] = inspect.status(fed.host, [], NS, fed.timeout)
    assert not state.ok


def test_status_is_not_ok_for_a_copy_replaced_by_someone_elses(fed: FakeFederation) -> None:
    """Found by the state machine: deleted by hand, and another object of that name made
    in its place, the copy is no longer the federation's (and nothing in it says so but
    the missing mark: a ConfigMap has no generation)."""
    host = fed.kube()
    host.create(POLICIES, policy("all", NS))
    host.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}, "all"))
    run_pass(fed)
    member = fed.kube("member-2", manager="kubectl")
    member.delete(f"{CONFIGMAPS}/settings")
    member.create(CONFIGMAPS, configmap("settings", NS, {"mode": "fast"}))
    [state] = inspect.status(fed.host, [], NS, fed.timeout)
    assert not state.ok
    row = next(c for c in state.clusters if c.cluster == "member-2")
    assert row.synced is False and "not the federation's copy" in row.message


# --------------------------------------------------------------------------- the lease


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lease_holder_blocks_others_until_it_stops_renewing(
    fed: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY_S", 3600.0)  # renewals by hand below
    first_clock, second_clock = Clock(), Clock()
    first = SyncLease(fed.kube(), fed.fed_namespace, "first", clock=first_clock)
    second = SyncLease(fed.kube(), fed.fed_namespace, "second", clock=second_clock)
    try:
        assert first.acquire(wait=False)
        with pytest.raises(FedError, match="another sync holds the lease: first") as held:
            second.acquire(wait=False)
        assert held.value.exit_code == LEASE_HELD_EXIT
        # The holder keeps renewing: however long the other waits, the record moves.
        for _ in range(3):
            second_clock.now += 10
            first_clock.now += 4
            assert first.renew()
            first.check()
            with pytest.raises(FedError):
                second.acquire(wait=False)
        # It dies: its record stops moving, and a full lease duration later it is taken.
        second_clock.now += DURATION_S
        assert second.acquire(wait=False)
        lease = fed.host_cluster.must(
            "leases.coordination.k8s.io", "kubectl-fed-sync", fed.fed_namespace
        )
        assert lease["spec"]["holderIdentity"] == "second"
        # The old holder finds out at its next renewal, and its fence stops every write.
        assert not first.renew()
        with pytest.raises(LeaseLost, match="another sync took it over"):
            first.check()
        fed.host.kube.fence = first.check
        with pytest.raises(LeaseLost):
            fed.host.kube.create(POLICIES, policy("late", NS))
        assert fed.host_cluster.get("propagationpolicies.core.kubeadmiral.io", "late", NS) is None
    finally:
        fed.host.kube.fence = None
        second.release()
        first.release()
    assert (
        fed.host_cluster.get("leases.coordination.k8s.io", "kubectl-fed-sync", fed.fed_namespace)
        is None
    )


def test_a_fenced_pass_writes_nothing_once_the_lease_is_lost(
    fed: FakeFederation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY_S", 3600.0)
    clock = Clock()
    holder = SyncLease(fed.kube(), fed.fed_namespace, "me", clock=clock)
    assert holder.acquire(wait=False)
    divided(fed)
    fed.host.kube.fence = holder.check
    try:
        clock.now += lease_module.RENEW_DEADLINE_S  # no renewal got through in time
        fed.reset_counts()
        with pytest.raises(LeaseLost):
            run_pass(fed)
        assert fed.mutations() == {}
    finally:
        fed.host.kube.fence = None
        holder.release()


# --------------------------------------------------------------------------- the loop


def test_continuous_sync_follows_watch_events(fed: FakeFederation) -> None:
    divided(fed)
    stopper = Stopper()
    reports: list[tuple[bool, Any]] = []
    thread = threading.Thread(
        target=run_forever,
        args=(
            fed.host,
            fed.reconciler(),
            300.0,
            lambda r, full: reports.append((full, r)),
            stopper,
        ),
        daemon=True,
    )
    thread.start()
    try:
        wait_for(lambda: reports, "the first full pass")
        assert reports[0][0] is True and member_copy(fed, "member-2") is not None
        seen = len(reports)
        fed.kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 12}})
        wait_for(lambda: member_copy(fed, "member-2")["spec"]["replicas"] == 8, "a watch event")
        # A pass over just that template did it (the report follows the pass).
        wait_for(lambda: any(not full for full, _ in reports[seen:]), "a watch-driven pass")
        fed.kube().delete(f"{DEPLOYMENTS}/web")
        wait_for(lambda: member_copy(fed, "member-1") is None, "the deletion from a watch event")
    finally:
        stopper.event.set()
        fed.host_cluster.close()  # end the watch streams
        for member in fed.members.values():
            member.close()
        thread.join(5)
    assert not thread.is_alive()


def wait_for(condition: Any, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
