"""One path from what names a cluster to a client of it:

    kubeconfig context --context_spec--+
                                       +--> ConnectionSpec --connect--> Transport, ClusterClient
    member's Secret -----member_spec---+

A kubeconfig context is read as kubectl reads it (--kubeconfig, the $KUBECONFIG list,
~/.kube/config; first name wins; kubectl's global flags as overrides): this module reads
the files, core/kubeconfig.py checks and merges them and resolves the context. A member's
Secret holds KubeAdmiral's credential layout (core/membership.py). Either becomes a
ConnectionSpec, and `connect` opens the one transport for it. Only users whose identity
comes from an exec or auth-provider plugin are handed to the kubernetes package, which runs
the plugin and refreshes its short-lived tokens; that import (~0.5 s) is paid only then.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
import shutil
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_fed.core.kubeconfig import (
    NO_OVERRIDES,
    Credentials,
    Overrides,
    Target,
    copyable_credentials,
    credentials_dropped,
    merge,
    resolve_context,
)
from kubectl_fed.core.kubeconfig_checks import KubeconfigError, check_document
from kubectl_fed.core.membership import credentials_from_secret, proxy_url_from_secret
from kubectl_fed.core.proxy import proxy_for
from kubectl_fed.errors import FedError
from kubectl_fed.kube import log
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.transport import AuthHeaders, Transport, ssl_context


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything it takes to open a client of one cluster, whatever named it. Never
    printed with its credentials (see Target.__repr__)."""

    target: Target  # server, credentials, TLS and proxy settings, identity plugin
    where: str  # how errors name it: the context, or the server
    kubeconfig: str | None = None  # where the context is defined (contexts only)

    @property
    def name(self) -> str:
        """The client's name: the kubeconfig context, or the member."""
        return self.target.context


def context_spec(
    kubeconfig: str | None, context: str | None, overrides: Overrides = NO_OVERRIDES
) -> ConnectionSpec:
    """A kubeconfig context (the current one when None), files read, or a one-line FedError."""
    return target_spec(kubeconfig, kubeconfig_target(kubeconfig, context, overrides))


def target_spec(kubeconfig: str | None, target: Target) -> ConnectionSpec:
    """An already resolved context (`kubeconfig` is where it came from)."""
    return ConnectionSpec(target, f"context {target.context!r}", kubeconfig)


def member_spec(
    name: str,
    server: str,
    insecure: bool,
    secret: dict[str, Any],
    tls_server_name: str | None = None,
) -> ConnectionSpec:
    """A member whose credentials are stored in the host, from its FederatedCluster's
    endpoint and TLS settings and its Secret (with the proxy its context named at join).
    Over plain http none are sent (as kubectl)."""
    try:
        credentials = credentials_from_secret(server, insecure, secret)
        proxy_url = proxy_url_from_secret(secret)
    except ValueError as err:  # a Secret edited by hand: say which key, never its value
        where = (secret.get("metadata") or {}).get("name") or "its Secret"
        raise FedError(f"cluster {name}: secret {where}: {err}: join it again") from None
    target = Target(name, credentials, tls_server_name=tls_server_name, proxy_url=proxy_url)
    return ConnectionSpec(credentials_dropped(target), credentials.server)


def connect(spec: ConnectionSpec, timeout: float | None, pool_size: int = 8) -> ClusterClient:
    """A client for the cluster the spec describes."""
    return ClusterClient(_transport(spec, pool_size), spec.name, timeout)


def connect_context(
    kubeconfig: str | None,
    context: str | None,
    timeout: float | None,
    pool_size: int = 8,
    overrides: Overrides = NO_OVERRIDES,
) -> ClusterClient:
    """A client for a kubeconfig context (token files and plugins included)."""
    return connect(context_spec(kubeconfig, context, overrides), timeout, pool_size)


def connect_target(
    kubeconfig: str | None, target: Target, timeout: float | None, pool_size: int = 8
) -> ClusterClient:
    """A client for an already resolved context (`kubeconfig` is where it came from)."""
    return connect(target_spec(kubeconfig, target), timeout, pool_size)


# --------------------------------------------------------------------------- kubeconfig files


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The files kubectl reads, as given (`~` is not expanded, as kubectl does not):
    --kubeconfig; else each file of $KUBECONFIG once; else ~/.kube/config."""
    if kubeconfig:
        return [kubeconfig]
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return list(dict.fromkeys(part for part in listed.split(os.pathsep) if part))
    return [str(Path.home() / ".kube" / "config")]


def read_kubeconfigs(kubeconfig: str | None) -> list[tuple[Path, dict[str, Any]]]:
    """The kubeconfig documents kubectl would read, checked: a file listed in $KUBECONFIG
    that does not exist is skipped, --kubeconfig must exist, and a file that is not a
    kubeconfig is one line naming it."""
    documents = []
    for part in kubeconfig_paths(kubeconfig):
        try:
            raw = Path(part).read_bytes()
        except FileNotFoundError:
            if kubeconfig:
                raise FedError(f"kubeconfig {part} does not exist") from None
            continue
        except OSError as err:
            raise FedError(f'error loading config file "{part}": {err.strerror}') from None
        try:
            document = check_document(part, _parse(part, raw))
        except KubeconfigError as err:
            raise FedError(str(err)) from None
        log.info(6, f"Config loaded from file:  {part}")
        documents.append((Path(os.path.abspath(part)), document))
    return documents


def _parse(name: str, raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw.decode())
    except UnicodeDecodeError:
        raise FedError(f'error loading config file "{name}": not UTF-8 text') from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise FedError(f'error loading config file "{name}": yaml: {where}{problem}') from None


def target_for(
    merged: dict[str, Any], context: str | None, overrides: Overrides = NO_OVERRIDES
) -> Target:
    """What a context of merged kubeconfigs says about reaching its cluster, with the
    files it names (token, certificates) read."""
    return resolve_context(
        merged, context, Path.read_bytes, overrides, stdin_is_terminal=_stdin_is_terminal()
    )


def credentials_for(merged: dict[str, Any], context: str) -> Credentials:
    """Credentials a Secret can hold; NotCopyable for exec / auth-provider users."""
    return copyable_credentials(target_for(merged, context))


def kubeconfig_target(
    kubeconfig: str | None, context: str | None, overrides: Overrides = NO_OVERRIDES
) -> Target:
    """What a context says about reaching its cluster, or a one-line FedError with
    kubectl's reason."""
    merged = merge(read_kubeconfigs(kubeconfig))
    try:
        return target_for(merged, context, overrides)
    except KubeconfigError as err:
        raise FedError(str(err)) from None
    except OSError as err:
        raise FedError(f"kubeconfig: context {context!r}: cannot read {err.filename}") from None
    except (ValueError, TypeError) as err:  # e.g. undecodable base64 data
        raise FedError(f"kubeconfig: context {context!r}: {err}") from None


def list_contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """Context names and the current context."""
    merged = merge(read_kubeconfigs(kubeconfig))
    return list(merged["contexts"]), merged["current"]


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- transports


def _transport(spec: ConnectionSpec, pool_size: int) -> Transport:
    target = spec.target
    if target.dropped_credentials:
        log.warning(
            1,
            f"{spec.where}: server {target.credentials.server} is not https: no credentials "
            "are sent to it (kubectl sends none either)",
        )
    if target.runs_plugin:
        return _plugin_transport(spec, pool_size)
    return _open(spec, _auth_headers(target), pool_size)


def _auth_headers(target: Target) -> Callable[[], AuthHeaders]:
    """Authorization and Impersonate-* headers. A token file is read again for every
    request (a projected service-account token rotates under a long sync); while it cannot
    be read, the last token read (or the kubeconfig's token) is sent, as client-go does."""
    credentials = target.credentials
    impersonation = target.impersonation.headers() if target.impersonation else []
    if target.token_file:
        source = _TokenFile(target.token_file, credentials.token)
        return lambda: [*source.authorization(), *impersonation]
    fixed: list[tuple[str, str]] = []
    if credentials.token:
        fixed.append(("Authorization", f"Bearer {credentials.token}"))
    elif target.basic_auth:
        pair = ":".join(target.basic_auth).encode()
        fixed.append(("Authorization", f"Basic {base64.b64encode(pair).decode()}"))
    fixed += impersonation
    return lambda: fixed


class _TokenFile:
    def __init__(self, path: str, fallback: str | None) -> None:
        self.path = path
        self.last = fallback

    def authorization(self) -> list[tuple[str, str]]:
        try:
            token = Path(self.path).read_text().strip()
        except (OSError, UnicodeDecodeError):
            token = ""
        if token:
            self.last = token
        return [("Authorization", f"Bearer {self.last}")] if self.last else []


def _open(
    spec: ConnectionSpec,
    headers: Callable[[], AuthHeaders],
    pool_size: int,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> Transport:
    target = spec.target
    credentials = target.credentials
    if credentials.cert_data and credentials.key_data:
        cert_file, key_file = _private(credentials.cert_data), _private(credentials.key_data)
    try:
        context = ssl_context(
            ca_data=credentials.ca_data,
            cert_file=cert_file,
            key_file=key_file,
            insecure=credentials.insecure,
        )
        return Transport(
            credentials.server,
            context,
            headers,
            server_hostname=target.tls_server_name,
            proxy=proxy_for(credentials.server, target.proxy_url, os.environ),
            pool_size=pool_size,
        )
    except (ssl.SSLError, ValueError) as err:
        raise FedError(f"{spec.where}: unusable TLS or server settings: {err}") from None


def _plugin_transport(spec: ConnectionSpec, pool_size: int) -> Transport:
    """Let the kubernetes package run the user's exec / auth-provider plugin (only the
    plugin: server, TLS and impersonation stay ours, overrides applied); its refresh hook
    keeps the token current on every request."""
    import kubernetes.client as k8s
    import kubernetes.config as k8s_config

    target = spec.target
    configuration = k8s.Configuration()
    problems = _Captured()
    logging.getLogger().addHandler(problems)
    try:
        k8s_config.load_kube_config_from_dict(
            target.plugin_config,
            context="fed",
            client_configuration=configuration,
            persist_config=False,
        )
    except (k8s_config.ConfigException, OSError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FedError(f"{spec.where}: getting credentials: {message}") from None
    finally:
        logging.getLogger().removeHandler(problems)
    token_found = configuration.auth_settings().get("BearerToken")
    if not token_found and not configuration.cert_file and problems.messages:
        raise FedError(f"{spec.where}: getting credentials: {problems.messages[0]}")
    impersonation = target.impersonation.headers() if target.impersonation else []

    def headers() -> AuthHeaders:
        token = configuration.auth_settings().get("BearerToken")
        found = [("Authorization", str(token["value"]))] if token else []
        return [*found, *impersonation]

    return _open(spec, headers, pool_size, configuration.cert_file, configuration.key_file)


class _Captured(logging.Handler):
    """What the kubernetes package logs (and swallows) when a plugin fails."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


# --------------------------------------------------------------------------- key files


def _private(data: bytes) -> str:
    """ssl loads client certificates and keys only from files: write each one once into
    a per-process 0700 directory that is removed at exit (a long `sync` reconnects to
    its members every pass)."""
    with _PRIVATE_LOCK:
        path = _PRIVATE_FILES.get(data)
        if path is None:
            fd, path = tempfile.mkstemp(dir=_private_dir())
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            _PRIVATE_FILES[data] = path
        return path


def _private_dir() -> Path:
    global _PRIVATE_DIR
    if _PRIVATE_DIR is None:
        _PRIVATE_DIR = Path(tempfile.mkdtemp(prefix="kubectl-fed-"))
        atexit.register(shutil.rmtree, _PRIVATE_DIR, True)
    return _PRIVATE_DIR


_PRIVATE_DIR: Path | None = None
_PRIVATE_FILES: dict[bytes, str] = {}
_PRIVATE_LOCK = threading.Lock()
