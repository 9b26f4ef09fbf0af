"""The former home of core/kubeadmiral.py (and of four marks now in core/marks.py).

TODO(house): importers in ops/cli; remove this module once they import
kubectl_fed.core.kubeadmiral and kubectl_fed.core.marks instead.
"""

from __future__ import annotations

from kubectl_fed.core.kubeadmiral import (
    API_VERSION,
    CLUSTER_FEDERATED_OBJECTS,
    CLUSTER_OVERRIDE_POLICIES,
    CLUSTER_PROPAGATION_POLICIES,
    DEFAULT_FED_NAMESPACE,
    FEDERATED_CLUSTERS,
    FEDERATED_OBJECTS,
    FEDERATED_TYPE_CONFIGS,
    GROUP,
    JOINED,
    OFFLINE,
    OVERRIDE_POLICIES,
    PROPAGATION_POLICIES,
    READY,
    SECRET_CA,
    SECRET_CERT,
    SECRET_KEY,
    SECRET_TOKEN,
    VERSION,
)
from kubectl_fed.core.marks import (
    CORDON_TAINT_KEY,
    CREDENTIALS_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
)

__all__ = [
    "API_VERSION",
    "CLUSTER_FEDERATED_OBJECTS",
    "CLUSTER_OVERRIDE_POLICIES",
    "CLUSTER_PROPAGATION_POLICIES",
    "CORDON_TAINT_KEY",
    "CREDENTIALS_ANNOTATION",
    "DEFAULT_FED_NAMESPACE",
    "FEDERATED_CLUSTERS",
    "FEDERATED_OBJECTS",
    "FEDERATED_TYPE_CONFIGS",
    "GROUP",
    "JOINED",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "OFFLINE",
    "OVERRIDE_POLICIES",
    "PROPAGATION_POLICIES",
    "READY",
    "SECRET_CA",
    "SECRET_CERT",
    "SECRET_KEY",
    "SECRET_TOKEN",
    "VERSION",
]
