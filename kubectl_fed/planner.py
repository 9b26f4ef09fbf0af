"""Public replica-division API: ``plan`` (KubeAdmiral) and ``plan_v1`` (Federation v1 / KubeFed)."""

from kubectl_fed.core.replicas import plan, plan_v1

__all__ = ["plan", "plan_v1"]
