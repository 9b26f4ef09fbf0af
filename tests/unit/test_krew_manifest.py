"""plugin-manifest/fed.yaml against every krew rule in shared/docs/kubectl-plugin.md
(the ones krew's own validation applies, plus this plugin's caveats)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_fed import __version__

MANIFEST = Path(__file__).resolve().parents[2] / "plugin-manifest" / "fed.yaml"
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$"
)
SAFE_NAME = re.compile(r"^[\w-]+$")
# krew refuses these as plugin names: they are reserved file names on Windows.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10))}
WINDOWS_RESERVED |= {f"LPT{i}" for i in range(1, 10)}
SHA256 = re.compile(r"^[a-f0-9]{64}$")
SELECTOR_KEYS = {"os", "arch"}


def load_manifest() -> dict[str, Any]:
    document = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


SPEC: dict[str, Any] = load_manifest()["spec"]
PLATFORMS: list[dict[str, Any]] = SPEC["platforms"]


def platform_id(platform: dict[str, Any]) -> str:
    labels = platform["selector"].get("matchLabels", {})
    return f"{labels.get('os')}/{labels.get('arch')}"


def test_api_version_and_kind() -> None:
    manifest = load_manifest()
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin"


def test_name_is_the_file_name_and_safe() -> None:
    name = load_manifest()["metadata"]["name"]
    assert name == MANIFEST.stem
    assert SAFE_NAME.match(name)
    assert name.upper() not in WINDOWS_RESERVED


def test_version_is_semver_with_v_and_the_package_version() -> None:
    assert SEMVER.match(SPEC["version"]), SPEC["version"]
    assert SPEC["version"] == f"v{__version__}"


def test_short_description_is_one_line() -> None:
    short = SPEC["shortDescription"]
    assert isinstance(short, str) and short.strip()
    assert "\n" not in short and "\r" not in short


def test_description_and_homepage_are_set() -> None:
    assert SPEC["description"].strip()
    assert SPEC["homepage"].startswith("https://")


def test_caveats_explain_python_and_completion() -> None:
    caveats = SPEC["caveats"]
    assert "python3" in caveats and ">= 3.10" in caveats
    assert "completion" in caveats.lower()
    # krew links only `bin`: the caveats must say how kubectl_complete-fed gets on PATH.
    assert "kubectl_complete-fed" in caveats and "ln -s" in caveats


def test_platforms_are_linux_and_darwin_on_amd64_and_arm64() -> None:
    ids = [platform_id(platform) for platform in PLATFORMS]
    assert sorted(ids) == ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]


@pytest.mark.parametrize("platform", PLATFORMS, ids=platform_id)
def test_selector_is_non_empty_with_only_os_and_arch(platform: dict[str, Any]) -> None:
    selector = platform["selector"]
    assert set(selector) <= {"matchLabels", "matchExpressions"}
    labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    assert labels or expressions, "an empty selector matches nothing in krew"
    assert labels is None or len(labels) > 0
    assert expressions is None or len(expressions) > 0
    keys = set(labels or {}) | {expression["key"] for expression in expressions or []}
    assert keys <= SELECTOR_KEYS


@pytest.mark.parametrize("platform", PLATFORMS, ids=platform_id)
def test_uri_is_an_archive_of_this_version(platform: dict[str, Any]) -> None:
    uri = platform["uri"]
    assert uri.startswith("https://")
    assert uri.endswith((".zip", ".tar.gz"))
    assert f"/{SPEC['version']}/" in uri


@pytest.mark.parametrize("platform", PLATFORMS, ids=platform_id)
def test_sha256_is_64_lowercase_hex(platform: dict[str, Any]) -> None:
    sha256 = platform["sha256"]
    assert isinstance(sha256, str), "quote it: an all-digit hash would read as a number"
    assert SHA256.match(sha256)


@pytest.mark.parametrize("platform", PLATFORMS, ids=platform_id)
def test_bin_is_installed_by_files(platform: dict[str, Any]) -> None:
    files = platform.get("files")
    assert files is None or len(files) > 0, "`files` must be absent or non-empty"
    for operation in files or []:
        assert operation.get("from") and operation.get("to"), operation
    binary = platform["bin"]
    assert binary
    if files is not None:
        installed = {installed_name(op["from"], op["to"]) for op in files}
        assert binary.removeprefix("./") in installed


@pytest.mark.parametrize("platform", PLATFORMS, ids=platform_id)
def test_windows_entry_points_are_exe(platform: dict[str, Any]) -> None:
    if platform["selector"].get("matchLabels", {}).get("os") == "windows":
        assert platform["bin"].endswith(".exe")


def installed_name(source: str, destination: str) -> str:
    """Where krew puts `from` for a `to`: into it when it is a directory, else renamed."""
    if destination in (".", "./") or destination.endswith("/"):
        return Path(source).name
    return destination.removeprefix("./")
