"""`kubectl fed diff`: members against their templates, like `kubectl diff` for one cluster."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.completion import complete_members
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import (
    bool_option,
    host_options,
    members_named,
    namespace_options,
    output_options,
    selection_of,
    settings,
)

if TYPE_CHECKING:
    from kubectl_fed.ops.diff import Difference

EXIT_DIFFERENCES, EXIT_ERROR = 1, 2


@click.command(
    cls=FedCommand,
    examples="""
    # Compare Deployment web in every member with what the federation says it should be
    kubectl fed diff deploy/web

    # Compare everything in every namespace, one line per difference
    kubectl fed diff -A -o table
    """,
)
@click.argument("references", nargs=-1, metavar="[TYPE[/NAME]...]")
@host_options
@namespace_options
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    shell_complete=complete_members,
    help="Only these members (repeatable).",
)
@output_options("unified", "json", "table")
@bool_option(
    "--server-side",
    "server_side",
    help_text="Compare through a server-side dry-run apply (exact); "
    "--server-side=false compares locally (fast).",
)
def diff(
    references: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    clusters: tuple[str, ...],
    output: str,
    no_headers: bool,
    server_side: bool,
) -> None:
    """Show where members differ from what the federation says.

    Shows where member objects differ from what the federation says they should be.

    Exit 0: no differences; 1: differences; >1: an error (an unreachable member is reported
    and makes the exit code 2, the other members are still compared).
    """
    from kubectl_fed.errors import FedError
    from kubectl_fed.ops.diff import DiffRequest
    from kubectl_fed.ops.diff import diff as do_diff
    from kubectl_fed.planning.plan import SyncOptions
    from kubectl_fed.planning.scope import Scope

    s = settings()
    host = s.host()
    try:
        host.require_api()
        scope = Scope(
            selection=selection_of(host, references),
            namespace=None if all_namespaces else s.namespace_for(namespace),
            clusters=members_named(host, clusters),
        )
        request = DiffRequest(scope, server_side)
        found = do_diff(host, SyncOptions(timeout=s.timeout), request)
    except FedError as err:
        raise FedError(err.message, EXIT_ERROR) from None
    several = all_namespaces or len({d.namespace for d in found}) > 1
    if output == "unified":
        _unified(found)
    elif output == "table":
        _table(found, no_headers, several)
    else:
        _json(found, output, no_headers)
    if any(d.state == "error" for d in found):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_DIFFERENCES if any(d.differs for d in found) else 0)


def _yaml(obj: Any) -> list[str]:
    import yaml

    # Sorted keys, as kubectl diff shows them: field order is not a difference.
    text = "" if obj is None else yaml.safe_dump(obj, sort_keys=True)
    return text.splitlines(keepends=True)


def _unified(found: list[Difference]) -> None:
    import difflib

    for item in found:
        if item.state == "error":
            click.echo(f"error: {item.cluster}: {_where(item)}: {item.message}", err=True)
        elif item.state == "not-managed":
            click.echo(f"# {item.cluster}: {_where(item)}: {item.message}")
        elif item.differs:
            label = f"{item.cluster} {_where(item)}"
            lines = difflib.unified_diff(
                _yaml(item.live), _yaml(item.wanted), f"{label} (live)", f"{label} (federation)"
            )
            click.echo(f"diff -u {label}")
            click.echo("".join(lines), nl=False)


def _where(item: Difference) -> str:
    return item.title + (f" -n {item.namespace}" if item.namespace else "")


def _json(found: list[Difference], output: str, no_headers: bool) -> None:
    from kubectl_fed.cli.terminal import echo
    from kubectl_fed.output import render_document

    report = [
        {
            **({"namespace": d.namespace} if d.namespace else {}),
            "object": d.title,
            "cluster": d.cluster,
            "state": d.state,
            "paths": d.paths,
            **({"message": d.message} if d.message else {}),
        }
        for d in found
        if d.state != "same"
    ]
    document = {"differences": report}
    echo(render_document(document, output, no_headers=no_headers, items_key="differences"), output)


def _table(found: list[Difference], no_headers: bool, several_namespaces: bool) -> None:
    from kubectl_fed.output import table

    rows = [
        [
            *([d.namespace or "<none>"] if several_namespaces else []),
            d.title,
            d.cluster,
            d.state,
            str(len(d.paths)),
            d.message,
        ]
        for d in found
    ]
    headers = [*(["NAMESPACE"] if several_namespaces else []), "OBJECT", "CLUSTER", "STATE"]
    headers += ["DIFFERENCES", "MESSAGE"]
    if rows:
        click.echo(table([] if no_headers else headers, rows))
