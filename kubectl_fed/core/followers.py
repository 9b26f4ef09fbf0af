"""Where a workload keeps its pod spec, the objects that pod spec refers to, and the
workload's followers.

The referenced ConfigMaps, Secrets, ServiceAccount and PersistentVolumeClaims are the
workload's followers, with those its `kubeadmiral.io/followers` annotation names
(Services and Ingresses may be named there too): they go wherever the workload goes,
whether or not they have a policy of their own, unless its policy sets
`disableFollowerScheduling` or the follower says `kubeadmiral.io/disable-following: "true"`.
The references are the ones Kubernetes itself walks (`VisitPodSecretNames`,
`VisitPodConfigmapNames`), as KubeAdmiral's follower controller does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from kubectl_fed.core.marks import DISABLE_FOLLOWING_ANNOTATION, FOLLOWERS_ANNOTATION
from kubectl_fed.core.objects import api_group, field_at

# (API group, kind) -> keys leading to the pod spec; the kinds KubeAdmiral knows, plus ReplicaSet.
POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

# Volume sources that name a Secret, and the keys leading to that name.
_SECRET_VOLUME_REFS: dict[str, tuple[str, ...]] = {
    "secret": ("secretName",),
    "azureFile": ("secretName",),
    "cephfs": ("secretRef", "name"),
    "cinder": ("secretRef", "name"),
    "flexVolume": ("secretRef", "name"),
    "iscsi": ("secretRef", "name"),
    "rbd": ("secretRef", "name"),
    "scaleIO": ("secretRef", "name"),
    "storageos": ("secretRef", "name"),
    "csi": ("nodePublishSecretRef", "name"),
}

Reference = tuple[str, str]
# (API group, kind, name) of a follower, in its leader's namespace.
FollowerRef = tuple[str, str, str]

# The kinds that follow (KubeAdmiral's supportedFollowerTypes): the first four are what a
# pod spec references; Services and Ingresses follow only when the annotation names them.
FOLLOWER_KINDS: Final = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"),
        ("", "Service"),
        ("networking.k8s.io", "Ingress"),
    }
)

# Present in every namespace of every cluster, made there by Kubernetes itself: never followers.
# (kube-root-ca.crt is what the service account token volume of a live pod projects.)
_EVERYWHERE = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})


def pod_spec_path(obj: dict[str, Any]) -> tuple[str, ...] | None:
    """The keys leading to the pod spec of a workload kind, None for other kinds."""
    return POD_SPEC_PATHS.get((api_group(obj), str(obj.get("kind", ""))))


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload, None when the kind has none or the object lacks it."""
    path = pod_spec_path(obj)
    node = field_at(obj, *path) if path else None
    return node if isinstance(node, dict) else None


def referenced_objects(workload: dict[str, Any]) -> list[Reference]:
    """(kind, name) of the ConfigMaps, Secrets, ServiceAccount and PVCs the pod spec uses.

    Sorted and without duplicates. The `default` ServiceAccount and the `kube-root-ca.crt`
    ConfigMap, which Kubernetes makes in every namespace, never follow. Objects that are
    not workloads reference nothing.
    """
    spec = pod_spec(workload)
    if spec is None:
        return []
    refs = set(_pod_refs(spec))
    for container in _items(spec, *CONTAINER_LISTS):
        refs.update(_container_refs(container))
    for volume in _items(spec, "volumes"):
        refs.update(_volume_refs(volume))
    return sorted(ref for ref in refs if ref[1] and ref not in _EVERYWHERE)


def _pod_refs(spec: dict[str, Any]) -> Iterator[Reference]:
    for pull_secret in _items(spec, "imagePullSecrets"):
        yield "Secret", _name_at(pull_secret, "name")
    yield "ServiceAccount", _name_at(spec, "serviceAccountName") or _name_at(spec, "serviceAccount")


def _container_refs(container: dict[str, Any]) -> Iterator[Reference]:
    for source in _items(container, "envFrom"):
        yield "ConfigMap", _name_at(source, "configMapRef", "name")
        yield "Secret", _name_at(source, "secretRef", "name")
    for env in _items(container, "env"):
        yield "ConfigMap", _name_at(env, "valueFrom", "configMapKeyRef", "name")
        yield "Secret", _name_at(env, "valueFrom", "secretKeyRef", "name")


def _volume_refs(volume: dict[str, Any]) -> Iterator[Reference]:
    yield "ConfigMap", _name_at(volume, "configMap", "name")
    yield "PersistentVolumeClaim", _name_at(volume, "persistentVolumeClaim", "claimName")
    for source, keys in _SECRET_VOLUME_REFS.items():
        yield "Secret", _name_at(volume, source, *keys)
    projected = volume.get("projected")
    for projection in _items(projected if isinstance(projected, dict) else {}, "sources"):
        yield "ConfigMap", _name_at(projection, "configMap", "name")
        yield "Secret", _name_at(projection, "secret", "name")


def _items(obj: dict[str, Any], *keys: str) -> Iterator[dict[str, Any]]:
    """The dict entries of the lists under `keys`, skipping anything malformed."""
    for key in keys:
        entries = obj.get(key)
        if isinstance(entries, list):
            yield from (entry for entry in entries if isinstance(entry, dict))


def _name_at(obj: dict[str, Any], *keys: str) -> str:
    node = field_at(obj, *keys)
    return node if isinstance(node, str) else ""


def is_leader(obj: dict[str, Any]) -> bool:
    """Whether objects of this kind have followers: the kinds with a pod spec."""
    return pod_spec_path(obj) is not None


def followers_of(
    leader: dict[str, Any], annotations: Mapping[str, str]
) -> tuple[list[FollowerRef], str]:
    """The followers of a workload: what its pod spec references, and what its
    `kubeadmiral.io/followers` annotation (`annotations`: the template's, or its
    FederatedObject's) names. Sorted, without duplicates; nothing for a kind without a pod
    spec. The second value says why the annotation was not used (not valid JSON, not a list
    of {group, kind, name}, or a kind that cannot follow), else it is empty."""
    if not is_leader(leader):
        return [], ""
    found = {("", kind, name) for kind, name in referenced_objects(leader)}
    named, problem = _annotated_followers(annotations.get(FOLLOWERS_ANNOTATION))
    return sorted(found | set(named)), problem


def following_disabled(annotations: Mapping[str, str]) -> bool:
    """A follower's own opt-out (only "true" counts, as in KubeAdmiral)."""
    return annotations.get(DISABLE_FOLLOWING_ANNOTATION) == "true"


def _annotated_followers(raw: str | None) -> tuple[list[FollowerRef], str]:
    if raw is None or raw == "":
        return [], ""
    where = f"annotation {FOLLOWERS_ANNOTATION}"
    try:
        entries = json.loads(raw)
    except ValueError as error:
        return [], f"{where}: not valid JSON ({error})"
    if not isinstance(entries, list):
        return [], f"{where}: expected a JSON list of {{group, kind, name}}"
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k, ""), str) for k in ("group", "kind", "name")
        ):
            return [], f"{where}[{index}]: expected {{group, kind, name}} strings"
        group, kind, name = entry.get("group", ""), entry.get("kind", ""), entry.get("name", "")
        if not name:
            return [], f"{where}[{index}]: a follower needs a name"
        if (group, kind) not in FOLLOWER_KINDS:
            kinds = ", ".join(sorted(f"{k}.{g}" if g else k for g, k in FOLLOWER_KINDS))
            shown = f"{kind}.{group}" if group else kind
            return [], f"{where}[{index}]: kind {shown!r} cannot follow ({kinds} can)"
        found.append((group, kind, name))
    return found, ""
