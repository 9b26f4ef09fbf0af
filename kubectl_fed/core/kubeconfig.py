"""Kubeconfig documents merged, and a context resolved into what it takes to reach its
cluster (a Target). Pure: the files a context names (token, certificates) are read through
the `read_file` the caller passes; kube/connect.py reads the documents and those files.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ReadFile = Callable[[Path], bytes]


@dataclass(frozen=True)
class Credentials:
    """What it takes to reach one cluster. Never printed: see __repr__."""

    server: str
    ca_data: bytes | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    token: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:
        return f"Credentials(server={self.server!r}, <redacted>)"


class NotCopyable(ValueError):
    """The context authenticates in a way that cannot be stored in a Secret."""


class ContextNotFound(ValueError):
    pass


def merge(documents: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """Merge kubeconfig files as kubectl does for KUBECONFIG lists: first name wins.
    Each entry remembers its file so relative paths resolve against it."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current": None}
    for path, doc in documents:
        for section in ("clusters", "users", "contexts"):
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in merged[section]:
                    merged[section][entry["name"]] = (path, entry.get(section[:-1]) or {})
        merged["current"] = merged["current"] or doc.get("current-context")
    return merged


@dataclass(frozen=True)
class Target:
    """How to reach one cluster: a kubeconfig context, or a member as its Secret describes
    it (then only `credentials` is set). Never printed: see __repr__."""

    context: str  # the context's name, or the member's
    credentials: Credentials
    basic_auth: tuple[str, str] | None = None
    tls_server_name: str | None = None
    proxy_url: str | None = None
    plugin: str | None = None  # "exec" or "auth-provider": a plugin supplies the identity

    def __repr__(self) -> str:
        return f"Target(context={self.context!r}, server={self.credentials.server!r}, <redacted>)"


def resolve_context(merged: dict[str, Any], context: str | None, read_file: ReadFile) -> Target:
    """Everything a context says about reaching its cluster; the files it names are read
    with `read_file`, relative paths against the kubeconfig that names them."""
    name = context or merged["current"]
    if not name:
        raise ContextNotFound("the kubeconfig has no current-context: pass --context")
    _, ctx = _context(merged, name)
    cluster_file, cluster = _lookup(merged, "clusters", ctx.get("cluster"), name)
    user_file, user = _lookup(merged, "users", ctx.get("user"), name, optional=True)
    token = user.get("token") or _read_text(read_file, user_file, user.get("tokenFile"))
    basic = (str(user["username"]), str(user.get("password", ""))) if user.get("username") else None
    return Target(
        context=name,
        credentials=Credentials(
            server=str(cluster.get("server", "")),
            ca_data=_data(read_file, cluster_file, cluster, "certificate-authority"),
            cert_data=_data(read_file, user_file, user, "client-certificate"),
            key_data=_data(read_file, user_file, user, "client-key"),
            token=token.strip() if token else None,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        ),
        basic_auth=basic,
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy_url=cluster.get("proxy-url") or None,
        plugin=next((p for p in ("exec", "auth-provider") if user.get(p)), None),
    )


def copyable_credentials(target: Target) -> Credentials:
    """The target's credentials if a Secret can hold them, else NotCopyable."""
    context = target.context
    if target.plugin:
        raise NotCopyable(
            f"context {context!r} authenticates with an {target.plugin} plugin, whose "
            "short-lived credentials cannot be copied into a Secret: "
            "join it with --credentials local"
        )
    if not target.credentials.token and not target.credentials.cert_data:
        raise NotCopyable(
            f"context {context!r} has neither a token nor a client certificate to copy: "
            "join it with --credentials local"
        )
    return target.credentials


def _context(merged: dict[str, Any], context: str) -> tuple[Path, dict[str, Any]]:
    if context not in merged["contexts"]:
        raise ContextNotFound(f"context {context!r} not found in the kubeconfig")
    found: tuple[Path, dict[str, Any]] = merged["contexts"][context]
    return found


def _lookup(
    merged: dict[str, Any], section: str, name: Any, context: str, optional: bool = False
) -> tuple[Path | None, dict[str, Any]]:
    if name in merged[section]:
        found: tuple[Path, dict[str, Any]] = merged[section][name]
        return found
    if optional:
        return None, {}
    raise ContextNotFound(f"context {context!r} names {section[:-1]} {name!r}, which is missing")


def _data(
    read_file: ReadFile, base: Path | None, entry: dict[str, Any], field: str
) -> bytes | None:
    inline = entry.get(f"{field}-data")
    if inline:
        return base64.b64decode(inline)
    path = entry.get(field)
    return read_file(_resolve(base, path)) if path else None


def _read_text(read_file: ReadFile, base: Path | None, path: str | None) -> str | None:
    return read_file(_resolve(base, path)).decode() if path else None


def _resolve(base: Path | None, path: str) -> Path:
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and base is not None:
        candidate = base.parent / candidate
    return candidate
