"""Where output meets the terminal: colour (only on a tty, never with NO_COLOR) and the
`echo` every listing command prints its rendered text with."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

STATUS_COLOURS = {"OK": "green", "WARN": "yellow", "FAIL": "red"}


def use_colour(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ


def paint(text: str, colour: str) -> str:
    return click.style(text, fg=colour) if use_colour() else text


def paint_status(text: str) -> str:
    """A STATUS cell (doctor's OK/WARN/FAIL, a cluster's status code): anything not OK
    or WARN is red."""
    return paint(text, STATUS_COLOURS.get(text, "red")) if text else text


def echo(text: str, output: str = "") -> None:
    """Print rendered text; a jsonpath template's output as it is, with no newline added
    (as kubectl: the template says where lines end)."""
    if output.startswith("jsonpath="):
        click.echo(text, nl=False)
    elif text:
        click.echo(text)
