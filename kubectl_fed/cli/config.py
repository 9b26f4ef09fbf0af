"""`kubectl fed config`: view and edit the local state file."""

from __future__ import annotations

import click

from kubectl_fed.cli.settings import settings
from kubectl_fed.state import KNOWN_KEYS


@click.group()
def config() -> None:
    """View and edit local state (the host, defaults, members with local credentials)."""


@config.command()
def view() -> None:
    """Print the state file, comments included."""
    s = settings()
    click.echo(f"# {s.state.path}")
    click.echo(s.state.text().rstrip("\n"))


@config.command("get")
@click.argument("key")
def get_key(key: str) -> None:
    """Print one value, e.g. `host.context`."""
    from kubectl_fed.errors import FedError

    value = settings().state.get(key)
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
    """Set KEY to VALUE. Known keys:"""
    from kubectl_fed.state import parse_value

    settings().state.set(key, parse_value(value))
    click.echo(f"{key} set")


set_key.help = (set_key.help or "") + ", ".join(KNOWN_KEYS) + "."


@config.command()
@click.argument("key")
def unset(key: str) -> None:
    """Remove KEY."""
    from kubectl_fed.errors import FedError

    if not settings().state.unset(key):
        raise FedError(f"{key} is not set")
    click.echo(f"{key} unset")
