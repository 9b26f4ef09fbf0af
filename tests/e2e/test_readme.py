"""README.md's shell blocks, run as written against a federation set up as `make demo`
sets it up (the steps of scripts/demo.sh itself, on the session's local apiservers).

The convention (README, Quick start): every ```sh block runs, one `bash -e` per block,
in a shell with the virtualenv's bin on PATH, KUBECONFIG and KUBECTL_FED_CONFIG; unless
its first line is `# excerpt: why`. `make`, `pip install` and `kubectl krew` cannot run
here, so a block with them must be an excerpt. ```console blocks are transcripts and not
run. A first line `# expect-exit: N` expects exit N instead of 0.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Federation, Kubectl

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO = ROOT / "scripts" / "demo.sh"
DEMO_MEMBERS = ("member-1", "member-2")
EXCERPT = re.compile(r"#\s*excerpt:\s*(?P<why>.*)")
EXPECT_EXIT = re.compile(r"#\s*expect-exit:\s*(?P<code>\d+)\s*$")
# What a test cannot run: a block holding one of these must be an excerpt.
NOT_RUNNABLE = re.compile(r"^\s*(make\b|pip3? install\b|python3? -m pip\b|kubectl krew\b|\$ )")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    heading: str
    language: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def excerpt(self) -> bool:
        return EXCERPT.fullmatch(self.first_line) is not None

    @property
    def runnable(self) -> bool:
        return self.language == "sh" and not self.excerpt

    @property
    def expected_exit(self) -> int:
        found = EXPECT_EXIT.fullmatch(self.first_line)
        return int(found["code"]) if found else 0

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"L{self.line}-{slug}"


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    heading, opened, language = "", 0, ""
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if opened:
            if line.strip() == "```":
                blocks.append(Block(opened, heading, language, "\n".join(body) + "\n"))
                opened = 0
            else:
                body.append(line)
        elif line.startswith("```"):
            opened, language, body = number, line[3:].strip(), []
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    assert not opened, f"README.md:{opened}: a fence is never closed"
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [block for block in BLOCKS if block.runnable]


def demo_steps() -> str:
    """What scripts/demo.sh does once its apiservers are up: the lines between set -x and
    set +x (init, join, the spread policy and the web Deployment, a sync)."""
    text = DEMO.read_text(encoding="utf-8")
    found = re.search(r"^set -x\n(?P<steps>.*?)^set \+x$", text, re.MULTILINE | re.DOTALL)
    assert found, "scripts/demo.sh: no `set -x` ... `set +x` section"
    return found["steps"]


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass(frozen=True)
class Demo:
    env: dict[str, str]
    cwd: Path


def federated_clusters(k: Kubectl) -> dict[str, dict[str, str]]:
    """Name -> labels of every FederatedCluster in the host."""
    result = k.run("get", "federatedclusters", "-o", "json", check=False)
    if result.code != 0:  # the federation API is not installed yet
        return {}
    items = json.loads(result.out)["items"]
    return {item["metadata"]["name"]: item["metadata"].get("labels") or {} for item in items}


def sweep_default_namespace(k: Kubectl, context: str) -> None:
    """Whatever the demo and the blocks made in `default` (the e2e tests' own objects live
    in namespaces of their own)."""
    base = ("--context", context, "delete", "-n", "default", "--ignore-not-found", "--wait=false")
    k.run(*base, "deployments,replicasets,jobs", "--all", check=False)
    k.run(*base, "services", "--field-selector", "metadata.name!=kubernetes", check=False)
    k.run(*base, "configmaps", "--field-selector", "metadata.name!=kube-root-ca.crt", check=False)
    if context == "host":
        k.run(*base, "propagationpolicies,overridepolicies", "--all", check=False)


def clean_up(k: Kubectl, before: dict[str, dict[str, str]]) -> None:
    for name in set(federated_clusters(k)) - set(before) - set(DEMO_MEMBERS):
        k.fed("unjoin", name, check=False)
    sweep_default_namespace(k, "host")
    k.fed("sync", "--once", "-n", "default", check=False)  # the member copies leave
    for member in DEMO_MEMBERS:
        sweep_default_namespace(k, member)
    for name, labels in before.items():  # the demo joins with labels: put back the old ones
        patch = [{"op": "replace", "path": "/metadata/labels", "value": labels}]
        k.run(
            *("patch", "federatedcluster", name, "--type=json", "-p", json.dumps(patch)),
            check=False,
        )


@pytest.fixture(scope="module")
def demo(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("readme")
    k = Kubectl(federation, home / "kubectl-fed.toml")
    before = {
        name: labels
        for name, labels in federated_clusters(k).items()
        if name in DEMO_MEMBERS  # other names are the session's, left alone
    }
    sweep_default_namespace(k, "host")  # what an interrupted run left
    for member in DEMO_MEMBERS:
        sweep_default_namespace(k, member)
    steps = bash(demo_steps(), k.env, home)
    assert steps.returncode == 0, f"scripts/demo.sh's steps failed:\n{steps.stderr}{steps.stdout}"
    yield Demo(k.env, home)
    clean_up(k, before)


def test_readme_has_runnable_blocks() -> None:
    assert len(RUNNABLE) >= 3, [block.id for block in BLOCKS]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == "sh"], ids=lambda b: b.id)
def test_block_is_runnable_or_marked(block: Block) -> None:
    if block.excerpt:
        found = EXCERPT.fullmatch(block.first_line)
        assert found and found["why"].strip(), f"README.md:{block.line}: say why it is an excerpt"
        return
    for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
        assert not NOT_RUNNABLE.match(line), (
            f"README.md:{number}: {line.strip()!r} cannot run in a test: "
            "make the block an excerpt (first line `# excerpt: why`), "
            "or a ```console transcript"
        )


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_block_runs(block: Block, demo: Demo) -> None:
    done = bash(block.text, demo.env, demo.cwd)
    assert done.returncode == block.expected_exit, (
        f"README.md:{block.line} ({block.heading}) exited {done.returncode}, "
        f"expected {block.expected_exit}:\n{block.text}\n--- stderr\n{done.stderr}\n"
        f"--- stdout\n{done.stdout[-3000:]}"
    )
