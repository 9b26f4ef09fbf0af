"""`kubectl fed config`: view and edit the local state file.

These commands are how a file that breaks the schema is mended, so they load it even
then (`view` names every problem); every other command refuses such a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kubectl_fed.state import KNOWN_KEYS

if TYPE_CHECKING:
    from kubectl_fed.state import LocalState


def _state() -> LocalState:
    from kubectl_fed.state import LocalState

    return LocalState.load(strict=False)


@click.group()
def config() -> None:
    """View and edit local state (the host, defaults, members with local credentials)."""


@config.command()
def view() -> None:
    """Print the state file, comments included, and what is wrong with it."""
    state = _state()
    click.echo(f"# {state.path}")
    click.echo(state.text().rstrip("\n"))
    for problem in state.problems():
        click.echo(f"warning: {state.path}: {problem}", err=True)


@config.command("get")
@click.argument("key")
def get_key(key: str) -> None:
    """Print one value, e.g. `host.context`."""
    from kubectl_fed.errors import FedError

    value = _state().get(key)
    if value is None:
        raise FedError(f"{key} is not set")
    if isinstance(value, dict):
        from kubectl_fed.output import dump

        click.echo(dump(value, "yaml"))
    else:
        click.echo(str(value).lower() if isinstance(value, bool) else value)


@config.command("set")
@click.argument("key")
@click.argument("value")
def set_key(key: str, value: str) -> None:
    """Set KEY to VALUE (a string, stored as given). Known keys:"""
    _state().set(key, value)
    click.echo(f"{key} set")


set_key.help = (set_key.help or "") + " " + ", ".join(KNOWN_KEYS) + "."


@config.command()
@click.argument("key")
def unset(key: str) -> None:
    """Remove KEY (any key, known or not)."""
    from kubectl_fed.errors import FedError

    if not _state().unset(key):
        raise FedError(f"{key} is not set")
    click.echo(f"{key} unset")
