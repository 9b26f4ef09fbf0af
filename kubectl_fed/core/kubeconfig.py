"""Kubeconfig documents checked and merged, and a context resolved into what it takes to
reach its cluster (a Target), as kubectl does it (client-go's tools/clientcmd: loader.go,
client_config.go, validation.go; transport for TLS, tokens and impersonation).

Pure: kube/connect.py reads the files and parses the YAML; the files a context names (token,
certificates) are read through the `read_file` the caller passes.

What kubectl does, and so this module:
- a document must be a mapping whose `clusters`, `users` and `contexts` are lists of named
  entries; a name twice in one file is refused; across files the first definition wins;
- relative paths (certificate-authority, client-certificate, client-key, tokenFile, an exec
  command with a `/`) resolve against the directory of their file; `~` is not expanded;
- the command-line overrides (`--server`, `--user`, `--as`, ...) apply as clientcmd's
  ConfigOverrides do, then the merged user and cluster are validated (ConfirmUsable);
- the context's namespace (else `default`) unless `--namespace` overrides it;
- over a plain `http://` server no credentials are sent (only impersonation headers);
- `token` and `tokenFile` together: the file wins while it is readable, the token after.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from kubectl_fed.core.kubeconfig_checks import (
    SECTIONS,
    KubeconfigError,
    ReadFile,
    check_interactive,
    cluster_errors,
    open_error,
    user_errors,
)

DEFAULT_NAMESPACE = "default"


class ContextNotFound(KubeconfigError):
    pass


class NotCopyable(ValueError):
    """The context authenticates in a way that cannot be stored in a Secret."""


# --------------------------------------------------------------------------- the documents


def merge(documents: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """Merge kubeconfig files as kubectl does for KUBECONFIG lists: first name wins, and the
    first current-context set. Each entry remembers its file so relative paths resolve
    against it."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current": None}
    for path, doc in documents:
        for section, item in SECTIONS.items():
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name", "") not in merged[section]:
                    merged[section][entry.get("name", "")] = (path, entry.get(item) or {})
        merged["current"] = merged["current"] or doc.get("current-context")
    return merged


# --------------------------------------------------------------------------- what flags change


@dataclass(frozen=True)
class Overrides:
    """kubectl's global flags that change how a context is reached (clientcmd's
    ConfigOverrides). Paths given here are used as given (relative to the working
    directory), as kubectl does."""

    cluster: str | None = None  # --cluster: another cluster entry
    user: str | None = None  # --user: another user entry
    namespace: str | None = None  # -n/--namespace
    server: str | None = None  # -s/--server
    tls_server_name: str | None = None
    insecure: bool = False  # --insecure-skip-tls-verify
    certificate_authority: str | None = None
    token: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    impersonate: str | None = None  # --as
    impersonate_uid: str | None = None  # --as-uid
    impersonate_groups: tuple[str, ...] = ()  # --as-group, repeatable

    def __repr__(self) -> str:
        return "Overrides(<redacted>)"


NO_OVERRIDES = Overrides()


@dataclass(frozen=True)
class Impersonation:
    """Who the requests act as (Impersonate-* headers)."""

    user: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def headers(self) -> list[tuple[str, str]]:
        """The headers client-go's impersonating round tripper sends."""
        found = [("Impersonate-User", self.user)]
        if self.uid:
            found.append(("Impersonate-Uid", self.uid))
        found += [("Impersonate-Group", group) for group in self.groups]
        for key, values in self.extra:
            found += [(f"Impersonate-Extra-{_header_key_escape(key)}", v) for v in values]
        return found


def _header_key_escape(key: str) -> str:
    """Percent-encode every byte but RFC 3986's unreserved characters, as client-go does."""
    unreserved = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    return "".join(chr(b) if chr(b) in unreserved else f"%{b:02X}" for b in key.encode())


# --------------------------------------------------------------------------- the target


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


@dataclass(frozen=True)
class Target:
    """How to reach one cluster: a kubeconfig context, or a member as its Secret describes
    it (then only `credentials` is set). Never printed: see __repr__."""

    context: str  # the context's name, or the member's
    credentials: Credentials
    basic_auth: tuple[str, str] | None = None
    tls_server_name: str | None = None
    proxy_url: str | None = None
    plugin: str | None = None  # "exec" or "auth-provider": the user names a plugin
    token_file: str | None = None  # re-read on every request (projected tokens rotate)
    impersonation: Impersonation | None = None
    namespace: str = DEFAULT_NAMESPACE  # the context's (or --namespace)
    # A one-context kubeconfig of the merged user and cluster, for the plugin runner.
    plugin_config: dict[str, Any] | None = field(default=None, compare=False)
    dropped_credentials: bool = False  # a plain http:// server: none are sent

    @property
    def runs_plugin(self) -> bool:
        """A plugin supplies the identity only when nothing else sets Authorization (a
        token, a token file, basic auth), as client-go's exec round tripper decides."""
        credentials = self.credentials
        return bool(self.plugin) and not (
            credentials.token or self.token_file or self.basic_auth or self.dropped_credentials
        )

    def __repr__(self) -> str:
        return f"Target(context={self.context!r}, server={self.credentials.server!r}, <redacted>)"


def resolve_context(
    merged: dict[str, Any],
    context: str | None,
    read_file: ReadFile,
    overrides: Overrides = NO_OVERRIDES,
    stdin_is_terminal: bool = False,
) -> Target:
    """Everything a context (the current one when None) says about reaching its cluster,
    with the command-line overrides applied and the files it names read with `read_file`.
    Raises ContextNotFound or KubeconfigError with kubectl's reason."""
    name = context or merged["current"]
    if name:
        if name not in merged["contexts"]:
            raise ContextNotFound(f"context was not found for specified context: {name}")
        ctx: dict[str, Any] = merged["contexts"][name][1]
    elif overrides.server:
        name, ctx = "", {}
    else:
        raise ContextNotFound("the kubeconfig has no current-context: pass --context")
    cluster_name = overrides.cluster or ctx.get("cluster") or ""
    user_name = overrides.user or ctx.get("user") or ""
    if overrides.user and user_name not in merged["users"]:
        raise KubeconfigError(f'auth info "{user_name}" does not exist')
    if overrides.cluster and cluster_name not in merged["clusters"]:
        raise KubeconfigError(f'no server found for cluster "{cluster_name}"')
    if cluster_name not in merged["clusters"] and not overrides.server:
        raise ContextNotFound(f"context {name!r} names cluster {cluster_name!r}, which is missing")
    cluster = _override_cluster(_entry(merged, "clusters", cluster_name), overrides)
    user = _override_user(_entry(merged, "users", user_name), overrides)
    errors = user_errors(user_name, user, read_file) + cluster_errors(
        cluster_name, cluster, read_file
    )
    if len(errors) == 1:
        raise KubeconfigError(errors[0])
    if errors:
        raise KubeconfigError("error in configuration: " + "; ".join(errors))
    server = server_url(cluster.get("server") or "")
    impersonation = _impersonation(user)
    namespace = overrides.namespace or ctx.get("namespace") or DEFAULT_NAMESPACE
    if not server.startswith("https://"):
        # clientcmd reads no auth information for a server that is not TLS.
        return Target(
            context=name,
            credentials=Credentials(server=server),
            proxy_url=cluster.get("proxy-url") or None,
            impersonation=impersonation,
            namespace=namespace,
            dropped_credentials=_has_credentials(user),
        )
    ca_data = _data(read_file, cluster, "certificate-authority")
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if insecure and ca_data:
        raise KubeconfigError(
            "specifying a root certificates file with the insecure flag is not allowed"
        )
    token, token_file = _token(user, read_file)
    plugin = next((p for p in ("exec", "auth-provider") if user.get(p)), None)
    target = Target(
        context=name,
        credentials=Credentials(
            server=server,
            ca_data=ca_data,
            cert_data=_data(read_file, user, "client-certificate"),
            key_data=_data(read_file, user, "client-key"),
            token=token,
            insecure=insecure,
        ),
        basic_auth=(
            (str(user.get("username") or ""), str(user.get("password") or ""))
            if user.get("username") or user.get("password")
            else None
        ),
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy_url=cluster.get("proxy-url") or None,
        plugin=plugin,
        token_file=token_file,
        impersonation=impersonation,
        namespace=namespace,
        plugin_config=_plugin_config(cluster, user, plugin) if plugin else None,
    )
    if target.runs_plugin and plugin == "exec":
        check_interactive(user["exec"], stdin_is_terminal)
    return target


def server_url(server: str) -> str:
    """The server as client-go's DefaultServerURL reads it from a kubeconfig: without a
    scheme it is http:// (the TLS settings are not consulted before that decision)."""
    parts = urlsplit(server) if "://" in server else None
    if parts is None or not parts.scheme or not parts.netloc:
        return f"http://{server}" if server else server
    return server


def credentials_dropped(target: Target) -> Target:
    """A member's target as kubectl would treat it: over plain http no credentials."""
    if target.credentials.server.startswith("https://"):
        return target
    credentials = target.credentials
    had = bool(credentials.token or credentials.cert_data or target.basic_auth)
    return Target(
        context=target.context,
        credentials=Credentials(server=credentials.server, insecure=credentials.insecure),
        tls_server_name=target.tls_server_name,
        proxy_url=target.proxy_url,
        impersonation=target.impersonation,
        namespace=target.namespace,
        dropped_credentials=had,
    )


def copyable_credentials(target: Target) -> Credentials:
    """The target's credentials if a Secret can hold them, else NotCopyable."""
    context = target.context
    if target.plugin:
        raise NotCopyable(
            f"context {context!r} authenticates with an {target.plugin} plugin, whose "
            "short-lived credentials cannot be copied into a Secret: join it without "
            "--credentials copy (kubectl-fed's own identity is the default) or with "
            "--credentials local"
        )
    if target.impersonation:
        raise NotCopyable(
            f"context {context!r} impersonates {target.impersonation.user!r}, which a "
            "Secret cannot hold: join it without --credentials copy (kubectl-fed's own "
            "identity is the default) or with --credentials local"
        )
    if target.dropped_credentials:
        raise NotCopyable(
            f"context {context!r}: server {target.credentials.server} is plain http, over "
            "which kubectl sends no credentials: join it by a https:// server"
        )
    if not target.credentials.token and not target.credentials.cert_data:
        raise NotCopyable(
            f"context {context!r} has neither a token nor a client certificate to copy: "
            "join it with --credentials local"
        )
    return target.credentials


# --------------------------------------------------------------------------- merging entries


def _entry(merged: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    """A copy of a cluster or user entry with its file references made absolute against
    its kubeconfig's directory (no `~` expansion, as kubectl); {} when absent."""
    if name not in merged[section]:
        return {}
    path, found = merged[section][name]
    entry = dict(found)
    keys = ("certificate-authority",) if section == "clusters" else _USER_FILES
    for key in keys:
        if entry.get(key):
            entry[key] = str(_resolve(path, entry[key]))
    command = (entry.get("exec") or {}).get("command") if section == "users" else None
    if isinstance(command, str) and "/" in command:
        entry["exec"] = {**entry["exec"], "command": str(_resolve(path, command))}
    return entry


_USER_FILES = ("client-certificate", "client-key", "tokenFile")


def _resolve(base: PurePath | None, path: str) -> PurePath:
    candidate = Path(path)
    if not candidate.is_absolute() and base is not None:
        candidate = Path(base).parent / candidate
    return candidate


def _override_cluster(cluster: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """clientcmd's getCluster: flags replace fields; --insecure-skip-tls-verify or
    --certificate-authority replace the whole TLS trust; --server or --tls-server-name
    replace tls-server-name (so --server alone clears it)."""
    merged = dict(cluster)
    if overrides.server:
        merged["server"] = overrides.server
    if overrides.insecure or overrides.certificate_authority:
        merged["insecure-skip-tls-verify"] = overrides.insecure
        merged["certificate-authority"] = overrides.certificate_authority
        merged.pop("certificate-authority-data", None)
    if overrides.tls_server_name or overrides.server:
        merged["tls-server-name"] = overrides.tls_server_name
    return merged


def _override_user(user: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    merged = dict(user)
    for key, value in (
        ("token", overrides.token),
        ("client-certificate", overrides.client_certificate),
        ("client-key", overrides.client_key),
        ("as", overrides.impersonate),
        ("as-uid", overrides.impersonate_uid),
    ):
        if value:
            merged[key] = value
    if overrides.impersonate_groups:
        merged["as-groups"] = list(overrides.impersonate_groups)
    return merged


# --------------------------------------------------------------------------- identity


def _token(user: dict[str, Any], read_file: ReadFile) -> tuple[str | None, str | None]:
    """(token, token file). With both, the file is what is sent while it can be read (the
    token is the fallback); a token file alone must be readable now."""
    token, token_file = user.get("token"), user.get("tokenFile")
    if token:
        return token.strip(), token_file or None
    if not token_file:
        return None, None
    try:
        text = read_file(Path(token_file)).decode()
    except OSError as err:
        raise KubeconfigError(open_error(token_file, err)) from None
    return text.strip() or None, token_file


def _impersonation(user: dict[str, Any]) -> Impersonation | None:
    if not user.get("as"):
        return None
    extra = user.get("as-user-extra") or {}
    return Impersonation(
        user=str(user["as"]),
        uid=user.get("as-uid") or None,
        groups=tuple(str(g) for g in user.get("as-groups") or []),
        extra=tuple(
            (str(key), tuple(str(v) for v in (values if isinstance(values, list) else [values])))
            for key, values in sorted(extra.items())
        ),
    )


def _has_credentials(user: dict[str, Any]) -> bool:
    keys = (
        "token",
        "tokenFile",
        "username",
        "password",
        "client-certificate",
        "client-certificate-data",
        "exec",
        "auth-provider",
    )
    return any(user.get(key) for key in keys)


def _plugin_config(cluster: dict[str, Any], user: dict[str, Any], plugin: str) -> dict[str, Any]:
    """A one-context kubeconfig holding only the plugin, for the runner (the kubernetes
    package): it supplies the token or client certificate, nothing else."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "fed", "cluster": {k: v for k, v in cluster.items() if v is not None}}
        ],
        "users": [{"name": "fed", "user": {plugin: user[plugin]}}],
        "contexts": [{"name": "fed", "context": {"cluster": "fed", "user": "fed"}}],
        "current-context": "fed",
    }


def _data(read_file: ReadFile, entry: dict[str, Any], field_name: str) -> bytes | None:
    inline = entry.get(f"{field_name}-data")
    if inline:
        return base64.b64decode(inline)
    path = entry.get(field_name)
    return read_file(Path(path)) if path else None
