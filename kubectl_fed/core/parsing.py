"""Parsing of command-line values that name labels and taints, kubectl-style."""

from __future__ import annotations

import re
from typing import Any

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
_PREFIX = r"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
LABEL_KEY = re.compile(f"^{_PREFIX}{_NAME}$")
LABEL_VALUE = re.compile(f"^({_NAME})?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ParseError(ValueError):
    """A malformed value; the message is one line and names the bad part."""


def check_label(key: str, value: str, what: str = "label") -> None:
    if not LABEL_KEY.match(key) or len(key) > 317:
        raise ParseError(f"invalid {what} key {key!r}")
    if not LABEL_VALUE.match(value) or len(value) > 63:
        raise ParseError(f"invalid {what} value {value!r} for key {key!r}")


def parse_labels(text: str | None) -> dict[str, str]:
    """`k=v,k2=v2` -> dict; every key and value checked as Kubernetes checks them."""
    labels: dict[str, str] = {}
    for item in _items(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise ParseError(f"invalid label {item!r}: expected key=value")
        check_label(key, value)
        labels[key] = value
    return labels


def parse_taint(item: str) -> tuple[dict[str, str], bool]:
    """`key[=value]:Effect[-]` or `key-` -> (taint, remove?)."""
    remove = item.endswith("-")
    body = item[:-1] if remove else item
    key_value, sep, effect = body.rpartition(":")
    if not sep:
        if remove:  # `key-` removes every effect of the key
            check_label(body, "", "taint")
            return {"key": body}, True
        raise ParseError(f"invalid taint {item!r}: expected key=value:Effect")
    if effect not in TAINT_EFFECTS:
        raise ParseError(f"invalid taint effect {effect!r}: use one of {', '.join(TAINT_EFFECTS)}")
    key, _, value = key_value.partition("=")
    check_label(key, value, "taint")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint, remove


def parse_taints(text: str | None) -> list[dict[str, str]]:
    taints = []
    for item in _items(text):
        taint, remove = parse_taint(item)
        if remove:
            raise ParseError(f"invalid taint {item!r}: removal is for `kubectl fed taint`")
        taints.append(taint)
    return taints


def apply_taint_changes(
    current: list[dict[str, Any]], changes: list[tuple[dict[str, str], bool]], overwrite: bool
) -> list[dict[str, Any]]:
    """Add or remove taints like `kubectl taint`: same key+effect is replaced only with
    `overwrite`; `key-` removes every effect of that key."""
    taints = [dict(t) for t in current]
    for taint, remove in changes:
        same = [t for t in taints if _same_taint(t, taint)]
        if remove:
            if not same:
                raise ParseError(f"taint {_describe(taint)} not found")
            taints = [t for t in taints if not _same_taint(t, taint)]
            continue
        if same and not overwrite:
            if all(t.get("value", "") == taint.get("value", "") for t in same):
                continue
            raise ParseError(f"taint {taint['key']}:{taint['effect']} exists: use --overwrite")
        taints = [t for t in taints if not _same_taint(t, taint)] + [taint]
    return taints


def _same_taint(existing: dict[str, Any], wanted: dict[str, str]) -> bool:
    if existing.get("key") != wanted["key"]:
        return False
    return "effect" not in wanted or existing.get("effect") == wanted["effect"]


def _describe(taint: dict[str, str]) -> str:
    return f"{taint['key']}:{taint['effect']}" if "effect" in taint else taint["key"]


def format_taint(taint: dict[str, Any]) -> str:
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds, from kubectl's --request-timeout forms: a plain integer is seconds (`10`,
    `0`: no limit), else a Go duration: `500ms`, `10s`, `1m30s`, `1.5h` (ns, us, ms, s, m,
    h). Negative durations are refused."""
    text = text.strip()
    if text.isdigit():
        return float(int(text))
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ParseError(f"invalid duration {text!r}: use e.g. 10s, 1m30s or 500ms")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def check_cluster_name(name: str) -> None:
    if not DNS_LABEL.match(name):
        raise ParseError(
            f"invalid cluster name {name!r}: use lowercase letters, digits and '-' (at most 63)"
        )


def _items(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]
