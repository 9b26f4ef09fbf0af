"""Label and field selectors as the apiserver parses them, and object metadata checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY = re.compile(rf"({_PREFIX}/)?{_NAME}")
LABEL_VALUE = re.compile(rf"({_NAME})?")
DNS_SUBDOMAIN = re.compile(_PREFIX)
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # = != in notin exists !
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator == "exists":
            return value is not None
        if self.operator == "!":
            return value is None
        if self.operator in ("=", "in"):
            return value is not None and value in self.values
        return value is None or value not in self.values  # != and notin


_SET = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_EQUALITY = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$")
_EXISTS = re.compile(r"^(!?)\s*([^=!\s(),]+)$")


def _split(text: str) -> list[str]:
    """Requirements are separated by commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parenthesis in {text!r}")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise SelectorError(f"unbalanced parenthesis in {text!r}")
    return [*parts, current]


def _key(key: str, text: str) -> str:
    if not LABEL_KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
        raise SelectorError(f"invalid label key {key!r} in {text!r}")
    return key


def _value(value: str, text: str) -> str:
    if not LABEL_VALUE.fullmatch(value) or len(value) > 63:
        raise SelectorError(f"invalid label value {value!r} in {text!r}")
    return value


def parse_labels(text: str | None) -> list[Requirement]:
    """`a=b,c!=d,e in (f,g),h notin (i),j,!k`; the empty selector matches everything."""
    if not text or not text.strip():
        return []
    found = []
    for raw in _split(text):
        part = raw.strip()
        if not part:
            raise SelectorError(f"empty requirement in {text!r}")
        if match := _SET.match(part):
            values = tuple(_value(v.strip(), text) for v in match.group(3).split(","))
            found.append(Requirement(_key(match.group(1), text), match.group(2), values))
        elif match := _EQUALITY.match(part):
            operator = "!=" if match.group(2) == "!=" else "="
            value = _value(match.group(3), text)
            found.append(Requirement(_key(match.group(1), text), operator, (value,)))
        elif match := _EXISTS.match(part):
            operator = "!" if match.group(1) else "exists"
            found.append(Requirement(_key(match.group(2), text), operator))
        else:
            raise SelectorError(f"unable to parse requirement {part!r}")
    return found


def labels_match(requirements: list[Requirement], obj: Mapping[str, Any] | None) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in requirements)


FIELDS = ("metadata.name", "metadata.namespace", "status.phase")  # the last: pods only


def parse_fields(text: str | None) -> list[tuple[str, bool, str]]:
    """`metadata.name=x,metadata.namespace!=y` -> (field, equal, value)."""
    if not text or not text.strip():
        return []
    found = []
    for part in text.split(","):
        match = _EQUALITY.match(part.strip())
        if not match:
            raise SelectorError(f"invalid field selector {part!r}")
        field, operator, value = match.groups()
        if field not in FIELDS:
            raise SelectorError(f'field label not supported: "{field}"')
        found.append((field, operator != "!=", value))
    return found


def fields_match(requirements: list[tuple[str, bool, str]], obj: Mapping[str, Any]) -> bool:
    for field, equal, value in requirements:
        section, _, key = field.partition(".")
        actual = str((obj.get(section) or {}).get(key) or "")
        if (actual == value) != equal:
            return False
    return True


def metadata_problems(metadata: Mapping[str, Any], dns_label_name: bool = False) -> list[str]:
    """What the apiserver's ObjectMeta validation says about names, labels, annotations."""
    problems = []
    name = str(metadata.get("name") or "")
    pattern = DNS_LABEL if dns_label_name else DNS_SUBDOMAIN
    limit = 63 if dns_label_name else 253
    if name and (not pattern.fullmatch(name) or len(name) > limit):
        what = "RFC 1123 label" if dns_label_name else "RFC 1123 subdomain"
        problems.append(f'metadata.name: Invalid value: "{name}": a lowercase {what} must ...')
    labels = metadata.get("labels")
    if labels is not None and not isinstance(labels, dict):
        problems.append("metadata.labels: Invalid value: expected a map of strings")
        labels = {}
    for key, value in (labels or {}).items():
        if not LABEL_KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
            problems.append(f'metadata.labels: Invalid value: "{key}": name part must ...')
        if not isinstance(value, str) or not LABEL_VALUE.fullmatch(value) or len(value) > 63:
            problems.append(f'metadata.labels: Invalid value: "{value}": a valid label must ...')
    annotations = metadata.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        problems.append("metadata.annotations: Invalid value: expected a map of strings")
        annotations = {}
    for key, value in (annotations or {}).items():
        if not LABEL_KEY.fullmatch(key):
            problems.append(f'metadata.annotations: Invalid value: "{key}": name part must ...')
        if not isinstance(value, str):
            problems.append(f"metadata.annotations.{key}: Invalid value: must be a string")
    return problems
