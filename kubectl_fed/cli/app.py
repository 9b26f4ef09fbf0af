"""The `kubectl fed` command group: every subcommand, registered lazily-importing."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from kubectl_fed import __version__
from kubectl_fed.cli import (
    adopt,
    config,
    diff,
    doctor,
    explain,
    get,
    init,
    membership,
    rollout,
    status,
    sync,
)
from kubectl_fed.cli.help import FedCommand, FullSummaries, WithExamples, command_names, help_of
from kubectl_fed.cli.settings import Settings, root_options, settle_global_options
from kubectl_fed.cli.usage import from_click, normalise
from kubectl_fed.errors import FedError

# click >= 8.2 raises it for a group without its subcommand (8.1 printed the help itself).
NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())

EXAMPLES = """
  # Install the federation API in the host (context host) and remember it as the host
  kubectl fed init --context host

  # Join two clusters as members, labelled for policies to select
  kubectl fed join member-1 --cluster-context member-1 --labels region=eu --overwrite
  kubectl fed join member-2 --cluster-context member-2 --labels region=us --overwrite

  # Make the members match the federation, once
  kubectl fed sync --once

  # Where Deployment web runs, and why
  kubectl fed status deploy/web
  kubectl fed explain deploy/web"""

HELP = """Federate Kubernetes resources across clusters, from kubectl.

The host cluster keeps the federation (KubeAdmiral's core.kubeadmiral.io API);
`kubectl fed sync` makes the members match it, on request.
"""


class FedGroup(WithExamples, FullSummaries):
    """The root group; the one place a FedError becomes output: `error: MESSAGE` on stderr
    and the error's exit code, as click ends a run on its own errors (and, outside
    standalone mode, raised to the caller as click raises its own). Flags in pflag's forms
    are accepted, and usage errors are kubectl's (cli/usage.py); without a subcommand, the
    help (exit 0), as kubectl. Its help has examples and every command's full summary."""

    examples = inspect.cleandoc(EXAMPLES)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            args = normalise(self, ctx, args)
        return super().parse_args(ctx, args)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NO_ARGS_IS_HELP as err:
            _help(err)
        except click.UsageError as err:
            root = err.ctx or click.Context(self, info_name=info_name, parent=parent)
            raise from_click(err, root) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NO_ARGS_IS_HELP as err:
            _help(err)
        except click.UsageError as err:
            raise from_click(err, ctx) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        except FedError as err:
            if not standalone_mode:
                raise
            click.echo(f"error: {err.message}", file=sys.stderr)
            sys.exit(err.exit_code)


def _help(err: click.UsageError) -> NoReturn:
    """A group without its subcommand: the help on stdout, exit 0 (kubectl does so)."""
    assert err.ctx is not None
    click.echo(err.ctx.get_help())
    raise click.exceptions.Exit(0)


@click.group(cls=FedGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@root_options
@click.pass_context
def fed(ctx: click.Context) -> None:
    ctx.ensure_object(Settings)


@fed.command(
    cls=FedCommand,
    examples="""
    # Print the plugin version, the Python that runs it and the API it speaks
    kubectl fed version

    # The same, as YAML
    kubectl fed version -o yaml
    """,
)
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text")
def version(output: str) -> None:
    """Print the kubectl-fed version."""
    import platform

    info = {
        "version": f"v{__version__}",
        "python": platform.python_version(),
        "api": "core.kubeadmiral.io/v1alpha1",
    }
    if output == "text":
        click.echo(f"kubectl-fed v{__version__} (python {info['python']}, api {info['api']})")
    else:
        from kubectl_fed.output import dump

        click.echo(dump(info, output))


def _complete_help(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    return command_names(ctx, list(ctx.params.get("words") or ()), incomplete)


@fed.command(
    "help",
    cls=FedCommand,
    examples="""
    # The help of join, as `kubectl fed join --help` prints it
    kubectl fed help join

    # The help of a command of a group
    kubectl fed help config set
    """,
)
@click.argument("words", nargs=-1, metavar="[COMMAND]...", shell_complete=_complete_help)
@click.pass_context
def help_command(ctx: click.Context, words: tuple[str, ...]) -> None:
    """Help about any command.

    `kubectl fed help COMMAND` prints what `kubectl fed COMMAND --help` prints; without a
    COMMAND, the help of kubectl fed.
    """
    assert ctx.parent is not None
    click.echo(help_of(ctx.parent, words))


for command in (
    init.init,
    membership.join,
    membership.unjoin,
    membership.rotate,
    membership.clusters,
    get.get,
    membership.cordon,
    membership.uncordon,
    membership.taint,
    config.config,
    sync.sync,
    adopt.adopt,
    diff.diff,
    status.status,
    rollout.rollout,
    explain.explain,
    doctor.doctor,
):
    fed.add_command(command)
settle_global_options(fed)
