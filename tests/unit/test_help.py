"""Help as kubectl's: every command's help has an `Examples:` section (each example under
its `# comment`, every line a command that parses), `kubectl fed --help` lists every
command with its whole summary, and `kubectl fed help CMD` prints `CMD --help`. Then the
completion candidates of contexts, namespaces, config keys and `help`, and the word taint
says."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from kubectl_fed.cli.app import fed
from kubectl_fed.cli.membership import taint_verb
from kubectl_fed.cli.settings import Settings
from tests.e2e.test_help_examples import ORDER, commands, example_lines

EVERY = commands()


def run(*args: str, width: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        fed, list(args), prog_name="kubectl fed", terminal_width=width, color=False
    )
    return result.exit_code, result.stdout, result.stderr


def help_text(path: str) -> str:
    code, out, _ = run(*path.split(), "--help")
    assert code == 0
    return out


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and lines[i][0] != " "), None)
    return lines[start:end]


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", sorted(EVERY))
def test_every_help_has_examples_as_kubectl_writes_them(path: str) -> None:
    text = help_text(path)
    assert text.index("Examples:") < text.index("Options:")
    examples = section(text, "Examples")
    blocks = "\n".join(examples).split("\n\n")
    assert blocks and all(block.strip() for block in blocks)
    for block in blocks:
        lines = block.splitlines()
        assert lines[0].startswith("  # "), block  # a comment says what each one does
        assert len(lines) >= 2 and all(line.startswith("  kubectl ") for line in lines[1:])


def _parse(args: list[str]) -> None:
    """Parse a `kubectl fed` command line down to its last command, as a run would,
    invoking nothing (a usage error raises)."""
    ctx = fed.make_context("kubectl fed", list(args))
    while isinstance(ctx.command, click.Group):
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
        rest = [*protected, *ctx.args]
        name, command, rest = ctx.command.resolve_command(ctx, rest)
        assert command is not None and name is not None
        ctx = command.make_context(name, rest, parent=ctx)


@pytest.mark.parametrize("path", sorted(EVERY))
def test_every_example_of_kubectl_fed_parses(path: str) -> None:
    for line in example_lines(EVERY[path]):
        words = shlex.split(line)
        assert words[0] == "kubectl"
        if words[1] == "fed":
            _parse(words[2:])


def test_examples_run_in_an_order_that_covers_every_command() -> None:
    assert sorted(ORDER) == sorted(EVERY)


@pytest.mark.parametrize("width", [80, 60])
def test_the_command_list_shows_every_summary_whole(width: int) -> None:
    _, out, _ = run("--help", width=width)
    listed = " ".join(" ".join(section(out, "Commands")).split())
    assert "..." not in listed
    for name, command in fed.commands.items():
        summary = command.get_short_help_str(limit=10_000)
        assert f"{name} {summary}" in listed
        if width == 80:  # and it fits on its line
            assert any(line.split() == [name, *summary.split()] for line in out.splitlines())


def test_summaries_are_one_sentence_that_fits() -> None:
    for path, command in EVERY.items():
        if path:
            summary = command.get_short_help_str(limit=10_000)
            assert len(summary) <= 66 and summary.endswith("."), (path, summary)


# --------------------------------------------------------------------------- help CMD


@pytest.mark.parametrize("path", sorted(EVERY))
def test_help_command_prints_the_commands_help(path: str) -> None:
    code, out, err = run("help", *path.split())
    assert (code, err) == (0, "")
    assert out == help_text(path)


def test_help_of_an_unknown_command_is_one_line() -> None:
    assert run("help", "nosuch") == (1, "", 'error: unknown command "nosuch" for "kubectl fed"\n')
    code, _, err = run("help", "config", "nosuch")
    assert (code, err) == (1, 'error: unknown command "nosuch" for "kubectl fed config"\n')


# --------------------------------------------------------------------------- completion


def complete(*words: str) -> list[str]:
    """What `kubectl_complete-fed WORDS...` offers (the last word is being completed)."""
    args, incomplete = list(words[:-1]), words[-1]
    completer = ShellComplete(fed, {}, "kubectl fed", "_KUBECTL_FED_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


def _kubeconfig(path: Path, contexts: list[str], current: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts
                ],
                "current-context": current,
            }
        )
    )
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBECTL_FED_CONFIG", str(tmp_path / "state.toml"))
    path = _kubeconfig(tmp_path / "kubeconfig", ["host", "member-1", "member-2"], "host")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def test_contexts_complete_from_the_kubeconfig(kubeconfig: Path, tmp_path: Path) -> None:
    assert complete("--context", "") == ["host", "member-1", "member-2"]
    assert complete("status", "--context", "mem") == ["member-1", "member-2"]
    other = _kubeconfig(tmp_path / "other", ["edge", "east"], "edge")
    assert complete("--kubeconfig", str(other), "--context", "e") == ["east", "edge"]
    assert complete("join", "x", "--cluster-context", "member-") == ["member-1", "member-2"]
    assert complete("join", "x", "--cluster-kubeconfig", str(other), "--cluster-context", "") == [
        "east",
        "edge",
    ]


def test_contexts_of_a_broken_kubeconfig_complete_to_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad").write_text("{not yaml")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "bad"))
    assert complete("--context", "") == []


def test_namespaces_complete_from_the_host(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Kube:
        def get(self, path: str) -> dict[str, Any]:
            assert path == "/api/v1/namespaces"
            names = ["default", "kube-system", "shop"]
            return {"items": [{"metadata": {"name": n}} for n in names]}

    class Host:
        kube = Kube()

    monkeypatch.setattr(Settings, "host", lambda self: Host())
    assert complete("-n", "") == ["default", "kube-system", "shop"]
    assert complete("status", "-n", "s") == ["shop"]
    assert complete("sync", "--namespace", "k") == ["kube-system"]


def test_namespaces_of_a_slow_or_absent_host_complete_to_nothing_in_time(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    assert complete("get", "deploy", "-n", "") == []  # 127.0.0.1:1 refuses at once

    def slow(self: Settings) -> Any:
        time.sleep(30)

    monkeypatch.setattr(Settings, "host", slow)
    started = time.monotonic()
    assert complete("-n", "") == []
    assert time.monotonic() - started < 3


def test_config_keys_complete(kubeconfig: Path, tmp_path: Path) -> None:
    known = [
        "host.kubeconfig",
        "host.context",
        "host.fed-namespace",
        "defaults.request-timeout",
        "defaults.output",
    ]
    assert complete("config", "set", "") == known
    assert complete("config", "get", "host.") == known[:3]
    assert complete("config", "unset", "def") == known[3:]
    (tmp_path / "state.toml").write_text('[members.edge]\ncontext = "edge"\n')
    assert complete("config", "get", "members.") == [
        "members.edge.context",
        "members.edge.kubeconfig",
    ]


def test_help_completes_command_names() -> None:
    assert complete("help", "cord") == ["cordon"]
    assert complete("help", "config", "") == ["get", "set", "unset", "view"]
    assert "help" in complete("")


# --------------------------------------------------------------------------- taint


@pytest.mark.parametrize(
    ("taints", "overwrite", "word"),
    [
        ([({"key": "gpu", "effect": "NoSchedule"}, False)], False, "tainted"),
        ([({"key": "gpu"}, True)], False, "untainted"),
        ([({"key": "gpu"}, True)], True, "untainted"),
        ([({"key": "gpu", "effect": "NoSchedule"}, False)], True, "modified"),
        ([({"key": "a", "effect": "NoSchedule"}, False), ({"key": "b"}, True)], False, "modified"),
    ],
)
def test_taint_says_what_it_did_as_kubectl_taint(
    taints: list[tuple[dict[str, str], bool]], overwrite: bool, word: str
) -> None:
    assert taint_verb(taints, overwrite) == word
