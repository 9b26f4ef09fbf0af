"""Reading a member's nodes and pods for its FederatedCluster `status.resources`
(core/capacity computes it)."""

from __future__ import annotations

from kubectl_fed.core.capacity import cluster_resources
from kubectl_fed.core.objects import Object
from kubectl_fed.kube.client import ClusterClient

# Terminated pods hold nothing: the server leaves them out (pods only support this field).
NOT_TERMINATED = "status.phase!=Succeeded,status.phase!=Failed"


def read_capacity(kube: ClusterClient) -> Object:
    """The member's schedulable nodes and what its pods request. ApiError when nodes or
    pods cannot be listed (Unreachable when the member does not answer)."""
    nodes = list(kube.list_all("/api/v1/nodes"))
    pods = list(kube.list_all("/api/v1/pods", fieldSelector=NOT_TERMINATED))
    return cluster_resources(nodes, pods)
