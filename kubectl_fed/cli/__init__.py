"""Entry point of `kubectl-fed`. Commands import their heavy modules lazily."""

from __future__ import annotations

import os
import sys


def main() -> None:
    import logging

    from kubectl_fed.cli.app import fed

    # Our own retries and messages say what matters; urllib3's warnings would only repeat it.
    logging.getLogger("urllib3").setLevel(logging.ERROR)

    try:
        fed.main(prog_name="kubectl fed")
    except Exception as err:  # a bug, not bad input: still one line, unless debugging
        if os.environ.get("KUBECTL_FED_DEBUG"):
            raise
        message = " ".join(str(err).split())[:300]
        print(
            f"error: internal error: {type(err).__name__}: {message} "
            "(set KUBECTL_FED_DEBUG=1 for details)",
            file=sys.stderr,
        )
        sys.exit(2)
