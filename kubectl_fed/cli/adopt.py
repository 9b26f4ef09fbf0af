"""`kubectl fed adopt`: take over objects already running in a member."""

from __future__ import annotations

import sys
from typing import Any

import click

from kubectl_fed.cli.completion import complete_members
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import dry_run_option, host_options, namespace_option, settings
from kubectl_fed.errors import FedError


@click.command(
    cls=FedCommand,
    examples="""
    # Federate Deployment api, created directly in member-1, with a policy of its own
    kubectl --context member-1 create deployment api --image=nginx
    kubectl fed adopt deploy/api --cluster member-1 --create-policy
    kubectl fed sync --once

    # Print what adopting Deployment web of member-2 would create, create nothing
    kubectl fed adopt deploy/web --cluster member-2 --create-policy --dry-run=client -o yaml
    """,
)
@click.argument("references", nargs=-1, required=True, metavar="TYPE/NAME... | TYPE -l SEL")
@host_options
@click.option(
    "--cluster",
    required=True,
    shell_complete=complete_members,
    help="The member the objects run in.",
)
@namespace_option
@click.option("-l", "--selector", help="Adopt every object of TYPE matching this selector.")
@click.option("--policy", help="Use this existing PropagationPolicy (or ClusterPropagationPolicy).")
@click.option(
    "--create-policy",
    is_flag=True,
    help="Create a Duplicate PropagationPolicy named after the object, placing it on --cluster.",
)
@click.option(
    "--template",
    type=click.Choice(["native", "federated"]),
    default="native",
    show_default=True,
    help="native: the object itself in the host (KubeAdmiral style); federated: a "
    "FederatedObject (for hosts that run workloads themselves).",
)
@click.option(
    "--dependencies",
    is_flag=True,
    help="Also adopt the ConfigMaps, Secrets, ServiceAccounts and PVCs its pod "
    "template references.",
)
@dry_run_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "yaml", "json"]),
    default="table",
    help="yaml/json: print the objects created (or, with --dry-run, that would be).",
)
def adopt(
    references: tuple[str, ...],
    cluster: str,
    namespace: str | None,
    selector: str | None,
    policy: str | None,
    create_policy: bool,
    template: str,
    dependencies: bool,
    dry_run: str,
    output: str,
) -> None:
    """Federate objects running in a member, without restarting them.

    Federates the objects that already run in member --cluster.

    Reads each live object, prunes what the member set (the pod template stays
    byte-for-byte), adds the policy label and the adopt annotations, and creates the
    template in the host. The next `kubectl fed sync` takes the member object over in place.

    Each object is adopted with its policy and dependencies all or nothing; a failure
    rolls back that object's writes and the others go ahead. A dependency shared by
    several objects is created once. The report has a line for every object, policy and
    dependency (WITH: the object it came with); exit 1 when any failed.
    """
    from kubectl_fed.ops.adopt import AdoptRequest
    from kubectl_fed.ops.adopt import adopt as do_adopt
    from kubectl_fed.output import dump_documents, table

    s = settings()
    host = s.host()
    namespace = s.namespace_for(namespace)
    member = host.connect_member(host.must_cluster(cluster), s.timeout)
    request = AdoptRequest(
        list(references),
        cluster,
        namespace,
        selector,
        policy,
        create_policy,
        template,
        dependencies,
        dry_run,
    )
    results = do_adopt(host, member, request, progress=_progress_bar() if selector else None)
    if output != "table":
        click.echo(dump_documents([o for r in results for o in r.objects], output))
    else:
        rows = [
            [r.kind, r.name, r.of or "-", _action(r.action, dry_run), r.message] for r in results
        ]
        click.echo(table(["KIND", "NAME", "WITH", "ACTION", "MESSAGE"], rows))
        if dry_run == "none" and any(r.action == "created" for r in results):
            click.echo("Run `kubectl fed sync` to take the member objects over in place.")
    objects = [r for r in results if not r.of]
    failed = [f"{r.kind.lower()}/{r.name}" for r in objects if r.action == "failed"]
    if failed:
        shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
        raise FedError(
            f"could not adopt {shown} ({len(failed)} of {len(objects)} objects; "
            "the report says why)"
        )


def _action(action: str, dry_run: str) -> str:
    if dry_run == "server" and action == "created":
        return "created (server dry run)"
    return action


def _progress_bar() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        click.echo(
            f"\radopting [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            err=True,
            nl=done == total,
        )

    return show
