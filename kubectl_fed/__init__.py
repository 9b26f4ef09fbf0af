"""kubectl-fed: federate Kubernetes resources across clusters from kubectl."""

__version__ = "0.1.0"
