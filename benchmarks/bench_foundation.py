"""Foundation numbers: local cluster start, `kubectl fed --help`, `kubectl fed clusters`.

    python -m benchmarks.bench_foundation [--runs N] [--cold]

--cold also times a from-scratch build of the apiserver binary with empty Go caches
(several minutes on 2 cores; downloads the module graph again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests import localcluster

BIN = Path(sys.executable).parent


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def median_of(runs: int, argv: list[str], env: dict[str, str]) -> float:
    timed(argv, env)  # warm the page cache
    return statistics.median(timed(argv, env) for _ in range(runs))


def cold_build() -> float:
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(
            os.environ,
            GOCACHE=f"{scratch}/gocache",
            GOMODCACHE=f"{scratch}/gomod",
            XDG_CACHE_HOME=f"{scratch}/cache",
            GOFLAGS="-modcacherw",
        )
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tests.localcluster", "build"],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    if args.cold:
        print(f"cold build of kube-apiserver+etcd binary: {cold_build():.0f} s")
    localcluster.build_server()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "fed"
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            localcluster.up(directory, members=2, log=quiet)
        print(
            f"warm start of etcd + 3 apiservers (cached binary): "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        localcluster.up(directory, members=2)
        print(f"`up` on a healthy federation (no-op): {time.perf_counter() - started:.2f} s")
        env = dict(
            os.environ,
            PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
            KUBECONFIG=str(directory / "kubeconfig"),
            KUBECTL_FED_CONFIG=str(Path(scratch) / "state.toml"),
        )
        subprocess.run(["kubectl", "fed", "init"], env=env, check=True, capture_output=True)
        for member in ("member-1", "member-2"):
            subprocess.run(
                ["kubectl", "fed", "join", member, "--cluster-context", member],
                env=env,
                check=True,
                capture_output=True,
            )
        help_s = median_of(args.runs, ["kubectl", "fed", "--help"], env)
        direct_s = median_of(args.runs, [str(BIN / "kubectl-fed"), "--help"], env)
        clusters_s = median_of(args.runs, ["kubectl", "fed", "clusters"], env)
        refresh_s = median_of(args.runs, ["kubectl", "fed", "clusters", "--refresh"], env)
        print(f"kubectl fed --help (through kubectl), median of {args.runs}: {help_s:.3f} s")
        print(f"kubectl-fed --help (direct), median of {args.runs}: {direct_s:.3f} s")
        print(f"kubectl fed clusters, 2 members, median of {args.runs}: {clusters_s:.3f} s")
        print(
            f"kubectl fed clusters --refresh, 2 members, median of {args.runs}: {refresh_s:.3f} s"
        )
        localcluster.down(directory)


if __name__ == "__main__":
    main()
