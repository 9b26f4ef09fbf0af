"""Replica division: hand-worked phases, upstream conformance vectors, properties.

With an empty key the tie-break hash of a one-letter cluster name is
``fnv1_32("A") = 0x050c5d5e``, ``"B" -> ...5d``, ``"C" -> ...5c``, ``"D" -> ...5b``,
``"E" -> ...5a``: among equal weights the plan order is E, D, C, B, A.

The conformance tables restate the expected numbers of the upstream test suites
(KubeFed pkg/controller/util/planner/planner_test.go, KubeAdmiral
pkg/controllers/scheduler/planner/planner_test.go) for the same inputs.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_fed.core.objects import fnv1_32
from kubectl_fed.core.replicas import PreparedPreferences, tie_break_hashes
from kubectl_fed.planner import plan, plan_v1

EQUAL = {"*": {"weight": 1}}


# ---------------------------------------------------------------- the hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0x811C9DC5), ("a", 0x050C5D7E), ("foobar", 0x31F0B262), ("A", 0x050C5D5E)],
)
def test_fnv1_32_matches_reference_vectors(text: str, expected: int) -> None:
    assert fnv1_32(text) == expected


def test_fnv1_is_not_fnv1a() -> None:
    assert fnv1_32("a") != 0xE40C292C  # the FNV-1a value


@settings(max_examples=60)
@given(st.lists(st.text(min_size=1, max_size=12), max_size=20), st.text(max_size=30))
def test_tie_break_hashes_equal_hashing_the_concatenation(clusters: list[str], key: str) -> None:
    assert tie_break_hashes(clusters, key) == [fnv1_32(c + key) for c in clusters]


# ------------------------------------------------------- hand-worked phases


def test_minimums_go_in_hash_order_until_replicas_run_out() -> None:
    # Order C, B, A: C and B take their 20, A gets the 10 left.
    prefs = {"*": {"minReplicas": 20, "weight": 0}}
    assert plan_v1(50, ["A", "B", "C"], prefs) == ({"A": 10, "B": 20, "C": 20}, {})
    assert plan(50, ["A", "B", "C"], prefs) == ({"A": 10, "B": 20, "C": 20}, {})


def test_weighted_round_rounds_up_in_order() -> None:
    # One round, wsum 3: C ceil(50/3)=17, B 17, A min(17, 16 left)=16.
    assert plan_v1(50, ["A", "B", "C"], EQUAL) == ({"A": 16, "B": 17, "C": 17}, {})
    assert plan(50, ["A", "B", "C"], EQUAL) == ({"A": 16, "B": 17, "C": 17}, {})


def test_single_replica_goes_to_the_first_in_hash_order() -> None:
    assert plan(1, ["A", "B", "C", "D"], EQUAL)[0] == {"A": 0, "B": 0, "C": 0, "D": 1}


def test_heavier_weight_comes_first() -> None:
    # A (weight 2) goes first: ceil(3*2/3)=2, then B min(ceil(3/3), 1)=1.
    assert plan(3, ["A", "B"], {"A": {"weight": 2}, "B": {"weight": 1}})[0] == {"A": 2, "B": 1}


def test_max_cap_makes_a_cluster_full_and_later_rounds_share_the_rest() -> None:
    # Round 1 (wsum 10002, dist 50): A wants 50, capped at 10 (full); B ceil(50/10002)=1,
    # C 1. Round 2 (wsum 2, dist 38): B +19, C +19.
    prefs = {"A": {"weight": 10000, "maxReplicas": 10}, "B": {"weight": 1}, "C": {"weight": 1}}
    assert plan_v1(50, ["A", "B", "C"], prefs) == ({"A": 10, "B": 20, "C": 20}, {})


def test_clusters_without_preference_get_zero_in_v1_and_are_absent_in_kubeadmiral() -> None:
    prefs = {"A": {"weight": 1}, "B": {"weight": 2}}
    assert plan_v1(60, ["A", "B", "C"], prefs)[0] == {"A": 20, "B": 40, "C": 0}
    assert plan(60, ["A", "B", "C"], prefs)[0] == {"A": 20, "B": 40}


def test_zero_weight_sum_stops_after_minimums() -> None:
    assert plan_v1(50, ["A", "B"], {"*": {"minReplicas": 2}}) == ({"A": 2, "B": 2}, {})


def test_own_entry_beats_the_wildcard() -> None:
    prefs = {"*": {"minReplicas": 20, "weight": 0}, "A": {"minReplicas": 100, "weight": 1}}
    assert plan(50, ["A", "B", "C"], prefs)[0] == {"A": 50, "B": 0, "C": 0}


def test_v1_preallocation_keeps_running_replicas_when_rebalance_is_false() -> None:
    # Order B, A. B runs 70 > 0 planned: preallocated min(70, 50 left) = 50; A gets 0.
    # (KubeFed's own test calls 10:40 the better answer; this is what it returns.)
    result = plan_v1(50, ["A", "B"], EQUAL, current={"A": 10, "B": 70})
    assert result == ({"A": 0, "B": 50}, {})


def test_v1_preallocation_is_consumed_before_the_weighted_share() -> None:
    # C runs 30: preallocated 30 of 50. Round 1 (dist 20, wsum 3): C's share 7 is paid by
    # its preallocation; B +7, A +7. Round 2 (dist 6): C pays 2, B +2, A +2. Round 3
    # (dist 2): C pays 1, B +1, A +1.
    assert plan_v1(50, ["A", "B", "C"], EQUAL, current={"C": 30})[0] == {"A": 10, "B": 10, "C": 30}


def test_v1_rebalance_ignores_what_runs() -> None:
    result = plan_v1(50, ["A", "B"], EQUAL, rebalance=True, current={"A": 10, "B": 70})
    assert result == ({"A": 25, "B": 25}, {})


def test_v1_capacity_overflow_is_assigned_and_kept_with_rebalance() -> None:
    # Round 1: C wants 17 but holds 10 -> overflow 7 (full); B 17; A 17. Round 2: 3 each.
    result = plan_v1(50, ["A", "B", "C"], EQUAL, rebalance=True, capacity={"C": 10})
    assert result == ({"A": 20, "B": 20, "C": 10}, {"C": 7})


def test_v1_overflow_is_trimmed_to_unplaced_replicas_without_rebalance() -> None:
    result = plan_v1(
        60, ["A", "B", "C"], {"A": {"weight": 1}, "B": {"weight": 5}}, capacity={"B": 10}
    )
    assert result == ({"A": 50, "B": 10, "C": 0}, {})


def test_v1_capacity_caps_minimums_without_overflow() -> None:
    prefs = {"*": {"minReplicas": 20, "weight": 0}}
    assert plan_v1(50, ["A", "B", "C"], prefs, capacity={"B": 10}) == (
        {"A": 20, "B": 10, "C": 20},
        {},
    )


def test_kubeadmiral_capacity_below_minimum_is_overflow() -> None:
    prefs = {"*": {"minReplicas": 20, "weight": 0}}
    result = plan(50, ["A", "B", "C"], prefs, estimated_capacity={"B": 10}, avoid_disruption=False)
    assert result == ({"A": 20, "B": 10, "C": 20}, {"B": 10})


def test_kubeadmiral_overflow_accumulates_over_rounds() -> None:
    # Minimums: B gets 10 of its 20, overflow 10; A 20. Round 1 (dist 30): B wants +15,
    # capped at 10 -> overflow 10+15=25; A +15. Round 2: A takes the last 15.
    prefs = {"*": {"minReplicas": 20, "weight": 1}}
    result = plan(60, ["A", "B"], prefs, estimated_capacity={"B": 10}, avoid_disruption=False)
    assert result == ({"A": 50, "B": 10}, {"B": 25})


def test_kubeadmiral_limited_capacity_is_a_hard_cap_without_overflow() -> None:
    result = plan(50, ["A", "B"], EQUAL, current={"A": 30}, limited_capacity={"A": 10})
    assert result == ({"A": 10, "B": 40}, {})


def test_scale_up_adds_only_where_below_desired() -> None:
    # Desired 25/25, A runs 30: deficit 20 goes to B (weight 25 - 0).
    assert plan(50, ["A", "B"], EQUAL, current={"A": 30}) == ({"A": 30, "B": 20}, {})


def test_scale_up_splits_the_deficit_by_missing_replicas() -> None:
    # Desired 6/6/6; current A10 B1 C1 (12). Deficit 6 over B (w 5), C (w 5): 3 each.
    assert plan(18, ["A", "B", "C"], EQUAL, current={"A": 10, "B": 1, "C": 1})[0] == {
        "A": 10,
        "B": 4,
        "C": 4,
    }


@pytest.mark.parametrize(
    "prefs",
    [
        {"A": {"weight": 1, "maxReplicas": 6}, "B": {"weight": 1}},
        {"*": {"weight": 1, "maxReplicas": 6}},
    ],
)
def test_scale_up_stays_within_max(prefs: dict[str, Any]) -> None:
    # Desired A6 B6; A runs 2, B 6: the deficit 4 goes to A, up to its max. (Only the
    # cluster's own entry bounds scale-up, but a share never exceeds desired - current.)
    assert plan(12, ["A", "B"], prefs, current={"A": 2, "B": 6})[0] == {"A": 6, "B": 6}


def test_scale_down_removes_only_where_above_desired() -> None:
    # Desired 25/25, current A10 B70: surplus 30 comes out of B alone.
    assert plan(50, ["A", "B"], EQUAL, current={"A": 10, "B": 70}) == ({"A": 10, "B": 40}, {})


def test_scale_down_by_surplus_weights() -> None:
    # Desired 5/5; current A50 B30: surplus 70, weights 45 and 25 -> A -45, B -25.
    assert plan(10, ["A", "B"], EQUAL, current={"A": 50, "B": 30})[0] == {"A": 5, "B": 5}


def test_equal_totals_keep_the_current_distribution() -> None:
    assert plan(15, ["A", "B"], EQUAL, current={"A": 15, "B": 0})[0] == {"A": 15, "B": 0}
    without = plan(15, ["A", "B"], EQUAL, current={"A": 15, "B": 0}, avoid_disruption=False)
    assert without[0] == {"A": 7, "B": 8}


def test_current_outside_the_preferred_clusters_is_ignored() -> None:
    assert plan(4, ["A", "B"], {"A": {"weight": 1}}, current={"B": 9})[0] == {"A": 4}


def test_empty_cluster_list() -> None:
    assert plan(1, [], EQUAL) == ({}, {})
    assert plan_v1(1, [], EQUAL) == ({}, {})


def test_duplicate_cluster_names_count_once() -> None:
    assert plan_v1(4, ["A", "A", "B"], EQUAL) == plan_v1(4, ["A", "B"], EQUAL)
    assert plan(4, ["A", "A", "B"], EQUAL) == plan(4, ["A", "B"], EQUAL)


def test_key_changes_the_tie_break() -> None:
    owners = {
        next(c for c, n in plan(1, ["A", "B", "C", "D"], EQUAL, key=f"ns/app-{i}")[0].items() if n)
        for i in range(40)
    }
    assert len(owners) > 1


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("total", "prefs", "message"),
    [
        (-1, EQUAL, "total must not be negative"),
        (1, {"*": {"weight": -1}}, "weight must not be negative"),
        (1, {"*": {"minReplicas": -2}}, "minReplicas must not be negative"),
        (1, {"A": {"maxReplicas": -1}}, "maxReplicas must not be negative"),
        (1, {"A": {"minReplicas": 3, "maxReplicas": 2}}, "minReplicas (3) > maxReplicas (2)"),
        (1, {"A": {"weight": 1.5}}, "weight must be an integer"),
        (1, {"A": {"weight": True}}, "weight must be an integer"),
        (1, {"A": 3}, "must be a mapping"),
        (1 << 63, EQUAL, "signed 64-bit"),
    ],
)
def test_invalid_input_raises_value_error(total: int, prefs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(total, ["A"], prefs)
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_v1(total, ["A"], prefs)


def test_negative_current_or_capacity_raise() -> None:
    with pytest.raises(ValueError, match="current"):
        plan(1, ["A"], EQUAL, current={"A": -1})
    with pytest.raises(ValueError, match="capacity"):
        plan_v1(1, ["A"], EQUAL, capacity={"A": -1})


# ------------------------------------------- upstream conformance: KubeFed / v1

M = "maxReplicas"

KUBEFED_PLANS: list[tuple[dict[str, Any], int, list[str], dict[str, int]]] = [
    (EQUAL, 50, ["A", "B", "C"], {"A": 16, "B": 17, "C": 17}),
    (EQUAL, 50, ["A", "B"], {"A": 25, "B": 25}),
    (EQUAL, 1, ["A", "B"], {"A": 0, "B": 1}),
    (EQUAL, 1, ["A", "B", "C", "D"], {"A": 0, "B": 0, "C": 0, "D": 1}),
    (EQUAL, 1, ["A"], {"A": 1}),
    (EQUAL, 1, [], {}),
    ({"*": {"minReplicas": 2, "weight": 0}}, 50, ["A", "B", "C"], {"A": 2, "B": 2, "C": 2}),
    ({"*": {"minReplicas": 20, "weight": 0}}, 50, ["A", "B", "C"], {"A": 10, "B": 20, "C": 20}),
    (
        {"*": {"minReplicas": 20, "weight": 0}, "A": {"minReplicas": 100, "weight": 1}},
        50,
        ["A", "B", "C"],
        {"A": 50, "B": 0, "C": 0},
    ),
    (
        {"*": {"minReplicas": 10, "weight": 1, M: 12}},
        50,
        ["A", "B", "C"],
        {"A": 12, "B": 12, "C": 12},
    ),
    ({"*": {"weight": 1, M: 2}}, 50, ["A", "B", "C"], {"A": 2, "B": 2, "C": 2}),
    ({"*": {"weight": 0, M: 2}}, 50, ["A", "B", "C"], {"A": 0, "B": 0, "C": 0}),
    ({"A": {"weight": 1}, "B": {"weight": 2}}, 60, ["A", "B", "C"], {"A": 20, "B": 40, "C": 0}),
    ({"A": {"weight": 10000}, "B": {"weight": 1}}, 50, ["A", "B", "C"], {"A": 50, "B": 0, "C": 0}),
    ({"A": {"weight": 10000}, "B": {"weight": 1}}, 50, ["B", "C"], {"B": 50, "C": 0}),
    (
        {"A": {"weight": 10000, M: 10}, "B": {"weight": 1}, "C": {"weight": 1}},
        50,
        ["A", "B", "C"],
        {"A": 10, "B": 20, "C": 20},
    ),
    (
        {"A": {"weight": 10000, M: 10}, "B": {"weight": 1}, "C": {"weight": 1, M: 10}},
        50,
        ["A", "B", "C"],
        {"A": 10, "B": 30, "C": 10},
    ),
    (
        {
            "A": {"weight": 10000, M: 10},
            "B": {"weight": 1},
            "C": {"weight": 1, M: 21},
            "D": {"weight": 1, M: 10},
        },
        71,
        ["A", "B", "C", "D"],
        {"A": 10, "B": 30, "C": 21, "D": 10},
    ),
    (
        {
            "A": {"weight": 10000, M: 10},
            "B": {"weight": 1},
            "C": {"weight": 1, M: 21},
            "D": {"weight": 1, M: 10},
            "E": {"weight": 1},
        },
        91,
        ["A", "B", "C", "D", "E"],
        {"A": 10, "B": 25, "C": 21, "D": 10, "E": 25},
    ),
]


@pytest.mark.parametrize(("prefs", "total", "clusters", "expected"), KUBEFED_PLANS)
def test_kubefed_plans(
    prefs: dict[str, Any], total: int, clusters: list[str], expected: dict[str, int]
) -> None:
    assert plan_v1(total, clusters, prefs) == (expected, {})


KUBEFED_WITH_EXISTING: list[tuple[int, list[str], dict[str, int], dict[str, int]]] = [
    (50, ["A", "B", "C"], {"C": 30}, {"A": 10, "B": 10, "C": 30}),
    (50, ["A", "B"], {"A": 30}, {"A": 30, "B": 20}),
    (15, ["A", "B"], {"A": 0, "B": 8}, {"A": 7, "B": 8}),
    (15, ["A", "B"], {"A": 1, "B": 8}, {"A": 7, "B": 8}),
    (15, ["A", "B"], {"A": 4, "B": 8}, {"A": 7, "B": 8}),
    (15, ["A", "B"], {"A": 5, "B": 8}, {"A": 7, "B": 8}),
    (15, ["A", "B"], {"A": 6, "B": 8}, {"A": 7, "B": 8}),
    (15, ["A", "B"], {"A": 7, "B": 8}, {"A": 7, "B": 8}),
    (500000, ["A", "B"], {"A": 300000}, {"A": 300000, "B": 200000}),
    (50, ["A", "B"], {"A": 10}, {"A": 25, "B": 25}),
    (50, ["A", "B"], {"A": 10, "B": 70}, {"A": 0, "B": 50}),
    (1, ["A", "B"], {"A": 30}, {"A": 1, "B": 0}),
    (50, ["A", "B"], {"A": 10, "B": 20}, {"A": 25, "B": 25}),
]


@pytest.mark.parametrize(("total", "clusters", "current", "expected"), KUBEFED_WITH_EXISTING)
def test_kubefed_plans_with_existing(
    total: int, clusters: list[str], current: dict[str, int], expected: dict[str, int]
) -> None:
    assert plan_v1(total, clusters, EQUAL, current=current) == (expected, {})


KUBEFED_WITH_CAPACITY: list[
    tuple[bool, dict[str, Any], int, list[str], dict[str, int], dict[str, int], dict[str, int]]
] = [
    (True, EQUAL, 50, ["A", "B", "C"], {"C": 10}, {"A": 20, "B": 20, "C": 10}, {"C": 7}),
    (
        True,
        {"A": {"weight": 10000}, "B": {"weight": 1}},
        50,
        ["B", "C"],
        {"B": 10},
        {"B": 10, "C": 0},
        {"B": 40},
    ),
    (
        True,
        {"A": {"weight": 1}, "B": {"weight": 2}},
        60,
        ["A", "B", "C"],
        {"B": 10},
        {"A": 50, "B": 10, "C": 0},
        {"B": 30},
    ),
    (
        True,
        {
            "A": {"weight": 10000, M: 10},
            "B": {"weight": 1},
            "C": {"weight": 1, M: 21},
            "D": {"weight": 1, M: 10},
        },
        71,
        ["A", "B", "C", "D"],
        {"C": 10},
        {"A": 10, "B": 41, "C": 10, "D": 10},
        {"C": 11},
    ),
    (
        False,
        {"A": {"weight": 1}, "B": {"weight": 1}},
        60,
        ["A", "B", "C"],
        {"A": 10, "B": 10},
        {"A": 10, "B": 10, "C": 0},
        {"A": 20, "B": 20},
    ),
    (
        False,
        {"A": {"weight": 1}, "B": {"weight": 5}},
        60,
        ["A", "B", "C"],
        {"B": 10},
        {"A": 50, "B": 10, "C": 0},
        {},
    ),
    (
        False,
        {"*": {"minReplicas": 20, "weight": 0}},
        50,
        ["A", "B", "C"],
        {"B": 10},
        {"A": 20, "B": 10, "C": 20},
        {},
    ),
    (
        True,
        {"*": {"minReplicas": 20, "weight": 1}},
        60,
        ["A", "B"],
        {"B": 10},
        {"A": 50, "B": 10},
        {"B": 15},
    ),
]


@pytest.mark.parametrize(
    ("rebalance", "prefs", "total", "clusters", "capacity", "expected", "overflow"),
    KUBEFED_WITH_CAPACITY,
)
def test_kubefed_plans_with_capacity(
    rebalance: bool,
    prefs: dict[str, Any],
    total: int,
    clusters: list[str],
    capacity: dict[str, int],
    expected: dict[str, int],
    overflow: dict[str, int],
) -> None:
    result = plan_v1(total, clusters, prefs, rebalance=rebalance, capacity=capacity)
    assert result == (expected, overflow)


# --------------------------------------------- upstream conformance: KubeAdmiral


def converged_plan(
    prefs: dict[str, Any],
    total: int,
    clusters: list[str],
    existing: dict[str, int],
    avoid_disruption: bool,
    keep_unschedulable: bool,
    capacity: dict[str, int] | None = None,
    limited: dict[str, int] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """KubeAdmiral's test harness: replan with the previous result as what runs, until
    stable; a cluster reports capacity only once more replicas than that were sent."""
    capacity = capacity or {}
    last: tuple[dict[str, int], dict[str, int]] | None = None
    for _ in range(3):
        estimated = {c: n for c, n in capacity.items() if existing.get(c, 0) > n}
        result = plan(
            total,
            clusters,
            prefs,
            current=existing,
            estimated_capacity=estimated,
            limited_capacity=limited,
            avoid_disruption=avoid_disruption,
            keep_unschedulable=keep_unschedulable,
        )
        if result == last:
            return result
        existing = {c: result[0].get(c, 0) + result[1].get(c, 0) for c in {*result[0], *result[1]}}
        last = result
    raise AssertionError("the plan did not converge in 3 steps")


FLAG_COMBINATIONS = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize(("prefs", "total", "clusters", "expected"), KUBEFED_PLANS)
@pytest.mark.parametrize(("avoid", "keep"), FLAG_COMBINATIONS)
def test_kubeadmiral_plans_without_existing(
    prefs: dict[str, Any],
    total: int,
    clusters: list[str],
    expected: dict[str, int],
    avoid: bool,
    keep: bool,
) -> None:
    # Same vectors as KubeFed's, except that KubeAdmiral leaves out unpreferred clusters.
    preferred = {c: n for c, n in expected.items() if c in prefs or "*" in prefs}
    assert converged_plan(prefs, total, clusters, {}, avoid, keep) == (preferred, {})


KUBEADMIRAL_EXTRA_WITHOUT_EXISTING = [
    (
        {"A": {"minReplicas": 10, "weight": 1}, "B": {"weight": 1}},
        50,
        ["A", "B"],
        {"A": 30, "B": 20},
    ),
    (
        {
            "A": {"minReplicas": 3, "weight": 2},
            "B": {"minReplicas": 3, "weight": 3},
            "C": {"minReplicas": 3, "weight": 5},
        },
        10,
        ["A", "B", "C"],
        {"A": 3, "B": 3, "C": 4},
    ),
]


@pytest.mark.parametrize(
    ("prefs", "total", "clusters", "expected"), KUBEADMIRAL_EXTRA_WITHOUT_EXISTING
)
def test_kubeadmiral_minimums_then_weights(
    prefs: dict[str, Any], total: int, clusters: list[str], expected: dict[str, int]
) -> None:
    for avoid, keep in FLAG_COMBINATIONS:
        assert converged_plan(prefs, total, clusters, {}, avoid, keep) == (expected, {})


# (prefs, total, clusters, existing, limited, plan without / with avoidDisruption)
KUBEADMIRAL_WITH_EXISTING: list[tuple[Any, ...]] = [
    (EQUAL, 50, "ABC", {"C": 30}, None, {"A": 16, "B": 17, "C": 17}, {"A": 9, "B": 11, "C": 30}),
    (EQUAL, 50, "AB", {"A": 30}, None, {"A": 25, "B": 25}, {"A": 30, "B": 20}),
    (EQUAL, 50, "AB", {"A": 30}, {"A": 0}, {"A": 0, "B": 50}, {"A": 0, "B": 50}),
    (EQUAL, 50, "AB", {"A": 30}, {"A": 10}, {"A": 10, "B": 40}, {"A": 10, "B": 40}),
    (EQUAL, 15, "AB", {"A": 0, "B": 8}, None, {"A": 7, "B": 8}, {"A": 7, "B": 8}),
    (EQUAL, 15, "AB", {"A": 1, "B": 8}, None, {"A": 7, "B": 8}, {"A": 7, "B": 8}),
    (EQUAL, 15, "AB", {"A": 4, "B": 8}, None, {"A": 7, "B": 8}, {"A": 7, "B": 8}),
    (EQUAL, 15, "AB", {"A": 7, "B": 8}, None, {"A": 7, "B": 8}, {"A": 7, "B": 8}),
    (EQUAL, 15, "AB", {"A": 15, "B": 0}, None, {"A": 7, "B": 8}, {"A": 15, "B": 0}),
    (EQUAL, 15, "AB", {"A": 5, "B": 10}, None, {"A": 7, "B": 8}, {"A": 5, "B": 10}),
    (EQUAL, 50, "AB", {"A": 10}, None, {"A": 25, "B": 25}, {"A": 25, "B": 25}),
    (EQUAL, 50, "AB", {"A": 10, "B": 20}, None, {"A": 25, "B": 25}, {"A": 25, "B": 25}),
    (EQUAL, 50, "AB", {"A": 10, "B": 70}, None, {"A": 25, "B": 25}, {"A": 10, "B": 40}),
    (EQUAL, 1, "AB", {"A": 30}, None, {"A": 0, "B": 1}, {"A": 1, "B": 0}),
    (EQUAL, 10, "AB", {"A": 50, "B": 30}, None, {"A": 5, "B": 5}, {"A": 5, "B": 5}),
    (
        {"A": {"weight": 499}, "B": {"weight": 499}, "C": {"weight": 1}},
        15,
        "ABC",
        {"A": 15, "B": 15, "C": 0},
        None,
        {"A": 7, "B": 8, "C": 0},
        {"A": 7, "B": 8, "C": 0},
    ),
    (
        EQUAL,
        18,
        "ABC",
        {"A": 10, "B": 1, "C": 1},
        None,
        {"A": 6, "B": 6, "C": 6},
        {"A": 10, "B": 4, "C": 4},
    ),
    (
        {"A": {"weight": 0}, "B": {"weight": 1}, "C": {"weight": 1}},
        18,
        "ABC",
        {"A": 10, "B": 1, "C": 7},
        None,
        {"A": 0, "B": 9, "C": 9},
        {"A": 10, "B": 1, "C": 7},
    ),
]


@pytest.mark.parametrize(
    ("prefs", "total", "clusters", "existing", "limited", "without", "with_avoid"),
    KUBEADMIRAL_WITH_EXISTING,
)
@pytest.mark.parametrize("keep", [False, True])
def test_kubeadmiral_plans_with_existing(
    prefs: Any,
    total: int,
    clusters: str,
    existing: dict[str, int],
    limited: dict[str, int] | None,
    without: dict[str, int],
    with_avoid: dict[str, int],
    keep: bool,
) -> None:
    names = list(clusters)
    assert converged_plan(prefs, total, names, existing, False, keep, limited=limited)[0] == without
    assert (
        converged_plan(prefs, total, names, existing, True, keep, limited=limited)[0] == with_avoid
    )


BIG = {
    "A": {"weight": 10000, M: 10},
    "B": {"weight": 1},
    "C": {"weight": 1, M: 21},
    "D": {"weight": 1, M: 10},
}
# (prefs, total, clusters, existing, capacity, then the (plan, overflow) for the flag
#  combinations (avoid, keep) = (F, F), (F, T), (T, F), (T, T))
KUBEADMIRAL_WITH_CAPACITY: list[tuple[Any, ...]] = [
    (
        EQUAL,
        50,
        "ABC",
        {"A": 30, "B": 20},
        {"C": 10},
        [
            ({"A": 20, "B": 20, "C": 10}, {"C": 7}),
            ({"A": 20, "B": 20, "C": 10}, {"C": 7}),
            ({"A": 30, "B": 20, "C": 0}, {}),
            ({"A": 30, "B": 20, "C": 0}, {}),
        ],
    ),
    (
        EQUAL,
        50,
        "ABC",
        {"A": 30, "C": 20},
        {"C": 10},
        [
            ({"A": 20, "B": 20, "C": 10}, {"C": 7}),
            ({"A": 20, "B": 20, "C": 10}, {"C": 7}),
            ({"A": 30, "B": 10, "C": 10}, {}),
            ({"A": 30, "B": 10, "C": 10}, {"C": 7}),
        ],
    ),
    (
        {"A": {"weight": 10000}, "B": {"weight": 1}},
        50,
        "BC",
        {"B": 50},
        {"B": 10},
        [({"B": 10}, {"B": 40})] * 4,
    ),
    (
        {"A": {"weight": 1}, "B": {"weight": 5}},
        60,
        "ABC",
        {"A": 20, "B": 40},
        {"B": 10},
        [
            ({"A": 50, "B": 10}, {"B": 40}),
            ({"A": 50, "B": 10}, {"B": 40}),
            ({"A": 50, "B": 10}, {}),
            ({"A": 50, "B": 10}, {"B": 40}),
        ],
    ),
    (
        {"A": {"weight": 1}, "B": {"weight": 2}},
        60,
        "ABC",
        {"A": 60},
        {"B": 10},
        [
            ({"A": 50, "B": 10}, {"B": 30}),
            ({"A": 50, "B": 10}, {"B": 30}),
            ({"A": 60, "B": 0}, {}),
            ({"A": 60, "B": 0}, {}),
        ],
    ),
    (
        {"A": {"weight": 1}, "B": {"weight": 1}},
        60,
        "ABC",
        {"A": 30, "B": 30},
        {"A": 10, "B": 10},
        [({"A": 10, "B": 10}, {"A": 20, "B": 20})] * 4,
    ),
    (
        {"A": {"weight": 1}, "B": {"weight": 2}},
        60,
        "AB",
        {"A": 30, "B": 40},
        {"A": 25, "B": 10},
        [
            ({"A": 25, "B": 10}, {"A": 25, "B": 30}),
            ({"A": 25, "B": 10}, {"A": 25, "B": 30}),
            ({"A": 25, "B": 10}, {"A": 25, "B": 25}),
            ({"A": 25, "B": 10}, {"A": 25, "B": 30}),
        ],
    ),
    (
        BIG,
        71,
        "ABCD",
        {"A": 20},
        {"C": 10},
        [
            ({"A": 10, "B": 41, "C": 10, "D": 10}, {"C": 11}),
            ({"A": 10, "B": 41, "C": 10, "D": 10}, {"C": 11}),
            ({"A": 20, "B": 33, "C": 10, "D": 8}, {}),
            ({"A": 20, "B": 33, "C": 10, "D": 8}, {"C": 11}),
        ],
    ),
    (
        {"*": {"minReplicas": 20, "weight": 0}},
        50,
        "ABC",
        {"A": 24},
        {"B": 10},
        [
            ({"A": 20, "B": 10, "C": 20}, {"B": 10}),
            ({"A": 20, "B": 10, "C": 20}, {"B": 10}),
            ({"A": 24, "B": 10, "C": 16}, {}),
            ({"A": 24, "B": 10, "C": 16}, {"B": 10}),
        ],
    ),
    (
        {"*": {"minReplicas": 20, "weight": 1}},
        60,
        "AB",
        {},
        {"B": 10},
        [
            ({"A": 50, "B": 10}, {"B": 25}),
            ({"A": 50, "B": 10}, {"B": 25}),
            ({"A": 50, "B": 10}, {}),
            ({"A": 50, "B": 10}, {"B": 25}),
        ],
    ),
]


@pytest.mark.parametrize(
    ("prefs", "total", "clusters", "existing", "capacity", "expected"), KUBEADMIRAL_WITH_CAPACITY
)
def test_kubeadmiral_plans_with_capacity(
    prefs: Any,
    total: int,
    clusters: str,
    existing: dict[str, int],
    capacity: dict[str, int],
    expected: list[tuple[dict[str, int], dict[str, int]]],
) -> None:
    for (avoid, keep), want in zip(FLAG_COMBINATIONS, expected, strict=True):
        got = converged_plan(prefs, total, list(clusters), existing, avoid, keep, capacity)
        assert got == want, f"avoidDisruption={avoid} keepUnschedulable={keep}"


# ------------------------------------------------------------ properties

NAMES = [f"c{i}" for i in range(8)]
counts = st.integers(min_value=0, max_value=60)
cluster_lists = st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True)


@st.composite
def preference_maps(draw: st.DrawFn, bounded: bool) -> dict[str, dict[str, int]]:
    names = draw(st.lists(st.sampled_from([*NAMES, "*"]), min_size=1, max_size=9, unique=True))
    prefs = {}
    for name in names:
        entry = {"minReplicas": draw(st.integers(0, 10)), "weight": draw(st.integers(0, 5))}
        if bounded and draw(st.booleans()):
            entry["maxReplicas"] = entry["minReplicas"] + draw(st.integers(0, 15))
        prefs[name] = entry
    return prefs


current_maps = st.dictionaries(st.sampled_from(NAMES), counts, max_size=8)


def has_weight(clusters: list[str], prefs: dict[str, dict[str, int]]) -> bool:
    return any((prefs.get(c) or prefs.get("*") or {}).get("weight", 0) > 0 for c in clusters)


def preference_of(cluster: str, prefs: dict[str, dict[str, int]]) -> dict[str, int] | None:
    return prefs.get(cluster) or prefs.get("*")


@settings(max_examples=80)
@given(counts, cluster_lists, preference_maps(bounded=False), current_maps, st.booleans())
def test_unbounded_plans_place_every_replica(
    total: int, clusters: list[str], prefs: dict[str, Any], current: dict[str, int], flag: bool
) -> None:
    if not has_weight(clusters, prefs):
        return
    assert (
        sum(plan_v1(total, clusters, prefs, rebalance=flag, current=current)[0].values()) == total
    )
    assert (
        sum(plan(total, clusters, prefs, current=current, avoid_disruption=flag)[0].values())
        == total
    )


@settings(max_examples=80)
@given(counts, cluster_lists, preference_maps(bounded=True), current_maps, st.booleans())
def test_minimums_are_honoured_when_the_total_allows(
    total: int, clusters: list[str], prefs: dict[str, Any], current: dict[str, int], flag: bool
) -> None:
    minimums = {c: p["minReplicas"] for c in clusters if (p := preference_of(c, prefs))}
    if sum(minimums.values()) > total:
        return
    v1 = plan_v1(total, clusters, prefs, rebalance=flag, current=current)[0]
    admiral = plan(total, clusters, prefs, current=current, avoid_disruption=False)[0]
    fresh = plan(total, clusters, prefs, avoid_disruption=True)[0]
    for cluster, minimum in minimums.items():
        assert v1[cluster] >= minimum
        assert admiral[cluster] >= minimum
        assert fresh[cluster] >= minimum


@settings(max_examples=80)
@given(counts, cluster_lists, preference_maps(bounded=True), current_maps, st.booleans())
def test_maximums_are_never_exceeded(
    total: int, clusters: list[str], prefs: dict[str, Any], current: dict[str, int], flag: bool
) -> None:
    maximums = {c: p.get("maxReplicas") for c in clusters if (p := preference_of(c, prefs))}
    # avoidDisruption keeps what runs when totals match, so only runs within bounds count.
    within = {c: n for c, n in current.items() if (m := maximums.get(c)) is None or n <= m}
    results = [
        plan_v1(total, clusters, prefs, rebalance=flag, current=current)[0],
        plan(total, clusters, prefs, current=current, avoid_disruption=False)[0],
        plan(total, clusters, prefs, current=within, avoid_disruption=True)[0],
    ]
    for result in results:
        for cluster, maximum in maximums.items():
            assert maximum is None or result[cluster] <= maximum
        assert all(n >= 0 for n in result.values())


@settings(max_examples=60)
@given(
    counts,
    cluster_lists,
    preference_maps(bounded=True),
    current_maps,
    st.dictionaries(st.sampled_from(NAMES), counts, max_size=4),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_results_do_not_depend_on_cluster_order(
    total: int,
    clusters: list[str],
    prefs: dict[str, Any],
    current: dict[str, int],
    capacity: dict[str, int],
    flag: bool,
    rng: random.Random,
) -> None:
    shuffled = clusters[:]
    rng.shuffle(shuffled)
    for order in (shuffled, list(reversed(clusters))):
        assert plan_v1(total, order, prefs, rebalance=flag, current=current, capacity=capacity) == (
            plan_v1(total, clusters, prefs, rebalance=flag, current=current, capacity=capacity)
        )
        assert plan(
            total, order, prefs, current=current, estimated_capacity=capacity, avoid_disruption=flag
        ) == plan(
            total,
            clusters,
            prefs,
            current=current,
            estimated_capacity=capacity,
            avoid_disruption=flag,
        )


@settings(max_examples=60)
@given(
    counts,
    cluster_lists,
    preference_maps(bounded=True),
    current_maps,
    st.dictionaries(st.sampled_from(NAMES), counts, max_size=4),
    st.booleans(),
)
def test_capacities_are_respected_and_inputs_untouched(
    total: int,
    clusters: list[str],
    prefs: dict[str, Any],
    current: dict[str, int],
    capacity: dict[str, int],
    flag: bool,
) -> None:
    inputs = (list(clusters), copy.deepcopy(prefs), dict(current), dict(capacity))
    v1 = plan_v1(total, clusters, prefs, rebalance=flag, current=current, capacity=capacity)[0]
    admiral = plan(
        total,
        clusters,
        prefs,
        current=current,
        estimated_capacity=capacity,
        limited_capacity=capacity,
        avoid_disruption=flag,
    )[0]
    for cluster, cap in capacity.items():
        assert v1.get(cluster, 0) <= cap
        assert admiral.get(cluster, 0) <= cap
    assert (clusters, prefs, current, capacity) == inputs


# ------------------------------------------------------ prepared preferences


def test_prepared_preferences_are_a_read_only_copy() -> None:
    source = {"A": {"weight": 2}, "*": {"weight": 1}}
    prepared = PreparedPreferences(source)
    source["A"]["weight"] = 9
    assert dict(prepared["A"]) == {"weight": 2}
    assert set(prepared) == {"A", "*"} and len(prepared) == 2
    with pytest.raises(TypeError):
        prepared["A"]["weight"] = 3  # type: ignore[index]


def test_prepared_preferences_check_entries_up_front() -> None:
    with pytest.raises(ValueError, match="minReplicas \\(3\\) > maxReplicas \\(1\\)"):
        PreparedPreferences({"A": {"minReplicas": 3, "maxReplicas": 1}})
    with pytest.raises(ValueError, match="must be a mapping"):
        PreparedPreferences({"A": 3})  # type: ignore[dict-item]


@settings(max_examples=60)
@given(
    counts,
    cluster_lists,
    preference_maps(bounded=True),
    current_maps,
    st.dictionaries(st.sampled_from(NAMES), counts, max_size=4),
    st.booleans(),
)
def test_prepared_preferences_plan_like_the_plain_mapping(
    total: int,
    clusters: list[str],
    prefs: dict[str, Any],
    current: dict[str, int],
    capacity: dict[str, int],
    flag: bool,
) -> None:
    prepared = PreparedPreferences(prefs)
    for _ in range(2):  # the second call reuses the prepared records
        assert plan_v1(
            total, clusters, prepared, rebalance=flag, current=current, capacity=capacity
        ) == plan_v1(total, clusters, prefs, rebalance=flag, current=current, capacity=capacity)
        assert plan(
            total,
            clusters,
            prepared,
            current=current,
            estimated_capacity=capacity,
            limited_capacity=capacity,
            avoid_disruption=flag,
        ) == plan(
            total,
            clusters,
            prefs,
            current=current,
            estimated_capacity=capacity,
            limited_capacity=capacity,
            avoid_disruption=flag,
        )
