"""The one exception type commands raise: a one-line message and an exit code.

It knows nothing of the command line: cli/app.py alone turns it into output.
"""

from __future__ import annotations


class FedError(Exception):
    """A user-facing failure: printed as one `error: ...` line, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        # Keep it to one line: server messages may carry newlines.
        self.message = " ".join(message.split())
        super().__init__(self.message)
        if exit_code is not None:
            self.exit_code = exit_code  # commands like `diff` need more than 1


class CRDsMissing(FedError):
    def __init__(self, host: str) -> None:
        super().__init__(
            f"the federation API is not installed in {host}: run `kubectl fed init` first"
        )
