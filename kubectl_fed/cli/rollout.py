"""`kubectl fed rollout status`: wait for a federated workload's rollout in every member."""

from __future__ import annotations

import click

from kubectl_fed.cli.completion import complete_references
from kubectl_fed.cli.help import FedSubGroup
from kubectl_fed.cli.settings import (
    bool_option,
    host_options,
    namespace_option,
    parse_reference,
    resolve_kind,
    settings,
)
from kubectl_fed.errors import FedError


@click.group(
    cls=FedSubGroup,
    examples="""
    # Wait until Deployment web has rolled out in every member it is placed on
    kubectl fed rollout status deployment/web --timeout=2m
    """,
)
def rollout() -> None:
    """Manage the rollout of federated workloads across the members.

    Manage the rollout of federated workloads (Deployments, DaemonSets, StatefulSets)
    across the member clusters.
    """


@rollout.command(
    examples="""
    # Wait until Deployment web has rolled out in every member it is placed on
    kubectl fed rollout status deployment/web --timeout=2m

    # Where the rollout stands now, without waiting
    kubectl fed rollout status deploy web --watch=false
    """,
)
@click.argument(
    "references", nargs=-1, metavar="(TYPE NAME | TYPE/NAME)", shell_complete=complete_references
)
@host_options
@namespace_option
@click.option(
    "--timeout",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="How long to wait before giving up, e.g. 30s, 2m; 0 waits for ever.",
)
@bool_option(
    "-w", "--watch", help_text="Watch until the rollout is done; --watch=false looks once."
)
def status(references: tuple[str, ...], namespace: str | None, timeout: str, watch: bool) -> None:
    """Show the rollout status of a federated workload, in every member.

    Waits until every member cluster the workload is placed on has rolled out its current
    template, as `kubectl rollout status` waits for one cluster: the template synced into
    its FederatedObject and sent to every member (a sync must run: this command only
    reads), then in each member the copy's controller has observed it and its updated
    replicas are available. Progress lines are kubectl's, naming the member ("Waiting for
    deployment "web" rollout to finish: 1 of 3 updated replicas are available in
    member-1..."). Exit 0 once rolled out everywhere (or after one look with
    --watch=false); 1 when a member's rollout failed (ProgressDeadlineExceeded), on
    timeout, or when the object is not federated. Deployments, DaemonSets and
    StatefulSets, as kubectl.
    """
    from kubectl_fed.core.parsing import ParseError, parse_duration
    from kubectl_fed.ops.rollout import RolloutRequest, rollout_status

    kind, name = _target(references)
    try:
        seconds = parse_duration(timeout)
    except ParseError as err:
        raise click.BadParameter(str(err), param_hint="'--timeout'") from None
    s = settings()
    host = s.host()
    host.require_api()
    resource = resolve_kind(host, kind)
    request = RolloutRequest(resource, name, s.namespace_for(namespace), seconds, watch)
    rollout_status(host, request, s.timeout, click.echo)


def _target(references: tuple[str, ...]) -> tuple[str, str]:
    """TYPE/NAME or TYPE NAME, as kubectl rollout status takes them."""
    if len(references) == 1:
        kind, name = parse_reference(references[0])
        if name:
            return kind, name
    elif len(references) == 2 and "/" not in references[0]:
        return references[0], references[1]
    if not references:
        raise FedError("required resource not specified")
    raise FedError(f"expected TYPE/NAME or TYPE NAME, not {' '.join(references)!r}")
