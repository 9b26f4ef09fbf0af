"""What a command's scope covers, and kubectl's label selector syntax."""

from __future__ import annotations

import pytest

from kubectl_fed.core.labels import SelectorError, parse_selector, selector_matches
from kubectl_fed.planning.plan import Plan
from kubectl_fed.planning.scope import Scope
from tests.unit.helpers import DEPLOYMENTS, deployment


def plan(namespace: str = "shop", name: str = "web", **labels: str) -> Plan:
    template = deployment()
    template["metadata"].update(namespace=namespace, name=name, labels=labels)
    return Plan(fo={}, existing=None, ftype=DEPLOYMENTS, template=template)


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "front"}, True),
        ("tier!=db", {}, True),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("canary", {"canary": ""}, True),
        ("!canary", {"canary": "yes"}, False),
        ("size>3", {"size": "4"}, True),
        ("", {}, True),
    ],
)
def test_label_selectors_as_kubectl_reads_them(
    text: str, labels: dict[str, str], matches: bool
) -> None:
    assert selector_matches(parse_selector(text), labels) is matches


@pytest.mark.parametrize("text", ["=web", "app=web,,", "env in prod", "!app=web", "bad key=x"])
def test_bad_selectors_are_refused(text: str) -> None:
    with pytest.raises(SelectorError, match="invalid label selector"):
        parse_selector(text)


def test_scope_by_kind_name_namespace_and_labels() -> None:
    assert Scope().everything and Scope().covers(plan())
    by_kind = Scope(selection=frozenset({("apps", "Deployment", None)}))
    by_name = Scope(selection=frozenset({("apps", "Deployment", "db")}))
    assert by_kind.covers(plan()) and not by_name.covers(plan())
    assert not Scope(selection=frozenset({("", "Deployment", None)})).covers(plan())
    assert Scope(namespace="shop").covers(plan()) and not Scope(namespace="x").covers(plan())
    assert Scope(namespace="x").covers(plan(namespace=""))  # cluster-scoped: always
    front = Scope(selector=tuple(parse_selector("tier=front")))
    assert front.covers(plan(tier="front")) and not front.covers(plan(tier="back"))
    canary = Scope(clusters=frozenset({"member-1"}))
    assert canary.covers_cluster("member-1") and not canary.covers_cluster("member-2")
