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
import re
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
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "v1.34.4"
SERVER_SOURCES = Path(__file__).parent / "server"
KWOK_VERSION = "v0.8.0"  # sigs.k8s.io/kwok, pinned in kwok/go.mod
KWOK_SOURCES = Path(__file__).parent / "kwok"
READY_TIMEOUT_S = 120.0  # a loaded 2-core machine can need a minute per server
STATE_FILE = "state.json"


class LocalClusterError(RuntimeError):
    """The local federation could not be built, started or stopped."""


@dataclass(frozen=True)
class NodeShape:
    """The simulated nodes of a member that runs workloads: how many, and the
    capacity (= allocatable) of each, in Kubernetes quantities."""

    nodes: int = 2
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110

    def check(self, member: str) -> None:
        if self.nodes < 0 or self.pods < 0:
            raise LocalClusterError(f"{member}: node count and pods must not be negative")
        for value in (self.cpu, self.memory):
            if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?", value):
                raise LocalClusterError(f"{member}: {value!r} is not a Kubernetes quantity")


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


def source_key(sources: Path = SERVER_SOURCES) -> str:
    """Hash of what determines a binary, so a changed source rebuilds it."""
    digest = hashlib.sha256(KUBERNETES_VERSION.encode())
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((sources / name).read_bytes())
    return digest.hexdigest()[:16]


def build_server(log: Any = sys.stderr) -> Path:
    """Build (or reuse) the cached localcluster-server binary and return its path.

    One binary, several roles: etcd, apiserver, controller-manager, scheduler."""
    version_flags = " ".join(
        f"-X k8s.io/component-base/version.{k}={v}" for k, v in _version_stamp().items()
    )
    return _go_build(
        SERVER_SOURCES,
        "localcluster-server",
        version_flags,
        f"kube-apiserver, controller manager and scheduler {KUBERNETES_VERSION}",
        log,
    )


def build_kwok(log: Any = sys.stderr) -> Path:
    """Build (or reuse) the cached KWOK binary (its own Go module: it needs k8s.io v0.36)."""
    return _go_build(KWOK_SOURCES, "localcluster-kwok", "", f"KWOK {KWOK_VERSION}", log)


def build_all(log: Any = sys.stderr) -> list[Path]:
    """Every binary a federation may need, one build after the other (2 cores)."""
    return [build_server(log), build_kwok(log)]


def _go_build(sources: Path, name: str, ldflags: str, what: str, log: Any) -> Path:
    target_dir = cache_dir() / source_key(sources)
    binary = target_dir / name
    if binary.exists():
        return binary
    target_dir.mkdir(parents=True, exist_ok=True)
    # One lock for every build: parallel test sessions build once, and two heavy
    # Go builds never share the two cores.
    with open(cache_dir() / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        print(f"building {what} (first time only)...", file=log)
        started = time.monotonic()
        tmp = binary.with_suffix(".tmp")
        goflags = f"{os.environ.get('GOFLAGS', '')} -mod=mod".strip()
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=goflags)
        result = subprocess.run(
            ["go", "build", "-trimpath", "-ldflags", f"-s -w {ldflags}", "-o", str(tmp), "."],
            cwd=sources,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalClusterError(f"go build of {name} failed:\n{result.stderr[-4000:]}")
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


@dataclass(frozen=True)
class WorkloadBinaries:
    controller_manager: list[str]
    scheduler: list[str]
    kwok: list[str]


def workload_binaries(log: Any = sys.stderr) -> WorkloadBinaries:
    """The controller manager and scheduler (our server binary, also with envtest
    assets) and KWOK."""
    server = str(build_server(log))
    return WorkloadBinaries(
        [server, "controller-manager"], [server, "scheduler"], [str(build_kwok(log))]
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
        _pid_alive(s["pid"])
        and server_ready(s, state["admin_token"])
        and all(_pid_alive(pid) for pid in s.get("workloads", {}).get("pids", {}).values())
        for s in state["servers"].values()
    )


# --------------------------------------------------------------------------- start


def cluster_names(members: int) -> list[str]:
    return ["host"] + [f"member-{i}" for i in range(1, members + 1)]


def up(
    directory: Path,
    members: int = 2,
    log: Any = sys.stderr,
    workloads: Mapping[str, NodeShape] | None = None,
) -> dict[str, Any]:
    """Start etcd and every apiserver; return once all are ready. No-op when healthy.

    workloads names the members that run workloads (a controller manager, a
    scheduler and KWOK's simulated nodes of the given shape); the others, and the
    host always, are bare apiservers."""
    directory = directory.resolve()
    wanted = _workload_config(members, workloads or {})
    state = load_state(directory)
    if (
        state
        and len(state["servers"]) == members + 1
        and _workload_config_of(state) == wanted
        and healthy(directory)
    ):
        return state
    if state:
        down(directory, remove=True)
    bins = binaries(log)
    wbins = workload_binaries(log) if wanted else None
    directory.mkdir(parents=True, exist_ok=True)
    state = _prepare(directory, members, bins, wanted)
    _save_state(directory, state)
    try:
        state["etcd"]["pid"] = _start_etcd(directory, state, bins)
        _save_state(directory, state)
        for name in state["servers"]:
            start_server(directory, name, state=state, bins=bins, wbins=wbins)
            port = state["servers"][name]["port"]
            extra = _describe_workloads(state["servers"][name])
            print(f"{name} ready on https://127.0.0.1:{port}{extra}", file=log)
    except BaseException:
        down(directory, remove=False)
        raise
    write_kubeconfig(directory, state)
    return state


def _workload_config(members: int, workloads: Mapping[str, NodeShape]) -> dict[str, Any]:
    names = cluster_names(members)[1:]
    unknown = sorted(set(workloads) - set(names))
    if unknown:
        raise LocalClusterError(
            f"workloads for {', '.join(unknown)}: only members run workloads ({', '.join(names)})"
        )
    for name, shape in workloads.items():
        shape.check(name)
    return {name: asdict(workloads[name]) for name in names if name in workloads}


def _workload_config_of(state: dict[str, Any]) -> dict[str, Any]:
    return {
        name: server["workloads"]["nodes"]
        for name, server in state["servers"].items()
        if "workloads" in server
    }


def _describe_workloads(server: dict[str, Any]) -> str:
    if "workloads" not in server:
        return ""
    shape = server["workloads"]["nodes"]
    return (
        f" with controllers, scheduler and {shape['nodes']} node(s) of "
        f"{shape['cpu']} CPU, {shape['memory']}, {shape['pods']} pods"
    )


def _prepare(
    directory: Path, members: int, bins: Binaries, workloads: dict[str, Any]
) -> dict[str, Any]:
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
    servers: dict[str, dict[str, Any]] = {
        name: {
            "port": _free_port(),
            "pid": 0,
            "ca_file": str(directory / name / "certs" / "apiserver.crt"),
        }
        for name in cluster_names(members)
    }
    for name, shape in workloads.items():
        servers[name]["workloads"] = {
            "nodes": shape,
            "kubeconfig": str(directory / name / "kubeconfig"),
            "pids": {role: 0 for role in WORKLOAD_ROLES},
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
        # ServiceAccount: pods need no token volume (simulated nodes mount nothing).
        # TaintNodesByCondition: it taints every new Node not-ready, a taint only the
        # node lifecycle controller lifts, which would also want kubelet heartbeats.
        "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
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
    wbins: WorkloadBinaries | None = None,
) -> None:
    """(Re)start one apiserver of an existing local federation and wait until ready;
    for a member that runs workloads, its controllers, scheduler and KWOK too."""
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
    while not server_ready(server, state["admin_token"]):
        if not _pid_alive(server["pid"]):
            raise LocalClusterError(f"{name} exited; see {directory / (name + '.log')}")
        if time.monotonic() > deadline:
            raise LocalClusterError(f"{name} not ready after {READY_TIMEOUT_S:.0f}s")
        time.sleep(0.3)
    if "workloads" in server:
        _start_workloads(directory, name, state, wbins or workload_binaries())


def stop_server(directory: Path, name: str) -> None:
    """Stop one apiserver (its data stays in etcd), e.g. to simulate an outage; a
    member's controllers, scheduler and KWOK stop with it."""
    directory = directory.resolve()
    state = load_state(directory)
    if state is None:
        raise LocalClusterError(f"no local federation in {directory}")
    server = state["servers"][name]
    for pid in server.get("workloads", {}).get("pids", {}).values():
        _terminate(pid)
    _terminate(server["pid"])


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


# --------------------------------------------------------------------------- workloads

# Started in this order, stopped all at once; KWOK last, once the nodes exist.
WORKLOAD_ROLES = ("controller-manager", "scheduler", "kwok")

# What a cluster needs for Deployments, StatefulSets, DaemonSets and Jobs to get pods,
# for namespaces to finish deleting, for owners' dependents to be collected and for
# ServiceAccounts (and their legacy tokens) to exist. Nothing that needs a cloud,
# a kubelet or node leases.
CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
)


def _start_workloads(
    directory: Path, name: str, state: dict[str, Any], wbins: WorkloadBinaries
) -> None:
    """Nodes, then the controller manager, the scheduler and KWOK of one member."""
    server = state["servers"][name]
    workloads = server["workloads"]
    kubeconfig = Path(workloads["kubeconfig"])
    _write_member_kubeconfig(kubeconfig, server, state["admin_token"])
    stages = directory / "kwok-stages.yaml"
    if not stages.exists():
        text = subprocess.run(
            [*wbins.kwok, "stages"], check=True, capture_output=True, text=True
        ).stdout
        stages.write_text(text)
    _create_nodes(name, server, state["admin_token"])
    argv = {
        "controller-manager": [
            *wbins.controller_manager,
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            f"--service-account-private-key-file={directory / 'sa.key'}",
            f"--root-ca-file={server['ca_file']}",
            f"--controllers={','.join(CONTROLLERS)}",
            "--secure-port=0",
            # The defaults (20/s) would make 100 Deployments wait on the client.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
        ],
        "scheduler": [
            *wbins.scheduler,
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
        ],
        "kwok": [
            *wbins.kwok,
            f"--kubeconfig={kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=true",
            # Simulated addresses only, never contacted; kept on loopback all the same.
            "--node-ip=127.0.0.1",
            "--cidr=127.64.0.0/16",
        ],
    }
    for role in WORKLOAD_ROLES:
        workloads["pids"][role] = _spawn(argv[role], directory / f"{name}-{role}.log")
    _save_state(directory, state)
    _wait_for_workloads(directory, name, server, state["admin_token"])


def _write_member_kubeconfig(path: Path, server: dict[str, Any], token: str) -> None:
    """The admin token, for the member's own controllers (the tokens file is theirs too)."""
    ca = base64.b64encode(Path(server["ca_file"]).read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": f"https://127.0.0.1:{server['port']}",
                    "certificate-authority-data": ca,
                },
            }
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def node_names(name: str, server: dict[str, Any]) -> list[str]:
    count = server["workloads"]["nodes"]["nodes"]
    return [f"{name}-node-{i}" for i in range(1, count + 1)]


def _create_nodes(name: str, server: dict[str, Any], token: str) -> None:
    """Plain Node objects with the declared capacity; KWOK makes them Ready.
    Idempotent: a restarted member keeps its nodes."""
    shape = server["workloads"]["nodes"]
    resources = {"cpu": shape["cpu"], "memory": shape["memory"], "pods": str(shape["pods"])}
    for node in node_names(name, server):
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node,
                "labels": {
                    "kubernetes.io/hostname": node,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            # A Node's status is kept on create (a kubelet registers that way).
            "status": {"capacity": resources, "allocatable": resources},
        }
        code, _ = _call(server, token, "POST", "/api/v1/nodes", body)
        if code not in (201, 409):
            raise LocalClusterError(f"{name}: creating node {node} answered {code}")


def _wait_for_workloads(directory: Path, name: str, server: dict[str, Any], token: str) -> None:
    """Until every node is Ready (KWOK runs) and the default ServiceAccount exists
    (the controller manager runs)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    expected = set(node_names(name, server))
    while True:
        for role, pid in server["workloads"]["pids"].items():
            if not _pid_alive(pid):
                log = directory / f"{name}-{role}.log"
                raise LocalClusterError(f"{name}: {role} exited; see {log}")
        if expected <= _ready_nodes(server, token) and _default_service_account(server, token):
            return
        if time.monotonic() > deadline:
            raise LocalClusterError(
                f"{name}: nodes or controllers not ready after {READY_TIMEOUT_S:.0f}s"
            )
        time.sleep(0.3)


def _ready_nodes(server: dict[str, Any], token: str) -> set[str]:
    code, nodes = _call(server, token, "GET", "/api/v1/nodes")
    if code != 200:
        return set()
    return {
        node["metadata"]["name"]
        for node in nodes.get("items", [])
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions", [])
        )
    }


def _default_service_account(server: dict[str, Any], token: str) -> bool:
    code, _ = _call(server, token, "GET", "/api/v1/namespaces/default/serviceaccounts/default")
    return code == 200


def _call(
    server: dict[str, Any], token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """One JSON request to a local apiserver: (status code, decoded body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"https://127.0.0.1:{server['port']}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    context = _ssl_context(Path(server["ca_file"]))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return int(err.code), None
    except (OSError, ssl.SSLError):
        return 0, None


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
            for pid in server.get("workloads", {}).get("pids", {}).values():
                _terminate(pid)
            _terminate(server["pid"])
        _terminate(state["etcd"]["pid"])
    if remove and directory.exists():
        shutil.rmtree(directory)
