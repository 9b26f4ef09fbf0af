"""A bounded chaos run on the real apiservers: random edits while member-2 is stopped and
started and background syncs are killed (SIGKILL) or paused (SIGSTOP), checking the
invariants of "How sync works" after every `sync --once`.

Invariants:
- never delete without intent: a member copy of a template that still exists disappears
  only when the last valid policy no longer places it there; under an invalid policy or
  while its member is down, every copy stays (same uid);
- status tells the truth: `sync --once` exits 0 exactly when the policy is valid and every
  member answers, and `kubectl fed status -A` agrees with it;
- convergence: once everything is back, one pass makes the members match the model and
  a second pass writes nothing.

The seed is printed; replay with KUBECTL_FED_CHAOS_SEED=N, run longer with
KUBECTL_FED_CHAOS_STEPS=N (`make chaos`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import Federation, Kubectl
from tests.e2e.helpers import POLICY_LABEL, apply, deployment, get, policy

MEMBERS = ("member-1", "member-2")
PLACEMENTS: dict[str, list[str]] = {
    "both": ["member-1", "member-2"],
    "m1": ["member-1"],
    "m2": ["member-2"],
}
INVALID: dict[str, dict[str, Any]] = {
    "typo": {"placement": [{"cluster": "membr-1"}, {"cluster": "membr-2"}]},
    "max0": {"maxClusters": 0},
}
NAMES = ("a", "b", "c")


@dataclass
class Model:
    """What the federation should look like, as the chaos run's operations left it."""

    replicas: dict[str, int] = field(default_factory=dict)  # template -> replicas
    policy: str = "both"  # a PLACEMENTS key, or an INVALID key
    last_valid: str = "both"  # the last valid policy: what the user last asked for
    down: set[str] = field(default_factory=set)
    # Deleted since the last pass (maybe created again): the old copies go with the old
    # template, and a new one is created by the pass after.
    churned: set[str] = field(default_factory=set)

    @property
    def valid(self) -> bool:
        return self.policy in PLACEMENTS

    @property
    def placement(self) -> list[str]:
        return PLACEMENTS[self.last_valid]


class Chaos:
    def __init__(self, k: Kubectl, federation: Federation, ns: str, rng: random.Random) -> None:
        self.k, self.federation, self.ns, self.rng = k, federation, ns, rng
        self.model = Model()
        self.background: subprocess.Popen[str] | None = None
        # (member, template) -> uid of each managed copy as last seen while its member was
        # up: a member coming back is checked against what it held before its outage.
        self.seen: dict[tuple[str, str], str] = {}
        self.log: list[str] = []

    # ------------------------------------------------------------------ operations

    def set_policy(self, name: str) -> None:
        spec: dict[str, Any] = (
            {"placement": [{"cluster": c} for c in PLACEMENTS[name]]}
            if name in PLACEMENTS
            else dict(INVALID[name])
        )
        apply(self.k, {**policy("chaos", self.ns), "spec": spec})
        self.model.policy = name
        if name in PLACEMENTS:
            self.model.last_valid = name

    def upsert(self, name: str, replicas: int) -> None:
        apply(self.k, deployment(name, self.ns, replicas, labels={POLICY_LABEL: "chaos"}))
        self.model.replicas[name] = replicas

    def delete(self, name: str) -> None:
        self.k.run("delete", "deploy", name, "-n", self.ns, "--wait=false")
        self.model.replicas.pop(name, None)
        self.model.churned.add(name)

    def hand_edit(self, name: str) -> None:
        member = self.rng.choice([m for m in MEMBERS if m not in self.model.down])
        self.k.run(
            "--context",
            member,
            "scale",
            "deploy",
            name,
            "-n",
            self.ns,
            "--replicas=7",
            check=False,
        )

    def stop(self, member: str) -> None:
        self.federation.stop(member)
        self.model.down.add(member)

    def start(self, member: str) -> None:
        self.federation.start(member)
        self.model.down.discard(member)

    def start_background(self) -> None:
        self.background = subprocess.Popen(
            ["kubectl", "fed", "sync", "--resync-period", "30s"],
            env=self.k.env,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def disturb_background(self) -> None:
        """Kill or pause the background sync: its lease must fence it either way."""
        assert self.background is not None
        time.sleep(self.rng.uniform(0.2, 2.0))
        if self.rng.random() < 0.5:
            self.background.send_signal(signal.SIGKILL)
            self.background.wait(timeout=10)
            self.log.append("  background sync SIGKILLed")
        else:
            self.background.send_signal(signal.SIGSTOP)
            time.sleep(self.rng.uniform(1.0, 3.0))
            self.background.send_signal(signal.SIGCONT)
            self.background.send_signal(signal.SIGTERM)
            _, err = self.background.communicate(timeout=60)
            assert "Traceback" not in err, err
            self.log.append("  background sync paused, resumed, stopped")
        self.background = None

    # ------------------------------------------------------------------ observing

    def copies(self) -> dict[tuple[str, str], str]:
        """(member, template) -> uid of the managed copy, for members that answer."""
        found = {}
        for member in MEMBERS:
            if member in self.model.down:
                continue
            listed = get(self.k, member, "deploy", "-n", self.ns, "-l", "kubeadmiral.io/managed")
            assert listed is not None, f"{member} did not answer"
            for item in listed["items"]:
                found[(member, item["metadata"]["name"])] = item["metadata"]["uid"]
        return found

    def sync_once(self) -> tuple[int, dict[str, Any]]:
        done = self.k.fed("sync", "--once", "-o", "json", check=False, timeout=180)
        assert done.code in (0, 1), f"sync --once failed ({done.code}): {done.err}"
        assert "Traceback" not in done.err
        return done.code, json.loads(done.out)

    def check_pass(self) -> None:
        before = dict(self.seen)
        code, report = self.sync_once()
        after = self.copies()
        model = self.model
        if model.churned and not model.down:
            code, report = self.sync_once()
            after = self.copies()
        for (member, name), uid in before.items():
            if member in model.down:
                continue
            intended = (
                name not in model.replicas or name in model.churned or member not in model.placement
            )
            kept = after.get((member, name)) == uid
            assert kept or intended, f"{member}/{name} deleted without intent\n" + self.story()
        self.seen = {k: v for k, v in before.items() if k[0] in model.down} | after
        everything_up = not model.down
        if everything_up and model.valid:
            expected = {(m, n) for n in model.replicas for m in model.placement}
            assert set(after) == expected, f"members {sorted(after)} != model\n" + self.story()
            assert code == 0, f"sync said not OK with everything up: {report}\n" + self.story()
        if not model.valid and model.replicas:
            assert code == 1, "an invalid policy must be reported not OK\n" + self.story()
        if not model.down:
            model.churned.clear()
        status = self.k.fed("status", "-n", self.ns, check=False)
        if everything_up and code == 0:
            assert status.code == 0, f"sync OK but status not:\n{status.out}\n" + self.story()
        if code == 1 and model.replicas and not model.down:
            assert status.code == 1, f"sync not OK but status OK:\n{status.out}\n" + self.story()

    def story(self) -> str:
        return "steps:\n" + "\n".join(self.log)

    # ------------------------------------------------------------------ the run

    def step(self) -> None:
        model = self.model
        choices = ["upsert", "upsert", "delete", "policy", "edit", "member", "background"]
        op = self.rng.choice(choices)
        if op == "upsert":
            name, replicas = self.rng.choice(NAMES), self.rng.randint(0, 4)
            self.log.append(f"upsert {name} replicas={replicas}")
            self.upsert(name, replicas)
        elif op == "delete" and model.replicas:
            name = self.rng.choice(sorted(model.replicas))
            self.log.append(f"delete {name}")
            self.delete(name)
        elif op == "policy":
            name = self.rng.choice([*PLACEMENTS, *INVALID])
            self.log.append(f"policy {name}")
            self.set_policy(name)
        elif op == "edit" and model.replicas:
            name = self.rng.choice(sorted(model.replicas))
            self.log.append(f"hand edit {name}")
            self.hand_edit(name)
        elif op == "member":
            if "member-2" in model.down:
                self.log.append("start member-2")
                self.start("member-2")
            else:
                self.log.append("stop member-2")
                self.stop("member-2")
        elif op == "background":
            self.log.append("background sync")
            self.start_background()
            self.disturb_background()
        self.check_pass()

    def converge(self) -> None:
        self.log.append("recover: every member up, a valid policy")
        for member in list(self.model.down):
            self.start(member)
        self.set_policy("both")
        self.check_pass()
        code, report = self.sync_once()
        assert code == 0, report
        assert report["writes"] == 0, f"a second pass wrote: {report['requests']}\n" + self.story()


def test_chaos(fed_host: Kubectl, federation: Federation, ns: str) -> None:
    seed = int(os.environ.get("KUBECTL_FED_CHAOS_SEED") or random.randrange(1 << 30))
    steps = int(os.environ.get("KUBECTL_FED_CHAOS_STEPS") or 12)
    print(f"chaos seed {seed}, {steps} steps (replay: KUBECTL_FED_CHAOS_SEED={seed})")
    chaos = Chaos(fed_host, federation, ns, random.Random(seed))
    try:
        chaos.set_policy("both")
        chaos.upsert("a", 2)
        chaos.check_pass()
        for _ in range(steps):
            chaos.step()
        chaos.converge()
    except AssertionError as err:
        pytest.fail(f"chaos seed {seed}: {err}", pytrace=False)
    finally:
        if chaos.background is not None:
            chaos.background.kill()
        for member in list(chaos.model.down):
            chaos.start(member)
        fed_host.run("delete", "propagationpolicy", "chaos", "-n", ns, check=False)
