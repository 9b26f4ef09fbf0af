"""OverridePolicy and ClusterOverridePolicy: the RFC 6902 patches a cluster gets, and applying them.

Semantics follow KubeAdmiral's override controller, with one deliberate difference: each
overrider sees the effect of the ones before it (KubeAdmiral computes every overrider kind
from the untouched template), because patches are generated against a working copy.
Any failure raises `OverrideError`, whose one-line message the sync loop records as
`ApplyOverridesFailed`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kubectl_fed.core.followers import pod_spec_path
from kubectl_fed.core.labels import (
    key_problem,
    requirement_matches,
    requirement_problem,
    value_problem,
)

# Changing these would make the member object a different object, or another kind.
REFUSED_PATHS = ("/metadata/name", "/metadata/namespace", "/metadata/generateName", "/kind")


class OverrideError(ValueError):
    """An override that cannot be computed or applied; the message is one line."""


Patch = dict[str, Any]


def rule_matches(
    target_clusters: dict[str, Any] | None, cluster_name: str, cluster_labels: dict[str, str]
) -> bool:
    """Whether an override rule's `targetClusters` selects the cluster.

    `clusters` (names), `clusterSelector` (labels that must all be equal) and
    `clusterAffinity` (terms ORed, expressions in a term ANDed) must all match; an empty
    criterion matches every cluster, an empty affinity term matches none.
    """
    if not target_clusters:
        return True
    # `clusterNames` is the spelling of KubeAdmiral's first releases; both count.
    names = _list(target_clusters.get("clusters"), "targetClusters.clusters") + _list(
        target_clusters.get("clusterNames"), "targetClusters.clusterNames"
    )
    if names and cluster_name not in names:
        return False
    selector = _dict(target_clusters.get("clusterSelector"), "targetClusters.clusterSelector")
    if any(key not in cluster_labels or cluster_labels[key] != v for key, v in selector.items()):
        return False
    terms = _list(target_clusters.get("clusterAffinity"), "targetClusters.clusterAffinity")
    return not terms or any(_term_matches(term, cluster_name, cluster_labels) for term in terms)


def patches_for_cluster(
    obj: dict[str, Any],
    policies: list[dict[str, Any]],
    cluster_name: str,
    cluster_labels: dict[str, str],
) -> list[Patch]:
    """The JSON patches the policies make for one cluster, in the order they apply.

    ClusterOverridePolicies come first, then OverridePolicies, each in the given order;
    within a policy, rule by rule; within a rule, overriders in this order: image,
    command, args, envs, annotations, labels, jsonpatch. An overrider that changes nothing
    adds no patch.
    """
    working = copy.deepcopy(obj)
    patches: list[Patch] = []
    for policy in sorted(policies, key=lambda p: p.get("kind") != "ClusterOverridePolicy"):
        for where, make_patches, overrider in _overriders(policy, cluster_name, cluster_labels):
            try:
                produced = make_patches(working, _dict(overrider, "an overrider"))
                working = apply_patches(working, produced)
            except OverrideError as error:
                raise OverrideError(f"{where}: {error}") from None
            patches.extend(produced)
    return patches


def apply_patches(obj: dict[str, Any], patches: list[Patch]) -> dict[str, Any]:
    """`obj` with RFC 6902 patches applied (add, remove, replace, move, copy, test).

    Paths are JSON pointers (`~1` is `/`, `~0` is `~`); `-` appends to an array. Writing to
    a refused path (or to one of its parents) fails, reading it (test, copy from) does not.
    """
    document: Any = copy.deepcopy(obj)
    for index, patch in enumerate(patches):
        try:
            document = _apply_one(document, patch)
        except OverrideError as error:
            raise OverrideError(f"patch {index} ({_describe(patch)}): {error}") from None
    if not isinstance(document, dict):
        raise OverrideError("the patches leave something other than an object")
    return document


# --- policies, rules, overriders ---------------------------------------------------------

MakePatches = Callable[[dict[str, Any], dict[str, Any]], list[Patch]]


def _overriders(
    policy: dict[str, Any], cluster_name: str, cluster_labels: dict[str, str]
) -> Iterator[tuple[str, MakePatches, Any]]:
    """(where, patch maker, overrider) for each overrider of the rules matching the cluster."""
    where = f"{policy.get('kind') or 'OverridePolicy'} {_field(policy, 'metadata', 'name') or ''}"
    try:
        rules = _list(_field(policy, "spec", "overrideRules"), "spec.overrideRules")
    except OverrideError as error:
        raise OverrideError(f"{where}: {error}") from None
    for index, rule in enumerate(rules):
        try:
            matched = _matched_overriders(_dict(rule, "a rule"), cluster_name, cluster_labels)
        except OverrideError as error:
            raise OverrideError(f"{where} rule {index}: {error}") from None
        for field, position, make_patches, overrider in matched:
            yield f"{where} rule {index} {field}[{position}]", make_patches, overrider


def _matched_overriders(
    rule: dict[str, Any], cluster_name: str, cluster_labels: dict[str, str]
) -> list[tuple[str, int, MakePatches, Any]]:
    """(field, position, patch maker, overrider) in the order overriders apply; [] if no match."""
    if not rule_matches(rule.get("targetClusters"), cluster_name, cluster_labels):
        return []
    overriders = _dict(rule.get("overriders"), "overriders")
    return [
        (field, position, make_patches, overrider)
        for field, make_patches in _OVERRIDERS
        for position, overrider in enumerate(_list(overriders.get(field), field))
    ]


def _image_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    operations = [
        _dict(op, "an image operation") for op in _list(overrider.get("operations"), "operations")
    ]
    image_path = overrider.get("imagePath")
    if image_path:
        paths = [str(image_path)]
    else:
        names = _list(overrider.get("containerNames"), "containerNames")
        containers = list(_containers(obj))
        missing = sorted(set(names) - {c.get("name") for _, c in containers})
        if missing:
            raise OverrideError(f"no container named {', '.join(map(str, missing))}")
        paths = [f"{path}/image" for path, c in containers if not names or c.get("name") in names]
    patches = []
    for path in paths:
        current = _get(obj, path)
        if not isinstance(current, str):
            raise OverrideError(f"{path} is not an image string")
        new = str(_override_image(ImageReference.parse(current), operations))
        if new != current:
            patches.append({"op": "replace", "path": path, "value": new})
    return patches


def _command_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    return _entrypoint_patches(obj, overrider, "command")


def _args_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    return _entrypoint_patches(obj, overrider, "args")


def _entrypoint_patches(obj: dict[str, Any], overrider: dict[str, Any], field: str) -> list[Patch]:
    path, container = _container_named(obj, overrider.get("containerName"))
    old = [str(item) for item in _list(container.get(field), field)]
    value = [str(item) for item in _list(overrider.get("value"), "value")]
    operator = overrider.get("operator") or "overwrite"
    if operator == "append":
        if not value:
            raise OverrideError("append needs a non-empty value")
        new = old + value
    elif operator == "overwrite":
        new = value
    elif operator == "delete":
        new = [item for item in old if item not in value]
    else:
        raise OverrideError(f"unknown operator {operator!r} (use append, overwrite or delete)")
    return _set_member(path, container, field, new)


def _env_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    path, container = _container_named(obj, overrider.get("containerName"))
    old = [_env_var(env) for env in _list(container.get("env"), "env")]
    value = [_env_var(env) for env in _list(overrider.get("value"), "value")]
    new = _override_envs(old, overrider.get("operator") or "overwrite", value)
    return _set_member(path, container, "env", new)


def _annotation_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    return _string_map_patches(obj, overrider, "annotations")


def _label_patches(obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    return _string_map_patches(obj, overrider, "labels")


def _string_map_patches(obj: dict[str, Any], overrider: dict[str, Any], field: str) -> list[Patch]:
    metadata = _dict(obj.get("metadata"), "metadata")
    old = _string_dict(metadata.get(field), f"metadata.{field}")
    value = _string_dict(overrider.get("value"), "value")
    for key, text in value.items():
        problem = key_problem(key) or (value_problem(text) if field == "labels" else None)
        if problem:
            raise OverrideError(problem)
    new = _override_string_map(old, overrider.get("operator") or "overwrite", value)
    return _set_member("/metadata", metadata, field, new)


def _jsonpatch_patches(_obj: dict[str, Any], overrider: dict[str, Any]) -> list[Patch]:
    operator = overrider.get("operator") or "replace"
    if operator not in ("add", "remove", "replace"):
        raise OverrideError(f"unknown operator {operator!r} (use add, remove or replace)")
    path = overrider.get("path")
    if not isinstance(path, str):
        raise OverrideError("a jsonpatch overrider needs a path")
    patch: Patch = {"op": operator, "path": path}
    if operator != "remove":
        patch["value"] = copy.deepcopy(overrider.get("value"))
    return [patch]


_OVERRIDERS: tuple[tuple[str, MakePatches], ...] = (
    ("image", _image_patches),
    ("command", _command_patches),
    ("args", _args_patches),
    ("envs", _env_patches),
    ("annotations", _annotation_patches),
    ("labels", _label_patches),
    ("jsonpatch", _jsonpatch_patches),
)


# --- operators ------------------------------------------------------------------------------


def _override_envs(
    old: list[dict[str, Any]], operator: str, value: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """KubeAdmiral's env operators: overwrite replaces only variables already there."""
    if operator == "addIfAbsent":
        if not value:
            raise OverrideError("addIfAbsent needs a non-empty value")
        new = list(old)
        for env in value:
            if any(existing["name"] == env["name"] for existing in new):
                raise OverrideError(f"addIfAbsent: env {env['name']!r} already exists")
            new.append(env)
        return new
    if operator == "overwrite":
        replacements = {env["name"]: env for env in value}
        return [replacements.get(env["name"], env) for env in old]
    if operator == "delete":
        deleted = {env["name"] for env in value}
        return [env for env in old if env["name"] not in deleted]
    raise OverrideError(f"unknown operator {operator!r} (use addIfAbsent, overwrite or delete)")


def _override_string_map(
    old: dict[str, str], operator: str, value: dict[str, str]
) -> dict[str, str]:
    """KubeAdmiral's label/annotation operators: overwrite replaces only keys already there."""
    if operator == "addIfAbsent":
        if not value:
            raise OverrideError("addIfAbsent needs a non-empty value")
        clash = sorted(set(value) & set(old))
        if clash:
            raise OverrideError(f"addIfAbsent: key {clash[0]!r} already exists")
        return {**old, **value}
    if operator == "overwrite":
        return {key: value.get(key, current) for key, current in old.items()}
    if operator == "delete":
        return {key: current for key, current in old.items() if key not in value}
    raise OverrideError(f"unknown operator {operator!r} (use addIfAbsent, overwrite or delete)")


def _override_component(old: str, operator: str, value: str, component: str) -> str:
    if operator == "addIfAbsent":
        if not value:
            raise OverrideError(f"addIfAbsent {component} needs a value")
        if old:
            # KubeAdmiral refuses rather than skips: the rule's author expected no value.
            raise OverrideError(f"addIfAbsent {component}: the image already has {old!r}")
        return value
    if operator == "overwrite":
        return value
    if operator == "delete":
        return ""
    raise OverrideError(f"unknown operator {operator!r} (use addIfAbsent, overwrite or delete)")


# --- image references -----------------------------------------------------------------------

# The grammar of github.com/distribution/reference, which KubeAdmiral parses images with.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII, Python's is not
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
_MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class ImageReference:
    """`[registry/]repository[:tag][@digest]`, split as KubeAdmiral splits it."""

    registry: str
    repository: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, image: str) -> ImageReference:
        match = _REFERENCE.fullmatch(image)
        if not match or len(match["name"]) > _MAX_NAME_LENGTH:
            raise OverrideError(f"bad image reference {image!r}")
        registry, repository = _split_registry(match["name"])
        return cls(registry, repository, match["tag"] or "", match["digest"] or "")

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        text += f":{self.tag}" if self.tag else ""
        return text + (f"@{self.digest}" if self.digest else "")


_IMAGE_COMPONENTS = {
    "Registry": "registry",
    "Repository": "repository",
    "Tag": "tag",
    "Digest": "digest",
}


def _split_registry(name: str) -> tuple[str, str]:
    """Only a first part with `.` or `:`, or `localhost`, is a registry: not `ealen/echo-server`."""
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost"):
        return first, rest
    return "", name


def _override_image(image: ImageReference, operations: list[dict[str, Any]]) -> ImageReference:
    for operation in operations:
        component = operation.get("imageComponent")
        field = _IMAGE_COMPONENTS.get(str(component))
        if field is None:
            raise OverrideError(
                f"unknown imageComponent {component!r} (use Registry, Repository, Tag or Digest)"
            )
        operator = operation.get("operator") or "overwrite"
        new = _override_component(
            getattr(image, field), operator, str(operation.get("value") or ""), str(component)
        )
        image = replace(image, **{field: new})
    ImageReference.parse(str(image))  # the result must still be a reference
    return image


# --- pod spec and containers ------------------------------------------------------------------


def _containers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, container) for init containers then containers, as KubeAdmiral orders them."""
    spec_path = pod_spec_path(obj)
    if spec_path is None:
        raise OverrideError(
            f"kind {obj.get('kind')!r} has no pod template (give imagePath or use jsonpatch)"
        )
    pointer = "/" + "/".join(spec_path)
    spec = _get(obj, pointer)
    if not isinstance(spec, dict):
        raise OverrideError(f"no pod spec at {pointer}")
    for list_name in ("initContainers", "containers"):
        for index, container in enumerate(_list(spec.get(list_name), list_name)):
            yield f"{pointer}/{list_name}/{index}", _dict(container, "a container")


def _container_named(obj: dict[str, Any], name: Any) -> tuple[str, dict[str, Any]]:
    """The first (init) container of that name.

    KubeAdmiral and Karmada skip a missing container in silence; here it is an error, so
    a misspelt name is reported instead of a member running without its override.
    """
    if not name:
        raise OverrideError("containerName is required")
    found = next(((path, c) for path, c in _containers(obj) if c.get("name") == name), None)
    if found is None:
        raise OverrideError(f"no container named {name}")
    return found


def _env_var(env: Any) -> dict[str, Any]:
    env = _dict(env, "an env entry")
    if not isinstance(env.get("name"), str):
        raise OverrideError("an env entry needs a name")
    return copy.deepcopy(env)


def _set_member(parent_path: str, parent: dict[str, Any], key: str, new: Any) -> list[Patch]:
    """The patch setting `parent[key]` to `new`: none if unchanged, `add` if the key is absent."""
    path = f"{parent_path}/{_escape(key)}"
    if key in parent:
        return [] if parent[key] == new else [{"op": "replace", "path": path, "value": new}]
    return [{"op": "add", "path": path, "value": new}] if new else []


# --- target clusters ----------------------------------------------------------------------------


def _term_matches(term: Any, cluster_name: str, cluster_labels: dict[str, str]) -> bool:
    term = _dict(term, "a clusterAffinity term")
    expressions = _list(term.get("matchExpressions"), "matchExpressions")
    fields = _list(term.get("matchFields"), "matchFields")
    if not expressions and not fields:
        return False
    # Evaluate every requirement so that a malformed one is reported even after a mismatch.
    results = [_requirement_matches(_dict(e, "an expression"), cluster_labels) for e in expressions]
    results += [_field_matches(_dict(f, "a field expression"), cluster_name) for f in fields]
    return all(results)


def _requirement_matches(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, operator = str(expression.get("key") or ""), str(expression.get("operator") or "")
    values = [str(v) for v in _list(expression.get("values"), "values")]
    if not key:
        raise OverrideError("a clusterAffinity expression needs a key")
    problem = requirement_problem(operator, values)
    if problem:
        raise OverrideError(f"{problem} (on {key!r})")
    return requirement_matches(key, operator, values, labels)


def _field_matches(expression: dict[str, Any], cluster_name: str) -> bool:
    """KubeAdmiral's cluster field selector: `metadata.name` In/NotIn one value."""
    key, operator = expression.get("key"), str(expression.get("operator") or "")
    values = _list(expression.get("values"), "values")
    if key != "metadata.name":
        raise OverrideError(f"matchFields supports only metadata.name, not {key!r}")
    if operator not in ("In", "NotIn") or len(values) != 1:
        raise OverrideError("matchFields takes In or NotIn with exactly one value")
    return (cluster_name == str(values[0])) == (operator == "In")


# --- RFC 6902 -----------------------------------------------------------------------------------

_REFUSED_TOKENS = tuple(path[1:].split("/") for path in REFUSED_PATHS)
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _apply_one(document: Any, patch: Any) -> Any:
    patch = _dict(patch, "a patch")
    op, path = patch.get("op"), patch.get("path")
    if not isinstance(path, str):
        raise OverrideError("a patch needs a path")
    tokens = _tokens(path)
    if op in ("add", "replace", "test") and "value" not in patch:
        raise OverrideError(f"{op} needs a value")
    value = copy.deepcopy(patch.get("value"))
    if op == "test":
        if not _json_equal(_resolve(document, tokens), value):
            raise OverrideError("test failed: the value differs")
        return document
    if op not in ("add", "remove", "replace", "move", "copy"):
        raise OverrideError(f"unknown op {op!r}")
    _refuse(tokens)
    if op in ("move", "copy"):
        source = _tokens(_from(patch))
        if op == "move":
            _refuse(source)
            if tokens[: len(source)] == source and tokens != source:
                raise OverrideError("cannot move a value into itself")
            value = _remove(document, source)
        else:
            value = copy.deepcopy(_resolve(document, source))
        return _add(document, tokens, value)
    if op in ("remove", "replace"):
        _remove(document, tokens)
    return document if op == "remove" else _add(document, tokens, value)


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, key = _resolve(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent.insert(_index(key, len(parent), allow_end=True), value)
    else:
        raise OverrideError(f"{_pointer(tokens[:-1])} is not an object or array")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    """Remove and return the value at `tokens`, which must exist."""
    if not tokens:
        raise OverrideError("cannot remove the whole document")
    parent, key = _resolve(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise OverrideError(
                f"no such path: {_pointer(tokens[:-1]) or 'the document'} has no {key!r}"
            )
        return parent.pop(key)
    if isinstance(parent, list):
        return parent.pop(_index(key, len(parent)))
    raise OverrideError(f"{_pointer(tokens[:-1])} is not an object or array")


def _resolve(document: Any, tokens: list[str]) -> Any:
    node = document
    for depth, token in enumerate(tokens):
        if isinstance(node, dict):
            if token not in node:
                where = _pointer(tokens[:depth]) or "the document"
                raise OverrideError(f"no such path: {where} has no {token!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node))]
        else:
            raise OverrideError(f"{_pointer(tokens[:depth])} is not an object or array")
    return node


def _get(document: Any, path: str) -> Any:
    return _resolve(document, _tokens(path))


def _index(token: str, length: int, *, allow_end: bool = False) -> int:
    """An index into an array of `length`; adding may also name the end (`length` or `-`)."""
    if token == "-" and allow_end:
        return length
    if not _ARRAY_INDEX.fullmatch(token):
        raise OverrideError(f"{token!r} is not an array index")
    if int(token) > length or (int(token) == length and not allow_end):
        raise OverrideError(f"array index {token} is out of range")
    return int(token)


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise OverrideError(f"bad path {path!r}: a JSON pointer starts with '/'")
    if re.search(r"~(?![01])", path):
        raise OverrideError(f"bad path {path!r}: '~' must be written '~0'")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(tokens: list[str]) -> str:
    return "".join(f"/{_escape(token)}" for token in tokens)


def _refuse(tokens: list[str]) -> None:
    """Writing a refused path, anything under it, or a parent holding it is refused."""
    for refused in _REFUSED_TOKENS:
        common = min(len(tokens), len(refused))
        if tokens[:common] == refused[:common]:
            raise OverrideError(f"{_pointer(refused)} cannot be overridden")


def _from(patch: dict[str, Any]) -> str:
    source = patch.get("from")
    if not isinstance(source, str):
        raise OverrideError(f"{patch.get('op')} needs a from")
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


# --- shapes -----------------------------------------------------------------------------------


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OverrideError(f"{what} must be a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OverrideError(f"{what} must be an object")
    return value


def _field(obj: dict[str, Any], *keys: str) -> Any:
    """The value under `keys`, None where anything is missing."""
    node: Any = obj
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _string_dict(value: Any, what: str) -> dict[str, str]:
    mapping = _dict(value, what)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise OverrideError(f"{what} must map strings to strings")
    return dict(mapping)
