"""Troubleshooting commands, all read-only: status, get, explain, doctor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

from kubectl_fed.cli.clusters import CLUSTER_TYPES, complete_members, list_clusters
from kubectl_fed.cli.settings import Settings, host_options, output_options, settings
from kubectl_fed.core.resources import describe
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.core.resources import Resource
    from kubectl_fed.kube.host import Host
    from kubectl_fed.ops.inspect import (
        Check,
        ClusterState,
        Explanation,
        MemberObjects,
        ObjectState,
        Selector,
    )

F = TypeVar("F", bound=Callable[..., Any])
CLUSTER_ANNOTATION = "kubectl-fed.io/cluster"  # added to each item of `get -o json|yaml`
TABLE_MESSAGE_WIDTH = 120
# Kinds whose READY column is readyReplicas/spec.replicas, as kubectl shows it.
READY_KINDS = ("Deployment", "ReplicaSet", "StatefulSet")
STATUS_COLOURS = {"OK": "green", "WARN": "yellow", "FAIL": "red"}


# --------------------------------------------------------------------------- shared


def namespace_options(function: F) -> F:
    function = click.option(
        "-A", "--all-namespaces", is_flag=True, help="Every namespace (adds a NAMESPACE column)."
    )(function)
    return click.option("-n", "--namespace", default="default", show_default=True)(function)


def _scope(namespace: str, all_namespaces: bool) -> str | None:
    return None if all_namespaces else namespace


def _resolve(host: Host, text: str) -> Resource:
    from kubectl_fed.core.resources import UnknownType, resolve_type

    try:
        return resolve_type(host.kube.api_resources(), text)
    except UnknownType as err:
        raise FedError(str(err)) from None


def _split(reference: str) -> tuple[str, str | None]:
    from kubectl_fed.core.resources import UnknownType, split_reference

    try:
        return split_reference(reference)
    except UnknownType as err:
        raise FedError(str(err)) from None


def _short(message: str, output: str) -> str:
    """Table mode keeps rows on one screen line; wide shows messages whole."""
    if output == "wide" or len(message) <= TABLE_MESSAGE_WIDTH:
        return message
    return message[: TABLE_MESSAGE_WIDTH - 3] + "..."


def _paint_status(text: str) -> str:
    from kubectl_fed.output import paint

    return paint(text, STATUS_COLOURS.get(text, "red")) if text else text


def _tristate(value: bool | None) -> str:
    return {True: "True", False: "False", None: "Unknown"}[value]


# --------------------------------------------------------------------------- completion


def complete_types(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Federated type names (plural), known without asking any server."""
    from kubectl_fed.planning.types import default_types

    names = sorted(t.plural for t in default_types())
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_get_types(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    found = complete_types(ctx, param, incomplete)
    if "clusters".startswith(incomplete):
        found.insert(0, CompletionItem("clusters"))
    return found


def complete_references(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """TYPE, then TYPE/NAME with the names of that type's federated templates."""
    if "/" not in incomplete:
        return complete_types(ctx, param, incomplete)
    kind, _, prefix = incomplete.partition("/")
    names = _template_names(ctx, kind)
    return [CompletionItem(f"{kind}/{n}") for n in names if n.startswith(prefix)]


def complete_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    kind = str(ctx.params.get("kind") or "")
    if not kind or kind.lower() in CLUSTER_TYPES:
        return []
    return [CompletionItem(n) for n in _template_names(ctx, kind) if n.startswith(incomplete)]


def complete_cluster_list(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """`--clusters a,b,<TAB>`: complete the last member name, keep the ones before."""
    done, _, last = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    chosen = set(done.split(","))
    names = [i.value for i in complete_members(ctx, param, last) if i.value not in chosen]
    return [CompletionItem(prefix + name) for name in names]


def _template_names(ctx: click.Context, kind: str) -> list[str]:
    """Names of federated templates of a type, when the host answers quickly."""
    from kubectl_fed.ops.inspect import Selector, federated_objects

    s = ctx.ensure_object(Settings)
    try:
        s.request_timeout = s.request_timeout or "2s"
        host = s.host()
        resource = _resolve(host, kind)
        selector = Selector(resource["group"], resource["kind"])
        namespace = None if ctx.params.get("all_namespaces") else ctx.params.get("namespace")
        templates = [
            (fo.get("spec") or {}).get("template") or {}
            for fo in federated_objects(host, namespace or "default")
        ]
        return sorted({t["metadata"]["name"] for t in templates if selector.matches(t)})
    except Exception:  # completion must never fail loudly
        return []


# --------------------------------------------------------------------------- status


@click.command()
@click.argument(
    "references", nargs=-1, metavar="[TYPE[/NAME]...]", shell_complete=complete_references
)
@host_options
@namespace_options
@output_options()
def status(
    references: tuple[str, ...],
    namespace: str,
    all_namespaces: bool,
    output: str,
    no_headers: bool,
) -> None:
    """Propagation status of federated objects, per member cluster.

    table: one line per object (CLUSTERS OK, REPLICAS scheduled/ready summed over the
    members, SYNCED); wide: one line per object and cluster (STATUS is the per-cluster
    code); json/yaml: everything; name: the templates (deployment.apps/web).
    Ready replicas are read live from every member, concurrently; a member that does not
    answer shows its error. Exit 1 when any object or cluster is not OK.
    """
    from kubectl_fed.ops.inspect import status as read_status

    s = settings()
    host = s.host()
    host.require_api()
    selectors = [_selector(host, r) for r in references]
    states = read_status(host, selectors, _scope(namespace, all_namespaces), s.timeout)
    _require_named(selectors, states, namespace, all_namespaces)
    if not states:
        where = "" if all_namespaces else f" in {namespace} namespace"
        click.echo(f"No federated objects found{where}.", err=True)
        return
    _print_status(states, output, no_headers, all_namespaces)
    if not all(state.ok for state in states):
        click.get_current_context().exit(1)


def _selector(host: Host, reference: str) -> Selector:
    from kubectl_fed.ops.inspect import Selector

    kind, name = _split(reference)
    resource = _resolve(host, kind)
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
    from kubectl_fed.output import Column, age, echo, render

    namespace_column = [Column("NAMESPACE", lambda r: r[0].namespace)] if all_namespaces else []
    if output == "wide":
        rows = [(o, c) for o in states for c in _clusters_or_none(o)]
        object_column = Column("OBJECT", lambda r: r[0].object)
        columns = [*namespace_column, object_column, *_cluster_columns()]
        echo(render(rows, columns, output, no_headers=no_headers))
        return
    summary = [
        *namespace_column,
        Column("OBJECT", lambda r: r[0].object),
        Column("CLUSTERS OK", lambda r: _paint_unless(r[0].clusters_ok, r[0].ok)),
        Column("REPLICAS", lambda r: r[0].replicas),
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
        )
    )


def _clusters_or_none(state: ObjectState) -> list[ClusterState | None]:
    """An object placed nowhere still gets its line in wide output."""
    return [*state.clusters] if state.clusters else [None]


def _paint_unless(text: str, ok: bool) -> str:
    from kubectl_fed.output import paint

    return text if ok else paint(text, "red")


def _cluster_columns() -> list[Any]:
    from kubectl_fed.output import Column, age

    def cell(pick: Callable[[ObjectState, ClusterState], Any], fallback: Any) -> Any:
        return lambda r: fallback(r[0]) if r[1] is None else pick(r[0], r[1])

    return [
        Column("CLUSTER", cell(lambda o, c: c.cluster, lambda o: None)),
        Column("STATUS", cell(lambda o, c: _paint_status(c.status), lambda o: None)),
        Column("REPLICAS", cell(lambda o, c: c.replicas, lambda o: None)),
        Column("SYNCED", cell(lambda o, c: _tristate(c.synced), lambda o: _tristate(o.synced))),
        Column("AGE", cell(lambda o, c: age(c.created), lambda o: age(o.created))),
        Column("MESSAGE", cell(lambda o, c: c.message, lambda o: o.message)),
    ]


# --------------------------------------------------------------------------- get


@click.command()
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
    namespace: str,
    all_namespaces: bool,
    output: str,
    no_headers: bool,
    refresh: bool,
) -> None:
    """The live objects of TYPE in the member clusters, like `kubectl get` across them.

    Members are asked concurrently; each row says its CLUSTER and whether the federation
    MANAGED it (yes, no, or adopted). A member that does not answer is a row with a
    MESSAGE and makes the exit code 1 (one that does not serve TYPE is a row too, but
    not an error). `-o json|yaml` prints a List
    whose items carry their cluster in the annotation kubectl-fed.io/cluster (added to
    the output only); `-o name` prints `cluster/CLUSTER TYPE.GROUP/NAME` lines.

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
    found = _get_objects(kind, name, cluster_list, selector, _scope(namespace, all_namespaces))
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
    from kubectl_fed.ops.inspect import GetRequest, get_objects

    s = settings()
    wanted = [c.strip() for c in cluster_list.split(",") if c.strip()] if cluster_list else None
    return get_objects(s.host(), GetRequest(kind, name, namespace, selector, wanted), s.timeout)


def _print_objects(
    found: list[MemberObjects], output: str, no_headers: bool, all_namespaces: bool
) -> None:
    from kubectl_fed.output import dump, echo, render

    rows = sorted(
        ((f.cluster, item, "") for f in found for item in f.items),
        key=lambda r: (_meta(r[1], "namespace"), _meta(r[1], "name"), r[0]),
    )
    failed = [(f.cluster, None, f.error) for f in found if f.error]
    if output in ("json", "yaml", "name"):
        for cluster, _, error in failed:
            click.echo(f"error: {cluster}: {error}", err=True)
        if output == "name":
            echo("\n".join(_name_line(r) for r in rows))
        else:
            items = [_annotated(item, cluster) for cluster, item, _ in rows]
            echo(dump({"apiVersion": "v1", "kind": "List", "items": items}, output))
        return
    resource = next((f.resource for f in found if f.resource), None)
    columns = _object_columns(resource, all_namespaces, with_message=bool(failed))
    echo(render([*rows, *failed], columns, output, no_headers=no_headers))


def _meta(obj: dict[str, Any] | None, key: str) -> str:
    return str(((obj or {}).get("metadata") or {}).get(key) or "")


def _annotated(obj: dict[str, Any], cluster: str) -> dict[str, Any]:
    """The output copy: its cluster as an annotation, managedFields hidden (as kubectl)."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), CLUSTER_ANNOTATION: cluster}
    head = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": metadata}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def _name_line(row: tuple[str, dict[str, Any], str]) -> str:
    from kubectl_fed.ops.inspect import object_name

    cluster, item, _ = row
    return f"cluster/{cluster} " + object_name(
        str(item.get("apiVersion", "")), str(item.get("kind", "")), _meta(item, "name")
    )


def _object_columns(
    resource: Resource | None, all_namespaces: bool, with_message: bool
) -> list[Any]:
    from kubectl_fed.ops.inspect import managed_state
    from kubectl_fed.output import Column, age

    def on_item(pick: Callable[[dict[str, Any]], Any]) -> Callable[[Any], Any]:
        return lambda r: "-" if r[1] is None else pick(r[1])  # "-": a member error row

    namespaced = resource is None or resource["namespaced"]
    kind = (resource or {}).get("kind")
    columns = [Column("NAMESPACE", on_item(lambda o: _meta(o, "namespace")))]
    columns = columns if all_namespaces and namespaced else []
    columns += [
        Column("NAME", on_item(lambda o: _meta(o, "name"))),
        Column("CLUSTER", lambda r: r[0]),
        Column("MANAGED", on_item(managed_state)),
    ]
    if kind in READY_KINDS:
        columns.append(Column("READY", on_item(_ready)))
    columns.append(Column("AGE", on_item(lambda o: age(_meta(o, "creationTimestamp")))))
    if kind in READY_KINDS:
        columns.append(Column("IMAGES", on_item(_images), wide_only=True))
    if with_message:
        columns.append(Column("MESSAGE", lambda r: r[2]))
    return columns


def _ready(obj: dict[str, Any]) -> str:
    ready = (obj.get("status") or {}).get("readyReplicas") or 0
    wanted = (obj.get("spec") or {}).get("replicas")
    return f"{ready}/{1 if wanted is None else wanted}"


def _images(obj: dict[str, Any]) -> str:
    from kubectl_fed.ops.inspect import value_at

    containers = value_at(obj, ("spec", "template", "spec", "containers")) or []
    return ",".join(str(c.get("image", "")) for c in containers)


# --------------------------------------------------------------------------- explain


@click.command()
@click.argument("reference", metavar="TYPE/NAME", shell_complete=complete_references)
@host_options
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True
)
def explain(reference: str, namespace: str, output: str) -> None:
    """Why a federated object is where it is.

    The policy that applies; every member, chosen or not, and why (selector, affinity,
    taint, not ready, API missing, maxClusters, placement allow-list); the replicas each
    gets and how they were divided; the overrides each gets; whether rescheduling is
    deferred and why. This is what a sync would decide now: nothing is written.
    """
    from kubectl_fed.ops.inspect import explain as do_explain
    from kubectl_fed.output import dump
    from kubectl_fed.planning.plan import SyncOptions

    kind, name = _split(reference)
    if not name:
        raise FedError(f"expected TYPE/NAME, e.g. deployment/web, not {reference!r}")
    s = settings()
    host = s.host()
    host.require_api()
    resource = _resolve(host, kind)
    found = do_explain(host, SyncOptions(timeout=s.timeout), resource, namespace, name)
    if output == "text":
        click.echo(explanation_text(found))
    else:
        click.echo(dump(found.as_dict(), output))


def explanation_text(found: Explanation) -> str:
    """The explanation as sections a person reads top to bottom."""
    lines = [
        f"Object:       {found.object}"
        + (f" in namespace {found.namespace}" if found.namespace else ""),
        f"Federated as: {found.federated_object}"
        + ("" if found.federated_object_exists else " (does not exist yet)"),
        f"Policy:       {found.policy}",
        *(f"  {line}" for line in found.policy_lines),
    ]
    if found.override_policies:
        lines.append(f"Overrides by: {', '.join(found.override_policies)}")
    lines += ["", "Clusters:", *_indent(_choices_table(found))]
    lines += _pending_lines(found)
    lines += ["", "Replicas:", *_indent(found.replicas)]
    lines += ["", "Overrides:", *_indent(_override_lines(found))]
    if found.rescheduling:
        lines += ["", "Rescheduling:", *_indent(found.rescheduling)]
    for title, items in (("Errors:", found.errors), ("Warnings:", found.warnings)):
        if items:
            lines += ["", title, *_indent(items)]
    return "\n".join(lines)


def _indent(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def _choices_table(found: Explanation) -> list[str]:
    from kubectl_fed.output import table

    rows = [
        [
            c.cluster,
            "yes" if c.chosen else "no",
            "-" if c.replicas is None else str(c.replicas),
            f"{c.code}: {c.message}" + (" (does not answer now)" if c.unreachable else ""),
        ]
        for c in found.clusters
    ]
    return table(["CLUSTER", "CHOSEN", "REPLICAS", "REASON"], rows).splitlines()


def _pending_lines(found: Explanation) -> list[str]:
    adding = [c.cluster for c in found.clusters if c.chosen and not c.placed]
    removing = [c.cluster for c in found.clusters if c.placed and not c.chosen]
    if not found.federated_object_exists or not (adding or removing):
        return []
    changes = []
    if adding:
        changes.append(f"add {', '.join(adding)}")
    if removing:
        changes.append(f"remove {', '.join(removing)}")
    return [f"  The next sync would {' and '.join(changes)}."]


def _override_lines(found: Explanation) -> list[str]:
    lines = []
    for choice in (c for c in found.clusters if c.chosen):
        if choice.override_error:
            lines.append(f"{choice.cluster}: cannot apply: {choice.override_error}")
        elif not choice.overrides:
            lines.append(f"{choice.cluster}: none")
        else:
            lines.append(f"{choice.cluster}:")
            lines += [f"  {_patch_text(p)}" for p in choice.overrides]
    return lines or ["none: no cluster chosen"]


def _patch_text(patch: dict[str, Any]) -> str:
    import json

    value = f" {json.dumps(patch['value'])}" if "value" in patch else ""
    return f"{patch.get('op', 'replace')} {patch.get('path')}{value}   [{patch.get('source')}]"


# --------------------------------------------------------------------------- doctor


@click.command()
@host_options
@output_options()
def doctor(output: str, no_headers: bool) -> None:
    """Check the federation: host, CRDs, fed namespace, the permissions sync needs, every
    member (reachable, credentials, version skew), the sync lease, unsynced objects and
    templates whose policy is missing. Exit 1 on any FAIL (WARN does not fail)."""
    from kubectl_fed.ops.inspect import FAIL, Check
    from kubectl_fed.ops.inspect import doctor as run_checks
    from kubectl_fed.output import Column, echo, render

    s = settings()
    try:
        host = s.host()
    except FedError as err:  # a broken kubeconfig is the first finding, not a crash
        checks = [Check("host", FAIL, err.message)]
    else:
        checks = run_checks(host, s.timeout)
    columns = [
        Column("CHECK", lambda c: c.name),
        Column("STATUS", lambda c: _paint_status(c.status)),
        Column("DETAIL", lambda c: c.detail),
    ]
    echo(
        render(
            checks,
            columns,
            output,
            no_headers=no_headers,
            as_object=_check_dict,
            name_of=lambda c: f"check/{c.name.replace(' ', '-')}",
        )
    )
    if any(c.status == FAIL for c in checks):
        click.get_current_context().exit(1)


def _check_dict(check: Check) -> dict[str, Any]:
    return check.as_dict()
