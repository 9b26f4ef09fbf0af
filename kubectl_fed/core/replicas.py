"""Replica division, as the federation systems users migrate from do it.

``plan`` reproduces KubeAdmiral's planner (PropagationPolicy ``schedulingMode: Divide``)
and ``plan_v1`` the Federation v1 / KubeFed planner (the ``rebalance`` flag of the
``replica-set-preferences`` annotation). docs/planner.md is the reference; the numbers,
including every tie-break, match those systems for the same input.

Both functions are pure and integer-only, never mutate their arguments, and raise
``ValueError`` on input those systems leave undefined (negative numbers,
``minReplicas > maxReplicas``) instead of returning a silently odd plan.

Two choices where the Go code leaves the result to chance, both invisible otherwise:
a cluster listed twice counts once, and the rare clusters with equal weight *and*
equal hash are ordered by name (Go's unstable sort over a map gives no fixed order).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from kubectl_fed.core.objects import FNV32_PRIME, fnv1_32

Preferences = Mapping[str, Mapping[str, int | None]]
"""Cluster name or ``"*"`` -> ``{"minReplicas", "maxReplicas", "weight"}``."""

_MASK32 = 0xFFFFFFFF  # one FNV-1 state
_WILDCARD = "*"
_UNLIMITED = 1 << 63  # "no limit" inside min(): counts are int64, as in Go, so always below


# Cluster names recur in every call; their hash state is the prefix of every tie-break hash.
_cluster_name_state = lru_cache(maxsize=4096)(fnv1_32)


@lru_cache(maxsize=64)
def _lane_masks(lanes: int) -> tuple[int, int]:
    ones = int.from_bytes((1).to_bytes(8, "little") * lanes, "little")
    return ones, ones * _MASK32


def tie_break_hashes(clusters: Sequence[str], key: str) -> list[int]:
    """``fnv1_32(cluster + key)`` for every cluster, in the same order.

    Hashing byte by byte in Python costs more than the rest of a plan, so the key's
    bytes are applied to all clusters at once: each 32-bit state sits in its own
    64-bit lane of one big integer, and a lane times the 25-bit prime stays below
    2**57, so one multiplication steps every lane without carrying into the next.
    """
    return _finish_hashes(_packed_name_states(clusters), len(clusters), key)


def _packed_name_states(clusters: Sequence[str]) -> int:
    states = [_cluster_name_state(c) for c in clusters]
    return int.from_bytes(struct.pack(f"<{len(states)}Q", *states), "little")


def _finish_hashes(packed: int, lanes: int, key: str) -> list[int]:
    """Feed ``key`` to the packed per-cluster hash states and unpack them."""
    if lanes == 0:
        return []
    ones, mask = _lane_masks(lanes)
    for byte in key.encode():
        packed = ((packed * FNV32_PRIME) & mask) ^ (byte * ones)
    return list(struct.unpack(f"<{lanes}Q", packed.to_bytes(8 * lanes, "little")))


@dataclass(frozen=True, slots=True)
class _Preference:
    cluster: str
    min_replicas: int
    weight: int
    hard_cap: int | None  # maxReplicas (and limited capacity): never exceeded
    soft_cap: int | None = None  # estimated capacity: what goes beyond is overflow


class _Records(NamedTuple):
    """Preference records with what sorting them in plan order needs."""

    records: list[_Preference]
    names: list[str]
    negated_weights: list[int]
    packed_names: int  # the names' hash states, for ``_finish_hashes``

    @classmethod
    def of(cls, records: list[_Preference]) -> _Records:
        names = [r.cluster for r in records]
        return cls(records, names, [-r.weight for r in records], _packed_name_states(names))


class PreparedPreferences(Mapping[str, Mapping[str, int | None]]):
    """Preferences checked once, for a caller that plans many objects with the same
    ones: ``plan`` and ``plan_v1`` take it as their ``preferences`` and skip the checks.

    A read-only copy; raises ``ValueError`` as the planners would on invalid entries.
    """

    __slots__ = ("_entries", "_parsed", "_records")

    def __init__(self, preferences: Preferences) -> None:
        self._parsed = {name: _parse_entry(name, e) for name, e in preferences.items()}
        self._entries = {name: MappingProxyType(dict(e)) for name, e in preferences.items()}
        self._records: dict[tuple[str, ...], _Records] = {}

    def __getitem__(self, name: str) -> Mapping[str, int | None]:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _records_for(self, clusters: Sequence[str]) -> _Records:
        """Records for these clusters; one caller mostly plans over the same few lists."""
        key = tuple(clusters)
        records = self._records.get(key)
        if records is None:
            if len(self._records) >= 64:
                self._records.clear()
            wildcard = self._parsed.get(_WILDCARD)
            found = ((c, self._parsed.get(c, wildcard)) for c in clusters)
            records = self._records[key] = _Records.of(
                [_Preference(c, p[0], p[2], p[1]) for c, p in found if p is not None]
            )
        return records


def plan_v1(
    total: int,
    clusters: Iterable[str],
    preferences: Preferences,
    *,
    key: str = "",
    rebalance: bool = False,
    current: Mapping[str, int] | None = None,
    capacity: Mapping[str, int] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Federation v1 / KubeFed division of ``total`` replicas: ``(plan, overflow)``.

    Every available cluster is in ``plan``, with 0 when it has no preference. With
    ``rebalance`` false, replicas already running (``current``) stay where they are
    as far as the preferences allow.
    """
    _count("total", total)
    current = _checked_counts("current", current)
    capacity = _checked_counts("capacity", capacity)
    available = _unique(clusters)
    ordered, _ = _ordered_preferences(available, preferences, key, {}, capacity)
    assigned = {cluster: 0 for cluster in available}
    overflow: dict[str, int] = {}

    remaining = _assign_minimums(ordered, assigned, total, overflow, record_overflow=False)
    preallocated: dict[str, int] = {}
    if not rebalance:
        remaining = _keep_running(ordered, assigned, remaining, current, preallocated)
    remaining = _weighted_rounds(ordered, assigned, remaining, overflow, False, preallocated)
    if not rebalance:
        overflow = _trim_overflow(overflow, remaining)
    return _by_name(assigned), _by_name(overflow)


def _keep_running(
    ordered: list[_Preference],
    assigned: dict[str, int],
    remaining: int,
    current: Mapping[str, int],
    preallocated: dict[str, int],
) -> int:
    """Grant each cluster, in order, the replicas it already runs beyond its minimum."""
    for pref in ordered:
        planned = assigned[pref.cluster]
        running = current.get(pref.cluster)
        if running is None or running <= planned:
            continue
        target = _capped(_capped(running, pref.hard_cap), pref.soft_cap)
        extra = max(0, min(target - planned, remaining))
        remaining -= extra
        preallocated[pref.cluster] = extra
        assigned[pref.cluster] = planned + extra
    return remaining


def plan(
    total: int,
    clusters: Iterable[str],
    preferences: Preferences,
    *,
    key: str = "",
    current: Mapping[str, int] | None = None,
    estimated_capacity: Mapping[str, int] | None = None,
    limited_capacity: Mapping[str, int] | None = None,
    avoid_disruption: bool = True,
    keep_unschedulable: bool = False,
) -> tuple[dict[str, int], dict[str, int]]:
    """KubeAdmiral division of ``total`` replicas: ``(plan, overflow)``.

    Only clusters with a preference appear in ``plan``. ``limited_capacity`` is a hard
    cap; replicas above ``estimated_capacity`` are reported in ``overflow``. With
    ``avoid_disruption`` the current replicas are kept and only the difference to
    the desired total is added or removed.
    """
    _count("total", total)
    current = _checked_counts("current", current)
    estimated = _checked_counts("estimated_capacity", estimated_capacity)
    limited = _checked_counts("limited_capacity", limited_capacity)
    ordered, tie_breaks = _ordered_preferences(
        _unique(clusters), preferences, key, limited, estimated
    )

    if not avoid_disruption:
        # Moving unschedulable replicas away would be undone by the next plan, which
        # ignores where replicas run: keeping them avoids an endless reschedule loop.
        keep_unschedulable = True
    desired, overflow = _desired_plan(ordered, total, keep_unschedulable)
    if not avoid_disruption:
        return _by_name(desired), _by_name(overflow)

    running = {cluster: current.get(cluster, 0) for cluster in desired}
    if limited or estimated:
        running = {
            cluster: _capped(_capped(count, limited.get(cluster)), estimated.get(cluster))
            for cluster, count in running.items()
        }
    running_total = sum(running.values())
    desired_total = sum(desired.values())
    if running_total == 0:
        # Scaling up from nothing, by weights equal to the desired counts, gives exactly
        # the desired plan: skip the second pass.
        return _by_name(desired), _by_name(overflow)
    if running_total > desired_total:
        surplus = running_total - desired_total
        running = _scale_down(ordered, running, desired, surplus, tie_breaks)
    elif running_total < desired_total:
        deficit = desired_total - running_total
        running = _scale_up(ordered, running, desired, deficit, preferences, tie_breaks)
    return _by_name(running), _by_name(overflow)


def _desired_plan(
    ordered: list[_Preference], total: int, keep_unschedulable: bool
) -> tuple[dict[str, int], dict[str, int]]:
    assigned: dict[str, int] = {}
    overflow: dict[str, int] = {}
    remaining = _assign_minimums(ordered, assigned, total, overflow, record_overflow=True)
    remaining = _weighted_rounds(ordered, assigned, remaining, overflow, True, None)
    if not keep_unschedulable:
        overflow = _trim_overflow(overflow, remaining)
    return assigned, overflow


def _scale_down(
    ordered: list[_Preference],
    running: dict[str, int],
    desired: Mapping[str, int],
    surplus: int,
    tie_breaks: Mapping[str, int],
) -> dict[str, int]:
    """Remove ``surplus`` replicas, only from clusters above their desired count."""
    shrinking = [
        _Preference(p.cluster, 0, running[p.cluster] - desired[p.cluster], running[p.cluster])
        for p in ordered
        if running[p.cluster] > desired[p.cluster]
    ]
    removed, _ = _desired_plan(_in_plan_order(shrinking, tie_breaks), surplus, False)
    return {cluster: count - removed.get(cluster, 0) for cluster, count in running.items()}


def _scale_up(
    ordered: list[_Preference],
    running: dict[str, int],
    desired: Mapping[str, int],
    deficit: int,
    preferences: Preferences,
    tie_breaks: Mapping[str, int],
) -> dict[str, int]:
    """Add ``deficit`` replicas, only to clusters below their desired count."""
    growing = []
    for p in ordered:
        count = running[p.cluster]
        if desired[p.cluster] > count:
            # KubeAdmiral reads the cluster's own entry here, without the "*" fallback.
            own_max = (preferences.get(p.cluster) or {}).get("maxReplicas")
            headroom = None if own_max is None else own_max - count
            growing.append(_Preference(p.cluster, 0, desired[p.cluster] - count, headroom))
    added, _ = _desired_plan(_in_plan_order(growing, tie_breaks), deficit, False)
    return {cluster: count + added.get(cluster, 0) for cluster, count in running.items()}


def _assign_minimums(
    ordered: list[_Preference],
    assigned: dict[str, int],
    remaining: int,
    overflow: dict[str, int],
    record_overflow: bool,
) -> int:
    """Give each cluster, in order, its minReplicas while replicas remain.

    Above the estimated capacity KubeAdmiral records the excess as overflow
    (``record_overflow``); KubeFed just gives less.
    """
    for pref in ordered:
        minimum = pref.min_replicas
        if minimum == 0:  # the common case, and nothing to cap
            assigned[pref.cluster] = 0
            continue
        minimum = _capped(min(minimum, remaining), pref.hard_cap)
        if pref.soft_cap is not None and minimum > pref.soft_cap:
            if record_overflow:
                overflow[pref.cluster] = minimum - pref.soft_cap
            minimum = pref.soft_cap
        assigned[pref.cluster] = minimum
        remaining -= minimum
    return remaining


def _weighted_rounds(
    ordered: list[_Preference],
    assigned: dict[str, int],
    remaining: int,
    overflow: dict[str, int],
    accumulate_overflow: bool,
    preallocated: dict[str, int] | None,
) -> int:
    """Hand out ``remaining`` by weight, round after round; return what is left.

    Each turn ends with a clamp to the caps; a clamped ("full") cluster sits out later
    rounds. What goes beyond the soft cap is overflow: KubeAdmiral adds it up over
    rounds (``accumulate_overflow``), KubeFed keeps the last excess. Replicas
    preallocated to a cluster pay for its share first.
    """
    in_play = ordered
    changed = True
    while changed and remaining > 0:
        changed = False
        weight_sum = sum(pref.weight for pref in in_play)
        if weight_sum <= 0:
            break
        to_distribute = remaining
        still_in_play = []
        for pref in in_play:
            cluster = pref.cluster
            start = assigned[cluster]
            extra = min((to_distribute * pref.weight + weight_sum - 1) // weight_sum, remaining)
            if preallocated:
                paid = min(extra, preallocated.get(cluster, 0))
                if paid > 0:
                    preallocated[cluster] -= paid
                    extra -= paid
                    changed = True
            granted = start + extra
            full = False
            if pref.hard_cap is not None and granted > pref.hard_cap:
                granted, full = pref.hard_cap, True
            if pref.soft_cap is not None and granted > pref.soft_cap:
                excess = granted - pref.soft_cap
                overflow[cluster] = excess + (
                    overflow.get(cluster, 0) if accumulate_overflow else 0
                )
                granted, full = pref.soft_cap, True
            if not full:
                still_in_play.append(pref)
            remaining -= granted - start
            assigned[cluster] = granted
            if granted > start:
                changed = True
            if remaining == 0:
                break  # later turns would add nothing, and no round follows
        in_play = still_in_play
    return remaining


def _trim_overflow(overflow: Mapping[str, int], unplaced: int) -> dict[str, int]:
    """Cap each overflow entry to the replicas nobody could take; drop zeros."""
    return {c: min(n, unplaced) for c, n in overflow.items() if min(n, unplaced) > 0}


def _ordered_preferences(
    clusters: Sequence[str],
    preferences: Preferences,
    key: str,
    hard_caps: Mapping[str, int],
    soft_caps: Mapping[str, int],
) -> tuple[list[_Preference], dict[str, int]]:
    """The clusters that have a preference, by weight descending then tie-break hash,
    and each one's tie-break hash."""
    if isinstance(preferences, PreparedPreferences):
        records, names, negated_weights, packed_names = preferences._records_for(clusters)
    else:
        records, names, negated_weights, packed_names = _Records.of(
            _parsed_records(clusters, preferences)
        )
    if hard_caps or soft_caps:
        records = [
            _with_caps(r, hard_caps.get(r.cluster), soft_caps.get(r.cluster)) for r in records
        ]
    hashes = _finish_hashes(packed_names, len(names), key)
    # Names are unique, so the records themselves are never compared.
    ordered = [r for *_, r in sorted(zip(negated_weights, hashes, names, records, strict=True))]
    return ordered, dict(zip(names, hashes, strict=True))


def _parsed_records(clusters: Sequence[str], preferences: Preferences) -> list[_Preference]:
    wildcard = preferences.get(_WILDCARD)
    records = []
    for cluster in clusters:
        entry = preferences.get(cluster)
        if entry is None:
            entry = wildcard
        if entry is not None:
            minimum, maximum, weight = _parse_entry(cluster, entry)
            records.append(_Preference(cluster, minimum, weight, maximum))
    return records


def _with_caps(record: _Preference, hard_cap: int | None, soft_cap: int | None) -> _Preference:
    hard_cap = _tighter(record.hard_cap, hard_cap)
    return _Preference(record.cluster, record.min_replicas, record.weight, hard_cap, soft_cap)


def _in_plan_order(prefs: list[_Preference], tie_breaks: Mapping[str, int]) -> list[_Preference]:
    return sorted(prefs, key=lambda p: (-p.weight, tie_breaks[p.cluster], p.cluster))


def _parse_entry(cluster: str, entry: Mapping[str, int | None]) -> tuple[int, int | None, int]:
    # One cheap test for the usual valid entry; the slow path finds what is wrong.
    if type(entry) is dict or isinstance(entry, Mapping):
        minimum = entry.get("minReplicas", 0)
        maximum = entry.get("maxReplicas")
        weight = entry.get("weight", 0)
        if (
            type(minimum) is int
            and type(weight) is int
            and 0 <= minimum < _UNLIMITED
            and 0 <= weight < _UNLIMITED
            and (maximum is None or (type(maximum) is int and minimum <= maximum < _UNLIMITED))
        ):
            return minimum, maximum, weight
    raise _invalid_entry(cluster, entry)


def _invalid_entry(cluster: str, entry: object) -> ValueError:
    if not isinstance(entry, Mapping):
        return ValueError(f"preferences for {cluster!r} must be a mapping, got {entry!r}")
    try:
        minimum = _count("minReplicas", entry.get("minReplicas", 0))
        _count("weight", entry.get("weight", 0))
        maximum = _count("maxReplicas", entry.get("maxReplicas"))
    except ValueError as problem:
        return ValueError(f"preferences for {cluster!r}: {problem}")
    return ValueError(
        f"preferences for {cluster!r}: minReplicas ({minimum}) > maxReplicas ({maximum})"
    )


def _capped(value: int, cap: int | None) -> int:
    return value if cap is None or value <= cap else cap


def _tighter(cap: int | None, other: int | None) -> int | None:
    return other if cap is None else _capped(cap, other)


def _count(name: str, value: object) -> int:
    """``value`` if it is a valid replica count (an int64 >= 0), else ValueError."""
    if type(value) is not int:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    if value >= _UNLIMITED:
        raise ValueError(f"{name} must fit in a signed 64-bit integer, got {value}")
    return value


def _checked_counts(name: str, counts: Mapping[str, int] | None) -> Mapping[str, int]:
    if not counts:
        return {}
    values = counts.values()
    # One pass in C for the usual valid map; the slow path names the bad entry.
    if set(map(type, values)) == {int} and min(values) >= 0 and max(values) < _UNLIMITED:
        return counts
    for cluster, value in counts.items():
        _count(f"{name}[{cluster!r}]", value)
    return counts


def _unique(clusters: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(clusters))


def _by_name(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))
