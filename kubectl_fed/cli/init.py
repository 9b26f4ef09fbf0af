"""`kubectl fed init`."""

from __future__ import annotations

import click

from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import dry_run_option, host_options, settings


@click.command(
    cls=FedCommand,
    examples="""
    # Install the federation API in the cluster of context host; remember it as the host
    kubectl fed init --context host

    # Print everything init would apply, apply nothing
    kubectl fed init --dry-run=client -o yaml
    """,
)
@host_options
@dry_run_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "yaml", "json"]),
    default="text",
    help="With --dry-run=client: print the objects init would apply.",
)
@click.option(
    "--v1-compat/--no-v1-compat",
    default=None,
    help="Federation v1 compatibility: every ReplicaSet and Deployment without a policy "
    "label goes to all Ready clusters, replicas divided by its v1 preferences annotation "
    "(equally without one). Recorded in the host; omitted: unchanged.",
)
def init(dry_run: str, output: str, v1_compat: bool | None) -> None:
    """Install the federation API (CRDs and fed namespace) in the host.

    Idempotent: a second run changes nothing and says so; a newer kubectl-fed
    upgrades its CRDs in place.
    """
    from kubectl_fed.output import dump_documents

    s = settings()
    if dry_run == "client":
        from kubectl_fed.ops.init import desired_objects

        objects = desired_objects(s.namespace, v1_compat)
        if output == "text":
            for obj in objects:
                click.echo(f"{obj['kind'].lower()}/{obj['metadata']['name']} (dry run)")
        else:
            click.echo(dump_documents(objects, output))
        return
    from kubectl_fed.ops.init import install

    host = s.host()
    changes = install(host.kube, s.namespace, v1_compat, dry_run=dry_run == "server")
    suffix = " (server dry run)" if dry_run == "server" else ""
    for change in changes:
        click.echo(f"{change.kind.lower()}/{change.name} {change.action}{suffix}")
    if all(c.action == "unchanged" for c in changes):
        click.echo("federation API already installed and current: nothing changed")
    if not s.state.get("host.context") and dry_run == "none":
        kubeconfig, context = s.host_target()
        remember_host(kubeconfig, context)


def remember_host(kubeconfig: str | None, context: str | None) -> None:
    """Pin the host in local state, so later commands need no --context."""
    from kubectl_fed.kube.connect import list_contexts

    s = settings()
    if context is None:
        _, context = list_contexts(kubeconfig)
    if context:
        s.state.set("host.context", context)
    if kubeconfig:
        import os

        s.state.set("host.kubeconfig", os.path.abspath(kubeconfig))
