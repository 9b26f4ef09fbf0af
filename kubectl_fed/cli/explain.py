"""`kubectl fed explain`: why a federated object is where it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.completion import complete_references
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import (
    host_options,
    namespace_option,
    parse_reference,
    resolve_kind,
    settings,
)
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.ops.explain import Explanation


@click.command(
    cls=FedCommand,
    examples="""
    # Why Deployment web is where it is, and how its replicas were divided
    kubectl fed explain deploy/web

    # The same, as YAML
    kubectl fed explain deploy/web -n default -o yaml
    """,
)
@click.argument("reference", metavar="TYPE/NAME", shell_complete=complete_references)
@host_options
@namespace_option
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True
)
def explain(reference: str, namespace: str | None, output: str) -> None:
    """Why a federated object is where it is.

    The policy that applies; every member, chosen or not, and why (selector, affinity,
    taint, not ready, API missing, maxClusters, placement allow-list); the replicas each
    gets and how they were divided; the overrides each gets; whether rescheduling is
    deferred and why. This is what a sync would decide now: nothing is written.
    """
    from kubectl_fed.ops.explain import explain as do_explain
    from kubectl_fed.output import dump
    from kubectl_fed.planning.plan import SyncOptions

    kind, name = parse_reference(reference)
    if not name:
        raise FedError(f"expected TYPE/NAME, e.g. deployment/web, not {reference!r}")
    s = settings()
    host = s.host()
    namespace = s.namespace_for(namespace)
    host.require_api()
    resource = resolve_kind(host, kind)
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
