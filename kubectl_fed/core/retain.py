"""Fields a member cluster owns: kept from the live object when the federation writes it.

Members are written with server-side apply, field manager `kubectl-fed`. SSA leaves alone
every field the apply body does not mention (unless kubectl-fed set it before: then it is
removed, which is how a value dropped from the template disappears). So the retention that
matters is of fields the body WOULD carry, from the template or an override, that the
member has settled otherwise: a Service's allocated clusterIP and nodePorts, a bound PVC's
volumeName, a Job's generated selector, an HPA's replicas, a Pod's immutable spec. Left in,
they would fail the apply (immutable field) or fight the member's controllers.

The metadata that SSA would leave alone anyway is also carried over, so that the result is
the whole object as it should be after the write, fit for a diff or a plain update:
  - `resourceVersion`: under SSA a precondition, which is what we want: every retained value
    was read from that version, so a member change in between makes the apply fail with a
    conflict (re-read and retry) instead of writing stale values;
  - `finalizers`: the member's, then any the desired object adds;
  - labels and annotations the federation never propagated. "Propagated" is read from the
    live object's managedFields: a key kubectl-fed alone owns came from us, and if the
    template no longer has it, it must go. A key some other manager also owns is the
    member's, even after our apply made kubectl-fed a co-owner, so it stays stable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubectl_fed.core.marks import FIELD_MANAGER
from kubectl_fed.core.objects import Object, api_group, field_at

# Where the serviceaccount admission plugin mounts the token (KubeAdmiral's retain.go).
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def retain_member_fields(
    desired: Object,
    live: Object,
    *,
    retain_replicas: bool,
    replicas_path: tuple[str, ...] = ("spec", "replicas"),
) -> Object:
    """`desired` with the member-owned fields of `live` kept (see the module docstring).

    Per kind, from the live object:
      - Service: `clusterIP`/`clusterIPs` unless the desired Service is headless (`None`)
        or an ExternalName; `healthCheckNodePort` for a LoadBalancer with
        externalTrafficPolicy Local; `ports[].nodePort` for NodePort and LoadBalancer,
        ports matched on (name, protocol, port) with Kubernetes' defaults ("" and TCP).
        Each only where the desired type allows it, or the apiserver would refuse it.
      - ServiceAccount: `secrets`, `imagePullSecrets`, each when the desired has none.
      - PersistentVolumeClaim: `spec.volumeName`; PersistentVolume: `spec.claimRef`.
      - Job, unless `spec.manualSelector`: `spec.selector` and the pod template's labels,
        which carry the generated controller-uid.
      - Pod: `nodeName`, `serviceAccountName`, `serviceAccount`, `priority` when unset;
        `volumes` and `ephemeralContainers`; each container's `resources` and its mount of
        the service account token (after KubeAdmiral: a pod spec is immutable, and these
        are what admission and scheduling filled in).
      - with `retain_replicas`: the value at `replicas_path`.
    """
    result = copy.deepcopy(desired)
    _retain_metadata(result, live)
    retain_kind = _KIND_RETAINERS.get((api_group(desired), str(desired.get("kind", ""))))
    if retain_kind:
        retain_kind(result, live)
    if retain_replicas:
        _copy_field(live, result, replicas_path)
    return result


def strip_replicas(obj: Object, path: tuple[str, ...] = ("spec", "replicas")) -> Object:
    """A copy of `obj` without the replicas field, for an apply that leaves it to an HPA."""
    stripped = copy.deepcopy(obj)
    parent = field_at(stripped, *path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    return stripped


# --- every kind ---------------------------------------------------------------------------------


def _retain_metadata(result: Object, live: Object) -> None:
    metadata = result.setdefault("metadata", {})
    live_metadata = live.get("metadata") or {}
    if live_metadata.get("resourceVersion"):
        metadata["resourceVersion"] = live_metadata["resourceVersion"]
    finalizers = list(live_metadata.get("finalizers") or [])
    finalizers += [f for f in metadata.get("finalizers") or [] if f not in finalizers]
    if finalizers:
        metadata["finalizers"] = finalizers
    for field in ("labels", "annotations"):
        _keep_member_keys(metadata, live_metadata, field)


def _keep_member_keys(metadata: Object, live_metadata: Object, field: str) -> None:
    desired = metadata.get(field) or {}
    propagated = _owned_only_by_us(live_metadata, field)
    kept = {
        key: value
        for key, value in (live_metadata.get(field) or {}).items()
        if key not in desired and key not in propagated
    }
    if kept:
        metadata[field] = {**desired, **kept}


def _owned_only_by_us(live_metadata: Object, field: str) -> set[str]:
    """The `field` keys that kubectl-fed's applies own and no other manager does."""
    ours: set[str] = set()
    theirs: set[str] = set()
    for entry in live_metadata.get("managedFields") or []:
        owned = field_at(entry, "fieldsV1", "f:metadata", f"f:{field}") or {}
        keys = {key[2:] for key in owned if key.startswith("f:")}
        (ours if entry.get("manager") == FIELD_MANAGER else theirs).update(keys)
    return ours - theirs


# --- Service --------------------------------------------------------------------------------------


def _retain_service(result: Object, live: Object) -> None:
    spec, live_spec = result.setdefault("spec", {}), live.get("spec") or {}
    service_type = spec.get("type") or "ClusterIP"
    if service_type != "ExternalName" and spec.get("clusterIP") != "None":
        for field in ("clusterIP", "clusterIPs"):
            _copy_field(live_spec, spec, (field,))
    if service_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
        _copy_field(live_spec, spec, ("healthCheckNodePort",))
    if service_type in ("NodePort", "LoadBalancer"):
        _retain_node_ports(spec.get("ports") or [], live_spec.get("ports") or [])


def _retain_node_ports(ports: list[Object], live_ports: list[Object]) -> None:
    allocated = {_port_key(port): port["nodePort"] for port in live_ports if port.get("nodePort")}
    for port in ports:
        if _port_key(port) in allocated:
            port["nodePort"] = allocated[_port_key(port)]


def _port_key(port: Object) -> tuple[str, str, Any]:
    return port.get("name") or "", port.get("protocol") or "TCP", port.get("port")


# --- other kinds ------------------------------------------------------------------------------


def _retain_service_account(result: Object, live: Object) -> None:
    for field in ("secrets", "imagePullSecrets"):
        if not result.get(field):
            _copy_field(live, result, (field,))


def _retain_persistent_volume_claim(result: Object, live: Object) -> None:
    _copy_field(live, result, ("spec", "volumeName"))


def _retain_persistent_volume(result: Object, live: Object) -> None:
    _copy_field(live, result, ("spec", "claimRef"))


def _retain_job(result: Object, live: Object) -> None:
    if field_at(result, "spec", "manualSelector") is True:
        return
    _copy_field(live, result, ("spec", "selector"))
    _copy_field(live, result, ("spec", "template", "metadata", "labels"))


def _retain_pod(result: Object, live: Object) -> None:
    spec, live_spec = result.setdefault("spec", {}), live.get("spec") or {}
    for field in ("nodeName", "serviceAccountName", "serviceAccount", "priority"):
        if spec.get(field) in (None, ""):
            _copy_field(live_spec, spec, (field,))
    for field in ("volumes", "ephemeralContainers"):
        _copy_field(live_spec, spec, (field,))
    for field in ("initContainers", "containers"):
        live_containers = {c.get("name"): c for c in live_spec.get(field) or []}
        for container in spec.get(field) or []:
            live_container = live_containers.get(container.get("name"))
            if live_container:
                _retain_container(container, live_container)


def _retain_container(container: Object, live_container: Object) -> None:
    _copy_field(live_container, container, ("resources",))
    mounts = container.get("volumeMounts") or []
    if any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH for m in mounts):
        return
    for index, mount in enumerate(live_container.get("volumeMounts") or []):
        if mount.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH:
            # Same position as in the live pod: an update may not reorder a pod's mounts.
            container["volumeMounts"] = [*mounts[:index], copy.deepcopy(mount), *mounts[index:]]
            return


_KIND_RETAINERS: dict[tuple[str, str], Callable[[Object, Object], None]] = {
    ("", "Service"): _retain_service,
    ("", "ServiceAccount"): _retain_service_account,
    ("", "PersistentVolumeClaim"): _retain_persistent_volume_claim,
    ("", "PersistentVolume"): _retain_persistent_volume,
    ("batch", "Job"): _retain_job,
    ("", "Pod"): _retain_pod,
}


# --- paths ----------------------------------------------------------------------------------------


def _copy_field(source: Object, target: Object, path: tuple[str, ...]) -> None:
    """target[path] = source[path], when the source has a non-empty value there."""
    value = field_at(source, *path)
    if value in (None, "", [], {}):
        return
    parent = target
    for key in path[:-1]:
        child = parent.get(key)
        if not isinstance(child, dict):
            child = parent[key] = {}
        parent = child
    parent[path[-1]] = copy.deepcopy(value)
