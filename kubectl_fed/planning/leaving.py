"""Objects leaving the federation: what their templates say now."""

from __future__ import annotations

from kubectl_fed.core.federated_types import UNKNOWN_KIND
from kubectl_fed.core.marks import ORPHAN_ANNOTATION
from kubectl_fed.core.objects import Object, key_of
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.host import Host
from kubectl_fed.planning.plan import Plan, controller_ref


def refresh_orphaning(host: Host, leaving: list[Plan]) -> None:
    """An object leaving because its template lost its policy label: whether its copies
    are orphaned is what the template says now (the annotation may be added in the same
    edit), not what its FederatedObject recorded at the last pass. One GET per such
    object; a template that is gone leaves the recorded answer."""
    for plan in leaving:
        if plan.fo["metadata"].get("deletionTimestamp") or plan.ftype.kind == UNKNOWN_KIND:
            continue
        template = _template_now(host, plan)
        owner = controller_ref(plan.fo) or {}
        if template is None or template["metadata"].get("uid") != owner.get("uid"):
            continue  # gone, or another object of that name
        now = ((template.get("metadata") or {}).get("annotations") or {}).get(ORPHAN_ANNOTATION)
        annotations = plan.fo["metadata"].setdefault("annotations", {})
        if now is None:
            annotations.pop(ORPHAN_ANNOTATION, None)
        else:
            annotations[ORPHAN_ANNOTATION] = now


def _template_now(host: Host, plan: Plan) -> Object | None:
    namespace, name = key_of(plan.template)
    try:
        found: Object = host.kube.get(path_for(plan.ftype.resource, namespace or None, name))
        return found
    except NotFound:
        return None
