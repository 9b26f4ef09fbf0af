"""The sync lease as data: its name, its duration, and reading a Lease object (for the
sync that holds or waits for it, and for `doctor`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kubectl_fed.core.clock import parse

LEASE_NAME = "kubectl-fed-sync"
DURATION_S = 15


def describe(lease: dict[str, Any], now: datetime | None = None) -> tuple[str, float | None]:
    """(holder, seconds since its last renewal by the holder's clock) of a Lease object."""
    spec = lease.get("spec") or {}
    renewed = parse(spec.get("renewTime"))
    moment = now or datetime.now(timezone.utc)
    age = (moment - renewed).total_seconds() if renewed else None
    return str(spec.get("holderIdentity") or ""), age
