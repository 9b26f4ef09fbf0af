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


NO_FILE_COMPLETION = 4


def complete() -> None:
    """`kubectl_complete-fed`: kubectl runs it with the words after `fed` plus the word being
    completed; we print one candidate per line (`value<TAB>help`) and a last `:4` directive
    (no file completion)."""
    from click.shell_completion import ShellComplete

    from kubectl_fed.cli.app import fed

    words = sys.argv[1:]
    args, incomplete = (words[:-1], words[-1]) if words else ([], "")
    completer = ShellComplete(fed, {}, "kubectl fed", "_KUBECTL_FED_COMPLETE")
    try:
        items = completer.get_completions(args, incomplete)
    except Exception:  # a half-typed command line must never print a traceback
        items = []
    for item in items:
        help_text = (item.help or "").split("\n")[0]
        print(f"{item.value}\t{help_text}" if help_text else item.value)
    print(f":{NO_FILE_COMPLETION}")
