"""Shared fixtures: a real local federation (session-scoped) and a `kubectl fed` runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import localcluster

BIN_DIR = Path(sys.executable).parent  # where `pip install` put kubectl-fed


@dataclass
class Federation:
    directory: Path
    kubeconfig: Path

    def stop(self, name: str) -> None:
        localcluster.stop_server(self.directory, name)

    def start(self, name: str) -> None:
        localcluster.start_server(self.directory, name)

    @property
    def state(self) -> dict:  # type: ignore[type-arg]
        found = localcluster.load_state(self.directory)
        assert found is not None
        return found


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """One etcd, a host and two members, for the whole session.

    Set KUBECTL_FED_TEST_CLUSTERS=DIR to reuse a federation started with
    `python -m tests.localcluster up --dir DIR` (it is then left running).
    """
    reuse = os.environ.get("KUBECTL_FED_TEST_CLUSTERS")
    directory = Path(reuse) if reuse else tmp_path_factory.mktemp("federation")
    localcluster.up(directory, members=2)
    yield Federation(directory, directory / "kubeconfig")
    if not reuse:
        localcluster.down(directory)


# Each member of the workload federation: 2 simulated nodes of 4 CPU, 8Gi, 110 pods.
WORKLOAD_MEMBERS = {"member-1": localcluster.NodeShape(), "member-2": localcluster.NodeShape()}


@pytest.fixture(scope="session")
def workload_federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """A host and two members that run workloads (controller manager, scheduler, nodes
    simulated by KWOK), for the whole session, beside the bare `federation`.

    Set KUBECTL_FED_TEST_WORKLOAD_CLUSTERS=DIR to reuse one started with
    `python -m tests.localcluster up --dir DIR --workloads` (it is then left running).
    """
    reuse = os.environ.get("KUBECTL_FED_TEST_WORKLOAD_CLUSTERS")
    directory = Path(reuse) if reuse else tmp_path_factory.mktemp("workload-federation")
    localcluster.up(directory, members=2, workloads=WORKLOAD_MEMBERS)
    yield Federation(directory, directory / "kubeconfig")
    if not reuse:
        localcluster.down(directory)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Kubectl:
    """Runs the real kubectl (and through it the installed plugin) with isolated state."""

    def __init__(self, federation: Federation, state_file: Path) -> None:
        self.federation = federation
        self.env = dict(os.environ)
        self.env["PATH"] = f"{BIN_DIR}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["KUBECONFIG"] = str(federation.kubeconfig)
        self.env["KUBECTL_FED_CONFIG"] = str(state_file)
        self.env.pop("KUBECTL_FED_DEBUG", None)
        self.env.pop("NO_COLOR", None)

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120
    ) -> Result:
        done = subprocess.run(
            ["kubectl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}\n{done.stdout}"
            )
        return result

    def fed(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120
    ) -> Result:
        return self.run("fed", *args, check=check, stdin=stdin, timeout=timeout)

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        import json

        return json.loads(self.run(*args, "-o", "json").out)  # type: ignore[no-any-return]


@pytest.fixture
def kubectl(federation: Federation, tmp_path: Path) -> Kubectl:
    return Kubectl(federation, tmp_path / "state" / "config.toml")


@pytest.fixture(scope="session")
def fed_host(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """The federation API installed in the host and both members joined (once)."""
    k = Kubectl(federation, tmp_path_factory.mktemp("state") / "config.toml")
    k.fed("init", "--context", "host")
    for member in ("member-1", "member-2"):
        k.fed("join", member, "--cluster-context", member, "--overwrite")
    return k


@pytest.fixture(scope="session")
def fed_workloads(
    workload_federation: Federation, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    """The workload federation's host initialised and both members joined (once)."""
    k = Kubectl(workload_federation, tmp_path_factory.mktemp("workload-state") / "config.toml")
    k.fed("init", "--context", "host")
    for member in WORKLOAD_MEMBERS:
        k.fed("join", member, "--cluster-context", member, "--overwrite")
    return k
