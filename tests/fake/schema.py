"""Structural-schema handling of custom resources, as the apiserver does it on every write:
prune unknown fields, drop nulls of non-nullable fields, apply defaults, then validate
(type, required, enum, minimum/maximum, length, items). CEL rules are not evaluated."""

from __future__ import annotations

import copy
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    wanted = schema.get("type")
    if not wanted:
        return True
    if wanted in ("integer", "number") and isinstance(value, bool):
        return False
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(wanted, (object,)))


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def apply_schema(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Prune and default `obj` in place; return the validation errors (field: message)."""
    if not schema:
        return []
    errors: list[str] = []
    _walk(obj, schema, "", errors, root=True)
    return errors


def _walk(
    value: Any, schema: dict[str, Any], path: str, errors: list[str], root: bool = False
) -> None:
    where = path or "<root>"
    if not _type_ok(value, schema):
        errors.append(
            f"{where}: Invalid value: {_show(value)}: {where} in body must be of type "
            f"{schema.get('type')}"
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_show(v) for v in schema["enum"])
        errors.append(f"{where}: Unsupported value: {_show(value)}: supported values: {supported}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                f"{where}: Invalid value: {value}: {where} in body should be greater "
                f"than or equal to {schema['minimum']}"
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                f"{where}: Invalid value: {value}: {where} in body should be less "
                f"than or equal to {schema['maximum']}"
            )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: Too long: may not be more than {schema['maxLength']} bytes")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                f"{where}: Invalid value: {_show(value)}: {where} in body should be "
                f"at least {schema['minLength']} chars long"
            )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(
                f"{where}: Too many: {len(value)}: must have at most {schema['maxItems']} items"
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                f"{where}: Invalid value: {where} in body should have at least "
                f"{schema['minItems']} items"
            )
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk(item, items, f"{path}[{index}]", errors)
    if isinstance(value, dict):
        _object(value, schema, path, errors, root)


def _object(
    value: dict[str, Any], schema: dict[str, Any], path: str, errors: list[str], root: bool
) -> None:
    properties: dict[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    for key in list(value):
        child = value[key]
        sub = properties.get(key)
        if sub is None and isinstance(additional, dict):
            sub = additional
        if (root or embedded) and key in ("apiVersion", "kind", "metadata"):
            if key == "metadata" and isinstance(child, dict) and sub:
                _metadata(child, sub, f"{path}.metadata".lstrip("."), errors)
            continue
        if sub is None:
            if not preserve and additional is not True:
                del value[key]  # pruned, as the apiserver does
            continue
        if child is None and not sub.get("nullable"):
            del value[key]
            continue
        _walk(child, sub, f"{path}.{key}".lstrip("."), errors)
    for key, sub in properties.items():
        if key not in value and isinstance(sub, dict) and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
            _walk(value[key], sub, f"{path}.{key}".lstrip("."), errors)
    for key in schema.get("required") or []:
        if key not in value:
            errors.append(f"{(path + '.' if path else '')}{key}: Required value")


def _metadata(
    metadata: dict[str, Any], schema: dict[str, Any], path: str, errors: list[str]
) -> None:
    """ObjectMeta is never pruned; only the constraints a CRD adds on it are checked."""
    for key, sub in (schema.get("properties") or {}).items():
        if key in metadata and isinstance(sub, dict):
            probe = {key: metadata[key]}
            _walk(probe, {"type": "object", "properties": {key: sub}}, path, errors)
