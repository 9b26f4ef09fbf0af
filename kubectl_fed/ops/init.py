"""`kubectl fed init`: the fed namespace, the federation CRDs and the roles of a sync, installed
idempotently."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core.federated_types import FederatedType, types_with_configs
from kubectl_fed.core.permissions import sync_role_objects
from kubectl_fed.crds import CRD_REVISION, REVISION_ANNOTATION, load_crds
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.errors import NotFound
from kubectl_fed.kube.identity import object_path
from kubectl_fed.ops.membership import ensure_namespace
from kubectl_fed.planning.snapshot import SETTINGS_CONFIGMAP, V1_COMPAT_KEY

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
HASH_ANNOTATION = "kubectl-fed.io/crd-hash"
ESTABLISH_TIMEOUT_S = 60.0


@dataclass
class Change:
    kind: str
    name: str
    action: str  # created | configured | unchanged | skipped (newer in cluster)


def desired_objects(fed_namespace: str, v1_compat: bool | None = None) -> list[dict[str, Any]]:
    """Everything init applies, in order: the namespace, each CRD (hash-stamped), the
    settings ConfigMap when a setting is given, and the sync roles (for the default kinds;
    init adds those of FederatedTypeConfigs already in the host)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": fed_namespace}}
    settings = [settings_configmap(fed_namespace, v1_compat)] if v1_compat is not None else []
    roles = sync_role_objects(fed_namespace, types_with_configs([]))
    return [namespace, *(_stamped(crd) for crd in load_crds()), *settings, *roles]


def settings_configmap(fed_namespace: str, v1_compat: bool) -> dict[str, Any]:
    """Federation-wide settings recorded in the host, so every sync honours them."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": SETTINGS_CONFIGMAP, "namespace": fed_namespace},
        "data": {V1_COMPAT_KEY: str(v1_compat).lower()},
    }


def _stamped(crd: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(crd["spec"], sort_keys=True).encode()).hexdigest()[:16]
    annotations = dict(crd["metadata"].get("annotations") or {})
    annotations[HASH_ANNOTATION] = digest
    annotations[REVISION_ANNOTATION] = CRD_REVISION
    return {**crd, "metadata": {**crd["metadata"], "annotations": annotations}}


def install(
    kube: ClusterClient, fed_namespace: str, v1_compat: bool | None = None, dry_run: bool = False
) -> list[Change]:
    """Create or upgrade what differs; leave the rest untouched (no request at all)."""
    changes = [
        Change(
            "Namespace",
            fed_namespace,
            "created" if ensure_namespace(kube, fed_namespace, dry_run) else "unchanged",
        )
    ]
    pending = []
    for crd in map(_stamped, load_crds()):
        name = crd["metadata"]["name"]
        action = _crd_action(kube, crd)
        if action in ("created", "configured"):
            kube.apply(f"{CRD_PATH}/{name}", crd, dry_run=dry_run)
            pending.append(name)
        changes.append(Change("CustomResourceDefinition", name, action))
    if not dry_run:
        _wait_established(kube, pending)
    if v1_compat is not None:
        changes.append(_apply_settings(kube, fed_namespace, v1_compat, dry_run))
    changes += _apply_sync_roles(kube, fed_namespace, dry_run)
    return changes


def _apply_sync_roles(kube: ClusterClient, fed_namespace: str, dry_run: bool) -> list[Change]:
    """The ClusterRole and Role `kubectl-fed-sync`: what sync needs in the host, for
    operators who run sync as a narrower user than cluster-admin (README: Security).
    Kinds added by FederatedTypeConfigs are included: run init again after adding one."""
    return [
        Change(
            role["kind"],
            role["metadata"]["name"],
            _apply_changed(kube, object_path(role), role, "rules", dry_run),
        )
        for role in sync_role_objects(fed_namespace, _federated_types(kube))
    ]


def _apply_changed(
    kube: ClusterClient, path: str, wanted: dict[str, Any], field: str, dry_run: bool
) -> str:
    """Apply `wanted` unless the live object's `field` is already the same; the action."""
    try:
        live = kube.get(path)
        action = "unchanged" if live.get(field) == wanted[field] else "configured"
    except NotFound:
        action = "created"
    if action != "unchanged":
        kube.apply(path, wanted, dry_run=dry_run)
    return action


def _federated_types(kube: ClusterClient) -> list[FederatedType]:
    from kubectl_fed.core import kubeadmiral
    from kubectl_fed.kube.host import fed_path

    try:
        ftcs = list(kube.list_all(fed_path(kubeadmiral.FEDERATED_TYPE_CONFIGS)))
    except NotFound:  # a dry run before the CRDs exist
        ftcs = []
    return types_with_configs(ftcs)


def _apply_settings(
    kube: ClusterClient, fed_namespace: str, v1_compat: bool, dry_run: bool
) -> Change:
    wanted = settings_configmap(fed_namespace, v1_compat)
    path = f"/api/v1/namespaces/{fed_namespace}/configmaps/{SETTINGS_CONFIGMAP}"
    action = _apply_changed(kube, path, wanted, "data", dry_run)
    return Change("ConfigMap", f"{SETTINGS_CONFIGMAP} (v1-compat={str(v1_compat).lower()})", action)


def _crd_action(kube: ClusterClient, crd: dict[str, Any]) -> str:
    try:
        live = kube.get(f"{CRD_PATH}/{crd['metadata']['name']}")
    except NotFound:
        return "created"
    annotations = live["metadata"].get("annotations") or {}
    wanted = crd["metadata"]["annotations"]
    if annotations.get(HASH_ANNOTATION) == wanted[HASH_ANNOTATION]:
        return "unchanged"
    if _revision(annotations.get(REVISION_ANNOTATION)) > _revision(CRD_REVISION):
        return "skipped (a newer kubectl-fed installed it)"
    return "configured"


def _revision(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _wait_established(kube: ClusterClient, names: list[str]) -> None:
    deadline = time.monotonic() + ESTABLISH_TIMEOUT_S
    for name in names:
        while not _established(kube.get(f"{CRD_PATH}/{name}")):
            if time.monotonic() > deadline:
                raise FedError(f"CRD {name} was not Established within {ESTABLISH_TIMEOUT_S:.0f}s")
            time.sleep(0.2)


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
