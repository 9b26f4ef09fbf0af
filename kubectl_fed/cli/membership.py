"""Membership commands: join, unjoin, rotate, clusters, cordon, uncordon, taint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kubectl_fed.cli.completion import complete_member_contexts, complete_members
from kubectl_fed.cli.help import FedCommand
from kubectl_fed.cli.settings import (
    F,
    dry_run_option,
    host_options,
    output_options,
    settings,
)
from kubectl_fed.cli.terminal import echo
from kubectl_fed.errors import FedError


def _parsed(parse: Any, text: str | None, flag: str) -> Any:
    from kubectl_fed.core.parsing import ParseError

    try:
        return parse(text)
    except ParseError as err:
        raise FedError(f"{flag}: {err}") from None


def member_context_options(context_help: str) -> Callable[[F], F]:
    """--cluster-context and --cluster-kubeconfig: your own way to the member."""

    def decorate(function: F) -> F:
        function = click.option(
            "--cluster-kubeconfig", help="Kubeconfig file of the member (default: the host's)."
        )(function)
        return click.option(
            "--cluster-context", shell_complete=complete_member_contexts, help=context_help
        )(function)

    return decorate


@click.command(
    cls=FedCommand,
    examples="""
    # Join the cluster of context member-1 as member-1, labelled region=eu, with its own identity
    kubectl fed join member-1 --cluster-context member-1 --labels region=eu --overwrite

    # Print what joining member-2 would write (credentials redacted), write nothing
    kubectl fed join member-2 --cluster-context member-2 --overwrite --dry-run=client -o yaml

    # After a FederatedTypeConfig added a kind: let member-1's identity handle it too
    kubectl fed join member-1 --update-role
    """,
)
@click.argument("name")
@host_options
@member_context_options(
    "Kubeconfig context of the member (required, except with --update-role: then "
    "the context it was joined with)."
)
@click.option("--labels", help="Cluster labels, k=v,k2=v2 (what policies select on).")
@click.option("--taints", help="Cluster taints, k=v:Effect,...")
@click.option(
    "--credentials",
    type=click.Choice(["serviceaccount", "copy", "local", "secret"]),
    default="serviceaccount",
    show_default=True,
    help="serviceaccount: create kubectl-fed's own identity in the member (a "
    "ServiceAccount bound to what sync needs) and store only its token; copy: store the "
    "context's own credential; local: store nothing, use the context from this machine "
    "(secret is the old name of copy).",
)
@click.option(
    "--token-ttl",
    default="8760h",
    show_default=True,
    help="Lifetime of the member identity's token (at least 10m); sync renews it after 80% of it.",
)
@click.option(
    "--update-role",
    is_flag=True,
    help="Only bring the member identity's ClusterRole up to date with the federated "
    "types (after a FederatedTypeConfig added one).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing member of that name.")
@dry_run_option
@click.option("-o", "--output", type=click.Choice(["text", "yaml", "json"]), default="text")
def join(
    name: str,
    cluster_context: str | None,
    cluster_kubeconfig: str | None,
    labels: str | None,
    taints: str | None,
    credentials: str,
    token_ttl: str,
    update_role: bool,
    overwrite: bool,
    dry_run: str,
    output: str,
) -> None:
    """Join a cluster to the federation as member NAME.

    By default kubectl-fed gets an identity of its own in the member: your context
    (any kind of user: token, client certificate, exec plugin) creates the
    ServiceAccount kubectl-fed in the fed namespace, a ClusterRole kubectl-fed holding
    exactly what the federation does there, and the bindings; a token of that
    ServiceAccount (TokenRequest API, --token-ttl) is what the host Secret stores, never
    your own credential. The TLS server name and proxy URL of the context are recorded
    and used by every command.

    A cluster is a member once: it is known by the uid of its kube-system namespace
    (recorded in the annotation kubectl-fed.io/cluster-id), whatever name, URL or TLS
    setting reaches it, and joining it again under another name is refused. Its
    credentials need `get` on namespaces/kube-system.
    """
    s = settings()
    if update_role:
        _update_role(name, cluster_context, cluster_kubeconfig)
        return
    if not cluster_context:
        raise click.UsageError('required flag(s) "cluster-context" not set')
    from kubectl_fed.core.membership import redact
    from kubectl_fed.core.parsing import parse_labels, parse_taints
    from kubectl_fed.ops.membership import JoinRequest
    from kubectl_fed.ops.membership import join as do_join
    from kubectl_fed.output import dump_documents

    request = JoinRequest(
        name=name,
        context=cluster_context,
        kubeconfig=cluster_kubeconfig or s.host_target()[0],
        labels=_parsed(parse_labels, labels, "--labels"),
        taints=_parsed(parse_taints, taints, "--taints"),
        credentials=credentials,
        overwrite=overwrite,
        dry_run=dry_run,
        token_ttl_s=_token_ttl(token_ttl),
    )
    joined = do_join(s.host(), request, s.timeout)
    _warn(joined.warnings)
    for what in joined.removed:
        click.echo(f"{what} deleted from {name} (no longer used)", err=output != "text")
    if output != "text":
        click.echo(dump_documents([redact(o) for o in joined.objects], output))
        return
    suffix = {"none": "", "client": " (dry run)", "server": " (server dry run)"}[dry_run]
    mode = "copy" if credentials == "secret" else credentials
    click.echo(f"cluster {name} joined ({_credentials_text(mode, joined.token)}){suffix}")


def _credentials_text(mode: str, token: Any) -> str:
    if mode != "serviceaccount":
        return f"{mode} credentials"
    from kubectl_fed.core.member_identity import SERVICE_ACCOUNT

    text = f"serviceaccount credentials: {SERVICE_ACCOUNT}"
    if token is not None and token.expires is not None:
        text += f", token valid until {token.expires:%Y-%m-%dT%H:%M:%SZ}"
    return text


def _token_ttl(text: str) -> int:
    from kubectl_fed.core.member_identity import MIN_TOKEN_TTL_S
    from kubectl_fed.core.parsing import parse_duration

    seconds = int(_parsed(parse_duration, text, "--token-ttl"))
    if seconds < MIN_TOKEN_TTL_S:
        raise FedError(f"--token-ttl: {text!r} is shorter than 10m, the shortest a token lives")
    return seconds


def _update_role(name: str, context: str | None, kubeconfig: str | None) -> None:
    from kubectl_fed.ops.identity import update_role

    s = settings()
    role = update_role(s.host(), name, context, kubeconfig, s.timeout)
    kinds = sum(len(r.get("resources") or []) for r in role["rules"])
    click.echo(f"clusterrole kubectl-fed in {name} updated ({kinds} resources)")


@click.command(
    cls=FedCommand,
    examples="""
    # Remove member member-2 and delete the federation's objects in it
    kubectl fed unjoin member-2 --cascade=delete

    # Join it again; the next sync gives it its share back
    kubectl fed join member-2 --cluster-context member-2 --labels region=us
    kubectl fed sync --once
    """,
)
@click.argument("name", shell_complete=complete_members)
@host_options
@click.option(
    "--cascade",
    type=click.Choice(["orphan", "delete"]),
    default="orphan",
    show_default=True,
    help="What happens to the federation's objects in that member: orphan leaves them "
    "running without the federation's marks; delete removes them.",
)
@member_context_options(
    "Kubeconfig context of the member, to remove kubectl-fed's identity there "
    "(default: the context it was joined with)."
)
def unjoin(
    name: str, cascade: str, cluster_context: str | None, cluster_kubeconfig: str | None
) -> None:
    """Remove member NAME, its credentials and the identity join gave it.

    The ServiceAccount, roles and bindings join created in the member are removed with
    your own credentials for it (--cluster-context); a member that cannot be reached is
    removed from the federation all the same, and what stays in it is named.
    """
    from kubectl_fed.ops.membership import unjoin as do_unjoin

    s = settings()
    kubeconfig = cluster_kubeconfig or s.host_target()[0]
    done = do_unjoin(s.host(), name, cascade, s.timeout, cluster_context, kubeconfig)
    _warn(done.warnings)
    for what in done.removed:
        click.echo(f"{what} deleted from {name}")
    verb = "deleted" if cascade == "delete" else "orphaned"
    click.echo(f"cluster {name} unjoined ({done.handled} objects {verb})")


@click.command(
    cls=FedCommand,
    examples="""
    # A new token for member-1's kubectl-fed identity, now
    kubectl fed rotate member-1

    # After the token expired: ask for one with your own credentials for the member
    kubectl fed rotate member-1 --cluster-context member-1 --token-ttl 720h
    """,
)
@click.argument("name", shell_complete=complete_members)
@host_options
@member_context_options(
    "Kubeconfig context of the member, when the stored token cannot ask for its "
    "successor (expired or revoked). Default: the identity asks for itself."
)
@click.option("--token-ttl", help="Lifetime of the new token (default: the old one's).")
def rotate(
    name: str, cluster_context: str | None, cluster_kubeconfig: str | None, token_ttl: str | None
) -> None:
    """Give member NAME's kubectl-fed identity a new token and store it.

    sync does this by itself once a token has used 80% of its lifetime; `rotate` does it
    now (a token seen where it should not be, an expired one, a shorter --token-ttl).
    Each token is bound to a Secret of its own in the member's fed namespace; the
    previous token's Secret is deleted once the new token is stored, so the previous
    token stops working at once (the member's apiserver may honour it for a few more
    seconds from its cache).
    """
    from kubectl_fed.ops.identity import rotate as do_rotate

    s = settings()
    kubeconfig = cluster_kubeconfig or s.host_target()[0]
    ttl = _token_ttl(token_ttl) if token_ttl else None
    token = do_rotate(s.host(), name, cluster_context, kubeconfig, ttl, s.timeout)
    until = f", valid until {token.expires:%Y-%m-%dT%H:%M:%SZ}" if token.expires else ""
    click.echo(f"cluster {name}: new token stored{until}")


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _show_live_readiness(host: Any, items: list[dict[str, Any]], timeout: float | None) -> None:
    """READY says whether each member answers now, not what the last probe recorded: no
    controller keeps the record fresh between syncs. Shown, not written (`--refresh`
    records)."""
    from kubectl_fed.core.kubeadmiral import READY
    from kubectl_fed.core.membership import condition
    from kubectl_fed.ops.membership import live_readiness

    answers = live_readiness(host, items, timeout)
    for cluster in items:
        why = answers.get(cluster["metadata"]["name"], "")
        live = "False" if why else "True"
        if condition(cluster, READY) == live:
            continue
        status = cluster.setdefault("status", {})
        others = [c for c in status.get("conditions") or [] if c.get("type") != READY]
        reason = "ClusterNotReachable" if why else "ClusterReady"
        message = why or "cluster is reachable"
        status["conditions"] = [
            *others,
            {"type": READY, "status": live, "reason": reason, "message": message},
        ]


def _cluster_columns() -> list[Any]:
    from kubectl_fed.core.kubeadmiral import READY
    from kubectl_fed.core.membership import condition, credentials_mode
    from kubectl_fed.core.parsing import format_taint
    from kubectl_fed.output import Column, age

    def labels(c: dict[str, Any]) -> str:
        items = (c["metadata"].get("labels") or {}).items()
        return ",".join(f"{k}={v}" for k, v in sorted(items))

    def taints(c: dict[str, Any]) -> str:
        return ",".join(format_taint(t) for t in (c.get("spec") or {}).get("taints") or [])

    return [
        Column("NAME", lambda c: c["metadata"]["name"]),
        Column("READY", lambda c: condition(c, READY)),
        Column("VERSION", lambda c: (c.get("status") or {}).get("kubernetesVersion")),
        Column("LABELS", labels),
        Column("TAINTS", taints),
        Column("AGE", lambda c: age(c["metadata"].get("creationTimestamp"))),
        Column("ENDPOINT", lambda c: (c.get("spec") or {}).get("apiEndpoint"), wide_only=True),
        Column("CREDENTIALS", credentials_mode, wide_only=True),
        *_capacity_columns(),
    ]


def _capacity_columns() -> list[Any]:
    """NODES (schedulable), CPU and MEMORY (available/allocatable), as recorded in
    status.resources by join, `--refresh` and sync; `<unknown>` before any record."""
    from kubectl_fed.core.capacity import shown
    from kubectl_fed.output import Column

    def resources(c: dict[str, Any]) -> Any:
        return (c.get("status") or {}).get("resources")

    def nodes(c: dict[str, Any]) -> Any:
        recorded = resources(c)
        return recorded.get("schedulableNodes", 0) if isinstance(recorded, dict) else "<unknown>"

    def resource(name: str) -> Any:
        def cell(c: dict[str, Any]) -> Any:
            recorded = resources(c)
            return shown(recorded, name) if isinstance(recorded, dict) else "<unknown>"

        return cell

    return [
        Column("NODES", nodes, wide_only=True),
        Column("CPU", resource("cpu"), wide_only=True),
        Column("MEMORY", resource("memory"), wide_only=True),
    ]


def list_clusters(output: str, no_headers: bool, refresh: bool) -> None:
    from kubectl_fed.output import render

    s = settings()
    host = s.host()
    items = host.clusters()
    if refresh:
        from kubectl_fed.ops.membership import refresh as do_refresh

        _warn(do_refresh(host, items, s.timeout))
    else:
        _show_live_readiness(host, items, s.timeout)
    if not items and output in ("table", "wide"):
        click.echo("No members joined: use `kubectl fed join`.", err=True)
        return
    echo(
        render(
            items,
            _cluster_columns(),
            output,
            no_headers=no_headers,
            name_of=lambda c: f"federatedcluster.core.kubeadmiral.io/{c['metadata']['name']}",
        ),
        output,
    )


@click.command(
    cls=FedCommand,
    examples="""
    # List the members
    kubectl fed clusters

    # Probe every member now, record what answers and its capacity, show all of it
    kubectl fed clusters --refresh -o wide
    """,
)
@host_options
@output_options()
@click.option(
    "--refresh",
    is_flag=True,
    help="Probe every member now (concurrently) and record Ready/Offline, version, API "
    "resources and capacity (nodes, CPU, memory) in status.",
)
def clusters(output: str, no_headers: bool, refresh: bool) -> None:
    """List the members of the federation.

    -o wide adds ENDPOINT, CREDENTIALS, and the capacity recorded in status.resources as
    KubeAdmiral's cluster controller records it: NODES (schedulable), CPU and MEMORY
    (available/allocatable; available is allocatable minus the requests of pods that have
    not terminated). A member without nodes shows 0 and <none>.
    """
    list_clusters(output, no_headers, refresh)


@click.command(
    cls=FedCommand,
    examples="""
    # Place nothing new on member-1 (what runs there stays)
    kubectl fed cordon member-1
    """,
)
@click.argument("name", shell_complete=complete_members)
@host_options
def cordon(name: str) -> None:
    """Stop placing new objects on member NAME.

    Existing placements stay: it adds the taint kubectl-fed.io/unschedulable:NoSchedule.
    """
    from kubectl_fed.ops.membership import cordon as do_cordon

    changed = do_cordon(settings().host(), name, on=True)
    click.echo(f"cluster {name} {'cordoned' if changed else 'already cordoned'}")


@click.command(
    cls=FedCommand,
    examples="""
    # Allow new placements on member-1 again
    kubectl fed uncordon member-1
    """,
)
@click.argument("name", shell_complete=complete_members)
@host_options
def uncordon(name: str) -> None:
    """Allow new placements on member NAME again."""
    from kubectl_fed.ops.membership import cordon as do_cordon

    changed = do_cordon(settings().host(), name, on=False)
    click.echo(f"cluster {name} {'uncordoned' if changed else 'already uncordoned'}")


@click.command(
    cls=FedCommand,
    examples="""
    # Keep new placements off member-1 unless they tolerate dedicated=gpu:NoSchedule
    kubectl fed taint member-1 dedicated=gpu:NoSchedule

    # Change the value of that taint
    kubectl fed taint member-1 dedicated=ml:NoSchedule --overwrite

    # Remove the taints with key dedicated
    kubectl fed taint member-1 dedicated-
    """,
)
@click.argument("name", shell_complete=complete_members)
@click.argument("taints", nargs=-1, required=True, metavar="KEY[=VALUE]:EFFECT[-]...")
@host_options
@click.option("--overwrite", is_flag=True, help="Replace a taint with the same key and effect.")
def taint(name: str, taints: tuple[str, ...], overwrite: bool) -> None:
    """Add or remove taints on member NAME, like kubectl taint.

    KEY[=VALUE]:EFFECT adds a taint (--overwrite replaces one with the same key and
    effect); a trailing '-' removes it, and KEY- removes every taint with that key.
    """
    from kubectl_fed.core.parsing import parse_taint
    from kubectl_fed.ops.membership import change_taints

    changes = [_parsed(parse_taint, t, "taint") for t in taints]
    change_taints(settings().host(), name, changes, overwrite)
    click.echo(f"cluster {name} {taint_verb(changes, overwrite)}")


def taint_verb(changes: list[tuple[dict[str, str], bool]], overwrite: bool) -> str:
    """kubectl taint's word for what was done: `untainted` when taints were only removed,
    `modified` when some were added and some removed (or --overwrite), else `tainted`."""
    removed = any(remove for _, remove in changes)
    added = any(not remove for _, remove in changes)
    if (added and removed) or (added and overwrite):
        return "modified"
    return "untainted" if removed else "tainted"
