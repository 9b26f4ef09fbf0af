"""What the read-only commands (status, get, explain, doctor) share: kubectl's spelling of
an object's name, reads of plain dicts, and asking many servers at once.

Nothing here writes. Each command module reads the host, and the members where it must,
and returns plain dataclasses that its cli/ module renders; the functions that only turn
dicts into verdicts are kept apart from the reading so they are tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Object = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")
MAX_PARALLEL = 16  # members (or access reviews) asked at once


def object_name(api_version: str, kind: str, name: str) -> str:
    """kubectl's `-o name` spelling: `deployment.apps/web`, `configmap/settings`."""
    return group_object_name(api_version.rpartition("/")[0], kind, name)


def group_object_name(group: str, kind: str, name: str) -> str:
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


def find_condition(status_: Object, kind: str) -> Object | None:
    for found in status_.get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    return None


def parallel(function: Callable[[T], R], items: list[T]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(function, items))
