"""A member's live object -> the template that adopts it (`kubectl fed adopt`).

What the member's apiserver and controllers wrote about that one copy goes; everything
else stays exactly as the member has it. In particular the pod template is not touched
(no key reordered, nothing defaulted or removed): a different pod template hash would
restart every pod on adoption. The one exception is a Job's generated controller-uid
label, which belongs to the member's Job and would make the template invalid elsewhere.
"""

from __future__ import annotations

import re

from kubectl_fed.core.marks import (
    COPY_METADATA,
    DEPLOYMENT_REVISION_ANNOTATIONS,
    JOB_CONTROLLER_UID_LABELS,
)
from kubectl_fed.core.objects import Object, api_group, field_at, without_server_fields

SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"


def prune_for_adoption(live: Object) -> Object:
    """A copy of `live` without what only the member's copy has, ready to be a template.

    Removed: metadata uid, resourceVersion, creationTimestamp, deletionTimestamp,
    deletionGracePeriodSeconds, generation, managedFields, selfLink, ownerReferences,
    finalizers; `status`; per kind:
      - Deployment: annotations `deployment.kubernetes.io/revision` and `...revision-history`;
      - Service: `spec.clusterIP` and `spec.clusterIPs`, unless headless (`None`);
      - ServiceAccount: `secrets` entries naming the token controller's `<name>-token-xxxxx`;
      - Job, unless `spec.manualSelector`: `spec.selector` (generated: it selects only the
        controller-uid) and the controller-uid labels of the pod template;
      - PersistentVolumeClaim: annotation `volume.kubernetes.io/selected-node`.
    Kept: everything else, `kubectl.kubernetes.io/last-applied-configuration` included; it
    records what the user applied, which is the right base for their next `kubectl apply`.
    """
    template = without_server_fields(live, COPY_METADATA)
    prune_kind = _KIND_PRUNERS.get((api_group(live), str(live.get("kind", ""))))
    if prune_kind:
        prune_kind(template)
    return template


def _prune_deployment(template: Object) -> None:
    _drop_annotations(template, DEPLOYMENT_REVISION_ANNOTATIONS)


def _prune_service(template: Object) -> None:
    spec = template.get("spec")
    if isinstance(spec, dict) and spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)


def _prune_service_account(template: Object) -> None:
    secrets = template.get("secrets")
    if not isinstance(secrets, list):
        return
    token = re.compile(re.escape(f"{_name(template)}-token-") + "[a-z0-9]{5}")
    kept = [s for s in secrets if not token.fullmatch(str(field_at(s, "name") or ""))]
    if len(kept) == len(secrets):
        return
    if kept:
        template["secrets"] = kept
    else:
        del template["secrets"]


def _prune_job(template: Object) -> None:
    spec = template.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    spec.pop("selector", None)
    labels = field_at(spec, "template", "metadata", "labels")
    if isinstance(labels, dict):
        for label in JOB_CONTROLLER_UID_LABELS:
            labels.pop(label, None)


def _prune_persistent_volume_claim(template: Object) -> None:
    _drop_annotations(template, (SELECTED_NODE_ANNOTATION,))


_KIND_PRUNERS = {
    ("apps", "Deployment"): _prune_deployment,
    ("", "Service"): _prune_service,
    ("", "ServiceAccount"): _prune_service_account,
    ("batch", "Job"): _prune_job,
    ("", "PersistentVolumeClaim"): _prune_persistent_volume_claim,
}


def _drop_annotations(template: Object, keys: tuple[str, ...]) -> None:
    annotations = field_at(template, "metadata", "annotations")
    if not isinstance(annotations, dict) or not annotations.keys() & set(keys):
        return
    for key in keys:
        annotations.pop(key, None)
    if not annotations:
        del template["metadata"]["annotations"]


def _name(template: Object) -> str:
    return str(field_at(template, "metadata", "name") or "")
