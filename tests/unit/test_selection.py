"""Cluster selection: filters, reasons, Divide/Duplicate, rescheduling triggers, v1, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_fed.core.objects import fnv1_32
from kubectl_fed.core.policy import V1_ANNOTATIONS, parse_policy
from kubectl_fed.core.scheduling import (
    ClusterInfo,
    ClusterSet,
    CurrentPlacement,
    Reason,
    SchedulingResult,
    WorkloadInfo,
)
from kubectl_fed.core.selection import select_clusters, select_clusters_v1
from kubectl_fed.planner import plan, plan_v1

DEPLOYMENTS = "apps/v1/deployments"
REPLICASETS = "apps/v1/replicasets"
EQUAL = {"*": {"weight": 1}}
DEPLOYMENT_PREFS = V1_ANNOTATIONS["Deployment"]


def cluster(name: str, **labels: str) -> ClusterInfo:
    return ClusterInfo(
        name, labels=labels, api_resources={DEPLOYMENTS, REPLICASETS, "v1/configmaps"}
    )


def deployment(replicas: int | None = 6, key: str = "ns/web", **annotations: str) -> WorkloadInfo:
    return WorkloadInfo("Deployment", DEPLOYMENTS, key, replicas, annotations)


def divide(**spec: Any) -> dict[str, Any]:
    return {"schedulingMode": "Divide", **spec}


def placed(result: SchedulingResult) -> CurrentPlacement:
    """What the sync loop stores after applying ``result``."""
    return CurrentPlacement(result.clusters, result.fingerprint)


def placed_replicas(result: SchedulingResult) -> int:
    return sum(n or 0 for n in result.clusters.values())


def codes(result: SchedulingResult) -> dict[str, str]:
    return {name: reason.code for name, reason in result.reasons.items()}


THREE = [cluster("a", env="prod"), cluster("b", env="prod"), cluster("c", env="dev")]


# ---------------------------------------------------------------- filters


def test_duplicate_is_the_default_and_copies_the_replicas() -> None:
    result = select_clusters({}, THREE, deployment(6))
    assert result.clusters == {"a": 6, "b": 6, "c": 6}
    assert result.rescheduled and not result.errors and not result.warnings
    assert set(codes(result).values()) == {Reason.SELECTED}


def test_kinds_without_replicas_are_copied_with_none() -> None:
    configmap = WorkloadInfo("ConfigMap", "v1/configmaps", "ns/cfg", None)
    assert select_clusters({}, THREE, configmap).clusters == {"a": None, "b": None, "c": None}


def test_not_ready_and_missing_api_resource_are_excluded() -> None:
    clusters = [
        ClusterInfo("down", ready=False),
        ClusterInfo("old", api_resources={"v1/configmaps"}),
        ClusterInfo("unknown", api_resources=None),
    ]
    result = select_clusters({}, clusters, deployment())
    assert result.clusters == {"unknown": 6}
    assert codes(result) == {
        "down": Reason.NOT_READY,
        "old": Reason.API_RESOURCE_MISSING,
        "unknown": Reason.SELECTED,
    }
    assert DEPLOYMENTS in result.reasons["old"].message


def test_placement_is_an_allow_list() -> None:
    result = select_clusters({"placement": [{"cluster": "b"}]}, THREE, deployment())
    assert result.clusters == {"b": 6}
    assert result.reasons["a"].code == Reason.NOT_IN_PLACEMENT


def test_cluster_selector_needs_every_label() -> None:
    clusters = [cluster("a", env="prod", zone="x"), cluster("b", env="prod")]
    result = select_clusters(
        {"clusterSelector": {"env": "prod", "zone": "x"}}, clusters, deployment()
    )
    assert result.clusters == {"a": 6}
    assert result.reasons["b"].code == Reason.SELECTOR_MISMATCH
    assert "zone" in result.reasons["b"].message


AFFINITY_CLUSTERS = [
    cluster("big", tier="gold", cpu="64"),
    cluster("small", tier="silver", cpu="8"),
    cluster("odd", tier="bronze", cpu="many"),
    cluster("bare"),
]


@pytest.mark.parametrize(
    ("expressions", "expected"),
    [
        ([{"key": "tier", "operator": "In", "values": ["gold", "silver"]}], {"big", "small"}),
        ([{"key": "tier", "operator": "NotIn", "values": ["gold"]}], {"small", "odd", "bare"}),
        ([{"key": "tier", "operator": "Exists"}], {"big", "small", "odd"}),
        ([{"key": "tier", "operator": "DoesNotExist"}], {"bare"}),
        ([{"key": "cpu", "operator": "Gt", "values": ["16"]}], {"big"}),
        ([{"key": "cpu", "operator": "Lt", "values": ["16"]}], {"small"}),
        (
            [
                {"key": "tier", "operator": "Exists"},
                {"key": "cpu", "operator": "Lt", "values": ["100"]},
            ],
            {"big", "small"},
        ),
    ],
)
def test_affinity_operators(expressions: list[dict[str, Any]], expected: set[str]) -> None:
    policy = {"clusterAffinity": [{"matchExpressions": expressions}]}
    result = select_clusters(policy, AFFINITY_CLUSTERS, deployment())
    assert set(result.clusters) == expected
    for name in {c.name for c in AFFINITY_CLUSTERS} - expected:
        assert result.reasons[name].code == Reason.AFFINITY_MISMATCH


def test_affinity_terms_are_ored_and_an_empty_term_matches_nothing() -> None:
    terms = [
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
        {"matchExpressions": []},
    ]
    result = select_clusters({"clusterAffinity": terms}, AFFINITY_CLUSTERS, deployment())
    assert set(result.clusters) == {"big", "bare"}
    only_empty = select_clusters({"clusterAffinity": [{}]}, AFFINITY_CLUSTERS, deployment())
    assert only_empty.clusters == {}
    assert "no cluster satisfies" in only_empty.errors[0]


def name_is(operator: str, name: str) -> dict[str, Any]:
    return {"key": "metadata.name", "operator": operator, "values": [name]}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ({"matchFields": [name_is("In", "small")]}, {"small"}),
        ({"matchFields": [name_is("NotIn", "small")]}, {"big", "odd", "bare"}),
        ({"matchFields": [name_is("In", "ghost")]}, set()),
        # ANDed with the expressions of the same term
        (
            {
                "matchExpressions": [{"key": "tier", "operator": "Exists"}],
                "matchFields": [name_is("NotIn", "big")],
            },
            {"small", "odd"},
        ),
        (
            {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}],
                "matchFields": [name_is("In", "small")],
            },
            set(),
        ),
    ],
)
def test_affinity_match_fields_on_the_cluster_name(
    term: dict[str, Any], expected: set[str]
) -> None:
    """KubeAdmiral's scheduler matches `metadata.name` (In/NotIn, one value) in policies too."""
    result = select_clusters({"clusterAffinity": [term]}, AFFINITY_CLUSTERS, deployment())
    assert set(result.clusters) == expected
    for name in {c.name for c in AFFINITY_CLUSTERS} - expected:
        assert result.reasons[name].code == Reason.AFFINITY_MISMATCH
    if expected:
        assert not result.errors


def test_affinity_terms_with_fields_are_ored() -> None:
    terms = [
        {"matchFields": [name_is("In", "bare")]},
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]},
    ]
    result = select_clusters({"clusterAffinity": terms}, AFFINITY_CLUSTERS, deployment())
    assert set(result.clusters) == {"big", "bare"}


@pytest.mark.parametrize(
    "expression",
    [
        {"key": "tier", "operator": "In", "values": ["gold", "not a label value"]},
        {"key": "tier", "operator": "NotIn", "values": ["-gold"]},
        {"key": "cpu", "operator": "Gt", "values": ["-1"]},  # a number, not a label value
        {"key": "bad key!", "operator": "DoesNotExist"},
        {"key": "a/b/c", "operator": "Exists"},
    ],
)
def test_an_invalid_label_key_or_value_in_affinity_never_matches_and_is_no_error(
    expression: dict[str, Any],
) -> None:
    """KubeAdmiral's label selector refuses it and its scheduler takes the cluster as not
    matching: every cluster is AffinityMismatch (so the object is placed nowhere, and
    kept where it was), and the policy itself has no error, only a warning."""
    policy = parse_policy({"clusterAffinity": [{"matchExpressions": [expression]}]})
    assert policy.errors == []
    assert "matches no cluster" in policy.warnings[0]
    result = select_clusters(policy, AFFINITY_CLUSTERS, deployment())
    assert result.clusters == {}
    assert set(codes(result).values()) == {Reason.AFFINITY_MISMATCH}
    assert "spec.clusterAffinity[0] matches no cluster" in result.reasons["big"].message
    assert all("spec.clusterAffinity" not in e for e in result.errors)


def test_an_invalid_term_rejects_only_clusters_an_earlier_term_did_not_select() -> None:
    """Terms are taken in order, as KubeAdmiral's scheduler does: an earlier matching term
    selects the cluster before the invalid one is reached; a later valid term never helps."""
    terms = [
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["bad value"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
    ]
    result = select_clusters({"clusterAffinity": terms}, AFFINITY_CLUSTERS, deployment())
    assert set(result.clusters) == {"big"}
    assert "spec.clusterAffinity[1]" in result.reasons["small"].message


# ---------------------------------------------------------------- taints


def tainted(name: str, *taints: tuple[str, str, str]) -> ClusterInfo:
    return ClusterInfo(
        name, taints=[{"key": k, "value": v, "effect": e} for k, v, e in taints], api_resources=None
    )


def test_untolerated_no_schedule_blocks_new_placement() -> None:
    clusters = [tainted("a"), tainted("b", ("gpu", "yes", "NoSchedule"))]
    result = select_clusters({}, clusters, deployment())
    assert result.clusters == {"a": 6}
    assert result.reasons["b"].code == Reason.TAINT_NOT_TOLERATED
    assert "gpu=yes:NoSchedule" in result.reasons["b"].message


@pytest.mark.parametrize(
    "toleration",
    [
        {"key": "gpu", "operator": "Equal", "value": "yes"},
        {"key": "gpu", "value": "yes", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Exists"},
        {"operator": "Exists"},
    ],
)
def test_tolerations_admit_tainted_clusters(toleration: dict[str, str]) -> None:
    clusters = [tainted("b", ("gpu", "yes", "NoSchedule"))]
    assert select_clusters({"tolerations": [toleration]}, clusters, deployment()).clusters == {
        "b": 6
    }


@pytest.mark.parametrize(
    "toleration",
    [
        {"key": "gpu", "operator": "Equal", "value": "no"},
        {"key": "gpu", "operator": "Exists", "effect": "NoExecute"},
        {"key": "other", "operator": "Exists"},
    ],
)
def test_tolerations_that_do_not_match(toleration: dict[str, str]) -> None:
    clusters = [tainted("b", ("gpu", "yes", "NoSchedule"))]
    assert select_clusters({"tolerations": [toleration]}, clusters, deployment()).clusters == {}


def test_prefer_no_schedule_does_not_filter() -> None:
    clusters = [tainted("b", ("soft", "", "PreferNoSchedule"))]
    assert select_clusters({}, clusters, deployment()).clusters == {"b": 6}


def test_no_schedule_keeps_a_cluster_that_holds_the_object_with_its_replicas_as_cap() -> None:
    clusters = [tainted("a"), tainted("b", ("maint", "", "NoSchedule"))]
    current = CurrentPlacement({"a": 2, "b": 3})
    result = select_clusters(divide(), clusters, deployment(11), current)
    # b may not grow past the 3 it runs, so the desired plan is a8 b3; a scales up to it.
    assert result.clusters == {"a": 8, "b": 3}
    assert result.reasons["b"].code == Reason.SELECTED
    assert "maint:NoSchedule" in result.reasons["b"].message
    assert result.division is not None
    assert result.division.preferences["b"]["maxReplicas"] == 3


def test_no_schedule_cap_also_lowers_min_replicas() -> None:
    clusters = [tainted("a"), tainted("b", ("maint", "", "NoSchedule"))]
    policy = divide(
        placement=[{"cluster": "a"}, {"cluster": "b", "preferences": {"minReplicas": 5}}]
    )
    result = select_clusters(policy, clusters, deployment(10), CurrentPlacement({"b": 2}))
    assert not result.errors
    assert result.clusters == {"a": 8, "b": 2}


def test_no_execute_evicts_even_a_cluster_that_holds_the_object() -> None:
    clusters = [tainted("a"), tainted("b", ("drain", "", "NoExecute"))]
    result = select_clusters({}, clusters, deployment(), CurrentPlacement({"a": None, "b": None}))
    assert result.clusters == {"a": 6}
    assert result.reasons["b"].code == Reason.TAINT_EVICTED


# ---------------------------------------------------------------- maxClusters


def test_max_clusters_prefers_holders_then_weight_then_hash() -> None:
    clusters = [cluster(n) for n in "abcde"]
    policy = divide(
        maxClusters=3,
        placement=[
            {"cluster": "a", "preferences": {"weight": 1}},
            {"cluster": "b", "preferences": {"weight": 1}},
            {"cluster": "c", "preferences": {"weight": 1}},
            {"cluster": "d", "preferences": {"weight": 5}},
            {"cluster": "e", "preferences": {"weight": 1}},
        ],
    )
    current = CurrentPlacement({"e": 1})
    result = select_clusters(policy, clusters, deployment(7), current)
    by_hash = sorted("abc", key=lambda n: fnv1_32(n + "ns/web"))
    assert set(result.clusters) == {"e", "d", by_hash[0]}
    for name in by_hash[1:]:
        assert result.reasons[name].code == Reason.MAX_CLUSTERS_EXCEEDED


def test_max_clusters_without_weights_uses_hash_order_and_ignores_list_order() -> None:
    clusters = [cluster(f"m{i}") for i in range(6)]
    expected = set(sorted((c.name for c in clusters), key=lambda n: fnv1_32(n + "ns/web"))[:2])
    for order in (clusters, clusters[::-1]):
        assert set(select_clusters({"maxClusters": 2}, order, deployment()).clusters) == expected


def test_max_clusters_zero_places_nowhere() -> None:
    result = select_clusters({"maxClusters": 0}, THREE, deployment())
    assert result.clusters == {}
    assert set(codes(result).values()) == {Reason.MAX_CLUSTERS_EXCEEDED}


# ---------------------------------------------------------------- Divide


def test_divide_without_weights_spreads_equally_like_the_planner() -> None:
    result = select_clusters(divide(), THREE, deployment(10))
    expected, _ = plan(10, ["a", "b", "c"], EQUAL, key="ns/web")
    assert result.clusters == expected
    assert placed_replicas(result) == 10


def test_divide_uses_placement_preferences() -> None:
    policy = divide(
        placement=[
            {"cluster": "a", "preferences": {"weight": 3, "minReplicas": 1}},
            {"cluster": "b", "preferences": {"weight": 1, "maxReplicas": 2}},
            {"cluster": "c"},  # no weight while others have one: weight 0
        ]
    )
    result = select_clusters(policy, THREE, deployment(12))
    assert result.clusters == {"a": 10, "b": 2}
    assert result.reasons["c"].code == Reason.NO_REPLICAS
    assert result.division is not None
    assert result.division.preferences["c"] == {"minReplicas": 0, "maxReplicas": None, "weight": 0}
    assert "plan: 12 replicas over a, b, c" in result.division.describe()


def test_divide_warns_about_replicas_nobody_can_take() -> None:
    policy = divide(placement=[{"cluster": "a", "preferences": {"maxReplicas": 2}}])
    result = select_clusters(policy, THREE, deployment(5))
    assert result.clusters == {"a": 2}
    assert any("3 of 5 replicas could not be placed" in w for w in result.warnings)


def test_divide_of_a_kind_without_replicas_copies_and_warns() -> None:
    configmap = WorkloadInfo("ConfigMap", "v1/configmaps", "ns/cfg", None)
    result = select_clusters(divide(), THREE, configmap)
    assert result.clusters == {"a": None, "b": None, "c": None}
    assert "copied, not divided" in result.warnings[0]


def test_avoid_disruption_keeps_running_replicas_on_scale_up() -> None:
    result = select_clusters(divide(), THREE, deployment(9), CurrentPlacement({"a": 6}))
    expected, _ = plan(9, ["a", "b", "c"], EQUAL, key="ns/web", current={"a": 6})
    assert result.clusters == {name: n for name, n in expected.items() if n}
    assert result.clusters["a"] == 6


@pytest.mark.parametrize(
    "spec",
    [
        divide(reschedulePolicy={"replicaRescheduling": {"avoidDisruption": False}}),
        divide(replicaRescheduling={"avoidDisruption": False}),
        divide(
            reschedulePolicy={"replicaRescheduling": {"avoidDisruption": False}},
            replicaRescheduling={"avoidDisruption": True},
        ),
    ],
)
def test_avoid_disruption_can_be_switched_off(spec: dict[str, Any]) -> None:
    current = CurrentPlacement({"a": 9})
    result = select_clusters(spec, THREE, deployment(9), current)
    assert result.clusters == plan(9, ["a", "b", "c"], EQUAL, key="ns/web")[0]
    assert result.division is not None
    assert result.division.options == {"avoidDisruption": False}


def test_a_cluster_holding_replicas_but_planned_zero_loses_the_object() -> None:
    policy = divide(placement=[{"cluster": "a", "preferences": {"weight": 1}}, {"cluster": "b"}])
    current = CurrentPlacement({"a": 3, "b": 3})
    result = select_clusters(policy, THREE, deployment(3), current)
    assert result.clusters == {"a": 3}
    assert result.reasons["b"].code == Reason.NO_REPLICAS


def test_clusters_that_vanished_are_reported() -> None:
    result = select_clusters({}, THREE, deployment(), CurrentPlacement({"gone": None}))
    assert "gone" not in result.clusters
    assert result.reasons["gone"].code == Reason.CLUSTER_NOT_FOUND


# ---------------------------------------------------------------- v1 annotation


def v1_annotation(rebalance: bool, **clusters: dict[str, int]) -> str:
    return json.dumps({"rebalance": rebalance, "clusters": clusters})


def test_v1_annotation_divides_over_the_policy_clusters_with_plan_v1() -> None:
    prefs = {"a": {"weight": 2}, "*": {"weight": 1}}
    annotation = v1_annotation(True, **prefs)
    result = select_clusters(
        {"clusterSelector": {"env": "prod"}}, THREE, deployment(9, **{DEPLOYMENT_PREFS: annotation})
    )
    expected, _ = plan_v1(9, ["a", "b"], prefs, key="ns/web", rebalance=True)
    assert result.clusters == expected
    assert result.division is not None and result.division.planner == "plan_v1"


def test_v1_rebalance_false_keeps_running_replicas() -> None:
    annotation = v1_annotation(False, **{"*": {"weight": 1}})
    current = CurrentPlacement({"a": 1, "b": 9})
    result = select_clusters({}, THREE, deployment(10, **{DEPLOYMENT_PREFS: annotation}), current)
    assert result.clusters == {"a": 1, "b": 9}
    assert result.reasons["c"].code == Reason.NO_REPLICAS


def test_v1_scales_existing_copies_to_zero_instead_of_removing_them() -> None:
    annotation = v1_annotation(True, a={"weight": 1})
    current = CurrentPlacement({"a": 3, "b": 3})
    result = select_clusters({}, THREE, deployment(6, **{DEPLOYMENT_PREFS: annotation}), current)
    assert result.clusters == {"a": 6, "b": 0}
    assert result.reasons["b"].code == Reason.SCALED_TO_ZERO


def test_annotation_of_another_kind_is_ignored_with_a_warning() -> None:
    workload = deployment(6, **{V1_ANNOTATIONS["ReplicaSet"]: "{}"})
    result = select_clusters({}, THREE, workload)
    assert result.clusters == {"a": 6, "b": 6, "c": 6}
    assert "applies to ReplicaSet only" in result.warnings[0]


def test_select_clusters_v1_spreads_equally_over_ready_clusters() -> None:
    clusters = [*THREE, ClusterInfo("down", ready=False)]
    result = select_clusters_v1(clusters, deployment(10))
    assert result.clusters == plan_v1(10, ["a", "b", "c"], EQUAL, key="ns/web")[0]
    assert result.reasons["down"].code == Reason.NOT_READY
    assert result.rescheduled


def test_select_clusters_v1_uses_the_annotation() -> None:
    rs = WorkloadInfo(
        "ReplicaSet",
        REPLICASETS,
        "ns/rs",
        5,
        {V1_ANNOTATIONS["ReplicaSet"]: v1_annotation(False, b={"minReplicas": 5, "weight": 1})},
    )
    assert select_clusters_v1(THREE, rs).clusters == {"b": 5}


def test_select_clusters_v1_copies_kinds_without_replicas_silently() -> None:
    configmap = WorkloadInfo("ConfigMap", "v1/configmaps", "ns/cfg", None)
    result = select_clusters_v1(THREE, configmap)
    assert result.clusters == {"a": None, "b": None, "c": None}
    assert not result.warnings


def test_select_clusters_v1_honours_taints() -> None:
    clusters = [tainted("a"), tainted("b", ("drain", "", "NoExecute"))]
    assert select_clusters_v1(clusters, deployment(4)).clusters == {"a": 4}


# ---------------------------------------------------------------- rescheduling


def first(spec: dict[str, Any], clusters: list[ClusterInfo], replicas: int = 6) -> SchedulingResult:
    result = select_clusters(spec, clusters, deployment(replicas))
    assert result.rescheduled
    return result


def test_unchanged_inputs_keep_the_placement() -> None:
    before = first(divide(), THREE)
    again = select_clusters(divide(), THREE, deployment(6), placed(before))
    assert not again.rescheduled and again.deferred_reason is None
    assert again.clusters == before.clusters and again.fingerprint == before.fingerprint
    assert {r.code for r in again.reasons.values() if r.chosen} == {Reason.KEPT_UNCHANGED}


def test_fingerprint_does_not_depend_on_cluster_order() -> None:
    assert first({}, THREE).fingerprint == first({}, THREE[::-1]).fingerprint


def test_readiness_is_not_a_trigger() -> None:
    before = first({}, THREE)
    a = THREE[0]
    down = [ClusterInfo(a.name, a.labels, a.taints, False, a.api_resources), *THREE[1:]]
    again = select_clusters({}, down, deployment(), placed(before))
    assert not again.rescheduled and again.clusters == before.clusters


def test_policy_change_reschedules_by_default() -> None:
    before = first({}, THREE)
    after = select_clusters(
        {"clusterSelector": {"env": "prod"}}, THREE, deployment(), placed(before)
    )
    assert after.rescheduled and after.clusters == {"a": 6, "b": 6}


def test_policy_change_is_deferred_when_switched_off() -> None:
    off = {"reschedulePolicy": {"rescheduleWhen": {"policyContentChanged": False}}}
    before = first(off, THREE)
    changed = {**off, "clusterSelector": {"env": "prod"}}
    after = select_clusters(changed, THREE, deployment(), placed(before))
    assert not after.rescheduled
    assert after.clusters == before.clusters
    assert after.deferred_reason is not None and "policyContentChanged" in after.deferred_reason
    assert after.fingerprint == before.fingerprint  # still pending for the next trigger
    assert {r.code for r in after.reasons.values()} == {Reason.KEPT_DEFERRED}


def test_follower_scheduling_flag_is_not_a_policy_content_change() -> None:
    before = first({}, THREE)
    after = select_clusters(
        {"disableFollowerScheduling": True}, THREE, deployment(), placed(before)
    )
    assert not after.rescheduled and after.deferred_reason is None


def relabel(clusters: list[ClusterInfo], name: str, **labels: str) -> list[ClusterInfo]:
    return [
        ClusterInfo(c.name, labels, c.taints, c.ready, c.api_resources) if c.name == name else c
        for c in clusters
    ]


def test_label_change_is_deferred_by_default_and_applied_when_switched_on() -> None:
    spec = {"clusterSelector": {"env": "prod"}}
    before = first(spec, THREE)
    moved = relabel(THREE, "c", env="prod")
    deferred = select_clusters(spec, moved, deployment(), placed(before))
    assert not deferred.rescheduled and deferred.clusters == {"a": 6, "b": 6}
    assert (
        deferred.deferred_reason is not None and "clusterLabelsChanged" in deferred.deferred_reason
    )

    on = {**spec, "reschedulePolicy": {"rescheduleWhen": {"clusterLabelsChanged": True}}}
    before_on = first(on, THREE)
    applied = select_clusters(on, moved, deployment(), placed(before_on))
    assert applied.rescheduled and applied.clusters == {"a": 6, "b": 6, "c": 6}


def test_deferred_change_is_applied_when_another_trigger_fires() -> None:
    spec = {"clusterSelector": {"env": "prod"}}
    before = first(spec, THREE)
    moved = relabel(THREE, "c", env="prod")
    deferred = select_clusters(spec, moved, deployment(), placed(before))
    scaled = select_clusters(spec, moved, deployment(7), placed(deferred))
    assert scaled.rescheduled and scaled.clusters == {"a": 7, "b": 7, "c": 7}


def test_joined_cluster_waits_unless_cluster_joined_is_on() -> None:
    before = first({}, THREE[:2])
    joined = select_clusters({}, THREE, deployment(), placed(before))
    assert not joined.rescheduled and "clusterJoined" in (joined.deferred_reason or "")
    assert joined.reasons["c"].code == Reason.NOT_PLACED

    on = {"reschedulePolicy": {"rescheduleWhen": {"clusterJoined": True}}}
    before_on = first(on, THREE[:2])
    assert select_clusters(on, THREE, deployment(), placed(before_on)).clusters == {
        "a": 6,
        "b": 6,
        "c": 6,
    }


def test_api_resource_change_is_deferred_by_default() -> None:
    before = first({}, THREE)
    lost = [ClusterInfo("a", THREE[0].labels, api_resources={"v1/configmaps"}), *THREE[1:]]
    deferred = select_clusters({}, lost, deployment(), placed(before))
    assert not deferred.rescheduled and "clusterAPIResourcesChanged" in (
        deferred.deferred_reason or ""
    )
    on = {"reschedulePolicy": {"rescheduleWhen": {"clusterAPIResourcesChanged": True}}}
    assert select_clusters(on, lost, deployment(), placed(first(on, THREE))).clusters == {
        "b": 6,
        "c": 6,
    }


def test_taint_change_always_reschedules() -> None:
    before = first({}, THREE)
    drained = [
        ClusterInfo("a", THREE[0].labels, [{"key": "drain", "effect": "NoExecute"}]),
        *THREE[1:],
    ]
    after = select_clusters({}, drained, deployment(), placed(before))
    assert after.rescheduled and set(after.clusters) == {"b", "c"}


def test_removed_cluster_always_reschedules() -> None:
    before = first({}, THREE)
    after = select_clusters({}, THREE[1:], deployment(), placed(before))
    assert after.rescheduled and after.clusters == {"b": 6, "c": 6}
    assert after.reasons["a"].code == Reason.CLUSTER_NOT_FOUND


def test_replica_change_always_reschedules() -> None:
    off = {
        "schedulingMode": "Divide",
        "reschedulePolicy": {"rescheduleWhen": {"policyContentChanged": False}},
    }
    before = first(off, THREE, replicas=6)
    after = select_clusters(off, THREE, deployment(9), placed(before))
    assert after.rescheduled and placed_replicas(after) == 9


@pytest.mark.parametrize(
    "sticky", [{"stickyCluster": True}, {"reschedulePolicy": {"disableRescheduling": True}}]
)
def test_sticky_keeps_the_placement_as_is(sticky: dict[str, Any]) -> None:
    spec = divide(**sticky)
    before = first(spec, THREE)
    changed = {**spec, "clusterSelector": {"env": "dev"}}
    after = select_clusters(changed, THREE, deployment(9), placed(before))
    assert not after.rescheduled and after.clusters == before.clusters
    assert {r.code for r in after.reasons.values() if r.chosen} == {Reason.KEPT_STICKY}
    assert any("replicas changed from 6 to 9" in w for w in after.warnings)


def test_sticky_without_a_placement_schedules() -> None:
    assert first({"stickyCluster": True}, THREE).clusters == {"a": 6, "b": 6, "c": 6}


def test_unreadable_fingerprint_reschedules_with_a_warning() -> None:
    result = select_clusters({}, THREE, deployment(), CurrentPlacement({"a": 6}, {"junk": 1}))
    assert result.rescheduled
    assert "unreadable" in result.warnings[0]


# ---------------------------------------------------------------- bad input

BAD_POLICIES: list[tuple[Any, str]] = [
    (None, "no propagation policy"),
    ([], "spec: expected a mapping"),
    ({"schedulingMode": "Spread"}, "unknown mode 'Spread'"),
    (divide(placement=[{"cluster": "a", "preferences": {"weight": -1}}]), "weight"),
    (divide(placement=[{"cluster": "a", "preferences": {"weight": "3"}}]), "weight"),
    (divide(placement=[{"cluster": "a", "preferences": {"minReplicas": -1}}]), "minReplicas"),
    (
        divide(placement=[{"cluster": "a", "preferences": {"minReplicas": 4, "maxReplicas": 2}}]),
        "minReplicas (4) > maxReplicas (2)",
    ),
    ({"placement": [{"preferences": {}}]}, "spec.placement[0]"),
    ({"placement": "a"}, "spec.placement"),
    ({"maxClusters": -1}, "spec.maxClusters"),
    ({"clusterSelector": {"env": 1}}, "spec.clusterSelector"),
    ({"clusterAffinity": [{"matchExpressions": [{"key": "x", "operator": "Near"}]}]}, "Near"),
    (
        {
            "clusterAffinity": [
                {"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["a"]}]}
            ]
        },
        "Gt needs exactly one integer value",
    ),
    (
        {"clusterAffinity": [{"matchExpressions": [{"key": "x", "operator": "In"}]}]},
        "In needs values",
    ),
    (
        {"clusterAffinity": [{"matchFields": [{"key": "metadata.labels", "operator": "In"}]}]},
        "In needs values",
    ),
    (
        {"clusterAffinity": [{"matchFields": [name_is("In", "a") | {"key": "spec.x"}]}]},
        "only metadata.name can be matched",
    ),
    (
        {"clusterAffinity": [{"matchFields": [{"key": "metadata.name", "operator": "Exists"}]}]},
        "takes In or NotIn with exactly one value",
    ),
    (
        {
            "clusterAffinity": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]}
            ]
        },
        "takes In or NotIn with exactly one value",
    ),
    ({"clusterAffinity": [{"matchFields": "a"}]}, "matchFields: expected a list"),
    ({"tolerations": [{"key": "x", "operator": "Maybe"}]}, "spec.tolerations[0].operator"),
    ({"stickyCluster": "yes"}, "spec.stickyCluster"),
    ({"reschedulePolicy": {"rescheduleWhen": {"clusterJoined": 1}}}, "clusterJoined"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_POLICIES)
def test_bad_policies_leave_the_placement_unchanged_with_an_error(spec: Any, message: str) -> None:
    current = CurrentPlacement(
        {"a": 2}, {"policy": "x", "labels": {}, "taints": {}, "apiResources": {}}
    )
    result = select_clusters(spec, THREE, deployment(), current)
    assert not result.rescheduled
    assert result.clusters == {"a": 2}
    assert any(message in e for e in result.errors), result.errors
    assert result.fingerprint == dict(current.fingerprint or {})
    assert codes(result) == {
        "a": Reason.KEPT_ON_ERROR,
        "b": Reason.NOT_PLACED,
        "c": Reason.NOT_PLACED,
    }


def test_negative_replicas_is_an_error() -> None:
    result = select_clusters(divide(), THREE, deployment(-3))
    assert result.clusters == {} and "replicas" in result.errors[0]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"clusters": {"a": {"weight": -2}}}'])
def test_malformed_v1_annotation_is_an_error(raw: str) -> None:
    workload = deployment(6, **{DEPLOYMENT_PREFS: raw})
    for result in (select_clusters({}, THREE, workload), select_clusters_v1(THREE, workload)):
        assert result.errors and DEPLOYMENT_PREFS in result.errors[0]
        assert result.clusters == {} and not result.rescheduled


def test_unknown_clusters_in_placement_are_an_error_and_keep_the_placement() -> None:
    before = select_clusters(divide(), THREE, deployment(4))
    policy = divide(placement=[{"cluster": "a"}, {"cluster": "ghost"}])
    result = select_clusters(policy, THREE, deployment(4), placed(before))
    assert result.clusters == before.clusters
    assert any("ghost" in e and "not members" in e for e in result.errors)


# ------------------------------------------- a decision that places nothing is refused


@pytest.mark.parametrize(
    "spec",
    [
        divide(placement=[{"cluster": "typo-1"}, {"cluster": "typo-2"}]),
        divide(maxClusters=0),
        divide(placement=[{"cluster": n, "preferences": {"weight": 0}} for n in "abc"]),
        {"clusterSelector": {"env": "nowhere"}},
        {"tolerations": [], "clusterAffinity": [{}]},
    ],
    ids=["unknown-names", "max-clusters-0", "zero-weights", "selector", "empty-affinity"],
)
def test_a_policy_that_places_nowhere_keeps_the_previous_placement(spec: dict[str, Any]) -> None:
    before = select_clusters(divide(), THREE, deployment(6))
    assert before.clusters
    result = select_clusters(spec, THREE, deployment(6), placed(before))
    assert result.clusters == before.clusters
    assert result.errors, "placing nowhere must be reported as an error"
    assert {r.code for n, r in result.reasons.items() if n in before.clusters} == {
        Reason.KEPT_ON_ERROR
    }


def test_no_ready_cluster_keeps_the_previous_placement() -> None:
    before = select_clusters({}, THREE, deployment(6))
    down = [replace(c, ready=False) for c in THREE]
    # The sync loop drops the fingerprint when readiness changes, forcing a new decision.
    current = CurrentPlacement(before.clusters)
    for result in (
        select_clusters({}, down, deployment(6), current),
        select_clusters_v1(down, deployment(6), current),
    ):
        assert result.clusters == before.clusters and result.errors


def test_a_refused_decision_is_refused_again_on_every_pass() -> None:
    # Its fingerprint is not recorded: the next pass must not find "nothing changed".
    before = select_clusters(divide(), THREE, deployment(6))
    first = select_clusters(divide(maxClusters=0), THREE, deployment(6), placed(before))
    second = select_clusters(divide(maxClusters=0), THREE, deployment(6), placed(first))
    assert second.clusters == before.clusters and second.errors


def test_a_fresh_object_placed_nowhere_is_an_error_not_a_silent_success() -> None:
    result = select_clusters(divide(maxClusters=0), THREE, deployment(6))
    assert result.clusters == {} and "no cluster satisfies" in result.errors[0]


def test_scaling_a_divided_object_to_zero_keeps_its_copies_at_zero() -> None:
    before = select_clusters(divide(), THREE, deployment(6))
    result = select_clusters(divide(), THREE, deployment(0), placed(before))
    assert result.clusters == {"a": 0, "b": 0, "c": 0} and not result.errors


def test_duplicate_placement_entries_warn_and_the_last_wins() -> None:
    policy = divide(
        placement=[
            {"cluster": "a", "preferences": {"maxReplicas": 1}},
            {"cluster": "a", "preferences": {"maxReplicas": 3}},
        ]
    )
    result = select_clusters(policy, THREE, deployment(6))
    assert result.clusters == {"a": 3}
    assert any("listed again" in w for w in result.warnings)


def test_scheduling_profile_is_accepted_with_a_warning() -> None:
    result = select_clusters({"schedulingProfile": "fancy"}, THREE, deployment())
    assert result.clusters == {"a": 6, "b": 6, "c": 6}
    assert "schedulingProfile" in result.warnings[0]


def test_internal_errors_do_not_escape() -> None:
    broken = [ClusterInfo("a", labels=None)]  # type: ignore[arg-type]
    result = select_clusters({}, broken, deployment(), CurrentPlacement({"a": 1}))
    assert result.clusters == {"a": 1}
    assert "internal error" in result.errors[0]


junk = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
policy_keys = st.sampled_from(
    [
        "schedulingMode",
        "clusterSelector",
        "clusterAffinity",
        "tolerations",
        "maxClusters",
        "placement",
        "reschedulePolicy",
        "replicaRescheduling",
        "stickyCluster",
    ]
)


@settings(max_examples=100)
@given(st.dictionaries(policy_keys, junk, max_size=4), st.integers(-2, 20))
def test_junk_policies_never_raise_and_explain_every_cluster(
    spec: dict[str, Any], replicas: int
) -> None:
    result = select_clusters(spec, THREE, deployment(replicas), CurrentPlacement({"b": 1}))
    assert set(result.reasons) == {"a", "b", "c"}
    assert set(result.clusters) <= set(result.reasons)
    assert all(result.reasons[name].chosen for name in result.clusters)
    if result.errors:
        assert result.clusters == {"b": 1}


@settings(max_examples=60)
@given(
    st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True),
    st.integers(0, 30),
    st.integers(0, 6),
    st.randoms(use_true_random=False),
)
def test_selection_does_not_depend_on_cluster_order(
    names: list[str], replicas: int, max_clusters: int, rng: Any
) -> None:
    clusters = [cluster(n, env="prod" if n in "abc" else "dev") for n in names]
    shuffled = clusters[:]
    rng.shuffle(shuffled)
    spec = divide(maxClusters=max_clusters)
    one = select_clusters(spec, clusters, deployment(replicas))
    other = select_clusters(spec, shuffled, deployment(replicas))
    assert one.clusters == other.clusters and one.fingerprint == other.fingerprint


# ------------------------------------------------ parsed policies, cluster sets


def test_a_parsed_policy_and_a_cluster_set_give_the_same_result_as_plain_input() -> None:
    spec = divide(clusterSelector={"env": "prod"}, maxClusters=1)
    policy = parse_policy(spec)
    fleet = ClusterSet(THREE)
    for replicas in (1, 5, 9):
        plain = select_clusters(spec, THREE, deployment(replicas))
        prepared = select_clusters(policy, fleet, deployment(replicas))
        assert prepared == plain


def test_parse_policy_reports_problems_without_raising() -> None:
    assert "no propagation policy" in parse_policy(None).errors[0]
    policy = parse_policy({"maxClusters": "two", "schedulingProfile": "p"})
    assert policy.errors == ["spec.maxClusters: expected a non-negative integer, got 'two'"]
    assert "schedulingProfile" in policy.warnings[0]


def test_cluster_set_warns_about_duplicate_names() -> None:
    fleet = ClusterSet([cluster("a"), cluster("a", env="x"), cluster("b")])
    assert list(fleet.by_name) == ["a", "b"]
    result = select_clusters({}, fleet, deployment())
    assert any("listed twice" in w for w in result.warnings)


def test_verdicts_are_judged_again_for_a_new_cluster_set() -> None:
    policy = parse_policy({})
    a = THREE[0]
    assert "a" in select_clusters(policy, ClusterSet(THREE), deployment()).clusters
    down = ClusterSet([ClusterInfo(a.name, a.labels, a.taints, False, a.api_resources), *THREE[1:]])
    result = select_clusters(policy, down, deployment())
    assert "a" not in result.clusters and result.reasons["a"].code == Reason.NOT_READY


def test_verdicts_depend_on_the_kind() -> None:
    policy = parse_policy({})
    fleet = ClusterSet([cluster("a"), ClusterInfo("b", api_resources={"v1/configmaps"})])
    configmap = WorkloadInfo("ConfigMap", "v1/configmaps", "ns/cfg", None)
    assert set(select_clusters(policy, fleet, deployment()).clusters) == {"a"}
    assert set(select_clusters(policy, fleet, configmap).clusters) == {"a", "b"}
