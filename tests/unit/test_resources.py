from __future__ import annotations

import pytest

from kubectl_fed.core.resources import UnknownType, resolve_type, split_reference

RESOURCES = [
    {
        "group": "",
        "version": "v1",
        "kind": "Service",
        "plural": "services",
        "singular": "service",
        "shortNames": ["svc"],
        "namespaced": True,
    },
    {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "plural": "deployments",
        "singular": "deployment",
        "shortNames": ["deploy"],
        "namespaced": True,
    },
    {
        "group": "extensions.example.com",
        "version": "v1",
        "kind": "Deployment",
        "plural": "deployments",
        "singular": "",
        "shortNames": [],
        "namespaced": True,
    },
]


@pytest.mark.parametrize(
    "text", ["deploy", "deployment", "deployments", "Deployment", "deployments.apps"]
)
def test_deployment_spellings(text: str) -> None:
    assert resolve_type(RESOURCES, text)["group"] == "apps"


def test_group_suffix_picks_the_group() -> None:
    assert (
        resolve_type(RESOURCES, "deployments.extensions.example.com")["group"]
        == "extensions.example.com"
    )
    assert resolve_type(RESOURCES, "svc")["kind"] == "Service"


def test_unknown_and_references() -> None:
    with pytest.raises(UnknownType, match="frobs"):
        resolve_type(RESOURCES, "frobs")
    assert split_reference("deploy/web") == ("deploy", "web")
    assert split_reference("svc") == ("svc", None)
    with pytest.raises(UnknownType):
        split_reference("svc/")
