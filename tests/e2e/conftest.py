"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Kubectl


@pytest.fixture
def ns(fed_host: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A host namespace of the test's own; its templates are removed and synced away after."""
    name = ("t-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]).rstrip("-")
    fed_host.run("create", "namespace", name, check=False)
    yield name
    for kind in ("deployments", "replicasets", "configmaps", "services"):
        fed_host.run("delete", kind, "--all", "-n", name, "--wait=false", check=False)
    fed_host.run("delete", "propagationpolicies,overridepolicies", "--all", "-n", name, check=False)
    fed_host.fed("sync", "--once", check=False)
