"""`kubectl fed get`: the live objects of a type across the member clusters."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.completion import complete_cluster_list, complete_get_types, complete_names
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.membership import list_clusters
from kubectl_fed.cli.settings import (
    CLUSTER_TYPES,
    host_options,
    namespace_options,
    namespace_scope,
    output_options,
    settings,
)
from kubectl_fed.cli.terminal import echo
from kubectl_fed.core.resources import describe
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.core.health import Health
    from kubectl_fed.core.resources import Resource
    from kubectl_fed.ops.get import MemberObjects

CLUSTER_ANNOTATION = "kubectl-fed.io/cluster"  # added to each item of `get -o json|yaml`
# Kinds whose READY column is readyReplicas/spec.replicas, as kubectl shows it.
READY_KINDS = ("Deployment", "ReplicaSet", "StatefulSet")


@click.command(
    cls=FedCommand,
    examples="""
    # The copies of Deployment web in every member
    kubectl fed get deployments web

    # The Deployments of member-1 only, in every namespace
    kubectl fed get deploy --clusters member-1 -A

    # The members (as kubectl fed clusters)
    kubectl fed get clusters
    """,
)
@click.argument("kind", metavar="TYPE", shell_complete=complete_get_types)
@click.argument("name", required=False, shell_complete=complete_names)
@host_options
@click.option(
    "--clusters",
    "cluster_list",
    metavar="A,B",
    shell_complete=complete_cluster_list,
    help="Only these members, comma-separated.",
)
@click.option("--all-clusters", is_flag=True, help="Every member (the default).")
@click.option("-l", "--selector", help="Label selector, as `kubectl get -l`.")
@namespace_options
@output_options()
@click.option("--refresh", is_flag=True, help="For clusters: probe every member first.")
def get(
    kind: str,
    name: str | None,
    cluster_list: str | None,
    all_clusters: bool,
    selector: str | None,
    namespace: str | None,
    all_namespaces: bool,
    output: str,
    no_headers: bool,
    refresh: bool,
) -> None:
    """List the live objects of TYPE in the members, like kubectl get.

    The live objects of TYPE in the member clusters, like `kubectl get` across them.

    Members are asked concurrently; each row says its CLUSTER, whether the federation
    MANAGED it (yes, no, or adopted), and for workloads, Jobs, Pods, Services, Ingresses
    and PVCs its HEALTH (Ready, Progressing, Failed, Unknown; -o wide adds the REASON).
    A member that does not answer is a row with a MESSAGE and makes the exit code 1
    (one that does not serve TYPE is a row too, but not an error). `-o json|yaml` prints
    a List whose items carry their cluster in the annotation kubectl-fed.io/cluster
    (added to the output only); `-o name` prints `cluster/CLUSTER TYPE.GROUP/NAME` lines.

    `kubectl fed get clusters` lists the members instead (as `kubectl fed clusters`).
    """
    if kind.lower() in CLUSTER_TYPES:
        if name or cluster_list or selector:
            raise FedError("`get clusters` takes no NAME, --clusters or -l")
        list_clusters(output, no_headers, refresh)
        return
    if refresh:
        raise FedError("--refresh applies to `get clusters` only")
    if cluster_list and all_clusters:
        raise FedError("--clusters and --all-clusters are mutually exclusive")
    namespace = settings().namespace_for(namespace)
    scope = namespace_scope(namespace, all_namespaces)
    found = _get_objects(kind, name, cluster_list, selector, scope)
    failed = any(f.error and not f.unknown_type for f in found)
    if not any(f.items for f in found) and not failed:
        _nothing_found(found, name, namespace, all_namespaces)
        return
    _print_objects(found, output, no_headers, all_namespaces)
    if failed:
        click.get_current_context().exit(1)


def _nothing_found(
    found: list[MemberObjects], name: str | None, namespace: str, all_namespaces: bool
) -> None:
    """As kubectl: a NAME found nowhere is an error; an empty list is only a note."""
    where = "" if all_namespaces else f" in {namespace} namespace"
    if name:
        resource = next(f.resource for f in found if f.resource)
        raise FedError(f'{describe(resource)} "{name}" not found in any member{where}')
    click.echo(f"No resources found{where}.", err=True)


def _get_objects(
    kind: str,
    name: str | None,
    cluster_list: str | None,
    selector: str | None,
    namespace: str | None,
) -> list[MemberObjects]:
    from kubectl_fed.ops.get import GetRequest, get_objects

    s = settings()
    wanted = [c.strip() for c in cluster_list.split(",") if c.strip()] if cluster_list else None
    return get_objects(s.host(), GetRequest(kind, name, namespace, selector, wanted), s.timeout)


def _print_objects(
    found: list[MemberObjects], output: str, no_headers: bool, all_namespaces: bool
) -> None:
    from kubectl_fed.output import render, render_document, templated

    rows = sorted(
        ((f.cluster, item, "") for f in found for item in f.items),
        key=lambda r: (_meta(r[1], "namespace"), _meta(r[1], "name"), r[0]),
    )
    failed = [(f.cluster, None, f.error) for f in found if f.error]
    if output in ("json", "yaml", "name") or templated(output):
        for cluster, _, error in failed:
            click.echo(f"error: {cluster}: {error}", err=True)
        if output == "name":
            echo("\n".join(_name_line(r) for r in rows))
        else:
            items = [_annotated(item, cluster) for cluster, item, _ in rows]
            document = {"apiVersion": "v1", "kind": "List", "items": items}
            echo(render_document(document, output, no_headers=no_headers), output)
        return
    resource = next((f.resource for f in found if f.resource), None)
    columns = _object_columns(resource, all_namespaces, with_message=bool(failed))
    echo(render([*rows, *failed], columns, output, no_headers=no_headers), output)


def _meta(obj: dict[str, Any] | None, key: str) -> str:
    return str(((obj or {}).get("metadata") or {}).get(key) or "")


def _annotated(obj: dict[str, Any], cluster: str) -> dict[str, Any]:
    """The output copy: its cluster as an annotation, managedFields hidden (as kubectl)."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), CLUSTER_ANNOTATION: cluster}
    head = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": metadata}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def _name_line(row: tuple[str, dict[str, Any], str]) -> str:
    from kubectl_fed.ops.objects import object_name

    cluster, item, _ = row
    return f"cluster/{cluster} " + object_name(
        str(item.get("apiVersion", "")), str(item.get("kind", "")), _meta(item, "name")
    )


def _object_columns(
    resource: Resource | None, all_namespaces: bool, with_message: bool
) -> list[Any]:
    from kubectl_fed.ops.get import managed_state
    from kubectl_fed.output import Column, age

    def on_item(pick: Callable[[dict[str, Any]], Any]) -> Callable[[Any], Any]:
        return lambda r: "-" if r[1] is None else pick(r[1])  # "-": a member error row

    from kubectl_fed.core.health import JUDGED

    namespaced = resource is None or resource["namespaced"]
    kind = (resource or {}).get("kind")
    judged = resource is not None and (resource["group"], kind) in JUDGED
    columns = [Column("NAMESPACE", on_item(lambda o: _meta(o, "namespace")))]
    columns = columns if all_namespaces and namespaced else []
    columns += [
        Column("NAME", on_item(lambda o: _meta(o, "name"))),
        Column("CLUSTER", lambda r: r[0]),
        Column("MANAGED", on_item(managed_state)),
    ]
    if kind in READY_KINDS:
        columns.append(Column("READY", on_item(_ready)))
    if judged:
        columns.append(Column("HEALTH", on_item(lambda o: _health(resource, o).state)))
    columns.append(Column("AGE", on_item(lambda o: age(_meta(o, "creationTimestamp")))))
    if judged:
        columns.append(
            Column("REASON", on_item(lambda o: _health(resource, o).reason), wide_only=True)
        )
    if kind in READY_KINDS:
        columns.append(Column("IMAGES", on_item(_images), wide_only=True))
    if with_message:
        columns.append(Column("MESSAGE", lambda r: r[2]))
    return columns


def _health(resource: Resource | None, obj: dict[str, Any]) -> Health:
    from kubectl_fed.core.health import health_of

    assert resource is not None
    return health_of(resource["group"], resource["kind"], obj)


def _ready(obj: dict[str, Any]) -> str:
    ready = (obj.get("status") or {}).get("readyReplicas") or 0
    wanted = (obj.get("spec") or {}).get("replicas")
    return f"{ready}/{1 if wanted is None else wanted}"


def _images(obj: dict[str, Any]) -> str:
    from kubectl_fed.core.objects import field_at

    containers = field_at(obj, "spec", "template", "spec", "containers") or []
    return ",".join(str(c.get("image", "")) for c in containers)
