"""RFC 6902 JSON patches over RFC 6901 pointers: the form every per-cluster override takes.

`apply_patches` is the one implementation, used for the patches overrides produce
(core/overrides.py) and for those a member copy is built with (core/propagation.py).
Paths a caller refuses (the override rules keep a member object the same object) cannot
be written. Any failure raises `PatchError`, whose message is one line.

Patches apply as KubeAdmiral applies them, with `github.com/evanphx/json-patch` at
v5.6.0 (its v4 API, the one KubeAdmiral's `ApplyJSONPatch` imports), where that library
is more lenient than RFC 6902: a patch without an `op` is a `replace`; a `replace` of a
key missing from an existing object adds it; array indexes are read as Go's `strconv.Atoi`
reads them (`+1`, `01`) and may count from the end (`-1` is the last element; for `add`,
`-1` is past it, like `-`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

Patch = dict[str, Any]

_ARRAY_INDEX = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi takes


class PatchError(ValueError):
    """A patch that cannot be applied, or a path that does not resolve; one line."""


def apply_patches(
    obj: dict[str, Any], patches: list[Patch], refused: Sequence[str] = ()
) -> dict[str, Any]:
    """`obj` with RFC 6902 patches applied (add, remove, replace, move, copy, test).

    Paths are JSON pointers (`~1` is `/`, `~0` is `~`); `-` appends to an array. Writing to
    a `refused` path (or to one of its parents) fails, reading it (test, copy from) does not.
    """
    refused_tokens = [path[1:].split("/") for path in refused]
    document: Any = copy.deepcopy(obj)
    for index, patch in enumerate(patches):
        try:
            document = _apply_one(document, patch, refused_tokens)
        except PatchError as error:
            raise PatchError(f"patch {index} ({_describe(patch)}): {error}") from None
    if not isinstance(document, dict):
        raise PatchError("the patches leave something other than an object")
    return document


def value_at(document: Any, path: str) -> Any:
    """The value a JSON pointer names; PatchError when there is none."""
    return _resolve(document, _tokens(path))


def escape(token: str) -> str:
    """A JSON pointer token (RFC 6901): label keys like `a.io/b` contain a slash."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _apply_one(document: Any, patch: Any, refused: list[list[str]]) -> Any:
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise PatchError("a patch must be an object")
    op, path = patch.get("op") or "replace", patch.get("path")
    if not isinstance(path, str):
        raise PatchError("a patch needs a path")
    tokens = _tokens(path)
    if op in ("add", "replace", "test") and "value" not in patch:
        raise PatchError(f"{op} needs a value")
    value = copy.deepcopy(patch.get("value"))
    if op == "test":
        if not _json_equal(_resolve(document, tokens), value):
            raise PatchError("test failed: the value differs")
        return document
    if op not in ("add", "remove", "replace", "move", "copy"):
        raise PatchError(f"unknown op {op!r}")
    _refuse(tokens, refused)
    if op in ("move", "copy"):
        source = _tokens(_from(patch))
        if op == "move":
            _refuse(source, refused)
            if tokens[: len(source)] == source and tokens != source:
                raise PatchError("cannot move a value into itself")
            value = _remove(document, source)
        else:
            value = copy.deepcopy(_resolve(document, source))
        return _add(document, tokens, value)
    if op == "replace":
        return _replace(document, tokens, value)
    if op == "remove":
        _remove(document, tokens)
        return document
    return _add(document, tokens, value)


def _replace(document: Any, tokens: list[str], value: Any) -> Any:
    """Set an array element that exists, or an object's key, present or not (the library
    KubeAdmiral uses adds a missing key rather than failing)."""
    if not tokens:
        return value
    parent, key = _resolve(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent[_index(key, len(parent))] = value
    else:
        raise PatchError(f"{_pointer(tokens[:-1])} is not an object or array")
    return document


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, key = _resolve(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent.insert(_index(key, len(parent), allow_end=True), value)
    else:
        raise PatchError(f"{_pointer(tokens[:-1])} is not an object or array")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    """Remove and return the value at `tokens`, which must exist."""
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, key = _resolve(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchError(
                f"no such path: {_pointer(tokens[:-1]) or 'the document'} has no {key!r}"
            )
        return parent.pop(key)
    if isinstance(parent, list):
        return parent.pop(_index(key, len(parent)))
    raise PatchError(f"{_pointer(tokens[:-1])} is not an object or array")


def _resolve(document: Any, tokens: list[str]) -> Any:
    node = document
    for depth, token in enumerate(tokens):
        if isinstance(node, dict):
            if token not in node:
                where = _pointer(tokens[:depth]) or "the document"
                raise PatchError(f"no such path: {where} has no {token!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node))]
        else:
            raise PatchError(f"{_pointer(tokens[:depth])} is not an object or array")
    return node


def _index(token: str, length: int, *, allow_end: bool = False) -> int:
    """An index into an array of `length`; adding may also name the end (`length` or `-`).
    A negative index counts from the end (of the array with the added element, for add)."""
    if token == "-" and allow_end:
        return length
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"{token!r} is not an array index")
    size = length + 1 if allow_end else length
    index = int(token)
    if index >= size or index < -size:
        raise PatchError(f"array index {token} is out of range")
    return index + size if index < 0 else index


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"bad path {path!r}: a JSON pointer starts with '/'")
    if re.search(r"~(?![01])", path):
        raise PatchError(f"bad path {path!r}: '~' must be written '~0'")
    return [unescape(token) for token in path[1:].split("/")]


def _pointer(tokens: list[str]) -> str:
    return "".join(f"/{escape(token)}" for token in tokens)


def _refuse(tokens: list[str], refused: list[list[str]]) -> None:
    """Writing a refused path, anything under it, or a parent holding it is refused."""
    for path in refused:
        common = min(len(tokens), len(path))
        if tokens[:common] == path[:common]:
            raise PatchError(f"{_pointer(path)} cannot be overridden")


def _from(patch: dict[str, Any]) -> str:
    source = patch.get("from")
    if not isinstance(source, str):
        raise PatchError(f"{patch.get('op')} needs a from")
    return source


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's, `true` is not `1`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    comparable = type(left) is type(right) or {type(left), type(right)} <= {int, float}
    return comparable and left == right


def _describe(patch: Any) -> str:
    if not isinstance(patch, dict):
        return "not an object"
    return f"{patch.get('op')} {patch.get('path')}"
