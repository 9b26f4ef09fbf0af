"""`kubectl fed explain`: the explanation of a Plan, and its text."""

from __future__ import annotations

from typing import Any

from kubectl_fed.cli.explain import explanation_text
from kubectl_fed.core.scheduling import ClusterReason, SchedulingRecord
from kubectl_fed.ops.explain import explanation, policy_summary
from kubectl_fed.planning.plan import ObjectResult, Plan
from kubectl_fed.planning.snapshot import Template
from tests.unit.helpers import DEPLOYMENTS, deployment


def plan(scheduling: dict[str, Any], **overrides: Any) -> Plan:
    template = deployment()
    template["metadata"]["labels"] = {"kubeadmiral.io/propagation-policy-name": "div"}
    fo = {"metadata": {"name": "web-deployments.apps", "namespace": "shop"}, "spec": {}}
    policy = {
        "spec": {
            "schedulingMode": "Divide",
            "placement": [
                {"cluster": "member-1", "preferences": {"weight": 1}},
                {"cluster": "member-2", "preferences": {"weight": 2}},
            ],
        }
    }
    fields: dict[str, Any] = {
        "fo": fo,
        "existing": None,
        "ftype": DEPLOYMENTS,
        "template": deployment(),
        "native": Template(DEPLOYMENTS, template),
        "placement": {"member-1": 3, "member-2": 6},
        "patches": {
            "member-1": [{"op": "add", "path": "/spec/replicas", "value": 3}],
            "member-2": [
                {"op": "add", "path": "/spec/replicas", "value": 6},
                {"op": "replace", "path": "/spec/replicas", "value": 7},
            ],
        },
        "patch_errors": {},
        "scheduling": SchedulingRecord(kept=True)
        if scheduling.get("kept")
        else SchedulingRecord.from_status(scheduling),
        "leader_policy": policy,
        "result": ObjectResult("Deployment", "shop", "web"),
    }
    fields.update(overrides)
    return Plan(**fields)


DIVIDED = {
    "clusters": ["member-1", "member-2"],
    "replicas": {"member-1": 3, "member-2": 6},
    "divided": True,
    "fingerprint": {"replicas": 9},
    "reasons": {
        "member-1": "Selected: selected, 3 replicas",
        "member-2": "Selected: selected, 6 replicas",
        "member-3": "NotInPlacement: the cluster is not listed in spec.placement",
    },
}


def test_explanation_of_a_divided_deployment() -> None:
    found = explanation(plan(DIVIDED), ["member-1", "member-2", "member-3"], {})
    assert found.policy == "PropagationPolicy shop/div"
    assert "schedulingMode: Divide" in found.policy_lines
    rows = [(c.cluster, c.chosen, c.replicas, c.code) for c in found.clusters]
    assert rows == [
        ("member-1", True, 3, "Selected"),
        ("member-2", True, 7, "Selected"),  # the override wins over the division
        ("member-3", False, None, "NotInPlacement"),
    ]
    assert found.replicas[0].startswith("Divide: 9 replicas split by the KubeAdmiral planner")
    assert "member-2: weight 2, min 0, max unlimited -> 6" in found.replicas[2]
    sources = [p["source"] for p in found.clusters[1].overrides]
    assert sources == ["scheduler: divided replicas", "override policies"]
    assert found.rescheduling[0].startswith("not deferred")
    assert not found.federated_object_exists and not found.errors


def test_explanation_of_deferral_followers_and_missing_policy() -> None:
    deferred = {**DIVIDED, "deferredReason": "cluster labels changed but ..."}
    assert explanation(plan(deferred), [], {}).rescheduling == [
        "deferred: cluster labels changed but ..."
    ]
    follower = plan(
        {**DIVIDED, "clusters": ["member-1"]}, placement={"member-1": 3, "member-2": None}
    )
    follower.scheduling.reasons = {
        "member-1": ClusterReason(True, "Selected", "selected, 3 replicas")
    }
    follower.follows = {"member-2": ["Deployment/web"]}
    codes = {c.cluster: c.code for c in explanation(follower, [], {}).clusters}
    assert codes == {"member-1": "Selected", "member-2": "Follower"}
    missing = plan({"kept": True, "replicas": {}}, leader_policy=None, placement={})
    missing.result.errors.append("PropagationPolicy shop/div not found")
    found = explanation(missing, ["member-1"], {})
    assert "not found" in found.policy and found.errors
    assert [c.code for c in found.clusters] == ["NotPlaced"]


def test_explanation_text_has_every_section() -> None:
    found = explanation(plan(DIVIDED), ["member-1", "member-2"], {"member-2": "refused"})
    text = explanation_text(found)
    for section in ("Object:", "Policy:", "Clusters:", "Replicas:", "Overrides:", "Rescheduling:"):
        assert section in text
    assert "CLUSTER    CHOSEN" in text and "(does not answer now)" in text
    assert "replace /spec/replicas 7   [override policies]" in text


def test_policy_summary() -> None:
    spec = {
        "clusterSelector": {"region": "eu"},
        "clusterAffinity": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}],
        "tolerations": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
        "maxClusters": 2,
    }
    assert policy_summary(spec) == [
        "schedulingMode: Duplicate",
        "clusterSelector: region=eu",
        "clusterAffinity: (a Exists)",
        "tolerations: gpu=true:NoSchedule",
        "maxClusters: 2",
    ]
