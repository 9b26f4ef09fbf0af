"""kubectl's command-line habits on click.

pflag, which kubectl parses flags with, accepts forms click does not: `-n=shop` (a short
flag with `=`), `--insecure-skip-tls-verify=true` or `=false` (any boolean flag with a
value). `normalise` rewrites those into click's forms before click parses.

A usage error (unknown flag, missing argument, bad value) is, as in kubectl, one line
`error: <what>` (pflag's and cobra's words where they have some) and then
`See 'kubectl fed <cmd> --help' for usage.`, exit 1; never click's three-line block, exit 2.
"""

from __future__ import annotations

import re
from typing import Any

import click

# Go's strconv.ParseBool.
TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
RAW_VALUES = "kubectl_fed.raw_values"  # ctx.meta: option name -> the value as typed
COMMAND_PATH = "kubectl_fed.command_path"  # ctx.meta: the command the arguments name


class KubectlUsageError(click.ClickException):
    """Printed as kubectl prints usage errors."""

    exit_code = 1

    def __init__(self, message: str, command_path: str) -> None:
        super().__init__(message)
        self.command_path = command_path

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)
        click.echo(f"See '{self.command_path} --help' for usage.", err=True)


def normalise(root: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """pflag's forms of the flags in `args`, rewritten for click; the value each option was
    given is noted in ctx.meta for the error messages. Everything else passes unchanged
    (click reports what is wrong with it)."""
    raw: dict[str, str] = ctx.meta.setdefault(RAW_VALUES, {})
    command, options = root, _options(root)
    path = [ctx.command_path]  # for the See '...' line
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += args[i - 1 :]
            break
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.partition("=")
            option = options.get(name)
            if eq and option is not None and (name.startswith("--") or len(name) == 2):
                out += _with_value(option, name, value, raw, " ".join(path))
                continue
            if option is not None and not _is_bool(option) and not eq:
                if len(name) > 2 and not name.startswith("--"):  # -nshop, -v6
                    raw[str(option.name)] = name[2:]
                elif i < len(args):
                    raw[str(option.name)] = args[i]
                    out += [arg, args[i]]
                    i += 1
                    continue
            out.append(arg)
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(ctx, arg)
            if sub is not None:
                command, options = sub, _options(sub)
                path.append(arg)
                ctx.meta[COMMAND_PATH] = " ".join(path)
        out.append(arg)
    return out


def _with_value(
    option: click.Option,
    name: str,
    value: str,
    raw: dict[str, str],
    command_path: str,
) -> list[str]:
    raw[str(option.name)] = value
    if not _is_bool(option):
        return [name, value]
    if value in TRUE:
        return [option.opts[-1]]
    if value in FALSE:
        return [option.secondary_opts[0]] if option.secondary_opts else []
    raise KubectlUsageError(
        f'invalid argument "{value}" for "{_flags(option)}" flag: strconv.ParseBool: '
        f'parsing "{value}": invalid syntax',
        command_path,
    )


def _options(command: click.Command) -> dict[str, click.Option]:
    found: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in [*param.opts, *param.secondary_opts]:
                found[opt] = param
    return found


def _is_bool(option: click.Option) -> bool:
    return bool(option.is_flag) and not option.count


def _flags(param: click.Parameter) -> str:
    return ", ".join(param.opts)


def from_click(err: click.UsageError, root: click.Context) -> KubectlUsageError:
    """kubectl's line for what click found wrong (`root`: the group's context, for errors
    click raises before the subcommand's context exists)."""
    ctx = err.ctx or root
    path = err.ctx.command_path if err.ctx else root.meta.get(COMMAND_PATH, root.command_path)
    return KubectlUsageError(_what(err, ctx), path)


def _what(err: click.UsageError, ctx: click.Context | None) -> str:
    raw: dict[str, str] = ctx.meta.get(RAW_VALUES, {}) if ctx is not None else {}
    if isinstance(err, click.NoSuchOption):
        name = err.option_name
        return (
            f"unknown flag: {name}"
            if name.startswith("--")
            else f"unknown shorthand flag: '{name[1:]}' in {name}"
        )
    if isinstance(err, click.BadOptionUsage) and "requires" in err.message:
        name = err.option_name
        return (
            f"flag needs an argument: {name}"
            if name.startswith("--")
            else f"flag needs an argument: '{name[1:]}' in {name}"
        )
    if isinstance(err, click.MissingParameter) and err.param is not None:
        param = err.param
        if isinstance(param, click.Option):
            long = [o for o in param.opts if o.startswith("--")] or param.opts
            return f'required flag(s) "{long[0].lstrip("-")}" not set'
        name = param.human_readable_name
        if param.nargs == 1:
            return f"exactly one {name} is required, got 0"
        return f"at least one {name} is required"
    if isinstance(err, click.BadParameter) and err.param is not None:
        param = err.param
        value = raw.get(str(param.name))
        reason = err.message.rstrip(".")
        if isinstance(param, click.Option):
            given = f'"{value}" ' if value is not None else ""
            return f'invalid argument {given}for "{_flags(param)}" flag: {reason}'
        return f"invalid {param.human_readable_name}: {reason}"
    message = err.message
    unknown = re.fullmatch(r"No such command '(.*)'\.", message)
    if unknown:
        return f'unknown command "{unknown.group(1)}" for "{ctx.command_path if ctx else ""}"'
    extra = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)", message)
    if extra:
        words = extra.group(1).split()
        quoted = ", ".join(f'"{w}"' for w in words)
        return f"unexpected argument{'s' if len(words) > 1 else ''} {quoted}"
    return message
