"""The one way timestamps are written and read: RFC 3339 UTC, as the Kubernetes API writes
them (`Time` to the second, `MicroTime` to the microsecond)."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """This moment, to the second (conditions, probe times)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime | None = None) -> str:
    """A MicroTime (a Lease's acquire and renew times): `moment`, by default this one."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    """A timestamp the API wrote (either precision); None for none."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
