"""The one exception type commands raise: a one-line message and an exit code."""

from __future__ import annotations

import sys
from typing import IO, Any

import click


class FedError(click.ClickException):
    """A user-facing failure: printed as one `error: ...` line, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        # Keep it to one line: server messages may carry newlines.
        super().__init__(" ".join(message.split()))
        if exit_code is not None:
            # click declares exit_code a ClassVar; commands like `diff` need >1 per instance.
            self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr)


class CRDsMissing(FedError):
    def __init__(self, host: str) -> None:
        super().__init__(
            f"the federation API is not installed in {host}: run `kubectl fed init` first"
        )
