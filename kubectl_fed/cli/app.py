"""The `kubectl fed` command group: every subcommand, registered lazily-importing."""

from __future__ import annotations

import click

from kubectl_fed import __version__
from kubectl_fed.cli import adopt, clusters, config, diff, init, inspect, sync
from kubectl_fed.cli.settings import Settings, host_options

HELP = """Federate Kubernetes resources across clusters, from kubectl.

The host cluster keeps the federation (KubeAdmiral's core.kubeadmiral.io API);
`kubectl fed sync` makes the members match it, on request.
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@host_options
@click.pass_context
def fed(ctx: click.Context) -> None:
    ctx.ensure_object(Settings)


@fed.command()
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


for command in (
    init.init,
    clusters.join,
    clusters.unjoin,
    clusters.clusters,
    inspect.get,
    clusters.cordon,
    clusters.uncordon,
    clusters.taint,
    config.config,
    sync.sync,
    adopt.adopt,
    diff.diff,
    inspect.status,
    inspect.explain,
    inspect.doctor,
):
    fed.add_command(command)
