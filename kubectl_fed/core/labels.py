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
