"""The one way timestamps are written: RFC 3339 UTC, as the Kubernetes API writes them."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """This moment, to the second (conditions, probe times)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
