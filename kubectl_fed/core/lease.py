"""The sync lease as data: its name, its duration, and reading a Lease object (for the
sync that holds or waits for it, and for `doctor`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

LEASE_NAME = "kubectl-fed-sync"
DURATION_S = 15


def stamp(moment: datetime | None = None) -> str:
    """A Lease's MicroTime: RFC 3339 with microseconds."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def describe(lease: dict[str, Any], now: datetime | None = None) -> tuple[str, float | None]:
    """(holder, seconds since its last renewal by the holder's clock) of a Lease object."""
    spec = lease.get("spec") or {}
    renewed = _parse(spec.get("renewTime"))
    moment = now or datetime.now(timezone.utc)
    age = (moment - renewed).total_seconds() if renewed else None
    return str(spec.get("holderIdentity") or ""), age


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
