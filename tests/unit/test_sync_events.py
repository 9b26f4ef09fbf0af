"""Events a sync pass records (core/v1, on the native template and its FederatedObject),
on a fake federation: what is recorded, aggregated with a count, and never on a pass that
changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_fed.core import events as ev
from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.marks import CONFLICT_RESOLUTION_ANNOTATION, ORPHAN_ANNOTATION
from kubectl_fed.kube.host import fed_path
from kubectl_fed.sync.lease import LeaseLost
from tests.fake import FakeFederation, run_pass
from tests.fake.objects import deployment, namespace, policy

NS = "shop"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
POLICIES = fed_path(kubeadmiral.PROPAGATION_POLICIES, namespace=NS)
CLUSTER_POLICIES = fed_path(kubeadmiral.CLUSTER_PROPAGATION_POLICIES)
EVENTS = f"/api/v1/namespaces/{NS}/events"


@pytest.fixture(scope="module")
def base() -> Iterator[FakeFederation]:
    with FakeFederation(["member-1", "member-2"]) as fed:
        fed.kube().create("/api/v1/namespaces", namespace(NS))
        yield fed


@pytest.fixture
def fed(base: FakeFederation) -> Iterator[FakeFederation]:
    clone = base.clone()
    yield clone
    clone.close()


def events(fed: FakeFederation, kind: str = "Deployment", ns: str | None = NS) -> list[Any]:
    """The host's Events about objects of `kind`, oldest first."""
    found = [
        e for e in fed.host_cluster.objects("events", ns) if e["involvedObject"]["kind"] == kind
    ]
    return sorted(found, key=lambda e: (e["firstTimestamp"], e["reason"], e["message"]))


def _about(event: Any, name: str) -> bool:
    return bool(event["involvedObject"]["name"].startswith(name))


def reasons(fed: FakeFederation, kind: str = "Deployment") -> list[tuple[str, str, str, int]]:
    return [(e["type"], e["reason"], e["message"], e["count"]) for e in events(fed, kind)]


def divided(
    fed: FakeFederation, replicas: int = 9, annotations: dict[str, str] | None = None
) -> None:
    host = fed.kube()
    host.create(POLICIES, policy("spread", NS, "Divide", {"member-1": 1, "member-2": 2}))
    body = deployment("web", NS, replicas, policy_name="spread")
    if annotations:
        body["metadata"]["annotations"] = annotations
    host.create(DEPLOYMENTS, body)


def foreign(fed: FakeFederation, cluster: str = "member-1") -> None:
    """Someone else's Deployment `web` in a member."""
    kube = fed.members[cluster].kube()
    if fed.members[cluster].get("namespaces", NS) is None:
        kube.create("/api/v1/namespaces", namespace(NS))
    kube.create(DEPLOYMENTS, deployment("web", NS))


def steady(fed: FakeFederation) -> None:
    """A pass over an unchanged federation writes nothing, Events included."""
    fed.reset_counts()
    report = run_pass(fed)
    assert report.writes == 0, fed.mutations()
    assert fed.mutations() == {}


def test_placement_is_recorded_on_the_template_and_the_federated_object(
    fed: FakeFederation,
) -> None:
    divided(fed)
    assert run_pass(fed).ok
    template = fed.host_cluster.must("deployments.apps", "web", NS)
    fo = fed.host_cluster.must("federatedobjects.core.kubeadmiral.io", "web-deployments.apps", NS)
    [on_template] = events(fed)
    assert on_template["involvedObject"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": NS,
        "uid": template["metadata"]["uid"],
    }
    assert on_template["related"]["uid"] == fo["metadata"]["uid"]
    assert (on_template["type"], on_template["reason"], on_template["count"]) == (
        "Normal",
        "PlacementChanged",
        1,
    )
    assert on_template["message"] == "placed in member-1 (3 replicas), member-2 (6 replicas)"
    assert on_template["source"] == {"component": "kubectl-fed"}
    assert on_template["reportingComponent"] == "kubectl-fed.io/sync"
    assert on_template["reportingInstance"].startswith("kubectl-fed-")
    assert on_template["firstTimestamp"] == on_template["lastTimestamp"]
    [on_fo] = events(fed, "FederatedObject")
    assert on_fo["involvedObject"]["uid"] == fo["metadata"]["uid"]
    assert on_fo["involvedObject"]["apiVersion"] == kubeadmiral.API_VERSION
    assert on_fo["related"]["uid"] == template["metadata"]["uid"]
    assert on_fo["message"] == on_template["message"]
    steady(fed)


def test_replicas_divided_anew_and_clusters_removed(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 12}})
    run_pass(fed)
    assert reasons(fed)[-1] == (
        "Normal",
        "ReplicasRedivided",
        "replicas divided: member-1 (4 replicas), member-2 (8 replicas) (was 3, 6)",
        1,
    )
    steady(fed)
    fed.kube().replace(
        f"{POLICIES}/spread",
        {
            **fed.host_cluster.must("propagationpolicies.core.kubeadmiral.io", "spread", NS),
            "spec": policy("spread", NS, "Divide", {"member-1": 1})["spec"],
        },
    )
    run_pass(fed)
    found = reasons(fed)
    assert (
        "Normal",
        "PlacementChanged",
        "placed in member-1 (12 replicas) (removed member-2)",
        1,
    ) in found
    assert (
        "Normal",
        "DeletedFromCluster",
        "member-2: copy deleted (no longer placed there)",
        1,
    ) in found
    steady(fed)


def test_a_persisting_failure_is_recorded_once_and_again_when_it_comes_back(
    fed: FakeFederation,
) -> None:
    # Someone else's Deployment of that name in member-1: AlreadyExists there.
    foreign(fed)
    divided(fed)
    assert not run_pass(fed).ok
    warnings = [e for e in events(fed) if e["type"] == "Warning"]
    assert [(e["reason"], e["count"]) for e in warnings] == [("AlreadyExists", 1)]
    assert warnings[0]["message"].startswith("member-1: an object not managed by the federation")
    assert [e["reason"] for e in events(fed, "FederatedObject") if e["type"] == "Warning"] == [
        "AlreadyExists"
    ]
    # Unchanged: recorded in the FederatedObject's status, no news, no write.
    steady(fed)
    steady(fed)
    # It goes away (the other Deployment is deleted, the copy made), then comes back.
    fed.members["member-1"].kube().delete(f"{DEPLOYMENTS}/web")
    assert run_pass(fed).ok
    steady(fed)
    fed.members["member-1"].kube().delete(f"{DEPLOYMENTS}/web")
    foreign(fed)
    assert not run_pass(fed).ok
    warnings = [e for e in events(fed) if e["type"] == "Warning"]
    assert [(e["reason"], e["count"]) for e in warnings] == [("AlreadyExists", 2)]
    assert warnings[0]["lastTimestamp"] >= warnings[0]["firstTimestamp"]
    steady(fed)


def test_repeated_drift_correction_bumps_one_event_in_process_and_across(
    fed: FakeFederation,
) -> None:
    divided(fed)
    reconciler = fed.reconciler()
    reconciler.run_pass()
    member = fed.members["member-2"].kube()
    for expected in (1, 2):
        member.merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 1}})
        fed.reset_counts()
        reconciler.run_pass()
        corrected = [e for e in events(fed) if e["reason"] == "DriftCorrected"]
        assert [(e["message"], e["count"]) for e in corrected] == [
            ("member-2: drift corrected: /spec/replicas", expected)
        ]
        # The second time, the Event is bumped without being read or created again.
        posts = [r for r in fed.host_cluster.mutations() if r.path.startswith(EVENTS)]
        assert [r.method for r in posts] == (["POST", "POST"] if expected == 1 else ["PATCH"] * 2)
    # A new sync process (its cache empty) finds the same Event and bumps it.
    member.merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 1}})
    run_pass(fed)
    corrected = [e for e in events(fed) if e["reason"] == "DriftCorrected"]
    assert [e["count"] for e in corrected] == [3]
    steady(fed)


def test_drift_reported_is_a_warning_once(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.members["member-2"].kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 1}})
    run_pass(fed, drift="report")
    run_pass(fed, drift="report")
    drifted = [e for e in events(fed) if e["reason"] == "Drifted"]
    assert [(e["type"], e["message"], e["count"]) for e in drifted] == [
        ("Warning", "member-2: drifted: /spec/replicas", 1)
    ]


def test_a_policy_that_cannot_be_honoured_is_kept_on_error(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().create(POLICIES, policy("nowhere", NS, "Duplicate", ["mars"]))
    fed.kube().merge_patch(
        f"{DEPLOYMENTS}/web",
        {"metadata": {"labels": {"kubeadmiral.io/propagation-policy-name": "nowhere"}}},
    )
    assert not run_pass(fed).ok
    kept = [e for e in events(fed) if e["reason"] == "KeptOnError"]
    assert len(kept) == 1 and kept[0]["type"] == "Warning"
    assert "names clusters that are not members: mars" in kept[0]["message"]
    assert [e["reason"] for e in events(fed, "FederatedObject") if e["type"] == "Warning"] == [
        "KeptOnError"
    ]
    steady(fed)
    # A missing policy says so.
    fed.kube().merge_patch(
        f"{DEPLOYMENTS}/web",
        {"metadata": {"labels": {"kubeadmiral.io/propagation-policy-name": "gone"}}},
    )
    run_pass(fed)
    assert ("Warning", "PolicyNotFound", f"PropagationPolicy {NS}/gone not found", 1) in reasons(
        fed
    )
    steady(fed)


def test_adoption_and_leaving(fed: FakeFederation) -> None:
    foreign(fed)
    divided(fed, annotations={CONFLICT_RESOLUTION_ANNOTATION: "adopt", ORPHAN_ANNOTATION: "all"})
    assert run_pass(fed).ok
    assert ("Normal", "Adopted", "member-1: existing object adopted in place", 1) in reasons(fed)
    steady(fed)
    # The template leaves the federation (policy label removed): copies orphaned.
    fed.kube().merge_patch(
        f"{DEPLOYMENTS}/web",
        {"metadata": {"labels": {"kubeadmiral.io/propagation-policy-name": None}}},
    )
    run_pass(fed)
    orphaned = sorted(m for _, r, m, _ in reasons(fed) if r == "Orphaned")
    assert orphaned == [
        "member-1: copy left running without the federation's marks (orphaned)",
        "member-2: copy left running without the federation's marks (orphaned)",
    ]
    template = fed.host_cluster.must("deployments.apps", "web", NS)
    assert all(e["involvedObject"]["uid"] == template["metadata"]["uid"] for e in events(fed))
    steady(fed)


def test_deleting_the_template_records_the_deletions(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.kube().delete(f"{DEPLOYMENTS}/web")
    assert run_pass(fed).ok
    deleted = sorted(m for _, r, m, _ in reasons(fed) if r == "DeletedFromCluster")
    assert deleted == [
        "member-1: copy deleted (the object left the federation)",
        "member-2: copy deleted (the object left the federation)",
    ]
    assert (
        len([e for e in events(fed, "FederatedObject") if e["reason"] == "DeletedFromCluster"]) == 2
    )
    steady(fed)


def test_cluster_scoped_objects_have_their_events_in_default(fed: FakeFederation) -> None:
    fed.kube().create(
        CLUSTER_POLICIES, {**policy("all", "", "Duplicate"), "kind": "ClusterPropagationPolicy"}
    )
    body = namespace("team-a")
    body["metadata"]["labels"] = {"kubeadmiral.io/cluster-propagation-policy-name": "all"}
    fed.kube().create("/api/v1/namespaces", body)
    assert run_pass(fed).ok
    # (every other host namespace is auto-propagated, and adopted where it exists)
    found = [e for e in events(fed, "Namespace", "default") if _about(e, "team-a")]
    assert [(e["reason"], e["message"]) for e in found] == [
        ("PlacementChanged", "placed in member-1, member-2")
    ]
    assert "namespace" not in found[0]["involvedObject"]
    fos = [e for e in events(fed, "ClusterFederatedObject", None) if _about(e, "team-a-")]
    assert [e["metadata"]["namespace"] for e in fos] == ["default"]
    steady(fed)


def test_an_event_that_cannot_be_written_never_fails_the_pass(fed: FakeFederation) -> None:
    divided(fed)
    fed.host_cluster.fail_next("POST", EVENTS, 403, times=None)
    report = run_pass(fed)
    assert report.ok, report.objects
    assert fed.members["member-1"].get("deployments.apps", "web", NS) is not None
    assert events(fed) == []


def test_event_writes_are_fenced_by_the_lease(fed: FakeFederation) -> None:
    divided(fed)
    run_pass(fed)
    fed.members["member-2"].kube().merge_patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 1}})
    reconciler = fed.reconciler()
    calls: list[str] = []

    def fence() -> None:
        calls.append("write")
        raise LeaseLost("test")

    reconciler.events.kube.fence = fence
    try:
        with pytest.raises(LeaseLost):
            reconciler.events.emit(
                ev.reference(fed.host_cluster.must("deployments.apps", "web", NS)),
                ev.Occurrence("Normal", "Test", "fenced", "Test"),
            )
    finally:
        reconciler.events.kube.fence = None
    assert calls == ["write"] and events(fed)[-1]["reason"] != "Test"


# --------------------------------------------------------------------------- pure parts


def test_event_names_follow_the_aggregation_key() -> None:
    ref = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": NS,
        "uid": "u",
    }
    one = ev.Occurrence("Warning", "UpdateFailed", "member-1: refused", "Propagate")
    assert ev.event_name(ref, one) == ev.event_name(dict(ref), one)
    assert ev.event_name(ref, one).startswith("web.")
    other = ev.Occurrence("Warning", "UpdateFailed", "member-2: refused", "Propagate")
    assert ev.event_name(ref, one) != ev.event_name(ref, other)
    assert ev.event_name({**ref, "uid": "v"}, one) != ev.event_name(ref, one)
    body = ev.new_event(ref, one, "i" * 300, "2024-01-01T00:00:00Z")
    assert len(body["reportingInstance"]) == 128 and body["metadata"]["namespace"] == NS
    assert ev.bumped(4, "t") == {"count": 5, "lastTimestamp": "t"}


def test_unreachable_members_and_recorded_failures_are_no_news() -> None:
    before = {"member-1": ("UpdateFailed", "refused")}
    after = {
        "member-1": ev.ClusterOutcome("UpdateFailed", "refused"),
        "member-2": ev.ClusterOutcome("ClusterNotReady", "down"),
        "member-3": ev.ClusterOutcome("OK"),
    }
    assert ev.cluster_occurrences(before, after) == []
    changed = {"member-1": ev.ClusterOutcome("UpdateFailed", "refused again")}
    assert [o.message for o in ev.cluster_occurrences(before, changed)] == [
        "member-1: refused again"
    ]
    assert ev.error_occurrences("a; b", ["a", "b"], []) == []
    assert [o.message for o in ev.error_occurrences("a", ["a", "c"], ["c"])] == ["c"]
    assert ev.placement_occurrences(["m1"], {}, {}, divided=False) == []


def test_with_nothing_recorded_a_failure_is_bumped_at_most_every_five_minutes(
    fed: FakeFederation,
) -> None:
    # The FederatedObject cannot be created: no status records the failure.
    fed.host_cluster.fail_next(
        "POST", fed_path(kubeadmiral.FEDERATED_OBJECTS, namespace=NS), 422, times=None
    )
    divided(fed)
    reconciler = fed.reconciler()
    clock = [1000.0]
    reconciler.events.clock = lambda: clock[0]
    for _ in range(3):
        assert not reconciler.run_pass().ok
        clock[0] += 60
    failed = [e for e in events(fed) if e["type"] == "Warning"]
    assert [(e["reason"], e["count"]) for e in failed] == [("PropagationFailed", 1)]
    assert failed[0]["message"].startswith("cannot write the FederatedObject: ")
    clock[0] += 300
    reconciler.run_pass()
    assert [e["count"] for e in events(fed) if e["type"] == "Warning"] == [2]
