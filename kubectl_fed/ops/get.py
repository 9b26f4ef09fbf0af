"""`kubectl fed get`: the live objects of one type in the member clusters.

Members are listed concurrently; one that does not answer is a result with an error, not
a failure of the whole command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_fed.core.marks import ADOPTED_ANNOTATION, MANAGED_LABEL
from kubectl_fed.core.resources import Resource, UnknownType, resolve_type
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import path_for
from kubectl_fed.kube.errors import ApiError
from kubectl_fed.kube.host import Host
from kubectl_fed.ops.objects import Object, parallel


@dataclass
class GetRequest:
    type_text: str
    name: str | None
    namespace: str | None  # None: every namespace
    selector: str | None
    clusters: list[str] | None  # None: every member


@dataclass
class MemberObjects:
    """What one member holds of the requested type, or why it could not say."""

    cluster: str
    resource: Resource | None = None
    items: list[Object] = field(default_factory=list)
    error: str = ""
    unknown_type: bool = False  # answered, but does not serve the type


def get_objects(host: Host, request: GetRequest, timeout: float | None) -> list[MemberObjects]:
    """List the type in every chosen member concurrently. Unknown clusters and a type no
    answering member serves are FedErrors; an unreachable member is a result with an error."""
    clusters = chosen_clusters(host.clusters(), request.clusters)
    found = parallel(lambda c: _member_objects(host, c, request, timeout), clusters)
    answered = [f for f in found if f.resource is not None or f.unknown_type]
    if answered and all(f.unknown_type for f in answered):
        raise FedError(f'the members do not have a resource type "{request.type_text}"')
    return found


def chosen_clusters(clusters: list[Object], wanted: list[str] | None) -> list[Object]:
    if not clusters:
        raise FedError("no members joined: use `kubectl fed join`")
    by_name = {c["metadata"]["name"]: c for c in clusters}
    if wanted is None:
        return clusters
    for name in wanted:
        if name not in by_name:
            raise FedError(f"cluster {name!r} is not a member of this federation")
    return [by_name[name] for name in dict.fromkeys(wanted)]


def _member_objects(
    host: Host, cluster: Object, request: GetRequest, timeout: float | None
) -> MemberObjects:
    name = cluster["metadata"]["name"]
    try:
        kube = host.connect_member(cluster, timeout)
    except FedError as err:
        return MemberObjects(name, error=err.message)
    try:
        resource = resolve_type(kube.api_resources(), request.type_text)
        path = path_for(resource, request.namespace if resource["namespaced"] else None)
        items = kube.list_all(
            path,
            labelSelector=request.selector,
            fieldSelector=f"metadata.name={request.name}" if request.name else None,
        )
        return MemberObjects(name, resource, list(items))
    except UnknownType:
        return MemberObjects(name, error=f"does not serve {request.type_text!r}", unknown_type=True)
    except ApiError as err:
        return MemberObjects(name, error=err.message)
    finally:
        kube.close()


def managed_state(obj: Object) -> str:
    """yes / no / adopted, from the marks the sync stamps on member copies. kubectl-fed
    stamps `adopted` as a label; KubeAdmiral's annotation spelling is accepted too."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(MANAGED_LABEL) != "true":
        return "no"
    annotations = metadata.get("annotations") or {}
    adopted = "true" in (labels.get(ADOPTED_ANNOTATION), annotations.get(ADOPTED_ANNOTATION))
    return "adopted" if adopted else "yes"
