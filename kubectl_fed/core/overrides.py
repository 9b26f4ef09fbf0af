"""OverridePolicy and ClusterOverridePolicy: the RFC 6902 patches a cluster gets, and applying them.

Semantics follow KubeAdmiral's override controller, with one deliberate difference: each
overrider sees the effect of the ones before it (KubeAdmiral computes every overrider kind
from the untouched template), because patches are generated against a working copy.
Any failure raises `OverrideError`, whose one-line message the sync loop records as
`ApplyOverridesFailed`. The patches themselves are applied by core/jsonpatch.py, image
references parsed by core/images.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from kubectl_fed.core.followers import pod_spec_path
from kubectl_fed.core.images import ImageError, ImageReference
from kubectl_fed.core.jsonpatch import Patch, PatchError, apply_patches, escape, value_at
from kubectl_fed.core.labels import (
    key_problem,
    requirement_matches,
    requirement_problem,
    value_problem,
)
from kubectl_fed.core.objects import field_at

# Changing these would make the member object a different object, or another kind.
REFUSED_PATHS = ("/metadata/name", "/metadata/namespace", "/metadata/generateName", "/kind")


class OverrideError(ValueError):
    """An override that cannot be computed or applied; the message is one line."""


def rule_matches(
    target_clusters: dict[str, Any] | None, cluster_name: str, cluster_labels: dict[str, str]
) -> bool:
    """Whether an override rule's `targetClusters` selects the cluster.

    `clusters` (names), `clusterSelector` (labels that must all be equal) and
    `clusterAffinity` (terms ORed, expressions in a term ANDed) must all match; an empty
    criterion matches every cluster, an empty affinity term matches none. A label key or
    value in the selector or the affinity that is not well-formed is an OverrideError (as
    KubeAdmiral's override controller fails on it), once the names have matched.
    """
    if not target_clusters:
        return True
    # `clusterNames` is the spelling of KubeAdmiral's first releases; both count.
    names = _list(target_clusters.get("clusters"), "targetClusters.clusters") + _list(
        target_clusters.get("clusterNames"), "targetClusters.clusterNames"
    )
    if names and cluster_name not in names:
        return False
    selector = _string_dict(
        target_clusters.get("clusterSelector"), "targetClusters.clusterSelector"
    )
    for key, value in selector.items():
        # KubeAdmiral builds a label selector from it, which refuses malformed labels.
        problem = key_problem(key) or value_problem(value)
        if problem:
            raise OverrideError(f"targetClusters.clusterSelector: {problem}")
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
                working = apply_patches(working, produced, REFUSED_PATHS)
            except (OverrideError, PatchError, ImageError) as error:
                raise OverrideError(f"{where}: {error}") from None
            patches.extend(produced)
    return patches


def apply_overrides(obj: dict[str, Any], patches: list[Patch]) -> dict[str, Any]:
    """`obj` with the patches of its overrides applied (core/jsonpatch.py), none of which
    may write a REFUSED_PATHS entry (or a parent of one); OverrideError otherwise."""
    try:
        return apply_patches(obj, patches, REFUSED_PATHS)
    except PatchError as error:
        raise OverrideError(str(error)) from None


# --- policies, rules, overriders ---------------------------------------------------------

MakePatches = Callable[[dict[str, Any], dict[str, Any]], list[Patch]]


def _overriders(
    policy: dict[str, Any], cluster_name: str, cluster_labels: dict[str, str]
) -> Iterator[tuple[str, MakePatches, Any]]:
    """(where, patch maker, overrider) for each overrider of the rules matching the cluster."""
    where = f"{policy.get('kind') or 'OverridePolicy'} {field_at(policy, 'metadata', 'name') or ''}"
    try:
        rules = _list(field_at(policy, "spec", "overrideRules"), "spec.overrideRules")
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
        current = value_at(obj, path)
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

_IMAGE_COMPONENTS = {
    "Registry": "registry",
    "Repository": "repository",
    "Tag": "tag",
    "Digest": "digest",
}


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
    # The result must still be a reference, or nothing at all: KubeAdmiral prints every
    # part deleted as an empty image (which a workload template may have; a pod may not).
    if str(image):
        ImageReference.parse(str(image))
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
    spec = value_at(obj, pointer)
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
    path = f"{parent_path}/{escape(key)}"
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
    # As KubeAdmiral's label selector: a malformed key or value is an error, not a mismatch.
    problem = key_problem(key) or next(filter(None, map(value_problem, values)), None)
    if problem:
        raise OverrideError(f"clusterAffinity: {problem}")
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


def _string_dict(value: Any, what: str) -> dict[str, str]:
    mapping = _dict(value, what)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise OverrideError(f"{what} must map strings to strings")
    return dict(mapping)
