"""`kubectl fed config`: view and edit the local state file.

These commands are how a file that breaks the schema is mended, so they load it even
then (`view` names every problem); every other command refuses such a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kubectl_fed.cli.completion import complete_config_keys
from kubectl_fed.cli.help import FedSubGroup
from kubectl_fed.state import KNOWN_KEYS

if TYPE_CHECKING:
    from kubectl_fed.state import LocalState


def _state() -> LocalState:
    from kubectl_fed.state import LocalState

    return LocalState.load(strict=False)


@click.group(
    cls=FedSubGroup,
    examples="""
    # Print the local state file
    kubectl fed config view

    # Which context is the host
    kubectl fed config get host.context
    """,
)
def config() -> None:
    """View and edit local state: the host, defaults, local members.

    The host, defaults, and the members joined with local credentials.
    """


@config.command(
    examples="""
    # Print the local state file, comments included
    kubectl fed config view
    """,
)
def view() -> None:
    """Print the state file and what is wrong with it.

    The file is printed as it is, comments included; each problem is a warning on stderr.
    """
    state = _state()
    click.echo(f"# {state.path}")
    click.echo(state.text().rstrip("\n"))
    for problem in state.problems():
        click.echo(f"warning: {state.path}: {problem}", err=True)


@config.command(
    "get",
    examples="""
    # Which context is the host
    kubectl fed config get host.context
    """,
)
@click.argument("key", shell_complete=complete_config_keys)
def get_key(key: str) -> None:
    """Print the value of KEY, e.g. host.context."""
    from kubectl_fed.errors import FedError

    value = _state().get(key)
    if value is None:
        raise FedError(f"{key} is not set")
    if isinstance(value, dict):
        from kubectl_fed.output import dump

        click.echo(dump(value, "yaml"))
    else:
        click.echo(str(value).lower() if isinstance(value, bool) else value)


@config.command(
    "set",
    examples="""
    # Give every API request 30 seconds unless --request-timeout says otherwise
    kubectl fed config set defaults.request-timeout 30s
    """,
)
@click.argument("key", shell_complete=complete_config_keys)
@click.argument("value")
def set_key(key: str, value: str) -> None:
    """Set KEY to VALUE.

    VALUE is a string, stored as given. Known keys:"""
    _state().set(key, value)
    click.echo(f"{key} set")


set_key.help = (set_key.help or "") + " " + ", ".join(KNOWN_KEYS) + "."


@config.command(
    examples="""
    # Back to the default request timeout (10s)
    kubectl fed config unset defaults.request-timeout
    """,
)
@click.argument("key", shell_complete=complete_config_keys)
def unset(key: str) -> None:
    """Remove KEY (any key, known or not)."""
    from kubectl_fed.errors import FedError

    if not _state().unset(key):
        raise FedError(f"{key} is not set")
    click.echo(f"{key} unset")
