"""The krew archive, end to end: built by scripts.release, unpacked into an empty
directory and run through the real kubectl with only that directory and a system
python3 on PATH, in an environment that holds nothing of this virtualenv.

The first run downloads the pinned wheels (PyPI) into ~/.cache/kubectl-fed/release-wheels;
later runs need no network.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kubectl_fed import __version__
from kubectl_fed.crds import load_crds
from scripts.release import (
    MANIFEST,
    PURE_WHEELS,
    PYYAML,
    ROOT,
    TAR_MTIME,
    WHEEL_SHA256,
    ZIP_DATE,
    Release,
    ReleaseError,
    build_release,
)

pytestmark = pytest.mark.e2e
ARCHIVE_FILES = {"kubectl-fed", "kubectl_complete-fed", "LICENSE", "README.md"}


@dataclass(frozen=True)
class Built:
    release: Release
    manifest: Path
    unpacked: Path


def build_into(directory: Path) -> tuple[Release, Path]:
    """A release into directory, its manifest a copy: the committed one stays untouched."""
    manifest = directory / "fed.yaml"
    shutil.copyfile(MANIFEST, manifest)
    try:
        return build_release(directory / "dist", manifest), manifest
    except ReleaseError as err:
        pytest.fail(f"scripts.release failed: {err}", pytrace=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    committed = MANIFEST.read_bytes()
    release, manifest = build_into(tmp_path_factory.mktemp("release"))
    assert MANIFEST.read_bytes() == committed
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(release.archive) as archive:
        archive.extractall(unpacked, filter="data")
    return Built(release, manifest, unpacked)


@pytest.fixture(scope="module")
def system_python() -> Path:
    """The python3 a user has: PATH's python3 outside this virtualenv, resolved through
    shims such as pyenv's to the interpreter itself."""
    venv_bin = Path(sys.executable).parent if sys.prefix != sys.base_prefix else None
    path = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if venv_bin is None or Path(entry).resolve() != venv_bin.resolve()
    )
    python3 = shutil.which("python3", path=path)
    if python3 is None:
        pytest.fail("no python3 on PATH outside the virtualenv", pytrace=False)
    probe = "import sys; print(sys.executable); print(sys.version_info >= (3, 10))"
    lines = subprocess.run(
        [python3, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    if lines[1] != "True":
        pytest.fail(f"{lines[0]} is older than Python 3.10, which the plugin needs")
    return Path(lines[0])


@pytest.fixture(scope="module")
def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not on PATH", pytrace=False)
    return found


@dataclass(frozen=True)
class User:
    """A user with nothing but the given PATH and an empty home."""

    kubectl: str
    path: list[Path]
    home: Path
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.pathsep.join(str(entry) for entry in self.path),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.home / ".kube" / "config"),
            **dict(self.extra_env),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.kubectl, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}{done.stdout}"
        return done

    @property
    def unpacked_builds(self) -> list[str]:
        return sorted(os.listdir(self.home / ".cache" / "kubectl-fed" / "zipapp"))


@pytest.fixture(scope="module")
def user(
    built: Built, system_python: Path, kubectl_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> User:
    """One home for the module: the plugin unpacks itself into its cache once (~50 MB)."""
    home = tmp_path_factory.mktemp("home")
    return User(kubectl_binary, [built.unpacked, system_python.parent], home)


@pytest.fixture
def new_user(user: User, tmp_path: Path) -> User:
    """A user whose cache has never seen this plugin."""
    return User(user.kubectl, user.path, tmp_path / "home")


def test_vendored_pins_satisfy_pyproject() -> None:
    pins = {
        canonicalize_name(pin.split("==")[0]): pin.split("==")[1] for pin in (*PURE_WHEELS, PYYAML)
    }
    pyproject = tomlkit.parse((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for dependency in pyproject["project"]["dependencies"]:
        requirement = Requirement(str(dependency))
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not vendored"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned}"


def test_manifest_copy_carries_the_archive_sha256(built: Built) -> None:
    archive_sha256 = hashlib.sha256(built.release.archive.read_bytes()).hexdigest()
    assert built.release.sha256 == archive_sha256
    spec = yaml.safe_load(built.manifest.read_text(encoding="utf-8"))["spec"]
    assert spec["version"] == f"v{__version__}"
    for platform in spec["platforms"]:
        assert platform["sha256"] == archive_sha256
        assert platform["uri"].endswith(f"/{built.release.archive.name}")


def test_archive_holds_what_the_manifest_installs(built: Built) -> None:
    with tarfile.open(built.release.archive) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert set(members) == ARCHIVE_FILES
    spec = yaml.safe_load(built.manifest.read_text(encoding="utf-8"))["spec"]
    for platform in spec["platforms"]:
        assert {operation["from"] for operation in platform["files"]} == ARCHIVE_FILES
        assert members[platform["bin"]].mode == 0o755
    assert members["kubectl_complete-fed"].mode == 0o755


def test_committed_manifest_carries_the_sha256_of_this_build(built: Built) -> None:
    """A stale plugin-manifest/fed.yaml fails here: krew would refuse the archive."""
    spec = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["spec"]
    assert spec["version"] == f"v{__version__}"
    stale = [p["sha256"] for p in spec["platforms"] if p["sha256"] != built.release.sha256]
    assert not stale, (
        f"plugin-manifest/fed.yaml says sha256 {stale[0]}, but this work tree builds "
        f"{built.release.sha256}: run `make release` and commit the manifest"
    )


def test_rebuild_is_byte_identical(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another build, elsewhere, in another time zone and umask, a minute later: same bytes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    umask = os.umask(0o077)
    try:
        again, _ = build_into(tmp_path)
    finally:
        os.umask(umask)
        monkeypatch.undo()
        time.tzset()
    assert again.archive.read_bytes() == built.release.archive.read_bytes()
    assert again.sha256 == built.release.sha256


def test_archive_records_no_time_owner_or_order_of_the_build(built: Built) -> None:
    raw = built.release.archive.read_bytes()
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime"
    with tarfile.open(built.release.archive) as archive:
        members = archive.getmembers()
        zipapp = archive.extractfile("kubectl-fed")
        assert zipapp is not None
        zipapp_bytes = zipapp.read()
    assert [m.name for m in members] == sorted(m.name for m in members)
    for member in members:
        assert (member.mtime, member.uid, member.gid) == (TAR_MTIME, 0, 0), member.name
        assert (member.uname, member.gname) == ("", ""), member.name
    with zipfile.ZipFile(io.BytesIO(zipapp_bytes)) as zipped:
        entries = zipped.infolist()
    assert [e.filename for e in entries] == sorted(e.filename for e in entries)
    assert {e.date_time for e in entries} == {ZIP_DATE}
    assert {e.external_attr >> 16 for e in entries} == {0o644}


def test_pinned_wheels_have_their_sha256_pinned() -> None:
    assert set(WHEEL_SHA256) == {*PURE_WHEELS, PYYAML}


def test_kubectl_finds_and_runs_the_plugin(user: User, built: Built) -> None:
    plugins = user.run("plugin", "list")
    assert str(built.unpacked / "kubectl-fed") in plugins.stdout
    assert "warning" not in plugins.stderr.lower()
    assert "Usage: kubectl fed" in user.run("fed", "--help").stdout
    assert user.run("fed", "version").stdout.startswith(f"kubectl-fed v{__version__} ")


def test_init_dry_run_reads_the_bundled_crds(user: User) -> None:
    documents = list(
        yaml.safe_load_all(user.run("fed", "init", "--dry-run=client", "-o", "yaml").stdout)
    )
    shipped = {d["metadata"]["name"] for d in documents if d["kind"] == "CustomResourceDefinition"}
    assert shipped == {crd["metadata"]["name"] for crd in load_crds()}


def test_completion_through_kubectl(user: User) -> None:
    lines = user.run("__complete", "fed", "").stdout.splitlines()
    commands = {line.split("\t")[0] for line in lines}
    assert {"init", "join", "version"} <= commands
    assert lines[-1] == ":4"


def test_completion_through_the_link_the_caveats_suggest(user: User, built: Built) -> None:
    krew_bin = user.home / ".krew" / "bin"
    krew_bin.mkdir(parents=True, exist_ok=True)
    (krew_bin / "kubectl-fed").symlink_to(built.unpacked / "kubectl-fed")  # what krew links
    (krew_bin / "kubectl_complete-fed").symlink_to("kubectl-fed")  # the caveats' ln -sf
    linked = User(user.kubectl, [krew_bin, user.path[-1]], user.home)
    lines = linked.run("__complete", "fed", "ver").stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["version", ":4"]


@pytest.mark.parametrize(
    ("program", "args"),
    [("kubectl-fed", ["--help"]), ("kubectl-fed", ["version"]), ("kubectl_complete-fed", [""])],
)
def test_fast_paths_do_not_import_kubernetes(
    user: User, built: Built, system_python: Path, program: str, args: list[str]
) -> None:
    done = subprocess.run(
        [str(system_python), "-X", "importtime", str(built.unpacked / program), *args],
        env=user.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert "click" in imported
    assert not {name for name in imported if name.split(".")[0] in {"kubernetes", "aiohttp"}}


def test_first_run_unpacks_once_and_drops_older_builds(new_user: User) -> None:
    stale = new_user.home / ".cache" / "kubectl-fed" / "zipapp" / "0123456789abcdef"
    stale.mkdir(parents=True)
    new_user.run("fed", "version")
    (current,) = new_user.unpacked_builds
    assert current != stale.name
    new_user.run("fed", "version")
    assert new_user.unpacked_builds == [current]


def test_runs_from_the_zip_when_the_cache_is_not_writable(new_user: User) -> None:
    # A file where the cache directory would be: nothing can be unpacked.
    blocked = new_user.home / "not-a-directory"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("")
    readonly = User(
        new_user.kubectl, new_user.path, new_user.home, (("XDG_CACHE_HOME", str(blocked)),)
    )
    assert readonly.run("fed", "version").stdout.startswith(f"kubectl-fed v{__version__} ")
    documents = readonly.run("fed", "init", "--dry-run=client", "-o", "yaml").stdout
    assert "kind: CustomResourceDefinition" in documents
