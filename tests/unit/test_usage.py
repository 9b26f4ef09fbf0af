"""kubectl's command-line habits: pflag's flag forms are accepted, and a usage error is
kubectl's two lines (`error: <what>`, `See 'kubectl fed <cmd> --help' for usage.`), exit 1."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from kubectl_fed.cli.app import fed
from kubectl_fed.cli.usage import normalise


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(fed, list(args), prog_name="kubectl fed")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "what", "command"),
    [
        (["status", "--bogus"], "unknown flag: --bogus", "kubectl fed status"),
        (["get", "deploy", "-x"], "unknown shorthand flag: 'x' in -x", "kubectl fed get"),
        (["status", "-n"], "flag needs an argument: 'n' in -n", "kubectl fed status"),
        (["--context"], "flag needs an argument: --context", "kubectl fed"),
        (
            ["status", "-o", "bogus"],
            'invalid argument "bogus" for "-o, --output" flag: unable to match a printer '
            "suitable for the output format 'bogus', allowed formats are: table, wide, json, "
            "yaml, name, jsonpath=, jsonpath-as-json=, custom-columns=",
            "kubectl fed status",
        ),
        (
            ["-v=x", "status"],
            'invalid argument "x" for "-v, --v" flag: \'x\' is not a valid integer',
            "kubectl fed",
        ),
        (
            ["clusters", "--insecure-skip-tls-verify=maybe"],
            'invalid argument "maybe" for "--insecure-skip-tls-verify" flag: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
            "kubectl fed clusters",
        ),
        (["join"], "exactly one NAME is required, got 0", "kubectl fed join"),
        (["join", "x"], 'required flag(s) "cluster-context" not set', "kubectl fed join"),
        (
            ["adopt", "--cluster", "m"],
            "at least one TYPE/NAME... | TYPE -l SEL is required",
            "kubectl fed adopt",
        ),
        (["bogus"], 'unknown command "bogus" for "kubectl fed"', "kubectl fed"),
        (
            ["config", "bogus"],
            'unknown command "bogus" for "kubectl fed config"',
            "kubectl fed config",
        ),
        (["config", "set", "x"], "exactly one VALUE is required, got 0", "kubectl fed config set"),
        (["version", "extra"], 'unexpected argument "extra"', "kubectl fed version"),
    ],
)
def test_usage_errors_are_kubectls(args: list[str], what: str, command: str) -> None:
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"error: {what}", f"See '{command} --help' for usage."]


def test_without_a_subcommand_the_help_exit_0() -> None:
    for args in ([], ["config"]):
        code, out, _ = run(*args)
        assert code == 0 and out.startswith("Usage: kubectl fed")


def test_pflag_forms_become_clicks() -> None:
    ctx = click.Context(fed, info_name="kubectl fed")
    args = [
        "-n=shop",
        "-v=6",
        "--as-group=a",
        "status",
        "deploy/web",
        "-o=json",
        "--insecure-skip-tls-verify=true",
        "--no-headers=false",
        "-A=true",
        "--context",
        "status",  # a value, not a subcommand
        "--",
        "-x=1",
    ]
    assert normalise(fed, ctx, args) == [
        *("-n", "shop", "-v", "6", "--as-group", "a", "status", "deploy/web", "-o", "json"),
        *("--insecure-skip-tls-verify", "--all-namespaces", "--context", "status", "--", "-x=1"),
    ]


@pytest.mark.parametrize("command", ["status", "get", "diff", "adopt", "explain"])
def test_namespace_help_names_the_contexts_namespace(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "[default: default]" not in out
    assert "context's namespace" in " ".join(out.split())


def test_the_group_help_lists_kubectls_global_flags() -> None:
    _, out, _ = run("--help")
    for flag in (
        "--as ",
        "--as-group",
        "--as-uid",
        "--user",
        "--cluster",
        "-s, --server",
        "--token",
        "--insecure-skip-tls-verify",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--tls-server-name",
        "-v, --v",
        "--request-timeout",
        "-n, --namespace",
    ):
        assert flag in out, flag


def test_every_command_takes_the_global_flags_once() -> None:
    def leaves(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            yield path, command
        for name, sub in subcommands.items():
            yield from leaves(sub, f"{path} {name}")

    for path, command in leaves(fed, "kubectl fed"):
        opts = [o for p in command.params for o in p.opts]
        assert len(opts) == len(set(opts)), path  # --cluster of adopt/diff/sync is theirs
        assert {"--as", "--server", "--token", "-v", "--request-timeout"} <= set(opts), path
