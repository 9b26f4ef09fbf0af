"""What a member that runs workloads costs, and how fast its pods start.

    python -m benchmarks.bench_workloads [--deployments 100] [--replicas 2]
                                         [--idle-seconds 30] [--cold]

On a fresh federation of 2 workload members (apiserver, kube-controller-manager,
kube-scheduler and KWOK each; `up --workloads`):
  - warm builds of the two binaries (Go caches warm, the cached binaries not used);
    --cold: from empty Go caches, module downloads included (many minutes on 2 cores);
  - start of etcd + host + 2 workload members;
  - RSS and CPU per process of each member over --idle-seconds, empty, then again
    holding the Deployments' pods;
  - the time until every pod is Ready after `kubectl fed sync --once` of --deployments
    Deployment templates (Divide over both members, --replicas each), and until a second
    `sync --once` has collected every member's readiness into the templates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests import localcluster

BIN = Path(sys.executable).parent
NAMESPACE = "bench"
POLICY_LABEL = "kubeadmiral.io/propagation-policy-name"
MEMBERS = ("member-1", "member-2")
TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def scratch_caches(cold: bool) -> Iterator[None]:
    """Builds into an empty binary cache; with cold, empty Go caches too."""
    saved = dict(os.environ)
    go_cache = subprocess.run(
        ["go", "env", "GOCACHE"], check=True, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["XDG_CACHE_HOME"] = f"{scratch}/cache"
        os.environ["GOCACHE"] = go_cache  # Go's default would follow XDG_CACHE_HOME
        if cold:
            os.environ["GOCACHE"] = f"{scratch}/gocache"
            os.environ["GOMODCACHE"] = f"{scratch}/gomod"
            os.environ["GOFLAGS"] = "-modcacherw"  # so the scratch dir can be removed
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def timed_builds(cold: bool) -> dict[str, tuple[float, float]]:
    """Per binary: (wall seconds, CPU seconds of the go processes). The CPU is what a
    busy machine cannot inflate: on 2 idle cores the wall time nears CPU / 2."""
    times = {}
    with open(os.devnull, "w") as quiet, scratch_caches(cold):
        builds: dict[str, Callable[..., Path]] = {
            "server (apiserver, controller manager, scheduler, etcd)": localcluster.build_server,
            "kwok": localcluster.build_kwok,
        }
        for name, build in builds.items():
            cpu_before = _children_cpu()
            started = time.perf_counter()
            build(log=quiet)
            times[name] = (time.perf_counter() - started, _children_cpu() - cpu_before)
    return times


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- processes


def member_processes(state: dict[str, Any], member: str) -> dict[str, int]:
    server = state["servers"][member]
    return {"apiserver": server["pid"], **server["workloads"]["pids"]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_profile(
    state: dict[str, Any], seconds: float
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per member and process: (RSS MB at the end, CPU % of one core over seconds)."""
    pids = {m: member_processes(state, m) for m in MEMBERS}
    before = {m: {r: cpu_seconds(p) for r, p in roles.items()} for m, roles in pids.items()}
    time.sleep(seconds)
    return {
        m: {
            role: (rss_mb(pid), 100 * (cpu_seconds(pid) - before[m][role]) / seconds)
            for role, pid in roles.items()
        }
        for m, roles in pids.items()
    }


def print_profile(title: str, profile: dict[str, dict[str, tuple[float, float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'member':10} {'process':20} {'RSS MB':>8} {'CPU %':>7}")
    for member, roles in profile.items():
        for role, (rss, cpu) in roles.items():
            print(f"  {member:10} {role:20} {rss:8.0f} {cpu:7.2f}")
        total_rss = sum(r for r, _ in roles.values())
        total_cpu = sum(c for _, c in roles.values())
        print(f"  {member:10} {'total':20} {total_rss:8.0f} {total_cpu:7.2f}")


# --------------------------------------------------------------------------- pods


def templates(count: int, replicas: int) -> str:
    import yaml

    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "core.kubeadmiral.io/v1alpha1",
            "kind": "PropagationPolicy",
            "metadata": {"name": "spread", "namespace": NAMESPACE},
            "spec": {
                "schedulingMode": "Divide",
                "placement": [{"cluster": m, "preferences": {"weight": 1}} for m in MEMBERS],
            },
        },
    ]
    for i in range(count):
        name = f"app-{i:03d}"
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {POLICY_LABEL: "spread"},
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
                    },
                },
            }
        )
    return "\n---\n".join(yaml.safe_dump(d) for d in docs)


def ready_pods(server: dict[str, Any], token: str) -> int:
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    code, pods = localcluster._call(server, token, "GET", path)
    if code != 200:
        return 0
    return sum(
        1
        for pod in pods["items"]
        if not pod["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
    )


def template_ready(server: dict[str, Any], token: str) -> int:
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
    code, found = localcluster._call(server, token, "GET", path)
    if code != 200:
        return 0
    return sum(d.get("status", {}).get("readyReplicas", 0) for d in found["items"])


def rollout(directory: Path, state: dict[str, Any], count: int, replicas: int) -> None:
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        KUBECONFIG=str(directory / "kubeconfig"),
        KUBECTL_FED_CONFIG=str(directory / "state.toml"),
    )

    def run(*argv: str, stdin: str | None = None) -> None:
        subprocess.run(argv, env=env, input=stdin, text=True, check=True, capture_output=True)

    run("kubectl", "fed", "init")
    for member in MEMBERS:
        run("kubectl", "fed", "join", member, "--cluster-context", member)
    run("kubectl", "apply", "-f", "-", stdin=templates(count, replicas))
    token, servers = state["admin_token"], state["servers"]
    total = count * replicas
    cpu_before = {
        m: {r: cpu_seconds(p) for r, p in member_processes(state, m).items()} for m in MEMBERS
    }
    started = time.perf_counter()
    run("kubectl", "fed", "sync", "--once", "-n", NAMESPACE)
    synced = time.perf_counter() - started
    while sum(ready_pods(servers[m], token) for m in MEMBERS) < total:
        if time.perf_counter() - started > 600:
            raise SystemExit("pods not Ready after 600 s")
        time.sleep(0.2)
    ready = time.perf_counter() - started
    cpu = {
        m: {r: cpu_seconds(p) - cpu_before[m][r] for r, p in member_processes(state, m).items()}
        for m in MEMBERS
    }
    collect_started = time.perf_counter()
    run("kubectl", "fed", "sync", "--once", "-n", NAMESPACE)
    collected = time.perf_counter() - collect_started
    host_ready = template_ready(servers["host"], token)
    print(f"\n{count} Deployments x {replicas} replicas, Divide over 2 members ({total} pods)")
    print(f"  sync --once (creates the member Deployments): {synced:.1f} s")
    print(f"  sync --once start -> every pod Ready: {ready:.1f} s")
    print(
        f"  second sync --once (collects status): {collected:.1f} s; "
        f"templates' readyReplicas sum {host_ready}"
    )
    print("  CPU seconds per process from sync start to all Ready:")
    for member, roles in cpu.items():
        print("   ", member, ", ".join(f"{r} {s:.1f}" for r, s in roles.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    if args.cold:
        for name, (wall, cpu) in timed_builds(cold=True).items():
            print(f"cold build (empty Go caches) of {name}: {wall:.0f} s, CPU {cpu:.0f} s")
    for name, (wall, cpu) in timed_builds(cold=False).items():
        print(f"warm build (Go caches warm) of {name}: {wall:.0f} s, CPU {cpu:.0f} s")
    localcluster.build_all()
    workloads = {m: localcluster.NodeShape() for m in MEMBERS}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "fed"
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            state = localcluster.up(directory, members=2, log=quiet, workloads=workloads)
        print(f"start of etcd + host + 2 workload members: {time.perf_counter() - started:.1f} s")
        try:
            time.sleep(5)  # past the start-up informer syncs
            print_profile(
                f"empty members, over {args.idle_seconds:.0f} s",
                idle_profile(state, args.idle_seconds),
            )
            rollout(directory, state, args.deployments, args.replicas)
            time.sleep(5)
            print_profile(
                f"members holding {args.deployments * args.replicas // 2} pods each, idle, "
                f"over {args.idle_seconds:.0f} s",
                idle_profile(state, args.idle_seconds),
            )
        finally:
            localcluster.down(directory, remove=False)


if __name__ == "__main__":
    main()
