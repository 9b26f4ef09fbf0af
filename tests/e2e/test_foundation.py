"""Foundation, end to end: the plugin through the real kubectl against real apiservers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Federation, Kubectl
from tests.connect_proxy import connect_proxy, socks_proxy
from tests.e2e.helpers import unreachable_kubeconfig

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent / "fixtures"
FED_KINDS = {
    "FederatedCluster",
    "PropagationPolicy",
    "ClusterPropagationPolicy",
    "OverridePolicy",
    "ClusterOverridePolicy",
    "FederatedObject",
    "ClusterFederatedObject",
    "FederatedTypeConfig",
}


def test_plugin_is_found_by_kubectl(kubectl: Kubectl) -> None:
    plugins = kubectl.run("plugin", "list", check=False).out
    assert "kubectl-fed" in plugins
    assert kubectl.fed("version").out.startswith("kubectl-fed v")
    assert "Usage: kubectl fed" in kubectl.fed("--help").out


def test_help_does_not_import_kubernetes() -> None:
    code = (
        "import sys\nsys.argv = ['kubectl-fed', '--help']\n"
        "from kubectl_fed.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED' if 'kubernetes' in sys.modules else 'LAZY', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().endswith("LAZY")


def test_init_is_idempotent_and_establishes_crds(fed_host: Kubectl) -> None:
    again = fed_host.fed("init")
    assert "nothing changed" in again.out
    assert "created" not in again.out and "configured" not in again.out
    crds = fed_host.json("get", "crd")["items"]
    ours = {
        c["spec"]["names"]["kind"]: c for c in crds if c["spec"]["group"] == "core.kubeadmiral.io"
    }
    assert set(ours) >= FED_KINDS
    for crd in ours.values():
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
    resources = fed_host.run("api-resources", "--api-group", "core.kubeadmiral.io").out
    for short in ("fcluster", "pp", "cpp", "op", "cop", "fo", "cfo", "ftc"):
        assert f" {short} " in f" {resources} ".replace("\n", " \n ")


def test_init_upgrades_changed_crd_in_place(fed_host: Kubectl) -> None:
    name = "federatedclusters.core.kubeadmiral.io"
    fed_host.run("annotate", "crd", name, "kubectl-fed.io/crd-hash=stale", "--overwrite")
    out = fed_host.fed("init").out
    assert f"customresourcedefinition/{name} configured" in out
    assert "nothing changed" in fed_host.fed("init").out


def test_commands_say_run_init_when_crds_missing(kubectl: Kubectl) -> None:
    # member-2 never received the federation API: as a host it is pristine.
    for args in (["clusters"], ["join", "x", "--cluster-context", "member-1"], ["cordon", "x"]):
        result = kubectl.fed("--context", "member-2", *args, check=False)
        assert result.code != 0
        assert "kubectl fed init" in result.err
        assert "Traceback" not in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_init_client_dry_run_prints_everything_and_writes_nothing(kubectl: Kubectl) -> None:
    result = kubectl.fed("--context", "member-2", "init", "--dry-run=client", "-o", "yaml")
    kinds = [d["kind"] for d in yaml.safe_load_all(result.out)]
    assert kinds.count("CustomResourceDefinition") == len(FED_KINDS)
    assert kinds[0] == "Namespace"
    assert kinds[-2:] == ["ClusterRole", "Role"]  # kubectl-fed-sync, for a narrower user
    crds = kubectl.json("--context", "member-2", "get", "crd")["items"]
    assert not [c for c in crds if c["spec"]["group"] == "core.kubeadmiral.io"]
    roles = kubectl.run("--context", "member-2", "get", "clusterrole", "kubectl-fed-sync",
                        check=False)
    assert roles.code != 0  # (member-2's fed namespace exists: join put its identity there)


def test_published_manifests_apply_under_strict_validation(fed_host: Kubectl) -> None:
    manifests = sorted(FIXTURES.rglob("*.yaml"))
    checked = 0
    for path in manifests:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if not any(d.get("kind") in FED_KINDS for d in docs):
            continue
        for doc in docs:
            namespace = (doc.get("metadata") or {}).get("namespace")
            if namespace:
                fed_host.run("create", "namespace", namespace, check=False)
        fed_host.run("apply", "--validate=strict", "--dry-run=server", "-f", str(path))
        checked += 1
    assert checked >= 5


def test_clusters_table_and_json(fed_host: Kubectl) -> None:
    table = fed_host.fed("clusters").out.splitlines()
    assert table[0].split() == ["NAME", "READY", "VERSION", "LABELS", "TAINTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["member-1"][1:3] == ["True", "v1.34.4"]
    wide = fed_host.fed("get", "clusters", "-o", "wide", "--no-headers").out
    assert "https://127.0.0.1:" in wide and "serviceaccount" in wide
    items = json.loads(fed_host.fed("clusters", "-o", "json").out)["items"]
    member = next(i for i in items if i["metadata"]["name"] == "member-1")
    assert member["spec"]["secretRef"]["name"]
    assert any(r["kind"] == "Deployment" for r in member["status"]["apiResourceTypes"])
    names = fed_host.fed("clusters", "-o", "name").out.split()
    assert "federatedcluster.core.kubeadmiral.io/member-2" in names


def test_join_stores_credentials_in_secret_never_in_output(
    fed_host: Kubectl, federation: Federation
) -> None:
    token = federation.state["admin_token"]
    shown = fed_host.fed(
        "join", "member-1", "--cluster-context", "member-1", "--overwrite", "-o", "yaml"
    )
    assert token not in shown.out + shown.err
    secret = fed_host.json("get", "secret", "-n", "kube-admiral-system", "member-1-credentials")
    assert set(secret["data"]) >= {"certificate-authority-data", "service-account-token-data"}
    spec = fed_host.json("get", "federatedcluster", "member-1")["spec"]
    assert spec["apiEndpoint"].startswith("https://127.0.0.1:")
    assert spec["secretRef"] == {"name": "member-1-credentials"}


def test_join_existing_name_needs_overwrite(fed_host: Kubectl) -> None:
    result = fed_host.fed("join", "member-1", "--cluster-context", "member-1", check=False)
    assert result.code == 1
    assert "--overwrite" in result.err


def test_join_host_itself_with_labels_and_taints(fed_host: Kubectl) -> None:
    fed_host.fed(
        "join",
        "self",
        "--cluster-context",
        "host",
        "--labels",
        "region=eu,tier=1",
        "--taints",
        "dedicated=ops:NoSchedule",
    )
    try:
        cluster = fed_host.json("get", "fcluster", "self")
        assert cluster["metadata"]["labels"] == {"region": "eu", "tier": "1"}
        assert cluster["spec"]["taints"] == [
            {"key": "dedicated", "value": "ops", "effect": "NoSchedule"}
        ]
    finally:
        fed_host.fed("unjoin", "self")
    assert fed_host.run("get", "fcluster", "self", check=False).code != 0
    assert (
        fed_host.run(
            "get", "secret", "-n", "kube-admiral-system", "self-credentials", check=False
        ).code
        != 0
    )


def _exec_kubeconfig(federation: Federation, tmp_path: Path) -> Path:
    """A kubeconfig whose host-exec context reaches the host through an exec plugin (short-lived
    credentials); the host is not a member, so it may be joined."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    plugin = tmp_path / "token-plugin"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": federation.state["admin_token"]},
    }
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(credential)}'\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    config["users"].append(
        {
            "name": "exec-user",
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": str(plugin),
                    "interactiveMode": "Never",
                }
            },
        }
    )
    config["contexts"].append(
        {"name": "host-exec", "context": {"cluster": "host", "user": "exec-user"}}
    )
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_join_with_local_credentials(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    kubeconfig = _exec_kubeconfig(federation, tmp_path)
    refused = fed_host.fed(
        "join",
        "exec-member",
        "--cluster-context",
        "host-exec",
        "--cluster-kubeconfig",
        str(kubeconfig),
        "--credentials",
        "copy",
        check=False,
    )
    assert refused.code == 1 and "--credentials local" in refused.err
    assert fed_host.run("get", "fcluster", "exec-member", check=False).code != 0
    fed_host.fed(
        "join",
        "exec-member",
        "--cluster-context",
        "host-exec",
        "--cluster-kubeconfig",
        str(kubeconfig),
        "--credentials",
        "local",
    )
    try:
        state = fed_host.fed("config", "get", "members.exec-member").out
        assert "host-exec" in state and federation.state["admin_token"] not in state
        wide = fed_host.fed("clusters", "--refresh", "-o", "wide").out
        row = next(line for line in wide.splitlines() if line.startswith("exec-member"))
        assert row.split()[1] == "True" and "local" in row
    finally:
        fed_host.fed("unjoin", "exec-member")
    assert fed_host.fed("config", "get", "members.exec-member", check=False).code == 1


def test_refresh_reports_stopped_member_offline(fed_host: Kubectl, federation: Federation) -> None:
    federation.stop("member-2")
    try:
        started = time.monotonic()
        result = fed_host.fed("clusters", "--refresh", "--request-timeout", "3s")
        elapsed = time.monotonic() - started
        rows = {line.split()[0]: line.split() for line in result.out.splitlines()[1:]}
        assert rows["member-2"][1] == "False"
        assert rows["member-1"][1] == "True"
        assert elapsed < 15
        conditions = {
            c["type"]: c
            for c in fed_host.json("get", "fcluster", "member-2")["status"]["conditions"]
        }
        assert conditions["Offline"]["status"] == "True"
        assert conditions["Ready"]["reason"] == "ClusterNotReachable"
    finally:
        federation.start("member-2")
    fed_host.fed("clusters", "--refresh")
    conditions = {
        c["type"]: c["status"]
        for c in fed_host.json("get", "fcluster", "member-2")["status"]["conditions"]
    }
    assert conditions == {"Joined": "True", "Ready": "True", "Offline": "False"}


def test_cordon_uncordon_and_taint(fed_host: Kubectl) -> None:
    def taints() -> list[dict[str, str]]:
        return fed_host.json("get", "fcluster", "member-1")["spec"].get("taints") or []

    assert "cordoned" in fed_host.fed("cordon", "member-1").out
    assert "already cordoned" in fed_host.fed("cordon", "member-1").out
    assert {"key": "kubectl-fed.io/unschedulable", "effect": "NoSchedule"} in taints()
    fed_host.fed("uncordon", "member-1")
    assert taints() == []
    fed_host.fed("taint", "member-1", "gpu=true:NoExecute", "team=a:NoSchedule")
    assert len(taints()) == 2
    clash = fed_host.fed("taint", "member-1", "gpu=false:NoExecute", check=False)
    assert clash.code == 1 and "--overwrite" in clash.err
    fed_host.fed("taint", "member-1", "gpu-", "team:NoSchedule-")
    assert taints() == []
    missing = fed_host.fed("taint", "member-1", "nope:NoSchedule-", check=False)
    assert missing.code == 1 and "not found" in missing.err


def test_config_round_trip_keeps_comments(kubectl: Kubectl, tmp_path: Path) -> None:
    path = Path(kubectl.env["KUBECTL_FED_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '# my federation\n[host]\ncontext = "host" # the big one\n\n'
        "[custom]\nkeep = 1 # unknown keys survive\n"
    )
    kubectl.fed("config", "set", "defaults.request-timeout", "7s")
    kubectl.fed("config", "set", "host.fed-namespace", "fed-system")
    assert kubectl.fed("config", "get", "defaults.request-timeout").out.strip() == "7s"
    kubectl.fed("config", "unset", "host.fed-namespace")
    text = path.read_text()
    assert "# my federation" in text and "# the big one" in text
    assert "keep = 1 # unknown keys survive" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "fed-namespace" not in text
    assert "# the big one" in kubectl.fed("config", "view").out
    unset_again = kubectl.fed("config", "unset", "host.fed-namespace", check=False)
    assert unset_again.code == 1


def test_broken_state_file_is_named_and_left_alone(kubectl: Kubectl) -> None:
    path = Path(kubectl.env["KUBECTL_FED_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = '[host]\ncontext = "host"\nthis is not toml\n'
    path.write_text(broken)
    result = kubectl.fed("config", "set", "host.context", "x", check=False)
    assert result.code == 1
    assert f"{path}:3:" in result.err and "Traceback" not in result.err
    assert path.read_text() == broken


def test_bad_input_gives_one_line_errors(fed_host: Kubectl) -> None:
    cases = [
        (["--context", "nope", "clusters"], "nope"),
        (["join", "m9", "--cluster-context", "member-1", "--labels", "bad label=x"], "--labels"),
        (["join", "m9", "--cluster-context", "member-1", "--taints", "k=v:Sometimes"], "effect"),
        (["join", "M_9", "--cluster-context", "member-1"], "invalid cluster name"),
        (["join", "m9", "--cluster-context", "no-such-context"], "no-such-context"),
        (["cordon", "no-such-member"], "not a member"),
        (["clusters", "--request-timeout", "soon"], "duration"),
    ]
    for args, expected in cases:
        result = fed_host.fed(*args, check=False)
        assert result.code != 0, args
        assert expected in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1, (args, result.err)
        assert "Traceback" not in result.err
    assert fed_host.run("get", "fcluster", "m9", check=False).code != 0


def test_unreachable_host_answers_within_timeout(kubectl: Kubectl, tmp_path: Path) -> None:
    path = unreachable_kubeconfig(tmp_path)
    started = time.monotonic()
    result = kubectl.fed(
        "--kubeconfig", str(path), "--request-timeout", "2s", "clusters", check=False
    )
    assert result.code == 1
    assert "unreachable" in result.err and len(result.err.strip().splitlines()) == 1
    assert time.monotonic() - started < 10


def test_kubeconfig_tls_server_name_and_token_file(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """The host reached by IP, its certificate checked against tls-server-name (one of
    the apiserver's own names), with the token read from a tokenFile."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    (tmp_path / "token").write_text(federation.state["admin_token"] + "\n")
    host = next(c for c in config["clusters"] if c["name"] == "host")["cluster"]
    config["users"].append({"name": "file-user", "user": {"tokenFile": "token"}})
    for name, server_name in (("good", "kubernetes.default"), ("bad", "wrong.example")):
        cluster = {**host, "tls-server-name": server_name}
        config["clusters"].append({"name": name, "cluster": cluster})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": "file-user"}})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    ok = fed_host.fed("--kubeconfig", str(path), "--context", "good", "clusters")
    assert "member-1" in ok.out
    bad = fed_host.fed("--kubeconfig", str(path), "--context", "bad", "clusters", check=False)
    assert bad.code == 1 and len(bad.err.strip().splitlines()) == 1
    assert "certificate" in bad.err and federation.state["admin_token"] not in bad.err


def test_https_proxy_from_the_environment(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """HTTPS_PROXY is used for a named server (a .invalid name only the test proxy
    resolves; the certificate is checked against tls-server-name), and NO_PROXY exempts
    it, as kubectl does."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    host = next(c for c in config["clusters"] if c["name"] == "host")["cluster"]
    port = host["server"].rsplit(":", 1)[1]
    named = {
        **host,
        "server": f"https://api.kubectl-fed.invalid:{port}",
        "tls-server-name": "kubernetes.default",
    }
    config["clusters"].append({"name": "named", "cluster": named})
    config["contexts"].append({"name": "named", "context": {"cluster": "named", "user": "admin"}})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    with connect_proxy({"api.kubectl-fed.invalid": "127.0.0.1"}) as proxy:
        proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
        fed = ["fed", "--kubeconfig", str(path), "--context", "named", "clusters"]
        saved = dict(fed_host.env)
        for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
            fed_host.env.pop(name, None)
        try:
            fed_host.env["HTTPS_PROXY"] = proxy_url
            assert "member-1" in fed_host.run(*fed).out
            assert proxy.tunnels and set(proxy.tunnels) == {f"api.kubectl-fed.invalid:{port}"}
            fed_host.env["NO_PROXY"] = "kubectl-fed.invalid"
            exempt = fed_host.run(*fed, "--request-timeout", "3s", check=False)
            # Not proxied, so the name does not resolve here: unreachable, in one line.
            assert exempt.code == 1 and "unreachable" in exempt.err
        finally:
            fed_host.env = saved


def test_a_socks5_proxy_url_reaches_the_host(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """`proxy-url: socks5://...` (an SSH -D tunnel to a private cluster): the name is
    resolved by the proxy, the certificate checked against tls-server-name."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    host = next(c for c in config["clusters"] if c["name"] == "host")["cluster"]
    port = host["server"].rsplit(":", 1)[1]
    with socks_proxy({"api.private.invalid": "127.0.0.1"}) as proxy:
        tunnelled = {
            **host,
            "server": f"https://api.private.invalid:{port}",
            "tls-server-name": "kubernetes.default",
            "proxy-url": f"socks5://127.0.0.1:{proxy.server_address[1]}",
        }
        config["clusters"].append({"name": "socks", "cluster": tunnelled})
        config["contexts"].append(
            {"name": "socks", "context": {"cluster": "socks", "user": "admin"}}
        )
        path = tmp_path / "config"
        path.write_text(yaml.safe_dump(config))
        listed = fed_host.fed("--kubeconfig", str(path), "--context", "socks", "clusters")
        assert "member-1" in listed.out
        assert proxy.tunnels and set(proxy.tunnels) == {f"api.private.invalid:{port}"}


def test_rbac_refusal_names_verb_and_resource(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    config = yaml.safe_load(federation.kubeconfig.read_text())
    config["users"].append({"name": "viewer", "user": {"token": federation.state["viewer_token"]}})
    config["contexts"].append(
        {"name": "host-viewer", "context": {"cluster": "host", "user": "viewer"}}
    )
    path = tmp_path / "viewer.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = fed_host.fed(
        "--kubeconfig", str(path), "--context", "host-viewer", "clusters", check=False
    )
    assert result.code == 1
    assert "forbidden" in result.err
    assert "list" in result.err and "federatedclusters" in result.err


def test_completion_through_kubectl(fed_host: Kubectl) -> None:
    def complete(*words: str) -> list[str]:
        out = fed_host.run("__complete", "fed", *words).out.splitlines()
        assert out[-1].startswith(":")
        return [line.split("\t")[0] for line in out[:-1]]

    assert {"init", "join", "clusters", "cordon"} <= set(complete(""))
    assert complete("cord") == ["cordon"]
    assert {"member-1", "member-2"} <= set(complete("cordon", ""))
    assert "--credentials" in complete("join", "x", "--cred")


def test_kubectl_fed_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubectl_fed", "version"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert done.returncode == 0 and "kubectl-fed v" in done.stdout
