"""What every aggregation reads: the member copies' statuses of one template, which of them
run its latest version, and the template as it is now."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Collected:
    """The inputs of one template's aggregation.

    `placed`: every cluster the template is placed on, sorted. `statuses`: the placed
    clusters whose copy was read, each with the copy's status (None: no status yet); a
    member that does not answer, or has no copy yet, is absent. `current`: a cluster runs
    the latest template and its controller has observed it. `generation` and `previous`:
    the template's `metadata.generation` (None: not tracked) and `status` as they are now.
    `spec`: the template's spec (a Service's type). `now`: the time written into
    conditions that change.
    """

    placed: tuple[str, ...]
    statuses: Mapping[str, Object | None]
    current: Mapping[str, bool] = field(default_factory=dict)
    generation: int | None = None
    previous: Mapping[str, Any] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    now: str = ""

    def reported(self) -> list[tuple[str, Object]]:
        """(cluster, status) of the placed clusters that reported one, by cluster name."""
        return [(c, s) for c in self.placed if (s := self.statuses.get(c))]

    @property
    def all_current(self) -> bool:
        """Every placed cluster runs the latest template and has observed it (trivially so
        when placed nowhere)."""
        return all(self.current.get(cluster, False) for cluster in self.placed)


Aggregator = Callable[[Collected], "Object | None"]


def summed(collected: Collected, fields: Iterable[str]) -> Object:
    """Each count summed over the clusters that report it; a count none reports is left
    out (a reported 0 stays)."""
    reported = [status for _, status in collected.reported()]
    sums: Object = {}
    for name in fields:
        values = [s[name] for s in reported if isinstance(s.get(name), int)]
        if values:
            sums[name] = sum(values)
    return sums


def observed_generation(collected: Collected) -> int | None:
    """The template's generation once every placed cluster is current, else what the
    template already said (KubeAdmiral keeps the old value): rollout waiters comparing
    generation with observedGeneration keep waiting until the members have caught up."""
    if collected.generation is not None and collected.all_current:
        return collected.generation
    previous = collected.previous.get("observedGeneration")
    return previous if isinstance(previous, int) else None


def conditions_of(status: Mapping[str, Any] | None) -> dict[str, Object]:
    found = (status or {}).get("conditions") or []
    return {str(c.get("type")): c for c in found if isinstance(c, dict) and c.get("type")}


def settled(new: Object, previous: Mapping[str, Any] | None, now: str, updated: bool) -> Object:
    """A condition with its times kept from the previous one of its type when nothing it
    says changed, so that an unchanged federation writes nothing: `lastTransitionTime`
    moves when the status does, `lastUpdateTime` (when `updated`) when anything does."""
    old = previous or {}
    same_status = old.get("status") == new["status"]
    same = same_status and all(old.get(k) == new.get(k) for k in ("reason", "message"))
    result = dict(new)
    if updated:
        result["lastUpdateTime"] = old.get("lastUpdateTime", now) if same else now
    result["lastTransitionTime"] = old.get("lastTransitionTime", now) if same_status else now
    return result


def cluster_list(clusters: Iterable[str]) -> str:
    """`[c1,c2]`, as KubeAdmiral's messages name clusters."""
    return "[" + ",".join(sorted(clusters)) + "]"
