"""Which clusters a template may adopt existing objects in (`clusters-to-adopt`)."""

from __future__ import annotations

import json
import re

from kubectl_fed.core.federate import CLUSTERS_TO_ADOPT_ANNOTATION


def adoption_allowed(annotations: dict[str, str], cluster: str) -> bool:
    """Absent: every placed cluster (kubectl-fed's difference from current KubeAdmiral,
    matching its published walkthrough). Present: the named clusters or the regexp.
    Malformed: nowhere (adopting by mistake cannot be undone)."""
    raw = annotations.get(CLUSTERS_TO_ADOPT_ANNOTATION)
    if raw is None:
        return True
    try:
        spec = json.loads(raw)
        if cluster in (spec.get("clusters") or []):
            return True
        pattern = spec.get("regexp")
        return bool(pattern) and re.fullmatch(pattern, cluster) is not None
    except (ValueError, AttributeError, TypeError, re.error):
        return False
