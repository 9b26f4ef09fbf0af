"""Every `Examples:` line of every command's help runs as written, through the real
kubectl, against the federation `make demo` builds (scripts/demo.sh's own commands set it
up): the examples can never drift from the commands.

The commands' examples run in ORDER, which keeps the state each one expects (cordon
before uncordon, unjoin last); a command missing from ORDER fails the test.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from kubectl_fed.cli.app import fed
from tests.conftest import Kubectl

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.sh"

ORDER = [
    "",
    "version",
    "help",
    "init",
    "join",
    "clusters",
    "get",
    "status",
    "rollout",
    "rollout status",
    "diff",
    "explain",
    "sync",
    "cordon",
    "uncordon",
    "taint",
    "config",
    "config view",
    "config get",
    "config set",
    "config unset",
    "doctor",
    "rotate",
    "adopt",
    "unjoin",
]


def commands(group: click.Group = fed, path: str = "") -> dict[str, click.Command]:
    """Every command under `group` by its path after `kubectl fed` ("" for the root)."""
    found: dict[str, click.Command] = {path: group}
    for name, command in group.commands.items():
        sub = f"{path} {name}".strip()
        if isinstance(command, click.Group):
            found.update(commands(command, sub))
        else:
            found[sub] = command
    return found


def example_lines(command: click.Command) -> list[str]:
    """The command lines of its examples (the `# comment` lines left out)."""
    text: str = getattr(command, "examples", "")
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def demo_steps() -> list[tuple[str, str | None]]:
    """scripts/demo.sh's kubectl lines between `set -x` and `set +x`, each with the
    here-document it reads, if any."""
    text = DEMO.read_text()
    body = text[text.index("set -x\n") : text.index("set +x\n")]
    steps: list[tuple[str, str | None]] = []
    lines = iter(body.splitlines()[1:])
    for line in lines:
        heredoc = re.search(r"<<'(\w+)'$", line)
        if heredoc:
            end = heredoc.group(1)
            document = []
            for part in lines:
                if part == end:
                    break
                document.append(part)
            steps.append((line[: heredoc.start()].strip(), "\n".join(document) + "\n"))
        elif line.startswith("kubectl "):
            steps.append((line, None))
    return steps


def runs_until_interrupted(words: list[str]) -> bool:
    return words[1:3] == ["fed", "sync"] and "--once" not in words


def run_line(k: Kubectl, line: str, stdin: str | None = None) -> None:
    words = shlex.split(line)
    assert words[0] == "kubectl", line
    if runs_until_interrupted(words):  # Ctrl-C after a few seconds: a clean stop, exit 0
        process = subprocess.Popen(
            words, env=k.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(6)
        assert process.poll() is None, f"{line}: ended early:\n{process.communicate()[1]}"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"{line}: exited {process.returncode}:\n{err}\n{out}"
        return
    result = k.run(*words[1:], check=False, stdin=stdin)
    assert result.code == 0, f"{line}: exited {result.code}:\n{result.err}\n{result.out}"
    assert "error:" not in result.err, f"{line}:\n{result.err}"


@pytest.fixture
def demo(kubectl: Kubectl) -> Iterator[Kubectl]:
    """The state `make demo` leaves: host initialised, member-1 and member-2 joined,
    Deployment web in default divided by PropagationPolicy spread, synced."""
    for line, stdin in demo_steps():
        run_line(kubectl, line, stdin)
    try:
        yield kubectl
    finally:
        host = ("--context", "host", "-n", "default")
        kubectl.run(*host, "delete", "deployment", "web", "api", "--ignore-not-found")
        kubectl.run(
            "--context",
            "member-1",
            "-n",
            "default",
            "delete",
            "deployment",
            "api",
            "--ignore-not-found",
            check=False,
        )
        kubectl.fed("uncordon", "member-1", check=False)
        kubectl.fed("taint", "member-1", "dedicated-", check=False)
        for member in ("member-1", "member-2"):  # as the session's fed_host joined them
            kubectl.fed("join", member, "--cluster-context", member, "--overwrite")
        kubectl.fed("sync", "--once", check=False)
        kubectl.run(*host, "delete", "propagationpolicies", "--all", check=False)


def test_every_command_is_in_order() -> None:
    assert sorted(ORDER) == sorted(commands())


def roll_out_by_hand(k: Kubectl, name: str) -> None:
    """Members without a deployment controller (bare apiservers) never roll anything out:
    write the rolled-out status their controller would. A member with a controller has
    set observedGeneration already and is left to it."""
    for member in ("member-1", "member-2"):
        where = ("--context", member, "-n", "default")
        copy = json.loads(k.run(*where, "get", "deployment", name, "-o", "json").out)
        if (copy.get("status") or {}).get("observedGeneration"):
            continue
        replicas = copy["spec"]["replicas"]
        status = {
            "observedGeneration": copy["metadata"]["generation"],
            **dict.fromkeys(
                ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), replicas
            ),
        }
        patch = json.dumps({"status": status})
        k.run(
            *where, "patch", "deployment", name, "--subresource=status", "--type=merge", "-p", patch
        )


def test_every_example_runs_as_written(demo: Kubectl) -> None:
    every = commands()
    failed = []
    for path in ORDER:
        lines = example_lines(every[path])
        assert lines, f"kubectl fed {path} has no examples"
        if path.startswith("rollout"):
            roll_out_by_hand(demo, "web")
        for line in lines:
            try:
                run_line(demo, line)
            except AssertionError as err:  # the others still run: every failure is shown
                failed.append(str(err))
    assert not failed, "\n\n".join(failed)


def test_taint_removal_says_untainted(demo: Kubectl) -> None:
    assert demo.fed("taint", "member-1", "gpu=true:NoSchedule").out == "cluster member-1 tainted\n"
    assert demo.fed("taint", "member-1", "gpu-").out == "cluster member-1 untainted\n"


def test_completion_of_contexts_namespaces_and_keys_through_kubectl(kubectl: Kubectl) -> None:
    def complete(*words: str) -> list[str]:
        out = kubectl.run("__complete", "fed", *words).out.splitlines()
        return [line.split("\t")[0] for line in out if not line.startswith(":")]

    assert complete("--context", "") == ["host", "member-1", "member-2"]
    assert complete("join", "x", "--cluster-context", "member-") == ["member-1", "member-2"]
    assert "kube-system" in complete("--context", "host", "status", "-n", "kube-")
    assert complete("config", "set", "host.c") == ["host.context"]
    assert complete("help", "unj") == ["unjoin"]
