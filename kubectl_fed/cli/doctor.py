"""`kubectl fed doctor`: check the federation, one line per check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import host_options, output_options, settings
from kubectl_fed.cli.terminal import echo, paint_status
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.ops.doctor import Check


@click.command(
    cls=FedCommand,
    examples="""
    # Check the host, your permissions, every member and the sync lease
    kubectl fed doctor

    # The same checks as JSON
    kubectl fed doctor -o json
    """,
)
@host_options
@output_options()
def doctor(output: str, no_headers: bool) -> None:
    """Check the federation: host, CRDs, permissions, members, sync.

    Checks the host, your identity there, CRDs, fed namespace, the
    permissions sync needs, every member (reachable, credentials, version skew), the sync
    lease, unsynced objects and templates whose policy is missing. Exit 1 on any FAIL
    (WARN does not fail)."""
    from kubectl_fed.ops.doctor import FAIL, Check
    from kubectl_fed.ops.doctor import doctor as run_checks
    from kubectl_fed.output import Column, render

    s = settings()
    try:
        host = s.host()
    except FedError as err:  # a broken kubeconfig is the first finding, not a crash
        checks = [Check("host", FAIL, err.message)]
    else:
        checks = run_checks(host, s.timeout)
    columns = [
        Column("CHECK", lambda c: c.name),
        Column("STATUS", lambda c: paint_status(c.status)),
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
        ),
        output,
    )
    if any(c.status == FAIL for c in checks):
        click.get_current_context().exit(1)


def _check_dict(check: Check) -> dict[str, Any]:
    return check.as_dict()
