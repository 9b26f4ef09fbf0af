"""kubectl fed adopt and kubectl fed diff, end to end through the real kubectl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import localcluster
from tests.conftest import BIN_DIR, Federation, Kubectl
from tests.e2e.helpers import apply, deployment, entry, get, policy, sync_once

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent / "fixtures"
POLICY_LABEL = "kubeadmiral.io/propagation-policy-name"
MEMBER = "kubeadmiral-member-1"  # the name the federalization guide uses


# --------------------------------------------------------------------------- the guide


@pytest.fixture(scope="module")
def guide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A federation of its own: a host and one member joined as kubeadmiral-member-1, with
    the guide's two kubeconfig files (member-1.config and kubeadmiral.config)."""
    directory = tmp_path_factory.mktemp("guide")
    localcluster.up(directory, members=1)
    home = directory / "home"
    configs = home / ".kube" / "kubeadmiral"
    configs.mkdir(parents=True)
    base = yaml.safe_load((directory / "kubeconfig").read_text())
    for name, context in (("member-1.config", "member-1"), ("kubeadmiral.config", "host")):
        (configs / name).write_text(yaml.safe_dump({**base, "current-context": context}))
    env = _guide_env(home, configs / "kubeadmiral.config")
    subprocess.run(["kubectl", "fed", "init"], env=env, check=True, capture_output=True)
    subprocess.run(
        ["kubectl", "fed", "join", MEMBER, "--cluster-context", "member-1"],
        env=env,
        check=True,
        capture_output=True,
    )
    yield home
    localcluster.down(directory)


def _guide_env(home: Path, kubeconfig: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        HOME=str(home),
        KUBECONFIG=str(kubeconfig),
        KUBECTL_FED_CONFIG=str(home / "kubectl-fed.toml"),
    )
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env['PATH']}"
    return env


def shell(home: Path, config: str, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one of the guide's command lines as written, after its `export KUBECONFIG=...`."""
    env = _guide_env(home, home / ".kube" / "kubeadmiral" / config)
    done = subprocess.run(["bash", "-c", command], env=env, cwd=cwd, text=True, capture_output=True)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done


def _member_state(home: Path, cwd: Path, namespace: str) -> dict[str, Any]:
    out = shell(
        home, "member-1.config", f"kubectl get deploy,svc my-nginx -n {namespace} -o json", cwd
    ).stdout
    items = {i["kind"]: i for i in json.loads(out)["items"]}
    return {
        "generation": items["Deployment"]["metadata"]["generation"],
        "template": items["Deployment"]["spec"]["template"],
        "uid": items["Deployment"]["metadata"]["uid"],
        "clusterIP": items["Service"]["spec"]["clusterIP"],
        "labels": items["Deployment"]["metadata"].get("labels", {}),
    }


def test_federalization_guide_verbatim(guide: Path, tmp_path: Path) -> None:
    for name, fixture in (
        ("my-nginx.yaml", "01-member-deployment"),
        ("my-nginx-svc.yaml", "02-member-service"),
        ("propagationPolicy.yaml", "03-propagation-policy"),
        ("resources.yaml", "06-host-resources"),
    ):
        shutil.copy(FIXTURES / f"federalization-{fixture}.yaml", tmp_path / name)
    # Create some resources in the member cluster.
    shell(guide, "member-1.config", "kubectl apply -f ./my-nginx.yaml", tmp_path)
    shell(guide, "member-1.config", "kubectl apply -f ./my-nginx-svc.yaml", tmp_path)
    before = _member_state(guide, tmp_path, "default")
    # Create a PropagationPolicy for resource binding in the host cluster.
    shell(guide, "kubeadmiral.config", "kubectl apply -f ./propagationPolicy.yaml", tmp_path)
    # Retrieve the member's YAML (the guide's step), then apply the prepared resources.
    shell(guide, "member-1.config", "kubectl get deploy my-nginx -oyaml", tmp_path)
    shell(guide, "member-1.config", "kubectl get svc my-nginx -oyaml", tmp_path)
    shell(guide, "kubeadmiral.config", "kubectl apply -f ./resources.yaml", tmp_path)
    shell(guide, "kubeadmiral.config", "kubectl fed sync --once", tmp_path)
    # View the results of Resource Federalization.
    out = shell(
        guide,
        "kubeadmiral.config",
        "kubectl get federatedobjects.core.kubeadmiral.io -oyaml",
        tmp_path,
    ).stdout
    objects = {o["metadata"]["name"]: o for o in yaml.safe_load(out)["items"]}
    assert set(objects) == {"my-nginx-deployments.apps", "my-nginx-services"}
    for fo in objects.values():
        assert [(c["cluster"], c["status"]) for c in fo["status"]["clusters"]] == [(MEMBER, "OK")]
        assert fo["status"]["conditions"][0]["status"] == "True"
    after = _member_state(guide, tmp_path, "default")
    assert after["generation"] == before["generation"]  # pods not restarted
    assert after["template"] == before["template"] and after["uid"] == before["uid"]
    assert after["clusterIP"] == before["clusterIP"]
    assert after["labels"]["kubeadmiral.io/adopted"] == "true"
    diff = subprocess.run(
        ["kubectl", "fed", "diff", "-A"],
        text=True,
        capture_output=True,
        env=_guide_env(guide, guide / ".kube/kubeadmiral/kubeadmiral.config"),
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_same_result_with_kubectl_fed_adopt(guide: Path, tmp_path: Path) -> None:
    namespace = "adopted"
    shell(guide, "member-1.config", f"kubectl create namespace {namespace}", tmp_path)
    for fixture in ("01-member-deployment", "02-member-service"):
        shell(
            guide,
            "member-1.config",
            f"kubectl apply -n {namespace} -f {FIXTURES / f'federalization-{fixture}.yaml'}",
            tmp_path,
        )
    before = _member_state(guide, tmp_path, namespace)
    preview = shell(
        guide,
        "kubeadmiral.config",
        f"kubectl fed adopt deploy/my-nginx svc/my-nginx --cluster {MEMBER} "
        f"-n {namespace} --create-policy --dry-run=client -o yaml",
        tmp_path,
    ).stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(preview)]
    assert kinds.count("PropagationPolicy") == 1 and "Deployment" in kinds
    missing = subprocess.run(
        ["bash", "-c", f"kubectl get deploy my-nginx -n {namespace}"],
        env=_guide_env(guide, guide / ".kube/kubeadmiral/kubeadmiral.config"),
        capture_output=True,
    )
    assert missing.returncode != 0  # the dry run wrote nothing
    adopted = shell(
        guide,
        "kubeadmiral.config",
        f"kubectl fed adopt deploy/my-nginx svc/my-nginx --cluster {MEMBER} "
        f"-n {namespace} --create-policy",
        tmp_path,
    ).stdout
    assert adopted.count("created") >= 2
    again = shell(
        guide,
        "kubeadmiral.config",
        f"kubectl fed adopt deploy/my-nginx --cluster {MEMBER} -n {namespace} --policy my-nginx",
        tmp_path,
    ).stdout
    assert "already federated" in again
    shell(guide, "kubeadmiral.config", "kubectl fed sync --once", tmp_path)
    after = _member_state(guide, tmp_path, namespace)
    assert after["generation"] == before["generation"]
    assert after["template"] == before["template"]
    assert after["clusterIP"] == before["clusterIP"]
    assert after["labels"]["kubeadmiral.io/managed"] == "true"


# --------------------------------------------------------------------------- adopt details


def test_adopt_by_selector_with_dependencies(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("--context", "member-1", "create", "namespace", ns, check=False)
    documents = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared", "namespace": ns},
            "data": {"k": "v"},
        }
    ]
    for i in range(3):
        workload = deployment(f"batch-{i}", ns, 1, labels={"team": "batch"})
        workload["spec"]["template"]["spec"]["volumes"] = [
            {"name": "c", "configMap": {"name": "shared"}}
        ]
        documents.append(workload)
    apply(fed_host, *documents, context="member-1")
    apply(fed_host, policy("batch", ns, placement=[{"cluster": "member-1"}]))
    result = fed_host.fed(
        "adopt",
        "deploy",
        "-l",
        "team=batch",
        "--cluster",
        "member-1",
        "-n",
        ns,
        "--policy",
        "batch",
    )
    assert result.out.count("created") == 3
    fed_host.fed(
        "adopt",
        "deploy/batch-0",
        "--cluster",
        "member-1",
        "-n",
        ns,
        "--policy",
        "batch",
        "--dependencies",
        check=False,
    )
    # batch-0 is already federated; its ConfigMap is adopted through another workload:
    fed_host.run("delete", "deploy", "batch-1", "-n", ns)
    fed_host.fed(
        "adopt",
        "deploy/batch-1",
        "--cluster",
        "member-1",
        "-n",
        ns,
        "--policy",
        "batch",
        "--dependencies",
    )
    assert get(fed_host, "host", "cm", "shared", "-n", ns) is not None
    _, report = sync_once(fed_host)
    for i in range(3):
        found = entry(report, f"deployment.apps/batch-{i}", ns)
        assert found["ok"], found
    live = get(fed_host, "member-1", "cm", "shared", "-n", ns)
    assert live is not None and live["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"


def test_adopt_bad_input(fed_host: Kubectl, ns: str) -> None:
    cases = [
        (["adopt", "deploy/x", "--cluster", "member-1", "-n", ns], "--create-policy"),
        (["adopt", "frobs/x", "--cluster", "member-1", "-n", ns, "--create-policy"], "frobs"),
        (
            ["adopt", "deploy/nope", "--cluster", "member-1", "-n", ns, "--create-policy"],
            "not found",
        ),
        (["adopt", "deploy/x", "--cluster", "nowhere", "--create-policy"], "not a member"),
        (
            ["adopt", "deploy/x", "--cluster", "member-1", "-n", ns, "--policy", "missing"],
            "missing",
        ),
    ]
    for args, expected in cases:
        result = fed_host.fed(*args, check=False)
        assert result.code != 0 and expected in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- diff


def test_diff_none_then_edit_missing_extraneous(fed_host: Kubectl, ns: str) -> None:
    apply(fed_host, policy("dup", ns), deployment("web", ns, 2, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    for mode in ("--server-side", "--server-side=false"):
        clean = fed_host.fed("diff", "-n", ns, mode, check=False)
        assert clean.code == 0 and clean.out == "", clean.out + clean.err

    fed_host.run("--context", "member-1", "scale", "deploy", "web", "-n", ns, "--replicas=5")
    edited = fed_host.fed("diff", "deploy/web", "-n", ns, check=False)
    assert edited.code == 1
    assert "-  replicas: 5" in edited.out and "+  replicas: 2" in edited.out
    report = json.loads(fed_host.fed("diff", "-n", ns, "-o", "json", check=False).out)
    assert report["differences"] == [
        {
            "namespace": ns,
            "object": "deployment.apps/web",
            "cluster": "member-1",
            "state": "changed",
            "paths": ["root['spec']['replicas']"],
        }
    ]

    apply(fed_host, policy("dup", ns, placement=[{"cluster": "member-1"}]))
    extraneous = fed_host.fed("diff", "-n", ns, "--cluster", "member-2", "-o", "table", check=False)
    assert extraneous.code == 1
    assert extraneous.out.splitlines()[1].split()[1:3] == ["member-2", "extraneous"]

    fed_host.run("--context", "member-1", "delete", "deploy", "web", "-n", ns)
    table = fed_host.fed("diff", "-n", ns, "-o", "table", "--server-side=false", check=False)
    rows = {line.split()[1]: line.split()[2] for line in table.out.splitlines()[1:]}
    assert rows == {"member-1": "missing", "member-2": "extraneous"}


def test_diff_reports_unreachable_and_still_compares(
    fed_host: Kubectl, federation: Federation, ns: str
) -> None:
    apply(fed_host, policy("dup", ns), deployment("web", ns, 1, labels={POLICY_LABEL: "dup"}))
    sync_once(fed_host)
    federation.stop("member-2")
    try:
        result = fed_host.fed(
            "diff", "-n", ns, "-o", "table", "--request-timeout", "3s", check=False
        )
    finally:
        federation.start("member-2")
    assert result.code == 2
    rows = {line.split()[1]: line.split()[2] for line in result.out.splitlines()[1:]}
    assert rows == {"member-1": "same", "member-2": "error"}
    bad = fed_host.fed("diff", "frobs/x", check=False)
    assert bad.code == 2 and "frobs" in bad.err


def test_adopt_as_federated_object(fed_host: Kubectl, ns: str) -> None:
    fed_host.run("--context", "member-2", "create", "namespace", ns, check=False)
    apply(fed_host, deployment("kept", ns, 3), context="member-2")
    before = get(fed_host, "member-2", "deploy", "kept", "-n", ns)
    server = fed_host.fed(
        "adopt",
        "deploy/kept",
        "--cluster",
        "member-2",
        "-n",
        ns,
        "--create-policy",
        "--template",
        "federated",
        "--dry-run=server",
    )
    assert "server dry run" in server.out
    assert get(fed_host, "host", "fo", "kept-deployments.apps", "-n", ns) is None
    fed_host.fed(
        "adopt",
        "deploy/kept",
        "--cluster",
        "member-2",
        "-n",
        ns,
        "--create-policy",
        "--template",
        "federated",
    )
    assert get(fed_host, "host", "deploy", "kept", "-n", ns) is None  # no native template
    fo = get(fed_host, "host", "fo", "kept-deployments.apps", "-n", ns)
    assert fo is not None and fo["metadata"]["labels"][POLICY_LABEL] == "kept"
    _, report = sync_once(fed_host)
    assert entry(report, "deployment.apps/kept", ns)["ok"]
    after = get(fed_host, "member-2", "deploy", "kept", "-n", ns)
    assert before is not None and after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["labels"]["kubeadmiral.io/adopted"] == "true"
    fed_host.run("delete", "fo", "kept-deployments.apps", "-n", ns, "--wait=false")
