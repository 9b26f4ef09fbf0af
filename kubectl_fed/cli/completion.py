"""`kubectl_complete-fed`: kubectl's plugin completion protocol over click's completion.

kubectl runs this with the words after `fed` plus the word being completed; we
print one candidate per line (`value<TAB>help`) and a last `:4` directive (no
file completion). Only click is imported unless a member name is completed.
"""

from __future__ import annotations

import sys

NO_FILE_COMPLETION = 4


def main() -> None:
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


if __name__ == "__main__":
    main()
