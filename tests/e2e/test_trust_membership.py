"""Membership and local state that cannot be fooled: a cluster is a member once, whatever
name or URL reaches it, and the state file is checked before it is used."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Federation, Kubectl
from tests.e2e.helpers import get

pytestmark = pytest.mark.e2e
ID_ANNOTATION = "kubectl-fed.io/cluster-id"


def _alias_kubeconfig(federation: Federation, tmp_path: Path) -> Path:
    """member-1 under another context, another URL (localhost, not 127.0.0.1) and
    insecure-skip-tls-verify instead of its CA."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    server = next(c for c in config["clusters"] if c["name"] == "member-1")["cluster"]["server"]
    config["clusters"].append(
        {
            "name": "alias",
            "cluster": {
                "server": server.replace("127.0.0.1", "localhost"),
                "insecure-skip-tls-verify": True,
            },
        }
    )
    config["contexts"].append({"name": "alias", "context": {"cluster": "alias", "user": "admin"}})
    path = tmp_path / "alias.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _identity(k: Kubectl, name: str) -> str | None:
    cluster = get(k, "host", "fcluster", name)
    assert cluster is not None
    value = (cluster["metadata"].get("annotations") or {}).get(ID_ANNOTATION)
    return str(value) if value else None


def _kube_system_uid(k: Kubectl, context: str) -> str:
    namespace = get(k, context, "namespace", "kube-system")
    assert namespace is not None
    return str(namespace["metadata"]["uid"])


def _refused_join(k: Kubectl, *args: str) -> str:
    result = k.fed("join", "alias", *args, check=False)
    assert result.code == 1, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert get(k, "host", "fcluster", "alias") is None
    assert get(k, "host", "secret", "-n", "kube-admiral-system", "alias-credentials") is None
    return lines[0]


def test_the_same_cluster_is_not_joined_twice(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    member_1 = _kube_system_uid(fed_host, "member-1")
    assert _identity(fed_host, "member-1") == member_1
    assert member_1 not in (_kube_system_uid(fed_host, c) for c in ("member-2", "host"))
    alias = ["--cluster-context", "alias", "--cluster-kubeconfig"]
    alias.append(str(_alias_kubeconfig(federation, tmp_path)))
    error = _refused_join(fed_host, *alias)
    assert 'is already joined as "member-1"' in error and "localhost" in error
    assert federation.state["admin_token"] not in error
    _refused_join(fed_host, *alias, "--dry-run=client", "-o", "yaml")
    _refused_join(fed_host, "--cluster-context", "member-1", "--labels", "x=y")
    # Joining the same name again is what --overwrite is for.
    fed_host.fed("join", "member-1", "--cluster-context", "member-1", "--overwrite")
    assert _identity(fed_host, "member-1") == member_1
    again = fed_host.fed(
        "join", "member-1", "--cluster-context", "member-2", "--overwrite", check=False
    )
    assert again.code == 1 and 'is already joined as "member-2"' in again.err


def test_members_joined_before_identities_are_recognised(fed_host: Kubectl) -> None:
    fed_host.run("annotate", "fcluster", "member-1", f"{ID_ANNOTATION}-")
    try:
        # No identity recorded: the member is asked for it.
        error = _refused_join(fed_host, "--cluster-context", "member-1")
        assert 'is already joined as "member-1"' in error
        assert _identity(fed_host, "member-1") is None  # nothing written by a refused join
    finally:
        fed_host.fed("clusters", "--refresh")
    assert _identity(fed_host, "member-1") == _kube_system_uid(fed_host, "member-1")
    # Recorded once: a second refresh leaves the identity as it is.
    fed_host.fed("clusters", "--refresh")
    assert _identity(fed_host, "member-1") == _kube_system_uid(fed_host, "member-1")


def _legacy_twin(k: Kubectl) -> None:
    """`alias`, joined before this check existed: member-1's endpoint and credentials,
    and no identity recorded."""
    member = get(k, "host", "fcluster", "member-1")
    secret = get(k, "host", "secret", "-n", "kube-admiral-system", "member-1-credentials")
    assert member is not None and secret is not None
    twin_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "alias-credentials", "namespace": "kube-admiral-system"},
        "data": secret["data"],
    }
    twin: dict[str, Any] = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "FederatedCluster",
        "metadata": {"name": "alias", "annotations": {"kubectl-fed.io/credentials": "secret"}},
        "spec": {**member["spec"], "secretRef": {"name": "alias-credentials"}},
    }
    text = "\n---\n".join(yaml.safe_dump(d) for d in (twin_secret, twin))
    k.run("--context", "host", "apply", "-f", "-", stdin=text)


def test_a_twin_joined_earlier_is_named_and_unjoined_without_touching_the_member(
    fed_host: Kubectl,
) -> None:
    namespace = "t-twin"
    fed_host.run("--context", "member-1", "create", "namespace", namespace, check=False)
    managed = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "kept",
            "namespace": namespace,
            "labels": {"kubeadmiral.io/managed": "true"},
        },
    }
    fed_host.run("--context", "member-1", "apply", "-f", "-", stdin=json.dumps(managed))
    _legacy_twin(fed_host)
    try:
        refreshed = fed_host.fed("clusters", "--refresh")
        assert "clusters 'alias' and 'member-1' are the same cluster" in refreshed.err
        assert _identity(fed_host, "alias") == _identity(fed_host, "member-1")
        left = fed_host.fed("unjoin", "alias", "--cascade=delete")
        assert "'alias' is the same cluster as member 'member-1'" in left.err
        assert "0 objects deleted" in left.out
    finally:
        fed_host.fed("unjoin", "alias", check=False)
    kept = get(fed_host, "member-1", "configmap", "kept", "-n", namespace)
    assert kept is not None and kept["metadata"]["labels"]["kubeadmiral.io/managed"] == "true"
    assert get(fed_host, "host", "secret", "-n", "kube-admiral-system", "member-1-credentials")
    rows = fed_host.fed("clusters", "--refresh", "--no-headers").out.splitlines()
    assert {r.split()[0]: r.split()[1] for r in rows}["member-1"] == "True"
    fed_host.run("--context", "member-1", "delete", "configmap", "kept", "-n", namespace)


def test_a_member_that_hides_kube_system_cannot_join(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    config = yaml.safe_load(federation.kubeconfig.read_text())
    token = federation.state["viewer_token"]
    config["users"].append({"name": "viewer", "user": {"token": token}})
    config["contexts"].append(
        {"name": "peek", "context": {"cluster": "member-2", "user": "viewer"}}
    )
    path = tmp_path / "viewer.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    error = _refused_join(fed_host, "--cluster-context", "peek", "--cluster-kubeconfig", str(path))
    assert "cannot tell which cluster 'alias' is" in error
    assert "forbidden" in error and "namespaces" in error and "kube-system" in error
    assert token not in error


# --------------------------------------------------------------------------- local state


def _state_file(k: Kubectl, text: str) -> Path:
    path = Path(k.env["KUBECTL_FED_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _one_error(result: Any) -> str:
    assert result.code == 1, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return str(lines[0])


def test_clusters_ready_is_the_member_answering_now(
    fed_host: Kubectl, federation: Federation
) -> None:
    """READY is live, not the last recorded probe: clusters and doctor agree."""

    def ready() -> dict[str, str]:
        rows = fed_host.fed("clusters", "--no-headers").out.splitlines()
        return {row.split()[0]: row.split()[1] for row in rows}

    assert ready() == {"member-1": "True", "member-2": "True"}
    federation.stop("member-2")
    try:
        assert ready() == {"member-1": "True", "member-2": "False"}
        listed = json.loads(fed_host.fed("clusters", "-o", "json").out)
        member_2 = next(i for i in listed["items"] if i["metadata"]["name"] == "member-2")
        condition = next(c for c in member_2["status"]["conditions"] if c["type"] == "Ready")
        assert condition["status"] == "False" and "unreachable" in condition["message"]
        doctor = fed_host.fed("doctor", check=False)
        assert doctor.code == 1 and "member member-2" in doctor.out
    finally:
        federation.start("member-2")
    assert ready() == {"member-1": "True", "member-2": "True"}


def test_config_set_refuses_unknown_keys_and_invalid_values(
    fed_host: Kubectl, kubectl: Kubectl
) -> None:
    original = '# mine\n[host]\ncontext = "host" # the host\n'
    path = _state_file(kubectl, original)
    soon = _one_error(kubectl.fed("config", "set", "defaults.request-timeout", "soon", check=False))
    assert soon.startswith(f'error: {path}: defaults.request-timeout: invalid duration "soon"')
    typo = _one_error(kubectl.fed("config", "set", "defaults.request-timout", "5s", check=False))
    assert f"{path}: unknown key 'defaults.request-timout'" in typo
    assert "defaults.request-timeout" in typo and "members.NAME.context" in typo
    bad_namespace = kubectl.fed("config", "set", "host.fed-namespace", "Not_Valid", check=False)
    assert "host.fed-namespace" in _one_error(bad_namespace)
    assert path.read_text() == original
    kubectl.fed("config", "set", "defaults.request-timeout", "5s")
    assert "# the host" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kubectl.fed("config", "get", "defaults.request-timeout").out.strip() == "5s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('host = "x"\n', "host: must be a table, not a string"),
        ("[members]\nx = 3\n", "members.x: must be a table (context, kubeconfig), not an integer"),
        (
            '[defaults]\nrequest-timeout = "soon"\n',
            'defaults.request-timeout: invalid duration "soon"',
        ),
        ('[host]\ncontxt = "member-2"\n', "host.contxt: unknown key"),
    ],
)
def test_a_wrongly_shaped_state_file_is_refused_then_mended(
    fed_host: Kubectl, kubectl: Kubectl, text: str, message: str
) -> None:
    path = _state_file(kubectl, text)
    error = _one_error(kubectl.fed("clusters", check=False))
    assert error.startswith(f"error: {path}: {message}")
    assert "--request-timeout" not in error  # no flag the user never passed
    assert path.read_text() == text
    view = kubectl.fed("config", "view")
    assert text.strip() in view.out and f"warning: {path}: {message}" in view.err
    key = message.split(":")[0]
    kubectl.fed("config", "unset", key)
    assert kubectl.fed("clusters", "--context", "host", check=False).code == 0
