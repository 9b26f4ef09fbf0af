"""`kubectl fed status`: propagation status of federated objects, per member cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.completion import complete_references
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import (
    host_options,
    namespace_options,
    namespace_scope,
    output_options,
    parse_reference,
    resolve_kind,
    settings,
)
from kubectl_fed.cli.terminal import echo, paint, paint_status
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.kube.host import Host
    from kubectl_fed.ops.status import ClusterState, ObjectState, Selector

TABLE_MESSAGE_WIDTH = 120


@click.command(
    cls=FedCommand,
    examples="""
    # Propagation status of Deployment web
    kubectl fed status deploy/web

    # One line per object and member, in every namespace
    kubectl fed status -A -o wide
    """,
)
@click.argument(
    "references", nargs=-1, metavar="[TYPE[/NAME]...]", shell_complete=complete_references
)
@host_options
@namespace_options
@output_options()
def status(
    references: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    output: str,
    no_headers: bool,
) -> None:
    """Propagation status of federated objects, per member cluster.

    table: one line per object (CLUSTERS OK, READY ready/desired summed over the
    members, HEALTH the worst of its copies', SYNCED); wide: one line per object and
    cluster (STATUS is the per-cluster code, HEALTH Ready, Progressing, Failed or
    Unknown with the member's REASON); json/yaml: everything; name: the templates
    (deployment.apps/web). Member copies are read live from every member, concurrently;
    a member that does not answer shows its error. Exit 1 when any object or cluster is
    not OK, or a copy has Failed (e.g. ProgressDeadlineExceeded).
    """
    from kubectl_fed.ops.status import status as read_status

    s = settings()
    host = s.host()
    namespace = s.namespace_for(namespace)
    host.require_api()
    selectors = [_selector(host, r) for r in references]
    states = read_status(host, selectors, namespace_scope(namespace, all_namespaces), s.timeout)
    _require_named(selectors, states, namespace, all_namespaces)
    if not states:
        where = "" if all_namespaces else f" in {namespace} namespace"
        click.echo(f"No federated objects found{where}.", err=True)
        return
    _print_status(states, output, no_headers, all_namespaces)
    if not all(state.ok and state.healthy for state in states):
        click.get_current_context().exit(1)


def _selector(host: Host, reference: str) -> Selector:
    from kubectl_fed.ops.status import Selector

    kind, name = parse_reference(reference)
    resource = resolve_kind(host, kind)
    return Selector(resource["group"], resource["kind"], name)


def _require_named(
    selectors: list[Selector], states: list[ObjectState], namespace: str, all_namespaces: bool
) -> None:
    """A TYPE/NAME that matches no federated object is an error, as in `kubectl get`."""
    for selector in selectors:
        if selector.name is None:
            continue
        if not any(s.object == selector.title for s in states):
            where = "" if all_namespaces else f" in namespace {namespace}"
            raise FedError(f"{selector.title} is not federated{where} (no FederatedObject for it)")


def _print_status(
    states: list[ObjectState], output: str, no_headers: bool, all_namespaces: bool
) -> None:
    from kubectl_fed.output import Column, age, render

    namespace_column = [Column("NAMESPACE", lambda r: r[0].namespace)] if all_namespaces else []
    if output == "wide":
        rows = [(o, c) for o in states for c in _clusters_or_none(o)]
        object_column = Column("OBJECT", lambda r: r[0].object)
        columns = [*namespace_column, object_column, *_cluster_columns()]
        echo(render(rows, columns, output, no_headers=no_headers), output)
        return
    summary = [
        *namespace_column,
        Column("OBJECT", lambda r: r[0].object),
        Column("CLUSTERS OK", lambda r: _paint_unless(r[0].clusters_ok, r[0].ok)),
        Column("READY", lambda r: r[0].replicas),
        Column("HEALTH", lambda r: _paint_health(r[0].health)),
        Column("SYNCED", lambda r: _tristate(r[0].synced)),
        Column("AGE", lambda r: age(r[0].created)),
        Column("MESSAGE", lambda r: _short(r[0].message, output)),
    ]
    echo(
        render(
            [(o, None) for o in states],
            summary,
            output,
            no_headers=no_headers,
            as_object=lambda r: r[0].as_dict(),
            name_of=lambda r: r[0].object,
        ),
        output,
    )


def _clusters_or_none(state: ObjectState) -> list[ClusterState | None]:
    """An object placed nowhere still gets its line in wide output."""
    return [*state.clusters] if state.clusters else [None]


def _paint_unless(text: str, ok: bool) -> str:
    return text if ok else paint(text, "red")


def _cluster_columns() -> list[Any]:
    from kubectl_fed.output import Column, age

    def cell(pick: Callable[[ObjectState, ClusterState], Any], fallback: Any) -> Any:
        return lambda r: fallback(r[0]) if r[1] is None else pick(r[0], r[1])

    return [
        Column("CLUSTER", cell(lambda o, c: c.cluster, lambda o: None)),
        Column("STATUS", cell(lambda o, c: paint_status(c.status), lambda o: None)),
        Column("READY", cell(lambda o, c: c.replicas, lambda o: None)),
        Column("HEALTH", cell(lambda o, c: _paint_health(_state(c)), lambda o: None)),
        Column("REASON", cell(lambda o, c: c.health.reason if c.health else None, lambda o: None)),
        Column("SYNCED", cell(lambda o, c: _tristate(c.synced), lambda o: _tristate(o.synced))),
        Column("AGE", cell(lambda o, c: age(c.created), lambda o: age(o.created))),
        Column("MESSAGE", cell(lambda o, c: _cluster_message(c), lambda o: o.message)),
    ]


def _state(cluster: ClusterState) -> str | None:
    return cluster.health.state if cluster.health else None


def _cluster_message(cluster: ClusterState) -> str:
    """What the sync recorded, else why the copy is not Ready."""
    if cluster.message or cluster.health is None or cluster.health.state == "Ready":
        return cluster.message
    return cluster.health.message


def _paint_health(state: str | None) -> str | None:
    colour = {"Ready": "green", "Progressing": "yellow", "Failed": "red", "Unknown": "red"}
    return paint(state, colour[state]) if state in colour else state


def _short(message: str, output: str) -> str:
    """On a terminal, table mode keeps rows on one screen line; wide, and any output that
    is not a terminal (a pipe, a file: someone reads or greps it whole), shows it whole."""
    import sys

    if output == "wide" or len(message) <= TABLE_MESSAGE_WIDTH or not sys.stdout.isatty():
        return message
    return message[: TABLE_MESSAGE_WIDTH - 3] + "..."


def _tristate(value: bool | None) -> str:
    return {True: "True", False: "False", None: "Unknown"}[value]
