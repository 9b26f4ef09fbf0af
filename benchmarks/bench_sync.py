"""Sync, diff and adopt at scale, on real local apiservers.

    python -m benchmarks.bench_sync [--objects 1000] [--members 2 3] [--edits 20]
                                    [--adopt 500] [--repeat 3]

For each member count: 1,000 Deployment templates under one Duplicate policy;
  - baseline: the same creates by a plain sequential loop with the Python client
    (AppsV1Api.create_namespaced_deployment), per member, measured in the same run;
    baseline and initial sync are repeated on fresh federations (--repeat) and the
    median ratio is reported, because a shared 2-core machine moves single runs a lot;
  - initial `kubectl fed sync --once`: time, requests, peak RSS;
  - steady-state `sync --once` (no writes expected);
  - `kubectl fed diff -A`, local and server-side: time, requests per object;
  - continuous `kubectl fed sync`: template edit -> member change latency (p50, p99);
  - `kubectl fed adopt -l` of N Deployments created directly in member-1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests import localcluster

BIN = Path(sys.executable).parent
NAMESPACE = "bench"
POLICY_LABEL = "kubeadmiral.io/propagation-policy-name"


def deployment(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }


class Bench:
    def __init__(self, directory: Path, members: int) -> None:
        self.directory = directory
        self.members = [f"member-{i}" for i in range(1, members + 1)]
        self.env = dict(
            os.environ,
            PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
            KUBECONFIG=str(directory / "kubeconfig"),
            KUBECTL_FED_CONFIG=str(directory / "state.toml"),
        )

    def fed(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "fed", *args], env=self.env, text=True, capture_output=True, check=check
        )

    def api(self, context: str) -> Any:
        from kubernetes import client, config

        return client.AppsV1Api(
            config.new_client_from_config(
                config_file=str(self.directory / "kubeconfig"), context=context
            )
        )

    def core(self, context: str) -> Any:
        from kubernetes import client, config

        return client.CoreV1Api(
            config.new_client_from_config(
                config_file=str(self.directory / "kubeconfig"), context=context
            )
        )

    def apply(self, manifest: dict[str, Any]) -> None:
        """`kubectl apply` of one manifest to the host (the kubeconfig's current context)."""
        subprocess.run(
            ["kubectl", "apply", "-f", "-"],
            input=json.dumps(manifest),
            text=True,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def namespace(self, context: str, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        with contextlib.suppress(ApiException):
            self.core(context).create_namespace({"metadata": {"name": name}})


def timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB, of the process and its waited-for children) and stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out_holder: list[str] = []
    reader = threading.Thread(target=lambda: out_holder.append(process.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    _, _, usage = os.wait4(process.pid, 0)
    reader.join()
    process.returncode = 0
    return time.perf_counter() - started, usage.ru_maxrss, out_holder[0] if out_holder else ""


def baseline(bench: Bench, objects: int) -> float:
    """What a user's plain loop costs: sequential typed creates into every member."""
    total = 0.0
    for member in bench.members:
        bench.namespace(member, "baseline")
        api = bench.api(member)
        started = time.perf_counter()
        for i in range(objects):
            api.create_namespaced_deployment("baseline", deployment(f"base-{i}"))
        total += time.perf_counter() - started
        subprocess.run(
            [
                "kubectl",
                "--context",
                member,
                "delete",
                "deploy",
                "--all",
                "-n",
                "baseline",
                "--wait=false",
            ],
            env=bench.env,
            capture_output=True,
        )
    return total


def create_templates(bench: Bench, objects: int) -> None:
    bench.namespace("host", NAMESPACE)
    api = bench.api("host")
    policy = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "dup", "namespace": NAMESPACE},
        "spec": {
            "schedulingMode": "Duplicate",
            "placement": [{"cluster": m} for m in bench.members],
        },
    }
    bench.apply(policy)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: api.create_namespaced_deployment(
                    NAMESPACE, deployment(f"web-{i}", {POLICY_LABEL: "dup"})
                ),
                range(objects),
            )
        )


def sync_once(bench: Bench) -> dict[str, Any]:
    seconds, rss, out = run_measured(
        [str(BIN / "kubectl-fed"), "sync", "--once", "-o", "json"], bench.env
    )
    report: dict[str, Any] = json.loads(out)
    report["wall"] = seconds
    report["rss_mb"] = rss / 1024
    return report


def edit_latency(bench: Bench, edits: int) -> list[float]:
    """Template edit -> member change, with a continuous sync running."""
    process = subprocess.Popen(
        [str(BIN / "kubectl-fed"), "sync"],
        env=bench.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host, member = bench.api("host"), bench.api(bench.members[-1])
    time.sleep(5)  # let the first pass finish
    latencies = []
    try:
        for i in range(edits):
            name = f"web-{i}"
            replicas = 3 + i % 5
            started = time.perf_counter()
            host.patch_namespaced_deployment(name, NAMESPACE, {"spec": {"replicas": replicas}})
            while member.read_namespaced_deployment(name, NAMESPACE).spec.replicas != replicas:
                if time.perf_counter() - started > 30:
                    break
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def adopt_bench(bench: Bench, count: int) -> tuple[float, int]:
    bench.namespace("member-1", "legacy")
    bench.namespace("host", "legacy")
    api = bench.api("member-1")
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: api.create_namespaced_deployment(
                    "legacy", deployment(f"old-{i}", {"team": "old"})
                ),
                range(count),
            )
        )
    policy = {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "one", "namespace": "legacy"},
        "spec": {"placement": [{"cluster": "member-1"}]},
    }
    bench.apply(policy)
    seconds, done = timed(
        lambda: bench.fed(
            "adopt",
            "deploy",
            "-l",
            "team=old",
            "--cluster",
            "member-1",
            "-n",
            "legacy",
            "--policy",
            "one",
        )
    )
    return seconds, done.stdout.count("created")


def initial_round(bench: Bench, objects: int) -> tuple[float, dict[str, Any]]:
    """Baseline creates, then the initial `sync --once` of as many templates."""
    base = baseline(bench, objects)
    create_templates(bench, objects)
    return base, sync_once(bench)


def run(members: int, objects: int, edits: int, adopt_count: int, repeat: int) -> None:
    """`repeat` rounds of baseline + initial sync, each on a fresh federation (the
    initial pass can only run once per federation); the rest on the last one."""
    print(f"\n== {objects} Deployments, {members} members")
    ratios = []
    for round_ in range(1, repeat + 1):
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            localcluster.up(directory, members=members, log=sys.stderr)
            bench = Bench(directory, members)
            bench.fed("init")
            for member in bench.members:
                bench.fed("join", member, "--cluster-context", member)
            base, first = initial_round(bench, objects)
            ratios.append(first["wall"] / base)
            print(
                f"round {round_}: baseline (sequential typed-client creates, "
                f"{objects * members} objects) {base:.1f} s; initial sync --once "
                f"{first['wall']:.1f} s ({ratios[-1]:.2f}x), writes {first['writes']}, "
                f"requests {json.dumps(first['requests'])}, peak RSS {first['rss_mb']:.0f} MB"
            )
            if round_ == repeat:
                later_measurements(bench, edits, adopt_count)
            localcluster.down(directory, remove=False)
    print(
        f"initial sync / baseline over {repeat} rounds: median {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)"
    )


def later_measurements(bench: Bench, edits: int, adopt_count: int) -> None:
    steady = sync_once(bench)
    print(
        f"steady-state sync --once: {steady['wall']:.2f} s, writes {steady['writes']}, "
        f"peak RSS {steady['rss_mb']:.0f} MB"
    )
    for mode in ("--server-side=false", "--server-side"):
        seconds, done = timed(
            lambda mode=mode: bench.fed("diff", "-A", mode, "-o", "table", check=False)
        )
        print(f"diff -A {mode}: {seconds:.1f} s, exit {done.returncode}")
    if edits:
        latencies = edit_latency(bench, edits)
        print(
            f"continuous sync, edit -> member change over {len(latencies)} edits: "
            f"p50 {statistics.median(latencies):.2f} s, "
            f"p99 {percentile(latencies, 0.99):.2f} s"
        )
    if adopt_count:
        seconds, created = adopt_bench(bench, adopt_count)
        print(f"adopt -l of {adopt_count} Deployments: {seconds:.1f} s, {created} created")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--members", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--adopt", type=int, default=500)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of baseline + initial sync per size"
    )
    args = parser.parse_args()
    for members in args.members:
        run(members, args.objects, args.edits, args.adopt if members == 2 else 0, args.repeat)


if __name__ == "__main__":
    main()
