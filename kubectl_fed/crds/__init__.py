"""CustomResourceDefinitions that ``kubectl fed init`` installs in the host cluster.

One YAML file per CRD lives next to this module (group ``core.kubeadmiral.io``,
version ``v1alpha1``). Every CRD carries the annotation
``kubectl-fed.io/crd-revision``; when the installed revision differs from
:data:`CRD_REVISION`, the plugin replaces the CRD in place.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

__all__ = ["CRD_GROUP", "CRD_REVISION", "REVISION_ANNOTATION", "load_crds"]

CRD_REVISION: str = "1"
"""Revision of the bundled CRDs; bump it with any change to the YAML files."""

REVISION_ANNOTATION: str = "kubectl-fed.io/crd-revision"
CRD_GROUP: str = "core.kubeadmiral.io"


def load_crds() -> list[dict[str, Any]]:
    """Return the bundled CRD manifests, ordered by file name.

    Each call parses the files afresh, so callers may modify the result.
    """
    crds: list[dict[str, Any]] = []
    files = sorted(
        (entry for entry in resources.files(__name__).iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: entry.name,
    )
    for entry in files:
        document = yaml.safe_load(entry.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
            raise ValueError(f"{entry.name}: not a CustomResourceDefinition manifest")
        crds.append(document)
    return crds
