"""Events, end to end: `kubectl describe` on the host tells what sync did and what failed,
through the real kubectl against the local apiservers."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, policy, sync_once

pytestmark = pytest.mark.e2e


def events_of(k: Kubectl, *what: str, ns: str) -> list[str]:
    """The Events section of `kubectl describe`, a line per Event, spaces squeezed."""
    out = k.run("describe", *what, "-n", ns).out
    section = out.split("\nEvents:", 1)[1]
    return [re.sub(r"\s+", " ", line.strip()) for line in section.splitlines() if line.strip()]


def test_describe_tells_what_sync_did(fed_host: Kubectl, ns: str) -> None:
    # Someone else's Deployment `api` in member-1: AlreadyExists there.
    fed_host.run("--context", "member-1", "create", "namespace", ns, check=False)
    apply(fed_host, deployment("api", ns, 1), context="member-1")
    apply(
        fed_host,
        policy(
            "div",
            ns,
            schedulingMode="Divide",
            placement=[
                {"cluster": "member-1", "preferences": {"weight": 1}},
                {"cluster": "member-2", "preferences": {"weight": 2}},
            ],
        ),
        policy("dup", ns, schedulingMode="Duplicate"),
        deployment("web", ns, 9, labels={POLICY_LABEL: "div"}),
        deployment("api", ns, 1, labels={POLICY_LABEL: "dup"}),
    )
    code, _ = sync_once(fed_host)
    assert code == 1  # api is not OK in member-1
    web = events_of(fed_host, "deploy", "web", ns=ns)
    assert any(
        line.startswith("Normal PlacementChanged")
        and "kubectl-fed" in line
        and line.endswith("placed in member-1 (3 replicas), member-2 (6 replicas)")
        for line in web
    ), web
    api = events_of(fed_host, "deploy", "api", ns=ns)
    assert any(
        line.startswith("Warning AlreadyExists")
        and "member-1: an object not managed by the federation exists" in line
        for line in api
    ), api
    # The FederatedObject tells it too.
    fo = events_of(fed_host, "federatedobject", "web-deployments.apps", ns=ns)
    assert any("PlacementChanged" in line for line in fo), fo

    # A pass that changes nothing writes nothing: no Event bumped for the persisting failure.
    _, second = sync_once(fed_host)
    assert second["writes"] == 0, second["requests"]
    api = events_of(fed_host, "deploy", "api", ns=ns)
    assert not any("(x2 over" in line for line in api), api

    # Drift corrected twice: one Event, counted.
    for _ in range(2):
        fed_host.run("--context", "member-2", "scale", "deploy", "web", "-n", ns, "--replicas=1")
        sync_once(fed_host)
    web = events_of(fed_host, "deploy", "web", ns=ns)
    corrected = [line for line in web if "DriftCorrected" in line]
    assert len(corrected) == 1 and "(x2 over" in corrected[0], web
    assert corrected[0].endswith("member-2: drift corrected: /spec/replicas")

    # Scaled: replicas divided anew.
    fed_host.run("scale", "deploy", "web", "-n", ns, "--replicas=12")
    sync_once(fed_host)
    web = events_of(fed_host, "deploy", "web", ns=ns)
    assert any(
        "ReplicasRedivided" in line
        and line.endswith("member-1 (4 replicas), member-2 (8 replicas) (was 3, 6)")
        for line in web
    ), web
    fed_host.run("--context", "member-1", "delete", "deploy", "api", "-n", ns, check=False)
