"""Kubernetes objects as plain dicts: how one is named, its API group, reading a field, and
the FNV-1 hash KubeAdmiral derives names and tie-breaks from."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

Object = dict[str, Any]


class ObjectKey(NamedTuple):
    """An object named everywhere by its API group, kind, namespace ("" when cluster-scoped)
    and name: a kind alone is ambiguous (Knative's `Service` next to the core Service)."""

    group: str
    kind: str
    namespace: str
    name: str


def key_of(obj: Object) -> tuple[str, str]:
    """(namespace, name) of an object: how it is found among objects of one kind."""
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name"))


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; the core group (`v1`) is the empty string."""
    group, _, _version = api_version.rpartition("/")
    return group


def api_group(obj: Object) -> str:
    """The API group of an object (from its apiVersion)."""
    return group_of(str(obj.get("apiVersion", "")))


def without_server_fields(obj: Object, metadata_fields: Iterable[str]) -> Object:
    """A deep copy of `obj` without its status and those metadata fields: the start of a
    template, whether from a host object or from a member's copy."""
    copied = copy.deepcopy(obj)
    copied.pop("status", None)
    metadata = copied.get("metadata")
    if isinstance(metadata, dict):
        for field in metadata_fields:
            metadata.pop(field, None)
    return copied


def field_at(obj: Any, *keys: str) -> Any:
    """The value under `keys`, None where anything on the way is missing or not a dict."""
    node: Any = obj
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


FNV32_OFFSET_BASIS: Final = 2166136261
FNV32_PRIME: Final = 16777619
_MASK32: Final = 0xFFFFFFFF


def fnv1_32(s: str) -> int:
    """32-bit FNV-1 (multiply, then xor) of the UTF-8 bytes of ``s``, as Go's ``fnv.New32``:
    KubeAdmiral's name suffixes and the planner's tie-breaks."""
    h = FNV32_OFFSET_BASIS
    for byte in s.encode():
        h = ((h * FNV32_PRIME) & _MASK32) ^ byte
    return h


def short_hash(value: object) -> str:
    """A short stable hash of JSON-able data: policy content, scheduling fingerprints."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
