"""Help as kubectl prints it: an `Examples:` section in every command's help (indented,
each example under its `# comment` line, never rewrapped), the full one-line summary of
every subcommand in a group's list (click would cut it with `...`), and `kubectl fed help
[COMMAND]`, which prints what `kubectl fed COMMAND --help` prints.

Every example runs as written against the `make demo` federation (scripts/demo.sh): the
e2e test tests/e2e/test_help_examples.py runs them all.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import click

from kubectl_fed.errors import FedError


def _dedent(examples: str) -> str:
    return inspect.cleandoc(examples) if examples.strip() else ""


class WithExamples:
    """What FedCommand and the groups share: `examples`, shown after the description."""

    examples: str = ""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)  # type: ignore[misc]
        write_examples(self.examples, formatter)


def write_examples(examples: str, formatter: click.HelpFormatter) -> None:
    """kubectl's `Examples:` section: the lines as written, indented by two."""
    if not examples:
        return
    with formatter.section("Examples"):
        for line in examples.splitlines():
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n" if line else "\n")


class FedCommand(WithExamples, click.Command):
    """A command with an `Examples:` section (`examples=` of click.command)."""

    def __init__(self, *args: Any, examples: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples = _dedent(examples)


class FullSummaries(click.Group):
    """A group whose list of commands shows every summary whole (wrapped on a narrow
    terminal, never cut)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class FedSubGroup(WithExamples, FullSummaries):
    """A group below `kubectl fed` (config): examples, full summaries; its commands are
    FedCommands."""

    command_class = FedCommand

    def __init__(self, *args: Any, examples: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples = _dedent(examples)


def help_of(ctx: click.Context, words: tuple[str, ...]) -> str:
    """The help `kubectl fed WORDS --help` prints (ctx: the root group's context)."""
    command: click.Command = ctx.command
    current = ctx
    for word in words:
        sub = command.get_command(current, word) if isinstance(command, click.Group) else None
        if sub is None:
            raise FedError(f'unknown command "{word}" for "{current.command_path}"')
        current = sub.make_context(word, [], parent=current, resilient_parsing=True)
        command = sub
    return current.get_help()


def command_names(ctx: click.Context, words: list[str], incomplete: str) -> list[Any]:
    """`kubectl fed help [CMD...] <TAB>`: the commands at that place."""
    from click.shell_completion import CompletionItem

    root = ctx.find_root()
    command: click.Command = root.command
    for word in words:
        sub = command.get_command(root, word) if isinstance(command, click.Group) else None
        if sub is None:
            return []
        command = sub
    if not isinstance(command, click.Group):
        return []
    found = []
    for name in command.list_commands(root):
        sub = command.get_command(root, name)
        if sub is not None and not sub.hidden and name.startswith(incomplete):
            found.append(CompletionItem(name, help=sub.get_short_help_str(limit=sys.maxsize)))
    return found
