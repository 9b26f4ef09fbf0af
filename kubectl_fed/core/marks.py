"""The federation's marks on objects, and the metadata that belongs to one copy of an object.

Marks are the labels, annotations, finalizer and field manager by which the federation
steers objects and recognises its own: KubeAdmiral's (`kubeadmiral.io/...`), which
kubectl-fed reads and writes the same way, and kubectl-fed's own (`kubectl-fed.io/...`),
where KubeAdmiral has no equivalent. The names of the federation API itself are in
core/kubeadmiral.py.
"""

from __future__ import annotations

from typing import Final

# --- templates and FederatedObjects: which policies apply (KubeAdmiral's) ----------------

PROPAGATION_POLICY_LABEL: Final = "kubeadmiral.io/propagation-policy-name"
CLUSTER_PROPAGATION_POLICY_LABEL: Final = "kubeadmiral.io/cluster-propagation-policy-name"
OVERRIDE_POLICY_LABEL: Final = "kubeadmiral.io/override-policy-name"
CLUSTER_OVERRIDE_POLICY_LABEL: Final = "kubeadmiral.io/cluster-override-policy-name"

CONFLICT_RESOLUTION_ANNOTATION: Final = "kubeadmiral.io/conflict-resolution"
CLUSTERS_TO_ADOPT_ANNOTATION: Final = "kubeadmiral.io/clusters-to-adopt"
ORPHAN_ANNOTATION: Final = "kubeadmiral.io/orphan"
RETAIN_REPLICAS_ANNOTATION: Final = "kubeadmiral.io/retain-replicas"
# On a template: never federate it (a non-empty value counts).
NO_FEDERATED_RESOURCE_ANNOTATION: Final = "kubeadmiral.io/no-federated-resource"
# On a workload: more followers, a JSON list of {group, kind, name} in its namespace.
FOLLOWERS_ANNOTATION: Final = "kubeadmiral.io/followers"
# On a ConfigMap, Secret...: "true" opts it out of following the workloads using it.
DISABLE_FOLLOWING_ANNOTATION: Final = "kubeadmiral.io/disable-following"
# On a host namespace: "true" keeps it out of namespace auto-propagation.
NO_AUTO_PROPAGATION_ANNOTATION: Final = "kubeadmiral.io/no-auto-propagation"

# Moved from the template to the FederatedObject: they steer the federation, not the members.
FEDERATION_LABELS: Final = frozenset(
    {
        PROPAGATION_POLICY_LABEL,
        CLUSTER_PROPAGATION_POLICY_LABEL,
        OVERRIDE_POLICY_LABEL,
        CLUSTER_OVERRIDE_POLICY_LABEL,
    }
)
FEDERATION_ANNOTATIONS: Final = frozenset(
    {
        CONFLICT_RESOLUTION_ANNOTATION,
        CLUSTERS_TO_ADOPT_ANNOTATION,
        ORPHAN_ANNOTATION,
        RETAIN_REPLICAS_ANNOTATION,
        FOLLOWERS_ANNOTATION,
        DISABLE_FOLLOWING_ANNOTATION,
        NO_AUTO_PROPAGATION_ANNOTATION,
    }
)

# KubeAdmiral's bookkeeping on host objects; it means nothing to a member.
KUBEADMIRAL_HOST_ANNOTATIONS: Final = frozenset({"kubeadmiral.io/latest-replicaset-digests"})
KUBEADMIRAL_INTERNAL_PREFIX: Final = "internal.kubeadmiral.io/"

# --- member copies --------------------------------------------------------------------------

MANAGED_LABEL: Final = "kubeadmiral.io/managed"  # "true" on every copy; "false": hands off
# A copy the federation took over instead of creating. KubeAdmiral writes it as an
# annotation; kubectl-fed stamps it as a label (an annotation change bumps a Deployment's
# generation, and adoption must leave it as it is) and recognises both.
ADOPTED_ANNOTATION: Final = "kubeadmiral.io/adopted"
ADOPTED_LABEL: Final = ADOPTED_ANNOTATION
# kubectl-fed's hash of everything else it sent: a template change shows as a hash change.
APPLIED_HASH_LABEL: Final = "kubectl-fed.io/applied-hash"

# The marks a member copy carries. The sync loop stamps them, so a template never carries
# them (one adopted from a member must not take `managed: "false"` to every cluster);
# orphaning removes exactly these.
MEMBER_MARK_LABELS: Final = (MANAGED_LABEL, ADOPTED_LABEL, APPLIED_HASH_LABEL)
MEMBER_MARK_ANNOTATIONS: Final = (ADOPTED_ANNOTATION,)

# The field manager of kubectl-fed's writes (server-side apply).
FIELD_MANAGER: Final = "kubectl-fed"

# --- host objects (kubectl-fed's own) -------------------------------------------------------

FINALIZER: Final = "kubectl-fed.io/cleanup"  # on FederatedObjects: copies are removed first
# "serviceaccount" | "copy" | "local" ("secret", written before 0.2, means "copy").
CREDENTIALS_ANNOTATION: Final = "kubectl-fed.io/credentials"
# The TLS server name of the member's context at join (KubeAdmiral's spec has no field).
TLS_SERVER_NAME_ANNOTATION: Final = "kubectl-fed.io/tls-server-name"
# The kubeconfig context a member was joined with: the default way `rotate`, `unjoin` and
# `join --update-role` reach it with the operator's own credentials. Only a name.
JOIN_CONTEXT_ANNOTATION: Final = "kubectl-fed.io/join-context"
# What a member *is*, whatever name, URL or TLS setting reaches it: the UID of its
# kube-system namespace (Karmada's cluster ID). Recorded on the FederatedCluster as an
# annotation: KubeAdmiral's spec has no field for it, and a label would be matched by
# every clusterSelector and shown in every LABELS column.
CLUSTER_ID_ANNOTATION: Final = "kubectl-fed.io/cluster-id"
CORDON_TAINT_KEY: Final = "kubectl-fed.io/unschedulable"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "kubectl-fed"

# --- metadata of one copy ---------------------------------------------------------------------

# What the apiserver writes about its own copy of an object. A desired copy and a live one
# are never compared on these, and they are never a reason to write.
SERVER_METADATA: Final = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)
# An object becoming a template (a host object, or a member's adopted one) also loses what
# ties it to its own cluster: its owners and the finalizers of that cluster's controllers.
# (SERVER_METADATA leaves them out: a desired copy that names owners or finalizers, from a
# FederatedObject written by hand, wants them.)
COPY_METADATA: Final = SERVER_METADATA | {"ownerReferences", "finalizers"}

# Annotations each cluster's Deployment controller keeps on its own copy.
DEPLOYMENT_REVISION_ANNOTATIONS: Final = (
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
)
# Annotations never sent to members. The host's client-side-apply record describes the
# host's object (sent on, it would mislead `kubectl apply` there); the revision annotations
# belong to each member's Deployment controller. Sending either would also change
# annotations, which bumps a Deployment's generation on adoption.
LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
NOT_SENT_ANNOTATIONS: Final = (LAST_APPLIED_ANNOTATION, *DEPLOYMENT_REVISION_ANNOTATIONS)

# A Job's pod template labels the apiserver adds, with the uid of the Job it adds them to,
# when it generates the selector (`spec.manualSelector` unset or false).
JOB_CONTROLLER_UID_LABELS: Final = ("controller-uid", "batch.kubernetes.io/controller-uid")
