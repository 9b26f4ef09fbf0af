"""Build the krew archive of kubectl-fed and record its sha256 in the krew manifest.

    python -m scripts.release [--out dist/]

The archive holds `kubectl-fed`, a zipapp of kubectl_fed and its runtime
dependencies vendored from pure-Python wheels (so it runs wherever python3 >= 3.10
does), `kubectl_complete-fed` (kubectl's completion helper: a shim into the same
zipapp), LICENSE and README.md. Entries are sorted, their times and owners fixed, and
every wheel is checked against its pinned sha256, so the same source and pins give the
same sha256 (with the same zlib, whose deflate output it is; tests/e2e/test_release.py
checks this and that plugin-manifest/fed.yaml carries it). plugin-manifest/README.md has
the why.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubectl_fed import __version__

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "plugin-manifest" / "fed.yaml"
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
WHEEL_CACHE = CACHE_HOME / "kubectl-fed" / "release-wheels"
RELEASE_URL = (
    "https://github.com/kubectl-fed/kubectl-fed/releases/download/"
    "v{version}/kubectl-fed-v{version}.tar.gz"
)
MINIMUM_PYTHON = "3.10"

# The runtime closure of pyproject's dependencies, pinned: the same source then gives the
# same bytes. pip checks that each is a py3-none-any wheel supporting MINIMUM_PYTHON.
# kubernetes>=36 also requires aiohttp (compiled), but only kubernetes.aio imports it, and
# that subpackage is not shipped (PRUNED_PREFIXES).
PURE_WHEELS = (
    "certifi==2026.10.18",
    "charset-normalizer==3.5.2",
    "click==8.5.1",
    "deepdiff==8.6.2",
    "durationpy==0.11",
    "idna==3.20",
    "kubernetes==36.0.3",
    "oauthlib==4.0.1",
    "orderly-set==5.5.0",
    "python-dateutil==2.9.0.post0",  # 4.x needs Python >= 3.11
    "requests==2.34.2",
    "requests-oauthlib==2.0.0",
    "six==1.17.0",
    "tomlkit==0.15.2",
    "urllib3==2.8.0",
    "websocket-client==1.9.2",
)
PURE_WHEEL_TAGS = (
    *("--platform", "any", "--implementation", "py", "--abi", "none"),
    *("--python-version", MINIMUM_PYTHON),
)
# PyYAML publishes compiled wheels only, yet its yaml/ package is pure Python and works
# without the C extension. Every wheel carries the same yaml/*.py: pin one of them.
PYYAML = "PyYAML==6.0.3"
PYYAML_WHEEL_TAGS = (
    *("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--abi", "cp311"),
    *("--python-version", "3.11"),
)
# The sha256 of each pinned wheel, as PyPI serves it. A version pin alone names a release,
# not its bytes (another index, a wheel uploaded again); a wheel that differs is refused,
# so the same source and pins give the same archive. A new pin needs its line here.
WHEEL_SHA256 = {
    "certifi==2026.10.18": "73191c47aaa79da394e8fee2dbc2ec827432cab56311122c9e47abf79e390f62",
    "charset-normalizer==3.5.2": "b6b751274acb69d77b3323d6b7dbaa3c7fdfc1eb829b7eb61d262f32e1af9685",
    "click==8.5.1": "8bb5376d2006950386f8c6427613334a2acadc5f559cb80e638d00b4df957e37",
    "deepdiff==8.6.2": "4d22034a866c3928303a9332c279362f714192d9305bac17c498720d095fd1b4",
    "durationpy==0.11": "a739fe2b8972c250ff72f8e2c488d18cf25f7b852f49ee76048775d5171df30c",
    "idna==3.20": "ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c",
    "kubernetes==36.0.3": "8fde9241c4b298e6374a069dcf728359b4e72c2fb29489a975ba4e1c047cf10f",
    "oauthlib==4.0.1": "498a298876e996301950a5b053d12c31628bb7b895db03666430c69ce182eb61",
    "orderly-set==5.5.0": "46f0b801948e98f427b412fcabb831677194c05c3b699b80de260374baa0b1e7",
    "python-dateutil==2.9.0.post0": (
        "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427"
    ),
    "requests==2.34.2": "2a0d60c172f83ac6ab31e4554906c0f3b3588d37b5cb939b1c061f4907e278e0",
    "requests-oauthlib==2.0.0": "7dd8a5c40426b779b0868c404bdef9768deccf22749cde15852df527e6269b36",
    "six==1.17.0": "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
    "tomlkit==0.15.2": "05562412163a3037b94497385fb7f9204c637bc605af7a48199e41cf2272f437",
    "urllib3==2.8.0": "0cf3cae568d36aa9576b28dfb35f11328f1cb974ca7647d9475ebb86c75ac6e3",
    "websocket-client==1.9.2": "e1a673830a9c7bfa47b1cd3d5e4178f4c9651d80a4eab02c9c23a1c3ec6250ce",
    "PyYAML==6.0.3": "b8bb0864c5a28024fac8a632c443c87c5aa6f215c0b126c449ae1a150412f31d",
}
# Never imported by the plugin: the asyncio client (half of kubernetes' size, and the only
# user of aiohttp) and the packages' own tests.
PRUNED_PREFIXES = ("kubernetes/aio/", "kubernetes/dynamic/test_", "websocket/tests/")
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
TAR_MTIME = 315532800  # the same instant, 1980-01-01T00:00:00Z
BOOT_MODULE = "_kubectl_fed_boot"

# Runs first, from inside the zipapp, on whatever python3 the user has: stdlib only, and
# syntax old interpreters still parse, so that they reach the version check.
BOOT_SOURCE = '''\
"""Starts kubectl-fed from its zipapp.

Python caches no bytecode for modules imported from a zip, and compiling the
kubernetes client costs seconds on every run. So the first run unpacks this
build into a per-user cache directory, and every run imports from there.
"""

import importlib
import os
import sys

BUILD = "{build}"
MINIMUM_PYTHON = (3, 10)
ARCHIVE = os.path.dirname(__file__)


def run(entry, function="main"):
    """Call that function of the module named entry."""
    activate()
    getattr(importlib.import_module(entry), function)()


def activate():
    if sys.version_info < MINIMUM_PYTHON:
        sys.exit(
            "error: kubectl-fed needs Python >= 3.10 as python3 on PATH; %s is %s"
            % (sys.executable, sys.version.split()[0])
        )
    target = unpacked()
    if target:  # else the zip itself, still on sys.path, serves: slower, same result
        sys.path.insert(0, target)
        # Bytecode in our own cache is the point of unpacking; pip, too, compiles at
        # install time whatever PYTHONDONTWRITEBYTECODE says.
        sys.dont_write_bytecode = False


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kubectl-fed", "zipapp")


def unpacked():
    """This build's directory in the cache, made on first use; None if it cannot be."""
    root = cache_root()
    target = os.path.join(root, BUILD)
    if os.path.isdir(target):
        return target
    import shutil
    import tempfile
    import zipfile

    try:
        os.makedirs(root, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=".unpacking-", dir=root)
    except OSError:
        return None
    try:
        with zipfile.ZipFile(ARCHIVE) as archive:
            archive.extractall(scratch)
        os.rename(scratch, target)  # atomic: nobody sees a half-unpacked build
    except OSError:  # a full disk, or a concurrent first run renamed its copy first
        shutil.rmtree(scratch, ignore_errors=True)
    if not os.path.isdir(target):
        return None
    for name in os.listdir(root):  # an upgrade leaves the previous build behind
        if name != BUILD and not name.startswith("."):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return target
'''

MAIN_SOURCE = f"""\
import os
import sys

import {BOOT_MODULE}

# Run as kubectl_complete-fed (a link to this file, see the manifest's caveats), the
# zipapp answers kubectl's completion requests.
completing = os.path.basename(sys.argv[0]).startswith("kubectl_complete-")
{BOOT_MODULE}.run("kubectl_fed.cli", "complete" if completing else "main")
"""

COMPLETE_SHIM = f'''\
#!/usr/bin/env python3
"""kubectl runs this to complete `kubectl fed ...`: the completion entry of the
kubectl-fed zipapp beside it (symlinks followed, so a link to this file works)."""

import os
import sys

here = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(here, "kubectl-fed"))
import {BOOT_MODULE}  # noqa: E402

{BOOT_MODULE}.run("kubectl_fed.cli", "complete")
'''

# Imports every kubectl_fed module and every vendored top-level name from the zipapp,
# unpacked by its own boot code, with no site-packages: a missing dependency fails here.
SELF_CONTAINED_CHECK = f"""\
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import {BOOT_MODULE}
{BOOT_MODULE}.activate()
import kubectl_fed
for module in pkgutil.walk_packages(kubectl_fed.__path__, "kubectl_fed."):
    if not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
for name in sys.argv[2:]:
    importlib.import_module(name)
"""


class ReleaseError(Exception):
    """A release cannot be built; the message says why."""


@dataclass(frozen=True)
class Release:
    archive: Path
    sha256: str


def build_release(out_dir: Path, manifest: Path = MANIFEST) -> Release:
    """Build the archive into out_dir and write its version, uri and sha256 into manifest."""
    extras = {name: read_required(ROOT / name) for name in ("LICENSE", "README.md")}
    zipapp = build_zipapp(fetch_wheels(WHEEL_CACHE))
    verify_self_contained(zipapp)
    archive_bytes = tar_gz(
        {
            "kubectl-fed": (zipapp, 0o755),
            "kubectl_complete-fed": (COMPLETE_SHIM.encode(), 0o755),
            **{name: (content, 0o644) for name, content in extras.items()},
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"kubectl-fed-v{__version__}.tar.gz"
    archive.write_bytes(archive_bytes)
    release = Release(archive, hashlib.sha256(archive_bytes).hexdigest())
    manifest.write_text(rewrite_manifest(manifest.read_text(), __version__, release.sha256))
    return release


def read_required(path: Path) -> bytes:
    if not path.is_file():
        raise ReleaseError(
            f"{path.name} is missing at the repository root: the archive ships it "
            "(krew-index requires a license file in every plugin archive)"
        )
    return path.read_bytes()


# --- wheels ---------------------------------------------------------------------------


def fetch_wheels(cache: Path) -> list[Path]:
    """The pinned wheels, downloaded into cache once: later builds need no network."""
    for pins, tags in ((PURE_WHEELS, PURE_WHEEL_TAGS), ((PYYAML,), PYYAML_WHEEL_TAGS)):
        missing = [pin for pin in pins if cached_wheel(cache, pin) is None]
        if missing:
            pip_download(cache, missing, tags)
    wheels = {pin: cached_wheel(cache, pin) for pin in (*PURE_WHEELS, PYYAML)}
    unfound = [pin for pin, wheel in wheels.items() if wheel is None]
    if unfound:
        raise ReleaseError(f"pip downloaded no wheel named for {' '.join(unfound)} in {cache}")
    found = [(pin, wheel) for pin, wheel in wheels.items() if wheel is not None]
    for pin, wheel in found:
        check_wheel_sha256(pin, wheel)
    return [wheel for _, wheel in found]


def check_wheel_sha256(pin: str, wheel: Path) -> None:
    actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
    expected = WHEEL_SHA256.get(pin)
    if expected is None:
        raise ReleaseError(f'{pin} has no sha256 in WHEEL_SHA256: add "{pin}": "{actual}"')
    if actual != expected:
        raise ReleaseError(
            f"{wheel} has sha256 {actual}, not the {expected} pinned for {pin}: "
            "delete it from the cache to download it again"
        )


def cached_wheel(cache: Path, pin: str) -> Path | None:
    name, version = pin.split("==")
    for wheel in sorted(cache.glob("*.whl")):
        wheel_name, wheel_version = wheel.name.split("-")[:2]
        if normalized(wheel_name) == normalized(name) and wheel_version == version:
            return wheel
    return None


def normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "_", project).lower()


def pip_download(cache: Path, pins: list[str], tags: Iterable[str]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        *(sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"),
        *("--retries", "2", "--no-deps", "--only-binary=:all:", *tags),
        *("--dest", str(cache), *pins),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(
            f"pip could not download {' '.join(pins)} into {cache}: the first build needs "
            f"PyPI, later ones use that cache.\n{done.stderr.strip()[-2000:]}"
        )


def wheel_members(wheel: Path) -> dict[str, bytes]:
    """The wheel's files that go into the zipapp."""
    pyyaml = normalized(wheel.name.split("-")[0]) == normalized(PYYAML.split("==")[0])
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: archive.read(name)
            for name in archive.namelist()
            if shipped(name) and (not pyyaml or is_pure_yaml(name))
        }


def shipped(name: str) -> bool:
    top = name.split("/")[0]
    return (
        not name.endswith("/")
        and not top.endswith(".data")  # scripts and headers, never imported
        and not name.startswith(PRUNED_PREFIXES)
        and not (name.startswith("kubernetes/") and name.endswith("_test.py"))
    )


def is_pure_yaml(name: str) -> bool:
    top = name.split("/")[0]
    return top.endswith(".dist-info") or (top == "yaml" and name.endswith(".py"))


# --- zipapp ---------------------------------------------------------------------------


def project_members() -> dict[str, bytes]:
    """kubectl_fed as a wheel would ship it (pyproject's package-data included)."""
    package = ROOT / "kubectl_fed"
    files = [*package.rglob("*.py"), *package.glob("crds/*.yaml"), package / "py.typed"]
    return {
        path.relative_to(ROOT).as_posix(): path.read_bytes()
        for path in files
        if "__pycache__" not in path.parts
    }


def build_zipapp(wheels: list[Path]) -> bytes:
    members = project_members()
    for wheel in wheels:
        add_members(members, wheel_members(wheel), wheel.name)
    compiled = sorted(name for name in members if name.endswith(COMPILED_SUFFIXES))
    if compiled:
        raise ReleaseError(f"compiled files would tie the zipapp to one platform: {compiled}")
    members[f"{BOOT_MODULE}.py"] = BOOT_SOURCE.replace("{build}", build_id(members)).encode()
    members["__main__.py"] = MAIN_SOURCE.encode()
    return zipapp_bytes(members)


def add_members(members: dict[str, bytes], new: dict[str, bytes], origin: str) -> None:
    clashes = sorted(name for name in new if name in members)
    if clashes:
        raise ReleaseError(f"{origin} would overwrite files already in the zipapp: {clashes}")
    members.update(new)


def build_id(members: dict[str, bytes]) -> str:
    """Names the unpacked cache directory: any change to the contents gives a new one."""
    digest = hashlib.sha256()
    for name in sorted(members):
        digest.update(f"{name}\0{hashlib.sha256(members[name]).hexdigest()}\n".encode())
    return digest.hexdigest()[:16]


def zipapp_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.create_system = 3  # Unix, wherever the build runs, so modes are read
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=9)
    return buffer.getvalue()


def verify_self_contained(zipapp: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="kubectl-fed-release-") as scratch:
        path = Path(scratch) / "kubectl-fed"
        path.write_bytes(zipapp)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": scratch, "XDG_CACHE_HOME": scratch}
        command = [sys.executable, "-I", "-S", "-c", SELF_CONTAINED_CHECK, str(path)]
        done = subprocess.run(
            [*command, *vendored_top_levels(path)], env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise ReleaseError(f"the zipapp is not self-contained:\n{done.stderr.strip()[-3000:]}")


def vendored_top_levels(zipapp: Path) -> list[str]:
    with zipfile.ZipFile(zipapp) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names if name.endswith("/__init__.py")}
    tops |= {name[: -len(".py")] for name in names if "/" not in name and name.endswith(".py")}
    return sorted(tops - {"__main__", BOOT_MODULE, "kubectl_fed"})


# --- archive and manifest -------------------------------------------------------------


def tar_gz(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A flat .tar.gz of name -> (content, mode), byte-identical for identical input."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name in sorted(files):
            content, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, TAR_MTIME
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


MANIFEST_FIELD = re.compile(r"^(?P<head>\s*(?:-\s+)?(?P<key>version|uri|sha256):\s*)\S+")


def rewrite_manifest(text: str, version: str, sha256: str) -> str:
    """Set spec.version and every platform's uri and sha256; keep every other byte."""
    uri = RELEASE_URL.format(version=version)
    # The hash is quoted: one made of digits only would otherwise read as a number.
    rendered = {"version": f"v{version}", "uri": uri, "sha256": f'"{sha256}"'}
    rewritten = "".join(
        MANIFEST_FIELD.sub(lambda match: match["head"] + rendered[match["key"]], line)
        for line in text.splitlines(keepends=True)
    )
    spec = yaml.safe_load(rewritten)["spec"]
    found = [spec["version"], *[(p["uri"], p["sha256"]) for p in spec["platforms"]]]
    if found != [f"v{version}", *[(uri, sha256)] * len(spec["platforms"])]:
        raise ReleaseError("the manifest's version, uri and sha256 lines are not where expected")
    return rewritten


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.release", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="default: dist/")
    args = parser.parse_args()
    try:
        release = build_release(args.out)
    except ReleaseError as err:
        sys.exit(f"error: {err}")
    size_mib = release.archive.stat().st_size / 2**20
    print(f"{release.archive} ({size_mib:.1f} MiB)\nsha256 {release.sha256}")
    print(f"{MANIFEST.relative_to(ROOT)}: version, uri and sha256 updated")


if __name__ == "__main__":
    main()
