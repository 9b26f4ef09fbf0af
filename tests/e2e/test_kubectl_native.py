"""kubectl-native, end to end: the same kubeconfigs and flags through the real kubectl and
through `kubectl fed`, against the local apiservers, compared.

Which cluster is reached: the URL of the request each prints at -v=6. Which identity: what
the apiserver attributes the requests to, a SelfSubjectReview (`kubectl auth whoami -o
json` against the `identity` row of `kubectl fed doctor`). Refusals: both refuse, and
kubectl-fed says kubectl's reason on one line. Then the context's namespace, kubectl's
usage errors, no credentials over plain http, and a token file read again under a long
sync.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from kubectl_fed.cli.app import fed as fed_group
from kubectl_fed.ops.doctor import identity_text
from tests.conftest import Federation, Kubectl, Result
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, policy, sync_once, wait_for

pytestmark = pytest.mark.e2e

SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
KLOG = re.compile(
    r"^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ \S+:\d+\] (GET|POST|PUT|PATCH|DELETE) (\S+) "
    r"(\d{3} [A-Za-z ]+)? in \d+ milliseconds$"
)


# --------------------------------------------------------------------------- helpers


def kubeconfig(
    federation: Federation, tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]
) -> Path:
    """The federation's kubeconfig, changed, written next to the test."""
    config = yaml.safe_load(federation.kubeconfig.read_text())
    change(config)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def entry(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    item = section[:-1]
    found: dict[str, Any] = next(e for e in config[section] if e["name"] == name)[item]
    return found


def server_of(federation: Federation, name: str) -> str:
    return f"https://127.0.0.1:{federation.state['servers'][name]['port']}"


def request_urls(stderr: str, path: str) -> list[str]:
    """The URLs of the -v=6 request lines for `path` (kubectl's and ours alike)."""
    found = []
    for line in stderr.splitlines():
        match = KLOG.match(line)
        if match and path in match.group(2):
            found.append(match.group(2).split("?")[0])
    return found


def kubectl_reaches(k: Kubectl, *flags: str) -> tuple[str, str]:
    """(URL, identity) of `kubectl FLAGS auth whoami`, from kubectl's own -v=6 line."""
    result = k.run(*flags, "auth", "whoami", "-o", "json", "-v=6", stdin="")
    urls = request_urls(result.err, SSR)
    assert urls, result.err
    user = json.loads(result.out)["status"]["userInfo"]
    return urls[-1], identity_text(user)


def fed_reaches(k: Kubectl, *args: str) -> tuple[str, str]:
    """(URL, identity) of `kubectl fed ARGS` (doctor among them): the URL its -v=6 line
    names for the SelfSubjectReview, the identity the apiserver answered it with."""
    result = k.fed(*args, "-o", "json", "-v=6", check=False, stdin="")
    urls = request_urls(result.err, SSR)
    assert urls, result.err
    checks = {c["check"]: c for c in json.loads(result.out)["items"]}
    assert checks["identity"]["status"] == "OK", checks["identity"]
    return urls[-1], checks["identity"]["detail"]


def one_error_line(result: Result) -> str:
    """kubectl-fed's refusal: exit 1, one `error: ...` line, nothing on stdout."""
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    return lines[0].removeprefix("error: ")


def kubectls_reason(result: Result) -> str:
    """kubectl's refusal, without its prefix (`error: `, `Unable to connect ...: `)."""
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    return re.sub(r"^(error|Error|Unable to connect to the server): ", "", line)


# --------------------------------------------------------------------------- which cluster, who


def test_same_cluster_and_identity_as_kubectl(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    state = federation.state

    def more_users(config: dict[str, Any]) -> None:
        config["users"] += [
            {"name": "viewer", "user": {"token": state["viewer_token"]}},
            {
                "name": "impersonating",
                "user": {
                    "token": state["admin_token"],
                    "as": "jane",
                    "as-uid": "u-42",
                    "as-groups": ["dev", "ops"],
                    "as-user-extra": {"example.com/scopes": ["read", "write"]},
                },
            },
            {"name": "file-wins", "user": {"token": state["admin_token"], "tokenFile": "viewer"}},
            {
                "name": "exec-admin",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": "./admin-plugin.sh",  # relative to the kubeconfig
                        "interactiveMode": "Never",
                    }
                },
            },
        ]
        config["contexts"] += [
            {"name": "as-jane", "context": {"cluster": "member-1", "user": "impersonating"}},
            {"name": "file-wins", "context": {"cluster": "host", "user": "file-wins"}},
            {"name": "exec-admin", "context": {"cluster": "host", "user": "exec-admin"}},
        ]

    (tmp_path / "viewer").write_text(state["viewer_token"] + "\n")
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": state["admin_token"]},
    }
    plugin = tmp_path / "admin-plugin.sh"
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(credential)}'\n")
    plugin.chmod(0o755)
    path = str(kubeconfig(federation, tmp_path, "config", more_users))
    member_1_ca = state["servers"]["member-1"]["ca_file"]
    member_2 = server_of(federation, "member-2")
    cases: list[tuple[list[str], list[str]]] = [  # (kubectl's flags, kubectl fed's args)
        ([], ["doctor"]),
        (["--context", "member-1"], ["doctor", "--context", "member-1"]),
        (["--cluster", "member-2"], ["--cluster", "member-2", "doctor"]),
        (
            ["--server", member_2, "--insecure-skip-tls-verify"],
            ["doctor", "--server", member_2, "--insecure-skip-tls-verify"],
        ),
        (
            ["-s", server_of(federation, "member-1"), "--certificate-authority", member_1_ca],
            [
                "-s",
                server_of(federation, "member-1"),
                "doctor",
                "--certificate-authority",
                member_1_ca,
            ],
        ),
        (
            ["--cluster", "member-1", "--tls-server-name", "kubernetes"],
            ["doctor", "--cluster=member-1", "--tls-server-name=kubernetes"],
        ),
        (["--user", "viewer"], ["--user", "viewer", "doctor"]),
        (["--token", state["viewer_token"]], ["doctor", "--token", state["viewer_token"]]),
        (
            ["--as", "jane", "--as-group", "dev", "--as-group", "ops", "--as-uid", "u-1"],
            ["--as", "jane", "--as-group", "dev", "doctor", "--as-group=ops", "--as-uid", "u-1"],
        ),
        (["--context", "as-jane"], ["doctor", "--context", "as-jane"]),
        (["--context", "file-wins"], ["--context", "file-wins", "doctor"]),
        # An exec plugin supplies the token; the flags still apply around it.
        (
            ["--context", "exec-admin", "--as", "jane"],
            ["--context=exec-admin", "doctor", "--as=jane"],
        ),
    ]
    for flags, args in cases:
        expected = kubectl_reaches(fed_host, "--kubeconfig", path, *flags)
        assert fed_reaches(fed_host, "--kubeconfig", path, *args) == expected, (flags, expected)
    # The impersonated identity carries everything the kubeconfig asked for.
    _, jane = kubectl_reaches(fed_host, "--kubeconfig", path, "--context", "as-jane")
    assert jane.startswith("jane (uid u-42; groups dev, ops, system:authenticated")
    assert "extra example.com/scopes=read,write" in jane


def test_host_flags_leave_member_connections_alone(fed_host: Kubectl) -> None:
    """--as reaches the host as someone allowed there only; the members are still reached
    with their stored credentials (were the flag applied to them, they would refuse)."""
    fed_host.run(
        "create",
        "clusterrolebinding",
        "kn-operator",
        "--clusterrole",
        "cluster-admin",
        "--user",
        "kn-operator",
    )
    try:
        result = fed_host.fed("doctor", "--as", "kn-operator", "-o", "json", check=False)
    finally:
        fed_host.run("delete", "clusterrolebinding", "kn-operator", check=False)
    checks = {c["check"]: c for c in json.loads(result.out)["items"]}
    assert checks["identity"]["detail"] == "kn-operator (groups system:authenticated)"
    assert checks["permissions"]["status"] == "OK"
    for member in ("member member-1", "member member-2"):
        assert checks[member]["status"] == "OK", checks[member]


# --------------------------------------------------------------------------- refusals


def test_refused_by_both_in_kubectls_words(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    host_ca = federation.state["servers"]["host"]["ca_file"]
    plugin = tmp_path / "plugin.sh"
    plugin.write_text("#!/bin/sh\nexit 1\n")
    plugin.chmod(0o755)

    def user(**fields: Any) -> Callable[[dict[str, Any]], None]:
        return lambda c: entry(c, "users", "admin").update(fields)

    def cluster(**fields: Any) -> Callable[[dict[str, Any]], None]:
        return lambda c: entry(c, "clusters", "host").update(fields)

    def exec_user(**fields: Any) -> Callable[[dict[str, Any]], None]:
        config = {"command": str(plugin), "apiVersion": "client.authentication.k8s.io/v1"}
        return lambda c: c["users"].__setitem__(
            0, {"name": "admin", "user": {"exec": {**config, **fields}}}
        )

    def tilde_ca(config: dict[str, Any]) -> None:
        host = entry(config, "clusters", "host")
        del host["certificate-authority-data"]
        host["certificate-authority"] = "~/ca.crt"

    exact: dict[str, Callable[[dict[str, Any]], None]] = {
        "basic-and-token": user(username="u", password="p"),
        "two-cas": cluster(**{"certificate-authority": host_ca}),
        "insecure-with-ca": cluster(**{"insecure-skip-tls-verify": True}),
        "groups-without-user": user(**{"as-groups": ["g"]}),
        "exec-v1-no-mode": exec_user(),
        "tilde": tilde_ca,
    }
    for name, change in exact.items():
        path = str(kubeconfig(federation, tmp_path, f"{name}.yaml", change))
        theirs = kubectls_reason(fed_host.run("--kubeconfig", path, "get", "ns", check=False))
        ours = one_error_line(fed_host.fed("--kubeconfig", path, "clusters", check=False))
        assert ours == theirs, name
    # kubectl asks the plugin when a request goes out; kubectl fed before the first one.
    path = str(kubeconfig(federation, tmp_path, "always.yaml", exec_user(interactiveMode="Always")))
    theirs = kubectls_reason(fed_host.run("--kubeconfig", path, "get", "ns", check=False, stdin=""))
    ours = one_error_line(fed_host.fed("--kubeconfig", path, "clusters", check=False, stdin=""))
    assert (
        ours
        == theirs
        == (
            "getting credentials: exec plugin cannot support interactive mode: standard input is "
            "not a terminal"
        )
    )
    # Files kubectl cannot load: the same file named, the reason in our words (kubectl's
    # would print the duplicated entries, tokens included).
    twice = kubeconfig(
        federation, tmp_path, "twice.yaml", lambda c: c["users"].append(dict(c["users"][0]))
    )
    listing = tmp_path / "list.yaml"
    listing.write_text(yaml.safe_dump([yaml.safe_load(federation.kubeconfig.read_text())]))
    shapes = tmp_path / "shapes.yaml"
    shapes.write_text("clusters: 3\n")
    for unloadable, reason in (
        (twice, 'duplicate name "admin" in users'),
        (listing, "the document is a list, not a kubeconfig (a mapping)"),
        (shapes, "clusters: expected a list of named clusters, not a number"),
    ):
        prefix = f'error loading config file "{unloadable}": '
        at = ["--kubeconfig", str(unloadable)]
        theirs = kubectls_reason(fed_host.run(*at, "get", "ns", check=False))
        ours = one_error_line(fed_host.fed(*at, "clusters", check=False))
        assert theirs.startswith(prefix) and ours == prefix + reason
        assert federation.state["admin_token"] not in ours
    # Flags kubectl refuses.
    for flags in (["--user", "nobody"], ["--as-group", "g"], ["--request-timeout", "soon"]):
        refused = fed_host.run(*flags, "get", "ns", check=False)
        assert refused.code == 1, flags
        ours = one_error_line(fed_host.fed(*flags, "clusters", check=False))
        if flags[0] != "--request-timeout":
            assert ours == kubectls_reason(refused)


def test_a_tilde_in_kubeconfig_lists_is_not_a_home(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """KUBECONFIG=~/.kube/other:REAL, with ~/.kube/other naming member-1 current: kubectl
    does not expand `~` (so skips that path) and uses REAL's host; so do we."""
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    other = yaml.safe_load(federation.kubeconfig.read_text())
    other["current-context"] = "member-1"
    (home / ".kube" / "other").write_text(yaml.safe_dump(other))
    env = {
        **fed_host.env,
        "HOME": str(home),
        "KUBECONFIG": f"~/.kube/other:{federation.kubeconfig}",
        "KUBECTL_FED_CONFIG": str(tmp_path / "state.toml"),  # no remembered host
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True)

    assert run("config", "current-context").stdout.strip() == "host"
    ours = run("fed", "clusters", "-o", "name", "-v=6")
    assert ours.returncode == 0, ours.stderr
    urls = request_urls(ours.stderr, "federatedclusters")
    assert urls and urls[0].startswith(server_of(federation, "host"))
    missing = fed_host.fed("--kubeconfig", "~/.kube/nope", "clusters", check=False)
    assert one_error_line(missing) == "kubeconfig ~/.kube/nope does not exist"


# --------------------------------------------------------------------------- the namespace


def test_namespaced_commands_default_to_the_contexts_namespace(
    fed_host: Kubectl, federation: Federation, ns: str, tmp_path: Path
) -> None:
    apply(
        fed_host,
        policy("ctx-spread", ns, schedulingMode="Duplicate"),
        deployment("ctx-web", ns, 1, labels={POLICY_LABEL: "ctx-spread"}),
    )
    sync_once(fed_host)
    path = str(
        kubeconfig(
            federation,
            tmp_path,
            "ns.yaml",
            lambda c: entry(c, "contexts", "host").update(namespace=ns),
        )
    )
    # kubectl itself: the context's namespace.
    assert fed_host.run("--kubeconfig", path, "get", "deploy", "-o", "name").out.split() == [
        "deployment.apps/ctx-web"
    ]
    at = ["--kubeconfig", path]
    assert fed_host.fed(*at, "status", "-o", "name").out.split() == ["deployment.apps/ctx-web"]
    rows = fed_host.fed(*at, "get", "deploy", "-o", "name").out.split()
    assert rows.count("deployment.apps/ctx-web") == 2  # one per member
    assert f"in namespace {ns}" in fed_host.fed(*at, "explain", "deploy/ctx-web").out
    assert fed_host.fed(*at, "diff", "-o", "table", check=False).code == 0
    # -n wins, before or after the subcommand; -A is every namespace.
    elsewhere = fed_host.fed(*at, "-n", "kube-public", "status", "-o", "name", check=False)
    assert "ctx-web" not in elsewhere.out
    assert "ctx-web" not in fed_host.fed(*at, "status", "-n=kube-public", check=False).out
    assert "ctx-web" in fed_host.fed("-n", ns, "status", "-o", "name").out
    everywhere = fed_host.fed(*at, "status", "-A").out
    assert everywhere.split()[0] == "NAMESPACE" and f"{ns} " in everywhere


# --------------------------------------------------------------------------- usage errors


def test_usage_errors_are_kubectls(fed_host: Kubectl) -> None:
    theirs = fed_host.run("get", "--bogus", check=False)
    ours = fed_host.fed("status", "--bogus", check=False)
    assert theirs.code == ours.code == 1 and ours.out == ""
    assert [line.lower() for line in ours.err.splitlines()] == [
        line.lower().replace("kubectl get", "kubectl fed status")
        for line in theirs.err.splitlines()
    ]
    for command in sorted(fed_group.commands):
        result = fed_host.fed(command, "--no-such-flag", check=False)
        assert result.code == 1, command
        assert result.err.splitlines() == [
            "error: unknown flag: --no-such-flag",
            f"See 'kubectl fed {command} --help' for usage.",
        ]
    for args, what in (
        (["status", "-x"], "unknown shorthand flag: 'x' in -x"),
        (["join"], "exactly one NAME is required, got 0"),
        (["status", "-o", "bogus"], 'invalid argument "bogus" for "-o, --output" flag'),
        (["bogus"], 'unknown command "bogus" for "kubectl fed"'),
    ):
        result = fed_host.fed(*args, check=False)
        assert result.code == 1 and result.err.startswith(f"error: {what}"), (args, result.err)
        assert len(result.err.splitlines()) == 2 and "for usage." in result.err


# --------------------------------------------------------------------------- the wire


class Recorder(BaseHTTPRequestHandler):
    """A plain-http "apiserver" that writes down every request's headers."""

    seen: ClassVar[list[dict[str, list[str]]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        Recorder.seen.append(headers)
        body = json.dumps(
            {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403}
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def plain_http() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_no_credentials_over_plain_http(fed_host: Kubectl, plain_http: str) -> None:
    flags = ["--server", plain_http, "--token", "secret-token", "--as", "bob", "--as-group", "g"]
    fed_host.run(*flags, "get", "ns", check=False)
    theirs, Recorder.seen = Recorder.seen, []
    ours = fed_host.fed(*flags, "clusters", "-v=1", check=False)
    mine = Recorder.seen
    assert theirs and mine
    for seen in (theirs, mine):
        assert not [h for h in seen if "authorization" in h]
        assert all(h.get("impersonate-user") == ["bob"] for h in seen)
        assert all(h.get("impersonate-group") == ["g"] for h in seen)
    assert "no credentials are sent" in ours.err and "secret-token" not in ours.err


def test_verbose_request_lines_are_kubectls(fed_host: Kubectl, federation: Federation) -> None:
    theirs = fed_host.run("get", "ns", "kube-system", "-v=6")
    ours = fed_host.fed("clusters", "--v=6")
    host = server_of(federation, "host")
    assert f"{host}/api/v1/namespaces/kube-system" in request_urls(theirs.err, "kube-system")
    urls = request_urls(ours.err, "/")
    assert f"{host}/apis/core.kubeadmiral.io/v1alpha1/federatedclusters" in urls
    # -v reaches the member connections too (READY is probed live).
    assert any(url.startswith(server_of(federation, "member-1")) for url in urls)
    # Never a body or a credential.
    assert "Bearer" not in ours.err and federation.state["admin_token"] not in ours.err
    assert "apiVersion" not in ours.err


def test_request_timeout_takes_kubectls_forms(fed_host: Kubectl) -> None:
    for value in ("0", "10", "10s", "1m30s", "500ms"):
        assert fed_host.run("--request-timeout", value, "get", "ns", "default").code == 0
        assert fed_host.fed("--request-timeout", value, "clusters", "-o", "name").code == 0


# --------------------------------------------------------------------------- token rotation


def test_a_long_sync_survives_token_rotation(
    fed_host: Kubectl, federation: Federation, tmp_path: Path
) -> None:
    """A projected service-account token is replaced in its file while a sync runs: the
    sync reads the file for every request, so it goes on after the old token is revoked."""
    k = fed_host
    names = ("kn-rotation", "kn-rot-a", "kn-rot-b")
    k.run("create", "serviceaccount", names[0], "-n", "default")
    k.run(
        "create",
        "clusterrolebinding",
        names[0],
        "--clusterrole",
        "cluster-admin",
        "--serviceaccount",
        f"default:{names[0]}",
    )
    process = None
    try:
        tokens = []
        for secret in names[1:]:
            k.run("create", "secret", "generic", secret, "-n", "default")
            tokens.append(
                k.run(
                    "create",
                    "token",
                    names[0],
                    "-n",
                    "default",
                    "--duration",
                    "1h",
                    "--bound-object-kind",
                    "Secret",
                    "--bound-object-name",
                    secret,
                ).out.strip()
            )
        token_file = tmp_path / "token"
        token_file.write_text(tokens[0])

        def rotating(config: dict[str, Any]) -> None:
            config["users"].append({"name": "rotating", "user": {"tokenFile": str(token_file)}})
            entry(config, "contexts", "host")["user"] = "rotating"

        path = kubeconfig(federation, tmp_path, "rotating.yaml", rotating)
        log = tmp_path / "sync.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [
                    "kubectl",
                    "fed",
                    "--kubeconfig",
                    str(path),
                    "sync",
                    "--resync-period",
                    "2s",
                    "-v=6",
                ],
                env=k.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        assert wait_for(lambda: "sync: pass:" in log.read_text(), timeout=90), log.read_text()
        # Rotate, then revoke the old token (the apiserver caches a token's review ~10 s).
        token_file.write_text(tokens[1])
        k.run("delete", "secret", names[1], "-n", "default")
        assert wait_for(
            lambda: k.run("--token", tokens[0], "auth", "whoami", check=False).code != 0,
            timeout=30,
        )
        revoked_at = len(log.read_text())
        assert wait_for(lambda: log.read_text()[revoked_at:].count("sync: pass:") >= 2, 60)
        after = log.read_text()[revoked_at:]
        assert process.poll() is None, after[-2000:]
        assert " 401 " not in after and "Unauthorized" not in after, after[-2000:]
        assert [line for line in after.splitlines() if KLOG.match(line)], after[-2000:]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        process = None
    finally:
        if process is not None:
            process.kill()
            process.wait()
        k.run("delete", "clusterrolebinding", names[0], check=False)
        k.run("delete", "serviceaccount", names[0], "-n", "default", check=False)
        for secret in names[1:]:
            k.run("delete", "secret", secret, "-n", "default", "--ignore-not-found", check=False)
