"""A Hypothesis state machine hunting safety bugs in sync, on a fake federation.

Random sequences of: templates created, edited, deleted, labelled and unlabelled, with
or without `kubeadmiral.io/orphan: all`; Deployments made to use the ConfigMap of their
name, which then follows them (policy or not) unless it says
`kubeadmiral.io/disable-following: "true"` (Deployments, ConfigMaps, and a custom
`ConfigMap.example.io` federated through a FederatedTypeConfig: same kind and name,
another API group); PropagationPolicies set (valid: Duplicate/Divide over existing
clusters, a cluster selector; invalid: only clusters that are not members, maxClusters 0,
all weights 0, a selector matching no cluster) and deleted; member copies edited or
deleted by hand; someone else's objects of the same names in members; members going down
and up; API errors on the next sync's writes; sync passes (drift corrected or reported).
After each step:

- never delete without intent: a managed member copy disappears in a pass only when its
  template was deleted or unlabelled, or a valid policy placed it elsewhere (Divide may
  move a Deployment's replicas away from a cluster it still allows); a follower's, when
  neither its own policy nor the Deployment it follows places it there; under `orphan: all`
  it is unmarked, never deleted; an invalid or missing policy keeps the previous placement
  (nothing deleted, nothing added); an unreachable member loses nothing; someone else's
  objects are never touched;
- a second pass right after a pass, all members up, makes no mutating request;
- status tells the truth: a `status.clusters` entry saying OK, and `kubectl fed status`
  saying a cluster is OK, mean the member copy exists and holds what the federation sent;
- with every member up and two passes run, each template governed by a valid policy has
  copies exactly where the policy places them, and nothing else has copies.

CI runs 60 derandomized examples (a few seconds). Environment:
  KUBECTL_FED_SOAK=1 (or HYPOTHESIS_PROFILE=soak)  2000 random examples; =N: N examples
  KUBECTL_FED_STRICT=1       every check on (KNOWN_BUGS ignored)
  KUBECTL_FED_KNOWN=a,b      more checks tolerated (when hunting past a known bug)
  KUBECTL_FED_NO_SHRINK=1    report failures unshrunk (shrinking a long run takes minutes)

KNOWN_BUGS lists the checks that fail on purpose today: a violation of a listed kind is
recorded (and the objects involved are no longer checked in that example) instead of
failing. Remove an entry once its bug is fixed.
"""

from __future__ import annotations

import base64
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.federate import clean_template, federated_object_name
from kubectl_fed.core.marks import MANAGED_LABEL, ORPHAN_ANNOTATION, PROPAGATION_POLICY_LABEL
from kubectl_fed.core.member_identity import TOKEN_EXPIRES_ANNOTATION, TOKEN_ISSUED_ANNOTATION
from kubectl_fed.errors import FedError
from kubectl_fed.kube.errors import ApiError
from kubectl_fed.kube.host import fed_path
from kubectl_fed.ops import status as inspect
from kubectl_fed.ops.identity import rotate
from tests.fake import FakeFederation
from tests.fake.objects import (
    configmap,
    custom_crd,
    custom_object,
    deployment,
    namespace,
    type_config,
)

# Violations of these kinds are expected on the current code (see the module docstring).
KNOWN_BUGS: dict[str, str] = {}
if os.environ.get("KUBECTL_FED_STRICT"):  # hunt with every check on
    KNOWN_BUGS = {}
for _extra in filter(None, os.environ.get("KUBECTL_FED_KNOWN", "").split(",")):
    KNOWN_BUGS[_extra] = "(from KUBECTL_FED_KNOWN)"
# Every kind of violation this machine can report, for the record.
CHECKS = (
    "delete-without-intent",
    "invalid-policy-deletes",
    "invalid-policy-adds",
    "placement-record-split",
    "unreachable-member-changed",
    "second-pass-writes",
    "second-pass-noop-writes",
    "stale-fo-metadata",
    "recreated-template-two-passes",
    "kept-placement-loses-division",
    "members-ahead-of-fo",
    "unexpected-unmark",
    "orphan-deleted",
    "orphan-asked-too-late",
    "unmanaged-touched",
    "status-churn",
    "fo-status-lies",
    "retiring-status",
    "status-synced-drift",
    "wrong-placement",
    "stray-copy",
    "pass-aborted",
    "token-not-renewed",
    "stored-token-refused",
)

# KUBECTL_FED_SOAK=1: 2000 examples; KUBECTL_FED_SOAK=N: N examples.
_SOAK = os.environ.get("KUBECTL_FED_SOAK") or (
    "1" if os.environ.get("HYPOTHESIS_PROFILE") == "soak" else ""
)
SOAK_EXAMPLES = (int(_SOAK) if _SOAK.isdigit() and int(_SOAK) > 1 else 2000) if _SOAK else 0
NS = "shop"
MEMBERS = ("m1", "m2", "m3")
REGIONS = {"m1": "eu", "m2": "us", "m3": "eu"}
NAMES = ("a", "b")
DISABLE_FOLLOWING = "kubeadmiral.io/disable-following"
POLICY_NAMES = ("p1", "p2")


@dataclass(frozen=True)
class Kind:
    resource: str  # as FakeCluster.get takes it
    group: str
    kind: str
    replicas: bool = False

    @property
    def plural(self) -> str:
        return self.resource.partition(".")[0]


KINDS = {
    "deploy": Kind("deployments.apps", "apps", "Deployment", replicas=True),
    "cm": Kind("configmaps", "", "ConfigMap"),
    "xcm": Kind("configmaps.example.io", "example.io", "ConfigMap"),
}
TKey = tuple[str, str]  # (kind name in KINDS, object name)
CopyKey = tuple[str, str, str]  # (cluster, kind name, object name)


@dataclass
class PolicyModel:
    """What the test knows about a policy it wrote: valid or not, and which clusters
    it allows (None: every member)."""

    spec: dict[str, Any]
    valid: bool
    mode: str
    allowed: frozenset[str] | None
    label: str

    def places(self) -> frozenset[str]:
        return frozenset(MEMBERS) if self.allowed is None else self.allowed


@dataclass(frozen=True)
class Governed:
    """How one template is governed right now: by a valid policy allowing some clusters
    (dividing replicas or not), or by an invalid or missing one (placement kept)."""

    valid: bool
    allowed: frozenset[str]
    divide: bool
    label: str
    # A ConfigMap following a Deployment that divides replicas: it goes where the
    # Deployment's replicas went (its FederatedObject's placement), within `allowed`.
    follows_divided: bool = False


def _placement(clusters: list[str], weights: list[int] | None = None) -> list[dict[str, Any]]:
    return [
        {"cluster": c, **({"preferences": {"weight": weights[i]}} if weights else {})}
        for i, c in enumerate(clusters)
    ]


subsets = st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True).map(sorted)


@st.composite
def policies(draw: st.DrawFn) -> PolicyModel:
    shape = draw(
        st.sampled_from(
            [
                "duplicate-all",
                "duplicate-some",
                "selector",
                "divide",
                "unknown-clusters",
                "max-clusters-0",
                "zero-weights",
                "selector-none",
            ]
        )
    )
    if shape == "duplicate-all":
        return PolicyModel({"schedulingMode": "Duplicate"}, True, "Duplicate", None, shape)
    if shape == "duplicate-some":
        clusters = draw(subsets)
        spec: dict[str, Any] = {"schedulingMode": "Duplicate", "placement": _placement(clusters)}
        return PolicyModel(spec, True, "Duplicate", frozenset(clusters), shape)
    if shape == "selector":
        spec = {"schedulingMode": "Duplicate", "clusterSelector": {"region": "eu"}}
        allowed = frozenset(c for c, r in REGIONS.items() if r == "eu")
        return PolicyModel(spec, True, "Duplicate", allowed, shape)
    if shape == "divide":
        clusters = draw(subsets)
        weights = draw(st.lists(st.integers(1, 3), min_size=len(clusters), max_size=len(clusters)))
        spec = {"schedulingMode": "Divide", "placement": _placement(clusters, weights)}
        return PolicyModel(spec, True, "Divide", frozenset(clusters), shape)
    if shape == "unknown-clusters":
        spec = {"schedulingMode": "Duplicate", "placement": _placement(["ghost", "nowhere"])}
        return PolicyModel(spec, False, "Duplicate", frozenset(), shape)
    if shape == "max-clusters-0":
        return PolicyModel(
            {"schedulingMode": "Duplicate", "maxClusters": 0},
            False,
            "Duplicate",
            frozenset(),
            shape,
        )
    if shape == "zero-weights":
        clusters = draw(subsets)
        spec = {"schedulingMode": "Divide", "placement": _placement(clusters, [0] * len(clusters))}
        return PolicyModel(spec, False, "Divide", frozenset(clusters), shape)
    spec = {"schedulingMode": "Duplicate", "clusterSelector": {"region": "mars"}}
    return PolicyModel(spec, False, "Duplicate", frozenset(), shape)


# --------------------------------------------------------------------------- the federation

_BASE: FakeFederation | None = None


def base() -> FakeFederation:
    """Three members serving ConfigMap.example.io, joined; built once, cloned per example."""
    global _BASE
    if _BASE is None:
        labels = {name: {"region": region} for name, region in REGIONS.items()}
        fed = FakeFederation(MEMBERS, labels=labels, join=False, workers=2)
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        for name in ("host", *MEMBERS):
            fed.kube(name).create(crds, custom_crd())
        for name in MEMBERS:
            # kubectl-fed's own identity in each member (join's default): the steps below
            # age, expire and rotate its token.
            fed.join(name, labels=labels[name], credentials="serviceaccount")
        host = fed.kube()
        host.create("/api/v1/namespaces", namespace(NS))
        host.create(fed_path(kubeadmiral.FEDERATED_TYPE_CONFIGS), type_config())
        fed.close()  # a template only: its clones register themselves
        _BASE = fed
    return _BASE


class Violation(AssertionError):
    pass


# One exception type per check, so that Hypothesis reports distinct bugs separately.
VIOLATIONS = {
    check: type(f"Violation_{check.replace('-', '_')}", (Violation,), {}) for check in CHECKS
}


@dataclass
class Intent:
    """Why a copy may go, by step: the template left the federation, or a valid policy
    left a cluster out, or a valid Divide policy governed a Deployment."""

    unfederated: dict[TKey, list[int]] = field(default_factory=lambda: defaultdict(list))
    excluded: dict[tuple[TKey, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    divided: dict[TKey, list[int]] = field(default_factory=lambda: defaultdict(list))


class FederationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fed = base().clone()
        self.step = 0
        self.policies: dict[str, PolicyModel] = {}
        self.intent = Intent()
        self.first_seen: dict[str, int] = {}
        self.tainted: set[TKey] = set()
        self.unmanaged: set[str] = set()  # uids of member objects that are someone else's
        self.faults: list[tuple[str, str, int]] = []  # armed for the next sync only
        self.orphan: dict[str, str | None] = {}  # template uid -> orphan mode asked for
        self.known: list[str] = []  # known-bug violations seen in this example
        self.expired: set[str] = set()  # members whose stored token has expired
        self.due: dict[str, str] = {}  # member -> the token a full pass must renew
        self.data_version = 0
        # Before the pass being checked: every controller's placements, and ours alone.
        self.placed_before: tuple[dict[TKey, set[str]], dict[TKey, set[str]]] = ({}, {})

    def teardown(self) -> None:
        self.fed.close()

    # ------------------------------------------------------------------ helpers

    @property
    def host(self) -> Any:
        return self.fed.kube()

    def path(self, kind: str, name: str | None = None) -> str:
        return self.fed.host_cluster.path(KINDS[kind].resource, NS, name)

    def template(self, key: TKey) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.fed.host_cluster.get(KINDS[key[0]].resource, key[1], NS)
        return found

    def policy_of(self, key: TKey) -> PolicyModel | str | None:
        """The policy governing a template: a model, "missing", or None (not federated)."""
        obj = self.template(key)
        if obj is None:
            return None
        label = (obj["metadata"].get("labels") or {}).get(PROPAGATION_POLICY_LABEL)
        if label is None:
            return None
        return self.policies.get(label) or "missing"

    def leader_of(self, key: TKey) -> Governed | None:
        """How the Deployment a ConfigMap follows is governed (the one of its name, when it
        uses the ConfigMap and the ConfigMap does not opt out), else None."""
        if key[0] != "cm" or self.template(key) is None:
            return None
        annotations = (self.template(key) or {})["metadata"].get("annotations") or {}
        if annotations.get(DISABLE_FOLLOWING) == "true":
            return None
        leader = self.template(("deploy", key[1]))
        if leader is None or key[1] not in _uses(leader):
            return None
        return self.own_governing(("deploy", key[1]))

    def governing(self, key: TKey) -> Governed | None:
        """Its own policy's, and for a follower the union with where it follows."""
        own = self.own_governing(key)
        leader = self.leader_of(key)
        if leader is None:
            return own
        if not leader.valid or (own is not None and not own.valid):
            label = f"{own.label if own else 'none'}, follows {leader.label}"
            return Governed(False, frozenset(), False, label)
        allowed = leader.allowed | (own.allowed if own is not None else frozenset())
        label = f"{own.label if own else 'none'}, follows {leader.label}"
        return Governed(True, allowed, False, label, follows_divided=leader.divide)

    def own_governing(self, key: TKey) -> Governed | None:
        policy = self.policy_of(key)
        if policy is None:
            return None
        if not isinstance(policy, PolicyModel):
            return Governed(False, frozenset(), False, "missing")
        divides = policy.mode == "Divide" and KINDS[key[0]].replicas
        if policy.label == "zero-weights":
            # Weights divide replicas: they mean nothing to a kind without replicas, or
            # to none at all (every chosen cluster keeps a copy at 0).
            template = self.template(key) or {}
            replicas = (template.get("spec") or {}).get("replicas", 1) if divides else 0
            if replicas == 0:
                return Governed(True, policy.places(), bool(divides), policy.label)
            return Governed(False, frozenset(), True, policy.label)
        if not policy.valid:
            return Governed(False, frozenset(), bool(divides), policy.label)
        return Governed(True, policy.places(), bool(divides), policy.label)

    def up(self) -> list[str]:
        return [m for m in MEMBERS if not self.unreachable(m)]

    def unreachable(self, cluster: str) -> bool:
        """Down, or its stored token expired: either way sync cannot reach it."""
        return self.fed.members[cluster].down or cluster in self.expired

    def objects(self) -> dict[CopyKey, dict[str, Any]]:
        """Every member object of the federated kinds, managed or not (read from the fakes
        directly, even when down)."""
        found = {}
        for cluster in MEMBERS:
            for kind, spec in KINDS.items():
                for obj in self.fed.members[cluster].objects(spec.resource, NS):
                    found[(cluster, kind, obj["metadata"]["name"])] = obj
        return found

    def copies(self) -> dict[CopyKey, dict[str, Any]]:
        return {k: o for k, o in self.objects().items() if _managed(o)}

    def fo_of(self, key: TKey) -> dict[str, Any] | None:
        kind = KINDS[key[0]]
        name = federated_object_name(key[1], kind.plural, kind.group)
        found: dict[str, Any] | None = self.fed.host_cluster.get(
            "federatedobjects.core.kubeadmiral.io", name, NS
        )
        return found

    def placements(self, controller: str | None = None) -> dict[TKey, set[str]]:
        """Where each template's FederatedObject places it (every controller's entries, or
        that controller's)."""
        found: dict[TKey, set[str]] = {}
        for kind in KINDS:
            for name in NAMES:
                fo = self.fo_of((kind, name))
                found[(kind, name)] = {
                    p["cluster"]
                    for entry in ((fo or {}).get("spec") or {}).get("placements") or []
                    if controller is None or entry.get("controller") == controller
                    for p in entry.get("placement") or []
                }
        return found

    def follower_clusters(self, key: TKey) -> set[str] | None:
        """For a ConfigMap following a Deployment: every cluster this pass may leave it in,
        its own policy's (kept as it was when invalid) and the Deployment's (likewise)."""
        leader = self.leader_of(key)
        if leader is None:
            return None
        placed, placed_own = self.placed_before
        own = self.own_governing(key)
        found: set[str] = set()
        if own is not None:
            found |= own.allowed if own.valid else placed_own.get(key, set())
        leader_key = ("deploy", key[1])
        now = self.placements("kubectl-fed").get(leader_key, set())
        if leader.valid and not leader.divide:
            found |= leader.allowed
        elif leader.valid:  # where its replicas went
            found |= now
        else:  # kept as it was
            found |= placed.get(leader_key, set()) | now
        return found

    def orphan_modes(self) -> dict[TKey, tuple[str | None, str | None]]:
        """Per template, the orphan mode a pass must honour and the one its FederatedObject
        records. The first: what was last asked of the template itself while it is
        federated through its FederatedObject, else what was last asked of the template
        the FederatedObject belongs to."""
        modes: dict[TKey, tuple[str | None, str | None]] = {}
        for kind in KINDS:
            for name in NAMES:
                key = (kind, name)
                template, fo = self.template(key), self.fo_of(key)
                metadata = (fo or {}).get("metadata") or {}
                recorded = (metadata.get("annotations") or {}).get(ORPHAN_ANNOTATION)
                owners = [r.get("uid") for r in metadata.get("ownerReferences") or []]
                if (
                    template is not None
                    and self.policy_of(key) is not None
                    and (fo is None or template["metadata"]["uid"] in owners)
                ):
                    modes[key] = (self.orphan.get(template["metadata"]["uid"]), recorded)
                elif fo is not None and template is None:
                    # Deleted before any pass saw what it asked: only the record can tell.
                    modes[key] = (recorded, recorded)
                elif fo is not None:
                    asked = next((self.orphan[u] for u in owners if u in self.orphan), None)
                    modes[key] = (asked, recorded)
        return modes

    def see(self, copies: dict[CopyKey, dict[str, Any]]) -> None:
        for obj in copies.values():
            self.first_seen.setdefault(obj["metadata"]["uid"], self.step)

    def record_intent(self) -> None:
        for kind in KINDS:
            for name in NAMES:
                key = (kind, name)
                governed = self.governing(key)
                if governed is None:
                    self.intent.unfederated[key].append(self.step)
                elif governed.valid:
                    for cluster in set(MEMBERS) - governed.allowed:
                        self.intent.excluded[(key, cluster)].append(self.step)
                    if governed.divide or governed.follows_divided:
                        self.intent.divided[key].append(self.step)

    def violation(self, check: str, message: str, keys: tuple[TKey, ...] = ()) -> None:
        if check in KNOWN_BUGS:
            if currently_in_test_context():
                event(f"known bug seen: {check}")
            self.known.append(f"{check}: {message}")
            self.tainted.update(keys)
            return
        raise VIOLATIONS[check](f"[{check}] step {self.step}: {message}")

    def collision(self, key: TKey) -> bool:
        """Whether a template of the same kind and name exists in another API group."""
        kind, name = key
        return any(
            other != kind
            and KINDS[other].kind == KINDS[kind].kind
            and self.template((other, name)) is not None
            for other in KINDS
        )

    def next_step(self) -> None:
        self.step += 1

    # ------------------------------------------------------------------ rules: templates

    @initialize(
        model=policies().filter(lambda m: m.valid),
        templates=st.lists(
            st.tuples(
                st.sampled_from(sorted(KINDS)),
                st.sampled_from(NAMES),
                st.integers(0, 4),
                st.booleans(),
            ),
            max_size=4,
            unique_by=lambda t: t[:2],
        ),
    )
    def start(self, model: PolicyModel, templates: list[tuple[str, str, int, bool]]) -> None:
        """Start from something federated: a valid p1 and a few templates using it (or
        ConfigMaps without a policy, which only a Deployment using them takes along)."""
        self.set_policy("p1", model)
        for kind, name, replicas, bare in templates:
            self.create_template(kind, name, None if bare and kind == "cm" else "p1", replicas)

    @rule(
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
        policy=st.sampled_from([None, "p1", "p1", "p2"]),
        replicas=st.integers(0, 4),
        uses=st.booleans(),
    )
    def create_template(
        self, kind: str, name: str, policy: str | None, replicas: int, uses: bool = True
    ) -> None:
        self.next_step()
        if self.template((kind, name)) is not None:
            return
        self.data_version += 1
        data = {"v": str(self.data_version)}
        if kind == "deploy":
            body = deployment(name, NS, replicas, policy_name=policy, tier="web")
            if uses:  # its ConfigMap follows it
                container = body["spec"]["template"]["spec"]["containers"][0]
                container["envFrom"] = [{"configMapRef": {"name": name}}]
        elif kind == "cm":
            body = configmap(name, NS, data, policy, tier="web")
        else:
            body = custom_object(name, NS, data, policy, tier="web")
        self.host.create(self.path(kind), body)
        self.record_intent()

    @rule(
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
        change=st.sampled_from(["data", "replicas", "label"]),
    )
    def edit_template(self, kind: str, name: str, change: str) -> None:
        self.next_step()
        if self.template((kind, name)) is None:
            return
        self.data_version += 1
        value = str(self.data_version)
        if change == "label":
            patch: dict[str, Any] = {"metadata": {"labels": {"tier": f"t{value}"}}}
        elif kind == "deploy":
            if change == "replicas":
                patch = {"spec": {"replicas": self.data_version % 5}}
            else:
                image = f"nginx:1.{value}"
                container: dict[str, Any] = {"name": "main", "image": image}
                uses = _uses(self.template((kind, name)) or {})
                if uses:  # the image changes, what it uses does not
                    container["envFrom"] = [{"configMapRef": {"name": n}} for n in uses]
                patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        else:
            patch = {"data": {"v": value}}
        self.host.merge_patch(self.path(kind, name), patch)

    @rule(name=st.sampled_from(NAMES), uses=st.booleans())
    def use_configmap(self, name: str, uses: bool) -> None:
        """The Deployment of that name starts or stops using the ConfigMap of its name
        (envFrom): the ConfigMap follows it, policy or not."""
        self.next_step()
        if self.template(("deploy", name)) is None:
            return
        container: dict[str, Any] = {"name": "main", "image": f"nginx:1.{self.data_version}"}
        if uses:
            container["envFrom"] = [{"configMapRef": {"name": name}}]
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        self.host.merge_patch(self.path("deploy", name), patch)
        self.record_intent()

    @rule(name=st.sampled_from(NAMES), disabled=st.booleans())
    def disable_following(self, name: str, disabled: bool) -> None:
        self.next_step()
        if self.template(("cm", name)) is None:
            return
        value = "true" if disabled else None
        self.host.merge_patch(
            self.path("cm", name), {"metadata": {"annotations": {DISABLE_FOLLOWING: value}}}
        )
        self.record_intent()

    @rule(kind=st.sampled_from(sorted(KINDS)), name=st.sampled_from(NAMES))
    def delete_template(self, kind: str, name: str) -> None:
        self.next_step()
        if self.template((kind, name)) is None:
            return
        self.host.delete(self.path(kind, name))
        self.record_intent()

    @rule(
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
        policy=st.sampled_from([None, *POLICY_NAMES]),
    )
    def label_template(self, kind: str, name: str, policy: str | None) -> None:
        self.next_step()
        if self.template((kind, name)) is None:
            return
        patch = {"metadata": {"labels": {PROPAGATION_POLICY_LABEL: policy}}}
        self.host.merge_patch(self.path(kind, name), patch)
        self.record_intent()

    # ------------------------------------------------------------------ rules: policies

    @rule(name=st.sampled_from(POLICY_NAMES), model=policies())
    def set_policy(self, name: str, model: PolicyModel) -> None:
        self.next_step()
        body = {
            "apiVersion": kubeadmiral.API_VERSION,
            "kind": "PropagationPolicy",
            "metadata": {"name": name, "namespace": NS},
            "spec": model.spec,
        }
        path = fed_path(kubeadmiral.PROPAGATION_POLICIES, name, NS)
        self.host.apply(path, body, field_manager="kubectl")
        self.policies[name] = model
        self.record_intent()

    @rule(name=st.sampled_from(POLICY_NAMES))
    def delete_policy(self, name: str) -> None:
        self.next_step()
        if name not in self.policies:
            return
        self.host.delete(fed_path(kubeadmiral.PROPAGATION_POLICIES, name, NS))
        del self.policies[name]
        self.record_intent()

    # ------------------------------------------------------------------ rules: members

    @rule(
        cluster=st.sampled_from(MEMBERS),
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
        what=st.sampled_from(["data", "label", "replicas"]),
    )
    def edit_copy_by_hand(self, cluster: str, kind: str, name: str, what: str) -> None:
        self.next_step()
        member = self.fed.members[cluster]
        live = member.get(KINDS[kind].resource, name, NS)
        if (
            member.down
            or live is None
            or (live["metadata"].get("labels") or {}).get(MANAGED_LABEL) != "true"
        ):
            return
        if what == "label":
            patch: dict[str, Any] = {"metadata": {"labels": {"tier": "by-hand"}}}
        elif kind == "deploy":
            if what == "replicas":
                patch = {"spec": {"replicas": live["spec"]["replicas"] + 7}}
            else:
                container = {"name": "main", "image": "busybox:by-hand"}
                patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        else:
            patch = {"data": {"v": "by-hand"}}
        editor = self.fed.kube(cluster, manager="kubectl-edit")
        editor.merge_patch(member.path(KINDS[kind].resource, NS, name), patch)
        self.check_status_truth()

    @rule(cluster=st.sampled_from(MEMBERS))
    def member_down(self, cluster: str) -> None:
        self.next_step()
        self.fed.members[cluster].down = True

    @rule(cluster=st.sampled_from(MEMBERS))
    def member_up(self, cluster: str) -> None:
        self.next_step()
        self.fed.members[cluster].down = False
        self.check_status_truth()

    # ------------------------------------------------------------------ member tokens

    def secret_path(self, cluster: str) -> str:
        return f"/api/v1/namespaces/{self.fed.fed_namespace}/secrets/{cluster}-credentials"

    def stored_token(self, cluster: str) -> str:
        data = self.host.get(self.secret_path(cluster))["data"]
        return base64.b64decode(data["service-account-token-data"]).decode()

    @rule(cluster=st.sampled_from(MEMBERS), expired=st.booleans())
    def age_token(self, cluster: str, expired: bool) -> None:
        """The stored token has used most of its life (sync must renew it), or all of it
        (the member is unreachable until rotated; nothing there may change)."""
        self.next_step()
        now = datetime.now(timezone.utc)
        issued = now - timedelta(days=400 if expired else 300)
        expires = now - timedelta(hours=1) if expired else now + timedelta(days=65)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        annotations = {
            TOKEN_ISSUED_ANNOTATION: issued.strftime(stamp),
            TOKEN_EXPIRES_ANNOTATION: expires.strftime(stamp),
        }
        self.host.merge_patch(self.secret_path(cluster), {"metadata": {"annotations": annotations}})
        if expired:
            self.expired.add(cluster)
            self.due.pop(cluster, None)
        else:  # the record is what kubectl-fed goes by (the fake's token is still valid)
            self.expired.discard(cluster)
            self.due[cluster] = self.stored_token(cluster)

    @rule(cluster=st.sampled_from(MEMBERS))
    def rotate_token(self, cluster: str) -> None:
        """`kubectl fed rotate`: with the identity's own right, or after expiry with the
        context the member was joined with. A member that is down cannot be rotated."""
        self.next_step()
        old = self.stored_token(cluster)
        try:
            rotate(self.fed.host, cluster, None, str(self.fed.kubeconfig), None, 5)
        except FedError:
            if not self.fed.members[cluster].down:
                self.violation("stored-token-refused", f"rotate {cluster} failed while it was up")
            return
        if self.stored_token(cluster) == old:
            self.violation("token-not-renewed", f"rotate {cluster} stored the same token")
        self.expired.discard(cluster)
        self.due.pop(cluster, None)

    def check_tokens(self) -> None:
        """After a full pass: a due token of a reachable member was renewed, and every
        stored token the member accepts (unless it expired)."""
        for cluster in MEMBERS:
            if self.unreachable(cluster):
                continue
            token = self.stored_token(cluster)
            member = self.fed.members[cluster]
            # (a fault injected into the member may have refused the renewal: next pass)
            was_due = self.due.pop(cluster, None) if not member.faults_fired else None
            if was_due is not None and token == was_due:
                self.violation("token-not-renewed", f"{cluster}'s due token was kept")
            if token not in member.issued or not member._token_valid(token):
                self.violation("stored-token-refused", f"{cluster} refuses its stored token")

    @rule(
        cluster=st.sampled_from(MEMBERS),
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
    )
    def delete_copy_by_hand(self, cluster: str, kind: str, name: str) -> None:
        self.next_step()
        member = self.fed.members[cluster]
        live = member.get(KINDS[kind].resource, name, NS)
        if member.down or live is None or not _managed(live):
            return
        self.fed.kube(cluster, manager="kubectl").delete(
            member.path(KINDS[kind].resource, NS, name)
        )

    @rule(
        cluster=st.sampled_from(MEMBERS),
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
    )
    def create_unmanaged(self, cluster: str, kind: str, name: str) -> None:
        """Someone else's object in a member, named like a template: never touched."""
        self.next_step()
        member = self.fed.members[cluster]
        if member.down or member.get(KINDS[kind].resource, name, NS) is not None:
            return
        kube = self.fed.kube(cluster, manager="kubectl")
        if NS not in {n["metadata"]["name"] for n in kube.list_all("/api/v1/namespaces")}:
            kube.create("/api/v1/namespaces", namespace(NS))
        if kind == "deploy":
            body = deployment(name, NS, 1, image="httpd:2", tier="theirs")
        elif kind == "cm":
            body = configmap(name, NS, {"v": "theirs"}, tier="theirs")
        else:
            body = custom_object(name, NS, {"v": "theirs"}, tier="theirs")
        created = kube.create(member.path(KINDS[kind].resource, NS), body)
        self.unmanaged.add(created["metadata"]["uid"])

    @rule(
        cluster=st.sampled_from(MEMBERS),
        kind=st.sampled_from(sorted(KINDS)),
        name=st.sampled_from(NAMES),
    )
    def delete_unmanaged(self, cluster: str, kind: str, name: str) -> None:
        self.next_step()
        member = self.fed.members[cluster]
        live = member.get(KINDS[kind].resource, name, NS)
        if member.down or live is None or _managed(live):
            return
        self.fed.kube(cluster, manager="kubectl").delete(
            member.path(KINDS[kind].resource, NS, name)
        )
        self.unmanaged.discard(live["metadata"]["uid"])

    @rule(kind=st.sampled_from(sorted(KINDS)), name=st.sampled_from(NAMES), orphan=st.booleans())
    def set_orphan(self, kind: str, name: str, orphan: bool) -> None:
        """`kubeadmiral.io/orphan: all`: leaving clusters unmarks copies, never deletes them."""
        self.next_step()
        if self.template((kind, name)) is None:
            return
        patch = {"metadata": {"annotations": {ORPHAN_ANNOTATION: "all" if orphan else None}}}
        done = self.host.merge_patch(self.path(kind, name), patch)
        self.orphan[done["metadata"]["uid"]] = "all" if orphan else None

    @rule(
        cluster=st.sampled_from(["host", *MEMBERS]),
        method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
        status=st.sampled_from([403, 409, 422, 500]),
    )
    def fail_next_write(self, cluster: str, method: str, status: int) -> None:
        """In the next sync, the first write of that method there fails (500: every retry
        too); faults that sync does not meet are dropped after it."""
        self.next_step()
        self.faults.append((cluster, method, status))

    # ------------------------------------------------------------------ rules: sync

    @rule(drift=st.sampled_from(["correct", "correct", "report"]))
    def sync(self, drift: str) -> None:
        for cluster, method, status in self.faults:
            prefix = "/apis/core.kubeadmiral.io" if cluster == "host" else "/api"
            times = 4 if status == 500 else 1
            self.fed.cluster(cluster).fail_next(
                method, prefix, status, times=times, retry_after=0.001
            )
        self.faults = []
        self.one_pass(drift)
        faulted = any(c.faults_fired for c in self.clusters())
        for cluster in self.clusters():
            cluster.clear_faults()
            cluster.faults_fired = 0
        if len(self.up()) == len(MEMBERS):
            if faulted:  # what failed is done by the next pass
                self.one_pass(drift)
            again = self.one_pass(drift, second=True)
            self.check_placement(again)
        self.check_status_truth()

    def clusters(self) -> list[Any]:
        return [self.fed.host_cluster, *self.fed.members.values()]

    def one_pass(self, drift: str, second: bool = False) -> dict[CopyKey, dict[str, Any]]:
        self.next_step()
        before = self.objects()
        self.see(before)
        self.record_intent()
        orphan = self.orphan_modes()
        placed = self.placements()
        self.placed_before = (placed, self.placements("kubectl-fed"))
        for cluster in self.clusters():
            cluster.reset_counts()
        aborted = False
        try:
            self.fed.run_pass(drift)
        except ApiError as err:
            aborted = True
            self.violation("pass-aborted", f"the pass stopped: {err}")
        after = self.objects()
        if currently_in_test_context():  # not when replayed by hand
            managed = sum(1 for o in after.values() if _managed(o))
            event(f"copies after a pass: {min(managed, 10)}{'+' if managed >= 10 else ''}")
            event(f"members up at a pass: {len(self.up())}")
            followed = {n for (_c, k, n), o in after.items() if k == "cm" and _managed(o)}
            without = [
                n for n in followed if self.leader_of(("cm", n)) and not self.policy_of(("cm", n))
            ]
            event(f"ConfigMaps following without a policy: {len(without)}")
        self.check_pass(before, after, orphan, placed)
        if second:
            self.check_second_pass()
        # Else status is the last pass's, by construction: the pass stopped, or the host
        # refused a write (a status write among them); the next pass records it.
        if not aborted and not self.fed.host_cluster.faults_fired:
            self.check_fo_status()
            self.check_tokens()
        self.see(after)
        return after

    # ------------------------------------------------------------------ checks

    def check_pass(
        self,
        before: dict[CopyKey, dict[str, Any]],
        after: dict[CopyKey, dict[str, Any]],
        orphan: dict[TKey, tuple[str | None, str | None]],
        placed: dict[TKey, set[str]],
    ) -> None:
        now = {obj["metadata"]["uid"]: obj for obj in after.values()}
        for copy_key, obj in before.items():
            cluster, kind, name = copy_key
            key = (kind, name)
            uid = obj["metadata"]["uid"]
            if self.unreachable(cluster):
                if after.get(copy_key) != obj and key not in self.tainted:
                    self.violation(
                        "unreachable-member-changed", f"{copy_key} changed while {cluster} was down"
                    )
                continue
            if uid in self.unmanaged:
                if now.get(uid) != obj:
                    change = "deleted" if uid not in now else "changed"
                    self.violation("unmanaged-touched", f"someone else's {copy_key} {change}")
                continue
            if key in self.tainted or not _managed(obj):
                continue
            if uid in now and _managed(now[uid]):
                continue
            asked, recorded = orphan.get(key, (None, None))
            if uid in now:  # unmarked: orphaned
                self.unmanaged.add(uid)
                if asked != "all":
                    self.violation(
                        "unexpected-unmark", f"{copy_key} unmarked, not orphaned", (key,)
                    )
                continue
            if asked == "all":
                # Asked of a template unlabelled in the same change: the sync could only
                # have read it from the template, not from its FederatedObject.
                self.violation(
                    "orphan-deleted" if recorded == "all" else "orphan-asked-too-late",
                    f"{copy_key} deleted although orphan: all",
                    (key,),
                )
                continue
            seen = self.first_seen[uid]
            if any(s > seen for s in self.intent.unfederated[key]):
                continue
            if any(s > seen for s in self.intent.excluded[(key, cluster)]):
                continue
            elsewhere = any(
                k[1:] == copy_key[1:] and k[0] != cluster and _managed(o) for k, o in after.items()
            )
            if elsewhere and any(s > seen for s in self.intent.divided[key]):
                continue
            following = self.follower_clusters(key)
            if following is not None and cluster not in following:
                continue  # neither its own policy nor the Deployment it follows is there
            governed = self.governing(key)
            what = f"{copy_key} deleted (policy {governed.label if governed else None})"
            if self.collision(key):
                what += "; a template of that kind and name exists in another API group"
            if governed is not None and not governed.valid:
                self.violation("invalid-policy-deletes", what, (key,))
            else:
                self.violation("delete-without-intent", what, (key,))
        managed_before = {k for k, o in before.items() if _managed(o)}
        for copy_key, obj in after.items():
            cluster, kind, name = copy_key
            key = (kind, name)
            if not _managed(obj) or copy_key in managed_before or key in self.tainted:
                continue
            governed = self.governing(key)
            if cluster in (self.follower_clusters(key) or ()):
                continue  # where its own policy or its Deployment goes
            if governed is not None and not governed.valid and cluster not in placed.get(key, ()):
                self.violation(
                    "invalid-policy-adds",
                    f"{copy_key} created under policy {governed.label}",
                    (key,),
                )

    def check_second_pass(self) -> None:
        mutations = self.fed.mutations()
        if not mutations:
            return
        found = [r for records in mutations.values() for r in records]
        described = {
            c: [f"{r.method} {r.path}{'' if r.changed else ' (no change)'}" for r in records]
            for c, records in mutations.items()
        }
        only_status = all(
            r.method == "PATCH" and r.path.endswith("/status") and "federatedobjects" in r.path
            for r in found
        )
        if not any(r.changed for r in found) and all(
            r.method == "PUT" and "/federatedobjects/" in r.path for r in found
        ):
            self.violation("stale-fo-metadata", f"second pass wrote {described}")
        elif not any(r.changed for r in found):
            self.violation("second-pass-noop-writes", f"second pass wrote {described}")
        elif any(r.method == "POST" and r.path.endswith("/federatedobjects") for r in found):
            self.violation("recreated-template-two-passes", f"second pass wrote {described}")
        elif only_status:
            self.violation("status-churn", f"second pass wrote {described}")
        else:
            self.violation("second-pass-writes", f"second pass wrote {described}")

    def expected(self, fo: dict[str, Any], cluster: str) -> dict[str, Any]:
        """What a copy in `cluster` should hold, by the FederatedObject's template and
        its recorded scheduling."""
        template = fo["spec"]["template"]
        labels = {k: v for k, v in (template["metadata"].get("labels") or {}).items()}
        if template.get("kind") == "Deployment":
            scheduling = (fo.get("status") or {}).get("scheduling") or {}
            replicas = template["spec"].get("replicas", 1)
            if scheduling.get("divided"):
                replicas = (scheduling.get("replicas") or {}).get(cluster, replicas)
            image = template["spec"]["template"]["spec"]["containers"][0]["image"]
            return {"labels": labels, "replicas": replicas, "image": image}
        return {"labels": labels, "data": template.get("data") or {}}

    @staticmethod
    def holds(live: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
        if live is None:
            return False
        labels = live["metadata"].get("labels") or {}
        if labels.get(MANAGED_LABEL) != "true":
            return False
        if any(labels.get(k) != v for k, v in wanted["labels"].items()):
            return False
        if "data" in wanted:
            return bool((live.get("data") or {}) == wanted["data"])
        spec = live["spec"]
        return bool(
            spec.get("replicas") == wanted["replicas"]
            and spec["template"]["spec"]["containers"][0]["image"] == wanted["image"]
        )

    def kind_of(self, fo: dict[str, Any]) -> str:
        template = fo["spec"]["template"]
        group = template["apiVersion"].rpartition("/")[0] if "/" in template["apiVersion"] else ""
        return next(k for k, v in KINDS.items() if (v.group, v.kind) == (group, template["kind"]))

    def check_fo_status(self) -> None:
        """Each status.clusters entry saying OK: the copy is there and holds the template."""
        for fo in self.fed.host_cluster.objects("federatedobjects.core.kubeadmiral.io", NS):
            kind = self.kind_of(fo)
            name = fo["spec"]["template"]["metadata"]["name"]
            key = (kind, name)
            if key in self.tainted:
                continue
            template = self.template(key)
            owners = [r.get("uid") for r in fo["metadata"].get("ownerReferences") or []]
            retiring = (
                bool(fo["metadata"].get("deletionTimestamp"))
                or self.policy_of(key) is None
                or (template is not None and template["metadata"]["uid"] not in owners)
            )
            if not retiring:
                self.check_placement_record(fo, key)
            for entry in (fo.get("status") or {}).get("clusters") or []:
                if entry.get("status") != "OK":
                    continue
                cluster = entry["cluster"]
                live = self.fed.members[cluster].get(KINDS[kind].resource, name, NS)
                wanted = self.expected(fo, cluster)
                if self.holds(live, wanted):
                    continue
                what = (
                    f"{fo['metadata']['name']} says OK in {cluster}, expected {wanted}, "
                    f"copy: {_brief(live)}"
                )
                governed = self.governing(key)
                ahead = (
                    {**fo, "spec": {**fo["spec"], "template": clean_template(template)}}
                    if template is not None
                    else None
                )
                if retiring:
                    check = "retiring-status"
                elif ahead is not None and self.holds(live, self.expected(ahead, cluster)):
                    check = "members-ahead-of-fo"
                elif (
                    governed is not None
                    and not governed.valid
                    and live is not None
                    and "replicas" in wanted
                    and self.holds(live, {**wanted, "replicas": live["spec"].get("replicas")})
                ):
                    check = "kept-placement-loses-division"
                else:
                    check = "fo-status-lies"
                self.violation(check, what, (key,))

    def check_placement_record(self, fo: dict[str, Any], key: TKey) -> None:
        """The placement a FederatedObject records (spec) is the one its scheduling record
        (status) says was decided: a pass trusts the record to skip rescheduling."""
        ours = next(
            (
                {p["cluster"] for p in entry.get("placement") or []}
                for entry in fo["spec"].get("placements") or []
                if entry.get("controller") == "kubectl-fed"
            ),
            None,
        )
        decided = ((fo.get("status") or {}).get("scheduling") or {}).get("clusters")
        if ours is not None and decided is not None and ours != set(decided):
            self.violation(
                "placement-record-split",
                f"{fo['metadata']['name']} places {sorted(ours)}, its scheduling record says "
                f"{sorted(decided)}",
                (key,),
            )

    def check_status_truth(self) -> None:
        """`kubectl fed status` calls a cluster OK only when its copy holds the template."""
        states = inspect.status(self.fed.host, [], NS, self.fed.timeout)
        for state in states:
            fo = self.fed.host_cluster.get(
                "federatedobjects.core.kubeadmiral.io", state.federated_object, NS
            )
            if fo is None:
                continue
            kind = self.kind_of(fo)
            key = (kind, state.name)
            if key in self.tainted:
                continue
            for cluster_state in state.clusters:
                if not cluster_state.ok:
                    continue
                cluster = cluster_state.cluster
                live = self.fed.members[cluster].get(KINDS[kind].resource, state.name, NS)
                placed = any(
                    p.get("cluster") == cluster
                    for entry in fo["spec"].get("placements") or []
                    for p in entry.get("placement") or []
                )
                if not placed and live is None:
                    continue  # left the cluster, and its copy is gone: OK
                if self.holds(live, self.expected(fo, cluster)):
                    continue
                self.violation(
                    "status-synced-drift",
                    f"status says {state.object} is OK and synced in {cluster}, "
                    f"copy: {_brief(live)}",
                    (key,),
                )

    def check_placement(self, objects: dict[CopyKey, dict[str, Any]]) -> None:
        """All members up, two passes run: copies exactly where the policies place them
        (but never over someone else's object of that name)."""
        copies = {k: o for k, o in objects.items() if _managed(o)}
        for kind in KINDS:
            for name in NAMES:
                key = (kind, name)
                if key in self.tainted:
                    continue
                where = {c for (c, k, n) in copies if (k, n) == key}
                governed = self.governing(key)
                if governed is None:
                    if where:
                        self.violation(
                            "stray-copy", f"{key} not federated, copies in {sorted(where)}"
                        )
                    continue
                if not governed.valid:
                    continue  # kept placement: checked pass by pass
                blocked = {
                    c for (c, k, n), o in objects.items() if (k, n) == key and not _managed(o)
                }
                wanted = governed.allowed - blocked
                if governed.follows_divided:  # where the Deployment's replicas went
                    own = self.own_governing(key)
                    leader = self.placements()[("deploy", name)]
                    wanted = ((own.allowed if own else frozenset()) | leader) - blocked
                template = self.template(key) or {}
                if governed.divide and blocked & governed.allowed:
                    fine = where <= wanted  # replicas divided onto a cluster it cannot use
                elif governed.divide:
                    total = template["spec"]["replicas"]
                    placed = sum(copies[(c, kind, name)]["spec"]["replicas"] for c in where)
                    fine = where <= wanted and placed == total and (bool(where) or not wanted)
                    if total == 0:
                        fine = where == wanted
                else:
                    fine = where == wanted
                if not fine:
                    what = (
                        f"{key} under {governed.label} {sorted(wanted)}: copies in {sorted(where)}"
                    )
                    if self.collision(key):
                        what += "; a template of that kind and name exists in another API group"
                    self.violation("wrong-placement", what, (key,))


def _uses(deployment_: dict[str, Any]) -> list[str]:
    """The ConfigMaps a Deployment template's containers take their environment from."""
    containers = (((deployment_.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    return [
        (source.get("configMapRef") or {}).get("name", "")
        for container in containers
        for source in container.get("envFrom") or []
    ]


def _managed(obj: dict[str, Any]) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_LABEL) == "true"


def _brief(live: dict[str, Any] | None) -> str:
    if live is None:
        return "missing"
    labels = live["metadata"].get("labels") or {}
    shown = {"tier": labels.get("tier"), "managed": labels.get(MANAGED_LABEL)}
    if "data" in live:
        shown["data"] = live["data"]
    if "spec" in live:
        shown["replicas"] = live["spec"].get("replicas")
        shown["image"] = live["spec"]["template"]["spec"]["containers"][0]["image"]
    return str(shown)


FederationMachine.TestCase.settings = settings(
    # CI: the same 50 examples every run (derandomized), a few seconds; soak: random, many.
    max_examples=SOAK_EXAMPLES or 60,
    stateful_step_count=60 if SOAK_EXAMPLES else 40,
    derandomize=not SOAK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
    # KUBECTL_FED_NO_SHRINK=1: report failures as found (shrinking long runs takes minutes).
    phases=[
        p for p in Phase if not (os.environ.get("KUBECTL_FED_NO_SHRINK") and p == Phase.shrink)
    ],
)
TestFederation = FederationMachine.TestCase


def test_known_bugs_are_checks() -> None:
    assert set(KNOWN_BUGS) <= set(CHECKS)
