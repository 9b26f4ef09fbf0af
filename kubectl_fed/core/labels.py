"""Kubernetes label requirements (In, NotIn, Exists, DoesNotExist, Gt, Lt), shared by
placement (clusterAffinity of policies) and overrides (targetClusters.clusterAffinity)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
INTEGER: Final = re.compile(r"[+-]?[0-9]+")
# apimachinery's IsQualifiedName / IsValidLabelValue / IsDNS1123Subdomain.
_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)


def key_problem(key: str) -> str | None:
    """Why `key` is not a valid label or annotation key (a qualified name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and len(prefix) <= 253 and DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"key {key!r}: the prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        return (
            f"key {key!r}: the name must be 1-63 characters of [A-Za-z0-9-_.], "
            "starting and ending with an alphanumeric"
        )
    return None


def value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None."""
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        return (
            f"label value {value!r}: at most 63 characters of [A-Za-z0-9-_.], "
            "starting and ending with an alphanumeric"
        )
    return None


def requirement_problem(operator: str, values: Sequence[str]) -> str | None:
    """Why `operator` with `values` is not a valid requirement, or None."""
    if operator not in OPERATORS:
        return f"unknown operator {operator!r}"
    if operator in ("In", "NotIn") and not values:
        return f"{operator} needs values"
    if operator in ("Exists", "DoesNotExist") and values:
        return f"{operator} takes no values"
    if operator in ("Gt", "Lt") and (len(values) != 1 or not INTEGER.fullmatch(values[0])):
        return f"{operator} needs exactly one integer value"
    return None


def requirement_matches(
    key: str, operator: str, values: Sequence[str], labels: Mapping[str, str]
) -> bool:
    """Whether labels satisfy a valid requirement; `NotIn` and `DoesNotExist` match an
    absent label, `Gt`/`Lt` never match a label that is not an integer."""
    value = labels.get(key)
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if value is None or not INTEGER.fullmatch(value):
        return False
    bound = int(values[0])
    return int(value) > bound if operator == "Gt" else int(value) < bound


class SelectorError(ValueError):
    """A label selector that does not parse."""


Requirement = tuple[str, str, tuple[str, ...]]  # key, operator (OPERATORS), values
_SET_TERM: Final = re.compile(r"\s*([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*")
_TERM: Final = re.compile(r"\s*(!?)\s*([^\s=!<>(),]+)\s*(?:(==|=|!=|>|<)\s*([^\s,]*))?\s*")


def parse_selector(text: str) -> list[Requirement]:
    """A label selector as kubectl takes it (`-l`): `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma-separated, all of which must match."""
    found: list[Requirement] = []
    rest = text.strip()
    while rest:
        term = _SET_TERM.match(rest) or _TERM.match(rest)
        if term is None or term.end() == 0:
            raise SelectorError(f"invalid label selector {text!r}")
        found.append(_requirement(term, text))
        rest = rest[term.end() :]
        if rest and not rest.startswith(","):
            raise SelectorError(f"invalid label selector {text!r}")
        rest = rest[1:].strip()
    return found


def _requirement(term: re.Match[str], text: str) -> Requirement:
    groups = term.groups()
    if len(groups) == 3:  # key in (values)
        key, op, raw = groups
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        operator = "In" if op == "in" else "NotIn"
    else:
        negated, key, op, value = groups
        if negated and op:
            raise SelectorError(f"invalid label selector {text!r}")
        if not op:
            operator, values = ("DoesNotExist" if negated else "Exists"), ()
        else:
            operator = {"=": "In", "==": "In", "!=": "NotIn", ">": "Gt", "<": "Lt"}[op]
            values = (value,)
    problem = key_problem(key) or requirement_problem(operator, values)
    if problem:
        raise SelectorError(f"invalid label selector {text!r}: {problem}")
    return key, operator, values


def selector_matches(requirements: Sequence[Requirement], labels: Mapping[str, str]) -> bool:
    return all(requirement_matches(k, op, values, labels) for k, op, values in requirements)
