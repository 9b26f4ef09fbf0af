"""Replica division for a Divide placement (or a Federation v1 preferences annotation):
the planner call (core/replicas.py) with the policy's preferences, capped where a held
cluster has an untolerated NoSchedule taint, and the reason each chosen cluster gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from kubectl_fed.core.policy import Policy, V1Preferences
from kubectl_fed.core.replicas import Preferences, plan, plan_v1
from kubectl_fed.core.scheduling import (
    ClusterReason,
    CurrentPlacement,
    Reason,
    ReplicaDivision,
)


def divide(
    policy: Policy,
    chosen: list[str],
    total: int,
    key: str,
    running: dict[str, int],
    capped: Mapping[str, str],
) -> ReplicaDivision:
    preferences: Preferences = policy.planner_preferences
    if capped:
        capped_preferences = dict(preferences)
        for name in capped:
            entry = preferences.get(name) or preferences["*"]
            capped_preferences[name] = _capped_preference(entry, running.get(name, total))
        preferences = capped_preferences
    planned, overflow = plan(
        total,
        chosen,
        preferences,
        key=key,
        current=running,
        avoid_disruption=policy.avoid_disruption,
    )
    options = {"avoidDisruption": policy.avoid_disruption}
    return ReplicaDivision(
        "plan", total, tuple(chosen), preferences, running, options, planned, overflow
    )


def divide_v1(
    v1: V1Preferences,
    chosen: list[str],
    total: int,
    key: str,
    running: dict[str, int],
    capped: Mapping[str, str],
) -> ReplicaDivision:
    preferences = {name: dict(entry) for name, entry in v1.clusters.items()}
    for name in capped:
        entry = v1.clusters.get(name) or v1.clusters.get("*")
        if entry is not None:
            preferences[name] = _capped_preference(entry, running.get(name, total))
    planned, overflow = plan_v1(
        total,
        chosen,
        preferences,
        key=key,
        rebalance=v1.rebalance,
        current=running,
    )
    options = {"rebalance": v1.rebalance}
    return ReplicaDivision(
        "plan_v1", total, tuple(chosen), preferences, running, options, planned, overflow
    )


def _capped_preference(entry: Mapping[str, int | None], running: int) -> dict[str, int | None]:
    """No new replicas where a NoSchedule taint is not tolerated: cap at what runs there
    (KubeAdmiral lowers maxReplicas; the minimum follows so the preference stays valid)."""
    maximum = entry.get("maxReplicas")
    cap = running if maximum is None else min(maximum, running)
    return {**entry, "maxReplicas": cap, "minReplicas": min(entry.get("minReplicas") or 0, cap)}


def running_replicas(current: CurrentPlacement, chosen: list[str], total: int) -> dict[str, int]:
    # A cluster without a replicas override runs the template's count, as KubeAdmiral assumes.
    candidates = set(chosen)
    return {
        name: total if count is None else count
        for name, count in current.clusters.items()
        if name in candidates
    }


def replicas_from(
    division: ReplicaDivision,
    current: CurrentPlacement,
    reasons: dict[str, ClusterReason],
    capped: Mapping[str, str],
    zero_keeps_copy: bool,
) -> dict[str, int]:
    """The replicas to place (plan plus overflow) and each chosen cluster's reason.

    A cluster given 0 gets no copy; under Federation v1 rules an existing copy is scaled
    to 0 instead of deleted, as the v1 ReplicaSet controller did. An object scaled to 0
    keeps a copy (at 0) in every chosen cluster: scaling down is not leaving.
    """
    placed: dict[str, int] = {}
    zero_keeps_copy = zero_keeps_copy or division.total == 0
    counts = division.plan
    if division.overflow:
        counts = {name: counts.get(name, 0) + division.overflow.get(name, 0) for name in counts}
    for name in division.clusters:
        count = counts.get(name, 0)
        if count > 0:
            placed[name] = count
            reasons[name] = selected_reason(name, capped, count)
        elif zero_keeps_copy and (name in current.clusters or division.total == 0):
            placed[name] = 0
            reasons[name] = _SCALED_TO_ZERO
        else:
            reasons[name] = _NO_REPLICAS
    return placed


_SCALED_TO_ZERO: Final = ClusterReason(
    True, Reason.SCALED_TO_ZERO, "0 replicas planned: the existing copy is scaled to 0"
)
_NO_REPLICAS: Final = ClusterReason(False, Reason.NO_REPLICAS, "the planner assigned 0 replicas")


def selected_reason(name: str, capped: Mapping[str, str], count: int | None) -> ClusterReason:
    if name not in capped:
        return _selected(count)
    return ClusterReason(
        True,
        Reason.SELECTED,
        f"{_selected(count).message}; already holds the object, taint {capped[name]} is not "
        "tolerated" + ("" if count is None else ", so it gets no more replicas than it runs"),
    )


@lru_cache(maxsize=1024)
def _selected(count: int | None) -> ClusterReason:
    # Shared: the same few messages recur for every object.
    what = "copied (Duplicate)" if count is None else f"{count} replicas"
    return ClusterReason(True, Reason.SELECTED, f"selected, {what}")
