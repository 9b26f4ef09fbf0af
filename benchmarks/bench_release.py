"""Release artifact numbers: size, and start times of the unpacked krew archive.

    python -m benchmarks.bench_release [--runs N] [--cold-runs N]

Builds the archive with scripts.release (the committed manifest is left alone),
unpacks it, and runs it through the real kubectl with only the archive's directory
and a system python3 on PATH. "cold" is a first run with a fresh HOME: the zipapp
unpacks itself into the cache and Python compiles what it imports. "warm" is the
median of --runs later runs. "no cache" is a cache that cannot be written: every
run imports straight from the zip and compiles everything again. "pip install" is
the same command through this virtualenv's kubectl-fed, for comparison. Each cell
gives the median wall time and, in parentheses, the median CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.release import MANIFEST, build_release

COMMANDS = {
    "kubectl fed --help": ["fed", "--help"],
    "kubectl fed version": ["fed", "version"],
    "kubectl __complete fed ''": ["__complete", "fed", ""],
    "kubectl fed init --dry-run=client -o yaml": ["fed", "init", "--dry-run=client", "-o", "yaml"],
}


def system_python() -> Path:
    """PATH's python3 outside this virtualenv, resolved through shims such as pyenv's."""
    venv_bin = Path(sys.executable).parent.resolve()
    path = os.pathsep.join(
        entry for entry in os.environ["PATH"].split(os.pathsep) if Path(entry).resolve() != venv_bin
    )
    python3 = shutil.which("python3", path=path)
    if python3 is None:
        sys.exit("error: no python3 on PATH outside the virtualenv")
    probe = [python3, "-c", "import sys; print(sys.executable)"]
    return Path(subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip())


@dataclass(frozen=True)
class Timing:
    """Median wall time, and median CPU time (user + system, kubectl and plugin): the
    CPU time barely moves when other work shares the machine, the wall time does."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.2f} s ({self.cpu:.2f})"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def medians(samples: list[tuple[float, float]]) -> Timing:
    return Timing(
        statistics.median(wall for wall, _ in samples),
        statistics.median(cpu for _, cpu in samples),
    )


def directory_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


@dataclass
class Bench:
    kubectl: str
    unpacked: Path
    python: Path
    scratch: Path
    runs: int
    cold_runs: int

    @property
    def warm_home(self) -> Path:
        return self.scratch / "warm-home"

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        path = f"{self.unpacked}{os.pathsep}{self.python.parent}"
        return {"PATH": path, "HOME": str(home), **extra}

    def warm(self, args: list[str]) -> Timing:
        argv, env = [self.kubectl, *args], self.env(self.warm_home)
        timed(argv, env)  # unpacks and compiles, if an earlier command has not
        return medians([timed(argv, env) for _ in range(self.runs)])

    def cold(self, args: list[str]) -> Timing:
        homes = [Path(tempfile.mkdtemp(dir=self.scratch)) for _ in range(self.cold_runs)]
        return medians([timed([self.kubectl, *args], self.env(home)) for home in homes])

    def pip_installed(self, args: list[str]) -> Timing:
        """Warm, with this virtualenv's pip-installed kubectl-fed instead of the archive."""
        env = {"PATH": str(Path(sys.executable).parent), "HOME": str(self.warm_home)}
        return medians([timed([self.kubectl, *args], env) for _ in range(self.runs)])

    def no_cache(self, args: list[str]) -> Timing:
        blocked = self.scratch / "not-a-directory"
        blocked.touch()
        env = self.env(self.warm_home, XDG_CACHE_HOME=str(blocked))
        return medians([timed([self.kubectl, *args], env) for _ in range(self.cold_runs)])


def build_and_unpack(scratch: Path) -> tuple[Path, float]:
    """The archive, built with a copy of the manifest, and the build time (wheels cached)."""
    manifest = scratch / "fed.yaml"
    shutil.copyfile(MANIFEST, manifest)
    started = time.perf_counter()
    release = build_release(scratch / "dist", manifest)
    build_s = time.perf_counter() - started
    unpacked = scratch / "unpacked"
    with tarfile.open(release.archive) as archive:
        archive.extractall(unpacked, filter="data")
    return release.archive, build_s


def report(bench: Bench, archive: Path, build_s: float) -> None:
    zipapp = bench.unpacked / "kubectl-fed"
    print(f"python3: {bench.python}; release build with cached wheels: {build_s:.1f} s")
    print(f"archive {archive.name}: {archive.stat().st_size / 2**20:.2f} MiB")
    print(f"zipapp kubectl-fed: {zipapp.stat().st_size / 2**20:.2f} MiB")
    print(f"kubectl version --client (kubectl alone), warm: {bench.warm(['version', '--client'])}")
    print(
        f"\nwall time (CPU time), medians\n\n| command | cold (of {bench.cold_runs}) "
        f"| warm (of {bench.runs}) | no cache (of {bench.cold_runs}) | pip install, warm |"
        "\n|---|---|---|---|---|"
    )
    for label, args in COMMANDS.items():
        cold, warm, no_cache = bench.cold(args), bench.warm(args), bench.no_cache(args)
        pip = bench.pip_installed(args)
        print(f"| `{label}` | {cold} | {warm} | {no_cache} | {pip} |")
    cache = bench.warm_home / ".cache" / "kubectl-fed" / "zipapp"
    print(f"\nunpacked cache with bytecode: {directory_size(cache) / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        sys.exit("error: kubectl is not on PATH")
    with tempfile.TemporaryDirectory(prefix="bench-release-") as scratch_name:
        scratch = Path(scratch_name)
        archive, build_s = build_and_unpack(scratch)
        bench = Bench(
            kubectl, scratch / "unpacked", system_python(), scratch, args.runs, args.cold_runs
        )
        report(bench, archive, build_s)


if __name__ == "__main__":
    main()
