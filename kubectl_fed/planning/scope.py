"""Which objects and clusters a command covers: `sync` and `diff` take TYPE[/NAME]...,
-n, -l and --cluster. Everything, by default."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_fed.core.federated_types import UNKNOWN_KIND
from kubectl_fed.core.labels import Requirement, selector_matches
from kubectl_fed.core.objects import key_of
from kubectl_fed.planning.plan import Plan, is_namespace

# (API group, kind, name): name None covers every object of the kind.
Selection = frozenset[tuple[str, str, str | None]]


@dataclass(frozen=True)
class Scope:
    selection: Selection | None = None  # None: every kind
    # None: every namespace; else that one, with the cluster-scoped objects but Namespaces
    namespace: str | None = None
    selector: tuple[Requirement, ...] = ()  # on the template's labels
    clusters: frozenset[str] | None = None  # None: every member

    @property
    def everything(self) -> bool:
        return self == Scope()

    def covers(self, plan: Plan) -> bool:
        """Whether the object of a plan is in scope (its kind, name, namespace, labels)."""
        if plan.ftype.kind == UNKNOWN_KIND:
            return self.selection is None and self.namespace is None and not self.selector
        namespace, name = key_of(plan.template)
        if self.selection is not None:
            kind = (plan.ftype.group, plan.ftype.kind)
            if (*kind, None) not in self.selection and (*kind, name) not in self.selection:
                return False
        if self.namespace is not None and namespace not in (self.namespace, ""):
            return False
        if self.namespace is not None and self.selection is None and is_namespace(plan):
            return False  # as `kubectl get -n`: a namespace is not in a namespace (name it)
        source = plan.native.obj if plan.native is not None else plan.template
        labels = (source.get("metadata") or {}).get("labels") or {}
        return selector_matches(self.selector, labels)

    def covers_cluster(self, cluster: str) -> bool:
        return self.clusters is None or cluster in self.clusters
