"""What every command shares: the host flags, local state and the host connection; the
output and namespace flags; TYPE[/NAME] arguments resolved against the host."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

from kubectl_fed.core.kubeadmiral import DEFAULT_FED_NAMESPACE
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.core.kubeconfig import Overrides
    from kubectl_fed.core.resources import Resource
    from kubectl_fed.kube.connect import ConnectionSpec
    from kubectl_fed.kube.host import Host
    from kubectl_fed.state import LocalState

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_TIMEOUT = "10s"


@dataclass
class Settings:
    kubeconfig: str | None = None
    context: str | None = None
    fed_namespace: str | None = None
    request_timeout: str | None = None
    # kubectl's global flags, with kubectl's meaning (clientcmd's overrides of the host
    # context); member connections only see -v and --request-timeout.
    namespace_flag: str | None = None  # -n before the subcommand
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    tls_server_name: str | None = None
    insecure: bool = False
    certificate_authority: str | None = None
    token: str | None = field(default=None, repr=False)
    client_certificate: str | None = None
    client_key: str | None = None
    impersonate: str | None = None
    impersonate_uid: str | None = None
    impersonate_groups: list[str] = field(default_factory=list)
    _state: LocalState | None = field(default=None, repr=False)
    _host: Host | None = field(default=None, repr=False)
    _spec: ConnectionSpec | None = field(default=None, repr=False)

    @property
    def state(self) -> LocalState:
        if self._state is None:
            from kubectl_fed.state import LocalState

            self._state = LocalState.load()
        return self._state

    @property
    def timeout(self) -> float | None:
        from kubectl_fed.core.parsing import ParseError, parse_duration

        raw = self.request_timeout or self.state.get("defaults.request-timeout") or DEFAULT_TIMEOUT
        try:
            seconds = parse_duration(str(raw))
        except ParseError as err:
            raise FedError(f"--request-timeout: {err}") from None
        return seconds or None

    @property
    def namespace(self) -> str:
        """The fed namespace (member credentials, the sync lease), not -n."""
        return str(
            self.fed_namespace or self.state.get("host.fed-namespace") or DEFAULT_FED_NAMESPACE
        )

    def namespace_for(self, given: str | None) -> str:
        """The namespace a namespaced command works in, as kubectl chooses it: its -n, else
        -n before the subcommand, else the host context's namespace, else `default`."""
        return given or self.namespace_flag or self.host_spec().target.namespace

    def host_target(self) -> tuple[str | None, str | None]:
        """(kubeconfig, context) of the host: flags, then local state, then kubeconfig.
        A path from local state may start with `~` (ours, not kubectl's: expanded)."""
        if self.context or self.kubeconfig:
            return self.kubeconfig, self.context
        kubeconfig = self.state.get("host.kubeconfig")
        return (os.path.expanduser(kubeconfig) if kubeconfig else None), self.state.get(
            "host.context"
        )

    def overrides(self) -> Overrides:
        """The kubectl flags that change how the host context is reached."""
        from kubectl_fed.core.kubeconfig import Overrides

        return Overrides(
            cluster=self.cluster,
            user=self.user,
            namespace=self.namespace_flag,
            server=self.server,
            tls_server_name=self.tls_server_name,
            insecure=self.insecure,
            certificate_authority=self.certificate_authority,
            token=self.token,
            client_certificate=self.client_certificate,
            client_key=self.client_key,
            impersonate=self.impersonate,
            impersonate_uid=self.impersonate_uid,
            impersonate_groups=tuple(self.impersonate_groups),
        )

    def host_spec(self) -> ConnectionSpec:
        """The host context resolved (files read, flags applied, refusals raised)."""
        if self._spec is None:
            from kubectl_fed.kube.connect import context_spec

            kubeconfig, context = self.host_target()
            self._spec = context_spec(kubeconfig, context, self.overrides())
        return self._spec

    def host(self) -> Host:
        if self._host is None:
            from kubectl_fed.kube.connect import connect
            from kubectl_fed.kube.host import Host

            kube = connect(self.host_spec(), self.timeout, pool_size=32)
            self._host = Host(kube, self.namespace, self.state)
        return self._host


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Settings), attribute, value)

    return callback


def _store_true(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value:
            setattr(ctx.ensure_object(Settings), attribute, True)

    return callback


def _append(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        getattr(ctx.ensure_object(Settings), attribute).extend(value or ())

    return callback


def _verbosity(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    if value is not None:
        from kubectl_fed.kube import log

        log.set_verbosity(value)


def complete_contexts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Context names of the host's kubeconfig (--kubeconfig, else $KUBECONFIG, else
    ~/.kube/config): files read, no network."""
    return contexts(ctx.ensure_object(Settings).kubeconfig, incomplete)


def contexts(kubeconfig: str | None, incomplete: str) -> list[Any]:
    """The contexts of a kubeconfig that start with `incomplete`; none when unreadable."""
    from kubectl_fed.kube.connect import list_contexts

    try:
        names, current = list_contexts(kubeconfig)
    except Exception:  # completion must never fail loudly
        return []
    return [
        CompletionItem(n, help="current context" if n == current else None)
        for n in sorted(names)
        if n.startswith(incomplete)
    ]


NAMESPACES_WITHIN = 2.0  # seconds: completion gives up on a host slower than this


def complete_namespaces(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Namespaces of the host, when it answers within NAMESPACES_WITHIN seconds."""
    import threading

    s = ctx.ensure_object(Settings)
    found: list[str] = []

    def ask() -> None:
        try:
            s.request_timeout = s.request_timeout or f"{NAMESPACES_WITHIN:g}s"
            items = s.host().kube.get("/api/v1/namespaces").get("items") or []
            found.extend(sorted(i["metadata"]["name"] for i in items))
        except Exception:  # completion must never fail loudly
            pass

    asking = threading.Thread(target=ask, daemon=True)  # abandoned when too slow
    asking.start()
    asking.join(NAMESPACES_WITHIN)
    if asking.is_alive():
        return []
    return [CompletionItem(n) for n in list(found) if n.startswith(incomplete)]


class GlobalOption(click.Option):
    """A global flag. A command's own option of the same name wins over it (`--cluster` of
    adopt, diff and sync names a member): see settle_global_options."""


GLOBAL_FLAGS_EPILOG = (
    "kubectl's global flags (--as, --as-group, --as-uid, --user, --cluster, -s/--server, "
    "--token, --insecure-skip-tls-verify, --certificate-authority, --client-certificate, "
    "--client-key, --tls-server-name, -v) are accepted here too: see `kubectl fed --help`."
)


def settle_global_options(command: click.Command) -> None:
    """Every command takes the global flags, as every kubectl command does (those that
    reach no cluster ignore them); a command's own option of the same name wins; each
    command's help says where they are listed."""
    is_group = isinstance(command, click.Group)
    if not is_group and not any(isinstance(p, GlobalOption) for p in command.params):
        host_options(command)
    drop_shadowed_globals(command)
    for sub in getattr(command, "commands", {}).values():
        settle_global_options(sub)


def drop_shadowed_globals(command: click.Command) -> None:
    """Remove the global flags a command defines itself, and say in the help of a command
    that takes them where they are listed."""
    own = {o for p in command.params if not isinstance(p, GlobalOption) for o in p.opts}
    command.params = [
        p for p in command.params if not (isinstance(p, GlobalOption) and own & set(p.opts))
    ]
    hidden = [p for p in command.params if isinstance(p, GlobalOption) and p.hidden]
    if hidden and not command.epilog:
        command.epilog = GLOBAL_FLAGS_EPILOG


def host_options(function: F) -> F:
    """Host flags, accepted on the group and on every command (kubectl users do both);
    on a command, kubectl's global flags are hidden from its help (the group's lists
    them), as kubectl's own commands do."""
    return _global_options(function, shown=False)


def root_options(function: F) -> F:
    """The group's flags: every global flag, shown, and -n/--namespace."""
    function = _global_options(function, shown=True)
    return click.option(
        "-n",
        "--namespace",
        expose_value=False,
        callback=_store("namespace_flag"),
        shell_complete=complete_namespaces,
        help="Namespace of namespaced commands (default: the context's namespace, else default).",
    )(function)


def _global_options(function: F, shown: bool) -> F:
    def hidden(*names: str, **settings: Any) -> Callable[[F], F]:
        decorator: Callable[[F], F] = click.option(
            *names, cls=GlobalOption, expose_value=False, hidden=not shown, **settings
        )
        return decorator

    options: list[Callable[[F], F]] = [
        click.option(
            "--kubeconfig",
            expose_value=False,
            callback=_store("kubeconfig"),
            help="Kubeconfig file of the host (default: $KUBECONFIG, ~/.kube/config).",
        ),
        click.option(
            "--context",
            expose_value=False,
            callback=_store("context"),
            shell_complete=complete_contexts,
            help="Kubeconfig context of the host (default: local state, else current).",
        ),
        click.option(
            "--fed-namespace",
            expose_value=False,
            callback=_store("fed_namespace"),
            help=f"Namespace of member credentials (default {DEFAULT_FED_NAMESPACE}).",
        ),
        click.option(
            "--request-timeout",
            expose_value=False,
            callback=_store("request_timeout"),
            help="Time to wait for one API request: 10s, 1m30s, 500ms, or 10 (seconds); "
            f"0: no limit (default {DEFAULT_TIMEOUT}).",
        ),
        hidden(
            "--cluster",
            callback=_store("cluster"),
            help="Kubeconfig cluster to use (after adopt, diff or sync, --cluster names a "
            "member: give this one before the subcommand there).",
        ),
        hidden("--user", callback=_store("user"), help="Kubeconfig user to use."),
        hidden(
            "-s",
            "--server",
            callback=_store("server"),
            help="Address and port of the host's API server.",
        ),
        hidden(
            "--tls-server-name",
            callback=_store("tls_server_name"),
            help="Server name to check the server's certificate against.",
        ),
        hidden(
            "--insecure-skip-tls-verify",
            is_flag=True,
            callback=_store_true("insecure"),
            help="Do not check the server's certificate (insecure).",
        ),
        hidden(
            "--certificate-authority",
            callback=_store("certificate_authority"),
            help="Certificate authority file.",
        ),
        hidden(
            "--client-certificate",
            callback=_store("client_certificate"),
            help="Client certificate file for TLS.",
        ),
        hidden("--client-key", callback=_store("client_key"), help="Client key file for TLS."),
        hidden("--token", callback=_store("token"), help="Bearer token."),
        hidden("--as", callback=_store("impersonate"), help="User to impersonate."),
        hidden(
            "--as-group",
            multiple=True,
            callback=_append("impersonate_groups"),
            help="Group to impersonate (repeatable).",
        ),
        hidden("--as-uid", callback=_store("impersonate_uid"), help="UID to impersonate."),
        hidden(
            "-v",
            "--v",
            type=int,
            callback=_verbosity,
            metavar="LEVEL",
            help="Log verbosity; 6 and up print every request (method, URL, status, time).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


class OutputFormat(click.ParamType[str, Any]):
    """`-o`: one of the command's formats, or kubectl's jsonpath=TEMPLATE,
    jsonpath-as-json=TEMPLATE and custom-columns=SPEC (parsed here, so a bad template is a
    usage error before anything is read)."""

    name = "format"

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = tuple(choices)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join([*self.choices, "jsonpath=...", "custom-columns=..."]) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from kubectl_fed.output import OutputError, check_format, templated

        text = str(value)
        if text in self.choices:
            return text
        if templated(text):
            try:
                check_format(text)
            except OutputError as err:
                self.fail(str(err), param, ctx)
            return text
        allowed = ", ".join([*self.choices, "jsonpath=", "jsonpath-as-json=", "custom-columns="])
        self.fail(
            f"unable to match a printer suitable for the output format {text!r}, "
            f"allowed formats are: {allowed}",
            param,
            ctx,
        )


def output_options(*formats: str) -> Callable[[F], F]:
    """`-o` and `--no-headers`, the same on every listing command."""
    from kubectl_fed.output import FORMATS

    choices = formats or FORMATS

    def decorate(function: F) -> F:
        function = click.option(
            "--no-headers",
            is_flag=True,
            help="Print table rows (and custom columns) without the header line.",
        )(function)
        return click.option(
            "-o",
            "--output",
            "output",
            type=OutputFormat(choices),
            default=choices[0],
            show_default=True,
            help="Output format; also jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE and "
            "custom-columns=SPEC, as kubectl's, over the document -o json prints.",
        )(function)

    return decorate


def settings() -> Settings:
    return click.get_current_context().ensure_object(Settings)


def dry_run_option(function: F) -> F:
    return click.option(
        "--dry-run",
        type=click.Choice(["none", "client", "server"]),
        default="none",
        show_default=True,
        help="client: print what would be sent, send nothing; server: send with dryRun=All.",
    )(function)


def bool_option(*names: str, help_text: str) -> Callable[[F], F]:
    """A kubectl-style boolean flag, true by default: `--x`, `--x=true`, `--x=false`."""
    return click.option(
        *names,
        type=click.BOOL,
        is_flag=False,
        flag_value=True,
        default=True,
        show_default=True,
        metavar="[=true|false]",
        help=help_text,
    )


def namespace_option(function: F) -> F:
    """-n/--namespace; without it, the context's namespace (see Settings.namespace_for)."""
    return click.option(
        "-n",
        "--namespace",
        shell_complete=complete_namespaces,
        help="Namespace (default: the kubeconfig context's namespace, else default).",
    )(function)


def namespace_options(function: F) -> F:
    function = click.option(
        "-A", "--all-namespaces", is_flag=True, help="Every namespace (adds a NAMESPACE column)."
    )(function)
    return namespace_option(function)


def namespace_scope(namespace: str, all_namespaces: bool) -> str | None:
    """The namespace to read, None for every namespace."""
    return None if all_namespaces else namespace


def resolve_kind(host: Host, text: str) -> Resource:
    """A TYPE as the user typed it (`deploy`, `deployments.apps`), from host discovery."""
    from kubectl_fed.core.resources import UnknownType, resolve_type

    try:
        return resolve_type(host.kube.api_resources(), text)
    except UnknownType as err:
        raise FedError(str(err)) from None


def parse_reference(reference: str) -> tuple[str, str | None]:
    """`deploy/web` -> ("deploy", "web"); `deploy` -> ("deploy", None)."""
    from kubectl_fed.core.resources import UnknownType, split_reference

    try:
        return split_reference(reference)
    except UnknownType as err:
        raise FedError(str(err)) from None


# `kubectl fed get clusters` and its spellings: the members, not a federated type.
CLUSTER_TYPES = ("clusters", "cluster", "fcluster", "federatedclusters", "federatedcluster")


def selection_of(
    host: Host, references: tuple[str, ...]
) -> frozenset[tuple[str, str, str | None]] | None:
    """TYPE[/NAME] arguments as (group, kind, name); name None covers every object of the
    kind; no argument: None, every kind."""
    if not references:
        return None
    found = set()
    for reference in references:
        kind, name = parse_reference(reference)
        resource = resolve_kind(host, kind)
        found.add((resource["group"], resource["kind"], name))
    return frozenset(found)


def members_named(host: Host, names: tuple[str, ...]) -> frozenset[str] | None:
    """--cluster NAME...: each must be a member; none given: None, every member."""
    for name in names:
        host.must_cluster(name)
    return frozenset(names) or None
