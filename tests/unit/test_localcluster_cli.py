"""`python -m tests.localcluster up`: which members run workloads, with which nodes.

Nothing is started: `up` is replaced by a recorder. Bad input is one line and a
non-zero exit, never a traceback, and never a federation started with a shape nobody
asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import localcluster
from tests.localcluster import LocalClusterError, NodeShape
from tests.localcluster import __main__ as cli


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_up(directory: Path, members: int, **kwargs: Any) -> dict[str, Any]:
        kwargs["workloads"] = localcluster._workload_config(members, kwargs["workloads"])
        calls.append({"members": members, **kwargs})
        return {}

    monkeypatch.setattr(cli, "up", fake_up)
    return calls


def test_without_workloads_every_member_is_bare(started: list[dict[str, Any]]) -> None:
    assert cli.main(["up", "--dir", "/tmp/x", "--members", "3"]) == 0
    assert started == [{"members": 3, "workloads": {}}]


def test_workloads_give_every_member_the_default_nodes(started: list[dict[str, Any]]) -> None:
    assert cli.main(["up", "--dir", "/tmp/x", "--workloads"]) == 0
    shape = {"nodes": 2, "cpu": "4", "memory": "8Gi", "pods": 110}
    assert started[0]["workloads"] == {"member-1": shape, "member-2": shape}


def test_a_member_overrides_some_keys_of_the_common_shape(
    started: list[dict[str, Any]],
) -> None:
    argv = ["up", "--dir", "/tmp/x", "--members", "3", "--workloads", "--nodes", "3"]
    argv += ["--node-cpu", "2", "--member", "member-2:nodes=1,pods=5", "--member", "member-3:"]
    assert cli.main(argv) == 0
    common = {"nodes": 3, "cpu": "2", "memory": "8Gi", "pods": 110}
    assert started[0]["workloads"] == {
        "member-1": common,
        "member-2": {**common, "nodes": 1, "pods": 5},
        "member-3": common,
    }


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--member", "member-1:nodes=2"], "--member needs --workloads"),
        (["--workloads", "--member", "member-9:nodes=2"], "no member 'member-9'"),
        (["--workloads", "--member", "host:nodes=2"], "no member 'host'"),
        (["--workloads", "--member", "member-1:gpus=2"], "KEY one of nodes, cpu, memory, pods"),
        (["--workloads", "--member", "member-1:nodes"], "expected KEY=VALUE"),
        (["--workloads", "--member", "member-1:nodes=two"], "nodes must be a whole number"),
    ],
)
def test_bad_member_specs_are_usage_errors(
    started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], extra: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["up", "--dir", "/tmp/x", *extra])
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err
    assert started == []


@pytest.mark.parametrize(
    "extra",
    [
        ["--node-cpu", "four"],
        ["--node-memory", "8 GB"],
        ["--nodes", "-1"],
        ["--member", "member-2:pods=-3"],
        ["--member", "member-2:memory=lots"],
    ],
)
def test_bad_quantities_are_one_line_errors(
    started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert cli.main(["up", "--dir", "/tmp/x", "--workloads", *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert started == []


def test_workloads_only_on_members() -> None:
    with pytest.raises(LocalClusterError, match="only members run workloads"):
        localcluster._workload_config(2, {"host": NodeShape()})
    with pytest.raises(LocalClusterError, match="member-3"):
        localcluster._workload_config(2, {"member-3": NodeShape()})


@pytest.mark.parametrize("quantity", ["4", "500m", "1.5", "8Gi", "16G", "1024Mi", "1k"])
def test_kubernetes_quantities_are_accepted(quantity: str) -> None:
    NodeShape(cpu=quantity, memory=quantity).check("member-1")
