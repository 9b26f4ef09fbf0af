"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Kubectl

POLICY_LABEL = "kubeadmiral.io/propagation-policy-name"


def sync_once(k: Kubectl, *args: str) -> tuple[int, dict[str, Any]]:
    result = k.fed("sync", "--once", "-o", "json", *args, check=False)
    assert result.code in (0, 1), result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


def entry(report: dict[str, Any], title: str, namespace: str | None = None) -> dict[str, Any]:
    """The report's entry for an object named as kubectl's -o name (`deployment.apps/web`),
    in namespace (when given)."""
    found = [
        o
        for o in report["objects"]
        if o["object"] == title and (namespace is None or o.get("namespace") == namespace)
    ]
    listed = [(o.get("namespace"), o["object"]) for o in report["objects"]]
    assert found, f"{title} (namespace {namespace}) not in {listed}"
    chosen: dict[str, Any] = found[0]
    return chosen


def apply(k: Kubectl, *documents: dict[str, Any], context: str = "host") -> None:
    text = "\n---\n".join(yaml.safe_dump(d) for d in documents)
    k.run("--context", context, "apply", "-f", "-", stdin=text)


def get(k: Kubectl, context: str, *args: str) -> dict[str, Any] | None:
    result = k.run("--context", context, "get", *args, "-o", "json", check=False)
    return json.loads(result.out) if result.code == 0 else None


def deployment(
    name: str,
    namespace: str,
    replicas: int = 2,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    image: str = "nginx",
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def policy(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "core.kubeadmiral.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def replicas_in(k: Kubectl, kind: str, name: str, namespace: str) -> dict[str, int | None]:
    found = {}
    for member in ("member-1", "member-2"):
        obj = get(k, member, kind, name, "-n", namespace)
        found[member] = obj["spec"].get("replicas") if obj else None
    return found


def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose only cluster is a local port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "current-context": "gone",
    }
    path = tmp_path / "gone.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, every: float = 0.2) -> bool:
    """Poll until predicate() is true (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
