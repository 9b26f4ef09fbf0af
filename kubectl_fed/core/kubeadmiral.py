"""Names of the federation API: KubeAdmiral's core.kubeadmiral.io/v1alpha1 (group, kinds,
Secret layout, conditions). The labels and annotations on objects are in core/marks.py."""

from __future__ import annotations

GROUP = "core.kubeadmiral.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_FED_NAMESPACE = "kube-admiral-system"

# Plural names of our kinds, and whether they are namespaced.
FEDERATED_CLUSTERS = "federatedclusters"
PROPAGATION_POLICIES = "propagationpolicies"
CLUSTER_PROPAGATION_POLICIES = "clusterpropagationpolicies"
OVERRIDE_POLICIES = "overridepolicies"
CLUSTER_OVERRIDE_POLICIES = "clusteroverridepolicies"
FEDERATED_OBJECTS = "federatedobjects"
CLUSTER_FEDERATED_OBJECTS = "clusterfederatedobjects"
FEDERATED_TYPE_CONFIGS = "federatedtypeconfigs"

# Secret keys holding member credentials (KubeAdmiral's layout).
SECRET_CA = "certificate-authority-data"
SECRET_CERT = "client-certificate-data"
SECRET_KEY = "client-key-data"
SECRET_TOKEN = "service-account-token-data"
# With spec.useServiceAccount, KubeAdmiral reads the CA from here instead of SECRET_CA.
SECRET_TOKEN_CA = "service-account-ca-data"

# Condition types on FederatedCluster status.
JOINED, READY, OFFLINE = "Joined", "Ready", "Offline"
