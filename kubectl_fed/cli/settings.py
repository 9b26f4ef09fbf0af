"""What every command shares: the host flags, local state and the host connection; the
output and namespace flags; TYPE[/NAME] arguments resolved against the host."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kubectl_fed.core.kubeadmiral import DEFAULT_FED_NAMESPACE
from kubectl_fed.errors import FedError

if TYPE_CHECKING:
    from kubectl_fed.core.resources import Resource
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
    _state: LocalState | None = field(default=None, repr=False)
    _host: Host | None = field(default=None, repr=False)

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
        return str(
            self.fed_namespace or self.state.get("host.fed-namespace") or DEFAULT_FED_NAMESPACE
        )

    def host_target(self) -> tuple[str | None, str | None]:
        """(kubeconfig, context) of the host: flags, then local state, then kubeconfig."""
        if self.context or self.kubeconfig:
            return self.kubeconfig, self.context
        return self.state.get("host.kubeconfig"), self.state.get("host.context")

    def host(self) -> Host:
        if self._host is None:
            from kubectl_fed.kube.connect import connect_context
            from kubectl_fed.kube.host import Host

            kubeconfig, context = self.host_target()
            kube = connect_context(kubeconfig, context, self.timeout, pool_size=32)
            self._host = Host(kube, self.namespace, self.state)
        return self._host


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Settings), attribute, value)

    return callback


def host_options(function: F) -> F:
    """Host flags, accepted on the group and on every command (kubectl users do both)."""
    options = [
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
            help=f"Time to wait for one API request, e.g. 5s (default {DEFAULT_TIMEOUT}).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def output_options(*formats: str) -> Callable[[F], F]:
    """`-o` and `--no-headers`, the same on every listing command."""
    from kubectl_fed.output import FORMATS

    choices = formats or FORMATS

    def decorate(function: F) -> F:
        function = click.option(
            "--no-headers", is_flag=True, help="Print table rows without the header line."
        )(function)
        return click.option(
            "-o",
            "--output",
            "output",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format.",
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


def namespace_options(function: F) -> F:
    function = click.option(
        "-A", "--all-namespaces", is_flag=True, help="Every namespace (adds a NAMESPACE column)."
    )(function)
    return click.option("-n", "--namespace", default="default", show_default=True)(function)


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
