"""The one way timestamps are written and read: RFC 3339 UTC, as the Kubernetes API writes
them (`Time` to the second, `MicroTime` to the microsecond)."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """This moment, to the second (conditions, probe times)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    """This moment, as a datetime (token lifetimes are compared with it)."""
    return datetime.now(timezone.utc)


def micro_time(moment: datetime | None = None) -> str:
    """A MicroTime (a Lease's acquire and renew times): `moment`, by default this one."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    """A timestamp the API wrote (either precision); None for none."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def human_duration(seconds: float) -> str:
    """A duration as kubectl prints AGE (apimachinery's HumanDuration): exact while it is
    short (2m17s, 3h5m, 2d4h), coarser as it grows (12m, 9h, 30d, 3y)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes, hours = whole // 60, whole // 3600
    if minutes < 10:
        return _pair(minutes, "m", whole % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _pair(hours // 24, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return _pair(hours // 24 // 365, "y", (hours // 24) % 365, "d")
    return f"{hours // 24 // 365}y"


def _pair(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"
