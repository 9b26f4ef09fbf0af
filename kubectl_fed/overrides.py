"""Public overrides API: the JSON patches OverridePolicies and ClusterOverridePolicies make
for one member cluster, and applying them, exactly as `kubectl fed sync` does. Plain
Kubernetes objects in, plain results out.

    from kubectl_fed.overrides import apply_patches, override_patches
    patches = override_patches([override_policy], federated_cluster, deployment)
    member_copy = apply_patches(deployment, patches)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_fed.core.overrides import OverrideError, apply_overrides, patches_for_cluster

__all__ = ["OverrideError", "apply_patches", "override_patches"]

Object = Mapping[str, Any]


def override_patches(
    policies: Sequence[Object], cluster: Object, obj: Object
) -> list[dict[str, Any]]:
    """RFC 6902 patches for `obj` in `cluster` (a FederatedCluster object: its name and
    labels pick the rules that apply). ClusterOverridePolicies apply first, then
    OverridePolicies, each in the order given. Raises OverrideError with the reason when an
    override cannot be computed (a container that does not exist, an invalid label key,
    a patch that does not apply): `sync` then writes nothing to that cluster."""
    metadata = cluster.get("metadata") or {}
    return patches_for_cluster(
        dict(obj),
        [dict(p) for p in policies],
        str(metadata.get("name", "")),
        dict(metadata.get("labels") or {}),
    )


def apply_patches(obj: Object, patches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A new object: `obj` with `patches` applied (`obj` is left as it is). Raises
    OverrideError when a patch does not apply."""
    import copy

    return apply_overrides(copy.deepcopy(dict(obj)), [dict(p) for p in patches])
