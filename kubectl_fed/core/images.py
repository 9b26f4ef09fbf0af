"""Container image references, parsed and printed as KubeAdmiral does (for image overriders)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The grammar of github.com/distribution/reference, which KubeAdmiral parses images with.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII, Python's is not
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
_MAX_NAME_LENGTH = 255


class ImageError(ValueError):
    """Not an image reference; the message is one line."""


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
            raise ImageError(f"bad image reference {image!r}")
        registry, repository = _split_registry(match["name"])
        return cls(registry, repository, match["tag"] or "", match["digest"] or "")

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        text += f":{self.tag}" if self.tag else ""
        return text + (f"@{self.digest}" if self.digest else "")


def _split_registry(name: str) -> tuple[str, str]:
    """Only a first part with `.` or `:`, or `localhost`, is a registry: not `ealen/echo-server`."""
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost"):
        return first, rest
    return "", name
