"""A local federation of real kube-apiservers: one etcd, a host and N members.

Used by the test suite (session fixtures), the demo and the benchmarks:

    python -m tests.localcluster up --dir DIR [--members N]
    python -m tests.localcluster down --dir DIR

The servers come from ``server/`` (a small Go main around upstream
kube-apiserver plus an embedded etcd), built once and cached outside the work
tree keyed by its sources. ``KUBEBUILDER_ASSETS`` (envtest layout) is used
instead when it holds ``kube-apiserver`` and ``etcd``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "v1.34.4"
SERVER_SOURCES = Path(__file__).parent / "server"
READY_TIMEOUT_S = 120.0  # a loaded 2-core machine can need a minute per server
STATE_FILE = "state.json"


class LocalClusterError(RuntimeError):
    """The local federation could not be built, started or stopped."""


@dataclass(frozen=True)
class Binaries:
    apiserver: list[str]  # argv prefix that starts one kube-apiserver
    etcd: list[str]  # argv prefix that starts etcd
    keygen: list[str] | None  # argv prefix that writes a signing key, if built
    clientcert: list[str] | None  # argv prefix that writes a client CA and certificate


# --------------------------------------------------------------------------- build


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubectl-fed" / "localcluster"


def source_key() -> str:
    """Hash of what determines the binary, so a changed source rebuilds it."""
    digest = hashlib.sha256(KUBERNETES_VERSION.encode())
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((SERVER_SOURCES / name).read_bytes())
    return digest.hexdigest()[:16]


def build_server(log: Any = sys.stderr) -> Path:
    """Build (or reuse) the cached localcluster-server binary and return its path."""
    target_dir = cache_dir() / source_key()
    binary = target_dir / "localcluster-server"
    if binary.exists():
        return binary
    target_dir.mkdir(parents=True, exist_ok=True)
    # A lock so that parallel test sessions build once, not twice.
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        print(f"building kube-apiserver {KUBERNETES_VERSION} (first time only)...", file=log)
        started = time.monotonic()
        version_flags = " ".join(
            f"-X k8s.io/component-base/version.{k}={v}" for k, v in _version_stamp().items()
        )
        tmp = binary.with_suffix(".tmp")
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
        result = subprocess.run(
            ["go", "build", "-trimpath", "-ldflags", f"-s -w {version_flags}", "-o", str(tmp), "."],
            cwd=SERVER_SOURCES,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalClusterError(f"go build failed:\n{result.stderr[-4000:]}")
        tmp.rename(binary)
        print(f"built in {time.monotonic() - started:.0f}s: {binary}", file=log)
    return binary


def _version_stamp() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.lstrip("v").split(".")
    return {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
    }


def binaries(log: Any = sys.stderr) -> Binaries:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        apiserver, etcd = Path(assets) / "kube-apiserver", Path(assets) / "etcd"
        if apiserver.exists() and etcd.exists():
            return Binaries([str(apiserver)], [str(etcd)], None, None)
    server = str(build_server(log))
    return Binaries(
        [server, "apiserver"], [server, "etcd"], [server, "keygen"], [server, "clientcert"]
    )


# --------------------------------------------------------------------------- state


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive.
    with contextlib.suppress(OSError):
        if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
            return False
    return True


def load_state(directory: Path) -> dict[str, Any] | None:
    path = directory / STATE_FILE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _save_state(directory: Path, state: dict[str, Any]) -> None:
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.rename(directory / STATE_FILE)


# --------------------------------------------------------------------------- probes


def _ssl_context(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def _get(url: str, token: str, ca_file: Path, timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context(ca_file)) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def server_ready(server: dict[str, Any], token: str) -> bool:
    ca_file = Path(server["ca_file"])
    if not ca_file.exists():
        return False
    base = f"https://127.0.0.1:{server['port']}"
    try:
        return (
            _get(f"{base}/readyz", token, ca_file) == 200
            and _get(f"{base}/api/v1/namespaces/default", token, ca_file) == 200
        )
    except (OSError, ssl.SSLError):
        return False


def healthy(directory: Path) -> bool:
    state = load_state(directory)
    if not state:
        return False
    if not _pid_alive(state["etcd"]["pid"]):
        return False
    return all(
        _pid_alive(s["pid"]) and server_ready(s, state["admin_token"])
        for s in state["servers"].values()
    )


# --------------------------------------------------------------------------- start


def cluster_names(members: int) -> list[str]:
    return ["host"] + [f"member-{i}" for i in range(1, members + 1)]


def up(directory: Path, members: int = 2, log: Any = sys.stderr) -> dict[str, Any]:
    """Start etcd and every apiserver; return once all are ready. No-op when healthy."""
    directory = directory.resolve()
    state = load_state(directory)
    if state and len(state["servers"]) == members + 1 and healthy(directory):
        return state
    if state:
        down(directory, remove=True)
    bins = binaries(log)
    directory.mkdir(parents=True, exist_ok=True)
    state = _prepare(directory, members, bins)
    _save_state(directory, state)
    try:
        state["etcd"]["pid"] = _start_etcd(directory, state, bins)
        _save_state(directory, state)
        for name in state["servers"]:
            start_server(directory, name, state=state, bins=bins)
            print(f"{name} ready on https://127.0.0.1:{state['servers'][name]['port']}", file=log)
    except BaseException:
        down(directory, remove=False)
        raise
    write_kubeconfig(directory, state)
    return state


def _prepare(directory: Path, members: int, bins: Binaries) -> dict[str, Any]:
    admin_token = secrets.token_hex(16)
    viewer_token = secrets.token_hex(16)
    # token,user,uid,"groups": system:masters is all-powerful; the viewer has no
    # grants at all, so tests can provoke RBAC refusals.
    (directory / "tokens.csv").write_text(
        f'{admin_token},admin,uid-admin,"system:masters"\n{viewer_token},viewer,uid-viewer\n'
    )
    key_file = directory / "sa.key"
    _write_signing_key(key_file, bins)
    _write_client_certificate(directory, bins)
    servers = {
        name: {
            "port": _free_port(),
            "pid": 0,
            "ca_file": str(directory / name / "certs" / "apiserver.crt"),
        }
        for name in cluster_names(members)
    }
    return {
        "kubernetes_version": KUBERNETES_VERSION,
        "admin_token": admin_token,
        "viewer_token": viewer_token,
        # A client-certificate user in system:masters, accepted by every server.
        "client_certificate": {
            "cert_file": str(directory / "client.crt"),
            "key_file": str(directory / "client.key"),
        },
        "etcd": {"port": _free_port(), "peer_port": _free_port(), "pid": 0},
        "servers": servers,
    }


def _write_signing_key(path: Path, bins: Binaries) -> None:
    command = (
        [*bins.keygen, str(path)]
        if bins.keygen
        else [
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            str(path),
        ]
    )
    subprocess.run(command, check=True, capture_output=True)
    path.chmod(0o600)


CLIENT_CERT_USER = ("cert-admin", "system:masters")


def _write_client_certificate(directory: Path, bins: Binaries) -> None:
    """client-ca.crt for --client-ca-file, and client.crt/.key signed by it."""
    user, group = CLIENT_CERT_USER
    if bins.clientcert:
        subprocess.run(
            [*bins.clientcert, str(directory), user, group], check=True, capture_output=True
        )
        return
    ca_key, ca_cert = directory / "client-ca.key", directory / "client-ca.crt"
    key, csr, cert = directory / "client.key", directory / "client.csr", directory / "client.crt"
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    for command in (
        f"openssl req -x509 {ec} -keyout {ca_key} -out {ca_cert} -days 3650"
        " -subj /CN=localcluster-client-ca",
        f"openssl req {ec} -keyout {key} -out {csr} -subj /CN={user}/O={group}",
        f"openssl x509 -req -in {csr} -CA {ca_cert} -CAkey {ca_key} -CAcreateserial"
        f" -out {cert} -days 3650",
    ):
        # The paths are the test bed's own directory, without spaces.
        subprocess.run(command.split(), check=True, capture_output=True)


def _spawn(argv: list[str], log_path: Path) -> int:
    with open(log_path, "ab") as log_file:
        # A new session: the servers outlive `up` and ignore the caller's Ctrl-C.
        process = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process.pid


def _start_etcd(directory: Path, state: dict[str, Any], bins: Binaries) -> int:
    client = f"http://127.0.0.1:{state['etcd']['port']}"
    peer = f"http://127.0.0.1:{state['etcd']['peer_port']}"
    argv = [
        *bins.etcd,
        f"--data-dir={directory / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--listen-peer-urls={peer}",
    ]
    if bins.keygen is None:  # a real etcd binary wants the advertised URLs spelled out
        argv += [
            f"--advertise-client-urls={client}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync",
        ]
    pid = _spawn(argv, directory / "etcd.log")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            raise LocalClusterError(f"etcd exited; see {directory / 'etcd.log'}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{client}/health", timeout=2):
            return pid
        time.sleep(0.2)
    raise LocalClusterError("etcd did not become ready")


def _apiserver_args(directory: Path, name: str, state: dict[str, Any]) -> list[str]:
    port = state["servers"][name]["port"]
    return [
        f"--etcd-servers=http://127.0.0.1:{state['etcd']['port']}",
        f"--etcd-prefix=/registry-{name}",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--cert-dir={directory / name / 'certs'}",
        f"--service-account-issuer=https://{name}.kubectl-fed.local",
        f"--service-account-key-file={directory / 'sa.key'}",
        f"--service-account-signing-key-file={directory / 'sa.key'}",
        f"--token-auth-file={directory / 'tokens.csv'}",
        f"--client-ca-file={directory / 'client-ca.crt'}",
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--enable-priority-and-fairness=false",
    ]


def start_server(
    directory: Path,
    name: str,
    *,
    state: dict[str, Any] | None = None,
    bins: Binaries | None = None,
) -> None:
    """(Re)start one apiserver of an existing local federation and wait until ready."""
    directory = directory.resolve()
    state = state or load_state(directory)
    if state is None:
        raise LocalClusterError(f"no local federation in {directory}")
    bins = bins or binaries()
    server = state["servers"][name]
    (directory / name / "certs").mkdir(parents=True, exist_ok=True)
    server["pid"] = _spawn(
        [*bins.apiserver, *_apiserver_args(directory, name, state)], directory / f"{name}.log"
    )
    _save_state(directory, state)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(server["pid"]):
            raise LocalClusterError(f"{name} exited; see {directory / (name + '.log')}")
        if server_ready(server, state["admin_token"]):
            return
        time.sleep(0.3)
    raise LocalClusterError(f"{name} not ready after {READY_TIMEOUT_S:.0f}s")


def stop_server(directory: Path, name: str) -> None:
    """Stop one apiserver (its data stays in etcd), e.g. to simulate an outage."""
    directory = directory.resolve()
    state = load_state(directory)
    if state is None:
        raise LocalClusterError(f"no local federation in {directory}")
    _terminate(state["servers"][name]["pid"])


def _terminate(pid: int, grace_s: float = 10.0) -> None:
    if pid <= 0 or not _pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    # Reap it if it is our child (in-process fixtures); harmless otherwise.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# --------------------------------------------------------------------------- kubeconfig


def write_kubeconfig(directory: Path, state: dict[str, Any]) -> Path:
    clusters, users, contexts = [], [], []
    for name, server in state["servers"].items():
        ca = base64.b64encode(Path(server["ca_file"]).read_bytes()).decode()
        clusters.append(
            {
                "name": name,
                "cluster": {
                    "server": f"https://127.0.0.1:{server['port']}",
                    "certificate-authority-data": ca,
                },
            }
        )
        contexts.append({"name": name, "context": {"cluster": name, "user": "admin"}})
    users.append({"name": "admin", "user": {"token": state["admin_token"]}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": "host",
        "preferences": {},
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- stop


def down(directory: Path, remove: bool = True) -> None:
    """Stop every process this module started in DIR and remove its data."""
    directory = directory.resolve()
    state = load_state(directory)
    if state:
        for server in state["servers"].values():
            _terminate(server["pid"])
        _terminate(state["etcd"]["pid"])
    if remove and directory.exists():
        shutil.rmtree(directory)
