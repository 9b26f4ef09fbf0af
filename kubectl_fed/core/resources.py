"""Resolving what a user types (`deploy`, `deployments.apps`, `svc/web`) against discovery."""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]  # as kube.client discovery returns: group, version, kind, plural...


class UnknownType(ValueError):
    pass


def resolve_type(resources: list[Resource], text: str) -> Resource:
    """kubectl's matching: plural, singular, kind or short name, optionally `.group`.

    Discovery lists a group's preferred version first, so the first match wins.
    """
    wanted = text.strip().lower()
    name, _, group = wanted.partition(".")
    for resource in resources:
        if group and resource["group"] != group and not resource["group"].startswith(group):
            continue
        names = {
            resource["plural"],
            resource.get("singular") or "",
            resource["kind"].lower(),
            *resource.get("shortNames", []),
        }
        if name in names and "/" not in resource["plural"]:
            return resource
    raise UnknownType(f'the server does not have a resource type "{text}"')


def split_reference(text: str) -> tuple[str, str | None]:
    """`deploy/web` -> ("deploy", "web"); `deploy` -> ("deploy", None)."""
    kind, sep, name = text.partition("/")
    if sep and not name:
        raise UnknownType(f"invalid reference {text!r}: expected TYPE/NAME")
    return kind, (name or None)


def describe(resource: Resource) -> str:
    return f"{resource['plural']}.{resource['group']}" if resource["group"] else resource["plural"]
