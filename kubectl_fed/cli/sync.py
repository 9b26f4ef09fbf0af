"""`kubectl fed sync`: the reconcile loop, in the foreground."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from kubectl_fed.cli.completion import complete_members
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import (
    complete_namespaces,
    host_options,
    members_named,
    output_options,
    selection_of,
    settings,
)

if TYPE_CHECKING:
    from kubectl_fed.planning.scope import Scope
    from kubectl_fed.sync.reconcile import PassReport


@click.command(
    cls=FedCommand,
    examples="""
    # One pass over every federated object (web: 3 replicas in member-1, 6 in member-2)
    kubectl fed sync --once

    # One pass over Deployment web only, one line per object and member
    kubectl fed sync deploy/web -n default --once -o wide

    # Report what was changed in the members behind the federation's back, change nothing
    kubectl fed sync --once --drift=report

    # Write to member-1 only (a canary); the other members are left as they are
    kubectl fed sync --once --cluster member-1

    # Keep reconciling on every change until Ctrl-C
    kubectl fed sync
    """,
)
@click.argument("references", nargs=-1, metavar="[TYPE[/NAME]...]")
@host_options
@click.option(
    "-n",
    "--namespace",
    default=None,
    shell_complete=complete_namespaces,
    help="Only objects of this namespace (and cluster-scoped ones). Default: every namespace.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (the default).")
@click.option("-l", "--selector", help="Only templates whose labels match (kubectl's -l).")
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    shell_complete=complete_members,
    help="Only write to these members (repeatable): a canary first; the others' copies that "
    "need a change are PendingSync.",
)
@click.option(
    "--once",
    is_flag=True,
    help="One full pass, a summary, then exit: 0 all OK, 1 some cluster not OK, >1 on error.",
)
@click.option(
    "--drift",
    type=click.Choice(["correct", "report"]),
    default="correct",
    show_default=True,
    help="A member object changed by someone else: put it back, or only report it.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Concurrent writes per member cluster.",
)
@click.option(
    "--resync-period",
    default="5m",
    show_default=True,
    help="Full pass at least this often, to catch anything a watch missed.",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Exit at once (code 3) if another sync holds the lease, naming it.",
)
@output_options("table", "wide", "json", "yaml")
def sync(
    references: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    clusters: tuple[str, ...],
    once: bool,
    drift: str,
    workers: int,
    resync_period: str,
    no_wait: bool,
    output: str,
    no_headers: bool,
) -> None:
    """Make the members match the federation (the reconcile loop).

    Schedules, overrides, applies, collects status and propagates deletions.

    Runs until interrupted (SIGINT/SIGTERM finish the pass in flight, then exit 0),
    reconciling on every change it watches; --once does a single pass.

    TYPE[/NAME]..., -n, -l and --cluster limit what it acts on (the continuous loop
    included); everything else is left as it is, and the lease is held all the same.

    -o applies to the summary of --once: table lists the objects that need attention,
    wide every object; json/yaml/jsonpath/custom-columns the whole report (custom columns
    over its `objects`).
    """
    from kubectl_fed.core.parsing import ParseError, parse_duration
    from kubectl_fed.errors import FedError

    try:
        period = parse_duration(resync_period) or 300.0
    except ParseError as err:
        raise FedError(f"--resync-period: {err}") from None
    request = _Request(references, namespace, all_namespaces, selector, clusters)
    try:
        _run(request, once, period, drift, workers, no_wait, (output, no_headers))
    except FedError as err:
        # Exit 1 means "some cluster is not OK"; a failure to sync at all is >1.
        raise FedError(err.message, max(err.exit_code, EXIT_ERROR)) from None


EXIT_ERROR = 2


@dataclass(frozen=True)
class _Request:
    references: tuple[str, ...]
    namespace: str | None
    all_namespaces: bool
    selector: str | None
    clusters: tuple[str, ...]


def _scope(host: Any, request: _Request, namespace_flag: str | None) -> Scope:
    from kubectl_fed.core.labels import SelectorError, parse_selector
    from kubectl_fed.errors import FedError
    from kubectl_fed.planning.scope import Scope

    if request.namespace and request.all_namespaces:
        raise FedError("-n and -A cannot be used together")
    try:
        selector = tuple(parse_selector(request.selector or ""))
    except SelectorError as err:
        raise FedError(f"-l: {err}") from None
    return Scope(
        selection=selection_of(host, request.references),
        # Its own -n, else one before the subcommand; never the context's: sync covers
        # every namespace unless told otherwise.
        namespace=None if request.all_namespaces else request.namespace or namespace_flag,
        selector=selector,
        clusters=members_named(host, request.clusters),
    )


def _run(
    request: _Request,
    once: bool,
    period: float,
    drift: str,
    workers: int,
    no_wait: bool,
    output: tuple[str, bool],
) -> None:
    from kubectl_fed.kube.connect import connect
    from kubectl_fed.planning.plan import SyncOptions
    from kubectl_fed.sync.lease import LeaseLost, SyncLease
    from kubectl_fed.sync.loop import Stopper, run_forever
    from kubectl_fed.sync.reconcile import Reconciler

    s = settings()
    host = s.host()
    host.require_api()
    scope = _scope(host, request, s.namespace_flag)
    # Its own connection: renewals are not the pass's writes (those are counted), and
    # they are not fenced by the lease they renew.
    lease = SyncLease(connect(s.host_spec(), s.timeout), s.namespace)
    host.kube.fence = lease.check  # every write of the pass, host and members alike
    stopper = Stopper()
    stopper.install()

    def take_lease(wait: bool) -> bool:
        return lease.acquire(
            wait=wait,
            stop=stopper.event,
            on_wait=lambda holder: _log(f"waiting for the sync lease held by {holder}"),
        )

    try:
        if not take_lease(wait=not no_wait):
            return  # interrupted while waiting
        reconciler = Reconciler(
            host,
            # click.Choice allows nothing else; the test narrows the str to the Literal.
            SyncOptions(
                drift="report" if drift == "report" else "correct",
                workers=workers,
                timeout=s.timeout,
            ),
            progress=_progress(),
            scope=scope,
            notice=_log,
        )
        if once:
            report = reconciler.run_pass()
            _print_summary(report, *output, several_namespaces=scope.namespace is None)
            sys.exit(0 if report.ok else 1)
        _log(f"syncing {host.kube.server} (resync every {period:.0f}s); Ctrl-C to stop")
        while not stopper.event.is_set():
            try:
                run_forever(host, reconciler, period, _log_pass, stopper)
            except LeaseLost as err:
                _log(f"{err.message}; waiting to take it back")
                lease.release()
                if not take_lease(wait=True):
                    break
        _log("stopped")
    finally:
        lease.release()
        stopper.restore()


def _log(message: str) -> None:
    click.echo(f"sync: {message}", err=True)


def _log_pass(report: PassReport, full: bool = True) -> None:
    """A line per full pass; a watch-driven pass only when it did or found something."""
    bad = [o for o in report.objects if not o.ok]
    if not full and not bad and not report.writes:
        return
    kind = "pass" if full else "update"
    _log(
        f"{kind}: {len(report.objects)} objects, {len(bad)} not OK, {report.writes} writes, "
        f"{report.seconds:.2f}s"
    )
    for obj in bad[:20]:
        _log(f"  {_where(obj)}: {_problem(obj)}")


def _progress() -> Any:
    """A progress line on a terminal; nothing extra otherwise (the summary says it all)."""
    if not sys.stderr.isatty():
        return None

    def show(step: str) -> None:
        click.echo(f"\rsync: {step} objects", err=True, nl=False)
        done, _, total = step.partition("/")
        if done == total:
            click.echo("", err=True)

    return show


def _problem(obj: Any) -> str:
    if obj.errors:
        return "; ".join(obj.errors)
    bad = [
        f"{c}: {r.status}{' (' + r.message + ')' if r.message else ''}"
        for c, r in sorted(obj.clusters.items())
        if r.status != "OK" or r.message
    ]
    return ", ".join(bad)


def object_name(obj: Any) -> str:
    """kubectl's `-o name` spelling of a result: `deployment.apps/web`."""
    from kubectl_fed.ops.objects import group_object_name

    return group_object_name(obj.group, obj.kind, obj.name)


def _where(obj: Any) -> str:
    return object_name(obj) + (f" in {obj.namespace}" if obj.namespace else "")


def _order(obj: Any) -> tuple[str, str]:
    return (obj.namespace, object_name(obj))


def _print_summary(
    report: PassReport, output: str, no_headers: bool = False, several_namespaces: bool = True
) -> None:
    from kubectl_fed.cli.terminal import echo
    from kubectl_fed.output import render_document, table

    rows = [
        {
            **({"namespace": o.namespace} if o.namespace else {}),
            "object": object_name(o),
            "clusters": {
                c: {"status": str(r.status), **({"message": r.message} if r.message else {})}
                for c, r in sorted(o.clusters.items())
            },
            "errors": o.errors,
            "ok": o.ok,
            **({"leaving": True} if o.leaving else {}),
        }
        for o in sorted(report.objects, key=_order)
    ]
    if output not in ("table", "wide"):
        document = {
            "objects": rows,
            "writes": report.writes,
            "requests": report.requests,
            "unreachable": report.unreachable,
            "seconds": round(report.seconds, 3),
        }
        echo(render_document(document, output, no_headers=no_headers, items_key="objects"), output)
        return
    lines = []
    shown = (
        # Corrected drift is OK, but worth a line: someone edits members by hand.
        report.objects if output == "wide" else [o for o in report.objects if not o.ok or o.drifted]
    )
    for obj in sorted(shown, key=_order):
        ok = sum(1 for r in obj.clusters.values() if r.status == "OK")
        state = "Deleted" if obj.leaving and not obj.clusters else ("OK" if obj.ok else "NotOK")
        lines.append(
            [
                *([obj.namespace or "<none>"] if several_namespaces else []),
                object_name(obj),
                f"{ok}/{len(obj.clusters)}",
                state,
                "" if obj.ok and not obj.drifted else _problem(obj),
            ]
        )
    if lines:
        headers = [*(["NAMESPACE"] if several_namespaces else []), "OBJECT", "CLUSTERS OK"]
        headers += ["STATUS", "MESSAGE"]
        click.echo(table([] if no_headers else headers, lines))
    bad = sum(1 for o in report.objects if not o.ok)
    members = ", ".join(f"{n} unreachable" for n in report.unreachable)
    click.echo(
        f"{len(report.objects)} objects, {bad} not OK, {report.writes} writes, "
        f"{report.seconds:.2f}s{'; ' + members if members else ''}"
    )
