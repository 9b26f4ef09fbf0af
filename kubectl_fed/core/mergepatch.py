"""RFC 7386 JSON merge patches computed as the difference of two documents."""

from __future__ import annotations

from typing import Any


def merge_patch(old: Any, new: Any) -> Any:
    """The merge patch that turns `old` into `new`: changed keys, nulls for removed ones.

    Lists are replaced whole (RFC 7386 has no list operations). An empty dict means
    "no change" when both sides are objects.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            if isinstance(old[key], dict) and isinstance(value, dict):
                patch[key] = merge_patch(old[key], value)
            else:
                patch[key] = value
    return patch


def replacing(old: Any, new: Any) -> Any:
    """A merge patch that sets `new` whole, whatever the server holds of it, and removes
    what `old` had beyond it: `new` with nulls for the keys of `old` it lacks, at every
    depth (a merge patch alone leaves a key out of `{}` in place)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        patch[key] = replacing(old.get(key), value)
    return patch
